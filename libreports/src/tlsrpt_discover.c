/*
 * tlsrpt_discover.c - the TLSRPT policy record (RFC 8460 s3): parsing of
 * one TXT record, and the _smtp._tls lookup through libdnssec-stub, fail
 * closed (a failed lookup is an error, never "no report destination").
 */
#include "tlsrpt_internal.h"

#include <stdio.h>
#include <string.h>

static int wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* mailto:local@host (no "?"-headers: a report needs none) or
 * https://host[:port][/path]; printable ASCII without spaces. */
static int uri_ok(const char *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (u[i] <= ' ' || u[i] >= 127 || u[i] == '<' || u[i] == '>' || u[i] == '"')
			return 0;
	char host[256];
	if (n > 7 && ms_ascii_ncasecmp(u, "mailto:", 7) == 0) {
		const char *at = memchr(u + 7, '@', n - 7);
		if (at == NULL || at == u + 7 || memchr(u + 7, '?', n - 7) ||
		    memchr(at + 1, '@', (size_t)(u + n - at - 1)))
			return 0;
		size_t hl = (size_t)(u + n - at - 1);
		if (hl == 0 || hl >= sizeof(host))
			return 0;
		memcpy(host, at + 1, hl);
		host[hl] = '\0';
		return tlsrpt_hostname_ok(host);
	}
	if (n > 8 && ms_ascii_ncasecmp(u, "https://", 8) == 0) {
		/* the URI is a slice of the record, not NUL-terminated: bounded */
		size_t hl = 0;
		while (8 + hl < n && !strchr(":/?#", u[8 + hl]))
			hl++;
		if (hl == 0 || hl >= sizeof(host))
			return 0;
		memcpy(host, u + 8, hl);
		host[hl] = '\0';
		return tlsrpt_hostname_ok(host) && memchr(u, '@', n) == NULL; /* no userinfo */
	}
	return 0;
}

ms_status ms_tlsrpt_record_parse(const uint8_t *txt, size_t len, struct ms_tlsrpt_rua *out,
				 char *why, size_t whylen)
{
	if (txt == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	memset(out, 0, sizeof(*out));
	out->security = MS_DNS_INDETERMINATE;
	if (len > 4096)
		return ms_why(why, whylen, MS_ERR_LIMIT, "record over 4096 bytes");
	/* s3: the record begins with "v=TLSRPTv1" then a field delimiter */
	if (len < 10 || memcmp(txt, "v=TLSRPTv1", 10) != 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "not a TLSRPT record (no v=TLSRPTv1)");
	size_t i = 10;
	while (i < len && wsp(txt[i]))
		i++;
	if (i >= len || txt[i] != ';')
		return ms_why(why, whylen, MS_ERR_PARSE, "v=TLSRPTv1 not followed by ';'");
	int seen_rua = 0;
	size_t ignored = 0;
	while (i < len) {
		/* field-delim = *WSP ";" *WSP */
		while (i < len && (wsp(txt[i]) || txt[i] == ';'))
			i++;
		if (i >= len)
			break;
		size_t f = i;
		while (i < len && txt[i] != ';')
			i++;
		size_t fe = i;
		while (fe > f && wsp(txt[fe - 1]))
			fe--;
		const uint8_t *eq = memchr(txt + f, '=', fe - f);
		if (eq == NULL || eq == txt + f)
			return ms_why(why, whylen, MS_ERR_PARSE, "field without a name=value form");
		if ((size_t)(eq - (txt + f)) != 3 || memcmp(txt + f, "rua", 3) != 0)
			continue; /* s3: unknown fields are ignored */
		if (seen_rua++)
			return ms_why(why, whylen, MS_ERR_PARSE, "rua given twice");
		const char *v = (const char *)eq + 1, *ve = (const char *)txt + fe;
		while (v < ve) {
			while (v < ve && (wsp((uint8_t)*v) || *v == ','))
				v++;
			const char *u = v;
			while (v < ve && *v != ',' && !wsp((uint8_t)*v))
				v++;
			size_t n = (size_t)(v - u);
			if (n == 0)
				continue;
			if (!uri_ok(u, n) || n >= sizeof(out->uri[0])) {
				ignored++; /* another scheme, or malformed: never a destination */
				continue;
			}
			if (out->n >= MS_TLSRPT_MAX_RUA) {
				ignored++;
				continue;
			}
			memcpy(out->uri[out->n], u, n);
			out->uri[out->n][n] = '\0';
			out->n++;
		}
	}
	if (!seen_rua)
		return ms_why(why, whylen, MS_ERR_PARSE, "no rua field");
	if (out->n == 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "no usable mailto: or https: rua (%zu ignored)",
			      ignored);
	return MS_OK;
}

ms_status ms_tlsrpt_discover(struct ms_dns_ctx *dns, const char *domain,
			     struct ms_tlsrpt_rua *out, char *why, size_t whylen)
{
	if (dns == NULL || out == NULL || domain == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	memset(out, 0, sizeof(*out));
	out->security = MS_DNS_INDETERMINATE;
	if (!tlsrpt_hostname_ok(domain))
		return ms_why(why, whylen, MS_ERR_INVALID, "'%.100s' is not a domain", domain);
	char name[300];
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	struct ms_dns_result *r = NULL;
	char dwhy[200] = "";
	ms_status st = ms_dns_lookup(dns, name, MS_DNS_T_TXT, &r, dwhy, sizeof(dwhy));
	if (st != MS_OK)
		return ms_why(why, whylen, st, "%s TXT: %s", name, dwhy);
	enum ms_dns_outcome oc = ms_dns_result_outcome(r);
	out->security = ms_dns_result_security(r);
	/* Fail closed: timeout, SERVFAIL, REFUSED or bogus is no answer, and
	 * "no answer" must never read as "publishes no destination". */
	if (ms_dns_result_failed(r)) {
		st = ms_why(why, whylen, oc == MS_DNS_TIMEOUT ? MS_ERR_TIMEOUT : MS_ERR_NETWORK,
			    "%s TXT lookup failed: %s, %s", name, ms_dns_outcome_str(oc),
			    ms_dns_security_str(out->security));
		ms_dns_result_free(r);
		return st;
	}
	if (oc != MS_DNS_ANSWER) {
		ms_dns_result_free(r);
		return ms_why(why, whylen, MS_OK, "%s: %s (no TLSRPT record)", name,
			      ms_dns_outcome_str(oc));
	}
	size_t found = 0;
	struct ms_tlsrpt_rua one;
	char pwhy[200] = "";
	for (size_t i = 0; i < ms_dns_result_count(r); i++) {
		char txt[4100];
		size_t tl = 0;
		if (ms_dns_result_txt(r, i, txt, sizeof(txt), &tl) != MS_OK)
			continue;
		/* s3: records that do not begin with "v=TLSRPTv1" are discarded */
		if (tl < 10 || memcmp(txt, "v=TLSRPTv1", 10) != 0)
			continue;
		found++;
		if (found == 1 && ms_tlsrpt_record_parse((const uint8_t *)txt, tl, &one, pwhy,
							 sizeof(pwhy)) != MS_OK)
			one.n = 0;
	}
	enum ms_dns_security sec = out->security;
	ms_dns_result_free(r);
	if (found == 0)
		return ms_why(why, whylen, MS_OK, "%s: no v=TLSRPTv1 record", name);
	if (found > 1)
		return ms_why(why, whylen, MS_OK, "%s: %zu TLSRPT records (RFC 8460 s3: none applies)",
			      name, found);
	if (one.n == 0)
		return ms_why(why, whylen, MS_OK, "%s: %s", name, pwhy);
	*out = one;
	out->security = sec;
	if (why && whylen)
		why[0] = '\0';
	return MS_OK;
}
