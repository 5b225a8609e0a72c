/*
 * test_cache.c - the decoded-certificate cache (ms_dane_ctx_set_cert_cache):
 * a CA certificate replaced under the same subject and key (different DER:
 * expired, not a CA, signed by another key, one bit of its signature
 * flipped) is never served from the cache nor trusted through the
 * signature memo; the result always equals the uncached one; the LRU
 * bound holds; hits are real (counted through the env metric hook).
 * The leaf partition (ms_dane_ctx_set_leaf_cache): a leaf replaced under
 * the same name (expired, another key, signed by another key, one bit of
 * its signature flipped, another name) is never served from the cache and
 * gives the uncached result; the leaf's signature is checked on every call
 * even when it is served; the leaf bound holds and a stream of distinct
 * leaves never evicts the CA entries.
 */
#include "pki.h"

#include <string.h>

static const int64_t NOW = 1900000000;
static const char *const NAMES[] = { "mx.example.test" };

struct hits {
	int hit, miss;           /* CA partition lookups */
	int leaf_hit, leaf_miss; /* leaf partition lookups */
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct hits *h = user;
	int leaf = strcmp(ev->name, "dane_leaf_cache_total") == 0;
	if ((!leaf && strcmp(ev->name, "dane_cert_cache_total") != 0) || ev->nlabels != 1)
		return;
	int hit = strcmp(ev->labels[0].value, "hit") == 0;
	if (leaf)
		*(hit ? &h->leaf_hit : &h->leaf_miss) += (int)ev->value;
	else
		*(hit ? &h->hit : &h->miss) += (int)ev->value;
}

/* A copy of x with one bit of its signature flipped: the DER differs only
 * there. */
static X509 *flip_sig_bit(X509 *x)
{
	X509 *f = X509_dup(x);
	ck_assert_ptr_nonnull(f);
	const ASN1_BIT_STRING *sig = NULL;
	X509_get0_signature(&sig, NULL, f);
	ASN1_BIT_STRING *ms = (ASN1_BIT_STRING *)sig;
	unsigned char *d = (unsigned char *)ASN1_STRING_get0_data(ms);
	ck_assert_ptr_nonnull(d);
	d[ASN1_STRING_length(ms) / 2] ^= 0x01;
	return f;
}

/* Verify leaf <- ca <- root with a DANE-TA 2 0 1 record for the root. */
static struct ms_dane_result verify3(struct ms_dane_ctx *ctx, X509 *leaf, X509 *ca, X509 *root)
{
	struct dchain ch = { .n = 0 };
	dchain_add(&ch, leaf);
	dchain_add(&ch, ca);
	dchain_add(&ch, root);
	uint8_t h[64];
	size_t hl = pki_tlsa_data(root, 0, 1, h, sizeof(h));
	struct ms_dane_tlsa t = { 2, 0, 1, h, hl };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = ch.c,
				    .nchain = ch.n, .tlsa = &t, .ntlsa = 1, .authentic = 1,
				    .names = NAMES, .nnames = 1, .now = NOW };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[256] = "";
	ck_assert_msg(ms_dane_verify(ctx, &in, &res, why, sizeof(why)) == MS_OK, "%s", why);
	dchain_free(&ch);
	return res;
}

static void same_result(const char *what, const struct ms_dane_result *a,
			const struct ms_dane_result *b)
{
	ck_assert_msg(a->verdict == b->verdict && a->depth == b->depth &&
		      a->matched == b->matched && a->tlsrpt == b->tlsrpt &&
		      a->x509_error == b->x509_error && strcmp(a->reason, b->reason) == 0,
		      "%s: cached %s depth %d err %d (%s), uncached %s depth %d err %d (%s)", what,
		      ms_dane_verdict_str(a->verdict), a->depth, a->x509_error, a->reason,
		      ms_dane_verdict_str(b->verdict), b->depth, b->x509_error, b->reason);
}

START_TEST(replaced_same_subject)
{
	struct hits h = { 0, 0, 0, 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &h, .metric = on_metric };
	struct ms_dane_ctx *ctx = NULL, *plain = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(&env, &ctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 16), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &plain), MS_OK);

	EVP_PKEY *kr = pki_key(ALG_P256), *kc = pki_key(ALG_P256), *kl = pki_key(ALG_P256);
	EVP_PKEY *kother = pki_key(ALG_P256);
	X509 *root = pki_cert(kr, "Test Root", NULL, NULL, 1, NULL, NOW, -86400, 86400L * 365, 1);
	X509 *ca = pki_cert(kc, "Test CA 1", root, kr, 1, NULL, NOW, -86400, 86400L * 365, 2);
	X509 *leaf = pki_cert(kl, "leaf", ca, kc, 0, "DNS:mx.example.test", NOW, -86400,
			      86400L * 30, 3);

	/* Cold, then warm: the two CA certificates are cached and served. */
	struct ms_dane_result r = verify3(ctx, leaf, ca, root);
	ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
	ck_assert_int_eq(h.miss, 2);
	ck_assert_int_eq(h.hit, 0);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 2);
	r = verify3(ctx, leaf, ca, root);
	ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
	ck_assert_int_eq(h.hit, 2);
	/* the leaf partition is off by default: no leaf lookups, none held */
	ck_assert_int_eq(h.leaf_hit + h.leaf_miss, 0);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), 0);

	/* Replacements of "Test CA 1" with the same key (so the leaf's
	 * signature still verifies with them), each a different DER. */
	X509 *expired = pki_cert(kc, "Test CA 1", root, kr, 1, NULL, NOW, -86400 * 10, -86400, 2);
	X509 *not_ca = pki_cert(kc, "Test CA 1", root, kr, 0, NULL, NOW, -86400, 86400L * 365, 2);
	X509 *forged = pki_cert(kc, "Test CA 1", root, kother, 1, NULL, NOW, -86400,
				86400L * 365, 2);
	X509 *flipped = X509_dup(ca);
	{
		/* one bit of the signature: the DER differs only there */
		const ASN1_BIT_STRING *sig = NULL;
		X509_get0_signature(&sig, NULL, flipped);
		ASN1_BIT_STRING *ms = (ASN1_BIT_STRING *)sig;
		unsigned char *d = (unsigned char *)ASN1_STRING_get0_data(ms);
		ck_assert_ptr_nonnull(d);
		d[ASN1_STRING_length(ms) / 2] ^= 0x01;
	}
	struct {
		const char *what;
		X509 *ca;
		int want_err;
	} cases[] = {
		{ "expired", expired, X509_V_ERR_CERT_HAS_EXPIRED },
		{ "not a CA", not_ca, X509_V_ERR_INVALID_CA },
		{ "signed by another key", forged, X509_V_ERR_CERT_SIGNATURE_FAILURE },
		{ "signature bit flipped", flipped, X509_V_ERR_CERT_SIGNATURE_FAILURE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int round = 0; round < 2; round++) { /* cold and warm */
			struct ms_dane_result c = verify3(ctx, leaf, cases[i].ca, root);
			struct ms_dane_result p = verify3(plain, leaf, cases[i].ca, root);
			same_result(cases[i].what, &c, &p);
			ck_assert_msg(c.verdict == MS_DANE_CHAIN_INVALID &&
				      c.x509_error == cases[i].want_err,
				      "%s: %s err %d (%s)", cases[i].what,
				      ms_dane_verdict_str(c.verdict), c.x509_error, c.reason);
		}
		/* the original is still right, from the cache */
		int before = h.hit;
		r = verify3(ctx, leaf, ca, root);
		ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
		ck_assert_int_eq(h.hit, before + 2);
	}
	X509_free(expired);
	X509_free(not_ca);
	X509_free(forged);
	X509_free(flipped);
	X509_free(leaf);
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(kr);
	EVP_PKEY_free(kc);
	EVP_PKEY_free(kl);
	EVP_PKEY_free(kother);
	ms_dane_ctx_free(ctx);
	ms_dane_ctx_free(plain);
}
END_TEST

START_TEST(lru_bound_and_setter)
{
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 0);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(NULL), 0);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(NULL, 4), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, MS_DANE_MAX_CERT_CACHE + 1),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 3), MS_OK);
	EVP_PKEY *k[4];
	for (int i = 0; i < 4; i++)
		k[i] = pki_key(ALG_P256);
	/* Three separate PKIs (6 CA certificates) through a cache of 3. */
	for (int p = 0; p < 3; p++) {
		char cn[32];
		snprintf(cn, sizeof(cn), "Root %d", p);
		X509 *root = pki_cert(k[0], cn, NULL, NULL, 1, NULL, NOW, -86400, 86400L * 365, 1);
		snprintf(cn, sizeof(cn), "CA %d", p);
		X509 *ca = pki_cert(k[1], cn, root, k[0], 1, NULL, NOW, -86400, 86400L * 365, 2);
		X509 *leaf = pki_cert(k[2], "leaf", ca, k[1], 0, "DNS:mx.example.test", NOW,
				      -86400, 86400L * 30, 3);
		for (int round = 0; round < 2; round++) {
			struct ms_dane_result r = verify3(ctx, leaf, ca, root);
			ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s",
				      r.reason);
		}
		ck_assert_uint_le(ms_dane_ctx_cert_cache_count(ctx), 3);
		X509_free(leaf);
		X509_free(ca);
		X509_free(root);
	}
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 3);
	/* off again: empty */
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 0), MS_OK);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 0);
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(k[i]);
	ms_dane_ctx_free(ctx);
}
END_TEST

START_TEST(leaf_replaced_same_name)
{
	struct hits h = { 0, 0, 0, 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &h, .metric = on_metric };
	struct ms_dane_ctx *ctx = NULL, *plain = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(&env, &ctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 16), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(ctx, 16), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &plain), MS_OK);

	EVP_PKEY *kr = pki_key(ALG_P256), *kc = pki_key(ALG_P256), *kl = pki_key(ALG_P256);
	EVP_PKEY *kother = pki_key(ALG_P256);
	X509 *root = pki_cert(kr, "Test Root", NULL, NULL, 1, NULL, NOW, -86400, 86400L * 365, 1);
	X509 *ca = pki_cert(kc, "Test CA 1", root, kr, 1, NULL, NOW, -86400, 86400L * 365, 2);
	X509 *leaf = pki_cert(kl, "leaf", ca, kc, 0, "DNS:mx.example.test", NOW, -86400,
			      86400L * 30, 3);

	/* Cold: one leaf miss; warm: the leaf is served (one hit). */
	struct ms_dane_result r = verify3(ctx, leaf, ca, root);
	ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
	ck_assert_int_eq(h.leaf_miss, 1);
	ck_assert_int_eq(h.leaf_hit, 0);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), 1);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 2);
	r = verify3(ctx, leaf, ca, root);
	ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
	ck_assert_int_eq(h.leaf_hit, 1);

	/* Replacements of the leaf under the same subject, each a different DER. */
	X509 *expired = pki_cert(kl, "leaf", ca, kc, 0, "DNS:mx.example.test", NOW,
				 -86400 * 10, -86400, 3);
	X509 *other_key = pki_cert(kother, "leaf", ca, kc, 0, "DNS:mx.example.test", NOW,
				   -86400, 86400L * 30, 3);
	X509 *forged = pki_cert(kl, "leaf", ca, kother, 0, "DNS:mx.example.test", NOW,
				-86400, 86400L * 30, 3);
	X509 *other_name = pki_cert(kl, "leaf", ca, kc, 0, "DNS:other.example.test", NOW,
				    -86400, 86400L * 30, 3);
	X509 *flipped = flip_sig_bit(leaf);
	struct {
		const char *what;
		X509 *leaf;
		enum ms_dane_verdict want;
		int want_err;
	} cases[] = {
		{ "expired", expired, MS_DANE_CHAIN_INVALID, X509_V_ERR_CERT_HAS_EXPIRED },
		{ "another key", other_key, MS_DANE_VERIFIED, 0 },
		{ "signed by another key", forged, MS_DANE_CHAIN_INVALID,
		  X509_V_ERR_CERT_SIGNATURE_FAILURE },
		{ "signature bit flipped", flipped, MS_DANE_CHAIN_INVALID,
		  X509_V_ERR_CERT_SIGNATURE_FAILURE },
		{ "another name", other_name, MS_DANE_NAME_MISMATCH,
		  X509_V_ERR_HOSTNAME_MISMATCH },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int round = 0; round < 2; round++) { /* cold, then served */
			int miss = h.leaf_miss, hit = h.leaf_hit;
			struct ms_dane_result c = verify3(ctx, cases[i].leaf, ca, root);
			struct ms_dane_result p = verify3(plain, cases[i].leaf, ca, root);
			same_result(cases[i].what, &c, &p);
			ck_assert_msg(c.verdict == cases[i].want && c.x509_error == cases[i].want_err,
				      "%s round %d: %s err %d (%s)", cases[i].what, round,
				      ms_dane_verdict_str(c.verdict), c.x509_error, c.reason);
			/* round 0: the replacement's DER was never seen, so the
			 * original leaf under the same name is not served */
			ck_assert_int_eq(h.leaf_miss, miss + (round == 0));
			ck_assert_int_eq(h.leaf_hit, hit + (round == 1));
		}
		/* the original is still right, from the cache */
		int before = h.leaf_hit;
		r = verify3(ctx, leaf, ca, root);
		ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
		ck_assert_int_eq(h.leaf_hit, before + 1);
	}
	X509_free(expired);
	X509_free(other_key);
	X509_free(forged);
	X509_free(other_name);
	X509_free(flipped);
	X509_free(leaf);
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(kr);
	EVP_PKEY_free(kc);
	EVP_PKEY_free(kl);
	EVP_PKEY_free(kother);
	ms_dane_ctx_free(ctx);
	ms_dane_ctx_free(plain);
}
END_TEST

START_TEST(leaf_bound_keeps_ca)
{
	struct hits h = { 0, 0, 0, 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &h, .metric = on_metric };
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(&env, &ctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(NULL, 4), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(ctx, MS_DANE_MAX_CERT_CACHE + 1),
			 MS_ERR_INVALID);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(NULL), 0);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(ctx, 3), MS_OK);
	/* the CA bound set afterwards keeps the leaf bound */
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 2), MS_OK);

	EVP_PKEY *kr = pki_key(ALG_P256), *kc = pki_key(ALG_P256), *kl = pki_key(ALG_P256);
	X509 *root = pki_cert(kr, "Test Root", NULL, NULL, 1, NULL, NOW, -86400, 86400L * 365, 1);
	X509 *ca = pki_cert(kc, "Test CA 1", root, kr, 1, NULL, NOW, -86400, 86400L * 365, 2);
	/* A stream of 20 distinct leaves (one per server) through 3 leaf
	 * slots and 2 CA slots: every leaf is cached, the oldest leaf goes,
	 * and the two CA certificates are hit on every call after the first. */
	for (int i = 0; i < 20; i++) {
		X509 *leaf = pki_cert(kl, "leaf", ca, kc, 0, "DNS:mx.example.test", NOW, -86400,
				      86400L * 30, 1000 + i);
		int hit = h.hit;
		struct ms_dane_result r = verify3(ctx, leaf, ca, root);
		ck_assert_msg(r.verdict == MS_DANE_VERIFIED && r.depth == 2, "%s", r.reason);
		ck_assert_int_eq(h.leaf_miss, i + 1);
		ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), i < 3 ? (size_t)i + 1 : 3);
		ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 2);
		if (i > 0)
			ck_assert_int_eq(h.hit, hit + 2);
		X509_free(leaf);
	}
	ck_assert_int_eq(h.leaf_hit, 0);
	ck_assert_int_eq(h.miss, 2);

	/* Emptied by a new CA bound, leaf caching stays on; off at 0. */
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 4), MS_OK);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), 0);
	X509 *leaf = pki_cert(kl, "leaf", ca, kc, 0, "DNS:mx.example.test", NOW, -86400,
			      86400L * 30, 7);
	struct ms_dane_result r = verify3(ctx, leaf, ca, root);
	ck_assert_msg(r.verdict == MS_DANE_VERIFIED, "%s", r.reason);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), 1);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(ctx, 0), MS_OK);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), 0);
	int lookups = h.leaf_hit + h.leaf_miss;
	r = verify3(ctx, leaf, ca, root);
	ck_assert_msg(r.verdict == MS_DANE_VERIFIED, "%s", r.reason);
	ck_assert_int_eq(h.leaf_hit + h.leaf_miss, lookups);
	ck_assert_uint_eq(ms_dane_ctx_leaf_cache_count(ctx), 0);
	ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(ctx), 2);
	X509_free(leaf);
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(kr);
	EVP_PKEY_free(kc);
	EVP_PKEY_free(kl);
	ms_dane_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dane-cache");
	TCase *tc = tcase_create("cache");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, replaced_same_subject);
	tcase_add_test(tc, lru_bound_and_setter);
	tcase_add_test(tc, leaf_replaced_same_name);
	tcase_add_test(tc, leaf_bound_keeps_ca);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
