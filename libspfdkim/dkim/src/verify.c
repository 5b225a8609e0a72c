/*
 * verify.c - DKIM verification (RFC 6376 s6): per-message state, body
 * hashes shared between signatures with the same (canonicalization, hash,
 * l=), and the evaluation of each signature into a result and a reason.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dkim_internal.h"
#include "keycache.h"

struct ms_dkim_sig {
	struct dkim_sigparams sp;
	int parsed;
	size_t field;               /* index of the DKIM-Signature field */
	struct dkim_bodyhash *bh;   /* NULL if no body hash is needed */
	enum ms_dkim_result result;
	char reason[200];
	enum ms_dns_security dnssec;
	int testing;
	unsigned bits;
	uint64_t unsigned_bytes;
};

struct ms_dkim_verify {
	struct ms_dkim_verifier *v;
	struct dkim_msg msg;
	struct ms_dkim_sig *sigs;
	size_t nsigs, ignored;
	struct dkim_bodyhash *bhs[MS_DKIM_MAX_SIGNATURES];
	size_t nbhs;
	int finished;
	char limit[160];            /* a header bound was hit: why (else "") */
};

ms_status ms_dkim_verifier_new(const struct ms_env *env, struct ms_dns_ctx *dns,
			       struct ms_dkim_verifier **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dkim_verifier *v = ms_calloc(&e, 1, sizeof(*v));
	if (v == NULL)
		return MS_ERR_NOMEM;
	v->env = e;
	v->dns = dns;
	v->min_bits = 1024;
	v->skew = 300;
	dkim_keycache_init(&v->cache, &v->env, 512);
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	v->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	if (v->sha256 == NULL || v->sha1 == NULL) {
		ms_dkim_verifier_free(v);
		return MS_ERR_INTERNAL;
	}
	*out = v;
	return MS_OK;
}

void ms_dkim_verifier_free(struct ms_dkim_verifier *v)
{
	if (v == NULL)
		return;
	dkim_keycache_free(&v->cache);
	EVP_MD_free(v->sha256);
	EVP_MD_free(v->sha1);
	ms_free(&v->env, v);
}

void ms_dkim_verifier_set_flags(struct ms_dkim_verifier *v, unsigned flags)
{
	if (v)
		v->flags = flags;
}

void ms_dkim_verifier_set_min_rsa_bits(struct ms_dkim_verifier *v, unsigned bits)
{
	if (v)
		v->min_bits = bits < 1024 ? 1024 : bits;
}

void ms_dkim_verifier_set_clock_skew(struct ms_dkim_verifier *v, unsigned seconds)
{
	if (v)
		v->skew = seconds;
}

void ms_dkim_verifier_flush_cache(struct ms_dkim_verifier *v)
{
	if (v)
		dkim_keycache_flush(&v->cache);
}

ms_status ms_dkim_verify_new(struct ms_dkim_verifier *v, struct ms_dkim_verify **out)
{
	if (v == NULL || out == NULL)
		return MS_ERR_INVALID;
	struct ms_dkim_verify *vf = ms_calloc(&v->env, 1, sizeof(*vf));
	if (vf == NULL)
		return MS_ERR_NOMEM;
	vf->v = v;
	dkim_msg_init(&vf->msg, &v->env);
	*out = vf;
	return MS_OK;
}

void ms_dkim_verify_free(struct ms_dkim_verify *vf)
{
	if (vf == NULL)
		return;
	const struct ms_env *env = &vf->v->env;
	for (size_t i = 0; i < vf->nbhs; i++) {
		EVP_MD_CTX_free(vf->bhs[i]->ctx);
		ms_free(env, vf->bhs[i]);
	}
	ms_free(env, vf->sigs);
	dkim_msg_free(&vf->msg);
	ms_free(env, vf);
}

static void set(struct ms_dkim_sig *s, enum ms_dkim_result r, const char *fmt, ...)
	MS_PRINTF(3, 4);
static void set(struct ms_dkim_sig *s, enum ms_dkim_result r, const char *fmt, ...)
{
	va_list ap;
	s->result = r;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

static struct dkim_bodyhash *bodyhash_for(struct ms_dkim_verify *vf,
					  const struct dkim_sigparams *sp)
{
	const EVP_MD *md = sp->alg == MS_DKIM_RSA_SHA1 ? vf->v->sha1 : vf->v->sha256;
	for (size_t i = 0; i < vf->nbhs; i++) {
		struct dkim_bodyhash *b = vf->bhs[i];
		if (b->canon == sp->bcanon && b->md == md && b->limit == sp->l)
			return b;
	}
	if (vf->nbhs >= MS_DKIM_MAX_SIGNATURES)
		return NULL;
	/* Not calloc: the struct holds a 16 KiB output buffer that need not
	 * be cleared; every field read is set below or by _init. */
	struct dkim_bodyhash *b = ms_malloc(&vf->v->env, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->total = b->hashed = 0;
	b->dlen = 0;
	b->done = 0;
	b->ctx = EVP_MD_CTX_new();
	if (b->ctx == NULL || EVP_DigestInit_ex(b->ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(b->ctx);
		ms_free(&vf->v->env, b);
		return NULL;
	}
	b->canon = sp->bcanon;
	b->md = md;
	b->limit = sp->l;
	dkim_bodycanon_init(&b->bc, b->canon, dkim_bodyhash_sink, b);
	vf->bhs[vf->nbhs++] = b;
	return b;
}

/* End of the header: find and parse the signatures, set up body hashes. */
static ms_status setup(struct ms_dkim_verify *vf)
{
	struct dkim_msg *m = &vf->msg;
	size_t n = 0;
	for (size_t i = 0; i < m->nfields; i++)
		if (dkim_field_is(m, i, "dkim-signature", 14))
			n++;
	if (n == 0)
		return MS_OK;
	if (n > MS_DKIM_MAX_SIGNATURES) {
		vf->ignored = n - MS_DKIM_MAX_SIGNATURES;
		n = MS_DKIM_MAX_SIGNATURES;
	}
	vf->sigs = ms_calloc(&vf->v->env, n, sizeof(*vf->sigs));
	if (vf->sigs == NULL)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < m->nfields && vf->nsigs < n; i++) {
		if (!dkim_field_is(m, i, "dkim-signature", 14))
			continue;
		struct ms_dkim_sig *s = &vf->sigs[vf->nsigs++];
		const struct dkim_field *f = &m->fields[i];
		const uint8_t *val = m->hdr.data + f->off;
		size_t colon = 0;
		while (val[colon] != ':')
			colon++;
		s->field = i;
		s->dnssec = MS_DNS_INDETERMINATE;
		char why[160];
		if (dkim_sig_parse(val + colon + 1, f->len - colon - 1, &s->sp, why,
				   sizeof(why)) != MS_OK) {
			set(s, MS_DKIM_PERMERROR, "%s", why);
			continue;
		}
		s->parsed = 1;
		if (s->sp.alg == MS_DKIM_RSA_SHA1 && !(vf->v->flags & MS_DKIM_ALLOW_SHA1))
			continue; /* refused anyway: no body hash needed */
		s->bh = bodyhash_for(vf, &s->sp);
		if (s->bh == NULL)
			return MS_ERR_NOMEM;
	}
	return MS_OK;
}

ms_status ms_dkim_verify_feed(struct ms_dkim_verify *vf, const uint8_t *buf, size_t len,
			      char *why, size_t whylen)
{
	if (vf == NULL || (buf == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "no handle or buffer");
	if (vf->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "already finished");
	if (vf->msg.overflow && !vf->msg.nomem)
		return MS_OK;  /* over a header bound: the rest cannot change the result */
	if (!vf->msg.in_body) {
		long used = dkim_msg_feed_header(&vf->msg, buf, len);
		if (used < 0 && vf->msg.nomem)
			return ms_why(why, whylen, MS_ERR_NOMEM, "%s", vf->msg.err);
		if (used < 0)
			return MS_OK;  /* a bound: the signatures are permerror at finish */
		if (!vf->msg.in_body)
			return MS_OK;
		ms_status st = setup(vf);
		if (st != MS_OK)
			return ms_why(why, whylen, st, "%s", ms_status_str(st));
		buf += used;
		len -= (size_t)used;
	}
	for (size_t i = 0; i < vf->nbhs; i++)
		dkim_bodycanon_update(&vf->bhs[i]->bc, buf, len);
	return MS_OK;
}

static size_t count_from(const struct dkim_msg *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nfields; i++)
		n += dkim_field_is(m, i, "from", 4);
	return n;
}

static void evaluate(struct ms_dkim_verify *vf, struct ms_dkim_sig *s, int64_t now)
{
	struct ms_dkim_verifier *v = vf->v;
	struct dkim_sigparams *sp = &s->sp;
	if (!s->parsed)
		return;
	/* bh is NULL if sha1 was refused when the header ended (the policy
	 * may have changed since) */
	if (sp->alg == MS_DKIM_RSA_SHA1 && (!(v->flags & MS_DKIM_ALLOW_SHA1) || s->bh == NULL)) {
		set(s, MS_DKIM_POLICY, "rsa-sha1 is not accepted (RFC 8301)");
		return;
	}
	if (sp->x >= 0 && now > sp->x) {
		set(s, MS_DKIM_PERMERROR, "signature expired (x=%lld)", (long long)sp->x);
		return;
	}
	if (sp->t >= 0 && sp->t > now + (int64_t)v->skew) {
		set(s, MS_DKIM_PERMERROR, "signature timestamp t=%lld is in the future",
		    (long long)sp->t);
		return;
	}

	struct dkim_keyinfo ki;
	char why[160] = "";
	enum dkim_keyfetch kf = dkim_key_fetch(v, sp->selector, sp->domain, now, &ki, why,
					       sizeof(why));
	s->dnssec = ki.security;
	if (kf == DKIM_KEY_TEMP) {
		set(s, MS_DKIM_TEMPERROR, "%s", why);
		return;
	}
	if (kf == DKIM_KEY_PERM) {
		set(s, MS_DKIM_PERMERROR, "%s", why);
		return;
	}
	s->testing = ki.testing;
	s->bits = ki.bits;
	const char *tst = ki.testing ? " (key in testing mode, t=y)" : "";
	enum ms_dkim_result failres = ki.testing ? MS_DKIM_NEUTRAL : MS_DKIM_FAIL;
	int r = 0;
	if (ki.revoked) {
		set(s, MS_DKIM_PERMERROR, "key revoked (empty p=)");
	} else if ((sp->alg == MS_DKIM_ED25519_SHA256) != ki.ed25519) {
		set(s, MS_DKIM_PERMERROR, "key type k=%s does not match a=%s",
		    ki.ed25519 ? "ed25519" : "rsa", ms_dkim_algorithm_str(sp->alg));
	} else if (sp->alg == MS_DKIM_RSA_SHA1 ? !ki.h_sha1 : !ki.h_sha256) {
		set(s, MS_DKIM_PERMERROR, "key record h= does not allow %s",
		    sp->alg == MS_DKIM_RSA_SHA1 ? "sha1" : "sha256");
	} else if (ki.strict && ms_ascii_casecmp(sp->idomain, sp->domain) != 0) {
		set(s, MS_DKIM_PERMERROR, "key has t=s but i= is a subdomain of d=");
	} else if (!ki.ed25519 && ki.bits < v->min_bits) {
		set(s, MS_DKIM_POLICY, "RSA key of %u bits is too short (minimum %u)",
		    ki.bits, v->min_bits);
	} else {
		r = 1;
	}
	if (!r) {
		EVP_PKEY_free(ki.pkey);
		return;
	}

	struct dkim_bodyhash *bh = s->bh;
	if (sp->l >= 0 && (uint64_t)sp->l > bh->total) {
		set(s, failres, "l=%lld is longer than the body (%llu bytes)%s",
		    (long long)sp->l, (unsigned long long)bh->total, tst);
	} else if (bh->dlen != sp->bhlen || CRYPTO_memcmp(bh->digest, sp->bh, sp->bhlen) != 0) {
		set(s, failres, "body hash mismatch%s", tst);
	} else {
		const struct dkim_field *f = &vf->msg.fields[s->field];
		const uint8_t *fp = vf->msg.hdr.data + f->off;
		size_t colon = 0;
		while (fp[colon] != ':')
			colon++;
		uint8_t digest[64];
		unsigned dlen = 0;
		const EVP_MD *md = sp->alg == MS_DKIM_RSA_SHA1 ? v->sha1 : v->sha256;
		if (dkim_header_digest(&vf->msg, sp, md, fp, f->len, colon + 1 + sp->b_vstart,
				       sp->b_vend - sp->b_vstart, digest, &dlen, why,
				       sizeof(why)) != MS_OK) {
			set(s, MS_DKIM_TEMPERROR, "%s", why);
		} else if (!dkim_verify_digest(ki.pkey, sp->alg, md, digest, dlen, sp->b, sp->blen)) {
			set(s, failres, "signature did not verify%s", tst);
		} else {
			/* Verified.  What it does not cover is reported. */
			size_t nfrom = count_from(&vf->msg), hfrom = 0;
			for (size_t k = 0; k < sp->nh; k++)
				hfrom += sp->hlen[k] == 4 &&
					 ms_ascii_ncasecmp(sp->h[k], "from", 4) == 0;
			s->unsigned_bytes = sp->l >= 0 ? bh->total - (uint64_t)sp->l : 0;
			if (nfrom > hfrom)
				set(s, MS_DKIM_POLICY,
				    "message has %zu From fields, only %zu signed", nfrom,
				    hfrom);
			else if (s->unsigned_bytes && !(v->flags & MS_DKIM_ALLOW_BODY_LENGTH))
				set(s, MS_DKIM_POLICY,
				    "l= leaves %llu body bytes unsigned",
				    (unsigned long long)s->unsigned_bytes);
			else if (s->unsigned_bytes)
				set(s, MS_DKIM_PASS, "l= leaves %llu body bytes unsigned%s",
				    (unsigned long long)s->unsigned_bytes, tst);
			else
				set(s, MS_DKIM_PASS, "%s", ki.testing ? "key in testing mode (t=y)" : "");
		}
	}
	EVP_PKEY_free(ki.pkey);
}

/*
 * A header bound was hit (RFC 6376 s3.7 needs every field h= names, and
 * the ones past the bound were not kept): no signature can be verified.
 * Each DKIM-Signature field seen before the bound is permerror, with its
 * d= and s= when readable; when none was seen, one entry without d= says
 * permerror too, because a signature may lie past the bound and "none"
 * would claim the message is unsigned.
 */
static ms_status limited(struct ms_dkim_verify *vf)
{
	struct dkim_msg *m = &vf->msg;
	snprintf(vf->limit, sizeof(vf->limit), "%s", m->err);
	size_t n = 0;
	for (size_t i = 0; i < m->nfields; i++)
		n += dkim_field_is(m, i, "dkim-signature", 14);
	if (n > MS_DKIM_MAX_SIGNATURES) {
		vf->ignored = n - MS_DKIM_MAX_SIGNATURES;
		n = MS_DKIM_MAX_SIGNATURES;
	}
	vf->sigs = ms_calloc(&vf->v->env, n ? n : 1, sizeof(*vf->sigs));
	if (vf->sigs == NULL)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < m->nfields && vf->nsigs < n; i++) {
		if (!dkim_field_is(m, i, "dkim-signature", 14))
			continue;
		struct ms_dkim_sig *s = &vf->sigs[vf->nsigs++];
		const struct dkim_field *f = &m->fields[i];
		size_t colon = 0;
		(void)ms_hdr_name(m->hdr.data + f->off, f->len, &colon);
		char ignored[8];
		/* for d= and s= only: the result is the bound's */
		(void)dkim_sig_parse(m->hdr.data + f->off + colon + 1, f->len - colon - 1, &s->sp,
				     ignored, sizeof(ignored));
		s->field = i;
	}
	if (vf->nsigs == 0)
		vf->nsigs = 1;
	for (size_t i = 0; i < vf->nsigs; i++) {
		vf->sigs[i].dnssec = MS_DNS_INDETERMINATE;
		set(&vf->sigs[i], MS_DKIM_PERMERROR, "%s, not verified", vf->limit);
	}
	return MS_OK;
}

ms_status ms_dkim_verify_finish(struct ms_dkim_verify *vf, char *why, size_t whylen)
{
	if (vf == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no handle");
	if (vf->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "already finished");
	int header_open = !vf->msg.in_body && !vf->msg.overflow;
	if (header_open)
		dkim_msg_end_header(&vf->msg);
	if (vf->msg.overflow && vf->msg.nomem)
		return ms_why(why, whylen, MS_ERR_NOMEM, "%s", vf->msg.err);
	if (vf->msg.overflow) {
		ms_status st = limited(vf);
		if (st != MS_OK)
			return ms_why(why, whylen, st, "%s", ms_status_str(st));
		vf->finished = 1;
		struct ms_kv kv[] = { { "result", "permerror" } };
		ms_metric(&vf->v->env, MS_METRIC_COUNTER, "dkim_signatures_total", kv, 1,
			  (double)vf->nsigs);
		return MS_OK;
	}
	if (header_open) {
		ms_status st = setup(vf);
		if (st != MS_OK)
			return ms_why(why, whylen, st, "%s", ms_status_str(st));
	}
	vf->finished = 1;
	for (size_t i = 0; i < vf->nbhs; i++) {
		struct dkim_bodyhash *b = vf->bhs[i];
		dkim_bodycanon_final(&b->bc);
		EVP_DigestFinal_ex(b->ctx, b->digest, &b->dlen);
		b->done = 1;
	}
	int64_t now = ms_now(&vf->v->env);
	for (size_t i = 0; i < vf->nsigs; i++) {
		evaluate(vf, &vf->sigs[i], now);
		struct ms_kv kv[] = {
			{ "result", ms_dkim_result_str(vf->sigs[i].result) },
			{ "domain", vf->sigs[i].sp.domain },
		};
		ms_metric(&vf->v->env, MS_METRIC_COUNTER, "dkim_signatures_total", kv, 1, 1);
		if (ms_log_enabled(&vf->v->env, MS_LOG_DEBUG)) {
			struct ms_kv lkv[] = { kv[0], kv[1],
					       { "selector", vf->sigs[i].sp.selector },
					       { "reason", vf->sigs[i].reason } };
			ms_log(&vf->v->env, MS_LOG_DEBUG, "dkim", "signature evaluated", lkv, 4);
		}
	}
	return MS_OK;
}

size_t ms_dkim_verify_count(const struct ms_dkim_verify *vf)
{
	return vf && vf->finished ? vf->nsigs : 0;
}

const char *ms_dkim_verify_limit(const struct ms_dkim_verify *vf)
{
	return vf && vf->finished && vf->limit[0] ? vf->limit : NULL;
}

size_t ms_dkim_verify_ignored(const struct ms_dkim_verify *vf)
{
	return vf ? vf->ignored : 0;
}

const struct ms_dkim_sig *ms_dkim_verify_sig(const struct ms_dkim_verify *vf, size_t i)
{
	if (vf == NULL || !vf->finished || i >= vf->nsigs)
		return NULL;
	return &vf->sigs[i];
}

enum ms_dkim_result ms_dkim_sig_result(const struct ms_dkim_sig *s)
{
	return s ? s->result : MS_DKIM_PERMERROR;
}

const char *ms_dkim_sig_reason(const struct ms_dkim_sig *s) { return s ? s->reason : NULL; }

const char *ms_dkim_sig_domain(const struct ms_dkim_sig *s)
{
	return s && s->sp.domain[0] ? s->sp.domain : NULL;
}

const char *ms_dkim_sig_selector(const struct ms_dkim_sig *s)
{
	return s && s->sp.selector[0] ? s->sp.selector : NULL;
}

const char *ms_dkim_sig_identity(const struct ms_dkim_sig *s)
{
	return s && s->parsed ? s->sp.identity : NULL;
}

enum ms_dkim_algorithm ms_dkim_sig_algorithm(const struct ms_dkim_sig *s)
{
	return s ? s->sp.alg : MS_DKIM_ALG_UNKNOWN;
}

enum ms_dkim_canon ms_dkim_sig_header_canon(const struct ms_dkim_sig *s)
{
	return s ? s->sp.hcanon : MS_DKIM_CANON_SIMPLE;
}

enum ms_dkim_canon ms_dkim_sig_body_canon(const struct ms_dkim_sig *s)
{
	return s ? s->sp.bcanon : MS_DKIM_CANON_SIMPLE;
}

enum ms_dns_security ms_dkim_sig_dnssec(const struct ms_dkim_sig *s)
{
	return s ? s->dnssec : MS_DNS_INDETERMINATE;
}

int ms_dkim_sig_testing(const struct ms_dkim_sig *s) { return s ? s->testing : 0; }
unsigned ms_dkim_sig_key_bits(const struct ms_dkim_sig *s) { return s ? s->bits : 0; }
int64_t ms_dkim_sig_timestamp(const struct ms_dkim_sig *s) { return s && s->parsed ? s->sp.t : -1; }
int64_t ms_dkim_sig_expiration(const struct ms_dkim_sig *s) { return s && s->parsed ? s->sp.x : -1; }
int64_t ms_dkim_sig_body_length(const struct ms_dkim_sig *s) { return s && s->parsed ? s->sp.l : -1; }
uint64_t ms_dkim_sig_unsigned_bytes(const struct ms_dkim_sig *s) { return s ? s->unsigned_bytes : 0; }
const char *ms_dkim_sig_b_prefix(const struct ms_dkim_sig *s) { return s ? s->sp.bprefix : ""; }
