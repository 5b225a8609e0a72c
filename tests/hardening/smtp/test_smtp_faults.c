/*
 * test_smtp_faults.c - the STARTTLS probe (librequiretls ms_rtls_probe_run) against
 * hostile SMTP peers on loopback (smtp_fault_server.py): silence, banner
 * then close, STARTTLS refused (4xx, 5xx), plaintext pipelined after the
 * STARTTLS reply, REQUIRETLS offered only before TLS, a failed or stalled
 * handshake, 8 MiB EHLO replies, peers that trickle one byte per second.
 * Each case asserts the exact error, that no chain comes back (so nothing
 * can be verified), that the probe never moved on to mail commands in
 * plaintext, and that it ended within its deadline.  A good peer on the
 * same plumbing gives a chain that verifies against a pinned DANE-EE record
 * (the control: the verdict is reachable, the faults are what stop it).
 */
#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/dane.h>
#include <mailsec/requiretls_smtp.h>

#include "hardening.h"

#define TIMEOUT_MS hard_scale(2000)
/* hang check only: the probe has a connect step, a banner step, two
 * commands and a handshake before the failing one; the margin is generous */
#define BOUND_S (hard_scale(1) * 12.0)

static struct hard_peer peer;
static unsigned char *pinned_der; /* the peer's certificate, DER */
static size_t pinned_len;

/* Called from main(), outside any test: no ck_assert here. */
static void load_pinned(void)
{
	FILE *f = fopen(hard_peer_get(&peer, "cert"), "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	unsigned char *der = NULL;
	int n = x ? i2d_X509(x, &der) : -1;
	X509_free(x);
	if (n <= 0) {
		fprintf(stderr, "cannot read the peer certificate\n");
		hard_peer_stop(&peer);
		exit(2);
	}
	pinned_der = der;
	pinned_len = (size_t)n;
}

/* Verify what the probe saw against a DANE-EE(3) Cert(0) Full(0) record of
 * the peer's real certificate, DNSSEC-authentic. */
static enum ms_dane_verdict verdict_of(const struct ms_rtls_probe *p)
{
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	const struct ms_dane_cert *chain = NULL;
	size_t n = ms_rtls_probe_chain(p, &chain);
	struct ms_dane_tlsa t = { 3, 0, 0, pinned_der, pinned_len };
	const char *names[] = { "mx.hard.test" };
	struct ms_dane_input in;
	memset(&in, 0, sizeof(in));
	in.version = MS_DANE_INPUT_VERSION;
	in.chain = chain;
	in.nchain = n;
	in.tlsa = &t;
	in.ntlsa = 1;
	in.authentic = 1;
	in.names = names;
	in.nnames = 1;
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[200] = "";
	ms_status st = ms_dane_verify(ctx, &in, &res, why, sizeof(why));
	ms_dane_ctx_free(ctx);
	/* an error is not a verification either */
	return st == MS_OK ? res.verdict : MS_DANE_MALFORMED;
}

/* Count log lines of `listener` carrying command `cmd`. */
static int peer_saw(const char *listener, const char *cmd)
{
	char path[300], name[64], what[64];
	snprintf(path, sizeof(path), "%s/log", peer.workdir);
	FILE *f = fopen(path, "r");
	int n = 0;
	if (f == NULL)
		return 0;
	while (fscanf(f, "%63s %63s", name, what) == 2)
		if (strcmp(name, listener) == 0 && strcmp(what, cmd) == 0)
			n++;
	fclose(f);
	return n;
}

struct run {
	ms_status st;
	enum ms_tlsrpt_result failure; /* RFC 8460 type of a failed probe */
	struct ms_rtls_probe *p;
	char why[300];
	double secs;
};

static void probe(const char *listener, struct run *r)
{
	char connect[64];
	snprintf(connect, sizeof(connect), "127.0.0.1:%s", hard_peer_get(&peer, listener));
	struct ms_rtls_probe_opts o = { .version = MS_RTLS_PROBE_VERSION, .connect = connect,
					.helo = "client.hard.test", .sni = "mx.hard.test",
					.timeout_ms = TIMEOUT_MS };
	memset(r, 0, sizeof(*r));
	r->p = (struct ms_rtls_probe *)&r->secs; /* must be reset to NULL on failure */
	double t0 = hard_now();
	r->failure = (enum ms_tlsrpt_result)99;
	r->st = ms_rtls_probe_run_classify(NULL, &o, &r->p, &r->failure, r->why, sizeof(r->why));
	r->secs = hard_now() - t0;
	if (getenv("MS_HARD_VERBOSE"))
		fprintf(stderr, "%s: %s after %.2f s: %s\n", listener, ms_status_str(r->st), r->secs,
			r->why);
}

static void expect_failure(const char *listener, ms_status st, const char *why_part)
{
	struct run r;
	probe(listener, &r);
	ck_assert_msg(r.st == st, "%s: status %s (%s), want %s", listener, ms_status_str(r.st),
		      r.why, ms_status_str(st));
	ck_assert_msg(strstr(r.why, why_part) != NULL, "%s: why '%s' lacks '%s'", listener, r.why,
		      why_part);
	ck_assert_msg(r.p == NULL, "%s: a probe handle came back with an error", listener);
	ck_assert_msg(verdict_of(r.p) != MS_DANE_VERIFIED, "%s: verified", listener);
	ck_assert_msg(r.secs < BOUND_S, "%s: took %.1f s", listener, r.secs);
	/* never went on to mail in plaintext (or at all) */
	ck_assert_int_eq(peer_saw(listener, "MAIL"), 0);
	ck_assert_int_eq(peer_saw(listener, "RCPT"), 0);
	ck_assert_int_eq(peer_saw(listener, "DATA"), 0);
}

START_TEST(control_good)
{
	struct run r;
	probe("good", &r);
	ck_assert_msg(r.st == MS_OK, "%s", r.why);
	ck_assert(ms_rtls_ehlo_has(ms_rtls_probe_ehlo(r.p), "REQUIRETLS"));
	ck_assert(ms_rtls_ehlo_over_tls(ms_rtls_probe_ehlo(r.p)));
	ck_assert_int_eq(verdict_of(r.p), MS_DANE_VERIFIED);
	ck_assert_int_eq(r.failure, MS_TLSRPT_SUCCESS);
	ms_rtls_probe_free(r.p);
}
END_TEST

/* The RFC 8460 s4.3 type of a failed probe (what `mailsec dane probe`
 * reports as tlsrpt_result). */
static void expect_tlsrpt(const char *listener, enum ms_tlsrpt_result want)
{
	struct run r;
	probe(listener, &r);
	ck_assert_msg(r.st != MS_OK && r.failure == want, "%s: %s, want %s (%s)", listener,
		      ms_tlsrpt_result_name(r.failure), ms_tlsrpt_result_name(want), r.why);
}

START_TEST(silent)
{
	expect_failure("silent", MS_ERR_TIMEOUT, "timed out");
}
END_TEST

START_TEST(banner_then_close)
{
	expect_failure("bannerclose", MS_ERR_NETWORK, "read: connection lost");
}
END_TEST

START_TEST(starttls_4xx)
{
	expect_failure("starttls454", MS_ERR_PROTOCOL, "STARTTLS refused: 454");
	ck_assert_int_eq(peer_saw("starttls454", "EHLO"), 1); /* no plaintext session */
	/* a 454 is starttls-not-supported, not validation-failure */
	expect_tlsrpt("starttls454", MS_TLSRPT_STARTTLS_NOT_SUPPORTED);
}
END_TEST

START_TEST(starttls_5xx)
{
	expect_failure("starttls554", MS_ERR_PROTOCOL, "STARTTLS refused: 554");
	ck_assert_int_eq(peer_saw("starttls554", "EHLO"), 1);
	expect_tlsrpt("starttls554", MS_TLSRPT_STARTTLS_NOT_SUPPORTED);
}
END_TEST

START_TEST(plaintext_pipelined)
{
	/* the forged EHLO reply arrives with the 220 */
	expect_failure("pipelined", MS_ERR_PROTOCOL, "plaintext received after the STARTTLS reply");
}
END_TEST

START_TEST(plaintext_pipelined_late)
{
	/* The same bytes 300 ms later land in the TLS handshake (MS_ERR_TLS).
	 * On a machine so loaded that the probe reads the 220 only after they
	 * arrived, they are caught as pipelined plaintext (MS_ERR_PROTOCOL):
	 * both are the right refusal, nothing else is. */
	struct run r;
	probe("pipelinedlate", &r);
	ck_assert_msg((r.st == MS_ERR_TLS && strstr(r.why, "TLS handshake failed")) ||
		      (r.st == MS_ERR_PROTOCOL &&
		       strstr(r.why, "plaintext received after the STARTTLS reply")),
		      "status %s (%s)", ms_status_str(r.st), r.why);
	ck_assert_ptr_null(r.p);
	ck_assert_int_ne(verdict_of(r.p), MS_DANE_VERIFIED);
	ck_assert_msg(r.secs < BOUND_S, "took %.1f s", r.secs);
	ck_assert_int_eq(peer_saw("pipelinedlate", "MAIL"), 0);
}
END_TEST

START_TEST(requiretls_only_before_tls)
{
	struct run r;
	probe("requiretlspre", &r);
	ck_assert_msg(r.st == MS_OK, "%s", r.why);
	ck_assert_int_eq(peer_saw("requiretlspre", "TLS-UP"), 1);
	const struct ms_rtls_ehlo *ehlo = ms_rtls_probe_ehlo(r.p);
	ck_assert_msg(!ms_rtls_ehlo_has(ehlo, "REQUIRETLS"), "pre-TLS REQUIRETLS reported");
	ck_assert_msg(!ms_rtls_ehlo_has(ehlo, "STARTTLS"), "pre-TLS capabilities kept");
	ck_assert(ms_rtls_ehlo_has(ehlo, "8BITMIME"));
	ms_rtls_probe_free(r.p);
}
END_TEST

START_TEST(handshake_failure)
{
	expect_failure("handshakefail", MS_ERR_TLS, "TLS handshake failed");
	expect_tlsrpt("handshakefail", MS_TLSRPT_VALIDATION_FAILURE);
}
END_TEST

START_TEST(handshake_stall)
{
	expect_failure("handshakestall", MS_ERR_TIMEOUT, "TLS handshake failed: timed out");
}
END_TEST

START_TEST(ehlo_8mib)
{
	expect_failure("ehlo8m", MS_ERR_LIMIT, "longer than");
}
END_TEST

START_TEST(ehlo_8mib_after_tls)
{
	expect_failure("ehlo8mtls", MS_ERR_LIMIT, "longer than");
}
END_TEST

START_TEST(trickle_banner)
{
	/* one byte a second: each read succeeds within the step timeout, only a
	 * deadline for the whole reply ends it */
	expect_failure("trickle", MS_ERR_TIMEOUT, "timed out");
}
END_TEST

START_TEST(trickle_ehlo)
{
	expect_failure("trickleehlo", MS_ERR_TIMEOUT, "timed out");
}
END_TEST

START_TEST(trickle_after_tls)
{
	expect_failure("trickletls", MS_ERR_TIMEOUT, "timed out");
}
END_TEST

int main(void)
{
	hard_peer_start(&peer, hard_path("smtp/smtp_fault_server.py"));
	load_pinned();
	Suite *s = suite_create("hardening-smtp");
	TCase *tc = tcase_create("faults");
	tcase_set_timeout(tc, hard_scale(60));
	tcase_add_test(tc, control_good);
	tcase_add_test(tc, silent);
	tcase_add_test(tc, banner_then_close);
	tcase_add_test(tc, starttls_4xx);
	tcase_add_test(tc, starttls_5xx);
	tcase_add_test(tc, plaintext_pipelined);
	tcase_add_test(tc, plaintext_pipelined_late);
	tcase_add_test(tc, requiretls_only_before_tls);
	tcase_add_test(tc, handshake_failure);
	tcase_add_test(tc, handshake_stall);
	tcase_add_test(tc, ehlo_8mib);
	tcase_add_test(tc, ehlo_8mib_after_tls);
	tcase_add_test(tc, trickle_banner);
	tcase_add_test(tc, trickle_ehlo);
	tcase_add_test(tc, trickle_after_tls);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
	srunner_free(sr);
	hard_peer_stop(&peer);
	OPENSSL_free(pinned_der);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
