/*
 * test_spf_unit.c - SPF unit tests: the macro expander (including the
 * libspf2 CVE shapes: huge digit transformers, long expansions), domain
 * truncation, record syntax, lookup limits, DNSSEC folding on an injected
 * resolver, IPv4-mapped IPv6, CIDR /0, and the Received-SPF writer.
 */
#include "fakedns.h"
#include "spf_internal.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static struct spf_macro_vars vars(void)
{
	struct spf_macro_vars v = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com", .domain = "email.example.com",
		.ip_i = "192.0.2.3", .ip_c = "192.0.2.3", .v = "in-addr", .helo = "mx.example.org",
		.receiver = "rcv.example.net", .now = 1700000000,
	};
	return v;
}

static void expect_expand(const char *in, int exp, const char *want)
{
	struct spf_macro_vars v = vars();
	struct ms_buf b;
	ms_buf_init(&b, NULL, SPF_EXPAND_MAX);
	ms_status st = spf_macro_expand(in, strlen(in), exp, &v, &b);
	ck_assert_msg(st == MS_OK, "%s: status %d", in, st);
	ck_assert_msg(strcmp(b.data ? (char *)b.data : "", want) == 0, "%s -> '%s', want '%s'", in,
		      b.data ? (char *)b.data : "", want);
	ms_buf_free(&b);
}

/* RFC 7208 s7.4 examples. */
START_TEST(macro_rfc_examples)
{
	expect_expand("%{s}", 0, "strong-bad@email.example.com");
	expect_expand("%{o}", 0, "email.example.com");
	expect_expand("%{d}", 0, "email.example.com");
	expect_expand("%{d4}", 0, "email.example.com");
	expect_expand("%{d3}", 0, "email.example.com");
	expect_expand("%{d2}", 0, "example.com");
	expect_expand("%{d1}", 0, "com");
	expect_expand("%{dr}", 0, "com.example.email");
	expect_expand("%{d2r}", 0, "example.email");
	expect_expand("%{l}", 0, "strong-bad");
	expect_expand("%{l-}", 0, "strong.bad");
	expect_expand("%{lr}", 0, "strong-bad");
	expect_expand("%{lr-}", 0, "bad.strong");
	expect_expand("%{l1r-}", 0, "strong");
	expect_expand("%{ir}.%{v}._spf.%{d2}", 0, "3.2.0.192.in-addr._spf.example.com");
	expect_expand("%{lr-}.lp._spf.%{d2}", 0, "bad.strong.lp._spf.example.com");
	expect_expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", 0,
		      "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expect_expand("%{d2}.trusted-domains.example.net", 0,
		      "example.com.trusted-domains.example.net");
	expect_expand("%%%_%-", 0, "% %20");
	expect_expand("%{c} %{r} %{t}", 1, "192.0.2.3 rcv.example.net 1700000000");
	expect_expand("%{S}", 0, "strong-bad%40email.example.com");
}
END_TEST

START_TEST(macro_cve_shapes)
{
	/* Huge digit transformers saturate (CVE-2021-20314 / -33912 shapes). */
	expect_expand("%{d99999999999999999999}", 0, "email.example.com");
	expect_expand("%{l4294967297r-}", 0, "bad.strong");
	expect_expand("%{d1000000r}", 0, "com.example.email");
	/* Long expansion: the bound holds and is reported, no overflow. */
	char big[SPF_RECORD_MAX];
	size_t n = 0;
	while (n + 8 < sizeof(big)) {
		memcpy(big + n, "%{S}", 4);
		n += 4;
	}
	struct spf_macro_vars v = vars();
	struct ms_buf b;
	ms_buf_init(&b, NULL, 4096);
	ck_assert_int_eq(spf_macro_expand(big, n, 0, &v, &b), MS_ERR_LIMIT);
	ck_assert_uint_le(b.len, 4096);
	ms_buf_free(&b);
	/* Syntax errors. */
	static const char *bad[] = { "%{d0}", "%{x}", "%{d", "%", "%x", "%{c}", "%{t}", "%{r}",
				     "%{d2r+-/_=,.x}", "a b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(spf_macro_check(bad[i], strlen(bad[i]), 0, NULL, 0) == MS_ERR_PARSE,
			      "%s accepted", bad[i]);
	ck_assert_int_eq(spf_macro_check("%{c} %{r} %{t}", 14, 1, NULL, 0), MS_OK);
}
END_TEST

START_TEST(domain_truncation)
{
	char name[600];
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 60; i++)
		strcat(name, "abcdefgh.");
	strcat(name, "example.com.");
	spf_domain_truncate(name);
	ck_assert_uint_le(strlen(name), 253);
	ck_assert_int_ne(name[0], '.');
	ck_assert_str_eq(name + strlen(name) - 11, "example.com");
	ck_assert_ptr_nonnull(strstr(name, "abcdefgh.abcdefgh"));
}
END_TEST

START_TEST(record_syntax)
{
	static const struct {
		const char *rec;
		ms_status st;
	} t[] = {
		{ "v=spf1", MS_OK },
		{ "v=spf1 -all", MS_OK },
		{ "V=SPF1 IP4:192.0.2.0/24 -ALL", MS_OK },
		{ "v=spf1 ip4:0.0.0.0/0 ip6:::/0 a//0 mx/0//0 a:%{d}.x.example/24//64 ~all", MS_OK },
		{ "v=spf1 exp=%{d}.e.example redirect=r.example unknown-mod=%{l}", MS_OK },
		{ "v=spf1 ip4:192.0.2.0/33", MS_ERR_PARSE },
		{ "v=spf1 ip4:192.0.2.0/032", MS_ERR_PARSE },
		{ "v=spf1 ip6:::1/129", MS_ERR_PARSE },
		{ "v=spf1 ip4:192.0.2", MS_ERR_PARSE },
		{ "v=spf1 a:foo", MS_ERR_PARSE },
		{ "v=spf1 a:example.123", MS_ERR_PARSE },
		{ "v=spf1 include", MS_ERR_PARSE },
		{ "v=spf1 all:x", MS_ERR_PARSE },
		{ "v=spf1 foo:bar", MS_ERR_PARSE },
		{ "v=spf1 redirect=a.example redirect=b.example", MS_ERR_PARSE },
		{ "v=spf1 exp=a.example exp=b.example", MS_ERR_PARSE },
		{ "v=spf1 -all caf\xc3\xa9", MS_ERR_PARSE },
		{ "v=spf1 a:%{x}.example", MS_ERR_PARSE },
		{ "v=spf10 -all", MS_ERR_PARSE },
		{ "spf1 -all", MS_ERR_PARSE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char why[200] = "";
		ms_status st = ms_spf_record_check((const uint8_t *)t[i].rec, strlen(t[i].rec), why,
						   sizeof(why));
		ck_assert_msg(st == t[i].st, "'%s': %d (%s)", t[i].rec, st, why);
		if (st != MS_OK)
			ck_assert_msg(why[0], "'%s': no reason", t[i].rec);
	}
	static char huge[SPF_RECORD_MAX + 10];
	memset(huge, 'a', sizeof(huge));
	memcpy(huge, "v=spf1 ", 7);
	ck_assert_int_eq(ms_spf_record_check((const uint8_t *)huge, sizeof(huge), NULL, 0),
			 MS_ERR_LIMIT);
}
END_TEST

/* ---- evaluation on the injected resolver ---- */
static struct fakedns *z;
static struct ms_dns_ctx *dns;
static struct ms_spf *spf;

static void setup(void)
{
	z = fakedns_new();
	dns = fakedns_ctx(z);
	ck_assert_int_eq(ms_spf_new(NULL, dns, &spf), MS_OK);
}

static void teardown(void)
{
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	fakedns_free(z);
}

static struct ms_spf_verdict *run(const char *ip, const char *sender)
{
	struct ms_spf_verdict *v = NULL;
	ck_assert_int_eq(ms_spf_check_mailfrom(spf, ip, "helo.example.org", sender, &v, NULL, 0),
			 MS_OK);
	return v;
}

START_TEST(lookup_limits)
{
	/* 11 includes: the 11th DNS-querying term is a permerror. */
	char rec[512] = "v=spf1";
	for (int i = 0; i < 11; i++) {
		char name[64];
		snprintf(name, sizeof(name), "i%d.example.com", i);
		strcat(rec, " include:");
		strcat(rec, name);
		fakedns_add(z, name, "TXT", "v=spf1 -all");
	}
	strcat(rec, " +all");
	fakedns_add(z, "limit.example.com", "TXT", rec);
	struct ms_spf_verdict *v = run("192.0.2.1", "a@limit.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PERMERROR);
	ck_assert_uint_eq(ms_spf_verdict_dns_lookups(v), 11);
	ms_spf_verdict_free(v);
	/* Three void lookups: permerror; two are fine. */
	fakedns_add(z, "void2.example.com", "TXT", "v=spf1 a:n1.example.com a:n2.example.com +all");
	fakedns_add(z, "void3.example.com", "TXT",
		    "v=spf1 a:n1.example.com a:n2.example.com exists:n3.example.com +all");
	v = run("192.0.2.1", "a@void2.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_uint_eq(ms_spf_verdict_void_lookups(v), 2);
	ms_spf_verdict_free(v);
	v = run("192.0.2.1", "a@void3.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PERMERROR);
	ms_spf_verdict_free(v);
	/* More than 10 MX names: permerror. */
	fakedns_add(z, "mx11.example.com", "TXT", "v=spf1 mx -all");
	for (int i = 0; i < 11; i++) {
		char mx[64];
		snprintf(mx, sizeof(mx), "%d m%d.example.com", i, i);
		fakedns_add(z, "mx11.example.com", "MX", mx);
	}
	v = run("192.0.2.1", "a@mx11.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PERMERROR);
	ms_spf_verdict_free(v);
}
END_TEST

START_TEST(errors_apart)
{
	fakedns_add(z, "t.example.com", "TXT", "v=spf1 a:slow.example.com -all");
	fakedns_add_timeout(z, "slow.example.com", 0);
	fakedns_add(z, "p.example.com", "TXT", "v=spf1 ip4:1.2.3.4/40 -all");
	fakedns_add_timeout(z, "rt.example.com", MS_DNS_T_TXT);
	struct ms_spf_verdict *v = run("192.0.2.1", "a@t.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_TEMPERROR);
	ck_assert_ptr_nonnull(ms_spf_verdict_problem(v));
	ms_spf_verdict_free(v);
	v = run("192.0.2.1", "a@p.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PERMERROR);
	ms_spf_verdict_free(v);
	v = run("192.0.2.1", "a@rt.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_TEMPERROR);
	ms_spf_verdict_free(v);
}
END_TEST

START_TEST(cidr_mapped_and_helo)
{
	fakedns_add(z, "zero.example.com", "TXT", "v=spf1 ip4:0.0.0.0/0 -all");
	fakedns_add(z, "six.example.com", "TXT", "v=spf1 ip6:2001:db8::/32 a//0 -all");
	fakedns_add(z, "six.example.com", "AAAA", "2001:db9::1");
	fakedns_add(z, "helo.example.org", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
	struct ms_spf_verdict *v = run("203.0.113.9", "a@zero.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ms_spf_verdict_free(v);
	v = run("::ffff:203.0.113.9", "a@zero.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_str_eq(ms_spf_verdict_ip(v), "203.0.113.9");
	ms_spf_verdict_free(v);
	v = run("2001:db8::5", "a@six.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ms_spf_verdict_free(v);
	v = run("fe80::1", "a@six.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);   /* a//0 */
	ck_assert_str_eq(ms_spf_verdict_mechanism(v), "a//0");
	ms_spf_verdict_free(v);
	/* empty sender: postmaster@helo */
	v = run("192.0.2.7", "");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_str_eq(ms_spf_verdict_sender(v), "postmaster@helo.example.org");
	ms_spf_verdict_free(v);
	ck_assert_int_eq(ms_spf_check_helo(spf, "192.0.2.7", "helo.example.org", &v, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_spf_verdict_identity(v), MS_SPF_ID_HELO);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ms_spf_verdict_free(v);
	ck_assert_int_eq(ms_spf_check_mailfrom(spf, "not-an-ip", "h", "a@b.example", &v, NULL, 0),
			 MS_ERR_INVALID);
	ck_assert_ptr_null(v);
}
END_TEST

/* RFC 7208 s4.3: a malformed <domain> (here over 253 octets, from the HELO
 * or the MAIL FROM identity) makes check_host() return "none"; it is not a
 * caller error.  The problem text names the length and quotes a bounded
 * prefix marked with "...", never a prefix cut silently mid-label. */
START_TEST(malformed_identity_is_none)
{
	char name[273], sender[300];
	memset(name, 'a', 272);
	for (size_t i = 49; i < 272; i += 50)
		name[i] = '.';
	name[272] = '\0';
	snprintf(sender, sizeof(sender), "joe@%s", name);
	struct ms_spf_verdict *v = NULL;
	char why[128] = "";
	ck_assert_int_eq(ms_spf_check_helo(spf, "192.0.2.7", name, &v, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_NONE);
	const char *p = ms_spf_verdict_problem(v);
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strstr(p, "272 octets") && strstr(p, "...'"), "problem: %s", p);
	ck_assert_uint_lt(strlen(p), 200);
	ms_spf_verdict_free(v);
	/* null sender: the HELO identity */
	ck_assert_int_eq(ms_spf_check_mailfrom(spf, "192.0.2.7", name, "", &v, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_NONE);
	ms_spf_verdict_free(v);
	/* MAIL FROM with a malformed domain */
	ck_assert_int_eq(ms_spf_check_mailfrom(spf, "192.0.2.7", "helo.example.org", sender, &v,
					       why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_NONE);
	ck_assert_ptr_nonnull(strstr(ms_spf_verdict_problem(v), "272 octets"));
	ms_spf_verdict_free(v);
	/* A bad label is named too. */
	ck_assert_int_eq(ms_spf_check_helo(spf, "192.0.2.7", "a..example.org", &v, why,
					   sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_NONE);
	ck_assert_ptr_nonnull(strstr(ms_spf_verdict_problem(v), "'a..example.org'"));
	ms_spf_verdict_free(v);
}
END_TEST

START_TEST(dnssec_folding)
{
	fakedns_set_security(z, MS_DNS_SECURE);
	fakedns_set_security_below(z, "unsigned.example", MS_DNS_INSECURE);
	fakedns_add(z, "s.example.com", "TXT", "v=spf1 include:a.example.com -all");
	fakedns_add(z, "a.example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
	fakedns_add(z, "m.example.com", "TXT",
		    "v=spf1 include:u.unsigned.example include:a.example.com -all");
	fakedns_add(z, "u.unsigned.example", "TXT", "v=spf1 ip4:198.51.100.0/24 -all");
	fakedns_add(z, "x.example.com", "TXT", "v=spf1 -all exp=e.unsigned.example");
	fakedns_add(z, "e.unsigned.example", "TXT", "go away %{i}");
	struct ms_spf_verdict *v = run("192.0.2.1", "a@s.example.com");
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_SECURE);
	ms_spf_verdict_free(v);
	v = run("192.0.2.1", "a@m.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_INSECURE);
	ms_spf_verdict_free(v);
	/* The explanation lookup does not decide the result. */
	v = run("192.0.2.1", "a@x.example.com");
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_FAIL);
	ck_assert_str_eq(ms_spf_verdict_explanation(v), "go away 192.0.2.1");
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_SECURE);
	ms_spf_verdict_free(v);
	/* No lookup at all: indeterminate. */
	const char *rec = "v=spf1 ip4:192.0.2.0/24 -all";
	ck_assert_int_eq(ms_spf_check_record(spf, "192.0.2.1", "r.example.com", "a@r.example.com",
					     NULL, (const uint8_t *)rec, strlen(rec), &v, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_INDETERMINATE);
	ms_spf_verdict_free(v);
}
END_TEST

START_TEST(received_spf_header)
{
	fakedns_add(z, "example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
	ms_spf_set_receiver(spf, "mx.example.org");
	struct ms_spf_verdict *v = run("192.0.2.1", "a@example.com");
	char h[1024];
	ck_assert_int_eq(ms_spf_received_header(v, "mx.example.org", h, sizeof(h)), MS_OK);
	ck_assert_str_eq(h, "Received-SPF: pass (mx.example.org: domain of a@example.com designates "
			 "192.0.2.1 as permitted sender; dnssec=insecure)\r\n\tclient-ip=192.0.2.1;"
			 " envelope-from=\"a@example.com\"; helo=helo.example.org;"
			 " receiver=mx.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\"");
	ck_assert_int_eq(ms_spf_received_header(v, NULL, h, 10), MS_ERR_LIMIT);
	ms_spf_verdict_free(v);
	/* Injection through the sender's local-part and the HELO name. */
	struct ms_spf_verdict *w = NULL;
	ck_assert_int_eq(ms_spf_check_mailfrom(spf, "192.0.2.1", "x\r\nX-Evil: 1",
					       "\"a\r\nX-Evil: (1)\"@example.com", &w, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_spf_received_header(w, "mx)\r\n(", h, sizeof(h)), MS_OK);
	ck_assert_ptr_null(strstr(h, "\r\nX-Evil"));
	for (const char *p = h; (p = strchr(p, '\n')) != NULL; p++)
		ck_assert_int_eq(p[1], '\t');
	ms_spf_verdict_free(w);
}
END_TEST

static int64_t fake_now = 1000;
static int64_t clock_hook(void *user)
{
	(void)user;
	return fake_now;
}

START_TEST(answer_cache)
{
	struct ms_env env = { .version = MS_ENV_VERSION, .now = clock_hook };
	struct ms_spf *c = NULL;
	ck_assert_int_eq(ms_spf_new(&env, dns, &c), MS_OK);
	ck_assert_int_eq(ms_spf_set_cache(c, 4), MS_OK);
	ck_assert_int_eq(ms_spf_set_cache(c, 70000), MS_ERR_INVALID);
	ck_assert_int_eq(ms_spf_set_cache(c, 4), MS_OK);
	fakedns_set_security(z, MS_DNS_SECURE);
	fakedns_add(z, "c.example.com", "TXT", "v=spf1 a:h.example.com -all");
	fakedns_add(z, "h.example.com", "A", "192.0.2.9");
	struct ms_spf_verdict *v = NULL;
	unsigned q0 = fakedns_queries(z);
	ck_assert_int_eq(ms_spf_check_mailfrom(c, "192.0.2.9", "h", "a@c.example.com", &v, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ms_spf_verdict_free(v);
	unsigned q1 = fakedns_queries(z);
	ck_assert_uint_eq(q1 - q0, 2);
	/* Warm: no queries, same verdict and DNSSEC status. */
	ck_assert_int_eq(ms_spf_check_mailfrom(c, "192.0.2.9", "h", "a@C.Example.COM.", &v, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_PASS);
	ck_assert_int_eq(ms_spf_verdict_dnssec(v), MS_DNS_SECURE);
	ms_spf_verdict_free(v);
	ck_assert_uint_eq(fakedns_queries(z), q1);
	/* After the TTL (300 s from fakedns) the answers are fetched again. */
	fake_now += 301;
	ck_assert_int_eq(ms_spf_check_mailfrom(c, "192.0.2.9", "h", "a@c.example.com", &v, NULL, 0),
			 MS_OK);
	ms_spf_verdict_free(v);
	ck_assert_uint_eq(fakedns_queries(z) - q1, 2);
	/* Failures are never kept. */
	fakedns_add(z, "t.example.com", "TXT", "v=spf1 a:slow.example.com -all");
	fakedns_add_timeout(z, "slow.example.com", 0);
	for (int i = 0; i < 2; i++) {
		unsigned before = fakedns_queries(z);
		ck_assert_int_eq(ms_spf_check_mailfrom(c, "192.0.2.9", "h", "a@t.example.com", &v,
						       NULL, 0), MS_OK);
		ck_assert_int_eq(ms_spf_verdict_result(v), MS_SPF_TEMPERROR);
		ms_spf_verdict_free(v);
		ck_assert_uint_ge(fakedns_queries(z) - before, 1);
	}
	ms_spf_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spf-unit");
	TCase *tc = tcase_create("macro");
	tcase_add_test(tc, macro_rfc_examples);
	tcase_add_test(tc, macro_cve_shapes);
	tcase_add_test(tc, domain_truncation);
	tcase_add_test(tc, record_syntax);
	suite_add_tcase(s, tc);
	TCase *te = tcase_create("eval");
	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_test(te, lookup_limits);
	tcase_add_test(te, errors_apart);
	tcase_add_test(te, cidr_mapped_and_helo);
	tcase_add_test(te, malformed_identity_is_none);
	tcase_add_test(te, dnssec_folding);
	tcase_add_test(te, received_spf_header);
	tcase_add_test(te, answer_cache);
	suite_add_tcase(s, te);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
