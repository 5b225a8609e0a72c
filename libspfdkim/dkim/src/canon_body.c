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

/* Hand input bytes that need no change straight to the sink, after what
 * is buffered (order matters). */
static void direct(struct dkim_bodycanon *c, const uint8_t *p, size_t n)
{
	/* Short runs are copied: a digest update per run would cost more
	 * (call overhead through EVP) than the copy. */
	if (n < 1024 && n <= sizeof(c->out) - c->olen) {
		memcpy(c->out + c->olen, p, n);
		c->olen += n;
		return;
	}
	flush(c);
	c->sink(c->user, p, n);
}

/*
 * The fast path.  From a "clean" state (inside a line, right after a
 * content byte, nothing deferred), the canonical output equals the input
 * until a byte that needs work; find that byte.  Needs p[i-1] (the content
 * byte just handled) and one byte of lookahead, so it stops one byte
 * short of the end; the slow path takes the rest.
 *
 * Bytes needing work, relaxed: TAB; SP not followed by content (a run, or
 * trailing WSP); CR not followed by LF; LF not preceded by CR or not
 * followed by content (a bare LF, or a possibly empty line that may be
 * trailing).  Simple: only the LF cases.
 */
static inline int plain(uint8_t x) { return cls[x] == PLAIN; }

static inline int bad_relaxed(uint8_t prev, uint8_t b, uint8_t next)
{
	switch (cls[b]) {
	case PLAIN: return 0;
	case WSP: return b == '\t' || !plain(next);
	case CR: return next != '\n';
	default: return prev != '\r' || !plain(next);
	}
}

static inline int bad_simple(uint8_t prev, uint8_t b, uint8_t next)
{
	return b == '\n' && (prev != '\r' || next == '\r' || next == '\n');
}

#if defined(__SSE2__)
#include <emmintrin.h>

static size_t scan(const uint8_t *p, size_t i, size_t n, int relaxed)
{
	const __m128i SP = _mm_set1_epi8(' '), TB = _mm_set1_epi8('\t');
	const __m128i CRv = _mm_set1_epi8('\r'), LFv = _mm_set1_epi8('\n');
	while (i + 17 <= n) {
		__m128i b = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i nx = _mm_loadu_si128((const __m128i *)(p + i + 1));
		__m128i pv = _mm_loadu_si128((const __m128i *)(p + i - 1));
		__m128i lf = _mm_cmpeq_epi8(b, LFv);
		__m128i ncr = _mm_cmpeq_epi8(nx, CRv), nlf = _mm_cmpeq_epi8(nx, LFv);
		__m128i pcr = _mm_cmpeq_epi8(pv, CRv);
		__m128i bad;
		if (relaxed) {
			__m128i nws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(nx, SP),
								_mm_cmpeq_epi8(nx, TB)),
						   _mm_or_si128(ncr, nlf));
			/* nws: next is not content */
			bad = _mm_or_si128(_mm_cmpeq_epi8(b, TB),
					   _mm_and_si128(_mm_cmpeq_epi8(b, SP), nws));
			bad = _mm_or_si128(bad, _mm_andnot_si128(nlf, _mm_cmpeq_epi8(b, CRv)));
			bad = _mm_or_si128(bad, _mm_and_si128(lf, _mm_or_si128(
					_mm_andnot_si128(pcr, _mm_set1_epi8(-1)), nws)));
		} else {
			bad = _mm_and_si128(lf, _mm_or_si128(_mm_andnot_si128(pcr, _mm_set1_epi8(-1)),
							     _mm_or_si128(ncr, nlf)));
		}
		unsigned mask = (unsigned)_mm_movemask_epi8(bad);
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
	while (i + 1 < n) {
		if (relaxed ? bad_relaxed(p[i - 1], p[i], p[i + 1])
			    : bad_simple(p[i - 1], p[i], p[i + 1]))
			return i;
		i++;
	}
	return i;
}
#else
static size_t scan(const uint8_t *p, size_t i, size_t n, int relaxed)
{
	while (i + 1 < n) {
		if (relaxed ? bad_relaxed(p[i - 1], p[i], p[i + 1])
			    : bad_simple(p[i - 1], p[i], p[i + 1]))
			return i;
		i++;
	}
	return i;
}
#endif

static inline void put1(struct dkim_bodycanon *c, uint8_t b)
{
	if (c->olen == sizeof(c->out))
		flush(c);
	c->out[c->olen++] = b;
}

/* The slow path: one byte through the state machine. */
static void step_simple(struct dkim_bodycanon *c, uint8_t b)
{
	if (c->cr) {
		c->cr = 0;
		if (b == '\n') {
			c->pending_crlf++;
			return;
		}
		prefix(c);
		put1(c, '\r');
	}
	if (b == '\r') {
		c->cr = 1;
	} else if (b == '\n') { /* bare LF: a line end */
		c->pending_crlf++;
	} else {
		prefix(c);
		put1(c, b);
	}
}

static void step_relaxed(struct dkim_bodycanon *c, uint8_t b)
{
	if (c->cr) {
		c->cr = 0;
		if (b == '\n') {
			c->pending_crlf++;
			c->wsp = 0;
			return;
		}
		prefix(c);
		put1(c, '\r');
	}
	switch (cls[b]) {
	case WSP:
		c->wsp = 1;
		break;
	case CR:
		c->cr = 1;
		break;
	case LF:
		c->pending_crlf++;
		c->wsp = 0;
		break;
	default:
		prefix(c);
		put1(c, b);
	}
}

void dkim_bodycanon_update(struct dkim_bodycanon *c, const uint8_t *p, size_t n)
{
	int relaxed = c->canon == MS_DKIM_CANON_RELAXED;
	size_t i = 0;
	while (i < n) {
		/* clean: the last byte was content and nothing is deferred */
		if (i > 0 && c->content && !c->pending_crlf && !c->cr && !c->wsp) {
			size_t j = scan(p, i, n, relaxed);
			/* A CR's meaning depends on the byte after it: never end
			 * a direct run with one (it may start a CRLF). */
			if (j > i && p[j - 1] == '\r')
				j--;
			if (j > i) {
				direct(c, p + i, j - i);
				i = j;
				if (i >= n)
					break;
			}
			/* The two common relaxed cases, without the state
			 * machine: a WSP run inside a line (one SP), and
			 * trailing WSP before a CRLF and a line with content
			 * (dropped).  In a clean state p[i] is never at the
			 * start of a line, so the run is not a blank line. */
			if (relaxed && cls[p[i]] == WSP) {
				size_t k = i + 1;
				while (k < n && cls[p[k]] == WSP)
					k++;
				if (k < n && plain(p[k])) {
					put1(c, ' ');
					i = k;
					continue;
				}
				if (k + 2 < n && p[k] == '\r' && p[k + 1] == '\n' && plain(p[k + 2])) {
					put1(c, '\r');
					put1(c, '\n');
					i = k + 2;
					continue;
				}
			}
		}
		if (relaxed)
			step_relaxed(c, p[i]);
		else
			step_simple(c, p[i]);
		i++;
	}
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
