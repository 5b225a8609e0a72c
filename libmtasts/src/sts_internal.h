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

/* ---- fetch.c: one HTTPS policy transfer, for the synchronous fetch and
 * the async discovery (sts_async.c) ---- */
struct sts_xfer;
/* curl_global_init, once per process: MS_OK or MS_ERR_INTERNAL. */
ms_status sts_curl_global(void);
/* 1 when a fetch of mta-sts.DOMAIN (`host`) resolves it through the
 * handle's DNS (no injected fetch, no proxy, no connect_to address). */
int sts_fetch_needs_dns(const struct ms_sts_fetch_config *cfg, const char *host);
/* The easy handle for domain `norm` (normalised), the body going to
 * buf[bufsize]; its addresses through `dns` as in ms_sts_fetch_dns (a
 * failed lookup is the returned fetch failure).  `env` must outlive it. */
ms_status sts_xfer_prepare(const struct ms_env *env, const struct ms_sts_fetch_config *cfg,
			   struct ms_dns_ctx *dns, const char *norm, uint8_t *buf, size_t bufsize,
			   struct sts_xfer **out, enum ms_tlsrpt_result *failure, char *why,
			   size_t whylen);
/* The CURL * of the transfer (void * to keep curl.h out of this header). */
void *sts_xfer_easy(struct sts_xfer *x);
/* Judge a finished transfer (`curl_rc`: its CURLcode) as ms_sts_fetch_dns
 * does, and log it; *len set on MS_OK. */
ms_status sts_xfer_finish(struct sts_xfer *x, int curl_rc, size_t *len,
			  enum ms_tlsrpt_result *failure, char *why, size_t whylen);
void sts_xfer_log(const struct sts_xfer *x, ms_status st, enum ms_tlsrpt_result failure,
		  const char *why);
void sts_xfer_free(struct sts_xfer *x);

/* ---- sts.c: one policy discovery in two halves around the fetch ---- */
struct ms_sts_result;
struct ms_sts;
struct sts_disc {
	struct ms_sts_result *res;
	uint8_t *polbuf, *oldpol;
	int64_t now;
	char dom[256], id[MS_STS_ID_MAX + 1];
	struct ms_sts_entry e;
	int found, fresh, need_fetch;
	int store_down;  /* the cache could not be read: what it holds is unknown */
};
int sts_txt_lookup(struct ms_sts *s, struct ms_dns_ctx *dns, const char *domain,
		   char id[MS_STS_ID_MAX + 1], char *note, size_t notelen, int *failed);
ms_status sts_disc_begin(struct ms_sts *s, struct ms_dns_ctx *dns, const char *dom,
			 struct sts_disc *d);
ms_status sts_disc_fetched(struct ms_sts *s, struct sts_disc *d, ms_status fst, size_t len,
			   enum ms_tlsrpt_result failure);
ms_status sts_disc_done(struct ms_sts *s, struct sts_disc *d, ms_status st,
			struct ms_sts_result **out, char *why, size_t whylen);
int sts_would_fetch(struct ms_sts *s, const char *dom, const char *id);
const struct ms_env *sts_env(const struct ms_sts *s);
const struct ms_sts_fetch_config *sts_fetch_config(const struct ms_sts *s);
struct ms_dns_ctx *sts_dns(const struct ms_sts *s);

/* Whole-string host compare ignoring ASCII case and one trailing dot. */
size_t sts_host_len(const char *s);

#endif
