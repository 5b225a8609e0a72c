/*
 * test_dmarc_world.c - DMARC policy discovery through real libunbound
 * validation on the signed test world: secure and insecure policies,
 * duplicate records falling back to the organizational domain.
 */
#include <check.h>
#include <mailsec/dmarc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ms_dns_ctx *dns;
static struct ms_dmarc *dm;

static void setup(void)
{
	const char *world = getenv("MS_TEST_WORLD");
	ck_assert_msg(world != NULL, "MS_TEST_WORLD not set");
	char conf[4096];
	snprintf(conf, sizeof(conf), "%s/auth.conf", world);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = conf };
	ck_assert_int_eq(ms_dns_ctx_new(NULL, &cfg, &dns, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dmarc_new(NULL, dns, &dm, NULL, 0), MS_OK);
}

static void teardown(void)
{
	ms_dmarc_free(dm);
	ms_dns_ctx_free(dns);
}

static struct ms_dmarc_verdict *eval(const char *from, enum ms_spf_result spf, const char *sd)
{
	struct ms_dmarc_verdict *v = NULL;
	ck_assert_int_eq(ms_dmarc_check(dm, from, spf, sd, NULL, NULL, NULL, 0, &v, NULL, 0), MS_OK);
	return v;
}

START_TEST(secure_policy)
{
	struct ms_dmarc_verdict *v = eval("example.test", MS_SPF_FAIL, "example.test");
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_FAIL);
	ck_assert_int_eq(ms_dmarc_verdict_disposition(v), MS_DMARC_POLICY_REJECT);
	ck_assert_int_eq(ms_dmarc_verdict_dnssec(v), MS_DNS_SECURE);
	ms_dmarc_verdict_free(v);
	v = eval("www.example.test", MS_SPF_PASS, "mx.example.test");
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_PASS);
	ck_assert_str_eq(ms_dmarc_verdict_policy_tag(v), "sp");
	ck_assert_str_eq(ms_dmarc_verdict_policy_domain(v), "example.test");
	ck_assert_int_eq(ms_dmarc_verdict_dnssec(v), MS_DNS_SECURE);
	ms_dmarc_verdict_free(v);
}
END_TEST

START_TEST(insecure_policy)
{
	struct ms_dmarc_verdict *v = eval("insecure.example.test", MS_SPF_FAIL, "x.test");
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_FAIL);
	ck_assert_int_eq(ms_dmarc_verdict_disposition(v), MS_DMARC_POLICY_QUARANTINE);
	ck_assert_int_eq(ms_dmarc_verdict_dnssec(v), MS_DNS_INSECURE);
	ms_dmarc_verdict_free(v);
}
END_TEST

START_TEST(duplicate_records_fall_back)
{
	struct ms_dmarc_verdict *v = eval("two.example.test", MS_SPF_FAIL, "x.test");
	ck_assert_str_eq(ms_dmarc_verdict_policy_domain(v), "example.test");
	ck_assert_str_eq(ms_dmarc_verdict_policy_tag(v), "sp");
	ck_assert_int_eq(ms_dmarc_verdict_disposition(v), MS_DMARC_POLICY_QUARANTINE);
	ms_dmarc_verdict_free(v);
	v = eval("strict.example.test", MS_SPF_PASS, "www.strict.example.test");
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_FAIL);
	ms_dmarc_verdict_free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dmarc-world");
	TCase *tc = tcase_create("world");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, secure_policy);
	tcase_add_test(tc, insecure_policy);
	tcase_add_test(tc, duplicate_records_fall_back);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
