/*
 * authres_write.c - Authentication-Results writer (RFC 8601 s2.2).  Every
 * value passes through put_value(), which writes a token or a quoted
 * string and drops octets that could end the header field.
 */
#include "ms_common.h"
#include "mailsec/authres.h"
#include "mailsec/auth.h"
#include "mailsec/dkim.h"

#include <stdio.h>
#include <string.h>

/* MS_DKIM_MAX_SIGNATURES (32) dkim methods plus spf, dmarc, iprev and
 * room: with 32 a fully signed message lost its dmarc and iprev. */
#define AR_MAX_METHODS 40
#define AR_MAX_PROPS 8
#define AR_VALUE_MAX 512

struct ar_prop {
	char *ptype, *property, *value;
};

struct ar_method {
	char *method, *result, *reason;
	enum ms_dns_security dnssec;
	struct ar_prop props[AR_MAX_PROPS];
	size_t nprops;
};

struct ms_ar {
	struct ms_env env;
	char *id;
	struct ar_method m[AR_MAX_METHODS];
	size_t n;
};

static int keyword(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

static int clean_text(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p >= 0x7f)
			return 0;
	return 1;
}

ms_status ms_ar_new(const struct ms_env *env, const char *authserv_id, struct ms_ar **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	if (authserv_id == NULL || authserv_id[0] == '\0' || strlen(authserv_id) > 255 ||
	    !clean_text(authserv_id))
		return MS_ERR_INVALID;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_ar *ar = ms_calloc(&e, 1, sizeof(*ar));
	if (ar == NULL)
		return MS_ERR_NOMEM;
	ar->env = e;
	if ((ar->id = ms_strdup(&e, authserv_id)) == NULL) {
		ms_free(&e, ar);
		return MS_ERR_NOMEM;
	}
	*out = ar;
	return MS_OK;
}

void ms_ar_free(struct ms_ar *ar)
{
	if (ar == NULL)
		return;
	const struct ms_env *e = &ar->env;
	for (size_t i = 0; i < ar->n; i++) {
		ms_free(e, ar->m[i].method);
		ms_free(e, ar->m[i].result);
		ms_free(e, ar->m[i].reason);
		for (size_t j = 0; j < ar->m[i].nprops; j++) {
			ms_free(e, ar->m[i].props[j].ptype);
			ms_free(e, ar->m[i].props[j].property);
			ms_free(e, ar->m[i].props[j].value);
		}
	}
	ms_free(e, ar->id);
	struct ms_env copy = ar->env;
	ms_free(&copy, ar);
}

static char *dup_bounded(const struct ms_env *e, const char *s)
{
	return s ? ms_strndup(e, s, strnlen(s, AR_VALUE_MAX)) : NULL;
}

ms_status ms_ar_add(struct ms_ar *ar, const char *method, const char *result,
		    const char *reason, enum ms_dns_security dnssec)
{
	if (ar == NULL || !keyword(method) || !keyword(result))
		return MS_ERR_INVALID;
	if (ar->n == AR_MAX_METHODS)
		return MS_ERR_LIMIT;
	struct ar_method *m = &ar->m[ar->n];
	memset(m, 0, sizeof(*m));
	m->method = ms_strdup(&ar->env, method);
	m->result = ms_strdup(&ar->env, result);
	m->reason = reason ? dup_bounded(&ar->env, reason) : NULL;
	m->dnssec = dnssec;
	ar->n++;
	if (!m->method || !m->result || (reason && !m->reason))
		return MS_ERR_NOMEM;
	return MS_OK;
}

ms_status ms_ar_add_prop(struct ms_ar *ar, const char *ptype, const char *property,
			 const char *value)
{
	if (ar == NULL || ar->n == 0 || !keyword(ptype) || property == NULL || value == NULL)
		return MS_ERR_INVALID;
	/* property = special-smtp-verb / Keyword, may contain '.' is not
	 * allowed: a keyword, letters digits '-' '_'. */
	if (!keyword(property))
		return MS_ERR_INVALID;
	struct ar_method *m = &ar->m[ar->n - 1];
	if (m->nprops == AR_MAX_PROPS)
		return MS_ERR_LIMIT;
	struct ar_prop *p = &m->props[m->nprops++];
	p->ptype = ms_strdup(&ar->env, ptype);
	p->property = ms_strdup(&ar->env, property);
	p->value = dup_bounded(&ar->env, value);
	if (!p->ptype || !p->property || !p->value)
		return MS_ERR_NOMEM;
	return MS_OK;
}

/* RFC 2045 token: printable ASCII except SPACE and tspecials. */
static int tokenchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* pvalue = [ [ local-part ] "@" ] domain-name (s2.3) may stay bare when
 * the local-part is a dot-atom and the domain a host name; anything else
 * (notably '=' or ';' without an '@') must be quoted. */
static int dot_atom(const char *s, size_t n, int ldh)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (c == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!alnum && !(ldh ? (c == '-' || c == '_') :
				      /* atext that is also an RFC 2045 token
				       * character: '/', '=' and '?' are tspecials
				       * and would end the value for readers */
				      (c && strchr("!#$%&'*+-^_`{|}~", c) != NULL))) {
			return 0;
		}
	}
	return 1;
}

static int addrish(const char *s)
{
	const char *at = strchr(s, '@');
	if (at == NULL)
		return dot_atom(s, strlen(s), 1);
	if (strchr(at + 1, '@'))
		return 0;
	return (at == s || dot_atom(s, (size_t)(at - s), 0)) && dot_atom(at + 1, strlen(at + 1), 1);
}

static void put_value(struct ms_buf *b, const char *v, int allow_addr)
{
	int token = v[0] != '\0';
	for (const char *p = v; *p; p++)
		if (!tokenchar((unsigned char)*p))
			token = 0;
	if (token || (allow_addr && addrish(v))) {
		ms_buf_append(b, v, strlen(v));
		return;
	}
	ms_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			continue;            /* CR, LF, controls, non-ASCII: dropped */
		if (*p == '"' || *p == '\\')
			ms_buf_putc(b, '\\');
		ms_buf_putc(b, *p);
	}
	ms_buf_putc(b, '"');
}

ms_status ms_ar_write(const struct ms_ar *ar, char *buf, size_t buflen)
{
	if (ar == NULL || buf == NULL || buflen == 0)
		return MS_ERR_INVALID;
	struct ms_buf b;
	ms_buf_init(&b, &ar->env, 65536);
	ms_buf_append(&b, "Authentication-Results: ", 24);
	put_value(&b, ar->id, 0);
	if (ar->n == 0)
		ms_buf_append(&b, "; none", 6);
	for (size_t i = 0; i < ar->n; i++) {
		const struct ar_method *m = &ar->m[i];
		ms_buf_printf(&b, ";\r\n\t%s=%s (dnssec=%s)", m->method, m->result,
			      ms_dns_security_str(m->dnssec));
		if (m->reason) {
			ms_buf_append(&b, " reason=", 8);
			put_value(&b, m->reason, 0);
		}
		for (size_t j = 0; j < m->nprops; j++) {
			ms_buf_printf(&b, " %s.%s=", m->props[j].ptype, m->props[j].property);
			put_value(&b, m->props[j].value, 1);
		}
	}
	ms_status st = MS_OK;
	if (b.data == NULL)
		st = MS_ERR_NOMEM;
	else if (b.len + 1 > buflen)
		st = MS_ERR_LIMIT;
	else
		memcpy(buf, b.data, b.len + 1);
	ms_buf_free(&b);
	return st;
}

ms_status ms_ar_add_spf(struct ms_ar *ar, const struct ms_spf_verdict *v)
{
	if (ar == NULL || v == NULL)
		return MS_ERR_INVALID;
	enum ms_spf_result r = ms_spf_verdict_result(v);
	const char *reason = (r == MS_SPF_PERMERROR || r == MS_SPF_TEMPERROR) ?
		ms_spf_verdict_problem(v) : NULL;
	ms_status st = ms_ar_add(ar, "spf", ms_spf_result_str(r), reason,
				 ms_spf_verdict_dnssec(v));
	if (st != MS_OK)
		return st;
	if (ms_spf_verdict_identity(v) == MS_SPF_ID_HELO)
		return ms_ar_add_prop(ar, "smtp", "helo", ms_spf_verdict_helo(v));
	return ms_ar_add_prop(ar, "smtp", "mailfrom", ms_spf_verdict_sender(v));
}

ms_status ms_ar_add_iprev(struct ms_ar *ar, const struct ms_iprev_verdict *v)
{
	if (ar == NULL || v == NULL)
		return MS_ERR_INVALID;
	ms_status st = ms_ar_add(ar, "iprev", ms_iprev_result_str(ms_iprev_verdict_result(v)),
				 ms_iprev_verdict_problem(v), ms_iprev_verdict_dnssec(v));
	if (st != MS_OK)
		return st;
	return ms_ar_add_prop(ar, "policy", "iprev", ms_iprev_verdict_ip(v));
}

ms_status ms_ar_add_dmarc(struct ms_ar *ar, const struct ms_dmarc_verdict *v)
{
	if (ar == NULL || v == NULL)
		return MS_ERR_INVALID;
	ms_status st = ms_ar_add(ar, "dmarc", ms_dmarc_result_str(ms_dmarc_verdict_result(v)),
				 ms_dmarc_verdict_reason(v), ms_dmarc_verdict_dnssec(v));
	if (st != MS_OK)
		return st;
	if (ms_dmarc_verdict_record(v)) {
		char pol[80];
		snprintf(pol, sizeof(pol), "%s=%s,dis=%s",
			 ms_dmarc_verdict_policy_tag(v) ? ms_dmarc_verdict_policy_tag(v) : "p",
			 ms_dmarc_policy_str(ms_dmarc_verdict_policy(v)),
			 ms_dmarc_policy_str(ms_dmarc_verdict_disposition(v)));
		if ((st = ms_ar_add_prop(ar, "policy", "dmarc", pol)) != MS_OK)
			return st;
	}
	return ms_ar_add_prop(ar, "header", "from", ms_dmarc_verdict_domain(v));
}

ms_status ms_ar_add_dkim(struct ms_ar *ar, enum ms_dmarc_dkim_result result,
			 const char *domain, const char *selector, const char *reason,
			 enum ms_dns_security dnssec)
{
	if (ar == NULL)
		return MS_ERR_INVALID;
	ms_status st = ms_ar_add(ar, "dkim", ms_dmarc_dkim_result_str(result), reason, dnssec);
	if (st == MS_OK && domain)
		st = ms_ar_add_prop(ar, "header", "d", domain);
	if (st == MS_OK && selector)
		st = ms_ar_add_prop(ar, "header", "s", selector);
	return st;
}

ms_status ms_ar_add_dkim_sig(struct ms_ar *ar, const struct ms_dkim_sig *sig)
{
	if (ar == NULL || sig == NULL)
		return MS_ERR_INVALID;
	const char *r = ms_dkim_sig_reason(sig), *b = ms_dkim_sig_b_prefix(sig);
	ms_status st = ms_ar_add_dkim(ar, ms_auth_dkim_to_dmarc(ms_dkim_sig_result(sig)),
				      ms_dkim_sig_domain(sig), ms_dkim_sig_selector(sig),
				      r && *r ? r : NULL, ms_dkim_sig_dnssec(sig));
	if (st == MS_OK && b && *b)
		st = ms_ar_add_prop(ar, "header", "b", b);
	return st;
}
