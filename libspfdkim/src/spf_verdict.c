/* spf_verdict.c - the evaluator handle, verdict getters, result keywords
 * and the Received-SPF writer (RFC 7208 s9.1). */
#include "spf_internal.h"

#include <stdio.h>
#include <string.h>

ms_status ms_spf_new(const struct ms_env *env, struct ms_dns_ctx *dns, struct ms_spf **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	if (dns == NULL)
		return MS_ERR_INVALID;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_spf *spf = ms_calloc(&e, 1, sizeof(*spf));
	if (spf == NULL)
		return MS_ERR_NOMEM;
	spf->env = e;
	spf->dns = dns;
	*out = spf;
	return MS_OK;
}

void ms_spf_free(struct ms_spf *spf)
{
	if (spf == NULL)
		return;
	spf_cache_free(spf);
	ms_free(&spf->env, spf->receiver);
	ms_free(&spf->env, spf->default_exp);
	ms_free(&spf->env, spf);
}

static ms_status replace(struct ms_spf *spf, char **slot, const char *val)
{
	char *copy = NULL;
	if (val && (copy = ms_strdup(&spf->env, val)) == NULL)
		return MS_ERR_NOMEM;
	ms_free(&spf->env, *slot);
	*slot = copy;
	return MS_OK;
}

ms_status ms_spf_set_receiver(struct ms_spf *spf, const char *receiver)
{
	if (spf == NULL || (receiver && strlen(receiver) > 255))
		return MS_ERR_INVALID;
	return replace(spf, &spf->receiver, receiver);
}

ms_status ms_spf_set_default_explanation(struct ms_spf *spf, const char *text)
{
	if (spf == NULL || (text && strlen(text) > 1024))
		return MS_ERR_INVALID;
	return replace(spf, &spf->default_exp, text);
}

void ms_spf_verdict_free(struct ms_spf_verdict *v)
{
	if (v == NULL)
		return;
	const struct ms_env *env = &v->env;
	ms_free(env, v->strings);   /* domain, sender, ip, helo, mechanism, problem */
	ms_free(env, v->explanation);
	struct ms_env copy = v->env;
	ms_free(&copy, v);
}

enum ms_spf_result ms_spf_verdict_result(const struct ms_spf_verdict *v)
{
	return v ? v->result : MS_SPF_PERMERROR;
}
enum ms_spf_identity ms_spf_verdict_identity(const struct ms_spf_verdict *v)
{
	return v ? v->identity : MS_SPF_ID_MAILFROM;
}
const char *ms_spf_verdict_domain(const struct ms_spf_verdict *v) { return v ? v->domain : NULL; }
const char *ms_spf_verdict_sender(const struct ms_spf_verdict *v) { return v ? v->sender : NULL; }
const char *ms_spf_verdict_ip(const struct ms_spf_verdict *v) { return v ? v->ip : NULL; }
const char *ms_spf_verdict_helo(const struct ms_spf_verdict *v) { return v ? v->helo : NULL; }
const char *ms_spf_verdict_mechanism(const struct ms_spf_verdict *v) { return v ? v->mechanism : NULL; }
const char *ms_spf_verdict_explanation(const struct ms_spf_verdict *v) { return v ? v->explanation : NULL; }
const char *ms_spf_verdict_problem(const struct ms_spf_verdict *v) { return v ? v->problem : NULL; }
unsigned ms_spf_verdict_dns_lookups(const struct ms_spf_verdict *v) { return v ? v->dns_lookups : 0; }
unsigned ms_spf_verdict_void_lookups(const struct ms_spf_verdict *v) { return v ? v->void_lookups : 0; }
enum ms_dns_security ms_spf_verdict_dnssec(const struct ms_spf_verdict *v)
{
	return v ? v->dnssec : MS_DNS_INDETERMINATE;
}

static const char *const names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"
};

const char *ms_spf_result_str(enum ms_spf_result r)
{
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

int ms_spf_result_from_str(const char *s, size_t len)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && ms_ascii_ncasecmp(s, names[i], len) == 0)
			return (int)i;
	return -1;
}

/* Printable ASCII only: CR, LF and other controls would end the header. */
static void put_clean(struct ms_buf *b, const char *s, size_t max)
{
	for (size_t i = 0; s && s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			ms_buf_putc(b, c);
	}
}

static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A key=value pair: dot-atom as is, anything else as a quoted-string. */
static void put_pair(struct ms_buf *b, const char *key, const char *val)
{
	if (b->len && b->data[b->len - 1] != '\t')
		ms_buf_putc(b, ' ');
	ms_buf_printf(b, "%s=", key);
	int atom = val[0] != '\0' && val[0] != '.';
	for (const char *p = val; *p; p++)
		if (!is_atext((unsigned char)*p) && !(*p == '.' && p[1] != '.' && p[1] != '\0'))
			atom = 0;
	if (atom) {
		put_clean(b, val, 512);
	} else {
		ms_buf_putc(b, '"');
		for (const char *p = val; *p && p - val < 512; p++) {
			unsigned char c = (unsigned char)*p;
			if (c < 0x20 || c >= 0x7f)
				continue;
			if (c == '"' || c == '\\')
				ms_buf_putc(b, '\\');
			ms_buf_putc(b, c);
		}
		ms_buf_putc(b, '"');
	}
	ms_buf_putc(b, ';');
}

/* The comment: parentheses and backslashes would unbalance it. */
static void put_comment_text(struct ms_buf *b, const char *s)
{
	for (size_t i = 0; s && s[i] && i < 512; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			continue;
		if (c == '(' || c == ')' || c == '\\')
			ms_buf_putc(b, '\\');
		ms_buf_putc(b, c);
	}
}

ms_status ms_spf_received_header(const struct ms_spf_verdict *v, const char *receiver,
				 char *buf, size_t buflen)
{
	if (v == NULL || buf == NULL || buflen == 0)
		return MS_ERR_INVALID;
	struct ms_buf b;
	ms_buf_init(&b, &v->env, 8192);
	const char *rcv = receiver && receiver[0] ? receiver : "unknown";
	ms_buf_printf(&b, "Received-SPF: %s (", ms_spf_result_str(v->result));
	put_comment_text(&b, rcv);
	ms_buf_append(&b, ": ", 2);
	char text[700];
	switch (v->result) {
	case MS_SPF_PASS:
		snprintf(text, sizeof(text), "domain of %.256s designates %s as permitted sender",
			 v->sender, v->ip);
		break;
	case MS_SPF_FAIL:
	case MS_SPF_SOFTFAIL:
		snprintf(text, sizeof(text), "domain of %.256s does not designate %s as permitted sender",
			 v->sender, v->ip);
		break;
	case MS_SPF_NEUTRAL:
		snprintf(text, sizeof(text), "%s is neither permitted nor denied by domain of %.256s",
			 v->ip, v->sender);
		break;
	default:
		snprintf(text, sizeof(text), "%.300s", v->problem ? v->problem : "no SPF record");
		break;
	}
	put_comment_text(&b, text);
	ms_buf_printf(&b, "; dnssec=%s)\r\n\t", ms_dns_security_str(v->dnssec));
	put_pair(&b, "client-ip", v->ip);
	put_pair(&b, "envelope-from", v->sender);
	if (v->helo[0])
		put_pair(&b, "helo", v->helo);
	put_pair(&b, "receiver", rcv);
	put_pair(&b, "identity", v->identity == MS_SPF_ID_HELO ? "helo" : "mailfrom");
	if (v->mechanism)
		put_pair(&b, "mechanism", v->mechanism);
	if (v->problem && (v->result == MS_SPF_PERMERROR || v->result == MS_SPF_TEMPERROR))
		put_pair(&b, "problem", v->problem);
	/* Drop the final ';' (s9.1 separates pairs, it does not end them). */
	if (b.len && b.data[b.len - 1] == ';')
		b.data[--b.len] = '\0';
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
