/*
 * test_route_postfix.c - ms_rtls_route_postfix_policy over the offline
 * signed test world: each Postfix TLS policy answer (dane-only, dane,
 * secure match=..., NOTFOUND, TEMP) from a real route, DNSSEC validated by
 * libunbound; the MTA-STS policies come from a fetch callback.
 */
#include <check.h>
#include <string.h>

#include <mailsec/mtasts.h>
#include <mailsec/requiretls_route.h>

#include "mstest.h"

/* The policy body each test wants, served for any mta-sts.DOMAIN. */
static const char *policy_body;

static ms_status serve_policy(void *user, const char *url, uint8_t *buf, size_t bufsize,
			      size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)user;
	(void)url;
	(void)failure;
	(void)why;
	(void)whylen;
	size_t n = strlen(policy_body);
	ck_assert_uint_gt(bufsize, n);
	memcpy(buf, policy_body, n);
	*len = n;
	return MS_OK;
}

/* The reply for `domain` (MTA-STS through the callback when `body` is
 * set); returns the kind, the status in *st. */
static enum ms_rtls_postfix_kind answer(const char *domain, const char *body, unsigned flags,
					char *reply, size_t replylen, ms_status *st)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_sts *sts = NULL;
	char why[256] = "";
	if (body) {
		policy_body = body;
		struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
		cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
		cfg.fetch.fetch = serve_policy;
		ck_assert_msg(ms_sts_new(NULL, &cfg, dns, NULL, &sts, why, sizeof(why)) == MS_OK,
			      "%s", why);
	}
	struct ms_rtls_route *r = NULL;
	ck_assert_msg(ms_rtls_route_new(NULL, dns, sts, domain, MS_RTLS_REQ_DEFAULT, NULL, &r, why,
					sizeof(why)) == MS_OK, "%s: %s", domain, why);
	enum ms_rtls_postfix_kind kind = (enum ms_rtls_postfix_kind)-1;
	ms_status s = ms_rtls_route_postfix_policy(r, flags, &kind, reply, replylen);
	if (st)
		*st = s;
	else
		ck_assert_int_eq(s, MS_OK);
	ms_rtls_route_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
	return kind;
}

static const char enforce_gap[] = "version: STSv1\r\nmode: enforce\r\nmx: mx1.stsgap.test\r\n"
				  "max_age: 86400\r\n";
static const char testing_gap[] = "version: STSv1\r\nmode: testing\r\nmx: mx1.stsgap.test\r\n"
				  "max_age: 86400\r\n";
static const char enforce_good[] = "version: STSv1\r\nmode: enforce\r\nmx: *.good.test\r\n"
				   "max_age: 86400\r\n";
static const char enforce_wild[] = "version: STSv1\r\nmode: enforce\r\nmx: *.stsgap.test\r\n"
				   "mx: mx9.example.net\r\nmax_age: 86400\r\n";

START_TEST(dane_only_when_every_host_has_dane)
{
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	/* good.test: both MX hosts secure with usable TLSA (3 1 1, 2 1 1) */
	ck_assert_int_eq(answer("good.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_OK);
	ck_assert_str_eq(reply, "OK dane-only");
	/* RFC 8461 s2: DANE wins over an MTA-STS enforce policy */
	ck_assert_int_eq(answer("good.test", enforce_good, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_OK);
	ck_assert_str_eq(reply, "OK dane-only");
}
END_TEST

START_TEST(dane_when_some_hosts_have_dane)
{
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	/* mixed.policyd.test: mx1.good.test has TLSA, mx.nostarttls.test none */
	ck_assert_int_eq(answer("mixed.policyd.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_OK);
	ck_assert_str_eq(reply, "OK dane");
}
END_TEST

START_TEST(sts_enforce_is_secure_match)
{
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	/* stsgap.test: signed, no TLSA; mx2 is not in the policy */
	ck_assert_int_eq(answer("stsgap.test", enforce_gap, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_OK);
	ck_assert_str_eq(reply, "OK secure match=mx1.stsgap.test servername=hostname");
	/* "*.stsgap.test" is Postfix's ".stsgap.test"; every pattern kept */
	ck_assert_int_eq(answer("stsgap.test", enforce_wild, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_OK);
	ck_assert_str_eq(reply, "OK secure match=.stsgap.test:mx9.example.net servername=hostname");
}
END_TEST

START_TEST(sts_testing_only_when_asked)
{
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	ck_assert_int_eq(answer("stsgap.test", testing_gap, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_NOTFOUND);
	ck_assert_str_eq(reply, "NOTFOUND ");
	ck_assert_int_eq(answer("stsgap.test", testing_gap, MS_RTLS_POSTFIX_TESTING_AS_ENFORCE,
				reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_OK);
	ck_assert_str_eq(reply, "OK secure match=mx1.stsgap.test servername=hostname");
}
END_TEST

START_TEST(no_policy_is_notfound)
{
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	/* signed, no TLSA, no MTA-STS */
	ck_assert_int_eq(answer("nostarttls.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_NOTFOUND);
	ck_assert_str_eq(reply, "NOTFOUND ");
	/* a validly absent domain: Postfix bounces it on its own */
	ck_assert_int_eq(answer("nosuch.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_NOTFOUND);
	/* unsigned MX with TLSA records: DANE does not apply (RFC 7672 s2.2) */
	ck_assert_int_eq(answer("stsplain.example.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_NOTFOUND);
}
END_TEST

START_TEST(failed_lookups_are_temp)
{
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	/* bogus TLSA RRset of the only MX host */
	ck_assert_int_eq(answer("tlsafail.policyd.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_TEMP);
	ck_assert_msg(strncmp(reply, "TEMP mx.tlsafail.policyd.test: ", 31) == 0, "%s", reply);
	/* ... also when an MTA-STS enforce policy would otherwise apply */
	ck_assert_int_eq(answer("tlsafail.policyd.test", enforce_gap, 0, reply, sizeof(reply),
				NULL),
			 MS_RTLS_POSTFIX_TEMP);
	/* bogus MX RRset */
	ck_assert_int_eq(answer("bogus.test", NULL, 0, reply, sizeof(reply), NULL),
			 MS_RTLS_POSTFIX_TEMP);
	ck_assert_msg(strncmp(reply, "TEMP MX lookup for bogus.test failed", 36) == 0, "%s", reply);
	for (const char *c = reply; *c; c++)
		ck_assert(*c >= 0x20 && *c < 0x7f);
}
END_TEST

START_TEST(never_truncated)
{
	char reply[40];
	ms_status st;
	/* "OK secure match=mx1.stsgap.test servername=hostname" needs 52 */
	ck_assert_int_eq(answer("stsgap.test", enforce_gap, 0, reply, sizeof(reply), &st),
			 MS_RTLS_POSTFIX_TEMP);
	ck_assert_int_eq(st, MS_ERR_LIMIT);
	ck_assert_str_eq(reply, "TEMP policy too long for a reply");
}
END_TEST

START_TEST(bad_arguments)
{
	char reply[64];
	enum ms_rtls_postfix_kind k = MS_RTLS_POSTFIX_OK;
	ck_assert_int_eq(ms_rtls_route_postfix_policy(NULL, 0, &k, reply, sizeof(reply)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(k, MS_RTLS_POSTFIX_TEMP);
	ck_assert_str_eq(reply, "TEMP route not built");
	ck_assert_int_eq(ms_rtls_route_postfix_policy(NULL, 0, NULL, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_route_postfix_policy(NULL, 0, NULL, reply, 31), MS_ERR_INVALID);
	/* a route still pending is not an answer */
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_rtls_route *r = NULL;
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, NULL, "good.test", MS_RTLS_REQ_DEFAULT,
					     NULL, NULL, NULL, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_route_postfix_policy(r, 0, &k, reply, sizeof(reply)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(k, MS_RTLS_POSTFIX_TEMP);
	ms_rtls_route_free(r);
	ms_dns_ctx_free(dns);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("requiretls-route-postfix");
	TCase *t = tcase_create("postfix-policy");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, dane_only_when_every_host_has_dane);
	tcase_add_test(t, dane_when_some_hosts_have_dane);
	tcase_add_test(t, sts_enforce_is_secure_match);
	tcase_add_test(t, sts_testing_only_when_asked);
	tcase_add_test(t, no_policy_is_notfound);
	tcase_add_test(t, failed_lookups_are_temp);
	tcase_add_test(t, never_truncated);
	tcase_add_test(t, bad_arguments);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
