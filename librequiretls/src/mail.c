/*
 * mail.c - MAIL FROM esmtp-param parsing and formatting (RFC 5321 s4.1.2,
 * s4.1.1.2), with the parameters of RFC 1870 (SIZE), RFC 6152/3030 (BODY),
 * RFC 6531 (SMTPUTF8), RFC 3461 (RET, ENVID) and RFC 8689 (REQUIRETLS).
 */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

#include <string.h>

struct rtls_param {
	char *keyword; /* upper-case */
	char *value;   /* NULL when valueless */
};

struct ms_rtls_mail {
	struct ms_env env;
	char *path;
	struct rtls_param p[MS_RTLS_MAX_PARAMS];
	size_t n;
};

ms_status ms_rtls_mail_new(const struct ms_env *env, struct ms_rtls_mail **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_mail *m = ms_calloc(&e, 1, sizeof(*m));
	if (m == NULL)
		return MS_ERR_NOMEM;
	m->env = e;
	*out = m;
	return MS_OK;
}

static void mail_clear(struct ms_rtls_mail *m)
{
	for (size_t i = 0; i < m->n; i++) {
		ms_free(&m->env, m->p[i].keyword);
		ms_free(&m->env, m->p[i].value);
	}
	m->n = 0;
	ms_free(&m->env, m->path);
	m->path = NULL;
}

void ms_rtls_mail_free(struct ms_rtls_mail *m)
{
	if (m == NULL)
		return;
	mail_clear(m);
	struct ms_env e = m->env;
	ms_free(&e, m);
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int valid_kw(const uint8_t *p, size_t n)
{
	if (n == 0 || n > 64 || !rtls_is_alnum(p[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!rtls_is_alnum(p[i]) && p[i] != '-')
			return 0;
	return 1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126): printable ASCII except "=". */
static int valid_value(const uint8_t *p, size_t n)
{
	if (n == 0 || n > MS_RTLS_MAX_LINE)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 33 || p[i] > 126 || p[i] == '=')
			return 0;
	return 1;
}

static int all_digits(const uint8_t *p, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!rtls_is_digit(p[i]))
			return 0;
	return 1;
}

/* Extension-specific value checks; `v` is NULL for a valueless parameter. */
static ms_status check_known(const uint8_t *kw, size_t kn, const uint8_t *v,
			     size_t vn, char *why, size_t whylen)
{
	if (rtls_memcaseeq(kw, kn, "REQUIRETLS") ||
	    rtls_memcaseeq(kw, kn, "SMTPUTF8")) {
		/* RFC 8689 s2, RFC 6531 s3.4: no value */
		if (v != NULL)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "%.*s takes no value", (int)kn, (const char *)kw);
	} else if (rtls_memcaseeq(kw, kn, "SIZE")) {
		/* RFC 1870 s6: size-value = 1*20DIGIT */
		if (v == NULL || !all_digits(v, vn, 20))
			return ms_why(why, whylen, MS_ERR_PARSE, "bad SIZE value");
	} else if (rtls_memcaseeq(kw, kn, "BODY")) {
		if (v == NULL || !(rtls_memcaseeq(v, vn, "7BIT") ||
				   rtls_memcaseeq(v, vn, "8BITMIME") ||
				   rtls_memcaseeq(v, vn, "BINARYMIME")))
			return ms_why(why, whylen, MS_ERR_PARSE, "bad BODY value");
	} else if (rtls_memcaseeq(kw, kn, "RET")) {
		if (v == NULL || !(rtls_memcaseeq(v, vn, "FULL") ||
				   rtls_memcaseeq(v, vn, "HDRS")))
			return ms_why(why, whylen, MS_ERR_PARSE, "bad RET value");
	} else if (rtls_memcaseeq(kw, kn, "ENVID")) {
		char tmp[MS_RTLS_MAX_ENVID + 1];
		if (v == NULL)
			return ms_why(why, whylen, MS_ERR_PARSE, "ENVID needs a value");
		ms_status st = ms_rtls_xtext_decode(v, vn, tmp, sizeof(tmp), NULL);
		if (st != MS_OK)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      st == MS_ERR_LIMIT ? "ENVID longer than 100 characters"
							 : "ENVID is not valid xtext");
	}
	return MS_OK;
}

static int find_param(const struct ms_rtls_mail *m, const uint8_t *kw, size_t n)
{
	for (size_t i = 0; i < m->n; i++)
		if (rtls_memcaseeq(kw, n, m->p[i].keyword))
			return (int)i;
	return -1;
}

static ms_status store_param(struct ms_rtls_mail *m, const uint8_t *kw,
			     size_t kn, const uint8_t *v, size_t vn)
{
	if (m->n == MS_RTLS_MAX_PARAMS)
		return MS_ERR_LIMIT;
	char *k = ms_strndup(&m->env, (const char *)kw, kn);
	char *val = v ? ms_strndup(&m->env, (const char *)v, vn) : NULL;
	if (k == NULL || (v != NULL && val == NULL)) {
		ms_free(&m->env, k);
		ms_free(&m->env, val);
		return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < kn; i++)
		k[i] = (char)rtls_ascii_upper((unsigned char)k[i]);
	m->p[m->n].keyword = k;
	m->p[m->n].value = val;
	m->n++;
	return MS_OK;
}

/* Parse params into m without clearing it first. */
static ms_status parse_params(struct ms_rtls_mail *m, const uint8_t *buf,
			      size_t len, char *why, size_t whylen)
{
	if (len > MS_RTLS_MAX_LINE)
		return ms_why(why, whylen, MS_ERR_LIMIT, "parameters too long");
	size_t i = 0;
	while (i < len) {
		while (i < len && buf[i] == ' ')
			i++;
		if (i == len)
			break;
		size_t s = i;
		while (i < len && buf[i] != ' ' && buf[i] != '=')
			i++;
		const uint8_t *kw = buf + s;
		size_t kn = i - s;
		const uint8_t *v = NULL;
		size_t vn = 0;
		if (i < len && buf[i] == '=') {
			i++;
			size_t vs = i;
			while (i < len && buf[i] != ' ')
				i++;
			v = buf + vs;
			vn = i - vs;
			if (!valid_value(v, vn))
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "bad value for parameter %zu", m->n + 1);
		}
		if (!valid_kw(kw, kn))
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "bad parameter keyword at offset %zu", s);
		if (find_param(m, kw, kn) >= 0)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "parameter %.*s given twice", (int)kn,
				      (const char *)kw);
		ms_status st = check_known(kw, kn, v, vn, why, whylen);
		if (st != MS_OK)
			return st;
		st = store_param(m, kw, kn, v, vn);
		if (st != MS_OK)
			return ms_why(why, whylen, st, "%s", st == MS_ERR_LIMIT
				      ? "too many parameters" : ms_status_str(st));
	}
	return MS_OK;
}

ms_status ms_rtls_mail_parse_params(struct ms_rtls_mail *m, const uint8_t *buf,
				    size_t len, char *why, size_t whylen)
{
	if (m == NULL || (buf == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	mail_clear(m);
	ms_status st = parse_params(m, buf, len, why, whylen);
	if (st != MS_OK)
		mail_clear(m);
	return st;
}

ms_status ms_rtls_mail_parse_command(struct ms_rtls_mail *m, const uint8_t *buf,
				     size_t len, char *why, size_t whylen)
{
	if (m == NULL || (buf == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	mail_clear(m);
	if (len > MS_RTLS_MAX_LINE)
		return ms_why(why, whylen, MS_ERR_LIMIT, "command line too long");
	/* "MAIL FROM:" Reverse-path [SP Mail-parameters] (RFC 5321 s4.1.1.2);
	 * a space after the colon is tolerated as most servers do. */
	static const char verb[] = "MAIL FROM:";
	size_t vl = sizeof(verb) - 1;
	if (len < vl || !rtls_memcaseeq(buf, vl, verb))
		return ms_why(why, whylen, MS_ERR_PARSE, "not a MAIL FROM command");
	size_t i = vl;
	while (i < len && buf[i] == ' ')
		i++;
	if (i == len || buf[i] != '<')
		return ms_why(why, whylen, MS_ERR_PARSE, "reverse-path must start with <");
	size_t ps = ++i;
	int quoted = 0;
	for (; i < len; i++) {
		uint8_t c = buf[i];
		if (c < 32 || c > 126)
			if (c < 0x80) /* UTF-8 allowed (RFC 6531), controls not */
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "control character in reverse-path");
		if (quoted && c == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == '>' && !quoted)
			break;
	}
	if (i == len)
		return ms_why(why, whylen, MS_ERR_PARSE, "reverse-path not closed by >");
	size_t pe = i++;
	if (i < len && buf[i] != ' ')
		return ms_why(why, whylen, MS_ERR_PARSE, "no space after reverse-path");
	m->path = ms_strndup(&m->env, (const char *)buf + ps, pe - ps);
	if (m->path == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	ms_status st = parse_params(m, buf + i, len - i, why, whylen);
	if (st != MS_OK)
		mail_clear(m);
	return st;
}

const char *ms_rtls_mail_path(const struct ms_rtls_mail *m)
{
	return (m && m->path) ? m->path : "";
}

size_t ms_rtls_mail_count(const struct ms_rtls_mail *m)
{
	return m ? m->n : 0;
}

const char *ms_rtls_mail_keyword(const struct ms_rtls_mail *m, size_t i)
{
	return (m && i < m->n) ? m->p[i].keyword : NULL;
}

const char *ms_rtls_mail_value(const struct ms_rtls_mail *m, size_t i)
{
	return (m && i < m->n) ? m->p[i].value : NULL;
}

static int find_c(const struct ms_rtls_mail *m, const char *kw)
{
	if (m == NULL || kw == NULL)
		return -1;
	return find_param(m, (const uint8_t *)kw, strlen(kw));
}

int ms_rtls_mail_has(const struct ms_rtls_mail *m, const char *keyword)
{
	return find_c(m, keyword) >= 0;
}

const char *ms_rtls_mail_get(const struct ms_rtls_mail *m, const char *keyword)
{
	int i = find_c(m, keyword);
	return i < 0 ? NULL : m->p[i].value;
}

int ms_rtls_mail_requiretls(const struct ms_rtls_mail *m)
{
	return ms_rtls_mail_has(m, "REQUIRETLS");
}

int ms_rtls_mail_smtputf8(const struct ms_rtls_mail *m)
{
	return ms_rtls_mail_has(m, "SMTPUTF8");
}

enum ms_rtls_body ms_rtls_mail_body(const struct ms_rtls_mail *m)
{
	const char *v = ms_rtls_mail_get(m, "BODY");
	if (v == NULL)
		return MS_RTLS_BODY_NONE;
	if (ms_ascii_casecmp(v, "8BITMIME") == 0)
		return MS_RTLS_BODY_8BITMIME;
	if (ms_ascii_casecmp(v, "BINARYMIME") == 0)
		return MS_RTLS_BODY_BINARYMIME;
	return MS_RTLS_BODY_7BIT;
}

enum ms_rtls_ret ms_rtls_mail_ret(const struct ms_rtls_mail *m)
{
	const char *v = ms_rtls_mail_get(m, "RET");
	if (v == NULL)
		return MS_RTLS_RET_NONE;
	return ms_ascii_casecmp(v, "HDRS") == 0 ? MS_RTLS_RET_HDRS : MS_RTLS_RET_FULL;
}

ms_status ms_rtls_mail_size(const struct ms_rtls_mail *m, uint64_t *size)
{
	const char *v = ms_rtls_mail_get(m, "SIZE");
	if (v == NULL || size == NULL)
		return MS_ERR_INVALID;
	uint64_t x = 0;
	for (; *v; v++) {
		unsigned d = (unsigned)(*v - '0');
		if (x > (UINT64_MAX - d) / 10)
			return MS_ERR_LIMIT; /* 20 digits may exceed 2^64 */
		x = x * 10 + d;
	}
	*size = x;
	return MS_OK;
}

ms_status ms_rtls_mail_envid(const struct ms_rtls_mail *m, char *out,
			     size_t outsize, size_t *outlen)
{
	const char *v = ms_rtls_mail_get(m, "ENVID");
	if (v == NULL || out == NULL || outsize == 0)
		return MS_ERR_INVALID;
	return ms_rtls_xtext_decode((const uint8_t *)v, strlen(v), out, outsize,
				    outlen);
}

ms_status ms_rtls_mail_set(struct ms_rtls_mail *m, const char *keyword,
			   const char *value)
{
	if (m == NULL || keyword == NULL)
		return MS_ERR_INVALID;
	const uint8_t *kw = (const uint8_t *)keyword;
	size_t kn = strlen(keyword);
	size_t vn = value ? strlen(value) : 0;
	if (!valid_kw(kw, kn) ||
	    (value && !valid_value((const uint8_t *)value, vn)))
		return MS_ERR_INVALID;
	if (check_known(kw, kn, (const uint8_t *)value, vn, NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	int i = find_param(m, kw, kn);
	if (i >= 0) {
		char *nv = value ? ms_strdup(&m->env, value) : NULL;
		if (value && nv == NULL)
			return MS_ERR_NOMEM;
		ms_free(&m->env, m->p[i].value);
		m->p[i].value = nv;
		return MS_OK;
	}
	return store_param(m, kw, kn, (const uint8_t *)value, vn);
}

ms_status ms_rtls_mail_set_envid(struct ms_rtls_mail *m, const uint8_t *raw,
				 size_t len)
{
	if (m == NULL || len == 0 || len > MS_RTLS_MAX_ENVID)
		return MS_ERR_INVALID;
	char enc[3 * MS_RTLS_MAX_ENVID + 1];
	ms_status st = ms_rtls_xtext_encode(raw, len, enc, sizeof(enc), NULL);
	if (st != MS_OK)
		return st;
	return ms_rtls_mail_set(m, "ENVID", enc);
}

ms_status ms_rtls_mail_remove(struct ms_rtls_mail *m, const char *keyword)
{
	int i = find_c(m, keyword);
	if (m == NULL || keyword == NULL)
		return MS_ERR_INVALID;
	if (i < 0)
		return MS_OK;
	ms_free(&m->env, m->p[i].keyword);
	ms_free(&m->env, m->p[i].value);
	memmove(&m->p[i], &m->p[i + 1], (m->n - (size_t)i - 1) * sizeof(m->p[0]));
	m->n--;
	return MS_OK;
}

ms_status ms_rtls_mail_format(const struct ms_rtls_mail *m, char *out,
			      size_t outsize, size_t *needed)
{
	if (m == NULL || (out == NULL && outsize > 0))
		return MS_ERR_INVALID;
	size_t need = 0;
	for (size_t i = 0; i < m->n; i++) {
		need += (i ? 1 : 0) + strlen(m->p[i].keyword);
		if (m->p[i].value)
			need += 1 + strlen(m->p[i].value);
	}
	if (needed)
		*needed = need;
	if (need + 1 > outsize) {
		if (outsize)
			out[0] = '\0';
		return MS_ERR_LIMIT;
	}
	size_t o = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			out[o++] = ' ';
		size_t k = strlen(m->p[i].keyword);
		memcpy(out + o, m->p[i].keyword, k);
		o += k;
		if (m->p[i].value) {
			out[o++] = '=';
			size_t v = strlen(m->p[i].value);
			memcpy(out + o, m->p[i].value, v);
			o += v;
		}
	}
	out[o] = '\0';
	return MS_OK;
}
