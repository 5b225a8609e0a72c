/*
 * canon_body.c - streaming body canonicalization (RFC 6376 s3.4.3, s3.4.4).
 *
 * The body arrives in chunks split anywhere; state between chunks is a few
 * flags (a CR waiting for its LF, a pending whitespace run) and the count
 * of line ends not yet emitted, because trailing empty lines are dropped
 * and we cannot know whether an empty line is trailing until content
 * follows.  Memory is this struct, whatever the body size.
 *
 * Speed matters (the digest runs at SHA-NI speed): runs of ordinary bytes
 * are copied (or, when long, handed to the sink directly) instead of being
 * handled one byte at a time.
 */
#include <string.h>

#include "dkim_internal.h"

enum { PLAIN = 0, WSP = 1, CR = 2, LF = 3 };

static const uint8_t cls[256] = {
	[' '] = WSP, ['\t'] = WSP, ['\r'] = CR, ['\n'] = LF,
};

void dkim_bodycanon_init(struct dkim_bodycanon *c, enum ms_dkim_canon canon,
			 dkim_sink_fn sink, void *user)
{
	c->canon = canon;
	c->sink = sink;
	c->user = user;
	c->pending_crlf = 0;
	c->cr = c->wsp = c->content = 0;
	c->olen = 0;
}

static void flush(struct dkim_bodycanon *c)
{
	if (c->olen) {
		c->sink(c->user, c->out, c->olen);
		c->olen = 0;
	}
}

static void put(struct dkim_bodycanon *c, const uint8_t *p, size_t n)
{
	if (n > sizeof(c->out) - c->olen) {
		flush(c);
		if (n >= sizeof(c->out) / 2) {
			c->sink(c->user, p, n);
			return;
		}
	}
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

/* Before content on a line: the deferred line ends (and, relaxed, the one
 * SP standing for a whitespace run). */
static void prefix(struct dkim_bodycanon *c)
{
	while (c->pending_crlf) {
		if (c->olen + 2 > sizeof(c->out))
			flush(c);
		c->out[c->olen++] = '\r';
		c->out[c->olen++] = '\n';
		c->pending_crlf--;
	}
	if (c->wsp) {
		if (c->olen + 1 > sizeof(c->out))
			flush(c);
		c->out[c->olen++] = ' ';
		c->wsp = 0;
	}
	c->content = 1;
}

static void update_simple(struct dkim_bodycanon *c, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (c->cr) {
			c->cr = 0;
			if (p[i] == '\n') {
				c->pending_crlf++;
				i++;
				continue;
			}
			prefix(c);
			put(c, (const uint8_t *)"\r", 1);
		}
		uint8_t b = p[i];
		if (b == '\r') {
			c->cr = 1;
			i++;
			continue;
		}
		if (b == '\n') { /* bare LF: a line end */
			c->pending_crlf++;
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		prefix(c);
		put(c, p + i, j - i);
		i = j;
	}
}

static void update_relaxed(struct dkim_bodycanon *c, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (c->cr) {
			c->cr = 0;
			if (p[i] == '\n') {
				c->pending_crlf++;
				c->wsp = 0;
				i++;
				continue;
			}
			prefix(c);
			put(c, (const uint8_t *)"\r", 1);
		}
		switch (cls[p[i]]) {
		case WSP:
			c->wsp = 1;
			i++;
			continue;
		case CR:
			c->cr = 1;
			i++;
			continue;
		case LF:
			c->pending_crlf++;
			c->wsp = 0;
			i++;
			continue;
		default:
			break;
		}
		/* A run of plain bytes, with single spaces between them kept as
		 * they are: the common case of text needing no change. */
		size_t j = i + 1;
		for (;;) {
			if (j < n && cls[p[j]] == PLAIN) {
				j++;
				continue;
			}
			if (j + 1 < n && p[j] == ' ' && cls[p[j + 1]] == PLAIN) {
				j += 2;
				continue;
			}
			break;
		}
		prefix(c);
		put(c, p + i, j - i);
		i = j;
	}
}

void dkim_bodycanon_update(struct dkim_bodycanon *c, const uint8_t *p, size_t n)
{
	if (c->canon == MS_DKIM_CANON_RELAXED)
		update_relaxed(c, p, n);
	else
		update_simple(c, p, n);
}

void dkim_bodycanon_final(struct dkim_bodycanon *c)
{
	if (c->cr) { /* a final CR without LF is content */
		c->cr = 0;
		prefix(c);
		put(c, (const uint8_t *)"\r", 1);
	}
	/* Trailing empty lines go; the last content line gets its CRLF even
	 * when the body did not end with one.  An empty body is "CRLF" in
	 * simple and empty in relaxed (RFC 6376 s3.4.3, s3.4.4). */
	if (c->content || c->canon == MS_DKIM_CANON_SIMPLE)
		put(c, (const uint8_t *)"\r\n", 2);
	flush(c);
}

void dkim_bodyhash_sink(void *user, const uint8_t *p, size_t n)
{
	struct dkim_bodyhash *bh = user;
	bh->total += n;
	if (bh->limit >= 0) {
		uint64_t room = (uint64_t)bh->limit > bh->hashed
					? (uint64_t)bh->limit - bh->hashed : 0;
		if (n > room)
			n = (size_t)room;
	}
	if (n) {
		EVP_DigestUpdate(bh->ctx, p, n);
		bh->hashed += n;
	}
}
