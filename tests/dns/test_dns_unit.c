/*
 * test_dns_unit.c - libdnssec-stub pieces that need no resolver: rdata
 * parsers, presentation format, name normalisation, the why_bogus -> EDE
 * mapping, result building, the injected-resolver path and the allocator
 * hook (including allocation failure).
 */
#include "mstest.h"

#include "../../libdnssec-stub/src/dns_internal.h"

START_TEST(tlsa_parser)
{
	struct ms_dns_tlsa t;
	const uint8_t ok[] = { 3, 1, 1, 0xaa, 0xbb };
	ck_assert_int_eq(ms_dns_parse_tlsa(ok, sizeof(ok), &t), MS_OK);
	ck_assert_uint_eq(t.usage, 3);
	ck_assert_uint_eq(t.selector, 1);
	ck_assert_uint_eq(t.mtype, 1);
	ck_assert_uint_eq(t.datalen, 2);
	ck_assert_ptr_eq(t.data, ok + 3);
	/* no association data, or shorter than the fixed fields */
	ck_assert_int_eq(ms_dns_parse_tlsa(ok, 3, &t), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dns_parse_tlsa(ok, 0, &t), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dns_parse_tlsa(NULL, 5, &t), MS_ERR_INVALID);
}
END_TEST

START_TEST(mx_parser)
{
	const uint8_t mx[] = { 0, 10, 2, 'm', 'x', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	uint16_t pref;
	char host[64];
	ck_assert_int_eq(ms_dns_parse_mx(mx, sizeof(mx), &pref, host, sizeof(host)), MS_OK);
	ck_assert_uint_eq(pref, 10);
	ck_assert_str_eq(host, "mx.example");
	/* truncated name, compression pointer, trailing garbage, tiny buffer */
	ck_assert_int_eq(ms_dns_parse_mx(mx, sizeof(mx) - 1, &pref, host, sizeof(host)), MS_ERR_PARSE);
	const uint8_t ptr[] = { 0, 10, 0xc0, 0x0c };
	ck_assert_int_eq(ms_dns_parse_mx(ptr, sizeof(ptr), &pref, host, sizeof(host)), MS_ERR_PARSE);
	uint8_t extra[sizeof(mx) + 1];
	memcpy(extra, mx, sizeof(mx));
	extra[sizeof(mx)] = 1;
	ck_assert_int_eq(ms_dns_parse_mx(extra, sizeof(extra), &pref, host, sizeof(host)), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dns_parse_mx(mx, sizeof(mx), &pref, host, 4), MS_ERR_LIMIT);
	const uint8_t null_mx[] = { 0, 0, 0 };
	ck_assert_int_eq(ms_dns_parse_mx(null_mx, 3, &pref, host, sizeof(host)), MS_OK);
	ck_assert_str_eq(host, "");
}
END_TEST

START_TEST(txt_parser)
{
	const uint8_t txt[] = { 3, 'a', 'b', 'c', 0, 2, 'd', 'e' };
	char buf[16];
	size_t len;
	ck_assert_int_eq(ms_dns_parse_txt(txt, sizeof(txt), buf, sizeof(buf), &len), MS_OK);
	ck_assert_str_eq(buf, "abcde");
	ck_assert_uint_eq(len, 5);
	const uint8_t trunc[] = { 5, 'a', 'b' };
	ck_assert_int_eq(ms_dns_parse_txt(trunc, sizeof(trunc), buf, sizeof(buf), &len), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dns_parse_txt(txt, 0, buf, sizeof(buf), &len), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dns_parse_txt(txt, sizeof(txt), buf, 3, &len), MS_ERR_LIMIT);
}
END_TEST

START_TEST(presentation_format)
{
	char buf[256];
	const uint8_t a[] = { 192, 0, 2, 1 };
	ck_assert_int_eq(ms_dns_rdata_to_text(MS_DNS_T_A, a, 4, buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "192.0.2.1");
	const uint8_t mx[] = { 0, 5, 2, 'm', 'x', 0 };
	ck_assert_int_eq(ms_dns_rdata_to_text(MS_DNS_T_MX, mx, sizeof(mx), buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "5 mx.");
	const uint8_t txt[] = { 4, 'a', '"', 'b', 0x01 };
	ck_assert_int_eq(ms_dns_rdata_to_text(MS_DNS_T_TXT, txt, sizeof(txt), buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "\"a\\\"b\\001\"");
	const uint8_t tlsa[] = { 2, 0, 1, 0xde, 0xad };
	ck_assert_int_eq(ms_dns_rdata_to_text(MS_DNS_T_TLSA, tlsa, sizeof(tlsa), buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "2 0 1 dead");
	/* malformed A: RFC 3597 generic form, reported as a parse error */
	ck_assert_int_eq(ms_dns_rdata_to_text(MS_DNS_T_A, a, 3, buf, sizeof(buf)), MS_ERR_PARSE);
	ck_assert_str_eq(buf, "\\# 3 c00002");
	/* unknown type: generic form, not an error */
	ck_assert_int_eq(ms_dns_rdata_to_text(999, a, 2, buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "\\# 2 c000");
	ck_assert_int_eq(ms_dns_rdata_to_text(MS_DNS_T_A, a, 4, buf, 5), MS_ERR_LIMIT);
}
END_TEST

START_TEST(name_normalisation)
{
	char buf[256], why[128];
	ck_assert_int_eq(ms_dns_name_normalize("MX.Example.TEST.", buf, sizeof(buf), why, sizeof(why)), MS_OK);
	ck_assert_str_eq(buf, "mx.example.test");
	ck_assert_int_eq(ms_dns_name_normalize("_25._tcp.mx.example.test", buf, sizeof(buf), NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_name_normalize("Bücher.example", buf, sizeof(buf), NULL, 0), MS_OK);
	ck_assert_str_eq(buf, "xn--bcher-kva.example");
	/* IDNA2008 non-transitional: ß is kept (xn--fa-hia), not mapped to ss */
	ck_assert_int_eq(ms_dns_name_normalize("faß.de", buf, sizeof(buf), NULL, 0), MS_OK);
	ck_assert_str_eq(buf, "xn--fa-hia.de");
	/* any printable octet is a legal label octet (RFC 2181 s11); SPF
	 * macros put spaces and percent signs into names (RFC 7208 s7.3) */
	ck_assert_int_eq(ms_dns_name_normalize("Macro%Percent  Space.Example", buf, sizeof(buf), NULL, 0), MS_OK);
	ck_assert_str_eq(buf, "macro%percent  space.example");
	ck_assert_int_eq(ms_dns_name_normalize("tab\t.example", buf, sizeof(buf), why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dns_name_normalize("a..b", buf, sizeof(buf), why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "empty label"));
	ck_assert_int_eq(ms_dns_name_normalize("\xc3\x28.example", buf, sizeof(buf), why, sizeof(why)), MS_ERR_INVALID);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	for (int i = 60; i < 299; i += 61)
		longname[i] = '.';
	longname[299] = '\0';
	ck_assert_int_eq(ms_dns_name_normalize(longname, buf, sizeof(buf), why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "253"));
}
END_TEST

START_TEST(reverse_names)
{
	char buf[128];
	ck_assert_int_eq(ms_dns_reverse_name("192.0.2.1", buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "1.2.0.192.in-addr.arpa");
	ck_assert_int_eq(ms_dns_reverse_name("2001:db8::1", buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	ck_assert_int_eq(ms_dns_reverse_name("1.2.3", buf, sizeof(buf)), MS_ERR_INVALID);
}
END_TEST

START_TEST(types_and_strings)
{
	char b[16];
	ck_assert_uint_eq(ms_dns_type_from_str("tlsa"), 52);
	ck_assert_uint_eq(ms_dns_type_from_str("TYPE65"), 65);
	ck_assert_uint_eq(ms_dns_type_from_str("99"), 99);
	ck_assert_uint_eq(ms_dns_type_from_str("BOGUS"), 0);
	ck_assert_uint_eq(ms_dns_type_from_str("70000"), 0);
	ck_assert_str_eq(ms_dns_type_str(1234, b, sizeof(b)), "TYPE1234");
	ck_assert_str_eq(ms_dns_ede_str(7), "Signature Expired");
	ck_assert_str_eq(ms_dns_ede_str(500), "");
}
END_TEST

START_TEST(security_combination)
{
	ck_assert_int_eq(ms_dns_security_combine(MS_DNS_SECURE, MS_DNS_SECURE), MS_DNS_SECURE);
	ck_assert_int_eq(ms_dns_security_combine(MS_DNS_SECURE, MS_DNS_INSECURE), MS_DNS_INSECURE);
	ck_assert_int_eq(ms_dns_security_combine(MS_DNS_INSECURE, MS_DNS_INDETERMINATE), MS_DNS_INDETERMINATE);
	ck_assert_int_eq(ms_dns_security_combine(MS_DNS_BOGUS, MS_DNS_INDETERMINATE), MS_DNS_BOGUS);
	ck_assert_int_eq(ms_dns_security_combine(MS_DNS_SECURE, MS_DNS_BOGUS), MS_DNS_BOGUS);
}
END_TEST

START_TEST(ede_from_unbound_text)
{
	/* Reason texts as libunbound 1.17's validator words them. */
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("validation failure <a. A IN>: signature expired from 1.2.3.4"), 7);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("validation failure <a. A IN>: signature before inception date"), 8);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("validation failure <a. A IN>: no signatures from 1.2.3.4"), 10);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("no keys have a DS with algorithm ECDSAP256SHA256"), 9);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("validation failure: no DNSKEY rrset"), 9);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("validation failure: no NSEC3 records"), 12);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus("validation failure: ECDSA signature verification failed"), 6);
	ck_assert_int_eq(ms_dns_ede_from_why_bogus(NULL), 6);
}
END_TEST

/* ---- injected resolver --------------------------------------------- */
static int resolver_calls;

static ms_status fake_resolve(void *user, const char *name, uint16_t type,
			      struct ms_dns_result **out)
{
	resolver_calls++;
	if (strcmp(name, "good.example") == 0 && type == MS_DNS_T_A) {
		const uint8_t a[] = { 198, 51, 100, 7 };
		ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER,
						    MS_DNS_SECURE, out);
		if (st == MS_OK)
			st = ms_dns_result_add(*out, type, a, sizeof(a));
		return st;
	}
	if (strcmp(name, "bogus.example") == 0) {
		ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER,
						    MS_DNS_BOGUS, out);
		ck_assert_int_eq(st, MS_OK);
		/* a bogus result refuses records, whatever the resolver tries */
		const uint8_t a[] = { 1, 2, 3, 4 };
		ck_assert_int_eq(ms_dns_result_add(*out, type, a, 4), MS_ERR_STATE);
		ck_assert_int_eq(ms_dns_result_set_meta(*out, 0, NULL, -1, 6, "forged"), MS_OK);
		return MS_OK;
	}
	return ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, MS_DNS_INSECURE, out);
}

static void on_custom(void *user, struct ms_dns_result *r)
{
	*(int *)user = (int)ms_dns_result_outcome(r);
	ms_dns_result_free(r);
}

START_TEST(injected_resolver)
{
	struct ms_dns_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake_resolve, NULL, &ctx), MS_OK);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(ctx, "GOOD.example.", MS_DNS_T_A, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_ANSWER);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_SECURE);
	char buf[64];
	ck_assert_int_eq(ms_dns_result_addr(r, 0, buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "198.51.100.7");
	ms_dns_result_free(r);

	ck_assert_int_eq(ms_dns_lookup(ctx, "bogus.example", MS_DNS_T_A, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_SERVFAIL);
	ck_assert_int_eq(ms_dns_result_ede(r), 6);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);

	/* async over the injected resolver: delivered by ms_dns_process */
	int outcome = -1;
	ck_assert_int_eq(ms_dns_submit(ctx, "nope.example", MS_DNS_T_MX, on_custom,
				       &outcome, NULL, NULL, 0), MS_OK);
	ck_assert_int_eq(outcome, -1);
	ck_assert_int_eq(ms_dns_fd(ctx), -1);
	ck_assert_int_eq(ms_dns_next_timeout_ms(ctx), 0);
	ck_assert_int_eq(ms_dns_process(ctx), MS_OK);
	ck_assert_int_eq(outcome, MS_DNS_NXDOMAIN);
	ms_dns_ctx_free(ctx);
}
END_TEST

/* ---- allocator hook -------------------------------------------------- */
struct counting {
	long live;
	long calls;
	long fail_at; /* fail the n-th allocation (1-based); 0: never */
};

static void *c_alloc(void *user, size_t n)
{
	struct counting *c = user;
	if (c->fail_at && ++c->calls == c->fail_at)
		return NULL;
	void *p = malloc(n);
	if (p)
		c->live++;
	return p;
}

static void *c_realloc(void *user, void *p, size_t n)
{
	struct counting *c = user;
	if (c->fail_at && ++c->calls == c->fail_at)
		return NULL;
	void *q = realloc(p, n);
	if (q && p == NULL)
		c->live++;
	return q;
}

static void c_free(void *user, void *p)
{
	struct counting *c = user;
	if (p)
		c->live--;
	free(p);
}

/* Build a result with three records through the env allocator. */
static ms_status build(const struct ms_env *env)
{
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_result_create(env, "x.example", MS_DNS_T_TXT,
					    MS_DNS_ANSWER, MS_DNS_SECURE, &r);
	const uint8_t t[] = { 2, 'h', 'i' };
	for (int i = 0; st == MS_OK && i < 5; i++)
		st = ms_dns_result_add(r, MS_DNS_T_TXT, t, sizeof(t));
	if (st == MS_OK)
		st = ms_dns_result_set_meta(r, 60, "y.example", 1, -1, "text");
	ms_dns_result_free(r);
	return st;
}

START_TEST(allocation_failure_loop)
{
	/* Fail the n-th allocation for every n until the call succeeds: each
	 * failure is a clean MS_ERR_NOMEM and nothing leaks. */
	for (long n = 1;; n++) {
		struct counting c = { .fail_at = n };
		struct ms_env env = { .version = MS_ENV_VERSION, .user = &c,
				      .alloc = c_alloc, .realloc = c_realloc, .free = c_free };
		ms_status st = build(&env);
		ck_assert_msg(c.live == 0, "leak of %ld blocks when failing allocation %ld", c.live, n);
		if (st == MS_OK)
			break;
		ck_assert_int_eq(st, MS_ERR_NOMEM);
		ck_assert_msg(n < 100, "never succeeded");
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns-unit");
	TCase *tc = tcase_create("unit");
	tcase_add_test(tc, tlsa_parser);
	tcase_add_test(tc, mx_parser);
	tcase_add_test(tc, txt_parser);
	tcase_add_test(tc, presentation_format);
	tcase_add_test(tc, name_normalisation);
	tcase_add_test(tc, reverse_names);
	tcase_add_test(tc, types_and_strings);
	tcase_add_test(tc, security_combination);
	tcase_add_test(tc, ede_from_unbound_text);
	tcase_add_test(tc, injected_resolver);
	tcase_add_test(tc, allocation_failure_loop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mstest_run(suite());
}
