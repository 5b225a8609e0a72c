/* sts_internal.h - libmtasts internals shared between its source files. */
#ifndef STS_INTERNAL_H
#define STS_INTERNAL_H

#include "mailsec/mtasts.h"
#include "ms_common.h"

#define STS_SUBSYS "mtasts"

static inline int sts_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int sts_is_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline int sts_is_alnum(int c)
{
	return sts_is_alpha(c) || sts_is_digit(c);
}
static inline int sts_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * Check an A-label host name (RFC 5321 Domain: labels of letters, digits
 * and inner hyphens, 1-63 octets, 253 in all; no trailing dot here).
 * Returns NULL if fine, else a static reason.
 */
const char *sts_check_hostname(const char *s, size_t len);

/*
 * Normalise a policy domain (IDNA, lower case, no trailing dot) into `out`
 * (256 bytes) and check it is a host name (sts_check_hostname).  Every
 * public entry point taking a domain calls this first.  MS_ERR_INVALID
 * with "bad domain: ..." in `why` otherwise.
 */
ms_status sts_domain_normalize(const char *domain, char *out, size_t outlen,
			       char *why, size_t whylen);

/*
 * The addresses of `host` through `dns` (A and AAAA, each its own lookup),
 * as a comma-separated CURLOPT_RESOLVE address list ("192.0.2.1,[2001:db8::1]")
 * in `out`.  MS_OK with at least one address; otherwise a fetch failure:
 * MS_ERR_TIMEOUT or MS_ERR_NETWORK naming the lookup that failed (timeout,
 * SERVFAIL, bogus, refused), or MS_ERR_NETWORK "no address" when both
 * answered NXDOMAIN/NODATA.  A family that answered is used even if the
 * other failed: the fetch is PKIX-checked, the address only has to reach it.
 */
ms_status sts_resolve_host(struct ms_dns_ctx *dns, const char *host, char *out, size_t outlen,
			   char *why, size_t whylen);

/* Whole-string host compare ignoring ASCII case and one trailing dot. */
size_t sts_host_len(const char *s);

#endif
