/*
 * test_dmarc.c - DMARC unit tests on an injected resolver: record parsing,
 * From-header attack shapes, alignment and policy tables, pct/t=/np=, the
 * DMARCbis tree walk and external report destination verification.
 */
#include "fakedns.h"

#include <check.h>
#include <mailsec/dmarc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakedns *z;
static struct ms_dns_ctx *dns;
static struct ms_dmarc *dm;

static void setup(void)
{
	z = fakedns_new();
	dns = fakedns_ctx(z);
	ck_assert_int_eq(ms_dmarc_new(NULL, dns, &dm, NULL, 0), MS_OK);
	ms_dmarc_set_pct_sample(dm, 50);
	fakedns_add(z, "_dmarc.example.com", "TXT",
		    "v=DMARC1; p=reject; sp=quarantine; rua=mailto:a@example.com");
	fakedns_add(z, "_dmarc.strict.example.com", "TXT", "v=DMARC1; p=reject; aspf=s; adkim=s");
	fakedns_add(z, "_dmarc.half.example.net", "TXT", "v=DMARC1; p=reject; pct=40");
	fakedns_add(z, "_dmarc.testing.example.net", "TXT", "v=DMARC1; p=reject; t=y");
	fakedns_add(z, "_dmarc.example.org", "TXT", "v=DMARC1; p=none; sp=quarantine; np=reject");
	fakedns_add(z, "real.example.org", "A", "192.0.2.1");
	fakedns_add_timeout(z, "flaky.example.org", 0);
	fakedns_add(z, "_dmarc.fail.example.net", "TXT", "v=DMARC1; p=reject");
	fakedns_add_timeout(z, "_dmarc.slow.example.net", 0);
	fakedns_add(z, "_dmarc.example.co.uk", "TXT", "v=DMARC1; p=reject");
}

static void teardown(void)
{
	ms_dmarc_free(dm);
	ms_dns_ctx_free(dns);
	fakedns_free(z);
}

/* ---- records ---- */
START_TEST(record_parse_table)
{
	static const struct {
		const char *rec;
		ms_status st;
		int p, sp, pct, adkim;
		int warn;
	} t[] = {
		{ "v=DMARC1; p=reject", MS_OK, 2, -1, 100, 0, 0 },
		{ "v=DMARC1;p=quarantine;sp=none;pct=20;adkim=s", MS_OK, 1, 0, 20, 1, 0 },
		{ "v=DMARC1; p=reject;", MS_OK, 2, -1, 100, 0, 0 },
		{ "  v = DMARC1 ; p = none ", MS_OK, 0, -1, 100, 0, 0 },
		{ "v=DMARC1; p=reject; pct=200", MS_OK, 2, -1, 100, 0, 1 },
		{ "v=DMARC1; p=reject; adkim=x", MS_OK, 2, -1, 100, 0, 1 },
		{ "v=DMARC1; p=reject; future=1", MS_OK, 2, -1, 100, 0, 0 },
		{ "v=DMARC1; rua=mailto:r@example.com", MS_OK, 0, -1, 100, 0, 0 },
		{ "v=DMARC1; p=bogus; rua=mailto:r@example.com", MS_OK, 0, -1, 100, 0, 1 },
		{ "v=DMARC1; p=bogus", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
		{ "v=DMARC1", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
		{ "p=reject; v=DMARC1", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
		{ "v=DMARC2; p=reject", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
		{ "v=dmarc1; p=reject", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
		{ "v=DMARC1; p=reject; p=none", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
		{ "", MS_ERR_PARSE, 0, 0, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ms_dmarc_record *r = NULL;
		char why[200] = "";
		ms_status st = ms_dmarc_record_parse(NULL, (const uint8_t *)t[i].rec,
						     strlen(t[i].rec), &r, why, sizeof(why));
		ck_assert_msg(st == t[i].st, "case %zu '%s': %d (%s)", i, t[i].rec, st, why);
		if (st != MS_OK) {
			ck_assert_ptr_null(r);
			ck_assert_msg(why[0], "case %zu: no reason", i);
			continue;
		}
		ck_assert_int_eq(ms_dmarc_record_p(r), t[i].p);
		ck_assert_int_eq(ms_dmarc_record_sp(r), t[i].sp);
		ck_assert_uint_eq(ms_dmarc_record_pct(r), (unsigned)t[i].pct);
		ck_assert_int_eq(ms_dmarc_record_adkim(r), t[i].adkim);
		ck_assert_msg((ms_dmarc_record_warnings(r) != NULL) == t[i].warn, "case %zu warn", i);
		ms_dmarc_record_free(r);
	}
	ck_assert_int_eq(ms_dmarc_record_parse(NULL, (const uint8_t *)"x", 5000, NULL, NULL, 0),
			 MS_ERR_INVALID);
}
END_TEST

START_TEST(record_uris)
{
	const char *rec = "v=DMARC1; p=none; rua=mailto:a@x.example, bad uri ,mailto:b@y.example!10m;"
			  " ruf=mailto:f@z.example; psd=y; np=reject";
	struct ms_dmarc_record *r = NULL;
	ck_assert_int_eq(ms_dmarc_record_parse(NULL, (const uint8_t *)rec, strlen(rec), &r, NULL, 0),
			 MS_OK);
	ck_assert_uint_eq(ms_dmarc_record_rua_count(r), 2);
	ck_assert_str_eq(ms_dmarc_record_rua(r, 1), "mailto:b@y.example!10m");
	ck_assert_uint_eq(ms_dmarc_record_ruf_count(r), 1);
	ck_assert_int_eq(ms_dmarc_record_psd(r), 'y');
	ck_assert_int_eq(ms_dmarc_record_np(r), MS_DMARC_POLICY_REJECT);
	ck_assert_ptr_nonnull(strstr(ms_dmarc_record_warnings(r), "rua"));
	ms_dmarc_record_free(r);
}
END_TEST

/* ---- From header ---- */
START_TEST(from_attack_table)
{
	static const struct {
		const char *hdr;
		enum ms_dmarc_from_outcome o;
		const char *dom;
	} t[] = {
		{ "a@example.com", MS_DMARC_FROM_OK, "example.com" },
		{ "Alice <a@Example.COM.>", MS_DMARC_FROM_OK, "example.com" },
		{ "\"a@evil.test\" <a@example.com>", MS_DMARC_FROM_OK, "example.com" },
		{ "\"<x@evil.test>\" <a@example.com>", MS_DMARC_FROM_OK, "example.com" },
		{ "\"esc \\\" <x@evil.test>\" <a@example.com>", MS_DMARC_FROM_OK, "example.com" },
		{ "=?utf-8?q?x=40evil.test?= <a@example.com>", MS_DMARC_FROM_OK, "example.com" },
		{ "=?utf-8?b?PHhAZXZpbC50ZXN0Pg==?= <a@example.com>", MS_DMARC_FROM_OK, "example.com" },
		{ "(x@evil.test) a@example.com (comment (nested))", MS_DMARC_FROM_OK, "example.com" },
		{ "a@example.com, b@example.com", MS_DMARC_FROM_OK, "example.com" },
		{ "friends: a@example.com, Bob <b@example.com>;", MS_DMARC_FROM_OK, "example.com" },
		{ "Alice\r\n <a@example.com>", MS_DMARC_FROM_OK, "example.com" },
		{ "a@b\xc3\xbc" "cher.example", MS_DMARC_FROM_OK, "xn--bcher-kva.example" },
		{ "a@example.com, b@evil.test", MS_DMARC_FROM_MULTIPLE_DOMAINS, "" },
		{ "g: a@example.com;, b@evil.test", MS_DMARC_FROM_MULTIPLE_DOMAINS, "" },
		{ "undisclosed-recipients:;", MS_DMARC_FROM_NONE, "" },
		{ "", MS_DMARC_FROM_NONE, "" },
		{ "a@evil.test <b@example.com>", MS_DMARC_FROM_MALFORMED, "" },
		{ "<a@evil.test> <b@example.com>", MS_DMARC_FROM_MALFORMED, "" },
		{ "<a@evil.test> b@example.com", MS_DMARC_FROM_MALFORMED, "" },
		{ "Alice <a@example.com", MS_DMARC_FROM_MALFORMED, "" },
		{ "\"unterminated <a@example.com>", MS_DMARC_FROM_MALFORMED, "" },
		{ "(unterminated a@example.com", MS_DMARC_FROM_MALFORMED, "" },
		{ "a@[192.0.2.1]", MS_DMARC_FROM_MALFORMED, "" },
		{ "a@", MS_DMARC_FROM_MALFORMED, "" },
		{ "example.com", MS_DMARC_FROM_MALFORMED, "" },
		{ "a@exa mple.com", MS_DMARC_FROM_MALFORMED, "" },
		{ "g: a@example.com", MS_DMARC_FROM_MALFORMED, "" },
		{ "g: h: a@example.com;;", MS_DMARC_FROM_MALFORMED, "" },
		{ "a@example.com;", MS_DMARC_FROM_MALFORMED, "" },
		{ "<@route.test:a@example.com>", MS_DMARC_FROM_MALFORMED, "" },
		{ "a@example.com\x01", MS_DMARC_FROM_MALFORMED, "" },
		{ "a@example..com", MS_DMARC_FROM_MALFORMED, "" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum ms_dmarc_from_outcome o;
		char dom[256], why[200] = "";
		ms_status st = ms_dmarc_from_parse((const uint8_t *)t[i].hdr, strlen(t[i].hdr), &o,
						   dom, sizeof(dom), NULL, why, sizeof(why));
		ck_assert_int_eq(st, MS_OK);
		ck_assert_msg(o == t[i].o, "case %zu '%s': got %s (%s)", i, t[i].hdr,
			      ms_dmarc_from_outcome_str(o), why);
		if (o == MS_DMARC_FROM_OK)
			ck_assert_str_eq(dom, t[i].dom);
		else
			ck_assert_msg(why[0], "case %zu: no reason", i);
	}
}
END_TEST

START_TEST(from_multiple_headers_and_limits)
{
	const uint8_t *v[2] = { (const uint8_t *)"a@example.com", (const uint8_t *)"a@example.com" };
	size_t l[2] = { 13, 13 };
	enum ms_dmarc_from_outcome o;
	char dom[256];
	ck_assert_int_eq(ms_dmarc_from_headers(v, l, 2, &o, dom, sizeof(dom), NULL, 0), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_MULTIPLE_HEADERS);
	ck_assert_int_eq(ms_dmarc_from_headers(v, l, 0, &o, dom, sizeof(dom), NULL, 0), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_NONE);
	ck_assert_int_eq(ms_dmarc_from_headers(v, l, 1, &o, dom, sizeof(dom), NULL, 0), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_OK);
	/* 65 mailboxes: over the bound */
	char big[2048] = "";
	for (int i = 0; i < 65; i++)
		strcat(big, "a@example.com,");
	ck_assert_int_eq(ms_dmarc_from_parse((const uint8_t *)big, strlen(big), &o, dom,
					     sizeof(dom), NULL, NULL, 0), MS_ERR_LIMIT);
	ck_assert_int_eq(o, MS_DMARC_FROM_MALFORMED);
	/* deeply nested comments */
	char deep[200];
	memset(deep, '(', 100);
	memcpy(deep + 100, "a@example.com", 14);
	ck_assert_int_eq(ms_dmarc_from_parse((const uint8_t *)deep, strlen(deep), &o, dom,
					     sizeof(dom), NULL, NULL, 0), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_MALFORMED);
}
END_TEST

/* The From fields of a whole message (ms_dmarc_from_message): every
 * spelling of the name that RFC 5322 accepts counts, including the
 * obsolete "From :" (s4.5), so two From fields of any spelling are
 * MULTIPLE_HEADERS (RFC 7489 s6.6.1); the body and look-alike names do not
 * count; the scan goes past the DKIM header bounds. */
START_TEST(from_message_fields)
{
	static const struct { const char *m; enum ms_dmarc_from_outcome o; const char *dom; } t[] = {
		{ "From : \"Bank CEO\" <ceo@example.test>\r\nFrom: <x@good.test>\r\n\r\nhi\r\n",
		  MS_DMARC_FROM_MULTIPLE_HEADERS, NULL },
		{ "From: <x@good.test>\nSubject: x\nFROM\t: ceo@example.test\n\nhi\n",
		  MS_DMARC_FROM_MULTIPLE_HEADERS, NULL },
		{ "from  :  a@Example.TEST\r\nSubject: x\r\n\r\nFrom: b@evil.test\r\n",
		  MS_DMARC_FROM_OK, "example.test" },
		{ "X-From: a@evil.test\r\nFrom x: b@evil.test\r\nResent-From: c@evil.test\r\n"
		  "From: d@good.test\r\n\r\n", MS_DMARC_FROM_OK, "good.test" },
		{ "Subject: x\r\nFrom:\r\n Joe\r\n\t<joe@good.test>\r\nTo: y@z.test\r\n\r\n",
		  MS_DMARC_FROM_OK, "good.test" },
		{ "Subject: x\r\n\r\nFrom: a@good.test\r\n", MS_DMARC_FROM_NONE, NULL },
		{ "From: a@good.test", MS_DMARC_FROM_OK, "good.test" },
		{ "From: a@good.test\r\nFrom: a@good.test", MS_DMARC_FROM_MULTIPLE_HEADERS, NULL },
		{ "From: a@evil.test, b@good.test\r\n\r\n", MS_DMARC_FROM_MULTIPLE_DOMAINS, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum ms_dmarc_from_outcome o;
		char dom[256], why[200] = "";
		ck_assert_int_eq(ms_dmarc_from_message((const uint8_t *)t[i].m, strlen(t[i].m), &o,
						       dom, sizeof(dom), why, sizeof(why)), MS_OK);
		ck_assert_msg(o == t[i].o, "case %zu: got %s (%s)", i, ms_dmarc_from_outcome_str(o),
			      why);
		if (t[i].dom)
			ck_assert_str_eq(dom, t[i].dom);
	}
	/* Past the DKIM bounds (1000 fields, 1 MiB): the From is still found,
	 * and so is a second one at the end. */
	size_t pad = 3000, cap = pad * 1030 + 256, n = 0;
	char *m = malloc(cap);
	n += (size_t)sprintf(m, "From: ceo@example.test\r\n");
	for (size_t i = 0; i < pad; i++) {
		memcpy(m + n, "X-Pad: ", 7);
		memset(m + n + 7, 'a', 1014);
		memcpy(m + n + 1021, "\r\n", 2);
		n += 1023;
	}
	size_t before_end = n;
	n += (size_t)sprintf(m + n, "\r\nbody\r\n");
	enum ms_dmarc_from_outcome o;
	char dom[256];
	ck_assert_int_eq(ms_dmarc_from_message((const uint8_t *)m, n, &o, dom, sizeof(dom), NULL,
					       0), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_OK);
	ck_assert_str_eq(dom, "example.test");
	n = before_end + (size_t)sprintf(m + before_end, "From : x@good.test\r\n\r\nbody\r\n");
	ck_assert_int_eq(ms_dmarc_from_message((const uint8_t *)m, n, &o, dom, sizeof(dom), NULL,
					       0), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_MULTIPLE_HEADERS);
	free(m);
}
END_TEST

/* A header section past the scan's own bound: no outcome can be trusted
 * (a second From may follow), so it is MALFORMED, reported, never OK. */
START_TEST(from_message_bound)
{
	size_t n = MS_DMARC_MAX_HEADER_SCAN + 4096;
	char *m = malloc(n);
	memcpy(m, "From: ceo@example.test\r\n", 24);
	for (size_t i = 24; i + 1023 <= n; i += 1023) {
		memcpy(m + i, "X-Pad: ", 7);
		memset(m + i + 7, 'a', 1014);
		memcpy(m + i + 1021, "\r\n", 2);
	}
	enum ms_dmarc_from_outcome o = MS_DMARC_FROM_OK;
	char dom[256], why[200] = "";
	ck_assert_int_eq(ms_dmarc_from_message((const uint8_t *)m, n, &o, dom, sizeof(dom), why,
					       sizeof(why)), MS_OK);
	ck_assert_int_eq(o, MS_DMARC_FROM_MALFORMED);
	ck_assert_ptr_nonnull(strstr(why, "header section"));
	free(m);
}
END_TEST

/* ---- evaluation ---- */
static struct ms_dmarc_verdict *eval(const char *from, enum ms_spf_result spf,
				     const char *spfdom, enum ms_dmarc_dkim_result dk,
				     const char *dkdom)
{
	struct ms_dmarc_verdict *v = NULL;
	const char *doms[1] = { dkdom };
	enum ms_dmarc_dkim_result res[1] = { dk };
	char why[200] = "";
	ck_assert_msg(ms_dmarc_check(dm, from, spf, spfdom, doms, NULL, res, dkdom ? 1 : 0, &v,
				     why, sizeof(why)) == MS_OK, "%s", why);
	return v;
}

START_TEST(policy_table)
{
	static const struct {
		const char *from;
		enum ms_spf_result spf;
		const char *spfdom;
		enum ms_dmarc_dkim_result dk;
		const char *dkdom;
		enum ms_dmarc_result res;
		enum ms_dmarc_policy disp;
		const char *tag;
	} t[] = {
		/* relaxed alignment through the org domain */
		{ "example.com", MS_SPF_PASS, "mail.example.com", 0, NULL, MS_DMARC_PASS, 0, "p" },
		{ "news.example.com", MS_SPF_PASS, "example.com", 0, NULL, MS_DMARC_PASS, 0, "sp" },
		{ "example.com", MS_SPF_FAIL, "example.com", MS_DMARC_DKIM_PASS, "s.example.com",
		  MS_DMARC_PASS, 0, "p" },
		/* SPF pass for an unrelated domain does not align */
		{ "example.com", MS_SPF_PASS, "evil.test", 0, NULL, MS_DMARC_FAIL, 2, "p" },
		{ "example.com", MS_SPF_SOFTFAIL, "example.com", MS_DMARC_DKIM_FAIL, "example.com",
		  MS_DMARC_FAIL, 2, "p" },
		{ "example.com", MS_SPF_NONE, NULL, MS_DMARC_DKIM_PASS, "evil.test",
		  MS_DMARC_FAIL, 2, "p" },
		/* sp= for subdomains */
		{ "news.example.com", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_FAIL, 1, "sp" },
		/* strict: exact match only */
		{ "strict.example.com", MS_SPF_PASS, "mail.strict.example.com", MS_DMARC_DKIM_PASS,
		  "example.com", MS_DMARC_FAIL, 2, "p" },
		{ "strict.example.com", MS_SPF_PASS, "Strict.Example.COM", 0, NULL, MS_DMARC_PASS, 0, "p" },
		/* pct=40 with sample 50: outside the sample, one step lower */
		{ "half.example.net", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_FAIL, 1, "p" },
		/* t=y lowers one step */
		{ "testing.example.net", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_FAIL, 1, "p" },
		/* np= for a non-existent subdomain, sp= for an existing one */
		{ "ghost.example.org", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_FAIL, 2, "np" },
		{ "real.example.org", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_FAIL, 1, "sp" },
		/* existence unknown (DNS timeout) while np= and sp= differ:
		 * temperror, not the laxer policy; aligned mail still passes */
		{ "flaky.example.org", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_TEMPERROR, 0, NULL },
		{ "flaky.example.org", MS_SPF_PASS, "flaky.example.org", 0, NULL, MS_DMARC_PASS, 0,
		  "sp" },
		{ "example.org", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_FAIL, 0, "p" },
		/* PSL: co.uk is a public suffix, so example.co.uk is the org */
		{ "mail.example.co.uk", MS_SPF_PASS, "example.co.uk", 0, NULL, MS_DMARC_PASS, 0, "p" },
		{ "nopolicy.test", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_NONE, 0, NULL },
		{ "slow.example.net", MS_SPF_FAIL, "x.test", 0, NULL, MS_DMARC_TEMPERROR, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ms_dmarc_verdict *v = eval(t[i].from, t[i].spf, t[i].spfdom, t[i].dk, t[i].dkdom);
		ck_assert_msg(ms_dmarc_verdict_result(v) == t[i].res, "case %zu %s: %s (%s)", i,
			      t[i].from, ms_dmarc_result_str(ms_dmarc_verdict_result(v)),
			      ms_dmarc_verdict_reason(v));
		ck_assert_msg(ms_dmarc_verdict_disposition(v) == t[i].disp, "case %zu disposition %s",
			      i, ms_dmarc_policy_str(ms_dmarc_verdict_disposition(v)));
		if (t[i].tag)
			ck_assert_str_eq(ms_dmarc_verdict_policy_tag(v), t[i].tag);
		else
			ck_assert_ptr_null(ms_dmarc_verdict_policy_tag(v));
		ck_assert_ptr_nonnull(ms_dmarc_verdict_reason(v));
		ms_dmarc_verdict_free(v);
	}
}
END_TEST

START_TEST(org_domain_psl)
{
	char org[256];
	ck_assert_int_eq(ms_dmarc_org_domain(dm, "a.b.example.co.uk", org, sizeof(org)), MS_OK);
	ck_assert_str_eq(org, "example.co.uk");
	ck_assert_int_eq(ms_dmarc_org_domain(dm, "Mail.Example.COM", org, sizeof(org)), MS_OK);
	ck_assert_str_eq(org, "example.com");
	ck_assert_int_eq(ms_dmarc_org_domain(dm, "x.y.example.test", org, sizeof(org)), MS_OK);
	ck_assert_str_eq(org, "example.test");
}
END_TEST

START_TEST(tree_walk)
{
	fakedns_add(z, "_dmarc.psd.example", "TXT", "v=DMARC1; p=reject; psd=y");
	fakedns_add(z, "_dmarc.org.psd.example", "TXT", "v=DMARC1; p=none");
	ms_dmarc_set_tree_walk(dm, 1);
	/* the policy comes from the closest record; the org domain is the
	 * one below the psd=y domain */
	struct ms_dmarc_verdict *v = eval("a.b.org.psd.example", MS_SPF_PASS, "org.psd.example",
					  0, NULL);
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_PASS);
	ck_assert_str_eq(ms_dmarc_verdict_policy_domain(v), "org.psd.example");
	ck_assert_str_eq(ms_dmarc_verdict_org_domain(v), "org.psd.example");
	ms_dmarc_verdict_free(v);
	/* a sibling under the PSD does not align */
	v = eval("org.psd.example", MS_SPF_PASS, "other.psd.example", 0, NULL);
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_FAIL);
	ms_dmarc_verdict_free(v);
	/* long names: at most 8 queries */
	unsigned before = fakedns_queries(z);
	v = eval("a.b.c.d.e.f.g.h.i.j.k.l.nothing.example", MS_SPF_FAIL, NULL, 0, NULL);
	ck_assert_int_eq(ms_dmarc_verdict_result(v), MS_DMARC_NONE);
	ck_assert_uint_le(fakedns_queries(z) - before, 8);
	ms_dmarc_verdict_free(v);
}
END_TEST

START_TEST(report_destination)
{
	fakedns_add(z, "example.com._report._dmarc.reports.example.net", "TXT", "v=DMARC1");
	fakedns_add_timeout(z, "example.com._report._dmarc.slow.example.net", 0);
	int ok = 9;
	ck_assert_int_eq(ms_dmarc_report_dest_verify(dm, "example.com", "mailto:r@mail.example.com",
						     &ok, NULL, NULL, 0), MS_OK);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(ms_dmarc_report_dest_verify(dm, "example.com",
						     "mailto:r@reports.example.net!10m", &ok, NULL,
						     NULL, 0), MS_OK);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(ms_dmarc_report_dest_verify(dm, "example.com", "mailto:r@evil.test", &ok,
						     NULL, NULL, 0), MS_OK);
	ck_assert_int_eq(ok, 0);
	ck_assert_int_eq(ms_dmarc_report_dest_verify(dm, "example.com", "mailto:r@slow.example.net",
						     &ok, NULL, NULL, 0), MS_OK);
	ck_assert_int_eq(ok, -1);
	ck_assert_int_eq(ms_dmarc_report_dest_verify(dm, "example.com", "https://x.test/", &ok,
						     NULL, NULL, 0), MS_ERR_UNSUPPORTED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dmarc");
	TCase *tc = tcase_create("unit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, record_parse_table);
	tcase_add_test(tc, record_uris);
	tcase_add_test(tc, from_attack_table);
	tcase_add_test(tc, from_multiple_headers_and_limits);
	tcase_add_test(tc, from_message_fields);
	tcase_add_test(tc, from_message_bound);
	tcase_add_test(tc, policy_table);
	tcase_add_test(tc, org_domain_psl);
	tcase_add_test(tc, tree_walk);
	tcase_add_test(tc, report_destination);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
