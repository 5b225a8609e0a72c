/*
 * sign.c - DKIM signing (RFC 6376 s5): one or more signatures over one
 * streamed message, each with its own key, canonicalization and header
 * list; names listed for oversigning are signed once more than they occur
 * so that a field added later breaks the signature (s8.15).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "dkim_internal.h"

static const char default_headers[] =
	"from:sender:reply-to:subject:date:message-id:to:cc:mime-version:"
	"content-type:content-transfer-encoding:content-id:content-description:"
	"resent-date:resent-from:resent-sender:resent-to:resent-cc:resent-message-id:"
	"in-reply-to:references:list-id:list-help:list-unsubscribe:list-subscribe:"
	"list-post:list-owner:list-archive";
static const char default_oversign[] =
	"from:to:cc:subject:date:reply-to:message-id:mime-version:content-type:"
	"content-transfer-encoding";

struct signsig {
	EVP_PKEY *pkey;
	enum ms_dkim_algorithm alg;
	char domain[256], selector[256], identity[512];
	enum ms_dkim_canon hcanon, bcanon;
	char headers[1024], oversign[1024];
	uint64_t expire_after;
	struct dkim_bodyhash bh;
};

struct ms_dkim_signer {
	struct ms_env env;
	struct dkim_msg msg;
	struct signsig *sigs[MS_DKIM_MAX_SIGNATURES];
	size_t nsigs;
	int fed, finished;
	struct ms_buf out;
};

ms_status ms_dkim_signer_new(const struct ms_env *env, struct ms_dkim_signer **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dkim_signer *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return MS_ERR_NOMEM;
	s->env = e;
	dkim_msg_init(&s->msg, &s->env);
	ms_buf_init(&s->out, &s->env, 1 << 20);
	*out = s;
	return MS_OK;
}

void ms_dkim_signer_free(struct ms_dkim_signer *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nsigs; i++) {
		EVP_PKEY_free(s->sigs[i]->pkey);
		EVP_MD_CTX_free(s->sigs[i]->bh.ctx);
		ms_free(&s->env, s->sigs[i]);
	}
	dkim_msg_free(&s->msg);
	ms_buf_free(&s->out);
	ms_free(&s->env, s);
}

static int names_ok(const char *list)
{
	for (const char *p = list; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c > 0x7e)
			return 0;
	}
	return 1;
}

ms_status ms_dkim_signer_add(struct ms_dkim_signer *s, const struct ms_dkim_sign_opts *o,
			     char *why, size_t whylen)
{
	if (s == NULL || o == NULL || o->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "no signer or options");
	if (s->fed)
		return ms_why(why, whylen, MS_ERR_STATE, "signatures must be added before feeding");
	if (s->nsigs >= MS_DKIM_MAX_SIGNATURES)
		return ms_why(why, whylen, MS_ERR_LIMIT, "too many signatures");
	if (o->key == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no key");
	if (o->domain == NULL || !dkim_domain_ok(o->domain, strlen(o->domain)))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad or missing domain");
	if (o->selector == NULL || !dkim_domain_ok(o->selector, strlen(o->selector)))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad or missing selector");
	const char *hdrs = o->headers ? o->headers : default_headers;
	const char *over = o->oversign ? o->oversign : default_oversign;
	if (strlen(hdrs) >= 1000 || strlen(over) >= 1000 || !names_ok(hdrs) || !names_ok(over))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad header name list");
	if (o->identity) {
		const char *at = strrchr(o->identity, '@');
		size_t il, dl = strlen(o->domain);
		if (at == NULL || strlen(o->identity) >= 512 || !names_ok(o->identity))
			return ms_why(why, whylen, MS_ERR_INVALID, "bad identity");
		il = strlen(at + 1);
		if (!(il == dl ? ms_ascii_casecmp(at + 1, o->domain) == 0
			       : il > dl && at[il - dl] == '.' &&
					 ms_ascii_casecmp(at + 1 + il - dl, o->domain) == 0))
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "identity must be in the domain or below it");
	}
	if (o->header_canon > MS_DKIM_CANON_RELAXED || o->body_canon > MS_DKIM_CANON_RELAXED)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad canonicalization");
	struct signsig *g = ms_calloc(&s->env, 1, sizeof(*g));
	if (g == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	g->bh.ctx = EVP_MD_CTX_new();
	if (g->bh.ctx == NULL || EVP_DigestInit_ex(g->bh.ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(g->bh.ctx);
		ms_free(&s->env, g);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	EVP_PKEY_up_ref(o->key->pkey);
	g->pkey = o->key->pkey;
	g->alg = o->key->alg;
	snprintf(g->domain, sizeof(g->domain), "%s", o->domain);
	snprintf(g->selector, sizeof(g->selector), "%s", o->selector);
	if (o->identity)
		snprintf(g->identity, sizeof(g->identity), "%s", o->identity);
	g->hcanon = o->header_canon;
	g->bcanon = o->body_canon;
	/* From is always signed (RFC 6376 s5.4); oversigning is as asked. */
	snprintf(g->headers, sizeof(g->headers), "from:%s", hdrs);
	snprintf(g->oversign, sizeof(g->oversign), "%s", over);
	g->expire_after = o->expire_after;
	g->bh.canon = g->bcanon;
	g->bh.md = EVP_sha256();
	g->bh.limit = -1;
	dkim_bodycanon_init(&g->bh.bc, g->bcanon, dkim_bodyhash_sink, &g->bh);
	s->sigs[s->nsigs++] = g;
	return MS_OK;
}

ms_status ms_dkim_signer_feed(struct ms_dkim_signer *s, const uint8_t *buf, size_t len,
			      char *why, size_t whylen)
{
	if (s == NULL || (buf == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "no signer or buffer");
	if (s->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "already finished");
	s->fed = 1;
	if (!s->msg.in_body) {
		long used = dkim_msg_feed_header(&s->msg, buf, len);
		if (used < 0)
			return ms_why(why, whylen, s->msg.nomem ? MS_ERR_NOMEM : MS_ERR_LIMIT, "%s",
				      s->msg.err);
		buf += used;
		len -= (size_t)used;
		if (!s->msg.in_body)
			return MS_OK;
	}
	for (size_t i = 0; i < s->nsigs; i++)
		dkim_bodycanon_update(&s->sigs[i]->bh.bc, buf, len);
	return MS_OK;
}

/* Does the colon-separated `list` contain `name` (n bytes)? */
static int in_list(const char *list, const char *name, size_t n)
{
	const char *p = list;
	while (*p) {
		const char *c = strchr(p, ':');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == n && ms_ascii_ncasecmp(p, name, n) == 0)
			return 1;
		if (!c)
			break;
		p = c + 1;
	}
	return 0;
}

/* Build h= into sp (names lower-case, each as often as present, plus one
 * for oversigned names), without duplicates of a name in the list. */
static void build_h(const struct dkim_msg *m, const struct signsig *g,
		    struct dkim_sigparams *sp)
{
	size_t o = 0;
	const char *p = g->headers;
	while (*p && sp->nh < DKIM_MAX_H) {
		const char *c = strchr(p, ':');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		/* skip a name already handled earlier in the list */
		int dup = 0;
		for (size_t k = 0; k < sp->nh; k++)
			if (sp->hlen[k] == l && ms_ascii_ncasecmp(sp->h[k], p, l) == 0)
				dup = 1;
		if (l && !dup) {
			size_t count = 0;
			for (size_t i = 0; i < m->nfields; i++)
				count += dkim_field_is(m, i, p, l);
			count += in_list(g->oversign, p, l);
			for (size_t k = 0; k < count && sp->nh < DKIM_MAX_H &&
					   o + l + 1 < sizeof(sp->hnames); k++) {
				char *dst = sp->hnames + o;
				for (size_t j = 0; j < l; j++)
					dst[j] = (char)ms_ascii_lower((unsigned char)p[j]);
				dst[l] = '\0';
				sp->h[sp->nh] = dst;
				sp->hlen[sp->nh++] = l;
				o += l + 1;
			}
		}
		if (!c)
			break;
		p = c + 1;
	}
}

/* Append `text` to the field, folding before it if the line would pass
 * 76 columns. */
static ms_status fold_put(struct ms_buf *b, size_t *col, const char *text, size_t n)
{
	ms_status st = MS_OK;
	if (*col + n > 76 && *col > 1) {
		st = ms_buf_append(b, "\r\n\t", 3);
		*col = 1;
	}
	if (st == MS_OK)
		st = ms_buf_append(b, text, n);
	*col += n;
	return st;
}

static ms_status sign_one(struct ms_dkim_signer *s, struct signsig *g, int64_t now,
			  char *why, size_t whylen)
{
	struct dkim_sigparams *sp = ms_calloc(&s->env, 1, sizeof(*sp));
	if (sp == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	sp->hcanon = g->hcanon;
	build_h(&s->msg, g, sp);

	struct ms_buf f;
	ms_buf_init(&f, &s->env, 64 * 1024);
	char tmp[1600];
	size_t col;
	ms_status st = ms_buf_printf(&f, "DKIM-Signature: v=1; a=%s; c=%s/%s; d=%s;",
				     ms_dkim_algorithm_str(g->alg),
				     ms_dkim_canon_str(g->hcanon),
				     ms_dkim_canon_str(g->bcanon), g->domain);
	col = f.len;
	int n = snprintf(tmp, sizeof(tmp), " s=%s;", g->selector);
	if (st == MS_OK)
		st = fold_put(&f, &col, tmp, (size_t)n);
	n = snprintf(tmp, sizeof(tmp), " t=%lld;", (long long)now);
	if (st == MS_OK)
		st = fold_put(&f, &col, tmp, (size_t)n);
	if (g->expire_after) {
		n = snprintf(tmp, sizeof(tmp), " x=%lld;",
			     (long long)(now + (int64_t)g->expire_after));
		if (st == MS_OK)
			st = fold_put(&f, &col, tmp, (size_t)n);
	}
	if (g->identity[0]) {
		n = snprintf(tmp, sizeof(tmp), " i=%s;", g->identity);
		if (st == MS_OK)
			st = fold_put(&f, &col, tmp, (size_t)n);
	}
	for (size_t k = 0; k < sp->nh && st == MS_OK; k++) {
		n = snprintf(tmp, sizeof(tmp), "%s%s%s", k == 0 ? " h=" : "", sp->h[k],
			     k + 1 == sp->nh ? ";" : ":");
		st = fold_put(&f, &col, tmp, (size_t)n);
	}
	char b64[4 * (DKIM_MAX_SIGLEN / 3) + 8];
	dkim_b64_encode(g->bh.digest, g->bh.dlen, b64);
	n = snprintf(tmp, sizeof(tmp), " bh=%s;", b64);
	if (st == MS_OK)
		st = fold_put(&f, &col, tmp, (size_t)n);
	if (st == MS_OK)
		st = fold_put(&f, &col, " b=", 3);
	if (st != MS_OK)
		goto out;

	uint8_t digest[32];
	unsigned dlen = 0;
	st = dkim_header_digest(&s->msg, sp, EVP_sha256(), f.data, f.len, f.len, 0, digest,
				&dlen, why, whylen);
	if (st != MS_OK)
		goto out;
	uint8_t sig[DKIM_MAX_SIGLEN];
	size_t siglen = sizeof(sig);
	int ok = 0;
	if (g->alg == MS_DKIM_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, g->pkey) == 1 &&
		     EVP_DigestSign(ctx, sig, &siglen, digest, dlen) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(g->pkey, NULL);
		ok = ctx && EVP_PKEY_sign_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(ctx, NULL, &siglen, digest, dlen) == 1 &&
		     siglen <= sizeof(sig) &&
		     EVP_PKEY_sign(ctx, sig, &siglen, digest, dlen) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
	if (!ok) {
		st = ms_why(why, whylen, MS_ERR_INTERNAL, "signing failed");
		goto out;
	}
	size_t blen = dkim_b64_encode(sig, siglen, b64);
	/* The b= value, folded: whitespace inside it is ignored (s3.5). */
	for (size_t i = 0; i < blen && st == MS_OK;) {
		size_t room = col < 76 ? 76 - col : 0;
		if (room == 0) {
			st = ms_buf_append(&f, "\r\n\t", 3);
			col = 1;
			continue;
		}
		size_t take = blen - i < room ? blen - i : room;
		st = ms_buf_append(&f, b64 + i, take);
		col += take;
		i += take;
	}
	if (st == MS_OK)
		st = ms_buf_append(&f, "\r\n", 2);
	if (st == MS_OK)
		st = ms_buf_append(&s->out, f.data, f.len);
	if (st != MS_OK)
		ms_why(why, whylen, st, "signature field: %s", ms_status_str(st));
out:
	ms_buf_free(&f);
	ms_free(&s->env, sp);
	return st;
}

ms_status ms_dkim_signer_finish(struct ms_dkim_signer *s, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no signer");
	if (s->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "already finished");
	if (s->msg.overflow)
		return ms_why(why, whylen, s->msg.nomem ? MS_ERR_NOMEM : MS_ERR_LIMIT, "%s",
				      s->msg.err);
	dkim_msg_end_header(&s->msg);
	if (s->msg.overflow)
		return ms_why(why, whylen, s->msg.nomem ? MS_ERR_NOMEM : MS_ERR_LIMIT, "%s",
				      s->msg.err);
	s->finished = 1;
	size_t nfrom = 0;
	for (size_t i = 0; i < s->msg.nfields; i++)
		nfrom += dkim_field_is(&s->msg, i, "from", 4);
	if (nfrom == 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "the message has no From field");
	int64_t now = ms_now(&s->env);
	for (size_t i = 0; i < s->nsigs; i++) {
		struct signsig *g = s->sigs[i];
		dkim_bodycanon_final(&g->bh.bc);
		EVP_DigestFinal_ex(g->bh.ctx, g->bh.digest, &g->bh.dlen);
		ms_status st = sign_one(s, g, now, why, whylen);
		if (st != MS_OK)
			return st;
	}
	return MS_OK;
}

const char *ms_dkim_signer_headers(const struct ms_dkim_signer *s)
{
	if (s == NULL || !s->finished || s->out.data == NULL)
		return s && s->finished ? "" : NULL;
	return (const char *)s->out.data;
}
