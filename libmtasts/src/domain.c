/*
 * domain.c - the one check every policy domain passes before any use
 * (issue 13): IDNA to A-labels and lower case (ms_dns_name_normalize), then
 * host-name syntax (letters, digits, inner hyphens; RFC 5321 Domain,
 * RFC 1123 s2.1).  libdnssec-stub accepts any printable octet in a DNS
 * label (SPF macros need it), but the domain is pasted into
 * https://mta-sts.DOMAIN/... (RFC 8461 s3.3): ':', '@', '/', '#', '?' or
 * '_' there would rewrite the URL's authority or leave host syntax, so
 * libcurl would connect where the domain's owner never said.
 */
#include "sts_internal.h"

#include <string.h>

ms_status sts_domain_normalize(const char *domain, char *out, size_t outlen,
			       char *why, size_t whylen)
{
	char nwhy[160] = "";
	if (domain == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	if (ms_dns_name_normalize(domain, out, outlen, nwhy, sizeof(nwhy)) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad domain: %s", nwhy);
	const char *bad = sts_check_hostname(out, strlen(out));
	if (bad != NULL) {
		out[0] = '\0';
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "bad domain: %s (a policy domain is letters, digits and "
			      "hyphens in dot-separated labels)", bad);
	}
	return MS_OK;
}
