/*
 * test_https_faults.c - the MTA-STS policy fetch (ms_sts_fetch, libcurl)
 * against hostile HTTPS hosts on loopback (https_fault_server.py): slow
 * drip, reset and short close mid-body, handshake stalls, 10 MiB bodies,
 * redirect loops, certificates for another name or expired, HTTP/1.0
 * bodies without a length.  Each must end as a fetch failure with the right
 * RFC 8460 type, no body handed back, within the timeout and with memory
 * bounded: never a policy.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <mailsec/mtasts.h>

#include "hardening.h"

#define TIMEOUT_MS hard_scale(2000)
/* hang check only: a generous margin over the configured timeout */
#define BOUND_S (hard_scale(1) * (TIMEOUT_MS / 1000.0 + 8.0))

static struct hard_peer peer;
static uint8_t buf[MS_STS_POLICY_MAX];

struct outcome {
	ms_status st;
	enum ms_tlsrpt_result failure;
	size_t len;
	char why[400];
	double secs;
	long rss_growth_kib;
};

static long maxrss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void fetch_via(const char *listener, const char *domain, struct outcome *o)
{
	char connect_to[64];
	snprintf(connect_to, sizeof(connect_to), "::127.0.0.1:%s", hard_peer_get(&peer, listener));
	struct ms_sts_fetch_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.ca_file = hard_peer_get(&peer, "ca");
	cfg.connect_to = connect_to;
	cfg.timeout_ms = TIMEOUT_MS;
	memset(o, 0, sizeof(*o));
	o->len = 424242;
	o->failure = MS_TLSRPT_SUCCESS;
	long rss0 = maxrss_kib();
	double t0 = hard_now();
	o->st = ms_sts_fetch(NULL, &cfg, domain, buf, sizeof(buf), &o->len, &o->failure, o->why,
			     sizeof(o->why));
	o->secs = hard_now() - t0;
	o->rss_growth_kib = maxrss_kib() - rss0;
}

/* One good fetch first, so that the resident-memory check below measures
 * the faulty fetch and not libcurl's and OpenSSL's one-time set-up (CA
 * store, error strings: about 5 MiB). */
static void warm_up(void)
{
	static int warm;
	if (warm)
		return;
	struct outcome o;
	fetch_via("main", "ok.hard.test", &o);
	ck_assert_msg(o.st == MS_OK, "warm-up fetch: %s", o.why);
	warm = 1;
}

static void expect_failure(const char *listener, const char *domain, ms_status st,
			   enum ms_tlsrpt_result failure, const char *why_part)
{
	struct outcome o;
	warm_up();
	fetch_via(listener, domain, &o);
	ck_assert_msg(o.st == st, "%s: status %s (%s), want %s", domain, ms_status_str(o.st),
		      o.why, ms_status_str(st));
	ck_assert_msg(o.failure == failure, "%s: failure '%s', want '%s'", domain,
		      ms_tlsrpt_result_name(o.failure), ms_tlsrpt_result_name(failure));
	ck_assert_msg(strstr(o.why, why_part) != NULL, "%s: why '%s' lacks '%s'", domain, o.why,
		      why_part);
	ck_assert_msg(o.len == 0, "%s: %zu body bytes handed back with an error", domain, o.len);
	ck_assert_msg(o.secs < BOUND_S, "%s: took %.1f s", domain, o.secs);
	/* the body buffer is 64 KiB; a client that kept a 10 MiB body would
	 * grow by megabytes (not measurable under valgrind, whose own resident
	 * size this would be) */
	if (!getenv("MS_UNDER_VALGRIND"))
		ck_assert_msg(o.rss_growth_kib < 4096, "%s: resident memory grew by %ld KiB",
			      domain, o.rss_growth_kib);
}

/* The requests the peer has seen for `kase` (request lines carry 0 bytes
 * sent) and the most requests on one connection. */
static void peer_log(const char *kase, int *conns, int *maxreq)
{
	char path[300], name[64];
	snprintf(path, sizeof(path), "%s/log", peer.workdir);
	*conns = 0;
	*maxreq = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	long sent;
	int req;
	while (fscanf(f, "%63s %ld %d", name, &sent, &req) == 3) {
		if (strcmp(name, kase) == 0 && sent == 0) {
			(*conns)++;
			if (req > *maxreq)
				*maxreq = req;
		}
	}
	fclose(f);
}

START_TEST(control_ok)
{
	/* The same host, PKI and client settings give a policy when the host
	 * behaves: every failure below is the fault's doing. */
	struct outcome o;
	fetch_via("main", "ok.hard.test", &o);
	ck_assert_msg(o.st == MS_OK, "%s", o.why);
	ck_assert_int_eq(o.failure, MS_TLSRPT_SUCCESS);
	struct ms_sts_policy *p = NULL;
	char why[200] = "";
	ck_assert_msg(ms_sts_policy_parse(NULL, buf, o.len, &p, why, sizeof(why)) == MS_OK, "%s",
		      why);
	ck_assert_int_eq(ms_sts_policy_mode(p), MS_STS_MODE_ENFORCE);
	ck_assert_int_eq(ms_sts_policy_match(p, "a.backup.hard.test"), 1);
	ms_sts_policy_free(p);
}
END_TEST

START_TEST(slow_drip_body)
{
	expect_failure("main", "drip.hard.test", MS_ERR_TIMEOUT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "");
}
END_TEST

START_TEST(slow_drip_headers)
{
	expect_failure("main", "driphead.hard.test", MS_ERR_TIMEOUT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "");
}
END_TEST

START_TEST(reset_mid_body)
{
	expect_failure("main", "reset.hard.test", MS_ERR_NETWORK, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "");
}
END_TEST

START_TEST(close_mid_body)
{
	/* a clean TLS close before the declared Content-Length */
	expect_failure("main", "closeshort.hard.test", MS_ERR_NETWORK, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "");
}
END_TEST

START_TEST(handshake_stall_tcp)
{
	/* TCP accepted, the ClientHello never read nor answered */
	expect_failure("stall", "ok.hard.test", MS_ERR_TIMEOUT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "");
}
END_TEST

START_TEST(handshake_stall_hello)
{
	/* the ClientHello read, never answered */
	expect_failure("stallhello", "ok.hard.test", MS_ERR_TIMEOUT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "");
}
END_TEST

START_TEST(body_10mib_http10)
{
	expect_failure("main", "huge10.hard.test", MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "larger than");
}
END_TEST

START_TEST(body_10mib_length)
{
	expect_failure("main", "hugecl.hard.test", MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "larger than");
}
END_TEST

START_TEST(body_10mib_chunked)
{
	expect_failure("main", "hugechunk.hard.test", MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "larger than");
}
END_TEST

START_TEST(redirect_loop)
{
	expect_failure("main", "loop.hard.test", MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "HTTP status 302");
	int requests, maxreq;
	peer_log("loop", &requests, &maxreq);
	ck_assert_msg(requests == 1 && maxreq == 1, "redirect followed: %d requests", requests);
}
END_TEST

START_TEST(redirect_to_valid_policy)
{
	/* s3.3: redirects are not followed, even to a host with a good policy */
	int before, maxreq;
	warm_up();
	peer_log("ok", &before, &maxreq);
	expect_failure("main", "loop301.hard.test", MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "HTTP status 301");
	int after;
	peer_log("ok", &after, &maxreq);
	ck_assert_int_eq(after, before);
}
END_TEST

START_TEST(cert_for_another_name)
{
	expect_failure("wrongname", "ok.hard.test", MS_ERR_TLS, MS_TLSRPT_STS_WEBPKI_INVALID, "");
}
END_TEST

START_TEST(cert_expired)
{
	expect_failure("expired", "ok.hard.test", MS_ERR_TLS, MS_TLSRPT_STS_WEBPKI_INVALID, "");
}
END_TEST

START_TEST(headers_10mib)
{
	/* our bound on the header block (64 KiB), and libcurl's on one
	 * header line (100 KiB, reported as "Out of memory"): both are
	 * MS_ERR_LIMIT fetch errors that say what happened */
	expect_failure("main", "hugeheaders.hard.test", MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "response headers larger than 65536 bytes");
	expect_failure("main", "hugeheaderline.hard.test", MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "header line over 100 KiB");
}
END_TEST

START_TEST(http10_no_length)
{
	/* A body delimited only by the end of the connection: libcurl cannot
	 * tell a complete body from one an attacker cut short (OpenSSL's
	 * "unexpected EOF" is ignored), so no such body is taken. */
	expect_failure("main", "http10.hard.test", MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "length");
}
END_TEST

START_TEST(http10_truncated)
{
	/* cut inside the mx list, TCP closed without close_notify: what is
	 * left would parse as a policy with one MX fewer */
	expect_failure("main", "http10trunc.hard.test", MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
		       "length");
}
END_TEST

int main(void)
{
	hard_peer_start(&peer, hard_path("https/https_fault_server.py"));
	Suite *s = suite_create("hardening-https");
	TCase *tc = tcase_create("faults");
	tcase_set_timeout(tc, hard_scale(60));
	tcase_add_test(tc, control_ok);
	tcase_add_test(tc, slow_drip_body);
	tcase_add_test(tc, slow_drip_headers);
	tcase_add_test(tc, reset_mid_body);
	tcase_add_test(tc, close_mid_body);
	tcase_add_test(tc, handshake_stall_tcp);
	tcase_add_test(tc, handshake_stall_hello);
	tcase_add_test(tc, body_10mib_http10);
	tcase_add_test(tc, body_10mib_length);
	tcase_add_test(tc, body_10mib_chunked);
	tcase_add_test(tc, redirect_loop);
	tcase_add_test(tc, redirect_to_valid_policy);
	tcase_add_test(tc, cert_for_another_name);
	tcase_add_test(tc, cert_expired);
	tcase_add_test(tc, headers_10mib);
	tcase_add_test(tc, http10_no_length);
	tcase_add_test(tc, http10_truncated);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
	srunner_free(sr);
	hard_peer_stop(&peer);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
