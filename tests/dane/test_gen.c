/*
 * test_gen.c - generated PKIs: DANE-TA at depth 1-4 with the chain sent in
 * order, reversed and shuffled, TA sent and not sent, 2 0 0 / 2 1 0 from
 * DNS, DANE-EE with every selector and matching type, expired leaves, names
 * and wildcards, digest agility, unusable and malformed records, garbage
 * DER; RSA-2048/4096, P-256/384 and Ed25519.  Every case also runs through
 * OpenSSL's native DANE code; where the verdicts differ by design the case
 * names the rule.
 */
#include "pki.h"

/* Records are written positionally: { usage, selector, mtype, cert }. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <openssl/rand.h>

static const int64_t NOW = 1900000000; /* 2030-03-17: fixed, and past 2038-safe */
/* g_ctx has the decoded-certificate cache on (shared by every case, so
 * chains repeat across cases); g_ctx_plain has it off.  Each case runs on
 * both, the cached one twice (cold, then warm), and all must agree. */
static struct ms_dane_ctx *g_ctx, *g_ctx_plain;
static EVP_PKEY *g_keys[ALG_COUNT][PKI_DEPTH];
static int g_cases, g_oracle_runs, g_oracle_by_rule;

static void setup_keys(void)
{
	if (g_keys[0][0])
		return;
	for (int a = 0; a < ALG_COUNT; a++)
		for (int d = 0; d < PKI_DEPTH; d++) {
			/* RSA-4096: leaf and root; 2048 between keeps keygen time sane. */
			enum alg k = a;
			if (a == ALG_RSA4096 && d > 0 && d < PKI_DEPTH - 1)
				k = ALG_RSA2048;
			g_keys[a][d] = pki_key(k);
		}
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &g_ctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(g_ctx, 64), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(g_ctx, 64), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &g_ctx_plain), MS_OK);
}

/* The same input on the context without the cache, and again on the cached
 * one (served from the cache now): every result field must be the same. */
static void check_cache_agrees(const char *label, const struct ms_dane_input *in,
			       const struct ms_dane_result *res)
{
	struct ms_dane_ctx *ctxs[2] = { g_ctx_plain, g_ctx };
	for (int k = 0; k < 2; k++) {
		struct ms_dane_result r = { .version = MS_DANE_RESULT_VERSION };
		char why[256] = "";
		ck_assert_int_eq(ms_dane_verify(ctxs[k], in, &r, why, sizeof(why)), MS_OK);
		ck_assert_msg(r.verdict == res->verdict && r.depth == res->depth &&
			      r.matched == res->matched && r.tlsrpt == res->tlsrpt &&
			      r.x509_error == res->x509_error && r.usable == res->usable &&
			      strcmp(r.reason, res->reason) == 0,
			      "%s: the %s context differs: %s depth %d (%s) vs %s depth %d (%s)",
			      label, k ? "cached (warm)" : "uncached", ms_dane_verdict_str(r.verdict),
			      r.depth, r.reason, ms_dane_verdict_str(res->verdict), res->depth,
			      res->reason);
	}
}

struct rec {
	uint8_t u, s, m;
	X509 *of;           /* the record is for this cert (NULL: raw data) */
	uint8_t raw[96];    /* raw data when `of` is NULL */
	size_t rawlen;
	int corrupt;        /* flip a bit of the data */
	long truncate;      /* drop this many bytes (negative: append) */
};

struct gcase {
	const char *label;
	X509 *sent[PKI_DEPTH + 1];
	size_t nsent;
	const uint8_t *garbage;   /* replaces sent[garbage_at] when set */
	size_t garbage_len;
	size_t garbage_at;
	struct rec recs[6];
	size_t nrecs;
	const char *names[3];
	size_t nnames;
	int authentic;
	enum ms_dane_verdict want;
	int want_depth;
	enum ms_tlsrpt_result want_rpt;  /* checked when nonzero */
	const char *rule;  /* set when OpenSSL differs by design */
};

static void run_case(const struct gcase *c)
{
	g_cases++;
	struct dchain ch = { .n = 0 };
	for (size_t i = 0; i < c->nsent; i++)
		dchain_add(&ch, c->sent[i]);
	if (c->garbage) {
		ch.c[c->garbage_at].der = c->garbage;
		ch.c[c->garbage_at].len = c->garbage_len;
	}
	struct ms_dane_tlsa t[6];
	static uint8_t data[6][8192];
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		size_t n;
		if (r->of) {
			n = pki_tlsa_data(r->of, r->s, r->m, data[i], sizeof(data[i]) - 8);
		} else {
			memcpy(data[i], r->raw, r->rawlen);
			n = r->rawlen;
		}
		if (r->corrupt)
			data[i][n / 2] ^= 0x01;
		if (r->truncate > 0)
			n -= (size_t)r->truncate;
		else if (r->truncate < 0)
			for (long k = 0; k < -r->truncate; k++)
				data[i][n++] = 0x5a;
		t[i] = (struct ms_dane_tlsa){ r->u, r->s, r->m, data[i], n };
	}
	struct ms_dane_input in = {
		.version = MS_DANE_INPUT_VERSION,
		.chain = ch.c, .nchain = ch.n,
		.tlsa = t, .ntlsa = c->nrecs,
		.authentic = c->authentic,
		.names = c->names, .nnames = c->nnames,
		.now = NOW,
	};
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[256] = "";
	ck_assert_int_eq(ms_dane_verify(g_ctx, &in, &res, why, sizeof(why)), MS_OK);
	ck_assert_msg(res.verdict == c->want && res.depth == c->want_depth,
		      "%s: got %s depth %d (%s), want %s depth %d", c->label,
		      ms_dane_verdict_str(res.verdict), res.depth, res.reason,
		      ms_dane_verdict_str(c->want), c->want_depth);
	if (c->want_rpt)
		ck_assert_msg(res.tlsrpt == c->want_rpt, "%s: tlsrpt %s", c->label,
			      ms_tlsrpt_result_name(res.tlsrpt));
	if (res.verdict == MS_DANE_VERIFIED)
		ck_assert_int_ge(res.matched, 0);
	check_cache_agrees(c->label, &in, &res);

	/*
	 * All records unusable: by design not OpenSSL's outcome.  RFC 7672
	 * s2.2 says deliver over TLS without checking the certificate; OpenSSL
	 * (given every record, PKIX ones included, and no PKIX trust store)
	 * has no DANE to go on and fails verification.
	 */
	if (c->authentic && !c->garbage && res.verdict == MS_DANE_ALL_UNUSABLE) {
		X509 *certs[PKI_DEPTH + 1];
		for (size_t i = 0; i < c->nsent; i++)
			certs[i] = (X509 *)c->sent[i];
		struct oracle o = oracle_verify(certs, c->nsent, t, c->nrecs, c->names, c->nnames,
						NOW, 1, 2);
		g_oracle_runs++;
		g_oracle_by_rule++;
		ck_assert_msg(!o.ok, "%s: OpenSSL verified an RRset SMTP finds all unusable",
			      c->label);
	}
	/* Differential against OpenSSL's native DANE. */
	if (c->authentic && c->nrecs > 0 && !c->garbage && res.verdict != MS_DANE_ALL_UNUSABLE) {
		struct ms_dane_tlsa usable[6];
		size_t nu = smtp_usable(t, c->nrecs, usable);
		X509 *certs[PKI_DEPTH + 1];
		for (size_t i = 0; i < c->nsent; i++)
			certs[i] = (X509 *)c->sent[i];
		struct oracle o = oracle_verify(certs, c->nsent, usable, nu, c->names,
						c->nnames, NOW, 1, 2);
		g_oracle_runs++;
		int ours_ok = res.verdict == MS_DANE_VERIFIED;
		int same = o.ok == ours_ok && (!o.ok || o.depth == res.depth);
		if (c->rule) {
			g_oracle_by_rule++;
			ck_assert_msg(!same, "%s: expected to differ from OpenSSL by %s, but agrees",
				      c->label, c->rule);
		} else {
			ck_assert_msg(same, "%s: ours %s depth %d, OpenSSL ok=%d err=%d (%s) depth %d",
				      c->label, ms_dane_verdict_str(res.verdict), res.depth, o.ok,
				      o.err, X509_verify_cert_error_string(o.err), o.depth);
		}
	}
	dchain_free(&ch);
}

static struct gcase base_case(const char *label)
{
	struct gcase c;
	memset(&c, 0, sizeof(c));
	c.label = label;
	c.authentic = 1;
	c.names[0] = "mx.example.test";
	c.nnames = 1;
	return c;
}

/* Chain orders: 0 in order, 1 reversed after the leaf, 2 shuffled. */
static void send_chain(struct gcase *c, const struct pki *p, int top, int order)
{
	c->nsent = 0;
	c->sent[c->nsent++] = p->cert[0];
	int idx[PKI_DEPTH], n = 0;
	for (int d = 1; d <= top; d++)
		idx[n++] = d;
	if (order == 1) {
		for (int i = 0; i < n / 2; i++) {
			int tmp = idx[i];
			idx[i] = idx[n - 1 - i];
			idx[n - 1 - i] = tmp;
		}
	} else if (order == 2) {
		/* A fixed derangement-like shuffle: odd positions first. */
		int out[PKI_DEPTH], k = 0;
		for (int i = 1; i < n; i += 2)
			out[k++] = idx[i];
		for (int i = 0; i < n; i += 2)
			out[k++] = idx[i];
		memcpy(idx, out, sizeof(int) * (size_t)n);
	}
	for (int i = 0; i < n; i++)
		c->sent[c->nsent++] = p->cert[idx[i]];
}

START_TEST(ta_depths)
{
	setup_keys();
	int a = _i;
	struct pki p;
	pki_chain(&p, g_keys[a], NOW, "DNS:mx.example.test", -86400, 86400 * 90);
	static const uint8_t sels[][2] = { { 1, 1 }, { 0, 1 }, { 1, 2 }, { 0, 0 }, { 1, 0 } };
	char label[128];
	for (int d = 1; d < PKI_DEPTH; d++) {
		for (int order = 0; order < 3; order++) {
			for (size_t k = 0; k < sizeof(sels) / sizeof(sels[0]); k++) {
				for (int sent = 0; sent < 2; sent++) {
					snprintf(label, sizeof(label), "%s TA depth %d order %d 2 %u %u %s",
						 alg_names[a], d, order, sels[k][0], sels[k][1],
						 sent ? "TA sent" : "TA not sent");
					struct gcase c = base_case(label);
					send_chain(&c, &p, sent ? PKI_DEPTH - 1 : d - 1, order);
					c.recs[0] = (struct rec){ 2, sels[k][0], sels[k][1], p.cert[d] };
					c.nrecs = 1;
					int full = sels[k][1] == 0;
					if (sent) {
						c.want = MS_DANE_VERIFIED;
						c.want_depth = d;
					} else if (full) {
						/* 2 0 0: the anchor from DNS; 2 1 0: the key
						 * anchors the certificate it signed. */
						c.want = MS_DANE_VERIFIED;
						c.want_depth = sels[k][0] == 0 ? d : d - 1;
					} else {
						c.want = MS_DANE_NO_MATCH;
						c.want_depth = -1;
						c.want_rpt = MS_TLSRPT_CERTIFICATE_NOT_TRUSTED;
					}
					run_case(&c);
				}
			}
		}
	}
	pki_free(&p);
}
END_TEST

START_TEST(ee_and_dates)
{
	setup_keys();
	int a = _i;
	char label[128];
	/* An expired leaf and a not-yet-valid leaf. */
	for (int v = 0; v < 2; v++) {
		struct pki p;
		pki_chain(&p, g_keys[a], NOW, "DNS:mx.example.test",
			  v == 0 ? -86400L * 100 : 86400L, v == 0 ? -86400L : 86400L * 10);
		static const uint8_t ee[][2] = { { 0, 1 }, { 1, 1 }, { 1, 2 }, { 0, 2 }, { 0, 0 }, { 1, 0 } };
		for (size_t k = 0; k < sizeof(ee) / sizeof(ee[0]); k++) {
			snprintf(label, sizeof(label), "%s EE 3 %u %u %s leaf", alg_names[a], ee[k][0],
				 ee[k][1], v ? "future" : "expired");
			struct gcase c = base_case(label);
			send_chain(&c, &p, 2, 0);
			c.recs[0] = (struct rec){ 3, ee[k][0], ee[k][1], p.cert[0] };
			c.nrecs = 1;
			c.want = MS_DANE_VERIFIED;
			c.want_depth = 0;
			run_case(&c);
		}
		/* DANE-EE with names that do not match: still verified. */
		snprintf(label, sizeof(label), "%s EE wrong name", alg_names[a]);
		struct gcase c = base_case(label);
		send_chain(&c, &p, 1, 0);
		c.recs[0] = (struct rec){ 3, 1, 1, p.cert[0] };
		c.nrecs = 1;
		c.names[0] = "other.test";
		c.want = MS_DANE_VERIFIED;
		run_case(&c);
		/* DANE-TA: the bad leaf dates fail. */
		snprintf(label, sizeof(label), "%s TA %s leaf", alg_names[a], v ? "future" : "expired");
		c = base_case(label);
		send_chain(&c, &p, 3, 2);
		c.recs[0] = (struct rec){ 2, 1, 1, p.cert[2] };
		c.nrecs = 1;
		c.want = MS_DANE_CHAIN_INVALID;
		c.want_depth = -1;
		c.want_rpt = MS_TLSRPT_CERTIFICATE_EXPIRED;
		run_case(&c);
		pki_free(&p);
	}
}
END_TEST

START_TEST(names_and_wildcards)
{
	setup_keys();
	int a = _i;
	struct {
		const char *san;
		const char *names[2];
		size_t nnames;
		int ok;
		const char *rule;
	} nc[] = {
		{ "DNS:mx.example.test", { "mx.example.test" }, 1, 1, NULL },
		{ "DNS:mx.example.test", { "base.example.test", "mx.example.test" }, 2, 1, NULL },
		{ "DNS:mx.example.test", { "other.test" }, 1, 0, NULL },
		{ "DNS:mx.example.test", { "x.mx.example.test" }, 1, 0, NULL },
		{ "DNS:*.example.test", { "mx.example.test" }, 1, 1, NULL },
		{ "DNS:*.example.test", { "a.mx.example.test" }, 1, 0, NULL },
		{ "DNS:*.example.test", { "example.test" }, 1, 0, NULL },
		{ "DNS:m*.example.test", { "mx.example.test" }, 1, 0,
		  "RFC 7672 s3.2.3 (wildcard only as the whole left-most label)" },
		{ "DNS:mx.*.test", { "mx.example.test" }, 1, 0, NULL },
		{ "DNS:other.test,DNS:MX.Example.Test", { "mx.example.test" }, 1, 1, NULL },
	};
	char label[160];
	for (size_t i = 0; i < sizeof(nc) / sizeof(nc[0]); i++) {
		struct pki p;
		pki_chain(&p, g_keys[a], NOW, nc[i].san, -86400, 86400 * 30);
		snprintf(label, sizeof(label), "%s TA names %s vs %s", alg_names[a], nc[i].san,
			 nc[i].names[nc[i].nnames - 1]);
		struct gcase c = base_case(label);
		send_chain(&c, &p, 2, 1);
		c.recs[0] = (struct rec){ 2, 0, 1, p.cert[2] };
		c.nrecs = 1;
		memcpy(c.names, nc[i].names, sizeof(nc[i].names));
		c.nnames = nc[i].nnames;
		c.want = nc[i].ok ? MS_DANE_VERIFIED : MS_DANE_NAME_MISMATCH;
		c.want_depth = nc[i].ok ? 2 : -1;
		c.want_rpt = nc[i].ok ? 0 : MS_TLSRPT_CERTIFICATE_HOST_MISMATCH;
		c.rule = nc[i].rule;
		run_case(&c);
		pki_free(&p);
	}
}
END_TEST

START_TEST(records)
{
	setup_keys();
	int a = _i;
	struct pki p;
	pki_chain(&p, g_keys[a], NOW, "DNS:mx.example.test", -86400, 86400 * 30);
	char label[160];
	struct gcase c;
#define CASE(name) (snprintf(label, sizeof(label), "%s %s", alg_names[a], name), c = base_case(label), send_chain(&c, &p, 3, 0))

	/* Mixed EE + TA: any match suffices. */
	CASE("EE wrong + TA right");
	c.recs[0] = (struct rec){ 3, 1, 1, p.cert[0], .corrupt = 1 };
	c.recs[1] = (struct rec){ 2, 1, 1, p.cert[3] };
	c.nrecs = 2; c.want = MS_DANE_VERIFIED; c.want_depth = 3;
	run_case(&c);
	CASE("EE right + TA wrong");
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[3], .corrupt = 1 };
	c.recs[1] = (struct rec){ 3, 0, 1, p.cert[0] };
	c.nrecs = 2; c.want = MS_DANE_VERIFIED; c.want_depth = 0;
	run_case(&c);
	/* RFC 7671 s9: SHA-512 present decides for 2 1. */
	CASE("agility: wrong SHA-512 beats right SHA-256");
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[2] };
	c.recs[1] = (struct rec){ 2, 1, 2, p.cert[2], .corrupt = 1 };
	c.nrecs = 2; c.want = MS_DANE_NO_MATCH; c.want_depth = -1;
	run_case(&c);
	CASE("agility: right SHA-512, wrong SHA-256");
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[2], .corrupt = 1 };
	c.recs[1] = (struct rec){ 2, 1, 2, p.cert[2] };
	c.nrecs = 2; c.want = MS_DANE_VERIFIED; c.want_depth = 2;
	run_case(&c);
	CASE("agility is per selector: wrong 2 1 2, right 2 0 1");
	c.recs[0] = (struct rec){ 2, 0, 1, p.cert[2] };
	c.recs[1] = (struct rec){ 2, 1, 2, p.cert[2], .corrupt = 1 };
	c.nrecs = 2; c.want = MS_DANE_VERIFIED; c.want_depth = 2;
	run_case(&c);
	CASE("agility: full data always compared");
	c.recs[0] = (struct rec){ 3, 1, 0, p.cert[0] };
	c.recs[1] = (struct rec){ 3, 1, 2, p.cert[0], .corrupt = 1 };
	c.nrecs = 2; c.want = MS_DANE_VERIFIED; c.want_depth = 0;
	run_case(&c);
	/* Unusable records: all-unusable is its own outcome, never PKIX. */
	static const struct { uint8_t u, s, m; long trunc; const char *what; } bad[] = {
		{ 3, 1, 1, 1, "3 1 1 truncated rdata" },
		{ 3, 1, 1, -1, "3 1 1 oversized rdata" },
		{ 3, 1, 2, 1, "3 1 2 truncated rdata" },
		{ 2, 0, 2, -8, "2 0 2 oversized rdata" },
		{ 2, 0, 0, 20, "2 0 0 truncated certificate" },
		{ 2, 1, 0, -2, "2 1 0 trailing garbage" },
		{ 1, 1, 1, 0, "PKIX-EE 1 1 1" },
		{ 0, 0, 1, 0, "PKIX-TA 0 0 1" },
		{ 4, 1, 1, 0, "unknown usage 4" },
		{ 3, 2, 1, 0, "unknown selector 2" },
		{ 3, 1, 3, 0, "unknown matching type 3" },
		{ 255, 1, 1, 0, "private usage 255" },
		{ 3, 255, 1, 0, "private selector 255" },
		{ 3, 1, 255, 0, "private matching type 255" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CASE(bad[i].what);
		X509 *of = bad[i].u == 0 ? p.cert[3] : bad[i].u == 2 ? p.cert[2] : p.cert[0];
		uint8_t m = bad[i].m > 2 ? 1 : bad[i].m;
		uint8_t s = bad[i].s > 1 ? 1 : bad[i].s;
		c.recs[0] = (struct rec){ bad[i].u, s, m, of, .truncate = bad[i].trunc };
		c.nrecs = 1;
		/* Relabel after computing the data for a known type. */
		c.recs[0].s = bad[i].s;
		c.recs[0].m = bad[i].m;
		c.want = MS_DANE_ALL_UNUSABLE; c.want_depth = -1;
		c.want_rpt = MS_TLSRPT_TLSA_INVALID;
		run_case(&c);
		/* ... and next to a usable matching record it is ignored. */
		CASE(bad[i].what);
		c.recs[0] = (struct rec){ bad[i].u, s, m, of, .truncate = bad[i].trunc };
		c.recs[0].s = bad[i].s;
		c.recs[0].m = bad[i].m;
		c.recs[1] = (struct rec){ 3, 1, 1, p.cert[0] };
		c.nrecs = 2; c.want = MS_DANE_VERIFIED; c.want_depth = 0;
		run_case(&c);
	}
	/* Not DNSSEC-secure; no records. */
	CASE("insecure");
	c.recs[0] = (struct rec){ 3, 1, 1, p.cert[0] };
	c.nrecs = 1; c.authentic = 0; c.want = MS_DANE_INSECURE; c.want_depth = -1;
	run_case(&c);
	CASE("no records");
	c.want = MS_DANE_NO_RECORDS; c.want_depth = -1;
	run_case(&c);
	/* TA record that matches only the leaf: never a trust anchor. */
	CASE("TA matching the leaf only");
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[0] };
	c.nrecs = 1; c.want = MS_DANE_NO_MATCH; c.want_depth = -1;
	run_case(&c);
	/* Garbage DER. */
	static const uint8_t junk[] = { 0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef };
	CASE("garbage leaf, EE");
	c.garbage = junk; c.garbage_len = sizeof(junk); c.garbage_at = 0;
	c.recs[0] = (struct rec){ 3, 1, 1, p.cert[0] };
	c.nrecs = 1; c.want = MS_DANE_MALFORMED; c.want_depth = -1;
	run_case(&c);
	CASE("garbage leaf, TA");
	c.garbage = junk; c.garbage_len = sizeof(junk); c.garbage_at = 0;
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[2] };
	c.nrecs = 1; c.want = MS_DANE_MALFORMED; c.want_depth = -1;
	run_case(&c);
	CASE("garbage intermediate, TA");
	c.garbage = junk; c.garbage_len = sizeof(junk); c.garbage_at = 1;
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[2] };
	c.nrecs = 1; c.want = MS_DANE_MALFORMED; c.want_depth = -1;
	run_case(&c);
#undef CASE
	pki_free(&p);
}
END_TEST

/* The anchor's own dates are not checked (docs/dane.md). */
START_TEST(expired_anchor)
{
	setup_keys();
	struct pki p;
	pki_chain(&p, g_keys[ALG_P256], NOW, "DNS:mx.example.test", -86400, 86400 * 30);
	/* Re-issue CA 2 expired, signed by the root, and CA 1 under it. */
	X509 *ca2 = pki_cert(p.key[2], "Test CA 2", p.cert[3], p.key[3], 1, NULL, NOW,
			     -86400L * 400, -86400L * 10, 900);
	struct gcase c = base_case("expired DANE-TA anchor sent");
	c.sent[0] = p.cert[0];
	c.sent[1] = p.cert[1];
	c.sent[2] = ca2;
	c.nsent = 3;
	c.recs[0] = (struct rec){ 2, 0, 1, ca2 };
	c.nrecs = 1;
	c.want = MS_DANE_VERIFIED;
	c.want_depth = 2;
	run_case(&c);
	/* An expired certificate below the anchor fails. */
	X509 *ca1 = pki_cert(p.key[1], "Test CA 1", p.cert[2], p.key[2], 1, NULL, NOW,
			     -86400L * 400, -86400L * 10, 901);
	c = base_case("expired intermediate below the anchor");
	c.sent[0] = p.cert[0];
	c.sent[1] = ca1;
	c.sent[2] = p.cert[2];
	c.nsent = 3;
	c.recs[0] = (struct rec){ 2, 1, 1, p.cert[2] };
	c.nrecs = 1;
	c.want = MS_DANE_CHAIN_INVALID;
	c.want_depth = -1;
	c.want_rpt = MS_TLSRPT_CERTIFICATE_EXPIRED;
	run_case(&c);
	X509_free(ca1);
	X509_free(ca2);
	pki_free(&p);
}
END_TEST

/*
 * An expired self-signed root named by a DANE-TA record.  mailsec verifies:
 * the anchor is the name and key the DNSSEC-signed record vouches for, and its
 * validity dates are not path-validation input (RFC 5280 s6.1.1(d), RFC 7671
 * s5.2.2).  OpenSSL 3.0's native DANE, so Postfix, checks a self-signed
 * anchor's dates and rejects it: a documented, intended difference.
 */
START_TEST(expired_root_anchor)
{
	setup_keys();
	struct pki p;
	pki_chain(&p, g_keys[ALG_P256], NOW, "DNS:mx.example.test", -86400, 86400 * 30);
	/* The root re-issued (same name, same key) with dates long past. */
	X509 *root = pki_cert(p.key[4], "Test Root", NULL, NULL, 1, NULL, NOW,
			      -86400L * 800, -86400L * 10, 902);
	static const char rule[] = "RFC 5280 s6.1.1(d), RFC 7671 s5.2.2: a trust anchor "
				   "is a name and a key, its dates are not checked "
				   "(OpenSSL rejects an expired self-signed anchor)";
	const struct {
		const char *label;
		uint8_t s, m;
		int sent;
	} v[] = {
		{ "expired self-signed root, 2 0 1, sent", 0, 1, 1 },
		{ "expired self-signed root, 2 1 1, sent", 1, 1, 1 },
		{ "expired self-signed root, 2 0 0 from DNS", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct gcase c = base_case(v[i].label);
		for (int d = 0; d < 4; d++)
			c.sent[c.nsent++] = p.cert[d];
		if (v[i].sent)
			c.sent[c.nsent++] = root;
		c.recs[0] = (struct rec){ 2, v[i].s, v[i].m, root };
		c.nrecs = 1;
		c.want = MS_DANE_VERIFIED;
		c.want_depth = 4;
		c.rule = rule;
		run_case(&c);
	}
	X509_free(root);
	pki_free(&p);
}
END_TEST

START_TEST(limits)
{
	setup_keys();
	struct ms_dane_tlsa t[MS_DANE_MAX_RECORDS + 1];
	uint8_t d[32] = { 0 };
	for (size_t i = 0; i < MS_DANE_MAX_RECORDS + 1; i++)
		t[i] = (struct ms_dane_tlsa){ 3, 1, 1, d, 32 };
	uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct ms_dane_cert cert = { der, 4 };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = &cert,
				    .nchain = 1, .tlsa = t, .ntlsa = MS_DANE_MAX_RECORDS + 1,
				    .authentic = 1, .now = NOW };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[128];
	ck_assert_int_eq(ms_dane_verify(g_ctx, &in, &res, why, sizeof(why)), MS_ERR_LIMIT);
	in.ntlsa = 1;
	ck_assert_int_eq(ms_dane_verify(g_ctx, &in, &res, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(res.verdict, MS_DANE_MALFORMED);
	ck_assert_int_eq(ms_dane_verify(NULL, &in, &res, why, sizeof(why)), MS_ERR_INVALID);
	in.version = 0;
	ck_assert_int_eq(ms_dane_verify(g_ctx, &in, &res, why, sizeof(why)), MS_ERR_INVALID);
}
END_TEST

/* The SSL* adapter: a real handshake over a BIO pair, server sending leaf +
 * three intermediates, DANE-TA on the third. */
static void handshake(SSL *cl, SSL *sv)
{
	for (int i = 0; i < 100; i++) {
		int a = SSL_do_handshake(cl), b = SSL_do_handshake(sv);
		if (a == 1 && b == 1)
			return;
	}
	ck_abort_msg("handshake did not finish");
}

START_TEST(ssl_adapter)
{
	setup_keys();
	struct pki p;
	pki_chain(&p, g_keys[ALG_P256], (int64_t)time(NULL), "DNS:mx.example.test", -86400,
		  86400 * 30);
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	ck_assert_int_eq(SSL_CTX_use_certificate(sctx, p.cert[0]), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(sctx, p.key[0]), 1);
	/* Sent out of order: CA 3, CA 1, CA 2. */
	ck_assert_int_eq(SSL_CTX_add1_chain_cert(sctx, p.cert[3]), 1);
	ck_assert_int_eq(SSL_CTX_add1_chain_cert(sctx, p.cert[1]), 1);
	ck_assert_int_eq(SSL_CTX_add1_chain_cert(sctx, p.cert[2]), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL *sv = SSL_new(sctx), *cl = SSL_new(cctx);
	BIO *b1, *b2;
	ck_assert_int_eq(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
	SSL_set_bio(sv, b1, b1);
	SSL_set_bio(cl, b2, b2);
	SSL_set_accept_state(sv);
	SSL_set_connect_state(cl);
	handshake(cl, sv);

	uint8_t d[32];
	pki_tlsa_data(p.cert[3], 1, 1, d, sizeof(d));
	struct ms_dane_tlsa t = { 2, 1, 1, d, 32 };
	const char *names[] = { "mx.example.test" };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .tlsa = &t, .ntlsa = 1,
				    .authentic = 1, .names = names, .nnames = 1 };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[128] = "";
	ck_assert_int_eq(ms_dane_verify_ssl(g_ctx, cl, &in, &res, why, sizeof(why)), MS_OK);
	ck_assert_msg(res.verdict == MS_DANE_VERIFIED, "%s", res.reason);
	ck_assert_int_eq(res.depth, 3);
	ck_assert_int_eq(res.matched, 0);
	/* The server side has no peer chain. */
	ck_assert_int_eq(ms_dane_verify_ssl(g_ctx, sv, &in, &res, why, sizeof(why)), MS_ERR_STATE);
	SSL_free(sv);
	SSL_free(cl);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	pki_free(&p);
}
END_TEST

/* The SSL* adapter verifies the handshake's own X509 objects (no second
 * decode): every verdict must be the one the DER path gives for the same
 * chain, with the certificate cache (g_ctx, three passes: cold, warm, and
 * the DER path served by what the adapter cached) and without it. */
static SSL *handshake_sending(SSL_CTX **sctx, SSL_CTX **cctx, SSL **sv, const struct pki *p)
{
	*sctx = SSL_CTX_new(TLS_server_method());
	*cctx = SSL_CTX_new(TLS_client_method());
	ck_assert_int_eq(SSL_CTX_use_certificate(*sctx, p->cert[0]), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(*sctx, p->key[0]), 1);
	for (int d = 1; d < PKI_DEPTH; d++)
		ck_assert_int_eq(SSL_CTX_add1_chain_cert(*sctx, p->cert[d]), 1);
	SSL_CTX_set_verify(*cctx, SSL_VERIFY_NONE, NULL);
	*sv = SSL_new(*sctx);
	SSL *cl = SSL_new(*cctx);
	BIO *b1, *b2;
	ck_assert_int_eq(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
	SSL_set_bio(*sv, b1, b1);
	SSL_set_bio(cl, b2, b2);
	SSL_set_accept_state(*sv);
	SSL_set_connect_state(cl);
	handshake(cl, *sv);
	return cl;
}

START_TEST(ssl_adapter_same_as_der)
{
	setup_keys();
	/* leaf valid, leaf expired */
	const long nb[2] = { -86400, -86400 * 30 }, na[2] = { 86400 * 30, -86400 };
	const char *good[] = { "mx.example.test" }, *bad[] = { "other.example.test" };
	int verified = 0, failed = 0;
	for (int shape = 0; shape < 2; shape++) {
		struct pki p;
		pki_chain(&p, g_keys[ALG_P256], (int64_t)time(NULL), "DNS:mx.example.test",
			  nb[shape], na[shape]);
		SSL_CTX *sctx, *cctx;
		SSL *sv, *cl = handshake_sending(&sctx, &cctx, &sv, &p);
		STACK_OF(X509) *sk = SSL_get_peer_cert_chain(cl);
		int n = sk_X509_num(sk);
		ck_assert_int_eq(n, PKI_DEPTH);
		struct ms_dane_cert chain[PKI_DEPTH];
		unsigned char *der[PKI_DEPTH] = { 0 };
		for (int i = 0; i < n; i++) {
			int len = i2d_X509(sk_X509_value(sk, i), &der[i]);
			ck_assert_int_gt(len, 0);
			chain[i] = (struct ms_dane_cert){ der[i], (size_t)len };
		}
		/* 2 1 1 on each CA, 2 0 1 on the root, 3 1 1 on the leaf, and
		 * a 2 1 1 that matches nothing */
		struct { int at, u, s; int wrong; } recs[] = {
			{ 1, 2, 1, 0 }, { 2, 2, 1, 0 }, { 3, 2, 1, 0 }, { 4, 2, 0, 0 },
			{ 0, 3, 1, 0 }, { 2, 2, 1, 1 },
		};
		for (size_t r = 0; r < sizeof(recs) / sizeof(recs[0]); r++) {
			uint8_t d[32];
			pki_tlsa_data(p.cert[recs[r].at], recs[r].s, 1, d, sizeof(d));
			d[0] ^= recs[r].wrong ? 0xff : 0;
			struct ms_dane_tlsa t = { (uint8_t)recs[r].u, (uint8_t)recs[r].s, 1, d, 32 };
			for (int nm = 0; nm < 2; nm++) {
				struct ms_dane_input in = {
					.version = MS_DANE_INPUT_VERSION, .tlsa = &t, .ntlsa = 1,
					.authentic = 1, .names = nm ? bad : good, .nnames = 1 };
				struct ms_dane_input din = in;
				din.chain = chain;
				din.nchain = (size_t)n;
				struct ms_dane_result want = { .version = MS_DANE_RESULT_VERSION };
				ck_assert_int_eq(ms_dane_verify(g_ctx_plain, &din, &want, NULL, 0),
						 MS_OK);
				struct ms_dane_ctx *ctxs[4] = { g_ctx_plain, g_ctx, g_ctx, g_ctx };
				for (int k = 0; k < 4; k++) {
					struct ms_dane_result got = { .version = MS_DANE_RESULT_VERSION };
					ms_status st = k == 3 ?
						ms_dane_verify(ctxs[k], &din, &got, NULL, 0) :
						ms_dane_verify_ssl(ctxs[k], cl, &in, &got, NULL, 0);
					ck_assert_int_eq(st, MS_OK);
					ck_assert_msg(got.verdict == want.verdict &&
						      got.depth == want.depth &&
						      got.matched == want.matched &&
						      got.tlsrpt == want.tlsrpt &&
						      got.x509_error == want.x509_error,
						      "shape %d record %zu name %d pass %d: %s (%d, %d) "
						      "against %s (%d, %d)", shape, r, nm, k,
						      ms_dane_verdict_str(got.verdict), got.depth,
						      got.x509_error, ms_dane_verdict_str(want.verdict),
						      want.depth, want.x509_error);
				}
				if (want.verdict == MS_DANE_VERIFIED)
					verified++;
				else
					failed++;
			}
		}
		for (int i = 0; i < n; i++)
			OPENSSL_free(der[i]);
		SSL_free(sv);
		SSL_free(cl);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
		pki_free(&p);
	}
	/* the matrix holds both outcomes (else it proves nothing) */
	ck_assert_int_gt(verified, 4);
	ck_assert_int_gt(failed, 8);
}
END_TEST

/* The verify-callback adapter decides the handshake itself. */
struct cb_arg {
	const struct ms_dane_input *in;
	struct ms_dane_result res;
	int calls;
};

static int app_verify(X509_STORE_CTX *sctx, void *arg)
{
	struct cb_arg *a = arg;
	a->calls++;
	if (ms_dane_verify_store_ctx(g_ctx, sctx, a->in, &a->res, NULL, 0) != MS_OK)
		return 0;
	return a->res.verdict == MS_DANE_VERIFIED;
}

START_TEST(verify_callback_adapter)
{
	setup_keys();
	struct pki p;
	pki_chain(&p, g_keys[ALG_ED25519], (int64_t)time(NULL), "DNS:mx.example.test", -86400,
		  86400 * 30);
	for (int wrong = 0; wrong < 2; wrong++) {
		SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
		ck_assert_int_eq(SSL_CTX_use_certificate(sctx, p.cert[0]), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey(sctx, p.key[0]), 1);
		ck_assert_int_eq(SSL_CTX_add1_chain_cert(sctx, p.cert[2]), 1);
		ck_assert_int_eq(SSL_CTX_add1_chain_cert(sctx, p.cert[1]), 1);
		uint8_t d[32];
		pki_tlsa_data(p.cert[2], 0, 1, d, sizeof(d));
		if (wrong)
			d[0] ^= 1;
		struct ms_dane_tlsa t = { 2, 0, 1, d, 32 };
		const char *names[] = { "mx.example.test" };
		struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .tlsa = &t, .ntlsa = 1,
					    .authentic = 1, .names = names, .nnames = 1 };
		struct cb_arg arg = { .in = &in, .res = { .version = MS_DANE_RESULT_VERSION } };
		SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(cctx, app_verify, &arg);
		SSL *sv = SSL_new(sctx), *cl = SSL_new(cctx);
		BIO *b1, *b2;
		ck_assert_int_eq(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
		SSL_set_bio(sv, b1, b1);
		SSL_set_bio(cl, b2, b2);
		SSL_set_accept_state(sv);
		SSL_set_connect_state(cl);
		int done = 0;
		for (int i = 0; i < 100 && !done; i++) {
			int a = SSL_do_handshake(cl), b = SSL_do_handshake(sv);
			if (a == 1 && b == 1)
				done = 1;
			else if (a <= 0 && SSL_get_error(cl, a) == SSL_ERROR_SSL)
				break;
		}
		ck_assert_int_eq(arg.calls, 1);
		ck_assert_int_eq(done, !wrong);
		ck_assert_int_eq(arg.res.verdict, wrong ? MS_DANE_NO_MATCH : MS_DANE_VERIFIED);
		if (!wrong)
			ck_assert_int_eq(arg.res.depth, 2);
		ERR_clear_error();
		SSL_free(sv);
		SSL_free(cl);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
	}
	pki_free(&p);
}
END_TEST

START_TEST(summary)
{
	/* Runs last: the loops above really ran, and the oracle with them. */
	fprintf(stderr, "generated cases: %d, OpenSSL oracle runs: %d (%d differ by rule: "
		"RFC 7672 s2.2 all-unusable, RFC 7672 s3.2.3 partial wildcards, "
		"RFC 5280 s6.1.1(d) expired self-signed anchor)\n",
		g_cases, g_oracle_runs, g_oracle_by_rule);
	ck_assert_int_gt(g_cases, 900);
	ck_assert_int_gt(g_oracle_runs, 800);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dane-generated");
	TCase *tc = tcase_create("generated");
	/* One process: the keys are generated once and the counters add up. */
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, ta_depths, 0, ALG_COUNT);
	tcase_add_loop_test(tc, ee_and_dates, 0, ALG_COUNT);
	tcase_add_loop_test(tc, names_and_wildcards, 0, ALG_COUNT);
	tcase_add_loop_test(tc, records, 0, ALG_COUNT);
	tcase_add_test(tc, expired_anchor);
	tcase_add_test(tc, expired_root_anchor);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, ssl_adapter);
	tcase_add_test(tc, ssl_adapter_same_as_der);
	tcase_add_test(tc, verify_callback_adapter);
	tcase_add_test(tc, summary);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
