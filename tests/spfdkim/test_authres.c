/*
 * test_authres.c - Authentication-Results: writer output, round trip
 * through the parser, header-injection attempts, parser edge cases and the
 * authserv-id removal rule.
 */
#include "fakedns.h"

#include <check.h>
#include <mailsec/authres.h>
#include <string.h>

static int has_bare_crlf_injection(const char *h)
{
	/* Every CRLF must be followed by a TAB (folding), never by text. */
	for (const char *p = h; (p = strchr(p, '\n')) != NULL; p++)
		if (p[1] != '\t' || p == h || p[-1] != '\r')
			return 1;
	for (const char *p = h; *p; p++)
		if (*p == '\r' && p[1] != '\n')
			return 1;
	return 0;
}

START_TEST(write_and_round_trip)
{
	struct ms_ar *ar = NULL;
	ck_assert_int_eq(ms_ar_new(NULL, "mx.example.org", &ar), MS_OK);
	ck_assert_int_eq(ms_ar_add(ar, "spf", "pass", NULL, MS_DNS_SECURE), MS_OK);
	ck_assert_int_eq(ms_ar_add_prop(ar, "smtp", "mailfrom", "alice@example.com"), MS_OK);
	ck_assert_int_eq(ms_ar_add_dkim(ar, MS_DMARC_DKIM_FAIL, "example.com", "sel",
					"signature did not verify", MS_DNS_INSECURE), MS_OK);
	ck_assert_int_eq(ms_ar_add(ar, "iprev", "pass", NULL, MS_DNS_INDETERMINATE), MS_OK);
	ck_assert_int_eq(ms_ar_add_prop(ar, "policy", "iprev", "192.0.2.1"), MS_OK);
	char h[4096];
	ck_assert_int_eq(ms_ar_write(ar, h, sizeof(h)), MS_OK);
	ck_assert_str_eq(h, "Authentication-Results: mx.example.org;\r\n"
			 "\tspf=pass (dnssec=secure) smtp.mailfrom=alice@example.com;\r\n"
			 "\tdkim=fail (dnssec=insecure) reason=\"signature did not verify\" "
			 "header.d=example.com header.s=sel;\r\n"
			 "\tiprev=pass (dnssec=indeterminate) policy.iprev=192.0.2.1");
	ck_assert_int_eq(ms_ar_write(ar, h, 20), MS_ERR_LIMIT);
	ms_ar_write(ar, h, sizeof(h));
	ms_ar_free(ar);

	struct ms_ar_parsed *p = NULL;
	char why[200] = "";
	ck_assert_msg(ms_ar_parse(NULL, (const uint8_t *)h, strlen(h), &p, why, sizeof(why)) == MS_OK,
		      "%s", why);
	ck_assert_str_eq(ms_ar_parsed_authserv_id(p), "mx.example.org");
	ck_assert_uint_eq(ms_ar_parsed_count(p), 3);
	ck_assert_str_eq(ms_ar_parsed_method(p, 1), "dkim");
	ck_assert_str_eq(ms_ar_parsed_result(p, 1), "fail");
	ck_assert_str_eq(ms_ar_parsed_reason(p, 1), "signature did not verify");
	const char *pt, *pp, *pv;
	ck_assert_int_eq(ms_ar_parsed_prop(p, 0, 0, &pt, &pp, &pv), MS_OK);
	ck_assert_str_eq(pt, "smtp");
	ck_assert_str_eq(pp, "mailfrom");
	ck_assert_str_eq(pv, "alice@example.com");
	ck_assert_uint_eq(ms_ar_parsed_prop_count(p, 1), 2);
	ms_ar_parsed_free(p);
}
END_TEST

START_TEST(none_when_empty)
{
	struct ms_ar *ar = NULL;
	ck_assert_int_eq(ms_ar_new(NULL, "mx.example.org", &ar), MS_OK);
	char h[256];
	ck_assert_int_eq(ms_ar_write(ar, h, sizeof(h)), MS_OK);
	ck_assert_str_eq(h, "Authentication-Results: mx.example.org; none");
	ms_ar_free(ar);
	struct ms_ar_parsed *p = NULL;
	ck_assert_int_eq(ms_ar_parse(NULL, (const uint8_t *)h, strlen(h), &p, NULL, 0), MS_OK);
	ck_assert_uint_eq(ms_ar_parsed_count(p), 0);
	ms_ar_parsed_free(p);
}
END_TEST

START_TEST(injection_attempts)
{
	struct ms_ar *ar = NULL;
	ck_assert_int_eq(ms_ar_new(NULL, "mx.example.org\r\nX-Evil: 1", &ar), MS_ERR_INVALID);
	ck_assert_int_eq(ms_ar_new(NULL, "mx.example.org", &ar), MS_OK);
	ck_assert_int_eq(ms_ar_add(ar, "spf", "pass\r\nX: y", NULL, MS_DNS_SECURE), MS_ERR_INVALID);
	ck_assert_int_eq(ms_ar_add(ar, "sp f", "pass", NULL, MS_DNS_SECURE), MS_ERR_INVALID);
	ck_assert_int_eq(ms_ar_add(ar, "spf", "pass", "a\r\nX-Evil: yes; dkim=pass",
				   MS_DNS_SECURE), MS_OK);
	ck_assert_int_eq(ms_ar_add_prop(ar, "smtp", "mail from", "x"), MS_ERR_INVALID);
	ck_assert_int_eq(ms_ar_add_prop(ar, "smtp", "mailfrom",
					"\"a\\\"; dkim=pass\"@evil.test\r\n\r\nbody"), MS_OK);
	ck_assert_int_eq(ms_ar_add_prop(ar, "header", "from", "ex\xc3\xa4mple.test (x)"), MS_OK);
	char h[4096];
	ck_assert_int_eq(ms_ar_write(ar, h, sizeof(h)), MS_OK);
	ms_ar_free(ar);
	ck_assert_msg(!has_bare_crlf_injection(h), "injection: %s", h);
	ck_assert_ptr_null(strstr(h, "X-Evil:\r"));
	/* The injected text is inside one quoted value: still one method. */
	struct ms_ar_parsed *p = NULL;
	char why[200] = "";
	ck_assert_msg(ms_ar_parse(NULL, (const uint8_t *)h, strlen(h), &p, why, sizeof(why)) == MS_OK,
		      "%s: %s", why, h);
	ck_assert_uint_eq(ms_ar_parsed_count(p), 1);
	ck_assert_uint_eq(ms_ar_parsed_prop_count(p, 0), 2);
	const char *v;
	ms_ar_parsed_prop(p, 0, 1, NULL, NULL, &v);
	ck_assert_str_eq(v, "exmple.test (x)");
	ms_ar_parsed_free(p);
}
END_TEST

START_TEST(parse_cases)
{
	static const struct {
		const char *h;
		ms_status st;
		size_t n;
		const char *id;
	} t[] = {
		{ "example.com; spf=pass smtp.mailfrom=example.net", MS_OK, 1, "example.com" },
		{ "Authentication-Results: example.com 1; none", MS_OK, 0, "example.com" },
		{ " (c) \"quoted id\" ; dkim/1=pass (good) header.d=x.test", MS_OK, 1, "quoted id" },
		{ "example.com;\r\n\tspf=fail (x (nested)) smtp.mailfrom=a@b.test;\r\n\tdmarc=fail "
		  "reason=\"p=reject\" header.from=b.test", MS_OK, 2, "example.com" },
		{ "example.com; spf=pass;", MS_OK, 1, "example.com" },
		{ "example.com", MS_ERR_PARSE, 0, NULL },
		{ "example.com; spf", MS_ERR_PARSE, 0, NULL },
		{ "example.com; spf=pass smtp.mailfrom", MS_ERR_PARSE, 0, NULL },
		{ "example.com; spf=pass (unterminated", MS_ERR_PARSE, 0, NULL },
		{ "\"unterminated; spf=pass", MS_ERR_PARSE, 0, NULL },
		{ "example.com; spf=pass reason=a reason=b", MS_ERR_PARSE, 0, NULL },
		{ "; spf=pass", MS_ERR_PARSE, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ms_ar_parsed *p = NULL;
		char why[200] = "";
		ms_status st = ms_ar_parse(NULL, (const uint8_t *)t[i].h, strlen(t[i].h), &p, why,
					   sizeof(why));
		ck_assert_msg(st == t[i].st, "case %zu: %d (%s)", i, st, why);
		if (st == MS_OK) {
			ck_assert_uint_eq(ms_ar_parsed_count(p), t[i].n);
			ck_assert_str_eq(ms_ar_parsed_authserv_id(p), t[i].id);
		} else {
			ck_assert_ptr_null(p);
			ck_assert_msg(why[0], "case %zu no reason", i);
		}
		ms_ar_parsed_free(p);
	}
}
END_TEST

START_TEST(removal_rule)
{
	const char *ours = "MX.Example.ORG; spf=pass smtp.mailfrom=a@b.test";
	const char *theirs = "other.example; spf=pass smtp.mailfrom=a@b.test";
	const char *broken = "mx.example.org (; spf=pass";
	ck_assert_int_eq(ms_ar_should_remove((const uint8_t *)ours, strlen(ours), "mx.example.org"), 1);
	ck_assert_int_eq(ms_ar_should_remove((const uint8_t *)theirs, strlen(theirs), "mx.example.org"), 0);
	ck_assert_int_eq(ms_ar_should_remove((const uint8_t *)broken, strlen(broken), "mx.example.org"), 1);
}
END_TEST

START_TEST(from_verdicts)
{
	struct fakedns *z = fakedns_new();
	fakedns_set_security(z, MS_DNS_SECURE);
	fakedns_add(z, "example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
	fakedns_add(z, "1.2.0.192.in-addr.arpa", "PTR", "mail.example.com");
	fakedns_add(z, "mail.example.com", "A", "192.0.2.1");
	fakedns_add(z, "_dmarc.example.com", "TXT", "v=DMARC1; p=reject");
	struct ms_dns_ctx *dns = fakedns_ctx(z);
	struct ms_spf *spf;
	ms_spf_new(NULL, dns, &spf);
	struct ms_spf_verdict *sv;
	ck_assert_int_eq(ms_spf_check_mailfrom(spf, "192.0.2.1", "mail.example.com",
					       "a@example.com", &sv, NULL, 0), MS_OK);
	struct ms_iprev_verdict *iv;
	ck_assert_int_eq(ms_iprev_check(NULL, dns, "192.0.2.1", 0, &iv, NULL, 0), MS_OK);
	struct ms_dmarc *dm;
	ck_assert_int_eq(ms_dmarc_new(NULL, dns, &dm, NULL, 0), MS_OK);
	struct ms_dmarc_verdict *dv;
	ck_assert_int_eq(ms_dmarc_check(dm, "example.com", ms_spf_verdict_result(sv), "example.com",
					NULL, NULL, NULL, 0, &dv, NULL, 0), MS_OK);
	struct ms_ar *ar;
	ms_ar_new(NULL, "mx.example.org", &ar);
	ck_assert_int_eq(ms_ar_add_iprev(ar, iv), MS_OK);
	ck_assert_int_eq(ms_ar_add_spf(ar, sv), MS_OK);
	ck_assert_int_eq(ms_ar_add_dmarc(ar, dv), MS_OK);
	char h[4096];
	ck_assert_int_eq(ms_ar_write(ar, h, sizeof(h)), MS_OK);
	ck_assert_ptr_nonnull(strstr(h, "iprev=pass (dnssec=secure) policy.iprev=192.0.2.1"));
	ck_assert_ptr_nonnull(strstr(h, "spf=pass (dnssec=secure) smtp.mailfrom=a@example.com"));
	ck_assert_ptr_nonnull(strstr(h, "dmarc=pass (dnssec=secure)"));
	ck_assert_ptr_nonnull(strstr(h, "header.from=example.com"));
	ms_ar_free(ar);
	ms_dmarc_verdict_free(dv);
	ms_dmarc_free(dm);
	ms_iprev_verdict_free(iv);
	ms_spf_verdict_free(sv);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	fakedns_free(z);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("authres");
	TCase *tc = tcase_create("unit");
	tcase_add_test(tc, write_and_round_trip);
	tcase_add_test(tc, none_when_empty);
	tcase_add_test(tc, injection_attempts);
	tcase_add_test(tc, parse_cases);
	tcase_add_test(tc, removal_rule);
	tcase_add_test(tc, from_verdicts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
