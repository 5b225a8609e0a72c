/*
 * ehlo.c - EHLO reply parsing into a capability set (RFC 5321 s4.1.1.1,
 * s4.2.1 multi-line replies) and the RFC 3207 s4.2 discard after STARTTLS.
 */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

#include <string.h>

struct rtls_cap {
	char *keyword; /* upper-case */
	char *params;  /* "" when none */
};

struct ms_rtls_ehlo {
	struct ms_env env;
	int code;
	int over_tls;
	char *greeting;
	struct rtls_cap caps[MS_RTLS_MAX_CAPS];
	size_t ncaps;
};

ms_status ms_rtls_ehlo_new(const struct ms_env *env, struct ms_rtls_ehlo **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_ehlo *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return MS_ERR_NOMEM;
	s->env = e;
	*out = s;
	return MS_OK;
}

static void ehlo_clear(struct ms_rtls_ehlo *s)
{
	for (size_t i = 0; i < s->ncaps; i++) {
		ms_free(&s->env, s->caps[i].keyword);
		ms_free(&s->env, s->caps[i].params);
	}
	ms_free(&s->env, s->greeting);
	s->greeting = NULL;
	s->ncaps = 0;
	s->code = 0;
	s->over_tls = 0;
}

void ms_rtls_ehlo_free(struct ms_rtls_ehlo *set)
{
	if (set == NULL)
		return;
	ehlo_clear(set);
	struct ms_env e = set->env;
	ms_free(&e, set);
}

void ms_rtls_ehlo_discard(struct ms_rtls_ehlo *set)
{
	if (set != NULL)
		ehlo_clear(set);
}

/* ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") (RFC 5321 s4.1.1.1) */
static int valid_keyword(const uint8_t *p, size_t n)
{
	if (n == 0 || !rtls_is_alnum(p[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!rtls_is_alnum(p[i]) && p[i] != '-')
			return 0;
	return 1;
}

static int find_cap(const struct ms_rtls_ehlo *s, const uint8_t *kw, size_t n)
{
	for (size_t i = 0; i < s->ncaps; i++)
		if (rtls_memcaseeq(kw, n, s->caps[i].keyword))
			return (int)i;
	return -1;
}

/* Store one capability line's text (after "250-"/"250 "). */
static ms_status add_cap(struct ms_rtls_ehlo *s, const uint8_t *t, size_t n)
{
	/* Trim trailing white space: some servers pad lines. */
	while (n > 0 && rtls_is_wsp(t[n - 1]))
		n--;
	size_t k = 0;
	while (k < n && t[k] != ' ')
		k++;
	if (!valid_keyword(t, k))
		return MS_OK; /* e.g. the obsolete "AUTH=LOGIN": skipped, not fatal */
	if (find_cap(s, t, k) >= 0)
		return MS_OK;
	if (s->ncaps == MS_RTLS_MAX_CAPS)
		return MS_ERR_LIMIT;
	size_t p = k;
	while (p < n && t[p] == ' ')
		p++;
	char *kw = ms_strndup(&s->env, (const char *)t, k);
	char *pa = ms_strndup(&s->env, (const char *)t + p, n - p);
	if (kw == NULL || pa == NULL) {
		ms_free(&s->env, kw);
		ms_free(&s->env, pa);
		return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < k; i++)
		kw[i] = (char)rtls_ascii_upper((unsigned char)kw[i]);
	/* Parameters must be printable text; anything else is dropped to a
	 * space so callers can log them safely. */
	for (size_t i = 0; pa[i]; i++)
		if ((unsigned char)pa[i] < 0x20 || (unsigned char)pa[i] > 0x7e)
			pa[i] = ' ';
	s->caps[s->ncaps].keyword = kw;
	s->caps[s->ncaps].params = pa;
	s->ncaps++;
	return MS_OK;
}

ms_status ms_rtls_ehlo_parse(struct ms_rtls_ehlo *set, const uint8_t *buf,
			     size_t len, int over_tls, char *why, size_t whylen)
{
	if (set == NULL || (buf == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	ehlo_clear(set);
	if (len > MS_RTLS_MAX_REPLY_BYTES)
		return ms_why(why, whylen, MS_ERR_LIMIT, "EHLO reply longer than %d bytes",
			      MS_RTLS_MAX_REPLY_BYTES);
	size_t pos = 0, lineno = 0;
	int code = 0, done = 0;
	ms_status st = MS_OK;
	while (pos < len) {
		if (done) {
			st = ms_why(why, whylen, MS_ERR_PARSE,
				    "text after the final reply line");
			goto fail;
		}
		size_t e = pos;
		while (e < len && buf[e] != '\n')
			e++;
		size_t next = e < len ? e + 1 : e;
		size_t n = e - pos;
		if (n > 0 && buf[pos + n - 1] == '\r')
			n--;
		const uint8_t *l = buf + pos;
		if (n > MS_RTLS_MAX_LINE) {
			st = ms_why(why, whylen, MS_ERR_LIMIT, "reply line %zu too long",
				    lineno + 1);
			goto fail;
		}
		/* Reply-line = *( Reply-code "-" [ textstring ] CRLF )
		 *   Reply-code [ SP textstring ] CRLF   (RFC 5321 s4.2) */
		if (n < 3 || !rtls_is_digit(l[0]) || !rtls_is_digit(l[1]) ||
		    !rtls_is_digit(l[2]) || l[0] < '2' || l[0] > '5' ||
		    (n > 3 && l[3] != '-' && l[3] != ' ')) {
			st = ms_why(why, whylen, MS_ERR_PARSE,
				    "reply line %zu has no reply code", lineno + 1);
			goto fail;
		}
		int c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (lineno > 0 && c != code) {
			st = ms_why(why, whylen, MS_ERR_PARSE,
				    "reply line %zu has code %d, expected %d",
				    lineno + 1, c, code);
			goto fail;
		}
		code = c;
		done = (n == 3 || l[3] == ' ');
		const uint8_t *t = l + (n > 3 ? 4 : 3);
		size_t tn = n > 3 ? n - 4 : 0;
		if (lineno == 0) {
			set->greeting = ms_strndup(&set->env, (const char *)t, tn);
			if (set->greeting == NULL) {
				st = MS_ERR_NOMEM;
				goto fail;
			}
			/* printable only, so callers may log it as is */
			for (char *g = set->greeting; *g; g++)
				if ((unsigned char)*g < 0x20 || (unsigned char)*g > 0x7e)
					*g = ' ';
		} else if (code == 250) {
			st = add_cap(set, t, tn);
			if (st != MS_OK) {
				ms_why(why, whylen, st, "capability line %zu: %s",
				       lineno + 1, ms_status_str(st));
				goto fail;
			}
		}
		lineno++;
		pos = next;
	}
	if (!done) {
		st = ms_why(why, whylen, MS_ERR_PARSE,
			    lineno ? "reply has no final line" : "empty reply");
		goto fail;
	}
	if (code != 250) {
		/* A refused EHLO: no capabilities, keep the code. */
		for (size_t i = 0; i < set->ncaps; i++) {
			ms_free(&set->env, set->caps[i].keyword);
			ms_free(&set->env, set->caps[i].params);
		}
		set->ncaps = 0;
	}
	set->code = code;
	set->over_tls = over_tls ? 1 : 0;
	return MS_OK;
fail:
	ehlo_clear(set);
	return st;
}

int ms_rtls_ehlo_code(const struct ms_rtls_ehlo *set)
{
	return set ? set->code : 0;
}

int ms_rtls_ehlo_over_tls(const struct ms_rtls_ehlo *set)
{
	return set ? set->over_tls : 0;
}

const char *ms_rtls_ehlo_greeting(const struct ms_rtls_ehlo *set)
{
	return (set && set->greeting) ? set->greeting : "";
}

size_t ms_rtls_ehlo_count(const struct ms_rtls_ehlo *set)
{
	return set ? set->ncaps : 0;
}

const char *ms_rtls_ehlo_keyword(const struct ms_rtls_ehlo *set, size_t i)
{
	return (set && i < set->ncaps) ? set->caps[i].keyword : NULL;
}

const char *ms_rtls_ehlo_params(const struct ms_rtls_ehlo *set, size_t i)
{
	return (set && i < set->ncaps) ? set->caps[i].params : NULL;
}

const char *ms_rtls_ehlo_param(const struct ms_rtls_ehlo *set,
			       const char *keyword)
{
	if (set == NULL || keyword == NULL)
		return NULL;
	int i = find_cap(set, (const uint8_t *)keyword, strlen(keyword));
	return i < 0 ? NULL : set->caps[i].params;
}

int ms_rtls_ehlo_has(const struct ms_rtls_ehlo *set, const char *keyword)
{
	return ms_rtls_ehlo_param(set, keyword) != NULL;
}
