/*
 * test_auth.c - the inbound call (mailsec/auth.h) end to end on the signed
 * test world (MS_TEST_WORLD, real libunbound validation): good.test
 * publishes SPF "mx -all", DMARC p=reject and DKIM keys (ed, rsa); the
 * client 127.0.1.1 is mx1.good.test (PTR and A).  Messages are signed here
 * with the world's private keys (pki/dkim) and fed in small chunks.
 */
#include <check.h>
#include <mailsec/auth.h>
#include <mailsec/authres.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ms_dns_ctx *dns;
static struct ms_dkim_key *ed, *rsa;

static struct ms_dkim_key *load(const char *world, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/pki/dkim/%s", world, name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	char pem[16384];
	size_t n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, n, &k, why,
					   sizeof(why)) == MS_OK, "%s", why);
	return k;
}

static void setup(void)
{
	const char *world = getenv("MS_TEST_WORLD");
	ck_assert_msg(world != NULL, "MS_TEST_WORLD not set");
	char conf[4096];
	snprintf(conf, sizeof(conf), "%s/auth.conf", world);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = conf,
				     .timeout_ms = getenv("MS_UNDER_VALGRIND") ? 20000 : 5000 };
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, "%s", why);
	ed = load(world, "ed.pem");
	rsa = load(world, "rsa.pem");
}

static void teardown(void)
{
	ms_dkim_key_free(ed);
	ms_dkim_key_free(rsa);
	ms_dns_ctx_free(dns);
}

/* msg signed with `n` signatures d=good.test (ed, rsa, ed, rsa...);
 * malloc'd. */
static char *sign(const char *msg, size_t n)
{
	struct ms_dkim_signer *s = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &s), MS_OK);
	for (size_t i = 0; i < n; i++) {
		struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION,
					       .key = i % 2 ? rsa : ed, .domain = "good.test",
					       .selector = i % 2 ? "rsa" : "ed",
					       .header_canon = MS_DKIM_CANON_RELAXED,
					       .body_canon = MS_DKIM_CANON_RELAXED };
		ck_assert_msg(ms_dkim_signer_add(s, &o, why, sizeof(why)) == MS_OK, "%s", why);
	}
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)msg, strlen(msg), why,
					     sizeof(why)), MS_OK);
	ck_assert_msg(ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, "%s", why);
	const char *h = ms_dkim_signer_headers(s);
	char *out = malloc(strlen(h) + strlen(msg) + 1);
	ck_assert_ptr_nonnull(out);
	strcpy(out, h);
	strcat(out, msg);
	ms_dkim_signer_free(s);
	return out;
}

/* The inbound call, the message fed `chunk` bytes at a time. */
static size_t chunk = 7;
static struct ms_auth *auth(const char *ip, const char *helo, const char *from,
			    const char *msg, unsigned flags)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = ip,
				  .helo = helo, .mail_from = from, .flags = flags };
	struct ms_auth *a = NULL;
	char why[256] = "";
	ck_assert_msg(ms_auth_new(NULL, &o, &a, why, sizeof(why)) == MS_OK, "%s", why);
	size_t len = strlen(msg);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		ck_assert_msg(ms_auth_feed(a, (const uint8_t *)msg + off, n, why, sizeof(why)) ==
			      MS_OK, "%s", why);
	}
	ck_assert_msg(ms_auth_finish(a, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_auth_finish(a, why, sizeof(why)), MS_ERR_STATE);
	ck_assert_ptr_nonnull(ms_auth_header(a));
	return a;
}

static const char GOOD[] = "From: Joe <joe@good.test>\r\nTo: suzie@example.net\r\n"
			   "Subject: inbound\r\n\r\nHello, world.\r\n";

START_TEST(signed_good_message)
{
	char *m = sign(GOOD, 2);
	struct ms_auth *a = auth("127.0.1.1", "mx1.good.test", "joe@good.test", m,
				 MS_AUTH_APPLY_POLICY);
	const char *h = ms_auth_header(a);
	ck_assert_int_eq(ms_auth_spf_result(a), MS_SPF_PASS);
	ck_assert_int_eq(ms_auth_spf_dnssec(a), MS_DNS_SECURE);
	ck_assert_uint_eq(ms_auth_dkim_count(a), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ms_dkim_sig *s = ms_auth_dkim_sig(a, i);
		ck_assert_msg(ms_dkim_sig_result(s) == MS_DKIM_PASS, "sig %zu: %s", i,
			      ms_dkim_sig_reason(s));
		ck_assert_int_eq(ms_auth_dkim_result(a, i), MS_DMARC_DKIM_PASS);
		ck_assert_str_eq(ms_dkim_sig_domain(s), "good.test");
		ck_assert_str_eq(ms_dkim_sig_selector(s), i ? "rsa" : "ed");
		ck_assert_int_eq(ms_dkim_sig_algorithm(s),
				 i ? MS_DKIM_RSA_SHA256 : MS_DKIM_ED25519_SHA256);
		ck_assert_int_eq(ms_dkim_sig_dnssec(s), MS_DNS_SECURE);
		/* header.b: at least 8 characters of b= (as OpenDKIM) */
		const char *b = ms_dkim_sig_b_prefix(s);
		ck_assert_uint_ge(strlen(b), 8);
		/* bare, or quoted when b= has a tspecial ('/', '=') */
		char want[128], quoted[128];
		snprintf(want, sizeof(want), "header.s=%s header.b=%s", i ? "rsa" : "ed", b);
		snprintf(quoted, sizeof(quoted), "header.s=%s header.b=\"%s\"", i ? "rsa" : "ed",
			 b);
		ck_assert_msg(strstr(h, want) || strstr(h, quoted), "no '%s' in %s", want, h);
	}
	ck_assert_ptr_null(ms_auth_dkim_limit(a));
	ck_assert_int_eq(ms_auth_dmarc_result(a), MS_DMARC_PASS);
	ck_assert_str_eq(ms_auth_dmarc_from_domain(a), "good.test");
	ck_assert_int_eq(ms_auth_dmarc_policy(a), MS_DMARC_POLICY_REJECT);
	ck_assert_int_eq(ms_auth_dmarc_dnssec(a), MS_DNS_SECURE);
	ck_assert_int_eq(ms_auth_iprev_result(a), MS_IPREV_PASS);
	ck_assert_str_eq(ms_auth_iprev_name(a), "mx1.good.test");
	ck_assert_int_eq(ms_auth_disposition(a), MS_AUTH_ACCEPT);
	ck_assert_msg(strncmp(h, "Authentication-Results: mx.example.net;", 39) == 0, "%s", h);
	ck_assert_msg(strstr(h, "spf=pass (dnssec=secure) smtp.mailfrom=joe@good.test"), "%s", h);
	ck_assert_msg(strstr(h, "dkim=pass (dnssec=secure) header.d=good.test header.s=ed"),
		      "%s", h);
	ck_assert_msg(strstr(h, "dmarc=pass (dnssec=secure)"), "%s", h);
	ck_assert_msg(strstr(h, "iprev=pass"), "%s", h);
	const char *r = ms_auth_received_spf(a);
	ck_assert_msg(strncmp(r, "Received-SPF: pass", 18) == 0, "%s", r);
	ck_assert_msg(strstr(r, "receiver=mx.example.net"), "%s", r);
	ms_auth_free(a);
	free(m);
}
END_TEST

/* A From of the p=reject domain from a host it does not list, unsigned. */
static const char SPOOF[] = "From: \"Good CEO\" <ceo@good.test>\r\nSubject: pay\r\n\r\nnow\r\n";

START_TEST(spoofed_from_rejected_with_policy)
{
	struct ms_auth *a = auth("192.0.2.5", "mail.evil.test", "ceo@good.test", SPOOF,
				 MS_AUTH_APPLY_POLICY);
	ck_assert_int_eq(ms_auth_spf_result(a), MS_SPF_FAIL);
	ck_assert_uint_eq(ms_auth_dkim_count(a), 0);
	ck_assert_msg(strstr(ms_auth_header(a), "dkim=none"), "%s", ms_auth_header(a));
	ck_assert_int_eq(ms_auth_dmarc_result(a), MS_DMARC_FAIL);
	ck_assert_int_eq(ms_auth_dmarc_disposition(a), MS_DMARC_POLICY_REJECT);
	ck_assert_int_eq(ms_auth_disposition(a), MS_AUTH_REJECT);
	ck_assert_str_eq(ms_auth_disposition_str(ms_auth_disposition(a)), "reject");
	ms_auth_free(a);
	/* without policy application: accepted, with the same verdict */
	a = auth("192.0.2.5", "mail.evil.test", "ceo@good.test", SPOOF, 0);
	ck_assert_int_eq(ms_auth_dmarc_result(a), MS_DMARC_FAIL);
	ck_assert_int_eq(ms_auth_disposition(a), MS_AUTH_ACCEPT);
	ms_auth_free(a);
}
END_TEST

START_TEST(two_from_fields_permerror)
{
	/* "From :" (obsolete WSP before the colon) is a From field too */
	static const char two[] = "From : \"Bank CEO\" <ceo@example.test>\r\n"
				  "From: <x@good.test>\r\nSubject: hi\r\n\r\nbody\r\n";
	struct ms_auth *a = auth("127.0.1.1", "mx1.good.test", "x@good.test", two,
				 MS_AUTH_APPLY_POLICY | MS_AUTH_REJECT_BAD_FROM);
	ck_assert_int_eq(ms_auth_dmarc_result(a), MS_DMARC_PERMERROR);
	ck_assert_int_eq(ms_auth_dmarc_from_outcome(a), MS_DMARC_FROM_MULTIPLE_HEADERS);
	ck_assert_ptr_null(ms_auth_dmarc(a));
	ck_assert_int_eq(ms_auth_disposition(a), MS_AUTH_REJECT);
	ck_assert_int_eq(ms_auth_spf_result(a), MS_SPF_PASS);
	ck_assert_int_eq(ms_auth_iprev_result(a), MS_IPREV_PASS);
	ck_assert_msg(strstr(ms_auth_header(a), "dmarc=permerror"), "%s", ms_auth_header(a));
	ms_auth_free(a);
	/* byte by byte (the empty line split across feeds), and whole */
	for (size_t c = 1; c <= sizeof(two); c += sizeof(two) - 1) {
		chunk = c;
		a = auth("127.0.1.1", "mx1.good.test", "x@good.test", two, 0);
		chunk = 7;
		ck_assert_int_eq(ms_auth_dmarc_from_outcome(a), MS_DMARC_FROM_MULTIPLE_HEADERS);
		ms_auth_free(a);
	}
	/* a From after the empty line is body, not a second From */
	a = auth("127.0.1.1", "mx1.good.test", "x@good.test",
		 "From: <x@good.test>\r\n\r\nFrom: <ceo@example.test>\r\n", 0);
	ck_assert_int_eq(ms_auth_dmarc_from_outcome(a), MS_DMARC_FROM_OK);
	ck_assert_str_eq(ms_auth_dmarc_from_domain(a), "good.test");
	ms_auth_free(a);
	/* without REJECT_BAD_FROM the MTA decides: accept with the verdict */
	a = auth("127.0.1.1", "mx1.good.test", "x@good.test", two, MS_AUTH_APPLY_POLICY);
	ck_assert_int_eq(ms_auth_disposition(a), MS_AUTH_ACCEPT);
	ms_auth_free(a);
}
END_TEST

START_TEST(header_limit_keeps_other_methods)
{
	/* 1100 fields: past MS_DKIM_MAX_FIELDS, so DKIM is permerror, but
	 * SPF, DMARC (From found past the bound) and iprev are reported */
	size_t cap = 64 * 1024;
	char *m = malloc(cap);
	ck_assert_ptr_nonnull(m);
	strcpy(m, "From: \"Bank CEO\" <ceo@example.test>\r\nSubject: pay\r\n");
	for (int i = 0; i < 1100; i++)
		strcat(m + strlen(m) - 0, "X-Pad: a\r\n");
	strcat(m, "\r\nbody\r\n");
	struct ms_auth *a = auth("127.0.1.1", "mx1.good.test", "x@good.test", m,
				 MS_AUTH_APPLY_POLICY);
	ck_assert_int_eq(ms_auth_spf_result(a), MS_SPF_PASS);
	ck_assert_uint_ge(ms_auth_dkim_count(a), 1);
	ck_assert_int_eq(ms_auth_dkim_result(a, 0), MS_DMARC_DKIM_PERMERROR);
	ck_assert_ptr_nonnull(ms_auth_dkim_limit(a));
	ck_assert_int_eq(ms_auth_dmarc_result(a), MS_DMARC_FAIL);
	ck_assert_str_eq(ms_auth_dmarc_from_domain(a), "example.test");
	ck_assert_int_eq(ms_auth_disposition(a), MS_AUTH_REJECT);
	ck_assert_int_eq(ms_auth_iprev_result(a), MS_IPREV_PASS);
	const char *h = ms_auth_header(a);
	ck_assert_msg(strstr(h, "spf=pass") && strstr(h, "dkim=permerror") &&
		      strstr(h, "dmarc=fail") && strstr(h, "iprev=pass"), "%s", h);
	ms_auth_free(a);
	free(m);
}
END_TEST

START_TEST(max_signatures_keep_dmarc_and_iprev)
{
	/* 32 signatures (MS_DKIM_MAX_SIGNATURES): 35 methods in one field;
	 * the writer used to stop at 32 and drop dmarc and iprev */
	char *m = sign(GOOD, MS_DKIM_MAX_SIGNATURES);
	struct ms_auth *a = auth("127.0.1.1", "mx1.good.test", "joe@good.test", m, 0);
	ck_assert_uint_eq(ms_auth_dkim_count(a), MS_DKIM_MAX_SIGNATURES);
	const char *h = ms_auth_header(a);
	ck_assert_msg(strstr(h, "dmarc=pass") && strstr(h, "iprev=pass"), "%s", h);
	ms_auth_free(a);
	free(m);
}
END_TEST

START_TEST(dkim_to_dmarc_mapping)
{
	/* the enums differ: a cast would turn pass (0) into none (0) */
	ck_assert_int_eq(ms_auth_dkim_to_dmarc(MS_DKIM_PASS), MS_DMARC_DKIM_PASS);
	ck_assert_int_eq(ms_auth_dkim_to_dmarc(MS_DKIM_FAIL), MS_DMARC_DKIM_FAIL);
	ck_assert_int_eq(ms_auth_dkim_to_dmarc(MS_DKIM_NEUTRAL), MS_DMARC_DKIM_NEUTRAL);
	ck_assert_int_eq(ms_auth_dkim_to_dmarc(MS_DKIM_POLICY), MS_DMARC_DKIM_POLICY);
	ck_assert_int_eq(ms_auth_dkim_to_dmarc(MS_DKIM_TEMPERROR), MS_DMARC_DKIM_TEMPERROR);
	ck_assert_int_eq(ms_auth_dkim_to_dmarc(MS_DKIM_PERMERROR), MS_DMARC_DKIM_PERMERROR);
	for (int r = MS_DKIM_PASS; r <= MS_DKIM_PERMERROR; r++)
		ck_assert_str_eq(ms_dmarc_dkim_result_str(ms_auth_dkim_to_dmarc(
					 (enum ms_dkim_result)r)),
				 ms_dkim_result_str((enum ms_dkim_result)r));
}
END_TEST

START_TEST(bad_options)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx\r\nX-Evil: 1", .client_ip = "192.0.2.1",
				  .helo = "h.test", .mail_from = "" };
	struct ms_auth *a = (struct ms_auth *)&o;
	char why[256] = "";
	ck_assert_int_eq(ms_auth_new(NULL, &o, &a, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(a);
	o.authserv_id = "mx.example.net";
	o.client_ip = "not-an-ip";
	ck_assert_int_eq(ms_auth_run(NULL, &o, (const uint8_t *)GOOD, strlen(GOOD), &a, why,
				     sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(a);
	ck_assert_msg(strncmp(why, "spf: ", 5) == 0, "%s", why);
	/* getters of no handle are neutral, not a crash */
	ck_assert_ptr_null(ms_auth_header(NULL));
	ck_assert_int_eq(ms_auth_dkim_result(NULL, 0), MS_DMARC_DKIM_NONE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *t = tcase_create("world");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, signed_good_message);
	tcase_add_test(t, spoofed_from_rejected_with_policy);
	tcase_add_test(t, two_from_fields_permerror);
	tcase_add_test(t, header_limit_keeps_other_methods);
	tcase_add_test(t, max_signatures_keep_dmarc_and_iprev);
	tcase_add_test(t, dkim_to_dmarc_mapping);
	tcase_add_test(t, bad_options);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
