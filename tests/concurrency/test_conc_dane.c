/*
 * One struct ms_dane_ctx shared by 8 threads (dane.h: read-only after its
 * setters, each call uses its own OpenSSL objects).  Every thread verifies
 * the demo world's mx1.good.test chain against DANE-EE 3 1 1 (match),
 * an unrelated 3 1 1 (no match), DANE-TA 2 1 1 of the issuer (match at
 * depth 1) and the same anchor under a wrong reference name.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include "conc.h"
#include <mailsec/dane.h>

#define OPS 300

struct dane_shared {
	struct ms_dane_ctx *ctx;
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	size_t nchain;
	uint8_t ee[32], other[32], ta[32];
};

static void hex32(const char *hex, uint8_t out[32])
{
	ck_assert_msg(hex != NULL && strlen(hex) == 64, "bad hex value");
	for (int i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* KEY=value from the world's vars file (a static buffer per key). */
static void world_var(const char *key, char *val, size_t cap)
{
	char path[4096], line[1024];
	mstest_world_path(path, sizeof(path), "vars");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t kl = strlen(key);
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			line[strcspn(line, "\r\n")] = 0;
			snprintf(val, cap, "%s", line + kl + 1);
			found = 1;
			break;
		}
	}
	fclose(f);
	ck_assert_msg(found, "%s not in the world's vars", key);
}

static void load_chain(struct dane_shared *s)
{
	char path[4096];
	mstest_world_path(path, sizeof(path), "pki/demo/mx1.good.test.chain.pem");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	X509 *x;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		ck_assert_uint_lt(s->nchain, MS_DANE_MAX_CHAIN);
		unsigned char *der = NULL;
		int len = i2d_X509(x, &der);
		ck_assert_int_gt(len, 0);
		s->chain[s->nchain].der = der;
		s->chain[s->nchain].len = (size_t)len;
		s->nchain++;
		X509_free(x);
	}
	fclose(f);
	ck_assert_uint_ge(s->nchain, 2); /* leaf and issuer: DANE-TA needs depth 1 */
}

static void *worker(void *arg)
{
	struct conc_thread *t = arg;
	struct dane_shared *s = t->shared;
	const char *good[] = {"good.test", "mx1.good.test"};
	const char *wrong[] = {"other.test"};
	struct ms_dane_tlsa ee = {3, 1, 1, s->ee, 32};
	struct ms_dane_tlsa other = {3, 1, 1, s->other, 32};
	struct ms_dane_tlsa ta = {2, 1, 1, s->ta, 32};
	conc_wait_start(t);
	for (unsigned i = 0; i < OPS; i++) {
		struct ms_dane_input in = {
			.version = MS_DANE_INPUT_VERSION,
			.chain = s->chain, .nchain = s->nchain,
			.authentic = 1, .names = good, .nnames = 2,
		};
		struct ms_dane_tlsa set[2];
		struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
		char why[256] = "";
		int kind = (int)((i + (unsigned)t->id) % 4);
		int want_v, want_m, want_d;
		switch (kind) {
		case 0: /* the EE record second, after a non-matching one */
			set[0] = other, set[1] = ee;
			in.ntlsa = 2, want_v = MS_DANE_VERIFIED, want_m = 1, want_d = 0;
			break;
		case 1:
			set[0] = other;
			in.ntlsa = 1, want_v = MS_DANE_NO_MATCH, want_m = -1, want_d = -1;
			break;
		case 2:
			set[0] = ta;
			in.ntlsa = 1, want_v = MS_DANE_VERIFIED, want_m = 0, want_d = 1;
			break;
		default: /* the anchor matches, the leaf is not for this name:
			  * only a verified result names a match */
			set[0] = ta;
			in.ntlsa = 1, in.names = wrong, in.nnames = 1;
			want_v = MS_DANE_NAME_MISMATCH, want_m = -1, want_d = -1;
			break;
		}
		in.tlsa = set;
		ms_status st = ms_dane_verify(s->ctx, &in, &res, why, sizeof(why));
		CONC_CHECK(t, st == MS_OK, "op %u kind %d: status %d: %s", i, kind, st, why);
		CONC_CHECK(t, (int)res.verdict == want_v, "op %u kind %d: verdict %s, want %s (%s)",
			   i, kind, ms_dane_verdict_str(res.verdict),
			   ms_dane_verdict_str((enum ms_dane_verdict)want_v), res.reason);
		CONC_CHECK(t, res.matched == want_m, "op %u kind %d: matched %d, want %d",
			   i, kind, res.matched, want_m);
		CONC_CHECK(t, res.depth == want_d, "op %u kind %d: depth %d, want %d",
			   i, kind, res.depth, want_d);
		CONC_CHECK(t, res.usable == in.ntlsa, "op %u kind %d: usable %zu", i, kind,
			   res.usable);
		if (kind == 3)
			CONC_CHECK(t, res.tlsrpt == MS_TLSRPT_CERTIFICATE_HOST_MISMATCH &&
				   res.x509_error == X509_V_ERR_HOSTNAME_MISMATCH,
				   "op %u: tlsrpt %s x509 %d", i, ms_tlsrpt_result_name(res.tlsrpt),
				   res.x509_error);
		else if (kind == 1)
			CONC_CHECK(t, res.tlsrpt == MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
				   "op %u: tlsrpt %s", i, ms_tlsrpt_result_name(res.tlsrpt));
		else
			CONC_CHECK(t, res.tlsrpt == MS_TLSRPT_SUCCESS && res.x509_error == 0,
				   "op %u kind %d: tlsrpt %s x509 %d", i, kind,
				   ms_tlsrpt_result_name(res.tlsrpt), res.x509_error);
		t->ops++;
	}
	return NULL;
}

START_TEST(shared_ctx)
{
	struct dane_shared s;
	memset(&s, 0, sizeof(s));
	char hex[256];
	world_var("DEMO_GOOD_MX1_311", hex, sizeof(hex));
	hex32(hex, s.ee);
	world_var("DEMO_OTHER_311", hex, sizeof(hex));
	hex32(hex, s.other);
	world_var("DEMO_ISSUER_211", hex, sizeof(hex));
	hex32(hex, s.ta);
	load_chain(&s);
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &s.ctx), MS_OK);
	conc_run(worker, &s, OPS);
	ms_dane_ctx_free(s.ctx);
	for (size_t i = 0; i < s.nchain; i++)
		OPENSSL_free((void *)s.chain[i].der);
}
END_TEST

/* ---- the decoded-certificate cache under 8 threads ---------------------- */
/*
 * One context with a cache of 3 entries shared by 8 threads over two
 * 4-certificate PKIs (6 CA certificates) and a replacement of one CA
 * under the same subject and key that has expired: entries are evicted
 * and re-added all the time, served while another thread evicts them, and
 * the expired replacement must never verify.
 */
#define CACHE_OPS 120
#define CDEPTH 4

struct cache_shared {
	struct ms_dane_ctx *ctx;
	struct ms_dane_cert a[CDEPTH], b[CDEPTH], a_expired[CDEPTH];
	uint8_t ta_a[32], ta_b[32], ta_b_ca1[32];
};

static void c_ext(X509 *x, X509 *iss, int nid, const char *v)
{
	X509V3_CTX c;
	X509V3_set_ctx_nodb(&c);
	X509V3_set_ctx(&c, iss, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &c, nid, v);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* valid from now+nb to now+na days */
static X509 *c_cert(EVP_PKEY *k, const char *cn, X509 *iss, EVP_PKEY *ik, int ca, long nb,
		    long na)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, iss ? X509_get_subject_name(iss) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), nb * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), na * 86400);
	X509_set_pubkey(x, k);
	X509 *i = iss ? iss : x;
	c_ext(x, i, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	c_ext(x, i, NID_subject_key_identifier, "hash");
	c_ext(x, i, NID_authority_key_identifier, "keyid:always");
	if (!ca)
		c_ext(x, i, NID_subject_alt_name, "DNS:mx.example.test");
	ck_assert_int_gt(X509_sign(x, iss ? ik : k, EVP_sha256()), 0);
	return x;
}

static void c_der(X509 *x, struct ms_dane_cert *out)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	ck_assert_int_gt(len, 0);
	out->der = der;
	out->len = (size_t)len;
}

static void c_digest(const unsigned char *p, size_t n, uint8_t out[32])
{
	unsigned int dl = 0;
	ck_assert_int_eq(EVP_Digest(p, n, out, &dl, EVP_sha256(), NULL), 1);
}

/* leaf <- CA 1 <- CA 2 <- root; the chain as DER into out[]; *ca1 kept
 * (with its key in *k1) for the replacement. */
static void c_pki(const char *tag, struct ms_dane_cert *out, X509 **ca1, EVP_PKEY **k1,
		  X509 **root_out, EVP_PKEY **kroot_out)
{
	EVP_PKEY *k[CDEPTH];
	for (int d = 0; d < CDEPTH; d++)
		k[d] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x[CDEPTH];
	char cn[64];
	for (int d = CDEPTH - 1; d >= 0; d--) {
		snprintf(cn, sizeof(cn), d == CDEPTH - 1 ? "%s root" : d ? "%s CA %d" : "leaf",
			 tag, d);
		x[d] = c_cert(k[d], cn, d == CDEPTH - 1 ? NULL : x[d + 1],
			      d == CDEPTH - 1 ? NULL : k[d + 1], d > 0, -1, 365);
	}
	for (int d = 0; d < CDEPTH; d++)
		c_der(x[d], &out[d]);
	*ca1 = x[1];
	*k1 = k[1];
	*root_out = x[CDEPTH - 1];
	*kroot_out = k[CDEPTH - 1];
	for (int d = 0; d < CDEPTH; d++) {
		if (d != 1 && d != CDEPTH - 1) {
			X509_free(x[d]);
			EVP_PKEY_free(k[d]);
		}
	}
}

static void *cache_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct cache_shared *s = t->shared;
	const char *names[] = { "mx.example.test" };
	conc_wait_start(t);
	for (unsigned i = 0; i < CACHE_OPS; i++) {
		int kind = (int)((i + (unsigned)t->id) % 4);
		struct ms_dane_tlsa ta;
		const struct ms_dane_cert *chain;
		int want_v, want_d, want_err = 0;
		switch (kind) {
		case 0:
			chain = s->a, ta = (struct ms_dane_tlsa){ 2, 0, 1, s->ta_a, 32 };
			want_v = MS_DANE_VERIFIED, want_d = 3;
			break;
		case 1:
			chain = s->b, ta = (struct ms_dane_tlsa){ 2, 0, 1, s->ta_b, 32 };
			want_v = MS_DANE_VERIFIED, want_d = 3;
			break;
		case 2: /* CA 1 of PKI a replaced by an expired one, same key */
			chain = s->a_expired, ta = (struct ms_dane_tlsa){ 2, 0, 1, s->ta_a, 32 };
			want_v = MS_DANE_CHAIN_INVALID, want_d = -1;
			want_err = X509_V_ERR_CERT_HAS_EXPIRED;
			break;
		default: /* PKI b anchored at CA 1 (depth 1) by its key */
			chain = s->b, ta = (struct ms_dane_tlsa){ 2, 1, 1, s->ta_b_ca1, 32 };
			want_v = MS_DANE_VERIFIED, want_d = 1;
			break;
		}
		struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = chain,
					    .nchain = CDEPTH, .tlsa = &ta, .ntlsa = 1,
					    .authentic = 1, .names = names, .nnames = 1 };
		struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
		char why[256] = "";
		ms_status st = ms_dane_verify(s->ctx, &in, &res, why, sizeof(why));
		CONC_CHECK(t, st == MS_OK, "op %u kind %d: status %d: %s", i, kind, st, why);
		CONC_CHECK(t, (int)res.verdict == want_v && res.depth == want_d &&
			   res.x509_error == want_err,
			   "op %u kind %d: %s depth %d err %d (%s)", i, kind,
			   ms_dane_verdict_str(res.verdict), res.depth, res.x509_error, res.reason);
		CONC_CHECK(t, ms_dane_ctx_cert_cache_count(s->ctx) <= 3, "op %u: cache over its bound",
			   i);
		CONC_CHECK(t, ms_dane_ctx_leaf_cache_count(s->ctx) <= 1,
			   "op %u: leaf cache over its bound", i);
		t->ops++;
	}
	return NULL;
}

START_TEST(shared_ctx_cache)
{
	struct cache_shared s;
	memset(&s, 0, sizeof(s));
	X509 *ca1a, *ca1b, *roota, *rootb;
	EVP_PKEY *k1a, *k1b, *kra, *krb;
	c_pki("a", s.a, &ca1a, &k1a, &roota, &kra);
	c_pki("b", s.b, &ca1b, &k1b, &rootb, &krb);
	/* "a CA 1" again: same subject, issuer and key, expired yesterday */
	X509 *old = c_cert(k1a, "a CA 1", roota, kra, 1, -30, -1);
	memcpy(s.a_expired, s.a, sizeof(s.a));
	c_der(old, &s.a_expired[1]);
	c_digest(s.a[CDEPTH - 1].der, s.a[CDEPTH - 1].len, s.ta_a);
	c_digest(s.b[CDEPTH - 1].der, s.b[CDEPTH - 1].len, s.ta_b);
	unsigned char *spki = NULL;
	int sl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca1b), &spki);
	ck_assert_int_gt(sl, 0);
	c_digest(spki, (size_t)sl, s.ta_b_ca1);
	OPENSSL_free(spki);
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &s.ctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(s.ctx, 3), MS_OK);
	/* one leaf slot for the two leaves: served and evicted under the
	 * threads, while the CA partition churns on its own */
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(s.ctx, 1), MS_OK);
	conc_run(cache_worker, &s, CACHE_OPS);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(s.ctx), 3);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(s.ctx), 1);
	ms_dane_ctx_free(s.ctx);
	for (int d = 0; d < CDEPTH; d++) {
		OPENSSL_free((void *)s.a[d].der);
		OPENSSL_free((void *)s.b[d].der);
	}
	OPENSSL_free((void *)s.a_expired[1].der);
	X509_free(old);
	X509_free(ca1a);
	X509_free(ca1b);
	X509_free(roota);
	X509_free(rootb);
	EVP_PKEY_free(k1a);
	EVP_PKEY_free(k1b);
	EVP_PKEY_free(kra);
	EVP_PKEY_free(krb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency-dane");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, mstest_scale_ms(300000) / 1000.0);
	tcase_add_test(tc, shared_ctx);
	tcase_add_test(tc, shared_ctx_cache);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
