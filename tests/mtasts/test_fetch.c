/*
 * test_fetch.c - the HTTPS policy fetch (RFC 8461 s3.3) against a real
 * loopback HTTPS host (policy_server.py) with the test CA: every rule of
 * the fetch, and the RFC 8460 failure type each failure maps to.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/mtasts.h>

#include "helpers.h"

static struct policy_host host;
static uint8_t buf[MS_STS_POLICY_MAX];

static ms_status fetch(const char *domain, const char *ca, unsigned timeout_ms,
		       size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	struct ms_sts_fetch_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.ca_file = world_path(ca);
	cfg.connect_to = host.connect_to;
	cfg.timeout_ms = timeout_ms;
	return ms_sts_fetch(NULL, &cfg, domain, buf, sizeof(buf), len, failure, why, whylen);
}

static struct ms_sts_policy *parse(size_t len)
{
	struct ms_sts_policy *p = NULL;
	char why[200] = "";
	ck_assert_msg(ms_sts_policy_parse(NULL, buf, len, &p, why, sizeof(why)) == MS_OK,
		      "fetched policy does not parse: %s", why);
	return p;
}

START_TEST(test_good_crlf)
{
	size_t len = 0;
	enum ms_tlsrpt_result f;
	char why[300] = "";
	ck_assert_msg(fetch("example.test", "pki/mtasts/ca.pem", 0, &len, &f, why,
			    sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(f, MS_TLSRPT_SUCCESS);
	ck_assert_ptr_nonnull(memchr(buf, '\r', len));
	struct ms_sts_policy *p = parse(len);
	ck_assert_int_eq(ms_sts_policy_mode(p), MS_STS_MODE_ENFORCE);
	ck_assert_int_eq(ms_sts_policy_match(p, "mx.example.test"), 1);
	ms_sts_policy_free(p);
}
END_TEST

START_TEST(test_good_lf_charset)
{
	size_t len = 0;
	enum ms_tlsrpt_result f;
	char why[300] = "";
	/* LF endings, no final newline */
	ck_assert_msg(fetch("lf.test", "pki/mtasts/ca.pem", 0, &len, &f, why, sizeof(why)) ==
		      MS_OK, "%s", why);
	ck_assert_ptr_null(memchr(buf, '\r', len));
	ck_assert_int_ne(buf[len - 1], '\n');
	struct ms_sts_policy *p = parse(len);
	ck_assert_int_eq(ms_sts_policy_mode(p), MS_STS_MODE_TESTING);
	ms_sts_policy_free(p);
	/* text/plain with parameters, any case */
	ck_assert_msg(fetch("charset.test", "pki/mtasts/ca.pem", 0, &len, &f, why,
			    sizeof(why)) == MS_OK, "%s", why);
	ck_assert_msg(fetch("stsplain.example.test", "pki/mtasts/ca.pem", 0, &len, &f, why,
			    sizeof(why)) == MS_OK, "%s", why);
}
END_TEST

struct bad_case {
	const char *domain, *ca;
	unsigned timeout_ms;
	ms_status status;
	enum ms_tlsrpt_result failure;
	const char *why;
};

static const struct bad_case bad_cases[] = {
	{ "redirect.test", "pki/mtasts/ca.pem", 0, MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
	  "HTTP status 301" },
	{ "notfound.test", "pki/mtasts/ca.pem", 0, MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
	  "HTTP status 404" },
	{ "html.test", "pki/mtasts/ca.pem", 0, MS_ERR_PROTOCOL, MS_TLSRPT_STS_POLICY_INVALID,
	  "text/html" },
	{ "chunked.test", "pki/mtasts/ca.pem", 0, MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
	  "larger than" },
	{ "big.test", "pki/mtasts/ca.pem", 0, MS_ERR_LIMIT, MS_TLSRPT_STS_POLICY_FETCH_ERROR,
	  "larger than" },
	{ "slow.test", "pki/mtasts/ca.pem", 1500, MS_ERR_TIMEOUT, MS_TLSRPT_STS_POLICY_FETCH_ERROR, "" },
	/* the certificate does not name mta-sts.wrongname.test */
	{ "wrongname.test", "pki/mtasts/ca.pem", 0, MS_ERR_TLS, MS_TLSRPT_STS_WEBPKI_INVALID, "" },
	/* the chain does not lead to a trusted CA */
	{ "example.test", "pki/mtasts/other-ca.pem", 0, MS_ERR_TLS, MS_TLSRPT_STS_WEBPKI_INVALID, "" },
};

START_TEST(test_bad_table)
{
	const struct bad_case *c = &bad_cases[_i];
	size_t len = 12345;
	enum ms_tlsrpt_result f = MS_TLSRPT_SUCCESS;
	char why[300] = "";
	ms_status st = fetch(c->domain, c->ca, c->timeout_ms, &len, &f, why, sizeof(why));
	ck_assert_msg(st == c->status, "%s: status %d (%s), want %d", c->domain, st, why,
		      c->status);
	ck_assert_msg(f == c->failure, "%s: failure %s", c->domain, ms_tlsrpt_result_name(f));
	ck_assert_msg(strstr(why, c->why) != NULL, "%s: why '%s'", c->domain, why);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_plain_http_never)
{
	/* Even when pointed at a plain-HTTP port, the URL stays https: the
	 * handshake fails instead of a downgrade. */
	struct ms_sts_fetch_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.ca_file = world_path("pki/mtasts/ca.pem");
	cfg.connect_to = "::127.0.0.1:1"; /* nothing listens on port 1 */
	cfg.timeout_ms = 3000;
	size_t len;
	enum ms_tlsrpt_result f;
	char why[300];
	ck_assert_int_eq(ms_sts_fetch(NULL, &cfg, "example.test", buf, sizeof(buf), &len, &f,
				      why, sizeof(why)), MS_ERR_NETWORK);
	ck_assert_int_eq(f, MS_TLSRPT_STS_POLICY_FETCH_ERROR);
}
END_TEST

START_TEST(test_proxy_only_when_asked)
{
	/* A proxy in the environment is ignored... */
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	setenv("all_proxy", "http://127.0.0.1:1", 1);
	size_t len = 0;
	enum ms_tlsrpt_result f;
	char why[300] = "";
	ck_assert_msg(fetch("example.test", "pki/mtasts/ca.pem", 0, &len, &f, why,
			    sizeof(why)) == MS_OK, "%s", why);
	/* ...and a configured one is used (nothing listens there). */
	struct ms_sts_fetch_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.ca_file = world_path("pki/mtasts/ca.pem");
	cfg.connect_to = host.connect_to;
	cfg.proxy = "http://127.0.0.1:1";
	ck_assert_int_eq(ms_sts_fetch(NULL, &cfg, "example.test", buf, sizeof(buf), &len, &f,
				      why, sizeof(why)), MS_ERR_NETWORK);
	ck_assert_int_eq(f, MS_TLSRPT_STS_POLICY_FETCH_ERROR);
}
END_TEST

static ms_status my_fetch(void *user, const char *url, uint8_t *b, size_t bufsize,
			  size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	const char *body = "version: STSv1\nmode: none\nmax_age: 60\n";
	snprintf(user, 256, "%s", url);
	if (strstr(url, "fail")) {
		*failure = MS_TLSRPT_STS_WEBPKI_INVALID;
		snprintf(why, whylen, "callback says no");
		return MS_ERR_TLS;
	}
	*len = strlen(body);
	memcpy(b, body, *len);
	(void)bufsize;
	return MS_OK;
}

START_TEST(test_callback)
{
	char seen[256] = "";
	struct ms_sts_fetch_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch = my_fetch;
	cfg.fetch_user = seen;
	size_t len;
	enum ms_tlsrpt_result f;
	char why[300];
	ck_assert_int_eq(ms_sts_fetch(NULL, &cfg, "Example.TEST.", buf, sizeof(buf), &len, &f,
				      why, sizeof(why)), MS_OK);
	ck_assert_str_eq(seen, "https://mta-sts.example.test/.well-known/mta-sts.txt");
	ck_assert_uint_eq(len, strlen("version: STSv1\nmode: none\nmax_age: 60\n"));
	ck_assert_int_eq(ms_sts_fetch(NULL, &cfg, "fail.test", buf, sizeof(buf), &len, &f,
				      why, sizeof(why)), MS_ERR_TLS);
	ck_assert_int_eq(f, MS_TLSRPT_STS_WEBPKI_INVALID);
	ck_assert_str_eq(why, "callback says no");
	ck_assert_int_eq(ms_sts_fetch(NULL, &cfg, "bad..name", buf, sizeof(buf), &len, &f,
				      why, sizeof(why)), MS_ERR_INVALID);
}
END_TEST

int main(void)
{
	policy_host_start(&host);
	Suite *s = suite_create("mtasts-fetch");
	TCase *tc = tcase_create("fetch");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_good_crlf);
	tcase_add_test(tc, test_good_lf_charset);
	tcase_add_loop_test(tc, test_bad_table, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_plain_http_never);
	tcase_add_test(tc, test_proxy_only_when_asked);
	tcase_add_test(tc, test_callback);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	policy_host_stop(&host);
	return failed ? 1 : 0;
}
