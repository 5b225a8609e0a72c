/*
 * answer.c - map one recipient domain to a Postfix TLS policy.
 *
 * DANE first (RFC 8461 s2: MTA-STS never overrides DANE): when the MX set
 * is DNSSEC-secure and an MX host has secure TLSA records at
 * _25._tcp.HOST, answer "dane" and let Postfix do RFC 7672.  Otherwise an
 * enforce-mode MTA-STS policy becomes
 *   secure match=HOST:.DOMAIN servername=hostname
 * and anything else (no policy, mode none, testing unless strict) is
 * NOTFOUND, i.e. the main.cf default applies.
 *
 * Postfix's match syntax cannot say "exactly one label": ".example.com"
 * matches names at any depth below example.com, so "*.example.com" is
 * translated to the closest, slightly wider, ".example.com" (as other
 * resolvers do).  The library's own matching (ms_sts_policy_match) is exact.
 */
#include "answer.h"

#include <stdio.h>
#include <string.h>

static int tlsa_secure(struct ms_dns_ctx *dns, const char *host)
{
	char name[300];
	snprintf(name, sizeof(name), "_25._tcp.%s", host);
	struct ms_dns_result *r = NULL;
	if (ms_dns_lookup(dns, name, MS_DNS_T_TLSA, &r, NULL, 0) != MS_OK)
		return 0;
	int ok = ms_dns_result_outcome(r) == MS_DNS_ANSWER &&
		 ms_dns_result_security(r) == MS_DNS_SECURE && ms_dns_result_count(r) > 0;
	ms_dns_result_free(r);
	return ok;
}

/* 1 if the domain's MX hosts have DNSSEC-secure TLSA (DANE applies). */
static int has_dane(struct ms_dns_ctx *dns, const char *domain)
{
	struct ms_dns_result *mx = NULL;
	if (ms_dns_lookup(dns, domain, MS_DNS_T_MX, &mx, NULL, 0) != MS_OK)
		return 0;
	int dane = 0;
	if (ms_dns_result_security(mx) == MS_DNS_SECURE) {
		if (ms_dns_result_outcome(mx) == MS_DNS_ANSWER) {
			for (size_t i = 0; i < ms_dns_result_count(mx) && !dane; i++) {
				char host[256];
				uint16_t pref;
				if (ms_dns_result_mx(mx, i, &pref, host, sizeof(host)) == MS_OK &&
				    host[0] != '\0')
					dane = tlsa_secure(dns, host);
			}
		} else if (ms_dns_result_outcome(mx) == MS_DNS_NODATA) {
			dane = tlsa_secure(dns, domain); /* implicit MX */
		}
	}
	ms_dns_result_free(mx);
	return dane;
}

void answer_domain(const struct answer_ctx *a, const char *domain, char *out,
		   size_t outlen)
{
	char dom[256];
	if (ms_dns_name_normalize(domain, dom, sizeof(dom), NULL, 0) != MS_OK) {
		snprintf(out, outlen, "NOTFOUND ");
		return;
	}
	if (has_dane(a->dns, dom)) {
		snprintf(out, outlen, "OK dane");
		return;
	}
	struct ms_sts_result *res = NULL;
	if (ms_sts_get_policy(a->sts, dom, &res, NULL, 0) != MS_OK) {
		snprintf(out, outlen, "TEMP cannot evaluate MTA-STS");
		return;
	}
	const struct ms_sts_policy *p = ms_sts_result_policy(res);
	enum ms_sts_mode mode = ms_sts_policy_mode(p);
	if (p == NULL || mode == MS_STS_MODE_NONE ||
	    (mode == MS_STS_MODE_TESTING && !a->strict_testing)) {
		snprintf(out, outlen, "NOTFOUND ");
		ms_sts_result_free(res);
		return;
	}
	size_t n = (size_t)snprintf(out, outlen, "OK secure match=");
	for (size_t i = 0; i < ms_sts_policy_mx_count(p) && n < outlen; i++) {
		const char *pat = ms_sts_policy_mx(p, i);
		if (pat[0] == '*')
			pat++; /* "*.example.com" -> ".example.com" */
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? ":" : "", pat);
	}
	if (n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, " servername=hostname");
	if (n >= outlen) /* never hand out a truncated match list */
		snprintf(out, outlen, "TEMP policy too long for a reply");
	ms_sts_result_free(res);
}
