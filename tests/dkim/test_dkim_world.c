/*
 * test_dkim_world.c - DKIM through real libunbound validation on the test
 * world (MS_TEST_WORLD): key records in a signed zone verify as secure, in
 * an unsigned zone as insecure, under a broken DS chain as bogus (a
 * temperror), in an unreachable zone as a timeout (temperror); the RSA key
 * is published as two character-strings.  Keys: pki.d/40-dkim.sh.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkimtest.h"

static struct ms_dns_ctx *dns;
static struct ms_dkim_verifier *ver;
static struct ms_dkim_key *ed, *rsa;

static const char MSG[] = "From: joe@example.test\r\nTo: suzie@example.net\r\n"
			  "Subject: world\r\n\r\nHello, world.\r\n";

static struct ms_dkim_key *load(const char *world, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/pki/dkim/%s", world, name);
	size_t len;
	char *pem = test_read_file(path, &len);
	ck_assert_msg(pem != NULL, "cannot read %s", path);
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, len, &k, why,
					   sizeof(why)) == MS_OK, "%s", why);
	free(pem);
	return k;
}

static void setup(void)
{
	const char *world = getenv("MS_TEST_WORLD");
	ck_assert_msg(world != NULL, "MS_TEST_WORLD not set");
	char conf[4096];
	snprintf(conf, sizeof(conf), "%s/auth.conf", world);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf,
				     /* short for the unreachable zone, long
				      * enough for validation under valgrind */
				     .timeout_ms = getenv("MS_UNDER_VALGRIND") ? 20000 : 2000 };
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_dkim_verifier_new(NULL, dns, &ver), MS_OK);
	ed = load(world, "ed.pem");
	rsa = load(world, "rsa.pem");
}

static void teardown(void)
{
	ms_dkim_key_free(ed);
	ms_dkim_key_free(rsa);
	ms_dkim_verifier_free(ver);
	ms_dns_ctx_free(dns);
}

static void check(const char *domain, enum ms_dkim_result res, enum ms_dns_security sec)
{
	struct ms_dkim_sign_opts a = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = ed,
				       .domain = domain, .selector = "ed",
				       .header_canon = MS_DKIM_CANON_RELAXED,
				       .body_canon = MS_DKIM_CANON_RELAXED };
	struct ms_dkim_sign_opts b = a;
	b.key = rsa;
	b.selector = "rsa";
	const struct ms_dkim_sign_opts *list[2] = { &a, &b };
	size_t len;
	char *s = test_sign(MSG, strlen(MSG), list, 2, &len);
	ck_assert_ptr_nonnull(s);
	struct ms_dkim_verify *vf = test_verify(ver, s, len, 0);
	ck_assert_uint_eq(ms_dkim_verify_count(vf), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ms_dkim_sig *sg = ms_dkim_verify_sig(vf, i);
		ck_assert_msg(ms_dkim_sig_result(sg) == res && ms_dkim_sig_dnssec(sg) == sec,
			      "%s sig %zu: %s (%s) dnssec %s", domain, i,
			      ms_dkim_result_str(ms_dkim_sig_result(sg)), ms_dkim_sig_reason(sg),
			      ms_dns_security_str(ms_dkim_sig_dnssec(sg)));
	}
	ms_dkim_verify_free(vf);
	free(s);
}

START_TEST(signed_zone) { check("example.test", MS_DKIM_PASS, MS_DNS_SECURE); }
END_TEST
START_TEST(unsigned_zone) { check("insecure.example.test", MS_DKIM_PASS, MS_DNS_INSECURE); }
END_TEST
START_TEST(bogus_zone) { check("badds.example.test", MS_DKIM_TEMPERROR, MS_DNS_BOGUS); }
END_TEST
START_TEST(unreachable_zone)
{
	check("slow.example.test", MS_DKIM_TEMPERROR, MS_DNS_INDETERMINATE);
}
END_TEST
START_TEST(missing_key)
{
	/* a signed NXDOMAIN: no key, permanently, and provably so */
	struct ms_dkim_sign_opts a = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = ed,
				       .domain = "example.test", .selector = "nokey" };
	const struct ms_dkim_sign_opts *list[1] = { &a };
	size_t len;
	char *s = test_sign(MSG, strlen(MSG), list, 1, &len);
	struct ms_dkim_verify *vf = test_verify(ver, s, len, 0);
	const struct ms_dkim_sig *sg = ms_dkim_verify_sig(vf, 0);
	ck_assert_int_eq(ms_dkim_sig_result(sg), MS_DKIM_PERMERROR);
	ck_assert_int_eq(ms_dkim_sig_dnssec(sg), MS_DNS_SECURE);
	ms_dkim_verify_free(vf);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dkim-world");
	TCase *t = tcase_create("world");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, signed_zone);
	tcase_add_test(t, unsigned_zone);
	tcase_add_test(t, bogus_zone);
	tcase_add_test(t, unreachable_zone);
	tcase_add_test(t, missing_key);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
