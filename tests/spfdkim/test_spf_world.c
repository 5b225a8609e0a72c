/*
 * test_spf_world.c - SPF through real libunbound validation on the signed
 * test world (MS_TEST_WORLD/auth.conf): DNSSEC status propagates, one
 * insecure include makes the verdict insecure, bogus data is a temperror.
 */
#include <check.h>
#include <mailsec/spf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ms_dns_ctx *dns;
static struct ms_spf *spf;

static void setup(void)
{
	const char *world = getenv("MS_TEST_WORLD");
	ck_assert_msg(world != NULL, "MS_TEST_WORLD not set");
	char conf[4096];
	snprintf(conf, sizeof(conf), "%s/auth.conf", world);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf };
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_spf_new(NULL, dns, &spf), MS_OK);
}

static void teardown(void)
{
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
}

static struct ms_spf_verdict *check(const char *ip, const char *sender)
{
	struct ms_spf_verdict *v = NULL;
	char why[256] = "";
	ck_assert_msg(ms_spf_check_mailfrom(spf, ip, "mail.example.test", sender, &v, why,
					    sizeof(why)) == MS_OK, "%s", why);
	return v;
}

static void expect(const char *ip, const char *sender, enum ms_spf_result res,
		   enum ms_dns_security sec)
{
	struct ms_spf_verdict *v = check(ip, sender);
	ck_assert_msg(ms_spf_verdict_result(v) == res, "%s from %s: got %s (%s)", sender, ip,
		      ms_spf_result_str(ms_spf_verdict_result(v)),
		      ms_spf_verdict_problem(v) ? ms_spf_verdict_problem(v) : "");
	ck_assert_msg(ms_spf_verdict_dnssec(v) == sec, "%s from %s: dnssec %s", sender, ip,
		      ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	ms_spf_verdict_free(v);
}

START_TEST(secure_direct)
{
	expect("192.0.2.5", "a@spf-ip.example.test", MS_SPF_PASS, MS_DNS_SECURE);
	expect("203.0.113.5", "a@spf-ip.example.test", MS_SPF_FAIL, MS_DNS_SECURE);
	expect("192.0.2.30", "a@spf-a.example.test", MS_SPF_PASS, MS_DNS_SECURE);
	expect("::ffff:192.0.2.30", "a@spf-a.example.test", MS_SPF_PASS, MS_DNS_SECURE);
}
END_TEST

START_TEST(secure_include)
{
	struct ms_spf_verdict *v = check("192.0.2.5", "a@spf-inc.example.test");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_SECURE);
	ck_assert_str_eq(ms_spf_verdict_mechanism(v), "include:spf-ip.example.test");
	ck_assert_uint_eq(ms_spf_verdict_dns_lookups(v), 1);
	ms_spf_verdict_free(v);
}
END_TEST

START_TEST(insecure_include_taints)
{
	/* The pass comes from the signed include, but the unsigned one was
	 * consulted first: an attacker controlling it could have changed the
	 * outcome, so the verdict is not secure. */
	expect("192.0.2.5", "a@spf-incins.example.test", MS_SPF_PASS, MS_DNS_INSECURE);
	expect("198.51.100.7", "a@spf-incins.example.test", MS_SPF_PASS, MS_DNS_INSECURE);
	expect("203.0.113.1", "a@spf-incins.example.test", MS_SPF_FAIL, MS_DNS_INSECURE);
	expect("198.51.100.7", "a@spf-redir.example.test", MS_SPF_PASS, MS_DNS_INSECURE);
	expect("198.51.100.7", "a@spf.insecure.example.test", MS_SPF_PASS, MS_DNS_INSECURE);
}
END_TEST

START_TEST(bogus_is_temperror)
{
	struct ms_spf_verdict *v = check("192.0.2.66", "a@spf-bogus.example.test");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_TEMPERROR);
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_BOGUS);
	ck_assert_ptr_nonnull(ms_spf_verdict_problem(v));
	ms_spf_verdict_free(v);
}
END_TEST

START_TEST(no_record_is_none)
{
	expect("192.0.2.5", "a@mx.example.test", MS_SPF_NONE, MS_DNS_SECURE);
	expect("192.0.2.5", "a@nosuch.example.test", MS_SPF_NONE, MS_DNS_SECURE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spf-world");
	TCase *tc = tcase_create("world");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, secure_direct);
	tcase_add_test(tc, secure_include);
	tcase_add_test(tc, insecure_include_taints);
	tcase_add_test(tc, bogus_is_temperror);
	tcase_add_test(tc, no_record_is_none);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
