/*
 * policy.c - the policy file (RFC 8461 s3.2):
 *
 *   sts-policy-record = sts-policy-field *WSP
 *                       *(sts-policy-term sts-policy-field *WSP)
 *                       [sts-policy-term]
 *   sts-policy-term   = LF / CRLF
 *   field-delim       = ":" *WSP
 *   version: STSv1; mode: testing / enforce / none; max_age: 1*10DIGIT
 *   (at most 31557600); mx: ["*."] Domain; other keys are extensions
 *   (name as in the TXT record, value 1*(%x21-7E / WSP)), ignored.
 *
 * Deliberate leniency: empty lines are skipped (several published
 * policies end with a blank line).  Everything else is strict, so a policy
 * that a careful peer would reject is rejected here too, with the line.
 */
#include "sts_internal.h"

#include <string.h>

#define STS_MAX_MX 1024 /* far beyond any real policy; bounds the array */

struct ms_sts_policy {
	struct ms_env env;
	enum ms_sts_mode mode;
	uint32_t max_age;
	size_t nmx;
	char **mx;
};

void ms_sts_policy_free(struct ms_sts_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nmx; i++)
		ms_free(&p->env, p->mx[i]);
	ms_free(&p->env, p->mx);
	struct ms_env env = p->env;
	ms_free(&env, p);
}

enum ms_sts_mode ms_sts_policy_mode(const struct ms_sts_policy *p)
{
	return p ? p->mode : MS_STS_MODE_NONE;
}

uint32_t ms_sts_policy_max_age(const struct ms_sts_policy *p)
{
	return p ? p->max_age : 0;
}

size_t ms_sts_policy_mx_count(const struct ms_sts_policy *p)
{
	return p ? p->nmx : 0;
}

const char *ms_sts_policy_mx(const struct ms_sts_policy *p, size_t i)
{
	return (p && i < p->nmx) ? p->mx[i] : NULL;
}

const char *ms_sts_mode_str(enum ms_sts_mode m)
{
	switch (m) {
	case MS_STS_MODE_NONE: return "none";
	case MS_STS_MODE_TESTING: return "testing";
	case MS_STS_MODE_ENFORCE: return "enforce";
	}
	return "unknown";
}

int ms_sts_policy_match(const struct ms_sts_policy *p, const char *mxhost)
{
	if (p == NULL || mxhost == NULL)
		return 0;
	for (size_t i = 0; i < p->nmx; i++)
		if (ms_sts_mx_pattern_match(p->mx[i], mxhost))
			return 1;
	return 0;
}

static int key_is(const uint8_t *k, size_t kl, const char *name)
{
	size_t n = strlen(name);
	return kl == n && memcmp(k, name, n) == 0;
}

static int val_is(const uint8_t *v, size_t vl, const char *s)
{
	return key_is(v, vl, s);
}

static ms_status add_mx(struct ms_sts_policy *p, const uint8_t *v, size_t vl,
			size_t line, char *why, size_t whylen)
{
	if (vl > 0 && v[vl - 1] == '.')
		vl--; /* an absolute name means the same host */
	size_t off = 0;
	if (vl >= 2 && v[0] == '*' && v[1] == '.')
		off = 2;
	const char *bad = sts_check_hostname((const char *)v + off, vl - off);
	if (bad == NULL && off == 2 && memchr(v + off, '.', vl - off) == NULL)
		bad = "wildcard over a single label"; /* "*.com" */
	if (bad != NULL)
		return ms_why(why, whylen, MS_ERR_PARSE, "line %zu: mx: %s", line, bad);
	if (p->nmx == STS_MAX_MX)
		return ms_why(why, whylen, MS_ERR_LIMIT,
			      "line %zu: more than %d mx patterns", line, STS_MAX_MX);
	if ((p->nmx & (p->nmx - 1)) == 0) { /* grow at powers of two */
		size_t cap = p->nmx ? p->nmx * 2 : 4;
		char **nm = ms_realloc(&p->env, p->mx, cap * sizeof(*nm));
		if (nm == NULL)
			return MS_ERR_NOMEM;
		p->mx = nm;
	}
	char *s = ms_strndup(&p->env, (const char *)v, vl);
	if (s == NULL)
		return MS_ERR_NOMEM;
	for (size_t k = 0; k < vl; k++)
		s[k] = (char)ms_ascii_lower((unsigned char)s[k]);
	p->mx[p->nmx++] = s;
	return MS_OK;
}

/* One "key: value" line (without its terminator). */
static ms_status parse_line(struct ms_sts_policy *p, const uint8_t *l, size_t n,
			    size_t line, unsigned *seen, char *why, size_t whylen)
{
	/* key: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
	size_t k = 0;
	while (k < n && (sts_is_alnum(l[k]) || l[k] == '_' || l[k] == '-' || l[k] == '.'))
		k++;
	if (k == 0 || !sts_is_alnum(l[0]))
		return ms_why(why, whylen, MS_ERR_PARSE, "line %zu: bad key", line);
	if (k >= n || l[k] != ':')
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "line %zu: expected ':' after the key", line);
	if (k > 32)
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "line %zu: key longer than 32", line);
	size_t v = k + 1;
	while (v < n && sts_is_wsp(l[v]))
		v++;
	size_t e = n;
	while (e > v && sts_is_wsp(l[e - 1]))
		e--;
	const uint8_t *val = l + v;
	size_t vl = e - v;
	for (size_t i = v; i < n; i++)
		if (!((l[i] >= 0x21 && l[i] <= 0x7e) || sts_is_wsp(l[i])))
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "line %zu: invalid character in value", line);

	enum { SEEN_VERSION = 1, SEEN_MODE = 2, SEEN_MAXAGE = 4 };
	if (key_is(l, k, "mx")) {
		if (vl == 0)
			return ms_why(why, whylen, MS_ERR_PARSE, "line %zu: mx: empty", line);
		return add_mx(p, val, vl, line, why, whylen);
	}
	if (key_is(l, k, "version")) {
		if (*seen & SEEN_VERSION)
			return MS_OK; /* first occurrence wins */
		if (!val_is(val, vl, "STSv1"))
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "line %zu: version: not STSv1", line);
		*seen |= SEEN_VERSION;
		return MS_OK;
	}
	if (key_is(l, k, "mode")) {
		if (*seen & SEEN_MODE)
			return MS_OK;
		if (val_is(val, vl, "enforce"))
			p->mode = MS_STS_MODE_ENFORCE;
		else if (val_is(val, vl, "testing"))
			p->mode = MS_STS_MODE_TESTING;
		else if (val_is(val, vl, "none"))
			p->mode = MS_STS_MODE_NONE;
		else
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "line %zu: mode: unknown value (want enforce, testing or none)",
				      line);
		*seen |= SEEN_MODE;
		return MS_OK;
	}
	if (key_is(l, k, "max_age")) {
		if (*seen & SEEN_MAXAGE)
			return MS_OK;
		if (vl == 0 || vl > 10)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "line %zu: max_age: want 1 to 10 digits", line);
		uint64_t a = 0;
		for (size_t i = 0; i < vl; i++) {
			if (!sts_is_digit(val[i]))
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "line %zu: max_age: not a number", line);
			a = a * 10 + (uint64_t)(val[i] - '0');
		}
		if (a > MS_STS_MAX_AGE_MAX)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "line %zu: max_age: above %d", line,
				      MS_STS_MAX_AGE_MAX);
		p->max_age = (uint32_t)a;
		*seen |= SEEN_MAXAGE;
		return MS_OK;
	}
	return MS_OK; /* an extension: ignored */
}

ms_status ms_sts_policy_parse(const struct ms_env *env, const uint8_t *buf,
			      size_t len, struct ms_sts_policy **out,
			      char *why, size_t whylen)
{
	if (out == NULL || (buf == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "no policy buffer");
	*out = NULL;
	if (len > MS_STS_POLICY_MAX)
		return ms_why(why, whylen, MS_ERR_LIMIT, "policy larger than 64 KiB");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_sts_policy *p = ms_calloc(&e, 1, sizeof(*p));
	if (p == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	p->env = e;
	unsigned seen = 0;
	size_t line = 0, i = 0;
	ms_status st = MS_OK;
	while (i < len) {
		size_t s = i;
		while (i < len && buf[i] != '\n')
			i++;
		size_t n = i - s;
		line++;
		if (i < len)
			i++; /* the LF */
		if (n > 0 && buf[s + n - 1] == '\r')
			n--; /* CRLF */
		for (size_t k = 0; k < n; k++)
			if (buf[s + k] == '\r' || buf[s + k] == '\0') {
				st = ms_why(why, whylen, MS_ERR_PARSE,
					    "line %zu: stray CR or NUL", line);
				goto fail;
			}
		if (n == 0)
			continue;
		st = parse_line(p, buf + s, n, line, &seen, why, whylen);
		if (st == MS_ERR_NOMEM)
			st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		if (st != MS_OK)
			goto fail;
	}
	if (!(seen & 1))
		st = ms_why(why, whylen, MS_ERR_PARSE, "no version line");
	else if (!(seen & 2))
		st = ms_why(why, whylen, MS_ERR_PARSE, "no mode line");
	else if (!(seen & 4))
		st = ms_why(why, whylen, MS_ERR_PARSE, "no max_age line");
	else if (p->mode != MS_STS_MODE_NONE && p->nmx == 0)
		st = ms_why(why, whylen, MS_ERR_PARSE,
			    "no mx line (required unless mode is none)");
	if (st != MS_OK)
		goto fail;
	*out = p;
	return MS_OK;
fail:
	ms_sts_policy_free(p);
	return st;
}
