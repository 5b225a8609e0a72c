/*
 * from_header.c - the RFC5322.From author domain for DMARC (RFC 7489
 * s6.6.1), from an RFC 5322 s3.4 address-list, with a defined outcome for
 * each known bypass shape (see dmarc.h).
 *
 * Two passes: a tokenizer that removes comments and whitespace and keeps
 * quoted-strings and domain literals whole (escapes honoured), then a
 * parser over the tokens.  Encoded words are ordinary atoms: they are never
 * decoded, so text inside them cannot pose as an address.
 */
#include "dmarc_internal.h"

#include <stdio.h>
#include <string.h>

#define FROM_MAX 4096
#define FROM_MAX_TOKENS 1024
#define FROM_MAX_MAILBOXES 64
#define COMMENT_DEPTH 32

enum tok { T_ATOM, T_QUOTED, T_LITERAL, T_AT, T_LT, T_GT, T_COMMA, T_COLON, T_SEMI };

struct token {
	enum tok t;
	size_t off, len;
};

static int atext(unsigned char c)
{
	/* RFC 5322 atext, '.' (dot-atom), and UTF-8 (RFC 6532). */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static const char *tokenize(const unsigned char *s, size_t len, struct token *tk, size_t cap,
			    size_t *ntk)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (n == cap)
			return "too many tokens";
		if (c == '(') {
			int depth = 0;
			do {
				if (s[i] == '\\') {
					i += 2;
					continue;
				}
				if (s[i] == '(' && ++depth > COMMENT_DEPTH)
					return "comments nested too deep";
				if (s[i] == ')')
					depth--;
				i++;
			} while (i < len && depth > 0);
			if (depth > 0 || i > len)
				return "unterminated comment";
			continue;
		}
		tk[n].off = i;
		if (c == '"' || c == '[') {
			char close = c == '"' ? '"' : ']';
			size_t j = i + 1;
			while (j < len && s[j] != close) {
				if (s[j] == '\\')
					j++;
				else if (c == '[' && (s[j] == '[' || s[j] == '<'))
					return "malformed domain literal";
				j++;
			}
			if (j >= len)
				return c == '"' ? "unterminated quoted-string" : "unterminated domain literal";
			tk[n].t = c == '"' ? T_QUOTED : T_LITERAL;
			tk[n].len = j + 1 - i;
			i = j + 1;
			n++;
			continue;
		}
		if (atext(c)) {
			size_t j = i;
			while (j < len && atext(s[j]))
				j++;
			tk[n].t = T_ATOM;
			tk[n].len = j - i;
			i = j;
			n++;
			continue;
		}
		tk[n].len = 1;
		switch (c) {
		case '@': tk[n].t = T_AT; break;
		case '<': tk[n].t = T_LT; break;
		case '>': tk[n].t = T_GT; break;
		case ',': tk[n].t = T_COMMA; break;
		case ':': tk[n].t = T_COLON; break;
		case ';': tk[n].t = T_SEMI; break;
		default:
			return "character not allowed in an address list";
		}
		i++;
		n++;
	}
	*ntk = n;
	return NULL;
}

static int is_word(const struct token *t)
{
	return t->t == T_ATOM || t->t == T_QUOTED;
}

/* addr-spec at tk[*pos]: local-part "@" dot-atom.  Fills the domain. */
static const char *addr_spec(const unsigned char *s, const struct token *tk, size_t n,
			     size_t *pos, char *dom, size_t domlen)
{
	size_t p = *pos, words = 0;
	while (p < n && is_word(&tk[p])) {
		/* Adjacent words need a dot between them (dot-atom/obs-local-part). */
		if (words && !(s[tk[p - 1].off + tk[p - 1].len - 1] == '.' || s[tk[p].off] == '.'))
			return "words without a dot in the local-part (display name without <>?)";
		words++;
		p++;
	}
	if (words == 0 || p >= n || tk[p].t != T_AT)
		return "mailbox without local-part@domain";
	p++;
	if (p >= n)
		return "missing domain";
	if (tk[p].t == T_LITERAL)
		return "domain literal has no DMARC domain";
	if (tk[p].t != T_ATOM)
		return "missing domain";
	char raw[300];
	if (tk[p].len >= sizeof(raw))
		return "domain too long";
	memcpy(raw, s + tk[p].off, tk[p].len);
	raw[tk[p].len] = '\0';
	if (ms_dns_name_normalize(raw, dom, domlen, NULL, 0) != MS_OK)
		return "invalid domain";
	*pos = p + 1;
	return NULL;
}

static ms_status parse_tokens(const uint8_t *buf, size_t len, struct token *tk, size_t cap,
			      enum ms_dmarc_from_outcome *outcome, char *domain, size_t domlen,
			      size_t *naddrs, char *why, size_t whylen);

ms_status ms_dmarc_from_parse(const uint8_t *buf, size_t len,
			      enum ms_dmarc_from_outcome *outcome, char *domain, size_t domlen,
			      size_t *naddrs, char *why, size_t whylen)
{
	if (outcome == NULL || (buf == NULL && len) || (domain == NULL && domlen))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*outcome = MS_DMARC_FROM_MALFORMED;
	if (naddrs)
		*naddrs = 0;
	if (domain && domlen)
		domain[0] = '\0';
	if (len > FROM_MAX)
		return ms_why(why, whylen, MS_ERR_LIMIT, "From header longer than %d octets",
			      FROM_MAX);
	/* Never more tokens than octets: size the array by the input. */
	size_t cap = len < FROM_MAX_TOKENS ? len + 1 : FROM_MAX_TOKENS;
	struct token *tk = ms_malloc(NULL, cap * sizeof(*tk));
	if (tk == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	ms_status st = parse_tokens(buf, len, tk, cap, outcome, domain, domlen, naddrs, why, whylen);
	ms_free(NULL, tk);
	return st;
}

static ms_status parse_tokens(const uint8_t *buf, size_t len, struct token *tk, size_t cap,
			      enum ms_dmarc_from_outcome *outcome, char *domain, size_t domlen,
			      size_t *naddrs, char *why, size_t whylen)
{
	size_t n = 0;
	const char *err = tokenize(buf, len, tk, cap, &n);
	if (err) {
		ms_why(why, whylen, MS_OK, "%s", err);
		return MS_OK;
	}
	char first[256] = "", dom[256];
	size_t count = 0, pos = 0;
	int in_group = 0, multi = 0;
	while (pos < n && err == NULL) {
		if (tk[pos].t == T_COMMA) {
			pos++;          /* obs-mbox-list allows empty elements */
			continue;
		}
		if (tk[pos].t == T_SEMI) {
			if (!in_group)
				err = "';' outside a group";
			in_group = 0;
			pos++;
			continue;
		}
		size_t w = pos;
		while (w < n && is_word(&tk[w]))
			w++;
		if (w < n && tk[w].t == T_COLON) {
			if (in_group || w == pos)
				err = in_group ? "nested group" : "group without a name";
			in_group = 1;
			pos = w + 1;
			continue;
		}
		if (w < n && tk[w].t == T_LT) {
			size_t p = w + 1;
			if ((err = addr_spec(buf, tk, n, &p, dom, sizeof(dom))) != NULL)
				break;
			if (p >= n || tk[p].t != T_GT) {
				err = "unterminated angle address";
				break;
			}
			pos = p + 1;
		} else {
			if ((err = addr_spec(buf, tk, n, &pos, dom, sizeof(dom))) != NULL)
				break;
		}
		if (pos < n && tk[pos].t != T_COMMA && tk[pos].t != T_SEMI) {
			err = "text after an address (two addresses in one mailbox?)";
			break;
		}
		if (++count > FROM_MAX_MAILBOXES) {
			ms_why(why, whylen, MS_OK, "more than %d mailboxes", FROM_MAX_MAILBOXES);
			return MS_ERR_LIMIT;
		}
		if (count == 1)
			snprintf(first, sizeof(first), "%s", dom);
		else if (strcmp(first, dom) != 0)
			multi = 1;
	}
	if (err == NULL && in_group)
		err = "group not closed with ';'";
	if (err) {
		ms_why(why, whylen, MS_OK, "%s", err);
		return MS_OK;
	}
	if (naddrs)
		*naddrs = count;
	if (count == 0) {
		*outcome = MS_DMARC_FROM_NONE;
		ms_why(why, whylen, MS_OK, "no mailbox in From");
	} else if (multi) {
		*outcome = MS_DMARC_FROM_MULTIPLE_DOMAINS;
		ms_why(why, whylen, MS_OK, "From has mailboxes in different domains");
	} else {
		if (strlen(first) + 1 > domlen)
			return ms_why(why, whylen, MS_ERR_LIMIT, "domain buffer too small");
		memcpy(domain, first, strlen(first) + 1);
		*outcome = MS_DMARC_FROM_OK;
	}
	return MS_OK;
}

ms_status ms_dmarc_from_headers(const uint8_t *const *values, const size_t *lens, size_t n,
				enum ms_dmarc_from_outcome *outcome, char *domain,
				size_t domlen, char *why, size_t whylen)
{
	if (outcome == NULL || (n && (values == NULL || lens == NULL)))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (domain && domlen)
		domain[0] = '\0';
	if (n == 0) {
		*outcome = MS_DMARC_FROM_NONE;
		return ms_why(why, whylen, MS_OK, "no From header");
	}
	if (n > 1) {
		*outcome = MS_DMARC_FROM_MULTIPLE_HEADERS;
		return ms_why(why, whylen, MS_OK, "%zu From header fields", n);
	}
	return ms_dmarc_from_parse(values[0], lens[0], outcome, domain, domlen, NULL, why, whylen);
}

const char *ms_dmarc_from_outcome_str(enum ms_dmarc_from_outcome o)
{
	switch (o) {
	case MS_DMARC_FROM_OK: return "ok";
	case MS_DMARC_FROM_NONE: return "none";
	case MS_DMARC_FROM_MULTIPLE_DOMAINS: return "multiple-domains";
	case MS_DMARC_FROM_MULTIPLE_HEADERS: return "multiple-headers";
	case MS_DMARC_FROM_MALFORMED: return "malformed";
	}
	return "?";
}
