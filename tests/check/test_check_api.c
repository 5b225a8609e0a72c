/*
 * test_check_api.c - libmscheck through its API (the CLI test covers the
 * wrapper): argument checking, the report's getters on the offline test
 * world (no probes), the internal parsers' tables, and ms_setup_render's
 * config errors and TLSA data (checked against OpenSSL's own digest of the
 * key, computed here independently of the library's code path).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/check.h>
#include <mailsec/dns.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "check_int.h"

static char path_buf[4][1024];
static const char *world(const char *rel, int k)
{
	const char *w = getenv("MS_TEST_WORLD");
	ck_assert_msg(w != NULL, "MS_TEST_WORLD not set");
	snprintf(path_buf[k], sizeof(path_buf[k]), "%s/%s", w, rel);
	return path_buf[k];
}

static struct ms_dns_ctx *world_dns(void)
{
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = world("auth.conf", 0) };
	struct ms_dns_ctx *dns = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, "%s", why);
	return dns;
}

/* The findings with `key` and `item` (NULL: any): count, and the status of the last. */
static int find(const struct ms_check_report *r, const char *key, const char *item,
		enum ms_check_status *st, const char **msg)
{
	int n = 0;
	for (size_t i = 0; i < ms_check_report_count(r); i++) {
		const struct ms_check_finding *f = ms_check_report_finding(r, i);
		if (strcmp(ms_check_finding_key(f), key) || (item && strcmp(ms_check_finding_item(f), item)))
			continue;
		n++;
		if (st)
			*st = ms_check_finding_status(f);
		if (msg)
			*msg = ms_check_finding_message(f);
	}
	return n;
}

START_TEST(run_rejects_bad_arguments)
{
	struct ms_dns_ctx *dns = world_dns();
	struct ms_check_report *r = (struct ms_check_report *)1;
	char why[128] = "";
	struct ms_check_opts o = { .version = MS_CHECK_OPTS_VERSION };
	ck_assert_int_eq(ms_check_run(NULL, NULL, "good.test", &o, &r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(r);
	struct ms_check_opts bad = { .version = 99 };
	ck_assert_int_eq(ms_check_run(NULL, dns, "good.test", &bad, &r, why, sizeof(why)), MS_ERR_INVALID);
	const char *sel[1] = { "x" };
	struct ms_check_opts many = { .version = MS_CHECK_OPTS_VERSION, .dkim_selectors = sel,
				      .ndkim_selectors = MS_CHECK_MAX_SELECTORS + 1 };
	ck_assert_int_eq(ms_check_run(NULL, dns, "good.test", &many, &r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_check_run(NULL, dns, "bad..domain", &o, &r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_msg(strstr(why, "bad domain") != NULL, "%s", why);
	ck_assert_ptr_null(r);
	char *text = NULL;
	ck_assert_int_eq(ms_check_report_render(NULL, MS_CHECK_JSON, &text, NULL), MS_ERR_INVALID);
	ck_assert_uint_eq(ms_check_report_count(NULL), 0);
	ck_assert_ptr_null(ms_check_report_finding(NULL, 0));
	ms_check_report_free(NULL);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(report_of_weakauth)
{
	struct ms_dns_ctx *dns = world_dns();
	struct ms_check_report *r = NULL;
	char why[256] = "";
	struct ms_check_opts o = { .version = MS_CHECK_OPTS_VERSION, .no_probe = 1, .timeout_ms = 5000 };
	ck_assert_int_eq(ms_check_run(NULL, dns, "WeakAuth.Test.", &o, &r, why, sizeof(why)), MS_OK);
	ck_assert_str_eq(ms_check_report_domain(r), "weakauth.test");
	enum ms_check_status st = MS_CHECK_PASS;
	const char *msg = NULL;
	ck_assert_int_eq(find(r, "spf_policy", NULL, &st, &msg), 1);
	ck_assert_int_eq(st, MS_CHECK_FAIL);
	ck_assert_int_eq(find(r, "dkim", "_domainkey", &st, NULL), 1);
	ck_assert_int_eq(st, MS_CHECK_FAIL);
	ck_assert_int_eq(find(r, "mx_aaaa", "mx.weakauth.test", &st, NULL), 1);
	ck_assert_int_eq(st, MS_CHECK_FAIL);
	ck_assert_int_eq(find(r, "dmarc", "reports", NULL, NULL), 2);
	/* no probe: no TLS findings at all */
	ck_assert_int_eq(find(r, "starttls_exists", NULL, NULL, NULL), 0);
	int fails = 0, warns = 0;
	ck_assert_int_eq(ms_check_report_verdict(r, &fails, &warns), MS_CHECK_FAIL);
	ck_assert_int_ge(fails, 5);
	/* every failing or warning finding has a fix, no pass or info one has */
	for (size_t i = 0; i < ms_check_report_count(r); i++) {
		const struct ms_check_finding *f = ms_check_report_finding(r, i);
		enum ms_check_status s = ms_check_finding_status(f);
		if (s == MS_CHECK_PASS || s == MS_CHECK_INFO)
			ck_assert_ptr_null(ms_check_finding_fix(f));
		ck_assert(ms_check_finding_key(f)[0] != '\0');
	}
	char *json = NULL, *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(ms_check_report_render(r, MS_CHECK_JSON, &json, &len), MS_OK);
	ck_assert_uint_eq(len, strlen(json));
	ck_assert(json[len - 1] == '\n' && strchr(json, '\n') == json + len - 1);
	ck_assert_ptr_nonnull(strstr(json, "\"key\":\"spf_policy\""));
	ck_assert_int_eq(ms_check_report_render(r, MS_CHECK_TEXT, &text, NULL), MS_OK);
	ck_assert_ptr_nonnull(strstr(text, "overall: fail"));
	ck_assert_ptr_null(strchr(text, '\033'));
	ck_assert_int_eq(ms_check_report_render(r, (enum ms_check_format)7, &json, NULL), MS_ERR_INVALID);
	ms_render_free(json);
	ms_render_free(text);
	ms_check_report_free(r);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(tlsrpt_grammar)
{
	static const struct { const char *rec; int ok; } t[] = {
		{ "v=TLSRPTv1; rua=mailto:a@b.test", 1 },
		{ "v=TLSRPTv1;rua=mailto:a@b.test,https://r.test/x;", 1 },
		{ "v=TLSRPTv1; ext=1; rua=HTTPS://r.test", 1 },
		{ "v=TLSRPTv1", 0 },                          /* no rua */
		{ "v=TLSRPTv1; rua=ftp://x", 0 },
		{ "v=TLSRPTv1; rua=mailto:a@b, http://x", 0 },
		{ "rua=mailto:a@b; v=TLSRPTv1", 0 },          /* version not first */
		{ "v=TLSRPTv1; junk; rua=mailto:a@b", 0 },    /* not name=value */
		{ "v=TLSRPTv10; rua=mailto:a@b", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char bad[80] = "";
		int ok = check_tlsrpt_parse((const uint8_t *)t[i].rec, strlen(t[i].rec), bad, sizeof(bad));
		ck_assert_msg(ok == t[i].ok, "%s: %d (%s)", t[i].rec, ok, bad);
		ck_assert_msg(ok || bad[0], "%s: no reason", t[i].rec);
	}
	/* the length bounds the parse: a valid prefix of a longer buffer */
	const char *s = "v=TLSRPTv1; rua=mailto:a@b.test; x=ftp://";
	ck_assert_int_eq(check_tlsrpt_parse((const uint8_t *)s, 31, NULL, 0), 1);
}
END_TEST

START_TEST(caa_rdata)
{
	char v[32];
	ck_assert_int_eq(check_caa_issue((const uint8_t *)"\0\5issueca.test", 14, v, sizeof(v)), 1);
	ck_assert_str_eq(v, "ca.test");
	ck_assert_int_eq(check_caa_issue((const uint8_t *)"\0\5iodefmailto:x", 15, v, sizeof(v)), 0);
	ck_assert_int_eq(check_caa_issue((const uint8_t *)"\0\x20issue", 7, v, sizeof(v)), -1);
	ck_assert_int_eq(check_caa_issue((const uint8_t *)"\0", 1, v, sizeof(v)), -1);
	ck_assert_int_eq(check_caa_issue((const uint8_t *)"\0\5issue\x01\xff", 9, v, sizeof(v)), 1);
	ck_assert_str_eq(v, "??");
}
END_TEST

START_TEST(dkim_key_records)
{
	static const char rsa1024[] = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCtj/9k/NfxmDWVYlZtdjrGeDWbhVhl9lm30XaI2iHTQljEGlVw1bLLWJB6DYDQVP9f+O80UyOIqRhXb5n9TobvwilWnnX2jNKkve83xcbzGx2nY4vNblDct5SFNA9vvoa32xIp/VMbwBeo+GrbQqPC01cSCep0xBuKCRmEHr2sywIDAQAB";
	static const struct { const char *rec; int ok, alg, revoked, testing; unsigned bits; } t[] = {
		{ "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 1, CHECK_DKIM_ED25519, 0, 0, 256 },
		{ "v=DKIM1; p=", 1, CHECK_DKIM_RSA, 1, 0, 0 },
		{ "p=; t=s:y", 1, CHECK_DKIM_RSA, 1, 1, 0 },
		{ "v=DKIM1; k=ed25519; p=bm90IGEga2V5", 0, 0, 0, 0, 0 },   /* not 32 bytes */
		{ "v=DKIM1; k=rsa; p=bm90IGEga2V5", 0, 0, 0, 0, 0 },       /* not an SPKI */
		{ "k=rsa; v=DKIM1; p=", 0, 0, 0, 0, 0 },                   /* v= not first */
		{ "v=DKIM1; k=rsa", 0, 0, 0, 0, 0 },                       /* no p= */
		{ "v=DKIM1; k=dsa; p=AAAA", 0, 0, 0, 0, 0 },
		{ "v=DKIM1; p=; p=", 0, 0, 0, 0, 0 },
		{ "v=DKIM1; p=abc", 0, 0, 0, 0, 0 },                       /* not base64 */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct check_dkim_key k;
		int ok = check_dkim_key_parse((const uint8_t *)t[i].rec, strlen(t[i].rec), &k);
		ck_assert_msg(ok == t[i].ok, "%s: %d (%s)", t[i].rec, ok, k.problem);
		if (!ok) {
			ck_assert_msg(k.problem[0], "%s: no reason", t[i].rec);
			continue;
		}
		ck_assert_int_eq(k.alg, t[i].alg);
		ck_assert_int_eq(k.revoked, t[i].revoked);
		ck_assert_int_eq(k.testing, t[i].testing);
		ck_assert_uint_eq(k.bits, t[i].bits);
	}
	/* an RSA key, folded with whitespace as zone files split it */
	char rec[600];
	snprintf(rec, sizeof(rec), "v=DKIM1; t=y; k=rsa; p=%.100s \r\n\t%s", rsa1024, rsa1024 + 100);
	struct check_dkim_key k;
	ck_assert_int_eq(check_dkim_key_parse((const uint8_t *)rec, strlen(rec), &k), 1);
	ck_assert_int_eq(k.alg, CHECK_DKIM_RSA);
	ck_assert_uint_eq(k.bits, 1024);
	ck_assert_int_eq(k.testing, 1);
	/* the length bounds the parse */
	ck_assert_int_eq(check_dkim_key_parse((const uint8_t *)rec, 20, &k), 0);
}
END_TEST

static void spki_hex(const char *file, char hex[65])
{
	FILE *f = fopen(file, "r");
	ck_assert_ptr_nonnull(f);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(k, &der);
	SHA256(der, (size_t)len, md);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

START_TEST(setup_records)
{
	const char *mx[2] = { "mx1.example.test", "mx2.example.test" };
	const char *key[2] = { world("pki/demo/mx1.good.test.key", 1), NULL };
	const char *next[2] = { world("pki/demo/next.key", 2), NULL };
	struct ms_setup_config cfg = { .version = MS_SETUP_CONFIG_VERSION, .domain = "Example.Test",
				       .mx = mx, .mx_key = key, .mx_next_key = next, .nmx = 2,
				       .report_address = "reports@example.test", .now = 1800000000 };
	char *out = NULL, why[256] = "";
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_TEXT, &out, why, sizeof(why)), MS_OK);
	char hex[65], line[200];
	spki_hex(key[0], hex);
	snprintf(line, sizeof(line), "_25._tcp.mx1.example.test. IN TLSA 3 1 1 %s\n", hex);
	ck_assert_msg(strstr(out, line) != NULL, "%s", out);
	spki_hex(next[0], hex);
	snprintf(line, sizeof(line), "_25._tcp.mx1.example.test. IN TLSA 3 1 1 %s\n", hex);
	ck_assert_msg(strstr(out, line) != NULL, "%s", out);
	ck_assert_ptr_null(strstr(out, "_25._tcp.mx2"));
	/* 1800000000 = 2027-01-15 08:00:00 UTC */
	ck_assert_ptr_nonnull(strstr(out, "_mta-sts.example.test. IN TXT \"v=STSv1; id=20270115T080000;\"\n"));
	ck_assert_ptr_nonnull(strstr(out, "example.test. IN MX 20 mx2.example.test.\n"));
	ck_assert_ptr_nonnull(strstr(out, "mode: enforce\nmx: mx1.example.test\nmx: mx2.example.test\nmax_age: 604800\n"));
	ms_render_free(out);

	cfg.sts_mode = "strict";
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_TEXT, &out, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(out);
	cfg.sts_mode = NULL;
	cfg.report_address = "a@b; p=none";
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_TEXT, &out, why, sizeof(why)), MS_ERR_INVALID);
	cfg.report_address = "reports@example.test";
	const char *missing[2] = { "/nonexistent/key.pem", NULL };
	cfg.mx_key = missing;
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_JSON, &out, why, sizeof(why)), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(why, "/nonexistent/key.pem"));
	const char *notkey[2] = { world("auth.conf", 3), NULL };
	cfg.mx_key = notkey;
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_JSON, &out, why, sizeof(why)), MS_ERR_PARSE);
	cfg.mx_key = key;
	const char *badmx[2] = { "mx1..example.test", "mx2.example.test" };
	cfg.mx = badmx;
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_JSON, &out, why, sizeof(why)), MS_ERR_INVALID);
	cfg.mx = mx;
	cfg.nmx = 0;
	ck_assert_int_eq(ms_setup_render(NULL, &cfg, MS_CHECK_JSON, &out, why, sizeof(why)), MS_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("check-api");
	TCase *tc = tcase_create("api");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, run_rejects_bad_arguments);
	tcase_add_test(tc, report_of_weakauth);
	tcase_add_test(tc, tlsrpt_grammar);
	tcase_add_test(tc, caa_rdata);
	tcase_add_test(tc, dkim_key_records);
	tcase_add_test(tc, setup_records);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
