/**
 * @file
 * mailsec/dmarc.h - DMARC (RFC 7489, with the DMARCbis options np=, psd=,
 * t= and the DNS tree walk) evaluated from values: the RFC5322.From
 * domain, the SPF result and domain, and DKIM results (domain, selector,
 * result), so DMARC does not depend on the DKIM code.
 *
 * Pieces:
 *   - record parsing (ms_dmarc_record_*), usable on its own;
 *   - From header parsing with a defined outcome for every bypass shape
 *     (ms_dmarc_from_*);
 *   - the evaluator (ms_dmarc_*): policy discovery, organizational domain
 *     (Public Suffix List through libpsl, or the DMARCbis tree walk),
 *     alignment, the policy that applied and why, the disposition, and the
 *     DNSSEC security of the policy lookups;
 *   - external report destination verification (RFC 7489 s7.1).
 *
 * Thread safety: an evaluator may be used by one thread at a time;
 * records and verdicts are immutable.
 */
#ifndef MAILSEC_DMARC_H
#define MAILSEC_DMARC_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/spf.h>
#include <mailsec/status.h>
#include <mailsec/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_DMARC_API MS_API

enum ms_dmarc_policy {
	MS_DMARC_POLICY_ABSENT = -1,  /**< tag not present */
	MS_DMARC_POLICY_NONE = 0,
	MS_DMARC_POLICY_QUARANTINE = 1,
	MS_DMARC_POLICY_REJECT = 2
};

enum ms_dmarc_align {
	MS_DMARC_ALIGN_RELAXED = 0,
	MS_DMARC_ALIGN_STRICT = 1
};

/* ---- records (RFC 7489 s6.3, s6.4) ------------------------------------ */
struct ms_dmarc_record;

/**
 * Parse a DMARC record.  MS_ERR_PARSE (reason in `why`) when it is not a
 * DMARC record at all: "v=DMARC1" missing or not first, a repeated tag, or
 * no valid p= and no valid rua= (s6.6.3; with a valid rua=, a missing p=
 * is read as p=none).  Other bad values (pct=200, adkim=x, an unknown p=
 * value with rua=) fall back to the defaults and are listed in
 * ms_dmarc_record_warnings().  Unknown tags are ignored (s6.3).  Records
 * over 4096 octets: MS_ERR_LIMIT.  Caller frees *out.
 */
MS_DMARC_API ms_status ms_dmarc_record_parse(const struct ms_env *env,
					     const uint8_t *buf, size_t len,
					     struct ms_dmarc_record **out,
					     char *why, size_t whylen);
MS_DMARC_API void ms_dmarc_record_free(struct ms_dmarc_record *r);
MS_DMARC_API enum ms_dmarc_policy ms_dmarc_record_p(const struct ms_dmarc_record *r);
/** sp=, np= (DMARCbis): MS_DMARC_POLICY_ABSENT when not given. */
MS_DMARC_API enum ms_dmarc_policy ms_dmarc_record_sp(const struct ms_dmarc_record *r);
MS_DMARC_API enum ms_dmarc_policy ms_dmarc_record_np(const struct ms_dmarc_record *r);
MS_DMARC_API enum ms_dmarc_align ms_dmarc_record_adkim(const struct ms_dmarc_record *r);
MS_DMARC_API enum ms_dmarc_align ms_dmarc_record_aspf(const struct ms_dmarc_record *r);
/** pct= (0-100, default 100). */
MS_DMARC_API unsigned ms_dmarc_record_pct(const struct ms_dmarc_record *r);
/** t=y (DMARCbis testing mode): 1, else 0. */
MS_DMARC_API int ms_dmarc_record_testing(const struct ms_dmarc_record *r);
/** psd= (DMARCbis): 'y', 'n' or 'u' (absent). */
MS_DMARC_API char ms_dmarc_record_psd(const struct ms_dmarc_record *r);
/** rua=/ruf= URIs (borrowed); i < count. */
MS_DMARC_API size_t ms_dmarc_record_rua_count(const struct ms_dmarc_record *r);
MS_DMARC_API const char *ms_dmarc_record_rua(const struct ms_dmarc_record *r, size_t i);
MS_DMARC_API size_t ms_dmarc_record_ruf_count(const struct ms_dmarc_record *r);
MS_DMARC_API const char *ms_dmarc_record_ruf(const struct ms_dmarc_record *r, size_t i);
/** Tags that were ignored and why ("pct: not 0-100; ..."), or NULL. */
MS_DMARC_API const char *ms_dmarc_record_warnings(const struct ms_dmarc_record *r);
MS_DMARC_API const char *ms_dmarc_policy_str(enum ms_dmarc_policy p); /**< "none", ... */

/* ---- the RFC5322.From domain (RFC 7489 s6.6.1) -------------------------
 * Outcomes, each with a defined meaning for the caller:
 *   OK               exactly one domain (one mailbox, or several mailboxes
 *                    all in the same domain): evaluate DMARC for it;
 *   NONE             no mailbox (empty, or only an empty group): there is
 *                    no author domain; RFC 5322 requires one, so reject;
 *   MULTIPLE_DOMAINS mailboxes in different domains: reject (an attacker
 *                    can otherwise pick which domain is displayed);
 *   MULTIPLE_HEADERS more than one From header field: reject (RFC 5322
 *                    s3.6 allows exactly one);
 *   MALFORMED        not an address-list (an '@' in an unquoted display
 *                    name, two angle addresses in one mailbox, unbalanced
 *                    quotes/comments/brackets, a domain literal, an
 *                    invalid domain): reject.
 * Quoted display names are skipped with their escapes, comments are
 * skipped, group syntax is read, and encoded words (RFC 2047) are never
 * decoded, so nothing inside them can pose as the address.
 */
enum ms_dmarc_from_outcome {
	MS_DMARC_FROM_OK = 0,
	MS_DMARC_FROM_NONE = 1,
	MS_DMARC_FROM_MULTIPLE_DOMAINS = 2,
	MS_DMARC_FROM_MULTIPLE_HEADERS = 3,
	MS_DMARC_FROM_MALFORMED = 4
};

/**
 * Parse one From header field body (after "From:", unfolding allowed).
 * Sets *outcome, and on OK the normalised domain (A-labels, lower case;
 * 254 bytes suffice) and the number of mailboxes (naddrs may be NULL).
 * Returns MS_OK once an outcome is known; MS_ERR_INVALID for bad
 * arguments, MS_ERR_LIMIT for more than 4096 octets or 64 mailboxes
 * (*outcome is then MALFORMED).
 */
MS_DMARC_API ms_status ms_dmarc_from_parse(const uint8_t *buf, size_t len,
					   enum ms_dmarc_from_outcome *outcome,
					   char *domain, size_t domlen, size_t *naddrs,
					   char *why, size_t whylen);
/** All From header fields of a message (n of them); n > 1 gives
 * MULTIPLE_HEADERS, n == 0 gives NONE. */
MS_DMARC_API ms_status ms_dmarc_from_headers(const uint8_t *const *values,
					     const size_t *lens, size_t n,
					     enum ms_dmarc_from_outcome *outcome,
					     char *domain, size_t domlen,
					     char *why, size_t whylen);
/**
 * The author domain of a whole message: `msg` is the message (or its
 * header section), len bytes, CRLF or bare LF line ends.  The header
 * section (up to the first empty line, or the end) is scanned for From
 * fields; a field name is recognised as everywhere in mailsec: ASCII
 * case-insensitive, with optional white space before the colon (RFC 5322
 * s4.5 obsolete syntax), so "From :" is a From field and two From fields
 * of any spelling are MULTIPLE_HEADERS (RFC 7489 s6.6.1).  Folded values
 * are read whole; fields in the body never count.
 * The scan needs constant memory and has its own bound,
 * MS_DMARC_MAX_HEADER_SCAN octets of header section, far above the DKIM
 * verifier's (MS_DKIM_MAX_HEADER, 1000 fields), so that a message padded
 * past those still has its author domain found.  A header section longer
 * than the bound is MALFORMED (a second From could follow) with the reason
 * in `why`.  Returns MS_OK once *outcome is set (also MALFORMED for a
 * limit), MS_ERR_INVALID for bad arguments, MS_ERR_NOMEM.
 */
#define MS_DMARC_MAX_HEADER_SCAN (16u * 1024u * 1024u)
MS_DMARC_API ms_status ms_dmarc_from_message(const uint8_t *msg, size_t len,
					     enum ms_dmarc_from_outcome *outcome,
					     char *domain, size_t domlen,
					     char *why, size_t whylen);
MS_DMARC_API const char *ms_dmarc_from_outcome_str(enum ms_dmarc_from_outcome o);

/* ---- evaluation ---------------------------------------------------------- */
/** DKIM results as RFC 8601 s2.7.1 keywords. */
enum ms_dmarc_dkim_result {
	MS_DMARC_DKIM_NONE = 0,
	MS_DMARC_DKIM_PASS = 1,
	MS_DMARC_DKIM_FAIL = 2,
	MS_DMARC_DKIM_POLICY = 3,
	MS_DMARC_DKIM_NEUTRAL = 4,
	MS_DMARC_DKIM_TEMPERROR = 5,
	MS_DMARC_DKIM_PERMERROR = 6
};

/** DMARC results (RFC 8601 / RFC 7489 s11.2). */
enum ms_dmarc_result {
	MS_DMARC_NONE = 0,       /**< no policy record */
	MS_DMARC_PASS = 1,
	MS_DMARC_FAIL = 2,
	MS_DMARC_TEMPERROR = 3,  /**< the policy lookup failed temporarily */
	MS_DMARC_PERMERROR = 4   /**< the From header cannot be evaluated */
};

struct ms_dmarc;
struct ms_dmarc_verdict;

/** Create an evaluator; `dns` is borrowed.  The Public Suffix List is
 * libpsl's newest available data (Debian's publicsuffix package). */
MS_DMARC_API ms_status ms_dmarc_new(const struct ms_env *env, struct ms_dns_ctx *dns,
				    struct ms_dmarc **out, char *why, size_t whylen);
MS_DMARC_API void ms_dmarc_free(struct ms_dmarc *d);
/** Use the DMARCbis DNS tree walk (up to 8 queries, psd= aware) for policy
 * discovery and the organizational domain instead of the PSL. */
MS_DMARC_API ms_status ms_dmarc_set_tree_walk(struct ms_dmarc *d, int on);
/** Fix the pct= sampling value (0-99; a message is subject to the policy
 * when sample < pct).  -1 (default): a random value per evaluation. */
MS_DMARC_API ms_status ms_dmarc_set_pct_sample(struct ms_dmarc *d, int sample);

/** The organizational domain of `domain` by the PSL (RFC 7489 s3.2):
 * lower-case; 254 bytes suffice. */
MS_DMARC_API ms_status ms_dmarc_org_domain(struct ms_dmarc *d, const char *domain,
					   char *buf, size_t buflen);

/**
 * Evaluate.  `from_domain`: the author domain (from ms_dmarc_from_*).
 * `spf_domain`: the domain SPF checked (MAIL FROM domain, or HELO for a
 * null sender), may be NULL when SPF was not run.  DKIM results: n entries
 * (domain = d=, selector = s=, may be NULL).  Returns MS_OK with a verdict
 * (free with ms_dmarc_verdict_free), MS_ERR_INVALID, MS_ERR_NOMEM.
 */
MS_DMARC_API ms_status ms_dmarc_check(struct ms_dmarc *d, const char *from_domain,
				      enum ms_spf_result spf, const char *spf_domain,
				      const char *const *dkim_domains,
				      const char *const *dkim_selectors,
				      const enum ms_dmarc_dkim_result *dkim_results,
				      size_t ndkim,
				      struct ms_dmarc_verdict **out,
				      char *why, size_t whylen);

MS_DMARC_API void ms_dmarc_verdict_free(struct ms_dmarc_verdict *v);
MS_DMARC_API enum ms_dmarc_result ms_dmarc_verdict_result(const struct ms_dmarc_verdict *v);
/** The policy that applied (after p/sp/np selection, before pct/t), and
 * which tag it came from: "p", "sp", "np", or NULL when no record. */
MS_DMARC_API enum ms_dmarc_policy ms_dmarc_verdict_policy(const struct ms_dmarc_verdict *v);
MS_DMARC_API const char *ms_dmarc_verdict_policy_tag(const struct ms_dmarc_verdict *v);
/** What to do with the message: none, quarantine or reject (pass -> none;
 * pct sampling and t=y may lower the policy by one step, s6.6.4). */
MS_DMARC_API enum ms_dmarc_policy ms_dmarc_verdict_disposition(const struct ms_dmarc_verdict *v);
/** A sentence saying why ("SPF aligned (relaxed) with example.test", ...). */
MS_DMARC_API const char *ms_dmarc_verdict_reason(const struct ms_dmarc_verdict *v);
/** The From domain, its organizational domain, and the domain whose
 * _dmarc record was used (NULL if none).  Borrowed. */
MS_DMARC_API const char *ms_dmarc_verdict_domain(const struct ms_dmarc_verdict *v);
MS_DMARC_API const char *ms_dmarc_verdict_org_domain(const struct ms_dmarc_verdict *v);
MS_DMARC_API const char *ms_dmarc_verdict_policy_domain(const struct ms_dmarc_verdict *v);
MS_DMARC_API int ms_dmarc_verdict_spf_aligned(const struct ms_dmarc_verdict *v);
MS_DMARC_API int ms_dmarc_verdict_dkim_aligned(const struct ms_dmarc_verdict *v);
/** The aligned DKIM d= domain (first passing, aligned one), or NULL. */
MS_DMARC_API const char *ms_dmarc_verdict_dkim_domain(const struct ms_dmarc_verdict *v);
/** The record used (borrowed), or NULL. */
MS_DMARC_API const struct ms_dmarc_record *ms_dmarc_verdict_record(const struct ms_dmarc_verdict *v);
/** Security of the policy lookups (MS_DNS_INDETERMINATE if none made). */
MS_DMARC_API enum ms_dns_security ms_dmarc_verdict_dnssec(const struct ms_dmarc_verdict *v);
MS_DMARC_API const char *ms_dmarc_result_str(enum ms_dmarc_result r);
MS_DMARC_API const char *ms_dmarc_dkim_result_str(enum ms_dmarc_dkim_result r);
/** Parse a DKIM result keyword; -1 if unknown. */
MS_DMARC_API int ms_dmarc_dkim_result_from_str(const char *s);

/**
 * External report destination verification (RFC 7489 s7.1): may reports
 * for `policy_domain` go to the mailto: `uri` (a rua/ruf entry)?  When the
 * URI's domain has the same organizational domain, *authorized = 1 without
 * a lookup; otherwise POLICY-DOMAIN._report._dmarc.URI-DOMAIN must
 * hold a "v=DMARC1" TXT record.  *authorized: 1 yes, 0 no, -1 temporary
 * DNS failure.  *sec (may be NULL): security of the lookup.
 */
MS_DMARC_API ms_status ms_dmarc_report_dest_verify(struct ms_dmarc *d,
						   const char *policy_domain,
						   const char *uri, int *authorized,
						   enum ms_dns_security *sec,
						   char *why, size_t whylen);

/**
 * A verdict as `mailsec dmarc` shows it (RFC 7489): the result line, then
 * domain, policy, disposition, alignment, reason, dnssec and each rua
 * destination with its authorization (RFC 7489 s7.1, verified through d's
 * resolver: this call may look up DNS); or one JSON object, keys result,
 * from_outcome ("ok"), policy, policy_tag, disposition, domain,
 * org_domain, policy_domain, spf_aligned, dkim_aligned, reason, dnssec,
 * rua[]{uri, destination}.  *out freed with ms_render_free, *len (may be NULL)
 * its length.  MS_ERR_INVALID, MS_ERR_NOMEM, MS_ERR_LIMIT (16 MiB).
 */
MS_DMARC_API ms_status ms_dmarc_verdict_render(struct ms_dmarc *d,
					       const struct ms_dmarc_verdict *v,
					       enum ms_render_format fmt, char **out, size_t *len);
/**
 * The answer for a message whose From names no single author domain (the
 * outcome fo of ms_dmarc_from_headers/_parse, not MS_DMARC_FROM_OK, and
 * its `why`): result permerror, disposition reject (RFC 7489 s6.6.1: such
 * a message cannot pass DMARC).  JSON keys result, from_outcome, policy
 * (null), disposition, domain (null), org_domain (null), reason.  Output
 * as ms_dmarc_verdict_render; MS_ERR_INVALID for MS_DMARC_FROM_OK.
 */
MS_DMARC_API ms_status ms_dmarc_bad_from_render(enum ms_dmarc_from_outcome fo, const char *why,
						enum ms_render_format fmt, char **out,
						size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_DMARC_H */
