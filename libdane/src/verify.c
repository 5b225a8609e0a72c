/*
 * verify.c - the verification core (RFC 7672 s3, RFC 7671 s5).
 *
 * DANE-EE(3) first: it needs no X.509 parse at all (raw DER for selector 0,
 * the SPKI found by the DER walker for selector 1).  Then DANE-TA(2): every
 * CA certificate the server sent that matches a TA record becomes a trust
 * anchor in a store private to this call, every other certificate it sent
 * goes into the untrusted pool (so any number of intermediates between leaf
 * and anchor, in any order, still verifies), full certificates from DNS
 * join the anchors, and bare keys from DNS anchor the certificate they
 * signed.  OpenSSL then builds and checks the chain with a partial chain
 * allowed, the reference names set and the caller's time.
 */
#include "dane_internal.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

struct anchor {
	X509 *cert;   /* borrowed from the chain or owned in dnscerts */
	int rec;      /* index of the TLSA record */
	int keyed;    /* 1: a bare key from DNS signed `cert`; the depth reported is that of `cert`, as OpenSSL reports it */
};

struct ta_state {
	X509 *certs[MS_DANE_MAX_CHAIN];   /* parsed chain */
	size_t ncerts;
	X509 *dnscerts[MS_DANE_MAX_RECORDS]; /* 2 0 0 from DNS */
	size_t ndnscerts;
	struct anchor anchors[MS_DANE_MAX_CHAIN + 2 * MS_DANE_MAX_RECORDS];
	size_t nanchors;
};

/* SHA-256 of each sent certificate's DER, computed at most once per call:
 * it is both the cache key and the digest a "2 0 1" record compares. */
struct cert_hashes {
	uint8_t h[MS_DANE_MAX_CHAIN][32];
	unsigned char have[MS_DANE_MAX_CHAIN];
};

static const uint8_t *cert_sha256(const struct ms_dane_ctx *ctx, struct cert_hashes *ch,
				  const struct ms_dane_input *in, size_t j)
{
	if (!ch->have[j]) {
		unsigned int n = 0;
		if (!EVP_Digest(in->chain[j].der, in->chain[j].len, ch->h[j], &n, ctx->sha256,
				NULL) || n != 32)
			return NULL;
		ch->have[j] = 1;
	}
	return ch->h[j];
}

static void ta_state_free(struct ta_state *s)
{
	for (size_t i = 0; i < s->ncerts; i++)
		X509_free(s->certs[i]);
	for (size_t i = 0; i < s->ndnscerts; i++)
		X509_free(s->dnscerts[i]);
}

/* The bytes record `t` is compared with for certificate DER `der`. */
static int record_matches(const struct ms_dane_ctx *ctx,
			  const struct ms_dane_tlsa *t,
			  const uint8_t *der, size_t len)
{
	if (t->selector == MS_DANE_SEL_CERT)
		return ms_dane_match_data(ctx, t, der, len);
	size_t off, slen;
	if (ms_dane_cert_spki(der, len, &off, &slen) != MS_OK)
		return 0;
	return ms_dane_match_data(ctx, t, der + off, slen);
}

/*
 * Which usable TA record a sent CA certificate matches (its index, -1 for
 * none), by its bytes only, worked out the first time it is asked for: the
 * path from the leaf usually reaches its anchor after one or two
 * certificates, and hashing every certificate above it too cost as much as
 * the signature check at depth 1 (bench-dane ta-depth1-handshake, 18 % of
 * the instructions).
 */
struct anchor_memo {
	const struct ms_dane_ctx *ctx;
	const struct ms_dane_input *in;
	const unsigned char *keep;
	struct cert_hashes *ch;
	int rec[MS_DANE_MAX_CHAIN]; /* -2: not worked out yet */
};

static int anchor_at(struct anchor_memo *m, size_t j)
{
	if (m->rec[j] != -2)
		return m->rec[j];
	m->rec[j] = -1;
	if (j == 0)
		return -1; /* a TA record never matches the leaf (RFC 7671 s5.2) */
	const struct ms_dane_input *in = m->in;
	for (size_t i = 0; i < in->ntlsa && m->rec[j] < 0; i++) {
		const struct ms_dane_tlsa *t = &in->tlsa[i];
		if (!m->keep[i] || t->usage != MS_DANE_DANE_TA)
			continue;
		int match;
		if (t->selector == MS_DANE_SEL_CERT && t->mtype == MS_DANE_MT_SHA256) {
			/* the digest the cache needs too: hashed once */
			const uint8_t *h = cert_sha256(m->ctx, m->ch, in, j);
			match = h != NULL && t->datalen == 32 && CRYPTO_memcmp(h, t->data, 32) == 0;
		} else {
			match = record_matches(m->ctx, t, in->chain[j].der, in->chain[j].len);
		}
		if (match)
			m->rec[j] = (int)i;
	}
	return m->rec[j];
}

static int add_anchor(struct ta_state *s, STACK_OF(X509) *trusted, X509 *x, int rec,
		      int keyed)
{
	if (!sk_X509_push(trusted, x))
		return -1;
	s->anchors[s->nanchors].cert = x;
	s->anchors[s->nanchors].rec = rec;
	s->anchors[s->nanchors].keyed = keyed;
	s->nanchors++;
	return 0;
}

/*
 * The anchor's own validity period is not checked: its authority comes
 * from the DNSSEC-signed TLSA record, not from its dates (RFC 7671 s5.2.2,
 * a trust anchor is a name and a key; RFC 5280 s6.1.1(d) takes no dates
 * for it).  This holds for a self-signed root too, where OpenSSL's native
 * DANE (so Postfix) would reject an expired one (docs/dane.md).  Everything
 * below the anchor is checked.
 */
static int verify_cb(int ok, X509_STORE_CTX *sctx)
{
	if (ok)
		return ok;
	int err = X509_STORE_CTX_get_error(sctx);
	if (err != X509_V_ERR_CERT_HAS_EXPIRED && err != X509_V_ERR_CERT_NOT_YET_VALID)
		return ok;
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
	int n = chain ? sk_X509_num(chain) : 0;
	int depth = X509_STORE_CTX_get_error_depth(sctx);
	/* The top of the chain is trusted when it is not one of the untrusted. */
	if (n > 0 && depth == n - 1 && X509_STORE_CTX_get_num_untrusted(sctx) < n)
		return 1;
	return ok;
}

static int time_ok(X509 *x, int64_t now)
{
	time_t t = (time_t)now;
	return X509_cmp_time(X509_get0_notBefore(x), &t) < 0 &&
	       X509_cmp_time(X509_get0_notAfter(x), &t) > 0;
}

/* What the chain-check function below needs to know about this call: the
 * decoded chain and which of it came from (or went to) the cache. */
struct sig_state {
	const struct ms_dane_ctx *ctx;
	X509 *const *certs;
	size_t ncerts;
	const struct cert_hashes *ch;
	const unsigned char *cached;  /* certs[j] is in the cache under ch->h[j] */
};

static const uint8_t *cached_key(const struct sig_state *ss, const X509 *x)
{
	for (size_t j = 1; j < ss->ncerts; j++)
		if (ss->certs[j] == x && ss->cached[j])
			return ss->ch->h[j];
	return NULL;
}

/* verify_cb_cert() of x509_vfy.c: report `err` for `x` at `depth`. */
static int fail_at(X509_STORE_CTX *sctx, X509 *x, int depth, int err)
{
	X509_STORE_CTX_set_error_depth(sctx, depth);
	X509_STORE_CTX_set_current_cert(sctx, x);
	X509_STORE_CTX_set_error(sctx, err);
	return verify_cb(0, sctx);
}

/* ossl_x509_check_cert_time() of x509_vfy.c. */
static int check_time(X509_STORE_CTX *sctx, X509 *x, int depth)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(param);
	time_t t, *ptime = NULL;
	if (flags & X509_V_FLAG_USE_CHECK_TIME) {
		t = X509_VERIFY_PARAM_get_time(param);
		ptime = &t;
	} else if (flags & X509_V_FLAG_NO_CHECK_TIME) {
		return 1;
	}
	int i = X509_cmp_time(X509_get0_notBefore(x), ptime);
	if (i == 0 && !fail_at(sctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD))
		return 0;
	if (i > 0 && !fail_at(sctx, x, depth, X509_V_ERR_CERT_NOT_YET_VALID))
		return 0;
	i = X509_cmp_time(X509_get0_notAfter(x), ptime);
	if (i == 0 && !fail_at(sctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD))
		return 0;
	if (i < 0 && !fail_at(sctx, x, depth, X509_V_ERR_CERT_HAS_EXPIRED))
		return 0;
	return 1;
}

/*
 * The signature and date pass of X509_verify_cert(), as OpenSSL 3's
 * internal_verify() does it for our settings (a partial chain always
 * allowed, no DANE state in the store context), with one difference: a
 * signature between two cached CA certificates that was verified before
 * (ms_dane_certcache_sig_known: the same subject DER, the same issuer DER)
 * is not verified again.  Every other check runs in the same order with
 * the same errors, depths and callbacks: key usage of the issuer, the
 * issuer key, the signature, the dates of every certificate.
 */
static int chain_verify(X509_STORE_CTX *sctx)
{
	const struct sig_state *ss = X509_STORE_CTX_get_app_data(sctx);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(sctx));
	int n = sk_X509_num(chain) - 1;
	X509 *xi = sk_X509_value(chain, n);
	X509 *xs = xi;
	X509_STORE_CTX_set_error_depth(sctx, n);
	/* The top is trusted (X509_V_FLAG_PARTIAL_CHAIN is always set), so no
	 * step down for a top that is not self-issued. */
	while (n >= 0) {
		uint32_t xflags = X509_get_extension_flags(xi);
		if (xs != xi || ((flags & X509_V_FLAG_CHECK_SS_SIGNATURE) && (xflags & EXFLAG_SS))) {
			int issuer_depth = n + (xs == xi ? 0 : 1);
			int ret = X509_V_OK;
			if (!(xs == xi && (xflags & EXFLAG_CA) == 0)) {
				/* ossl_x509_signing_allowed() */
				uint32_t need = (X509_get_extension_flags(xs) & EXFLAG_PROXY) ?
						KU_DIGITAL_SIGNATURE : KU_KEY_CERT_SIGN;
				if ((xflags & EXFLAG_KUSAGE) && (X509_get_key_usage(xi) & need) == 0)
					ret = need == KU_KEY_CERT_SIGN ?
					      X509_V_ERR_KEYUSAGE_NO_CERTSIGN :
					      X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE;
			}
			if (ret != X509_V_OK && !fail_at(sctx, xi, issuer_depth, ret))
				return 0;
			EVP_PKEY *pkey = X509_get0_pubkey(xi);
			if (pkey == NULL) {
				if (!fail_at(sctx, xi, issuer_depth,
					     X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY))
					return 0;
			} else {
				const uint8_t *ks = ss ? cached_key(ss, xs) : NULL;
				const uint8_t *ki = ks && xs != xi ? cached_key(ss, xi) : NULL;
				int ok = ki != NULL &&
					 ms_dane_certcache_sig_known(ss->ctx->cache, xs, ks, ki);
				if (!ok) {
					ok = X509_verify(xs, pkey) > 0;
					if (ok && ki != NULL)
						ms_dane_certcache_sig_note(ss->ctx->cache, xs, ks, ki);
				}
				if (!ok && !fail_at(sctx, xs, n, X509_V_ERR_CERT_SIGNATURE_FAILURE))
					return 0;
			}
		}
		if (!check_time(sctx, xs, n))
			return 0;
		X509_STORE_CTX_set_current_cert(sctx, xs);
		X509_STORE_CTX_set_error_depth(sctx, n);
		if (!verify_cb(1, sctx))
			return 0;
		if (--n >= 0) {
			xi = xs;
			xs = sk_X509_value(chain, n);
		}
	}
	return 1;
}

static void map_error(struct ms_dane_result *res, int err, int depth)
{
	res->x509_error = err;
	const char *s = X509_verify_cert_error_string(err);
	switch (err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
		ms_dane_set(res, MS_DANE_NAME_MISMATCH, MS_TLSRPT_CERTIFICATE_HOST_MISMATCH,
			    "DANE-TA matched but the certificate has none of the reference names");
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		ms_dane_set(res, MS_DANE_CHAIN_INVALID, MS_TLSRPT_CERTIFICATE_EXPIRED,
			    "certificate at depth %d: %s", depth, s);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		ms_dane_set(res, MS_DANE_NO_MATCH, MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
			    "the chain does not lead to a DANE-TA anchor (%s at depth %d)",
			    s, depth);
		break;
	default:
		ms_dane_set(res, MS_DANE_CHAIN_INVALID, MS_TLSRPT_VALIDATION_FAILURE,
			    "certificate at depth %d: %s", depth, s);
		break;
	}
}

/*
 * Choose the certificates worth parsing: the issuer chain from the leaf up
 * to the first sent certificate that matched a TA record, linked by the DER
 * bytes of issuer and subject names (found by the DER walker, no parse).
 * Parsing dominates the cost of DANE-TA (OpenSSL 3 decodes every key), so
 * certificates above the anchor are skipped.  Returns 1 with use[] set,
 * 0 when every certificate must be used (two candidate issuers), -1 when
 * a certificate's names do not walk (not DER: every certificate is used,
 * and decoding tells what is wrong).
 */
static int select_path(const struct ms_dane_input *in, struct anchor_memo *anchors,
		       unsigned char *use)
{
	size_t nm[MS_DANE_MAX_CHAIN][2][2];
	for (size_t j = 0; j < in->nchain; j++)
		if (ms_dane_cert_names(in->chain[j].der, in->chain[j].len, nm[j]) != 0)
			return -1;
	memset(use, 0, MS_DANE_MAX_CHAIN);
	use[0] = 1;
	size_t cur = 0;
	for (size_t step = 0; step < in->nchain; step++) {
		if (cur != 0 && anchor_at(anchors, cur) >= 0)
			return 1;
		const uint8_t *iss = in->chain[cur].der + nm[cur][0][0];
		size_t isslen = nm[cur][0][1];
		size_t found = 0, count = 0;
		for (size_t k = 1; k < in->nchain; k++) {
			if (use[k] || nm[k][1][1] != isslen ||
			    memcmp(in->chain[k].der + nm[k][1][0], iss, isslen) != 0)
				continue;
			found = k;
			count++;
		}
		if (count == 0)
			return 1; /* the path ends: anchors from DNS may take over */
		if (count > 1)
			return 0;
		use[found] = 1;
		cur = found;
	}
	return 1;
}

/*
 * Certificate j of the chain, decoded: from the cache when its exact DER
 * was seen before, else by d2i_X509 (the whole DER must be consumed).  A
 * CA certificate decoded here goes into the CA partition, the leaf (j 0)
 * into the leaf partition when that has a bound, so leaves (one per
 * server) never evict the CA certificates that repeat.  NULL: not DER.
 * *cached is set only for CA positions: the signature memo covers
 * signatures between CA certificates; the leaf's is verified every time.
 */
static X509 *decode_cert(const struct ms_dane_ctx *ctx, struct cert_hashes *ch,
			 const struct ms_dane_input *in, X509 *const *decoded, size_t j,
			 unsigned char *cached)
{
	const uint8_t *der = in->chain[j].der;
	size_t len = in->chain[j].len;
	const uint8_t *key = NULL;
	int part = j > 0 ? MS_DANE_CC_CA : MS_DANE_CC_LEAF;
	if (ctx->cache != NULL && ms_dane_certcache_max(ctx->cache, part) > 0 &&
	    (key = cert_sha256(ctx, ch, in, j)) != NULL) {
		X509 *x = ms_dane_certcache_get(ctx->cache, key, der, len);
		struct ms_kv label = { "result", x ? "hit" : "miss" };
		ms_metric(&ctx->env, MS_METRIC_COUNTER,
			  j > 0 ? "dane_cert_cache_total" : "dane_leaf_cache_total", &label, 1, 1);
		if (x != NULL) {
			*cached = j > 0;
			return x;
		}
	}
	X509 *x;
	if (decoded != NULL && decoded[j] != NULL) {
		/* the handshake decoded it already (ssl.c encoded `der` from
		 * this very object): decoding the DER again would double the
		 * cost of a cold verification */
		x = decoded[j];
		if (X509_up_ref(x) != 1)
			return NULL;
	} else {
		const unsigned char *p = der;
		x = d2i_X509(NULL, &p, (long)len);
		if (x == NULL || (size_t)(p - der) != len) {
			X509_free(x);
			return NULL;
		}
	}
	/* Fill the extension cache now (X509_verify_cert would, under the
	 * certificate's lock): a cached X509 is then only read. */
	if (key != NULL && X509_check_purpose(x, -1, 0) == 1)
		*cached = ms_dane_certcache_put(ctx->cache, part, key, der, len, x) == 0 && j > 0;
	return x;
}

/* One verification over the certificates selected by use[].  The trust
 * anchors go into a trusted stack of this call's X509_STORE_CTX rather
 * than an X509_STORE built and torn down per call. */
static ms_status verify_ta_with(const struct ms_dane_ctx *ctx,
				const struct ms_dane_input *in, X509 *const *decoded,
				const unsigned char *keep, int64_t now,
				struct anchor_memo *anchors, const unsigned char *use,
				struct cert_hashes *ch,
				struct ms_dane_result *res, char *why, size_t whylen)
{
	struct ta_state s;
	memset(&s, 0, sizeof(s));
	STACK_OF(X509) *store = sk_X509_new_null(); /* the trust anchors */
	STACK_OF(X509) *pool = sk_X509_new_null();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	ms_status st = MS_OK;
	if (store == NULL || pool == NULL || sctx == NULL) {
		st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		goto out;
	}

	s.ncerts = in->nchain; /* certs[] is zeroed: frees stay exact on early exits */
	unsigned char cached[MS_DANE_MAX_CHAIN] = { 0 };
	for (size_t j = 0; j < in->nchain; j++) {
		if (!use[j])
			continue;
		X509 *x = decode_cert(ctx, ch, in, decoded, j, &cached[j]);
		if (x == NULL) {
			ms_dane_set(res, MS_DANE_MALFORMED, MS_TLSRPT_VALIDATION_FAILURE,
				    "certificate %zu of the chain is not valid DER", j);
			goto out;
		}
		s.certs[j] = x;
	}

	/* Sent CA certificates: anchors if a TA record matched, else pool.
	 * A TA record never matches the leaf (RFC 7671 s5.2). */
	unsigned char sent_match[MS_DANE_MAX_RECORDS] = { 0 };
	for (size_t j = 1; j < s.ncerts; j++) {
		if (s.certs[j] == NULL)
			continue;
		int rec = anchor_at(anchors, j);
		if (rec >= 0) {
			sent_match[rec] = 1;
			if (add_anchor(&s, store, s.certs[j], rec, 0) != 0)
				goto nomem;
		} else if (!sk_X509_push(pool, s.certs[j])) {
			goto nomem;
		}
	}

	/* Full certificates from DNS (2 0 0) are anchors themselves. */
	for (size_t i = 0; i < in->ntlsa; i++) {
		const struct ms_dane_tlsa *t = &in->tlsa[i];
		if (!keep[i] || t->usage != MS_DANE_DANE_TA || t->mtype != MS_DANE_MT_FULL ||
		    t->selector != MS_DANE_SEL_CERT)
			continue;
		const unsigned char *p = t->data;
		X509 *x = d2i_X509(NULL, &p, (long)t->datalen);
		if (x == NULL)
			continue; /* cannot happen: usable records parse */
		s.dnscerts[s.ndnscerts++] = x;
		if (add_anchor(&s, store, x, (int)i, 0) != 0)
			goto nomem;
	}

	/* Bare keys from DNS (2 1 0): the certificate they signed is the
	 * anchor, its signature and dates checked here since OpenSSL does not
	 * check a trusted certificate's own.  When the server sent the
	 * certificate holding the key, that certificate is the anchor already. */
	for (size_t i = 0; i < in->ntlsa; i++) {
		const struct ms_dane_tlsa *t = &in->tlsa[i];
		if (!keep[i] || t->usage != MS_DANE_DANE_TA || t->mtype != MS_DANE_MT_FULL ||
		    t->selector != MS_DANE_SEL_SPKI || sent_match[i])
			continue;
		const unsigned char *p = t->data;
		EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)t->datalen);
		if (k == NULL)
			continue;
		for (size_t j = 0; j < s.ncerts; j++) {
			X509 *x = s.certs[j];
			if (x && X509_verify(x, k) == 1 && time_ok(x, now)) {
				if (add_anchor(&s, store, x, (int)i, 1) != 0) {
					EVP_PKEY_free(k);
					goto nomem;
				}
			}
		}
		EVP_PKEY_free(k);
	}

	if (s.nanchors == 0) {
		ms_dane_set(res, MS_DANE_NO_MATCH, MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
			    "no usable TLSA record matched the certificate chain");
		goto out;
	}

	if (!X509_STORE_CTX_init(sctx, NULL, s.certs[0], pool))
		goto nomem;
	X509_STORE_CTX_set0_trusted_stack(sctx, store);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
	X509_STORE_CTX_set_default(sctx, "ssl_server");
	X509_VERIFY_PARAM_set_time(param, (time_t)now);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	/* RFC 7672 s3.2.3: a wildcard only as the whole left-most label. */
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (size_t i = 0; i < in->nnames; i++) {
		int ok = i == 0 ? X509_VERIFY_PARAM_set1_host(param, in->names[i], 0) :
				  X509_VERIFY_PARAM_add1_host(param, in->names[i], 0);
		if (!ok) {
			st = ms_why(why, whylen, MS_ERR_INVALID, "bad reference name '%s'",
				    in->names[i]);
			goto out;
		}
	}
	X509_STORE_CTX_set_verify_cb(sctx, verify_cb);
	struct sig_state ss = { ctx, s.certs, s.ncerts, ch, cached };
	if (ctx->cache != NULL) {
		/* the signature memo lives in the cache: without it, OpenSSL's
		 * own pass runs unchanged */
		X509_STORE_CTX_set_app_data(sctx, &ss);
		X509_STORE_CTX_set_verify(sctx, chain_verify);
	}

	if (X509_verify_cert(sctx) == 1) {
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
		int n = sk_X509_num(chain);
		X509 *top = sk_X509_value(chain, n - 1);
		res->depth = n - 1;
		for (size_t a = 0; a < s.nanchors; a++) {
			if (X509_cmp(top, s.anchors[a].cert) == 0) {
				res->matched = s.anchors[a].rec;
				break;
			}
		}
		ms_dane_set(res, MS_DANE_VERIFIED, MS_TLSRPT_SUCCESS,
			    "DANE-TA record matched at depth %d", res->depth);
	} else {
		map_error(res, X509_STORE_CTX_get_error(sctx),
			  X509_STORE_CTX_get_error_depth(sctx));
	}
	goto out;
nomem:
	st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
out:
	X509_STORE_CTX_free(sctx);
	sk_X509_free(pool);
	sk_X509_free(store);
	ta_state_free(&s);
	return st;
}

static ms_status verify_ta(const struct ms_dane_ctx *ctx,
			   const struct ms_dane_input *in, X509 *const *decoded,
			   const unsigned char *keep, int64_t now,
			   struct ms_dane_result *res, char *why, size_t whylen)
{
	/* Which sent CA certificates match a TA record: bytes only, each
	 * worked out when first needed (anchor_at). */
	struct cert_hashes ch;
	memset(ch.have, 0, sizeof(ch.have));
	struct anchor_memo anchors = { ctx, in, keep, &ch, { 0 } };
	for (size_t j = 0; j < MS_DANE_MAX_CHAIN; j++)
		anchors.rec[j] = -2;
	int from_dns = 0;
	for (size_t i = 0; i < in->ntlsa; i++)
		if (keep[i] && in->tlsa[i].usage == MS_DANE_DANE_TA &&
		    in->tlsa[i].mtype == MS_DANE_MT_FULL)
			from_dns = 1; /* anchors from DNS */

	unsigned char use[MS_DANE_MAX_CHAIN];
	memset(use, 1, sizeof(use));
	unsigned char path[MS_DANE_MAX_CHAIN];
	int walked = select_path(in, &anchors, path);
	if (walked == 1 && memcmp(path, use, in->nchain) != 0) {
		/* worth a try only when something can anchor the path */
		int anchored = from_dns;
		for (size_t j = 1; j < in->nchain && !anchored; j++)
			anchored = path[j] && anchor_at(&anchors, j) >= 0;
		if (anchored) {
			ms_status st = verify_ta_with(ctx, in, decoded, keep, now, &anchors,
						      path, &ch, res, why, whylen);
			/* Only success is taken from the shortcut: any failure
			 * is decided on the whole chain, exactly as without it. */
			if (st != MS_OK || res->verdict == MS_DANE_VERIFIED)
				return st;
			res->matched = -1;
			res->depth = -1;
			res->x509_error = 0;
		}
	}
	int any = from_dns;
	for (size_t j = 1; j < in->nchain; j++)
		any |= anchor_at(&anchors, j) >= 0;
	if (!any) {
		/* Nothing can anchor the chain; still tell garbage (names
		 * that do not walk) apart by decoding it. */
		if (walked < 0)
			return verify_ta_with(ctx, in, decoded, keep, now, &anchors, use, &ch,
					      res, why, whylen);
		ms_dane_set(res, MS_DANE_NO_MATCH, MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
			    "no usable TLSA record matched the certificate chain");
		return MS_OK;
	}
	return verify_ta_with(ctx, in, decoded, keep, now, &anchors, use, &ch, res, why,
			      whylen);
}

static ms_status verify_core(const struct ms_dane_ctx *ctx,
			     const struct ms_dane_input *in, X509 *const *decoded,
			     struct ms_dane_result *res, char *why, size_t whylen)
{
	if (ctx == NULL || in == NULL || res == NULL || in->version < 1 ||
	    (in->nchain && in->chain == NULL) || (in->ntlsa && in->tlsa == NULL) ||
	    (in->nnames && in->names == NULL))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (in->nchain > MS_DANE_MAX_CHAIN || in->ntlsa > MS_DANE_MAX_RECORDS ||
	    in->nnames > MS_DANE_MAX_NAMES)
		return ms_why(why, whylen, MS_ERR_LIMIT,
			      "at most %d certificates, %d records, %d names",
			      MS_DANE_MAX_CHAIN, MS_DANE_MAX_RECORDS, MS_DANE_MAX_NAMES);
	for (size_t i = 0; i < in->nchain; i++)
		if (in->chain[i].der == NULL || in->chain[i].len > MS_DANE_MAX_CERT)
			return ms_why(why, whylen, MS_ERR_LIMIT,
				      "certificate %zu missing or over %d bytes", i,
				      MS_DANE_MAX_CERT);
	for (size_t i = 0; i < in->nnames; i++)
		if (in->names[i] == NULL)
			return ms_why(why, whylen, MS_ERR_INVALID, "null reference name");

	memset(res, 0, sizeof(*res));
	res->matched = -1;
	res->depth = -1;

	if (in->ntlsa == 0) {
		ms_dane_set(res, MS_DANE_NO_RECORDS, MS_TLSRPT_SUCCESS, "no TLSA records");
		return MS_OK;
	}
	if (!in->authentic) {
		ms_dane_set(res, MS_DANE_INSECURE, MS_TLSRPT_SUCCESS,
			    "TLSA records are not DNSSEC-secure: DANE does not apply");
		return MS_OK;
	}
	unsigned char keep[MS_DANE_MAX_RECORDS];
	res->usable = ms_dane_select(ctx, in->tlsa, in->ntlsa, keep);
	if (res->usable == 0) {
		/* RFC 7672 s2.2: TLS stays mandatory, no certificate check, and
		 * never a fall-back to PKIX. */
		ms_dane_set(res, MS_DANE_ALL_UNUSABLE, MS_TLSRPT_TLSA_INVALID,
			    "none of the %zu TLSA records is usable for SMTP", in->ntlsa);
		return MS_OK;
	}
	if (in->nchain == 0) {
		ms_dane_set(res, MS_DANE_MALFORMED, MS_TLSRPT_VALIDATION_FAILURE,
			    "the server sent no certificate");
		return MS_OK;
	}

	/* DANE-EE(3): the leaf only, no names, no dates (RFC 7672 s3.1.1). */
	const uint8_t *leaf = in->chain[0].der;
	size_t leaflen = in->chain[0].len;
	int have_ta = 0;
	for (size_t i = 0; i < in->ntlsa; i++) {
		if (!keep[i])
			continue;
		if (in->tlsa[i].usage != MS_DANE_DANE_EE) {
			have_ta = 1;
			continue;
		}
		if (record_matches(ctx, &in->tlsa[i], leaf, leaflen)) {
			res->matched = (int)i;
			res->depth = 0;
			ms_dane_set(res, MS_DANE_VERIFIED, MS_TLSRPT_SUCCESS,
				    "DANE-EE record matched the leaf");
			return MS_OK;
		}
	}
	if (!have_ta) {
		size_t off, slen;
		if (ms_dane_cert_spki(leaf, leaflen, &off, &slen) != MS_OK)
			ms_dane_set(res, MS_DANE_MALFORMED, MS_TLSRPT_VALIDATION_FAILURE,
				    "the leaf certificate is not valid DER");
		else
			ms_dane_set(res, MS_DANE_NO_MATCH, MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
				    "no DANE-EE record matched the leaf certificate");
		return MS_OK;
	}
	int64_t now = in->now ? in->now : ms_now(&ctx->env);
	return verify_ta(ctx, in, decoded, keep, now, res, why, whylen);
}

/*
 * How many bytes of struct ms_dane_result a caller's `version` has (0: an
 * unknown version).  A later version appends members: version 1 then ends
 * at offsetof(struct ms_dane_result, <first new member>), and a caller of
 * a version this library does not know yet gets what the library has.
 */
static size_t result_size(unsigned version)
{
	if (version < 1)
		return 0;
	return sizeof(struct ms_dane_result);
}

ms_status ms_dane_verify_decoded(const struct ms_dane_ctx *ctx,
				 const struct ms_dane_input *in, X509 *const *decoded,
				 struct ms_dane_result *out, char *why, size_t whylen)
{
	/* The caller's struct may be shorter than ours: verify into a full
	 * one, then copy only what the caller's version holds. */
	size_t outsize = out ? result_size(out->version) : 0;
	if (outsize == 0)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "result version not set (MS_DANE_RESULT_VERSION)");
	struct ms_dane_result full;
	struct ms_dane_result *res = &full;
	ms_status st = verify_core(ctx, in, decoded, res, why, whylen);
	if (st != MS_OK || ctx == NULL)
		return st;
	unsigned version = out->version;
	memcpy(out, res, outsize);
	out->version = version;
	/* Observability through the env hooks (no-ops unless set). */
	const char *v = ms_dane_verdict_str(res->verdict);
	struct ms_kv label = { "verdict", v };
	ms_metric(&ctx->env, MS_METRIC_COUNTER, "dane_verifications_total", &label, 1, 1);
	if (ms_log_enabled(&ctx->env, MS_LOG_DEBUG)) {
		char depth[16], matched[16];
		snprintf(depth, sizeof(depth), "%d", res->depth);
		snprintf(matched, sizeof(matched), "%d", res->matched);
		struct ms_kv kv[] = { { "verdict", v }, { "depth", depth },
				      { "matched", matched }, { "reason", res->reason } };
		ms_log(&ctx->env, MS_LOG_DEBUG, "dane", "verification finished", kv, 4);
	}
	return st;
}

ms_status ms_dane_verify(const struct ms_dane_ctx *ctx,
			 const struct ms_dane_input *in,
			 struct ms_dane_result *out, char *why, size_t whylen)
{
	return ms_dane_verify_decoded(ctx, in, NULL, out, why, whylen);
}
