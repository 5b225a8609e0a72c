/*
 * test_cache.c - the decoded-certificate cache (ms_dane_ctx_set_cert_cache):
 * a CA certificate replaced under the same subject and key (different DER:
 * expired, not a CA, signed by another key, one bit of its signature
 * flipped) is never served from the cache nor trusted through the
 * signature memo; the result always equals the uncached one; the LRU
 * bound holds; hits are real (counted through the env metric hook).
 */
#include "pki.h"

#include <string.h>

static const int64_t NOW = 1900000000;
static const char *const NAMES[] = { "mx.example.test" };

struct hits {
	int hit, miss;
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct hits *h = user;
	if (strcmp(ev->name, "dane_cert_cache_total") != 0 || ev->nlabels != 1)
		return;
	if (strcmp(ev->labels[0].value, "hit") == 0)
		h->hit += (int)ev->value;
	else
		h->miss += (int)ev->value;
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
	struct hits h = { 0, 0 };
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

int main(void)
{
	Suite *s = suite_create("dane-cache");
	TCase *tc = tcase_create("cache");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, replaced_same_subject);
	tcase_add_test(tc, lru_bound_and_setter);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
