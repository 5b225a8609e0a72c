/*
 * sigparse.c - the DKIM-Signature field (RFC 6376 s3.5): required tags,
 * algorithms (RFC 8301, RFC 8463), canonicalization, d=/i= relation.
 */
#include <stdio.h>
#include <string.h>

#include "dkim_internal.h"

static int tag_is(const struct dkim_tag *t, const char *s)
{
	size_t n = strlen(s);
	return t->vallen == n && ms_ascii_ncasecmp((const char *)t->val, s, n) == 0;
}

/* Copy a single-token value (d=, s=, i=): 0 if it holds whitespace, does
 * not fit or is empty. */
static size_t copy_token(const struct dkim_tag *t, char *dst, size_t cap)
{
	if (t->vallen == 0 || t->vallen >= cap)
		return 0;
	for (size_t i = 0; i < t->vallen; i++)
		if (t->val[i] <= ' ')
			return 0;
	memcpy(dst, t->val, t->vallen);
	dst[t->vallen] = '\0';
	return t->vallen;
}

/* Copy a value without its FWS; 0 if it does not fit or is empty. */
static size_t copy_nows(const struct dkim_tag *t, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < t->vallen; i++) {
		uint8_t c = t->val[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (o + 1 >= cap)
			return 0;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return o;
}

int dkim_domain_ok(const char *d, size_t len)
{
	/* sub-domain *("." sub-domain), letters, digits, hyphens (and '_',
	 * seen in selectors and some real d= values); no empty label. */
	if (len == 0 || len > 253)
		return 0;
	size_t lab = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (lab == 0 || d[i - 1] == '-')
				return 0;
			lab = 0;
			continue;
		}
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || (c == '-' && lab > 0);
		if (!ok || ++lab > 63)
			return 0;
	}
	return lab > 0 && d[len - 1] != '-';
}

/* Decimal, at most 12 digits (l= and times fit easily); -2 on error. */
static int64_t parse_num(const struct dkim_tag *t)
{
	if (t->vallen == 0 || t->vallen > 12)
		return -2;
	int64_t v = 0;
	for (size_t i = 0; i < t->vallen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return -2;
		v = v * 10 + (t->val[i] - '0');
	}
	return v;
}

static int64_t parse_num_long(const struct dkim_tag *t, int *too_big)
{
	/* RFC 6376 allows up to 76 digits; a value that does not fit 63 bits
	 * is larger than any body. */
	*too_big = 0;
	if (t->vallen == 0 || t->vallen > 76)
		return -2;
	int64_t v = 0;
	for (size_t i = 0; i < t->vallen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return -2;
		if (v > (INT64_MAX - 9) / 10)
			*too_big = 1;
		else
			v = v * 10 + (t->val[i] - '0');
	}
	return *too_big ? INT64_MAX : v;
}

ms_status dkim_sig_parse(const uint8_t *val, size_t len, struct dkim_sigparams *p,
			 char *why, size_t whylen)
{
	struct dkim_taglist tl;
	memset(p, 0, sizeof(*p));
	p->t = p->x = p->l = -1;
	ms_status st = dkim_taglist_parse(val, len, &tl, why, whylen);
	if (st != MS_OK)
		return st;

	/* d= and s= first, so that even a broken signature can be reported
	 * with its domain and selector. */
	const struct dkim_tag *d = dkim_tag_get(&tl, "d");
	const struct dkim_tag *s = dkim_tag_get(&tl, "s");
	if (d)
		copy_token(d, p->domain, sizeof(p->domain));
	if (s)
		copy_token(s, p->selector, sizeof(p->selector));

	static const char *const req[] = { "v", "a", "b", "bh", "d", "h", "s" };
	for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++)
		if (!dkim_tag_get(&tl, req[k]))
			return ms_why(why, whylen, MS_ERR_PARSE, "required tag %s= missing",
				      req[k]);

	if (!tag_is(dkim_tag_get(&tl, "v"), "1"))
		return ms_why(why, whylen, MS_ERR_PARSE, "v= is not 1");

	const struct dkim_tag *a = dkim_tag_get(&tl, "a");
	if (tag_is(a, "rsa-sha256"))
		p->alg = MS_DKIM_RSA_SHA256;
	else if (tag_is(a, "ed25519-sha256"))
		p->alg = MS_DKIM_ED25519_SHA256;
	else if (tag_is(a, "rsa-sha1"))
		p->alg = MS_DKIM_RSA_SHA1;
	else
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "unknown algorithm a=%.*s",
			      (int)(a->vallen > 32 ? 32 : a->vallen), (const char *)a->val);

	const struct dkim_tag *c = dkim_tag_get(&tl, "c");
	p->hcanon = p->bcanon = MS_DKIM_CANON_SIMPLE;
	if (c) {
		char cv[32];
		if (copy_nows(c, cv, sizeof(cv)) == 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad c=");
		char *slash = strchr(cv, '/');
		if (slash)
			*slash++ = '\0';
		const char *parts[2] = { cv, slash };
		enum ms_dkim_canon *dst[2] = { &p->hcanon, &p->bcanon };
		for (int k = 0; k < 2; k++) {
			if (parts[k] == NULL)
				continue;
			if (ms_ascii_casecmp(parts[k], "simple") == 0)
				*dst[k] = MS_DKIM_CANON_SIMPLE;
			else if (ms_ascii_casecmp(parts[k], "relaxed") == 0)
				*dst[k] = MS_DKIM_CANON_RELAXED;
			else
				return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
					      "unknown canonicalization c=%s", parts[k]);
		}
	}

	if (!dkim_domain_ok(p->domain, strlen(p->domain)))
		return ms_why(why, whylen, MS_ERR_PARSE, "bad domain d=");
	if (!dkim_domain_ok(p->selector, strlen(p->selector)))
		return ms_why(why, whylen, MS_ERR_PARSE, "bad selector s=");

	/* i=: [local-part] "@" domain, the domain d= or below it (s3.5). */
	const struct dkim_tag *i = dkim_tag_get(&tl, "i");
	if (i) {
		if (copy_token(i, p->identity, sizeof(p->identity)) == 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad identity i=");
		const char *at = strrchr(p->identity, '@');
		if (at == NULL)
			return ms_why(why, whylen, MS_ERR_PARSE, "i= has no '@'");
		const char *id = at + 1;
		size_t il = strlen(id), dl = strlen(p->domain);
		if (!dkim_domain_ok(id, il))
			return ms_why(why, whylen, MS_ERR_PARSE, "bad domain in i=");
		int sub = il == dl ? ms_ascii_casecmp(id, p->domain) == 0
				   : il > dl && id[il - dl - 1] == '.' &&
					     ms_ascii_casecmp(id + il - dl, p->domain) == 0;
		if (!sub)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "i= domain is not d= or a subdomain of it");
		memcpy(p->idomain, id, il + 1);
	} else {
		snprintf(p->identity, sizeof(p->identity), "@%s", p->domain);
		snprintf(p->idomain, sizeof(p->idomain), "%s", p->domain);
	}

	/* q=: a list that must contain dns/txt. */
	const struct dkim_tag *q = dkim_tag_get(&tl, "q");
	if (q) {
		char qv[128];
		if (copy_nows(q, qv, sizeof(qv)) == 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad q=");
		/* Walk the colon-separated list in place: no strtok, whose
		 * hidden state is shared by every thread of the process. */
		int found = 0;
		for (const char *it = qv; *it;) {
			size_t n = strcspn(it, ":");
			if (n == 7 && ms_ascii_ncasecmp(it, "dns/txt", 7) == 0)
				found = 1;
			it += n + (it[n] == ':');
		}
		if (!found)
			return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "q= lacks dns/txt");
	}

	const struct dkim_tag *tt = dkim_tag_get(&tl, "t");
	if (tt && (p->t = parse_num(tt)) < 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "bad timestamp t=");
	const struct dkim_tag *x = dkim_tag_get(&tl, "x");
	if (x && (p->x = parse_num(x)) < 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "bad expiration x=");
	if (p->t >= 0 && p->x >= 0 && p->x <= p->t)
		return ms_why(why, whylen, MS_ERR_PARSE, "x= is not after t=");
	const struct dkim_tag *l = dkim_tag_get(&tl, "l");
	if (l) {
		int big;
		if ((p->l = parse_num_long(l, &big)) < 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad body length l=");
	}

	/* h=: colon-separated field names, From required (s5.4). */
	const struct dkim_tag *h = dkim_tag_get(&tl, "h");
	if (copy_nows(h, p->hnames, sizeof(p->hnames)) == 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "empty or too long h=");
	int from = 0;
	char *cur = p->hnames;
	for (;;) {
		char *colon = strchr(cur, ':');
		size_t n = colon ? (size_t)(colon - cur) : strlen(cur);
		if (n == 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "empty name in h=");
		for (size_t k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)cur[k];
			if (ch < 0x21 || ch > 0x7e || ch == ':')
				return ms_why(why, whylen, MS_ERR_PARSE, "bad name in h=");
		}
		if (p->nh >= DKIM_MAX_H)
			return ms_why(why, whylen, MS_ERR_LIMIT, "more than %d names in h=",
				      DKIM_MAX_H);
		p->h[p->nh] = cur;
		p->hlen[p->nh++] = n;
		if (n == 4 && ms_ascii_ncasecmp(cur, "from", 4) == 0)
			from = 1;
		if (!colon)
			break;
		cur = colon + 1;
	}
	if (!from)
		return ms_why(why, whylen, MS_ERR_PARSE, "h= does not include From");

	const struct dkim_tag *bh = dkim_tag_get(&tl, "bh");
	long n = dkim_b64_decode(bh->val, bh->vallen, p->bh, sizeof(p->bh));
	if (n <= 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "bad base64 in bh=");
	p->bhlen = (size_t)n;
	size_t want = p->alg == MS_DKIM_RSA_SHA1 ? 20 : 32;
	if (p->bhlen != want)
		return ms_why(why, whylen, MS_ERR_PARSE, "bh= has %zu bytes, not %zu",
			      p->bhlen, want);

	const struct dkim_tag *b = dkim_tag_get(&tl, "b");
	n = dkim_b64_decode(b->val, b->vallen, p->b, sizeof(p->b));
	if (n <= 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "bad or empty base64 in b=");
	p->blen = (size_t)n;
	p->b_vstart = b->vstart;
	p->b_vend = b->vend;
	size_t k = 0;
	for (size_t j = 0; j < b->vallen && k < 8; j++)
		if (b->val[j] > ' ')
			p->bprefix[k++] = (char)b->val[j];
	p->bprefix[k] = '\0';
	return MS_OK;
}
