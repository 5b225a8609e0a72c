/*
 * domain.c - the one check every policy domain passes before any use
 * (issue 13): ms_dns_hostname_normalize, i.e. IDNA to A-labels, lower case
 * and host-name syntax (letters, digits, inner hyphens; RFC 5321 Domain,
 * RFC 1123 s2.1).  A DNS label may hold any printable octet (SPF macros
 * need it), but the domain is pasted into
 * https://mta-sts.DOMAIN/... (RFC 8461 s3.3): ':', '@', '/', '#', '?' or
 * '_' there would rewrite the URL's authority or leave host syntax, so
 * libcurl would connect where the domain's owner never said.
 */
#include "sts_internal.h"

ms_status sts_domain_normalize(const char *domain, char *out, size_t outlen,
			       char *why, size_t whylen)
{
	char nwhy[200] = "";
	if (domain == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	if (ms_dns_hostname_normalize(domain, out, outlen, nwhy, sizeof(nwhy)) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad domain: %s", nwhy);
	return MS_OK;
}
