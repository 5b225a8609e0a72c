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

static int add_anchor(struct ta_state *s, X509_STORE *store, X509 *x, int rec,
		      int keyed)
{
	if (!X509_STORE_add_cert(store, x))
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
 * 0 when every certificate must be used (a name that does not walk, two
 * candidate issuers).
 */
static int select_path(const struct ms_dane_input *in, const int *anchor_rec,
		       unsigned char *use)
{
	size_t nm[MS_DANE_MAX_CHAIN][2][2];
	for (size_t j = 0; j < in->nchain; j++)
		if (ms_dane_cert_names(in->chain[j].der, in->chain[j].len, nm[j]) != 0)
			return 0;
	memset(use, 0, MS_DANE_MAX_CHAIN);
	use[0] = 1;
	size_t cur = 0;
	for (size_t step = 0; step < in->nchain; step++) {
		if (cur != 0 && anchor_rec[cur] >= 0)
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

/* One verification over the certificates selected by use[]. */
static ms_status verify_ta_with(const struct ms_dane_ctx *ctx,
				const struct ms_dane_input *in,
				const unsigned char *keep, int64_t now,
				const int *anchor_rec, const unsigned char *use,
				struct ms_dane_result *res, char *why, size_t whylen)
{
	struct ta_state s;
	memset(&s, 0, sizeof(s));
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *pool = sk_X509_new_null();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	ms_status st = MS_OK;
	if (store == NULL || pool == NULL || sctx == NULL) {
		st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		goto out;
	}

	s.ncerts = in->nchain; /* certs[] is zeroed: frees stay exact on early exits */
	for (size_t j = 0; j < in->nchain; j++) {
		if (!use[j])
			continue;
		const unsigned char *p = in->chain[j].der;
		X509 *x = d2i_X509(NULL, &p, (long)in->chain[j].len);
		if (x == NULL || (size_t)(p - in->chain[j].der) != in->chain[j].len) {
			X509_free(x);
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
		int rec = anchor_rec[j];
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

	if (!X509_STORE_CTX_init(sctx, store, s.certs[0], pool))
		goto nomem;
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
	X509_STORE_free(store);
	ta_state_free(&s);
	return st;
}

static ms_status verify_ta(const struct ms_dane_ctx *ctx,
			   const struct ms_dane_input *in,
			   const unsigned char *keep, int64_t now,
			   struct ms_dane_result *res, char *why, size_t whylen)
{
	/* Which sent CA certificates match a TA record: bytes only. */
	int anchor_rec[MS_DANE_MAX_CHAIN];
	int any = 0;
	anchor_rec[0] = -1;
	for (size_t j = 1; j < in->nchain; j++) {
		anchor_rec[j] = -1;
		for (size_t i = 0; i < in->ntlsa && anchor_rec[j] < 0; i++)
			if (keep[i] && in->tlsa[i].usage == MS_DANE_DANE_TA &&
			    record_matches(ctx, &in->tlsa[i], in->chain[j].der, in->chain[j].len))
				anchor_rec[j] = (int)i;
		any |= anchor_rec[j] >= 0;
	}
	for (size_t i = 0; i < in->ntlsa; i++)
		if (keep[i] && in->tlsa[i].usage == MS_DANE_DANE_TA &&
		    in->tlsa[i].mtype == MS_DANE_MT_FULL)
			any = 1; /* anchors from DNS */

	unsigned char use[MS_DANE_MAX_CHAIN];
	memset(use, 1, sizeof(use));
	if (!any) {
		/* Nothing can anchor the chain; still tell garbage apart. */
		size_t nm[2][2];
		for (size_t j = 0; j < in->nchain; j++)
			if (ms_dane_cert_names(in->chain[j].der, in->chain[j].len, nm) != 0)
				return verify_ta_with(ctx, in, keep, now, anchor_rec, use, res,
						      why, whylen);
		ms_dane_set(res, MS_DANE_NO_MATCH, MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
			    "no usable TLSA record matched the certificate chain");
		return MS_OK;
	}
	unsigned char path[MS_DANE_MAX_CHAIN];
	if (select_path(in, anchor_rec, path) && memcmp(path, use, in->nchain) != 0) {
		ms_status st = verify_ta_with(ctx, in, keep, now, anchor_rec, path, res, why,
					      whylen);
		/* Only success is taken from the shortcut: any failure is
		 * decided on the whole chain, exactly as without it. */
		if (st != MS_OK || res->verdict == MS_DANE_VERIFIED)
			return st;
		res->matched = -1;
		res->depth = -1;
		res->x509_error = 0;
	}
	return verify_ta_with(ctx, in, keep, now, anchor_rec, use, res, why, whylen);
}

static ms_status verify_core(const struct ms_dane_ctx *ctx,
			     const struct ms_dane_input *in,
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
	return verify_ta(ctx, in, keep, now, res, why, whylen);
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

ms_status ms_dane_verify(const struct ms_dane_ctx *ctx,
			 const struct ms_dane_input *in,
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
	ms_status st = verify_core(ctx, in, res, why, whylen);
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
