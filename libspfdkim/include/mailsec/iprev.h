/**
 * @file
 * mailsec/iprev.h - the "iprev" check of RFC 8601 s3: the client address's
 * PTR names, each forward-confirmed (its A/AAAA records contain the
 * address), with the DNSSEC security of the chain that decided.
 *
 * Thread safety: verdicts are immutable; the call is re-entrant (the
 * resolver context it uses may be shared).
 */
#ifndef MAILSEC_IPREV_H
#define MAILSEC_IPREV_H

#include <stddef.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/status.h>
#include <mailsec/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_IPREV_API MS_API

/** RFC 8601 s2.7.3 results. */
enum ms_iprev_result {
	MS_IPREV_PASS = 0,      /**< a PTR name resolves back to the address */
	MS_IPREV_FAIL = 1,      /**< PTR names exist, none resolves back */
	MS_IPREV_TEMPERROR = 2, /**< a lookup failed temporarily (SERVFAIL, timeout, bogus) */
	MS_IPREV_PERMERROR = 3  /**< no PTR data published (NXDOMAIN / NODATA) */
};

/** Default cap on PTR names forward-confirmed (as SPF's s4.6.4 limit). */
#define MS_IPREV_DEFAULT_MAX_NAMES 10

struct ms_iprev_verdict;

/**
 * Check `ip` (IPv4 or IPv6 text; IPv4-mapped IPv6 is checked as IPv4).
 * `max_names` caps the PTR names looked at (0: the default); the rest are
 * ignored and counted.  Returns MS_OK with a verdict (free with
 * ms_iprev_verdict_free), MS_ERR_INVALID for a bad address, MS_ERR_NOMEM.
 * DNSSEC: pass is secure only if the PTR answer and the confirming
 * forward answer were secure; other results combine every lookup made.
 */
MS_IPREV_API ms_status ms_iprev_check(const struct ms_env *env, struct ms_dns_ctx *dns,
				      const char *ip, unsigned max_names,
				      struct ms_iprev_verdict **out,
				      char *why, size_t whylen);

MS_IPREV_API void ms_iprev_verdict_free(struct ms_iprev_verdict *v);
MS_IPREV_API enum ms_iprev_result ms_iprev_verdict_result(const struct ms_iprev_verdict *v);
/** The address checked (normalised text). Borrowed. */
MS_IPREV_API const char *ms_iprev_verdict_ip(const struct ms_iprev_verdict *v);
/** The forward-confirmed name on pass, else NULL. Borrowed. */
MS_IPREV_API const char *ms_iprev_verdict_name(const struct ms_iprev_verdict *v);
/** PTR names seen (up to the cap), borrowed; i < count. */
MS_IPREV_API size_t ms_iprev_verdict_ptr_count(const struct ms_iprev_verdict *v);
MS_IPREV_API const char *ms_iprev_verdict_ptr_name(const struct ms_iprev_verdict *v, size_t i);
/** PTR names ignored because of the cap. */
MS_IPREV_API size_t ms_iprev_verdict_ignored(const struct ms_iprev_verdict *v);
/** A short reason for fail/temperror/permerror, NULL on pass. */
MS_IPREV_API const char *ms_iprev_verdict_problem(const struct ms_iprev_verdict *v);
MS_IPREV_API enum ms_dns_security ms_iprev_verdict_dnssec(const struct ms_iprev_verdict *v);
/** "pass", "fail", "temperror", "permerror". */
MS_IPREV_API const char *ms_iprev_result_str(enum ms_iprev_result r);

/**
 * A verdict as `mailsec iprev` shows it: the result keyword, then ip,
 * name, the PTR names, the names over the cap, problem, DNSSEC status; or
 * one JSON object on one line, keys result, ip, name, ptr_names[],
 * ignored_names, problem, dnssec.  *out freed with ms_render_free, *len (may be
 * NULL) its length.  MS_ERR_INVALID, MS_ERR_NOMEM, MS_ERR_LIMIT.
 */
MS_IPREV_API ms_status ms_iprev_verdict_render(const struct ms_iprev_verdict *v,
					       enum ms_render_format fmt, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_IPREV_H */
