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
#include <immintrin.h>
#define DKIM_FAST 1
#endif

/* Scalar scan (no SSE2, and chunk tails): first index >= i needing work. */
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

static inline void put1(struct dkim_bodycanon *c, uint8_t b)
{
	if (c->olen == sizeof(c->out))
		flush(c);
	c->out[c->olen++] = b;
}

#ifdef DKIM_FAST
/*
 * The vector fast path, from a clean state (see above): 16 bytes at a time
 * are stored to the output unconditionally and the output advances past
 * the bytes that need no work; the common relaxed whitespace cases are
 * handled inline.  A CR counts as needing work unless the CRLF it starts
 * is followed by content, so that a run never ends between CR and LF
 * (except at the loop's end, where the CR is taken back).  Returns the
 * index where the slow path takes over.
 */
static size_t fast(struct dkim_bodycanon *c, const uint8_t *p, size_t i, size_t n,
		   int relaxed)
{
	const __m128i SP = _mm_set1_epi8(' '), TB = _mm_set1_epi8('\t');
	const __m128i CRv = _mm_set1_epi8('\r'), LFv = _mm_set1_epi8('\n');
	const __m128i ONES = _mm_set1_epi8(-1);
	uint8_t *out = c->out;
	size_t o = c->olen;
	while (i + 18 <= n) {
		if (o + 32 > sizeof(c->out)) {
			c->olen = o;
			flush(c);
			o = 0;
		}
		__m128i b = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i nx = _mm_loadu_si128((const __m128i *)(p + i + 1));
		__m128i n2 = _mm_loadu_si128((const __m128i *)(p + i + 2));
		__m128i pv = _mm_loadu_si128((const __m128i *)(p + i - 1));
		__m128i cr = _mm_cmpeq_epi8(b, CRv), lf = _mm_cmpeq_epi8(b, LFv);
		__m128i ncr = _mm_cmpeq_epi8(nx, CRv), nlf = _mm_cmpeq_epi8(nx, LFv);
		__m128i n2cr = _mm_cmpeq_epi8(n2, CRv), n2lf = _mm_cmpeq_epi8(n2, LFv);
		__m128i pcr = _mm_cmpeq_epi8(pv, CRv);
		__m128i bad;
		if (relaxed) {
			__m128i nws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(nx, SP),
								_mm_cmpeq_epi8(nx, TB)),
						   _mm_or_si128(ncr, nlf));
			__m128i n2ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(n2, SP),
								 _mm_cmpeq_epi8(n2, TB)),
						    _mm_or_si128(n2cr, n2lf));
			bad = _mm_or_si128(_mm_cmpeq_epi8(b, TB),
					   _mm_and_si128(_mm_cmpeq_epi8(b, SP), nws));
			/* CR: fine only as CRLF followed by content */
			bad = _mm_or_si128(bad, _mm_and_si128(cr, _mm_or_si128(
					_mm_andnot_si128(nlf, ONES), n2ws)));
			bad = _mm_or_si128(bad, _mm_and_si128(lf, _mm_or_si128(
					_mm_andnot_si128(pcr, ONES), nws)));
		} else {
			bad = _mm_and_si128(cr, _mm_and_si128(nlf, _mm_or_si128(n2cr, n2lf)));
			bad = _mm_or_si128(bad, _mm_and_si128(lf, _mm_or_si128(
					_mm_andnot_si128(pcr, ONES), _mm_or_si128(ncr, nlf))));
		}
		_mm_storeu_si128((__m128i *)(out + o), b);
		unsigned mask = (unsigned)_mm_movemask_epi8(bad);
		if (mask == 0) {
			i += 16;
			o += 16;
			continue;
		}
		unsigned k = (unsigned)__builtin_ctz(mask);
		o += k;
		i += k;
		if (relaxed && cls[p[i]] == WSP) {
			size_t e = i + 1;
			while (e < n && cls[p[e]] == WSP)
				e++;
			if (e < n && plain(p[e])) {
				out[o++] = ' ';
				i = e;
				continue;
			}
			if (e + 2 < n && p[e] == '\r' && p[e + 1] == '\n' && plain(p[e + 2])) {
				out[o++] = '\r';
				out[o++] = '\n';
				i = e + 2;
				continue;
			}
		}
		c->olen = o;
		return i;
	}
	/* Ended for want of lookahead: a CR just stored may start a CRLF
	 * whose LF the slow path must see with the CR. */
	if (o > 0 && p[i - 1] == '\r') {
		o--;
		i--;
	}
	c->olen = o;
	return i;
}

/* The same, 32 bytes at a time, on CPUs with AVX2 (chosen at run time). */
__attribute__((target("avx2")))
static size_t fast_avx2(struct dkim_bodycanon *c, const uint8_t *p, size_t i, size_t n,
		   int relaxed)
{
	const __m256i SP = _mm256_set1_epi8(' '), TB = _mm256_set1_epi8('\t');
	const __m256i CRv = _mm256_set1_epi8('\r'), LFv = _mm256_set1_epi8('\n');
	const __m256i ONES = _mm256_set1_epi8(-1);
	uint8_t *out = c->out;
	size_t o = c->olen;
	while (i + 34 <= n) {
		if (o + 64 > sizeof(c->out)) {
			c->olen = o;
			flush(c);
			o = 0;
		}
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + i));
		__m256i nx = _mm256_loadu_si256((const __m256i *)(p + i + 1));
		__m256i n2 = _mm256_loadu_si256((const __m256i *)(p + i + 2));
		__m256i pv = _mm256_loadu_si256((const __m256i *)(p + i - 1));
		__m256i cr = _mm256_cmpeq_epi8(b, CRv), lf = _mm256_cmpeq_epi8(b, LFv);
		__m256i ncr = _mm256_cmpeq_epi8(nx, CRv), nlf = _mm256_cmpeq_epi8(nx, LFv);
		__m256i n2cr = _mm256_cmpeq_epi8(n2, CRv), n2lf = _mm256_cmpeq_epi8(n2, LFv);
		__m256i pcr = _mm256_cmpeq_epi8(pv, CRv);
		__m256i bad;
		if (relaxed) {
			__m256i nws = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(nx, SP),
								_mm256_cmpeq_epi8(nx, TB)),
						   _mm256_or_si256(ncr, nlf));
			__m256i n2ws = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(n2, SP),
								 _mm256_cmpeq_epi8(n2, TB)),
						    _mm256_or_si256(n2cr, n2lf));
			bad = _mm256_or_si256(_mm256_cmpeq_epi8(b, TB),
					   _mm256_and_si256(_mm256_cmpeq_epi8(b, SP), nws));
			/* CR: fine only as CRLF followed by content */
			bad = _mm256_or_si256(bad, _mm256_and_si256(cr, _mm256_or_si256(
					_mm256_andnot_si256(nlf, ONES), n2ws)));
			bad = _mm256_or_si256(bad, _mm256_and_si256(lf, _mm256_or_si256(
					_mm256_andnot_si256(pcr, ONES), nws)));
		} else {
			bad = _mm256_and_si256(cr, _mm256_and_si256(nlf, _mm256_or_si256(n2cr, n2lf)));
			bad = _mm256_or_si256(bad, _mm256_and_si256(lf, _mm256_or_si256(
					_mm256_andnot_si256(pcr, ONES), _mm256_or_si256(ncr, nlf))));
		}
		_mm256_storeu_si256((__m256i *)(out + o), b);
		unsigned mask = (unsigned)_mm256_movemask_epi8(bad);
		if (mask == 0) {
			i += 32;
			o += 32;
			continue;
		}
		unsigned k = (unsigned)__builtin_ctz(mask);
		o += k;
		i += k;
		if (relaxed && cls[p[i]] == WSP) {
			size_t e = i + 1;
			while (e < n && cls[p[e]] == WSP)
				e++;
			if (e < n && plain(p[e])) {
				out[o++] = ' ';
				i = e;
				continue;
			}
			if (e + 2 < n && p[e] == '\r' && p[e + 1] == '\n' && plain(p[e + 2])) {
				out[o++] = '\r';
				out[o++] = '\n';
				i = e + 2;
				continue;
			}
		}
		c->olen = o;
		return i;
	}
	/* Ended for want of lookahead: a CR just stored may start a CRLF
	 * whose LF the slow path must see with the CR. */
	if (o > 0 && p[i - 1] == '\r') {
		o--;
		i--;
	}
	c->olen = o;
	return i;
}
#endif

#ifdef DKIM_FAST
/* Simple canonicalization: only LFs that are bare or start a possibly
 * empty line need work; find the first (a vector memchr of sorts). */
static size_t fast_scan_simple(const uint8_t *p, size_t i, size_t n)
{
	const __m128i CRv = _mm_set1_epi8('\r'), LFv = _mm_set1_epi8('\n');
	while (i + 17 <= n) {
		__m128i b = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i lf = _mm_cmpeq_epi8(b, LFv);
		if (_mm_movemask_epi8(lf) == 0) {
			i += 16;
			continue;
		}
		__m128i nx = _mm_loadu_si128((const __m128i *)(p + i + 1));
		__m128i pv = _mm_loadu_si128((const __m128i *)(p + i - 1));
		__m128i ok = _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(nx, CRv),
							   _mm_cmpeq_epi8(nx, LFv)),
					      _mm_cmpeq_epi8(pv, CRv));
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(ok, lf));
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
	return scan(p, i, n, 0);
}
#endif

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
#ifdef DKIM_FAST
			/* Relaxed text has work every few dozen bytes: the
			 * vector loop copies as it scans.  Simple text rarely
			 * has any: scan, then hand the run to the sink whole. */
			if (relaxed) {
				i = __builtin_cpu_supports("avx2") ? fast_avx2(c, p, i, n, relaxed)
								   : fast(c, p, i, n, relaxed);
				if (i >= n)
					break;
				if (i + 18 <= n)
					goto slow; /* stopped at a byte needing work */
			} else {
				size_t j = fast_scan_simple(p, i, n);
				if (j > i && p[j - 1] == '\r')
					j--;
				if (j > i) {
					direct(c, p + i, j - i);
					i = j;
					if (i >= n)
						break;
				}
				if (i + 18 <= n)
					goto slow;
			}
#endif
			size_t j = scan(p, i, n, relaxed);
			/* A CR's meaning depends on the byte after it: never end
			 * a run with one (it may start a CRLF). */
			if (j > i && p[j - 1] == '\r')
				j--;
			if (j > i) {
				direct(c, p + i, j - i);
				i = j;
				if (i >= n)
					break;
			}
		}
#ifdef DKIM_FAST
slow:
#endif
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
