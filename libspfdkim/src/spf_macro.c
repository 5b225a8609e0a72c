/*
 * spf_macro.c - SPF macro syntax and expansion (RFC 7208 s7).
 *
 * Bounded by construction: macro values are at most SPF_VALUE_MAX octets,
 * the digit transformer saturates instead of overflowing (libspf2's
 * CVE-2021-20314 and relatives came from trusting it), parts are counted in
 * fixed arrays, and every octet of output goes through an ms_buf with a
 * hard bound.
 */
#include "spf_internal.h"

#include <stdio.h>
#include <string.h>

static int is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	       c == '_' || c == '=';
}

static int is_letter(int c, int exp)
{
	switch (ms_ascii_lower(c)) {
	case 's': case 'l': case 'o': case 'd': case 'i': case 'p':
	case 'h': case 'v':
		return 1;
	case 'c': case 'r': case 't':
		return exp; /* s7.2: only in explanation strings */
	}
	return 0;
}

/* One parsed %{...}: returns bytes consumed (>0) or 0 on a syntax error. */
struct macro {
	char letter;     /* as written (case says URL-escape) */
	unsigned digits; /* 0: all parts */
	int reverse;
	char delims[8];
	size_t ndelims;
};

static size_t parse_expand(const char *s, size_t len, int exp, struct macro *m,
			   const char **err)
{
	/* s[0] == '%', s[1] == '{' */
	size_t i = 2;
	memset(m, 0, sizeof(*m));
	if (i >= len || !is_letter((unsigned char)s[i], exp)) {
		*err = i < len && is_letter((unsigned char)s[i], 1) ?
			"macro letter allowed only in exp= text" : "bad macro letter";
		return 0;
	}
	m->letter = s[i++];
	int have_digits = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		have_digits = 1;
		/* Saturate: more than 128 parts cannot exist in a bounded value. */
		if (m->digits < 1000)
			m->digits = m->digits * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	if (have_digits && m->digits == 0) {
		*err = "macro digit transformer is zero";
		return 0;
	}
	if (i < len && ms_ascii_lower((unsigned char)s[i]) == 'r') {
		m->reverse = 1;
		i++;
	}
	while (i < len && is_delim(s[i])) {
		if (m->ndelims < sizeof(m->delims) && memchr(m->delims, s[i], m->ndelims) == NULL)
			m->delims[m->ndelims++] = s[i];
		i++;
	}
	if (i >= len || s[i] != '}') {
		*err = "unterminated or malformed macro";
		return 0;
	}
	return i + 1;
}

ms_status spf_macro_check(const char *s, size_t len, int exp, char *why, size_t whylen)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 1 >= len)
				return ms_why(why, whylen, MS_ERR_PARSE, "lone '%%' at end of macro-string");
			char n = s[i + 1];
			if (n == '%' || n == '_' || n == '-') {
				i += 2;
				continue;
			}
			if (n != '{')
				return ms_why(why, whylen, MS_ERR_PARSE, "bad macro escape '%%%c'", n);
			struct macro m;
			const char *err = "";
			size_t used = parse_expand(s + i, len - i, exp, &m, &err);
			if (used == 0)
				return ms_why(why, whylen, MS_ERR_PARSE, "%s", err);
			i += used;
			continue;
		}
		if (c < 0x21 || c > 0x7e) {
			if (!(exp && c == ' '))
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "invalid character 0x%02x in macro-string", c);
		}
		i++;
	}
	return MS_OK;
}

static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static ms_status put_escaped(struct ms_buf *out, const char *p, size_t n, int escape)
{
	if (!escape)
		return ms_buf_append(out, p, n);
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		ms_status st;
		if (unreserved(c)) {
			st = ms_buf_putc(out, c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			st = ms_buf_append(out, e, 3);
		}
		if (st != MS_OK)
			return st;
	}
	return MS_OK;
}

static const char *letter_value(const struct spf_macro_vars *v, char letter, char *tbuf,
				size_t tlen)
{
	const char *val = NULL;
	switch (ms_ascii_lower(letter)) {
	case 's': val = v->sender; break;
	case 'l': val = v->local; break;
	case 'o': val = v->sender_domain; break;
	case 'd': val = v->domain; break;
	case 'i': val = v->ip_i; break;
	case 'c': val = v->ip_c; break;
	case 'v': val = v->v; break;
	case 'h': val = v->helo; break;
	case 'r': val = v->receiver; break;
	case 'p': val = v->ptr ? v->ptr(v->ptr_user) : NULL; break;
	case 't':
		snprintf(tbuf, tlen, "%lld",
			 (long long)(v->clock_env ? ms_now(v->clock_env) : v->now));
		val = tbuf;
		break;
	}
	return val ? val : "unknown";
}

static ms_status expand_one(const struct macro *m, const struct spf_macro_vars *vars,
			    struct ms_buf *out)
{
	char tbuf[24];
	const char *val = letter_value(vars, m->letter, tbuf, sizeof(tbuf));
	size_t vlen = strnlen(val, SPF_VALUE_MAX);
	int escape = m->letter >= 'A' && m->letter <= 'Z';
	if (m->digits == 0 && !m->reverse && m->ndelims == 0)
		return put_escaped(out, val, vlen, escape);

	/* Split into parts: at most vlen+1 of them. */
	size_t start[SPF_VALUE_MAX + 1], plen[SPF_VALUE_MAX + 1], np = 0;
	const char *delims = m->ndelims ? m->delims : ".";
	size_t nd = m->ndelims ? m->ndelims : 1;
	size_t b = 0;
	for (size_t i = 0; i <= vlen; i++) {
		if (i == vlen || memchr(delims, val[i], nd) != NULL) {
			start[np] = b;
			plen[np] = i - b;
			np++;
			b = i + 1;
		}
	}
	/* Reverse, then keep the right-most `digits` parts (s7.3). */
	size_t first = 0;
	if (m->digits && m->digits < np)
		first = np - m->digits;
	for (size_t k = first; k < np; k++) {
		size_t idx = m->reverse ? np - 1 - k : k;
		ms_status st;
		if (k > first && (st = ms_buf_putc(out, '.')) != MS_OK)
			return st;
		if ((st = put_escaped(out, val + start[idx], plen[idx], escape)) != MS_OK)
			return st;
	}
	return MS_OK;
}

ms_status spf_macro_expand(const char *s, size_t len, int exp,
			   const struct spf_macro_vars *vars, struct ms_buf *out)
{
	for (size_t i = 0; i < len;) {
		ms_status st;
		if (s[i] != '%') {
			size_t j = i;
			while (j < len && s[j] != '%')
				j++;
			if ((st = ms_buf_append(out, s + i, j - i)) != MS_OK)
				return st;
			i = j;
			continue;
		}
		if (i + 1 >= len)
			return MS_ERR_PARSE;
		char n = s[i + 1];
		if (n == '%' || n == '_' || n == '-') {
			const char *lit = n == '%' ? "%" : n == '_' ? " " : "%20";
			if ((st = ms_buf_append(out, lit, strlen(lit))) != MS_OK)
				return st;
			i += 2;
			continue;
		}
		if (n != '{')
			return MS_ERR_PARSE;
		struct macro m;
		const char *err;
		size_t used = parse_expand(s + i, len - i, exp, &m, &err);
		if (used == 0)
			return MS_ERR_PARSE;
		if ((st = expand_one(&m, vars, out)) != MS_OK)
			return st;
		i += used;
	}
	return MS_OK;
}

void spf_domain_truncate(char *name)
{
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	size_t off = 0;
	while (len - off > 253) {
		const char *dot = memchr(name + off, '.', len - off);
		if (dot == NULL)
			break;
		off = (size_t)(dot - name) + 1;
	}
	if (off)
		memmove(name, name + off, len - off + 1);
}
