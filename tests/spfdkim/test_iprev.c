/*
 * test_iprev.c - iprev (RFC 8601 s3) on an injected resolver: pass, fail,
 * temperror, permerror, the cap on PTR names, IPv6 and IPv4-mapped
 * addresses, and the DNSSEC status of the deciding chain.
 */
#include "fakedns.h"

#include <check.h>
#include <mailsec/iprev.h>
#include <stdio.h>
#include <string.h>

static struct fakedns *z;
static struct ms_dns_ctx *dns;

static void setup(void)
{
	z = fakedns_new();
	dns = fakedns_ctx(z);
	fakedns_set_security(z, MS_DNS_SECURE);
	fakedns_set_security_below(z, "unsigned.example", MS_DNS_INSECURE);
	/* 192.0.2.1: two names, the second confirms */
	fakedns_add(z, "1.2.0.192.in-addr.arpa", "PTR", "other.example.com");
	fakedns_add(z, "1.2.0.192.in-addr.arpa", "PTR", "mail.example.com");
	fakedns_add(z, "other.example.com", "A", "198.51.100.1");
	fakedns_add(z, "mail.example.com", "A", "192.0.2.1");
	/* 192.0.2.2: the name points elsewhere */
	fakedns_add(z, "2.2.0.192.in-addr.arpa", "PTR", "liar.example.com");
	fakedns_add(z, "liar.example.com", "A", "198.51.100.2");
	/* 192.0.2.3: the forward lookup times out */
	fakedns_add(z, "3.2.0.192.in-addr.arpa", "PTR", "slow.example.com");
	fakedns_add_timeout(z, "slow.example.com", 0);
	/* 192.0.2.4: the PTR lookup times out */
	fakedns_add_timeout(z, "4.2.0.192.in-addr.arpa", 0);
	/* 192.0.2.5: confirmed through an unsigned zone */
	fakedns_add(z, "5.2.0.192.in-addr.arpa", "PTR", "host.unsigned.example");
	fakedns_add(z, "host.unsigned.example", "A", "192.0.2.5");
	/* 192.0.2.6: twelve names, only the last confirms */
	for (int i = 0; i < 12; i++) {
		char n[64];
		snprintf(n, sizeof(n), "n%d.example.com", i);
		fakedns_add(z, "6.2.0.192.in-addr.arpa", "PTR", n);
		fakedns_add(z, n, "A", i == 11 ? "192.0.2.6" : "198.51.100.6");
	}
	/* 2001:db8::7 */
	fakedns_add(z, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
		    "PTR", "v6.example.com");
	fakedns_add(z, "v6.example.com", "AAAA", "2001:db8::7");
	fakedns_add(z, "v6.example.com", "A", "192.0.2.77");
}

static void teardown(void)
{
	ms_dns_ctx_free(dns);
	fakedns_free(z);
}

static struct ms_iprev_verdict *check(const char *ip, unsigned max)
{
	struct ms_iprev_verdict *v = NULL;
	char why[128] = "";
	ck_assert_msg(ms_iprev_check(NULL, dns, ip, max, &v, why, sizeof(why)) == MS_OK, "%s", why);
	return v;
}

START_TEST(results)
{
	static const struct {
		const char *ip;
		enum ms_iprev_result r;
		const char *name;
		enum ms_dns_security sec;
	} t[] = {
		{ "192.0.2.1", MS_IPREV_PASS, "mail.example.com", MS_DNS_SECURE },
		{ "::ffff:192.0.2.1", MS_IPREV_PASS, "mail.example.com", MS_DNS_SECURE },
		{ "192.0.2.2", MS_IPREV_FAIL, NULL, MS_DNS_SECURE },
		{ "192.0.2.3", MS_IPREV_TEMPERROR, NULL, MS_DNS_INDETERMINATE },
		{ "192.0.2.4", MS_IPREV_TEMPERROR, NULL, MS_DNS_INDETERMINATE },
		{ "192.0.2.5", MS_IPREV_PASS, "host.unsigned.example", MS_DNS_INSECURE },
		{ "192.0.2.99", MS_IPREV_PERMERROR, NULL, MS_DNS_SECURE },
		{ "2001:db8::7", MS_IPREV_PASS, "v6.example.com", MS_DNS_SECURE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ms_iprev_verdict *v = check(t[i].ip, 0);
		ck_assert_msg(ms_iprev_verdict_result(v) == t[i].r, "%s: %s (%s)", t[i].ip,
			      ms_iprev_result_str(ms_iprev_verdict_result(v)),
			      ms_iprev_verdict_problem(v) ? ms_iprev_verdict_problem(v) : "");
		if (t[i].name)
			ck_assert_str_eq(ms_iprev_verdict_name(v), t[i].name);
		else
			ck_assert_ptr_null(ms_iprev_verdict_name(v));
		ck_assert_msg(ms_iprev_verdict_dnssec(v) == t[i].sec, "%s: dnssec %s", t[i].ip,
			      ms_dns_security_str(ms_iprev_verdict_dnssec(v)));
		ck_assert((ms_iprev_verdict_problem(v) == NULL) == (t[i].r == MS_IPREV_PASS));
		ms_iprev_verdict_free(v);
	}
}
END_TEST

START_TEST(name_cap)
{
	struct ms_iprev_verdict *v = check("192.0.2.6", 0);
	/* The confirming name is the 12th: beyond the default cap of 10. */
	ck_assert_int_eq(ms_iprev_verdict_result(v), MS_IPREV_FAIL);
	ck_assert_uint_eq(ms_iprev_verdict_ptr_count(v), 10);
	ck_assert_uint_eq(ms_iprev_verdict_ignored(v), 2);
	ms_iprev_verdict_free(v);
	v = check("192.0.2.6", 12);
	ck_assert_int_eq(ms_iprev_verdict_result(v), MS_IPREV_PASS);
	ck_assert_str_eq(ms_iprev_verdict_name(v), "n11.example.com");
	ms_iprev_verdict_free(v);
}
END_TEST

START_TEST(bad_input)
{
	struct ms_iprev_verdict *v = (void *)1;
	ck_assert_int_eq(ms_iprev_check(NULL, dns, "300.1.1.1", 0, &v, NULL, 0), MS_ERR_INVALID);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(ms_iprev_check(NULL, NULL, "192.0.2.1", 0, &v, NULL, 0), MS_ERR_INVALID);
	ms_iprev_verdict_free(NULL);
	ck_assert_str_eq(ms_iprev_result_str(MS_IPREV_PERMERROR), "permerror");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("iprev");
	TCase *tc = tcase_create("unit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, results);
	tcase_add_test(tc, name_cap);
	tcase_add_test(tc, bad_input);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
