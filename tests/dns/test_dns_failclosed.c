/*
 * test_dns_failclosed.c - the fail-closed rules of the combined address
 * lookup and the MX order (issue 13, points 1 and 7), over an injected
 * resolver that scripts each record type's outcome from the host name:
 * "A-AAAA.example" with A and AAAA one of
 *   sec (secure answer), ins (insecure answer), nod (secure NODATA),
 *   to (timeout), sf (SERVFAIL), bog (bogus), ref (REFUSED).
 * The same rules over real DNSSEC and a dropping proxy are in
 * tests/hardening/test_failclosed_dns.py.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <mailsec/dane.h>
#include <mailsec/dns.h>

#include "mstest.h"

static ms_status scripted(const char *name, uint16_t type, const char *spec,
			  struct ms_dns_result **out)
{
	static const uint8_t a4[] = { 192, 0, 2, 1 };
	static const uint8_t a6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	enum ms_dns_outcome o = MS_DNS_ANSWER;
	enum ms_dns_security s = MS_DNS_SECURE;
	if (strcmp(spec, "ins") == 0)
		s = MS_DNS_INSECURE;
	else if (strcmp(spec, "nod") == 0)
		o = MS_DNS_NODATA;
	else if (strcmp(spec, "to") == 0)
		o = MS_DNS_TIMEOUT, s = MS_DNS_INDETERMINATE;
	else if (strcmp(spec, "sf") == 0)
		o = MS_DNS_SERVFAIL, s = MS_DNS_INDETERMINATE;
	else if (strcmp(spec, "ref") == 0)
		o = MS_DNS_REFUSED, s = MS_DNS_INDETERMINATE;
	else if (strcmp(spec, "bog") == 0)
		o = MS_DNS_SERVFAIL, s = MS_DNS_BOGUS;
	ms_status st = ms_dns_result_create(NULL, name, type, o, s, out);
	if (st == MS_OK && o == MS_DNS_ANSWER)
		st = type == MS_DNS_T_A ? ms_dns_result_add(*out, type, a4, sizeof(a4))
					: ms_dns_result_add(*out, type, a6, sizeof(a6));
	if (st == MS_OK && o != MS_DNS_ANSWER && o != MS_DNS_NODATA)
		st = ms_dns_result_set_meta(*out, 0, NULL, -1, s == MS_DNS_BOGUS ? 6 : 22,
					    spec);
	return st;
}

/* MX sets: "many.example" has 12 MX records in reverse preference order
 * (pref 120 first, pref 10 last); "tie.example" three hosts at pref 10. */
static ms_status mx_set(const char *name, uint16_t type, struct ms_dns_result **out)
{
	ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, MS_DNS_SECURE, out);
	int many = strcmp(name, "many.example") == 0;
	for (int i = 0; st == MS_OK && i < (many ? 12 : 3); i++) {
		uint8_t rd[32];
		int pref = many ? (12 - i) * 10 : 10;
		rd[0] = (uint8_t)(pref >> 8);
		rd[1] = (uint8_t)pref;
		int n = snprintf((char *)rd + 3, sizeof(rd) - 3, "mx%02d", many ? 12 - i : i);
		rd[2] = (uint8_t)n;
		static const uint8_t tail[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
		memcpy(rd + 3 + n, tail, sizeof(tail));
		st = ms_dns_result_add(*out, type, rd, (size_t)(3 + n) + sizeof(tail));
	}
	return st;
}

static ms_status resolve(void *user, const char *name, uint16_t type,
			 struct ms_dns_result **out)
{
	(void)user;
	if (type == MS_DNS_T_MX)
		return mx_set(name, type, out);
	if (type == MS_DNS_T_TLSA) {
		/* _25._tcp.HOST: a secure 3 1 1 record */
		uint8_t rd[35] = { 3, 1, 1 };
		ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, MS_DNS_SECURE, out);
		return st == MS_OK ? ms_dns_result_add(*out, type, rd, sizeof(rd)) : st;
	}
	char a[8] = "", aaaa[8] = "";
	if (sscanf(name, "%7[a-z]-%7[a-z].example", a, aaaa) != 2)
		return ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, MS_DNS_SECURE, out);
	return scripted(name, type, type == MS_DNS_T_A ? a : aaaa, out);
}

static struct ms_dns_result *addr(const char *name)
{
	struct ms_dns_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, resolve, NULL, &ctx), MS_OK);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup_addr(ctx, name, &r, NULL, 0), MS_OK);
	ms_dns_ctx_free(ctx);
	return r;
}

/* The attack of issue 13.1: A secure, AAAA dropped.  Before the fix the
 * result was outcome "answer", security "indeterminate", and nothing said
 * that a lookup had failed. */
START_TEST(dropped_aaaa_is_a_failure)
{
	struct ms_dns_result *r = addr("sec-to.example");
	ck_assert_int_eq(ms_dns_result_failed(r), 1);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_TIMEOUT);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_INDETERMINATE);
	ck_assert_int_eq(ms_dns_result_ede(r), 22);
	/* the genuine A records stay, and are secure */
	ck_assert_uint_eq(ms_dns_result_count(r), 1);
	ck_assert_uint_eq(ms_dns_result_rtype(r, 0), MS_DNS_T_A);
	ck_assert_int_eq(ms_dns_result_records_security(r), MS_DNS_SECURE);
	enum ms_dns_outcome o;
	enum ms_dns_security s;
	ck_assert_int_eq(ms_dns_result_family(r, MS_DNS_T_A, &o, &s), MS_OK);
	ck_assert_int_eq(o, MS_DNS_ANSWER);
	ck_assert_int_eq(s, MS_DNS_SECURE);
	ck_assert_int_eq(ms_dns_result_family(r, MS_DNS_T_AAAA, &o, &s), MS_OK);
	ck_assert_int_eq(o, MS_DNS_TIMEOUT);
	ck_assert_int_eq(s, MS_DNS_INDETERMINATE);
	ck_assert_int_eq(ms_dns_result_family(r, MS_DNS_T_MX, &o, &s), MS_ERR_INVALID);
	ms_dns_result_free(r);
}
END_TEST

/* A copy keeps everything, the failed half included: consumers of a
 * shared answer (the async inbound and route calls) must see exactly
 * what the lookup saw. */
START_TEST(dup_keeps_the_failure)
{
	struct ms_dns_result *r = addr("sec-to.example"), *c = NULL;
	ck_assert_int_eq(ms_dns_result_dup(NULL, r, &c), MS_OK);
	ck_assert_int_eq(ms_dns_result_failed(c), 1);
	ck_assert_int_eq(ms_dns_result_outcome(c), MS_DNS_TIMEOUT);
	ck_assert_int_eq(ms_dns_result_security(c), MS_DNS_INDETERMINATE);
	ck_assert_int_eq(ms_dns_result_records_security(c), MS_DNS_SECURE);
	ck_assert_int_eq(ms_dns_result_ede(c), 22);
	ck_assert_str_eq(ms_dns_result_ede_text(c), ms_dns_result_ede_text(r));
	ck_assert_uint_eq(ms_dns_result_count(c), 1);
	size_t l1, l2;
	const uint8_t *d1 = ms_dns_result_rdata(r, 0, &l1), *d2 = ms_dns_result_rdata(c, 0, &l2);
	ck_assert(l1 == l2 && memcmp(d1, d2, l1) == 0 && d1 != d2);
	enum ms_dns_outcome o;
	ck_assert_int_eq(ms_dns_result_family(c, MS_DNS_T_AAAA, &o, NULL), MS_OK);
	ck_assert_int_eq(o, MS_DNS_TIMEOUT);
	ms_dns_result_free(r);
	ms_dns_result_free(c);
	r = addr("bog-bog.example");
	ck_assert_int_eq(ms_dns_result_dup(NULL, r, &c), MS_OK);
	ck_assert_int_eq(ms_dns_result_security(c), MS_DNS_BOGUS);
	ck_assert_uint_eq(ms_dns_result_count(c), 0);
	ms_dns_result_free(r);
	ms_dns_result_free(c);
	ck_assert_int_eq(ms_dns_result_dup(NULL, NULL, &c), MS_ERR_INVALID);
	ck_assert_ptr_null(c);
}
END_TEST

/* An IPv4-only host whose empty AAAA answer became a timeout. */
START_TEST(ipv4_only_host_with_dropped_aaaa)
{
	struct ms_dns_result *r = addr("sec-sf.example");
	ck_assert_int_eq(ms_dns_result_failed(r), 1);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_SERVFAIL);
	ck_assert_uint_eq(ms_dns_result_count(r), 1);
	ms_dns_result_free(r);
	/* and a secure NODATA for A with AAAA failing leaves nothing usable */
	r = addr("nod-to.example");
	ck_assert_int_eq(ms_dns_result_failed(r), 1);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ck_assert_int_eq(ms_dns_result_records_security(r), MS_DNS_INDETERMINATE);
	ms_dns_result_free(r);
}
END_TEST

/* A bogus half wins over a timeout; its records are never handed out,
 * the other family's are. */
START_TEST(bogus_half)
{
	struct ms_dns_result *r = addr("bog-sec.example");
	ck_assert_int_eq(ms_dns_result_failed(r), 1);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_BOGUS);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_SERVFAIL);
	ck_assert_int_eq(ms_dns_result_ede(r), 6);
	ck_assert_uint_eq(ms_dns_result_count(r), 1);
	ck_assert_uint_eq(ms_dns_result_rtype(r, 0), MS_DNS_T_AAAA);
	ck_assert_int_eq(ms_dns_result_records_security(r), MS_DNS_SECURE);
	ms_dns_result_free(r);
	r = addr("to-bog.example");
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_BOGUS);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);
}
END_TEST

/* Every combination: failed iff either half failed; a failed result's
 * outcome is never ANSWER; records only from halves that answered. */
START_TEST(every_combination)
{
	static const char *specs[] = { "sec", "ins", "nod", "to", "sf", "bog", "ref" };
	static const int fails[] = { 0, 0, 0, 1, 1, 1, 1 };
	for (size_t i = 0; i < 7; i++)
		for (size_t j = 0; j < 7; j++) {
			char name[64];
			snprintf(name, sizeof(name), "%s-%s.example", specs[i], specs[j]);
			struct ms_dns_result *r = addr(name);
			int failed = fails[i] || fails[j];
			ck_assert_msg(ms_dns_result_failed(r) == failed, "%s", name);
			if (failed)
				ck_assert_msg(ms_dns_result_outcome(r) != MS_DNS_ANSWER, "%s", name);
			size_t want = (size_t)(i <= 1) + (size_t)(j <= 1);
			ck_assert_msg(ms_dns_result_count(r) == want, "%s: %zu records", name,
				      ms_dns_result_count(r));
			if (!failed && want == 0)
				ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_NODATA);
			if (want > 0 && (i == 1 || j == 1))
				ck_assert_msg(ms_dns_result_records_security(r) == MS_DNS_INSECURE, "%s", name);
			ms_dns_result_free(r);
		}
}
END_TEST

START_TEST(single_lookups_and_null)
{
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_result_create(NULL, "x.example", MS_DNS_T_TLSA, MS_DNS_ANSWER,
					      MS_DNS_INDETERMINATE, &r), MS_OK);
	ck_assert_int_eq(ms_dns_result_failed(r), 1); /* indeterminate is never "insecure" */
	ms_dns_result_free(r);
	ck_assert_int_eq(ms_dns_result_create(NULL, "x.example", MS_DNS_T_TLSA, MS_DNS_NXDOMAIN,
					      MS_DNS_INSECURE, &r), MS_OK);
	ck_assert_int_eq(ms_dns_result_failed(r), 0);
	ck_assert_int_eq(ms_dns_result_family(r, MS_DNS_T_A, NULL, NULL), MS_ERR_INVALID);
	ms_dns_result_free(r);
	ck_assert_int_eq(ms_dns_result_failed(NULL), 1);
}
END_TEST

static enum ms_dane_dns_state dane_state(const char *host, int mx_secure)
{
	struct ms_dns_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, resolve, NULL, &ctx), MS_OK);
	struct ms_dane_lookup *l = NULL;
	ck_assert_int_eq(ms_dane_lookup(ctx, host, mx_secure, 25, &l, NULL, 0), MS_OK);
	enum ms_dane_dns_state st = ms_dane_lookup_state(l);
	ms_dane_lookup_free(l);
	ms_dns_ctx_free(ctx);
	return st;
}

/* libdane's side of issue 13.1 (RFC 7672 s2.2.1): only a successful
 * insecure answer turns DANE off; a failed half with a secure other half
 * keeps DANE (over that family); nothing usable left defers the host.
 * Before the fix "sec-to" gave MS_DANE_DNS_NONE. */
START_TEST(dane_address_side)
{
	ck_assert_int_eq(dane_state("sec-sec.example", 1), MS_DANE_DNS_SECURE);
	ck_assert_int_eq(dane_state("sec-to.example", 1), MS_DANE_DNS_SECURE);
	ck_assert_int_eq(dane_state("sec-bog.example", 1), MS_DANE_DNS_SECURE);
	ck_assert_int_eq(dane_state("to-sec.example", 1), MS_DANE_DNS_SECURE);
	ck_assert_int_eq(dane_state("nod-to.example", 1), MS_DANE_DNS_TEMPFAIL);
	ck_assert_int_eq(dane_state("to-to.example", 1), MS_DANE_DNS_TEMPFAIL);
	ck_assert_int_eq(dane_state("bog-sf.example", 1), MS_DANE_DNS_TEMPFAIL);
	ck_assert_int_eq(dane_state("ref-nod.example", 1), MS_DANE_DNS_TEMPFAIL);
	/* a successful insecure answer: no DANE, even if the other half failed */
	ck_assert_int_eq(dane_state("ins-ins.example", 1), MS_DANE_DNS_NONE);
	ck_assert_int_eq(dane_state("ins-to.example", 1), MS_DANE_DNS_NONE);
	ck_assert_int_eq(dane_state("sec-sec.example", 0), MS_DANE_DNS_NONE);
}
END_TEST

/* Issue 13.6: one host-name check for every library.  A DNS owner name
 * may hold ':', '@', '#' (ms_dns_name_normalize keeps them); a host name,
 * which gets pasted into URLs and SMTP commands, may not. */
START_TEST(hostname_syntax)
{
	char buf[254], why[256];
	ck_assert_int_eq(ms_dns_hostname_normalize("Mail.Example.ORG.", buf, sizeof(buf), why,
						   sizeof(why)), MS_OK);
	ck_assert_str_eq(buf, "mail.example.org");
	ck_assert_int_eq(ms_dns_hostname_normalize("bücher.example", buf, sizeof(buf), NULL, 0),
			 MS_OK);
	ck_assert_str_eq(buf, "xn--bcher-kva.example");
	static const char *bad[] = {
		"x@127.0.2.77:8444#.rt.test", "a/b.example", "_mta-sts.example", "a b.example",
		"-a.example", "a-.example", "a.example-", "a?.example", "a>b.example", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(ms_dns_hostname_normalize(bad[i], buf, sizeof(buf), why,
							sizeof(why)) == MS_ERR_INVALID, "%s", bad[i]);
		ck_assert_msg(buf[0] == '\0' && why[0] != '\0', "%s", bad[i]);
	}
	/* the DNS side still takes the crafted owner name */
	ck_assert_int_eq(ms_dns_name_normalize("x@127.0.2.77:8444#.rt.test", buf, sizeof(buf),
					       NULL, 0), MS_OK);
}
END_TEST

static struct ms_dns_result *mx(const char *name)
{
	struct ms_dns_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, resolve, NULL, &ctx), MS_OK);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(ctx, name, MS_DNS_T_MX, &r, NULL, 0), MS_OK);
	ms_dns_ctx_free(ctx);
	return r;
}

/* Issue 13.7: 12 records in reverse preference order, a limit of 10:
 * before the fix the first 10 in answer order (the least preferred) were
 * kept.  Sorting comes before the cut. */
START_TEST(mx_order_sorts_before_the_cut)
{
	struct ms_dns_result *r = mx("many.example");
	size_t order[10], n = 0;
	ck_assert_int_eq(ms_dns_result_mx_order(r, order, 10, &n), MS_OK);
	ck_assert_uint_eq(n, 10);
	for (size_t i = 0; i < n; i++) {
		uint16_t pref;
		char host[64];
		ck_assert_int_eq(ms_dns_result_mx(r, order[i], &pref, host, sizeof(host)), MS_OK);
		ck_assert_uint_eq(pref, (i + 1) * 10);
	}
	ck_assert_int_eq(ms_dns_result_mx_order(r, NULL, 0, &n), MS_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ms_dns_result_mx_order(r, NULL, 3, &n), MS_ERR_INVALID);
	ms_dns_result_free(r);
}
END_TEST

/* RFC 5321 s5.1: equal preferences in random order, every host first
 * sometimes (200 draws of 3: the chance that one never comes first is
 * 3 * (2/3)^200, about 1e-35). */
START_TEST(mx_order_random_within_a_preference)
{
	struct ms_dns_result *r = mx("tie.example");
	int first[3] = { 0, 0, 0 };
	for (int k = 0; k < 200; k++) {
		size_t order[3], n = 0;
		ck_assert_int_eq(ms_dns_result_mx_order(r, order, 3, &n), MS_OK);
		ck_assert_uint_eq(n, 3);
		ck_assert(order[0] != order[1] && order[1] != order[2] && order[0] != order[2]);
		first[order[0]]++;
	}
	ck_assert(first[0] > 0 && first[1] > 0 && first[2] > 0);
	ms_dns_result_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns-failclosed");
	TCase *tc = tcase_create("failclosed");
	tcase_add_test(tc, dropped_aaaa_is_a_failure);
	tcase_add_test(tc, ipv4_only_host_with_dropped_aaaa);
	tcase_add_test(tc, bogus_half);
	tcase_add_test(tc, dup_keeps_the_failure);
	tcase_add_test(tc, every_combination);
	tcase_add_test(tc, single_lookups_and_null);
	tcase_add_test(tc, dane_address_side);
	tcase_add_test(tc, hostname_syntax);
	tcase_add_test(tc, mx_order_sorts_before_the_cut);
	tcase_add_test(tc, mx_order_random_within_a_preference);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mstest_run(suite());
}
