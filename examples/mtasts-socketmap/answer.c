/*
 * answer.c - map one recipient domain to a Postfix TLS policy.
 *
 * DANE first (RFC 8461 s2: MTA-STS never overrides DANE): when the MX set
 * is DNSSEC-secure and an MX host has secure TLSA records at
 * _25._tcp.HOST, answer "dane" and let Postfix do RFC 7672.  Otherwise an
 * enforce-mode MTA-STS policy becomes
 *   secure match=HOST:.DOMAIN servername=hostname
 * and anything else (no policy, mode none, testing unless strict) is
 * NOTFOUND, i.e. the main.cf default applies.  A failed or bogus MX,
 * address or TLSA lookup is TEMP (Postfix defers): only a successful
 * insecure or absent TLSA lets MTA-STS or the default apply.
 *
 * Postfix's match syntax cannot say "exactly one label": ".example.com"
 * matches names at any depth below example.com, so "*.example.com" is
 * translated to the closest, slightly wider, ".example.com" (as other
 * resolvers do).  The library's own matching (ms_sts_policy_match) is exact.
 */
#include "answer.h"

#include <mailsec/dane.h>

#include <stdio.h>
#include <string.h>

#define ANSWER_MAX_MX 10

enum dane_answer { DANE_NO = 0, DANE_YES = 1, DANE_TEMP = -1 };

/*
 * Whether DANE applies to the domain (RFC 7672 s2.1-s2.2), decided by
 * libdane for each MX host in delivery order.  Fail closed: a failed or
 * bogus MX, address or TLSA lookup is DANE_TEMP (Postfix then defers),
 * never "no DANE", which would let main.cf's default (often "may") apply
 * to a DANE-only domain.  A host with secure TLSA makes the answer "dane"
 * and Postfix's own DANE handles the rest host by host.
 */
static enum dane_answer dane_state(struct ms_dns_ctx *dns, const char *domain,
				   char *why, size_t whylen)
{
	struct ms_dns_result *mx = NULL;
	char lwhy[256] = "";
	if (ms_dns_lookup(dns, domain, MS_DNS_T_MX, &mx, lwhy, sizeof(lwhy)) != MS_OK) {
		snprintf(why, whylen, "MX lookup impossible: %s", lwhy);
		return DANE_TEMP;
	}
	if (ms_dns_result_failed(mx)) {
		snprintf(why, whylen, "MX lookup for %s failed (%s)", domain,
			 ms_dns_result_security(mx) == MS_DNS_BOGUS ? "bogus" :
			 ms_dns_outcome_str(ms_dns_result_outcome(mx)));
		ms_dns_result_free(mx);
		return DANE_TEMP;
	}
	enum ms_dns_outcome o = ms_dns_result_outcome(mx);
	if (ms_dns_result_security(mx) != MS_DNS_SECURE ||
	    (o != MS_DNS_ANSWER && o != MS_DNS_NODATA) || ms_dns_result_is_null_mx(mx)) {
		ms_dns_result_free(mx);
		return DANE_NO;
	}
	char hosts[ANSWER_MAX_MX][256];
	size_t nhosts = 0;
	if (o == MS_DNS_NODATA) {
		snprintf(hosts[nhosts++], sizeof(hosts[0]), "%s", domain); /* implicit MX */
	} else {
		size_t order[ANSWER_MAX_MX], n = 0;
		if (ms_dns_result_mx_order(mx, order, ANSWER_MAX_MX, &n) != MS_OK) {
			snprintf(why, whylen, "out of memory");
			ms_dns_result_free(mx);
			return DANE_TEMP;
		}
		for (size_t i = 0; i < n; i++) {
			uint16_t pref;
			if (ms_dns_result_mx(mx, order[i], &pref, hosts[nhosts], sizeof(hosts[0])) ==
				    MS_OK && hosts[nhosts][0] != '\0')
				nhosts++;
		}
	}
	ms_dns_result_free(mx);
	enum dane_answer ans = DANE_NO;
	for (size_t i = 0; i < nhosts && ans != DANE_YES; i++) {
		struct ms_dane_lookup *l = NULL;
		if (ms_dane_lookup(dns, hosts[i], 1, 25, &l, lwhy, sizeof(lwhy)) != MS_OK) {
			snprintf(why, whylen, "TLSA lookup impossible for %s: %s", hosts[i], lwhy);
			ans = DANE_TEMP;
			continue;
		}
		switch (ms_dane_lookup_state(l)) {
		case MS_DANE_DNS_SECURE:
			ans = DANE_YES;
			break;
		case MS_DANE_DNS_TEMPFAIL:
			snprintf(why, whylen, "%s", ms_dane_lookup_reason(l));
			ans = DANE_TEMP;
			break;
		case MS_DANE_DNS_NONE:
			break;
		}
		ms_dane_lookup_free(l);
	}
	return ans;
}

void answer_domain(const struct answer_ctx *a, const char *domain, char *out,
		   size_t outlen)
{
	char dom[256];
	if (ms_dns_hostname_normalize(domain, dom, sizeof(dom), NULL, 0) != MS_OK) {
		snprintf(out, outlen, "NOTFOUND ");
		return;
	}
	char why[300] = "";
	switch (dane_state(a->dns, dom, why, sizeof(why))) {
	case DANE_YES:
		snprintf(out, outlen, "OK dane");
		return;
	case DANE_TEMP:
		/* the reply is one netstring: keep it printable and short */
		snprintf(out, outlen, "TEMP %.200s", why);
		return;
	case DANE_NO:
		break;
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
