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
#include <pthread.h>
#include <string.h>

#include "dkim_internal.h"

#if defined(__SSE2__)
#include <immintrin.h>
#define DKIM_FAST 1
#endif

enum { PLAIN = 0, WSP = 1, CR = 2, LF = 3 };

static const uint8_t cls[256] = {
	[' '] = WSP, ['\t'] = WSP, ['\r'] = CR, ['\n'] = LF,
};

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
 * The relaxed fast path, from a clean state (see above), 32 bytes at a
 * time with AVX2.  Most lines need a change or two (a doubled space, a TAB,
 * the trailing blanks that format=flowed mail puts on every line), so
 * instead of leaving the loop for each, the loop applies the common
 * changes itself with no branch per byte:
 *   - a WSP followed by WSP, or by CRLF, is deleted (the run collapses to
 *     its last WSP; trailing WSP goes);
 *   - a kept WSP (followed by content) becomes SP.
 * Inside the fast path a WSP run always follows content on its line (an
 * LF followed by WSP counts as needing work), so no line becomes empty
 * here.  What still needs the state machine: a WSP before a bare CR or LF,
 * a CR that does not start a CRLF followed by content, and an LF that is
 * bare or starts a possibly empty (maybe trailing) line.  The loop stops
 * at the first such byte and returns its index.
 *
 * Deleted bytes are squeezed out with a byte shuffle per 8-byte quarter,
 * its pattern from a table indexed by the quarter's deletion mask.
 */

/* Pattern table: for each 8-bit mask of bytes to delete, the indices of
 * the bytes kept, in order.  Built once, with the CPU check (AVX2 and
 * POPCNT: x86-64 CPUs since 2013; older ones take the scalar path). */
static uint64_t pack_table[256];
static int relaxed_vector, vector_off;
static pthread_once_t vector_once = PTHREAD_ONCE_INIT;

static void vector_init(void)
{
	__builtin_cpu_init();
	relaxed_vector = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
	for (unsigned m = 0; m < 256; m++) {
		uint64_t idx = 0;
		unsigned k = 0;
		for (unsigned j = 0; j < 8; j++)
			if (!(m >> j & 1))
				idx |= (uint64_t)j << (8 * k++);
		pack_table[m] = idx;
	}
}

#define AVX2 __attribute__((target("avx2,popcnt")))

/* The 32 bytes at q (reading q[-1] to q[33]): returns the mask of bytes
 * needing work; *del gets the mask of bytes to delete, *bytes the block
 * with TAB turned into SP. */
AVX2 static inline uint32_t block_masks(const uint8_t *q, __m256i *bytes, uint32_t *del)
{
	const __m256i sp = _mm256_set1_epi8(' '), tab = _mm256_set1_epi8('\t');
	const __m256i cr = _mm256_set1_epi8('\r'), lf = _mm256_set1_epi8('\n');
	__m256i b = _mm256_loadu_si256((const __m256i *)q);
	__m256i nx = _mm256_loadu_si256((const __m256i *)(q + 1));
	__m256i n2 = _mm256_loadu_si256((const __m256i *)(q + 2));
	__m256i pv = _mm256_loadu_si256((const __m256i *)(q - 1));
	__m256i is_tab = _mm256_cmpeq_epi8(b, tab);
	__m256i ws = _mm256_or_si256(_mm256_cmpeq_epi8(b, sp), is_tab);
	__m256i nws = _mm256_or_si256(_mm256_cmpeq_epi8(nx, sp), _mm256_cmpeq_epi8(nx, tab));
	__m256i ncr = _mm256_cmpeq_epi8(nx, cr), nlf = _mm256_cmpeq_epi8(nx, lf);
	__m256i nwork = _mm256_or_si256(nws, _mm256_or_si256(ncr, nlf));
	/* the byte after next is not content: SP, TAB, CR, LF or, to keep
	 * this short, any other control byte (which only sends the slow path
	 * a case it handles anyway) */
	__m256i n2work = _mm256_cmpeq_epi8(_mm256_min_epu8(n2, sp), n2);
	__m256i d = _mm256_and_si256(ws, _mm256_or_si256(nws,
			_mm256_and_si256(ncr, _mm256_cmpeq_epi8(n2, lf))));
	/* WSP before a bare CR or LF */
	__m256i bad = _mm256_andnot_si256(d, _mm256_and_si256(ws, nwork));
	/* CR not starting CRLF-content */
	bad = _mm256_or_si256(bad, _mm256_andnot_si256(_mm256_andnot_si256(n2work, nlf),
						      _mm256_cmpeq_epi8(b, cr)));
	/* LF not ending CRLF or not followed by content */
	bad = _mm256_or_si256(bad, _mm256_andnot_si256(
			_mm256_andnot_si256(nwork, _mm256_cmpeq_epi8(pv, cr)),
			_mm256_cmpeq_epi8(b, lf)));
	*bytes = _mm256_xor_si256(b, _mm256_and_si256(is_tab, _mm256_set1_epi8('\t' ^ ' ')));
	*del = (uint32_t)_mm256_movemask_epi8(d);
	return (uint32_t)_mm256_movemask_epi8(bad);
}

/* Store the bytes of v not marked in del at out, packed; returns how
 * many.  Writes up to 32 bytes at out whatever the count. */
AVX2 static inline size_t pack32(uint8_t *out, __m256i v, uint32_t del)
{
	const __m256i quarter_base = _mm256_set_epi64x(0x0808080808080808, 0,
						       0x0808080808080808, 0);
	__m256i shuf = _mm256_set_epi64x((long long)pack_table[del >> 24],
					 (long long)pack_table[del >> 16 & 0xff],
					 (long long)pack_table[del >> 8 & 0xff],
					 (long long)pack_table[del & 0xff]);
	/* the shuffle works within 16-byte lanes: each quarter packs to the
	 * front of its own 8 bytes */
	__m256i packed = _mm256_shuffle_epi8(v, _mm256_add_epi8(shuf, quarter_base));
	__m128i lo = _mm256_castsi256_si128(packed), hi = _mm256_extracti128_si256(packed, 1);
	size_t o = 0;
	_mm_storel_epi64((__m128i *)out, lo);
	o += 8 - (unsigned)__builtin_popcount(del & 0xff);
	_mm_storel_epi64((__m128i *)(out + o), _mm_unpackhi_epi64(lo, lo));
	o += 8 - (unsigned)__builtin_popcount(del >> 8 & 0xff);
	_mm_storel_epi64((__m128i *)(out + o), hi);
	o += 8 - (unsigned)__builtin_popcount(del >> 16 & 0xff);
	_mm_storel_epi64((__m128i *)(out + o), _mm_unpackhi_epi64(hi, hi));
	return o + 8 - (unsigned)__builtin_popcount(del >> 24);
}

AVX2 static size_t fast_relaxed(struct dkim_bodycanon *c, const uint8_t *p, size_t i, size_t n)
{
	uint8_t *out = c->out;
	size_t o = c->olen;
	/* 1 byte of lookbehind and 2 of lookahead for each block.  The loop
	 * has no data-dependent branch until a block has a byte needing
	 * work. */
	for (; i + 34 <= n; i += 32) {
		if (o > sizeof(c->out) - 32) {
			c->olen = o;
			flush(c);
			o = 0;
		}
		__m256i v;
		uint32_t del, bad = block_masks(p + i, &v, &del);
		if (bad) {
			/* the bytes before the first needing work */
			unsigned take = (unsigned)__builtin_ctz(bad);
			o += pack32(out + o, v, del | (uint32_t)(0xffffffffu << take));
			c->olen = o;
			return i + take;
		}
		o += pack32(out + o, v, del);
	}
	/* Ended for want of lookahead: a CR just stored may start a CRLF
	 * whose LF the slow path must see with the CR (a CR is never deleted
	 * here, so it is the last output byte). */
	if (o > 0 && p[i - 1] == '\r') {
		o--;
		i--;
	}
	c->olen = o;
	return i;
}
#undef AVX2
#endif

void dkim_bodycanon_vector(int on)
{
#ifdef DKIM_FAST
	vector_off = !on;
#else
	(void)on;
#endif
}

void dkim_bodycanon_init(struct dkim_bodycanon *c, enum ms_dkim_canon canon,
			 dkim_sink_fn sink, void *user)
{
	c->canon = canon;
	c->sink = sink;
	c->user = user;
	c->pending_crlf = 0;
	c->cr = c->wsp = c->content = 0;
	c->olen = 0;
#ifdef DKIM_FAST
	pthread_once(&vector_once, vector_init);
#endif
}

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
			 * vector loop edits as it copies (the scan below takes
			 * its tail).  Simple text rarely has any: scan 16
			 * bytes at a time, then hand the run to the sink whole. */
			if (relaxed && relaxed_vector && !vector_off) {
				i = fast_relaxed(c, p, i, n);
				if (i >= n)
					break;
				if (i + 34 <= n)
					goto slow; /* stopped at a byte needing work */
			}
			size_t j = relaxed ? scan(p, i, n, 1) : fast_scan_simple(p, i, n);
#else
			size_t j = scan(p, i, n, relaxed);
#endif
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
