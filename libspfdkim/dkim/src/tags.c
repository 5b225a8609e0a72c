/*
 * tags.c - the DKIM tag-list syntax (RFC 6376 s3.2), shared by signature
 * fields and key records, and base64 with folding whitespace (s2.4, s3.5).
 */
#include <string.h>

#include "dkim_internal.h"

static int is_wsp(uint8_t c) { return c == ' ' || c == '\t'; }

/* Skip FWS: WSP, and CRLF (or bare LF) followed by WSP. */
static size_t skip_fws(const uint8_t *b, size_t i, size_t len)
{
	for (;;) {
		if (i < len && is_wsp(b[i])) {
			i++;
			continue;
		}
		if (i + 2 < len && b[i] == '\r' && b[i + 1] == '\n' && is_wsp(b[i + 2])) {
			i += 3;
			continue;
		}
		if (i + 1 < len && b[i] == '\n' && is_wsp(b[i + 1])) {
			i += 2;
			continue;
		}
		return i;
	}
}

static int is_alpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

ms_status dkim_taglist_parse(const uint8_t *b, size_t len, struct dkim_taglist *out,
			     char *why, size_t whylen)
{
	size_t i = 0;
	out->n = 0;
	for (;;) {
		i = skip_fws(b, i, len);
		if (i >= len)
			return MS_OK; /* empty tag-spec after a final ';' */
		size_t ns = i;
		if (!is_alpha(b[i]))
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "tag list: bad tag name at offset %zu", i);
		while (i < len && (is_alpha(b[i]) || is_digit(b[i]) || b[i] == '_'))
			i++;
		size_t ne = i;
		i = skip_fws(b, i, len);
		if (i >= len || b[i] != '=')
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "tag list: '=' missing after tag \"%.*s\"",
				      (int)(ne - ns > 32 ? 32 : ne - ns), (const char *)b + ns);
		i++;
		size_t vstart = i;
		i = skip_fws(b, i, len);
		size_t vs = i, ve = i;
		while (i < len && b[i] != ';') {
			uint8_t c = b[i];
			if (c == '\r' || c == '\n' || is_wsp(c)) {
				size_t j = skip_fws(b, i, len);
				if (j == i)
					return ms_why(why, whylen, MS_ERR_PARSE,
						      "tag list: bad line break in value of \"%.*s\"",
						      (int)(ne - ns > 32 ? 32 : ne - ns),
						      (const char *)b + ns);
				i = j;
				continue;
			}
			/* VALCHAR is %x21-3A / %x3C-7E; 8-bit bytes are let
			 * through (UTF-8 in i= and z=, RFC 8616). */
			if (c < 0x21 || c == 0x7f)
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "tag list: control character in value of \"%.*s\"",
					      (int)(ne - ns > 32 ? 32 : ne - ns),
					      (const char *)b + ns);
			i++;
			ve = i;
		}
		for (size_t k = 0; k < out->n; k++) {
			const struct dkim_tag *t = &out->tag[k];
			if (t->namelen == ne - ns && memcmp(t->name, b + ns, ne - ns) == 0)
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "tag list: duplicate tag \"%.*s\"",
					      (int)(ne - ns > 32 ? 32 : ne - ns),
					      (const char *)b + ns);
		}
		if (out->n >= DKIM_MAX_TAGS)
			return ms_why(why, whylen, MS_ERR_LIMIT, "tag list: more than %d tags",
				      DKIM_MAX_TAGS);
		struct dkim_tag *t = &out->tag[out->n++];
		t->name = b + ns;
		t->namelen = ne - ns;
		t->val = b + vs;
		t->vallen = ve - vs;
		t->vstart = vstart;
		t->vend = i;
		if (i >= len)
			return MS_OK;
		i++; /* ';' */
	}
}

const struct dkim_tag *dkim_tag_get(const struct dkim_taglist *tl, const char *name)
{
	size_t n = strlen(name);
	for (size_t k = 0; k < tl->n; k++)
		if (tl->tag[k].namelen == n && memcmp(tl->tag[k].name, name, n) == 0)
			return &tl->tag[k];
	return NULL;
}

/* Base64 alphabet values plus one; 0 marks anything else (a lookup, not
 * branches: b= and bh= are decoded for every signature). */
static const uint8_t b64tab[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
	['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
	['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
	['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
	['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
	['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
	['/'] = 64,
};

static int b64val(uint8_t c)
{
	return (int)b64tab[c] - 1;
}

long dkim_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t outmax)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad)
			return -1; /* bad character, or data after padding */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outmax)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be the zero fill of a short final quantum and
	 * padding, if present, must complete it. */
	if (bits >= 6 || pad > 2)
		return -1;
	if (pad && (bits / 2) != pad)
		return -1;
	return (long)o;
}

size_t dkim_b64_encode(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}
