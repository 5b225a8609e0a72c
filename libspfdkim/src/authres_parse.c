/*
 * authres_parse.c - Authentication-Results parser (RFC 8601 s2.2), for
 * removing incoming fields that claim our authserv-id (s5).  Comments are
 * skipped (nested, with escapes, bounded depth); values are tokens,
 * quoted-strings or [local-part] "@" domain.  Everything is bounded.
 */
#include "ms_common.h"
#include "mailsec/authres.h"

#include <string.h>

/* The one error text for a failed allocation: the parser reports it as
 * MS_ERR_NOMEM (temporary), never as malformed input. */
static const char ar_oom[] = "out of memory";

#define ARP_MAX 16384
#define ARP_MAX_METHODS 64
#define ARP_MAX_PROPS 16
#define ARP_DEPTH 32

struct arp_prop {
	char *ptype, *property, *value;
};

struct arp_method {
	char *method, *result, *reason;
	struct arp_prop props[ARP_MAX_PROPS];
	size_t nprops;
};

struct ms_ar_parsed {
	struct ms_env env;
	char *id;
	struct arp_method *m;
	size_t n;
};

struct cur {
	const unsigned char *s;
	size_t len, i;
	const char *err;
};

static void cfws(struct cur *c)
{
	while (c->i < c->len) {
		unsigned char ch = c->s[c->i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->i++;
		} else if (ch == '(') {
			int depth = 0;
			do {
				if (c->s[c->i] == '\\')
					c->i++;
				else if (c->s[c->i] == '(' && ++depth > ARP_DEPTH) {
					c->err = "comments nested too deep";
					return;
				} else if (c->s[c->i] == ')')
					depth--;
				c->i++;
			} while (c->i < c->len && depth > 0);
			if (depth > 0) {
				c->err = "unterminated comment";
				return;
			}
		} else {
			return;
		}
	}
}

static int tokc(unsigned char c, int dot_ok, int at_ok)
{
	if (c == '.' )
		return dot_ok;
	if (c == '@')
		return at_ok;
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* A value: quoted-string or token (optionally with '@' and '.' for
 * pvalues).  Returns an allocated, unquoted copy, or NULL with c->err. */
static char *value(struct cur *c, const struct ms_env *env, int addr)
{
	cfws(c);
	if (c->err)
		return NULL;
	if (c->i < c->len && c->s[c->i] == '"') {
		struct ms_buf b;
		ms_buf_init(&b, env, 2048);
		c->i++;
		while (c->i < c->len && c->s[c->i] != '"') {
			if (c->s[c->i] == '\\' && c->i + 1 < c->len)
				c->i++;
			unsigned char ch = c->s[c->i];
			if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f) {
				ms_buf_free(&b);
				c->err = "control character in quoted-string";
				return NULL;
			}
			ms_status bs = ms_buf_putc(&b, c->s[c->i]);
			if (bs != MS_OK) {
				ms_buf_free(&b);
				c->err = bs == MS_ERR_NOMEM ? ar_oom : "value too long";
				return NULL;
			}
			c->i++;
		}
		if (c->i >= c->len) {
			ms_buf_free(&b);
			c->err = "unterminated quoted-string";
			return NULL;
		}
		c->i++;
		char *out = b.data ? ms_buf_steal(&b) : ms_strdup(env, "");
		ms_buf_free(&b);
		if (out == NULL)
			c->err = ar_oom;
		return out;
	}
	size_t st = c->i;
	while (c->i < c->len && tokc(c->s[c->i], 1, addr))
		c->i++;
	if (c->i == st || c->i - st > 2048) {
		c->err = c->i == st ? "missing value" : "value too long";
		return NULL;
	}
	char *out = ms_strndup(env, (const char *)c->s + st, c->i - st);
	if (out == NULL)
		c->err = ar_oom;
	return out;
}

/* Keyword = letters, digits, '-' (and '_' seen in the wild). */
static char *keyword(struct cur *c, const struct ms_env *env)
{
	cfws(c);
	if (c->err)
		return NULL;
	size_t st = c->i;
	while (c->i < c->len && (((c->s[c->i] | 0x20) >= 'a' && (c->s[c->i] | 0x20) <= 'z') ||
				 (c->s[c->i] >= '0' && c->s[c->i] <= '9') || c->s[c->i] == '-' ||
				 c->s[c->i] == '_'))
		c->i++;
	if (c->i == st || c->i - st > 64) {
		c->err = "keyword expected";
		return NULL;
	}
	char *out = ms_strndup(env, (const char *)c->s + st, c->i - st);
	if (out == NULL)
		c->err = ar_oom;
	return out;
}

static int peek(struct cur *c, char ch)
{
	cfws(c);
	return c->err == NULL && c->i < c->len && c->s[c->i] == (unsigned char)ch;
}

static void skip_version(struct cur *c)
{
	/* [ CFWS authres-version ] after the id and after a method name */
	cfws(c);
	while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9')
		c->i++;
}

static ms_status parse_method(struct cur *c, struct ms_ar_parsed *p, struct arp_method *m)
{
	const struct ms_env *env = &p->env;
	if ((m->method = keyword(c, env)) == NULL)
		return MS_ERR_PARSE;
	if (peek(c, '/')) {
		c->i++;
		skip_version(c);
	}
	if (!peek(c, '=')) {
		c->err = "'=' expected after method";
		return MS_ERR_PARSE;
	}
	c->i++;
	if ((m->result = keyword(c, env)) == NULL)
		return MS_ERR_PARSE;
	for (;;) {
		cfws(c);
		if (c->err)
			return MS_ERR_PARSE;
		if (c->i >= c->len || c->s[c->i] == ';')
			return MS_OK;
		char *k = keyword(c, env);
		if (k == NULL)
			return MS_ERR_PARSE;
		if (ms_ascii_casecmp(k, "reason") == 0 && peek(c, '=')) {
			ms_free(env, k);
			c->i++;
			if (m->reason) {
				c->err = "two reasons";
				return MS_ERR_PARSE;
			}
			if ((m->reason = value(c, env, 0)) == NULL)
				return MS_ERR_PARSE;
			continue;
		}
		if (!peek(c, '.')) {
			ms_free(env, k);
			c->err = "'ptype.property' expected";
			return MS_ERR_PARSE;
		}
		c->i++;
		if (m->nprops == ARP_MAX_PROPS) {
			ms_free(env, k);
			c->err = "too many properties";
			return MS_ERR_LIMIT;
		}
		struct arp_prop *pr = &m->props[m->nprops++];
		pr->ptype = k;
		if ((pr->property = keyword(c, env)) == NULL)
			return MS_ERR_PARSE;
		if (!peek(c, '=')) {
			c->err = "'=' expected after property";
			return MS_ERR_PARSE;
		}
		c->i++;
		if ((pr->value = value(c, env, 1)) == NULL)
			return MS_ERR_PARSE;
	}
}

ms_status ms_ar_parse(const struct ms_env *env, const uint8_t *buf, size_t len,
		      struct ms_ar_parsed **out, char *why, size_t whylen)
{
	if (out == NULL || (buf == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	if (len > ARP_MAX)
		return ms_why(why, whylen, MS_ERR_LIMIT, "field longer than %d octets", ARP_MAX);
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_ar_parsed *p = ms_calloc(&e, 1, sizeof(*p));
	if (p == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	p->env = e;
	struct cur c = { buf, len, 0, NULL };
	/* An optional field name, recognised as everywhere (ms_hdr_is:
	 * "Authentication-Results :" too). */
	size_t colon;
	if (ms_hdr_is(buf, len, "authentication-results", &colon))
		c.i = colon + 1;
	ms_status st = MS_OK;
	p->id = value(&c, &e, 1);
	if (p->id == NULL)
		st = MS_ERR_PARSE;
	if (st == MS_OK) {
		skip_version(&c);
		if (!peek(&c, ';')) {
			c.err = c.err ? c.err : "';' expected after authserv-id";
			st = MS_ERR_PARSE;
		}
	}
	while (st == MS_OK && c.i < c.len && c.s[c.i] == ';') {
		c.i++;
		cfws(&c);
		if (c.err) {
			st = MS_ERR_PARSE;
			break;
		}
		if (c.i >= c.len)
			break;
		if (p->n == 0 && c.len - c.i >= 4 && ms_ascii_ncasecmp((const char *)c.s + c.i, "none", 4) == 0) {
			struct cur t = c;
			t.i += 4;
			cfws(&t);
			if (t.err == NULL && t.i >= t.len) {
				c = t;
				break;
			}
		}
		if (p->n == ARP_MAX_METHODS) {
			c.err = "too many methods";
			st = MS_ERR_LIMIT;
			break;
		}
		if (p->m == NULL && (p->m = ms_calloc(&e, ARP_MAX_METHODS, sizeof(*p->m))) == NULL) {
			st = MS_ERR_NOMEM;
			c.err = ar_oom;
			break;
		}
		st = parse_method(&c, p, &p->m[p->n++]);
	}
	if (st == MS_OK) {
		cfws(&c);
		if (c.err || c.i < c.len) {
			c.err = c.err ? c.err : "unexpected text";
			st = MS_ERR_PARSE;
		}
	}
	if (st != MS_OK) {
		if (c.err == ar_oom)
			st = MS_ERR_NOMEM;
		ms_why(why, whylen, st, "%s at offset %zu", c.err ? c.err : "parse error", c.i);
		ms_ar_parsed_free(p);
		return st;
	}
	*out = p;
	return MS_OK;
}

void ms_ar_parsed_free(struct ms_ar_parsed *p)
{
	if (p == NULL)
		return;
	const struct ms_env *e = &p->env;
	for (size_t i = 0; i < p->n; i++) {
		ms_free(e, p->m[i].method);
		ms_free(e, p->m[i].result);
		ms_free(e, p->m[i].reason);
		for (size_t j = 0; j < p->m[i].nprops; j++) {
			ms_free(e, p->m[i].props[j].ptype);
			ms_free(e, p->m[i].props[j].property);
			ms_free(e, p->m[i].props[j].value);
		}
	}
	ms_free(e, p->m);
	ms_free(e, p->id);
	struct ms_env copy = p->env;
	ms_free(&copy, p);
}

const char *ms_ar_parsed_authserv_id(const struct ms_ar_parsed *p) { return p ? p->id : NULL; }
size_t ms_ar_parsed_count(const struct ms_ar_parsed *p) { return p ? p->n : 0; }
const char *ms_ar_parsed_method(const struct ms_ar_parsed *p, size_t i) { return p && i < p->n ? p->m[i].method : NULL; }
const char *ms_ar_parsed_result(const struct ms_ar_parsed *p, size_t i) { return p && i < p->n ? p->m[i].result : NULL; }
const char *ms_ar_parsed_reason(const struct ms_ar_parsed *p, size_t i) { return p && i < p->n ? p->m[i].reason : NULL; }
size_t ms_ar_parsed_prop_count(const struct ms_ar_parsed *p, size_t i) { return p && i < p->n ? p->m[i].nprops : 0; }

ms_status ms_ar_parsed_prop(const struct ms_ar_parsed *p, size_t i, size_t j,
			    const char **ptype, const char **property, const char **value)
{
	if (p == NULL || i >= p->n || j >= p->m[i].nprops)
		return MS_ERR_INVALID;
	if (ptype)
		*ptype = p->m[i].props[j].ptype;
	if (property)
		*property = p->m[i].props[j].property;
	if (value)
		*value = p->m[i].props[j].value;
	return MS_OK;
}

int ms_ar_should_remove(const uint8_t *buf, size_t len, const char *authserv_id)
{
	struct ms_ar_parsed *p = NULL;
	if (ms_ar_parse(NULL, buf, len, &p, NULL, 0) != MS_OK)
		return 1;      /* unreadable: remove rather than let it fool a reader */
	int claims = authserv_id && ms_ascii_casecmp(p->id, authserv_id) == 0;
	ms_ar_parsed_free(p);
	return claims;
}
