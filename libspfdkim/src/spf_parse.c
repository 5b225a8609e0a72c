/*
 * spf_parse.c - SPF record syntax (RFC 7208 s4.5, s4.6, s12).
 *
 * The whole record is checked before any term is evaluated: s4.6 says a
 * syntax error anywhere makes the result "permerror", even if an earlier
 * term would have matched.  Spans in the parsed form point into the
 * caller's record text; nothing is copied.
 */
#include "spf_internal.h"

#include <arpa/inet.h>
#include <string.h>

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int toplabel_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	int alpha = 0, hyphen = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alpha(c))
			alpha = 1;
		else if (c == '-')
			hyphen = 1;
		else if (!is_digit(c))
			return 0;
	}
	if (!hyphen)
		return alpha;
	return is_alnum((unsigned char)s[0]) && is_alnum((unsigned char)s[n - 1]);
}

/* domain-spec = macro-string domain-end (s7.1). */
static ms_status domain_spec_check(const char *s, size_t len, char *why, size_t whylen)
{
	if (len == 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "empty domain-spec");
	ms_status st = spf_macro_check(s, len, 0, why, whylen);
	if (st != MS_OK)
		return st;
	/* Where does the last macro-expand end? */
	size_t tail = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%')
			continue;
		if (s[i + 1] == '{') {
			const char *close = memchr(s + i, '}', len - i);
			i = (size_t)(close - s);
		} else {
			i++;
		}
		tail = i + 1;
	}
	if (tail == len)
		return MS_OK;           /* domain-end = macro-expand */
	size_t end = len;
	if (end > tail && s[end - 1] == '.')
		end--;
	size_t dot = end;
	while (dot > tail && s[dot - 1] != '.')
		dot--;
	if (dot == tail || !toplabel_ok(s + dot, end - dot))
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "domain-spec '%.*s' does not end in a valid top label",
			      (int)(len > 200 ? 200 : len), s);
	return MS_OK;
}

/* "0" / %x31-39 0*N DIGIT with a maximum value. */
static int cidr_value(const char *s, size_t n, int max)
{
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > max ? -1 : v;
}

/* Split a trailing dual-cidr-length off [s, s+*len) (s5.6). */
static ms_status take_dual_cidr(const char *s, size_t *len, struct spf_term *t,
				char *why, size_t whylen)
{
	size_t n = *len;
	size_t j = n;
	while (j > 0 && is_digit((unsigned char)s[j - 1]))
		j--;
	if (j >= 2 && j < n && s[j - 1] == '/' && s[j - 2] == '/') {
		t->cidr6 = cidr_value(s + j, n - j, 128);
		if (t->cidr6 < 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad IPv6 CIDR length");
		n = j - 2;
		j = n;
		while (j > 0 && is_digit((unsigned char)s[j - 1]))
			j--;
	}
	if (j >= 1 && j < n && s[j - 1] == '/') {
		t->cidr4 = cidr_value(s + j, n - j, 32);
		if (t->cidr4 < 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad IPv4 CIDR length");
		n = j - 1;
	}
	*len = n;
	return MS_OK;
}

static int name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && ms_ascii_ncasecmp(s, name, n) == 0;
}

static ms_status parse_ip(const char *arg, size_t n, struct spf_term *t, int v6,
			  char *why, size_t whylen)
{
	size_t alen = n;
	const char *slash = memchr(arg, '/', n);
	if (slash) {
		alen = (size_t)(slash - arg);
		int v = cidr_value(slash + 1, n - alen - 1, v6 ? 128 : 32);
		if (v < 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "bad CIDR length in '%.*s'",
				      (int)n, arg);
		if (v6)
			t->cidr6 = v;
		else
			t->cidr4 = v;
	}
	char tmp[64];
	if (alen == 0 || alen >= sizeof(tmp))
		return ms_why(why, whylen, MS_ERR_PARSE, "bad IP address in '%.*s'",
			      (int)(n > 64 ? 64 : n), arg);
	memcpy(tmp, arg, alen);
	tmp[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, t->addr) != 1)
		return ms_why(why, whylen, MS_ERR_PARSE, "bad IP address '%s'", tmp);
	return MS_OK;
}

static ms_status parse_term(const char *s, size_t n, struct spf_record *r,
			    struct spf_term *t, int *is_mod, char *why, size_t whylen)
{
	*is_mod = 0;
	memset(t, 0, sizeof(*t));
	t->text = s;
	t->textlen = n;
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;

	/* Modifier: name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
	size_t k = 0;
	if (n > 0 && is_alpha((unsigned char)s[0])) {
		k = 1;
		while (k < n && (is_alnum((unsigned char)s[k]) || s[k] == '-' ||
				 s[k] == '_' || s[k] == '.'))
			k++;
		if (k < n && s[k] == '=') {
			*is_mod = 1;
			const char *val = s + k + 1;
			size_t vlen = n - k - 1;
			if (name_is(s, k, "redirect") || name_is(s, k, "exp")) {
				int redir = name_is(s, k, "redirect");
				if ((redir && r->redirect) || (!redir && r->exp))
					return ms_why(why, whylen, MS_ERR_PARSE,
						      "modifier '%s' appears twice",
						      redir ? "redirect" : "exp");
				ms_status st = domain_spec_check(val, vlen, why, whylen);
				if (st != MS_OK)
					return st;
				if (redir) {
					r->redirect = val;
					r->redirectlen = vlen;
				} else {
					r->exp = val;
					r->explen = vlen;
				}
				return MS_OK;
			}
			/* Unknown modifiers are ignored but must be well formed (s6). */
			return spf_macro_check(val, vlen, 0, why, whylen);
		}
	}

	size_t i = 0;
	if (n > 0 && (s[0] == '+' || s[0] == '-' || s[0] == '~' || s[0] == '?')) {
		t->qual = s[0];
		i = 1;
	}
	size_t nb = i;
	while (i < n && s[i] != ':' && s[i] != '/')
		i++;
	const char *name = s + nb;
	size_t nlen = i - nb;
	const char *arg = s + i;      /* starts at ':' or '/' or end */
	size_t alen = n - i;

	if (name_is(name, nlen, "all")) {
		t->kind = SPF_ALL;
		if (alen)
			return ms_why(why, whylen, MS_ERR_PARSE, "'all' takes no argument");
		return MS_OK;
	}
	if (name_is(name, nlen, "ip4") || name_is(name, nlen, "ip6")) {
		int v6 = name[2] == '6';
		t->kind = v6 ? SPF_IP6 : SPF_IP4;
		if (alen < 2 || arg[0] != ':')
			return ms_why(why, whylen, MS_ERR_PARSE, "'%s' needs an address", v6 ? "ip6" : "ip4");
		/* ip6 addresses contain ':' themselves: take everything after the first. */
		return parse_ip(arg + 1, alen - 1, t, v6, why, whylen);
	}
	int dual = 0, need_spec = 0;
	if (name_is(name, nlen, "a")) {
		t->kind = SPF_A;
		dual = 1;
	} else if (name_is(name, nlen, "mx")) {
		t->kind = SPF_MX;
		dual = 1;
	} else if (name_is(name, nlen, "ptr")) {
		t->kind = SPF_PTR;
	} else if (name_is(name, nlen, "include")) {
		t->kind = SPF_INCLUDE;
		need_spec = 1;
	} else if (name_is(name, nlen, "exists")) {
		t->kind = SPF_EXISTS;
		need_spec = 1;
	} else {
		return ms_why(why, whylen, MS_ERR_PARSE, "unknown mechanism '%.*s'",
			      (int)(n > 64 ? 64 : n), s);
	}
	if (dual) {
		ms_status st = take_dual_cidr(arg, &alen, t, why, whylen);
		if (st != MS_OK)
			return st;
	}
	if (alen == 0) {
		if (need_spec)
			return ms_why(why, whylen, MS_ERR_PARSE, "'%.*s' needs a domain",
				      (int)nlen, name);
		return MS_OK;
	}
	if (arg[0] != ':')
		return ms_why(why, whylen, MS_ERR_PARSE, "malformed mechanism '%.*s'",
			      (int)(n > 64 ? 64 : n), s);
	t->spec = arg + 1;
	t->speclen = alen - 1;
	return domain_spec_check(t->spec, t->speclen, why, whylen);
}

ms_status spf_record_parse(const struct ms_env *env, const char *rec, size_t len,
			   struct spf_record *out, char *why, size_t whylen)
{
	out->terms = NULL;
	out->nterms = 0;
	out->redirect = out->exp = NULL;
	out->redirectlen = out->explen = 0;
	if (len > SPF_RECORD_MAX)
		return ms_why(why, whylen, MS_ERR_LIMIT, "SPF record longer than %d octets",
			      SPF_RECORD_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rec[i];
		if (c >= 0x80 || c < 0x20 || c == 0x7f)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "SPF record contains non-ASCII or control octet 0x%02x", c);
	}
	if (len < 6 || ms_ascii_ncasecmp(rec, "v=spf1", 6) != 0 || (len > 6 && rec[6] != ' '))
		return ms_why(why, whylen, MS_ERR_PARSE, "record does not start with 'v=spf1'");
	/* Count terms first to size the array exactly. */
	size_t nterms = 0;
	for (size_t i = 6; i < len; i++)
		if (rec[i] != ' ' && (i == 6 || rec[i - 1] == ' '))
			nterms++;
	if (nterms > SPF_MAX_TERMS)
		return ms_why(why, whylen, MS_ERR_LIMIT, "more than %d terms", SPF_MAX_TERMS);
	if (nterms <= SPF_INLINE_TERMS) {
		out->terms = out->inline_terms;
	} else {
		out->terms = ms_calloc(env, nterms, sizeof(*out->terms));
		if (out->terms == NULL)
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	size_t i = 6;
	while (i < len) {
		while (i < len && rec[i] == ' ')
			i++;
		if (i >= len)
			break;
		size_t j = i;
		while (j < len && rec[j] != ' ')
			j++;
		int is_mod;
		struct spf_term t;
		ms_status st = parse_term(rec + i, j - i, out, &t, &is_mod, why, whylen);
		if (st != MS_OK) {
			spf_record_release(env, out);
			return st;
		}
		if (!is_mod)
			out->terms[out->nterms++] = t;
		i = j;
	}
	return MS_OK;
}

ms_status ms_spf_record_check(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	if (buf == NULL && len > 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "no record");
	struct spf_record r;
	ms_status st = spf_record_parse(NULL, (const char *)buf, len, &r, why, whylen);
	if (st == MS_OK)
		spf_record_release(NULL, &r);
	return st;
}

void spf_record_release(const struct ms_env *env, struct spf_record *r)
{
	if (r->terms != r->inline_terms)
		ms_free(env, r->terms);
	r->terms = NULL;
	r->nterms = 0;
}
