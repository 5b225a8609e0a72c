/**
 * @file
 * mailsec/spf.h - Sender Policy Framework (RFC 7208) evaluation that knows
 * what DNSSEC proved.
 *
 * An evaluator (struct ms_spf) holds the caller's hooks, a borrowed resolver
 * context (libdnssec-stub) and a few settings; each check returns a verdict
 * (struct ms_spf_verdict): the result keyword, the term that matched, the
 * explanation, the DNS lookup counts, the reason behind a permerror or
 * temperror, and the DNSSEC security of the evaluation.
 *
 * Protocol outcomes, including "permerror" and "temperror", are verdicts,
 * not errors: a check that reached a verdict returns MS_OK.
 *
 * DNSSEC: a verdict is "secure" only if every DNS lookup made to reach it
 * (records, includes, redirects, a/mx/ptr/exists targets, %{p}) was secure;
 * the explanation (exp=) lookup does not count, as it cannot change the
 * result.  One insecure include therefore makes the whole verdict insecure.
 *
 * Thread safety: a struct ms_spf may be used by one thread at a time (the
 * resolver context it borrows may be shared).  Verdicts are immutable.
 */
#ifndef MAILSEC_SPF_H
#define MAILSEC_SPF_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/status.h>
#include <mailsec/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_SPF_API MS_API

/** The results of check_host() (RFC 7208 s2.6). */
enum ms_spf_result {
	MS_SPF_NONE = 0,
	MS_SPF_NEUTRAL = 1,
	MS_SPF_PASS = 2,
	MS_SPF_FAIL = 3,
	MS_SPF_SOFTFAIL = 4,
	MS_SPF_TEMPERROR = 5,
	MS_SPF_PERMERROR = 6
};

/** Which identity a verdict is about (RFC 7208 s2.3, s2.4). */
enum ms_spf_identity {
	MS_SPF_ID_MAILFROM = 0,
	MS_SPF_ID_HELO = 1
};

/** Hard limits of RFC 7208 s4.6.4 (fixed: they are interoperability rules). */
#define MS_SPF_MAX_DNS_TERMS 10
#define MS_SPF_MAX_VOID_LOOKUPS 2
#define MS_SPF_MAX_MX_PTR_NAMES 10

struct ms_spf;
struct ms_spf_verdict;

/**
 * Create an evaluator.  `env` may be NULL (defaults).  `dns` is borrowed: it
 * must outlive the evaluator; an injected resolver (ms_dns_ctx_new_custom)
 * works as well as a libunbound one.  Caller frees *out with ms_spf_free().
 */
MS_SPF_API ms_status ms_spf_new(const struct ms_env *env, struct ms_dns_ctx *dns,
				struct ms_spf **out);
/** Free an evaluator; NULL-safe. */
MS_SPF_API void ms_spf_free(struct ms_spf *spf);

/** The receiving host's domain for the %{r} macro (RFC 7208 s7.2) and the
 * Received-SPF "receiver" key; NULL: "unknown".  Copied. */
MS_SPF_API ms_status ms_spf_set_receiver(struct ms_spf *spf, const char *receiver);
/** Explanation used for a "fail" when the record has no usable exp=
 * (RFC 7208 s6.2); NULL restores the built-in text.  Copied.  Not
 * macro-expanded. */
MS_SPF_API ms_status ms_spf_set_default_explanation(struct ms_spf *spf,
						    const char *text);

/**
 * Keep up to `entries` DNS answers (0: none, the default; at most 65536)
 * inside the evaluator, for their TTL.  Answers keep their DNSSEC status,
 * so verdicts are the same with or without the cache; failures and answers
 * without a TTL are not kept.  When full, the cache is emptied before the
 * next check.  Calling this again empties it.
 */
MS_SPF_API ms_status ms_spf_set_cache(struct ms_spf *spf, size_t entries);

/**
 * The MAIL FROM check (RFC 7208 s2.4): check_host(ip, domain of `sender`,
 * sender).  An empty or NULL `sender` means the null reverse-path: the HELO
 * identity is checked as "postmaster@helo" (s2.4).  A sender without a
 * local-part gets "postmaster" (s4.3).  `ip` is IPv4 or IPv6 text; an
 * IPv4-mapped IPv6 address is evaluated as IPv4 (s5).  `helo` may be NULL
 * (then %{h} expands to "unknown").
 * A malformed domain in the identity (over 253 octets, a label over 63,
 * an empty label, not fully qualified) gives the result "none" with the
 * reason in ms_spf_verdict_problem() (RFC 7208 s4.3), not an error.
 * Returns MS_OK with a verdict (caller frees with ms_spf_verdict_free), or
 * MS_ERR_INVALID for an unparsable `ip` or a local-part over 448 octets
 * (why says which), MS_ERR_NOMEM.
 */
MS_SPF_API ms_status ms_spf_check_mailfrom(struct ms_spf *spf, const char *ip,
					   const char *helo, const char *sender,
					   struct ms_spf_verdict **out,
					   char *why, size_t whylen);
/** The HELO check (RFC 7208 s2.3): check_host(ip, helo, "postmaster@helo"). */
MS_SPF_API ms_status ms_spf_check_helo(struct ms_spf *spf, const char *ip,
				       const char *helo,
				       struct ms_spf_verdict **out,
				       char *why, size_t whylen);

/**
 * Check a record given as text instead of looking up the domain's TXT
 * record (policy testing, "what would this record say").  Includes and
 * redirects are still looked up.  `domain` is the `<domain>` argument.
 */
MS_SPF_API ms_status ms_spf_check_record(struct ms_spf *spf, const char *ip,
					 const char *domain, const char *sender,
					 const char *helo,
					 const uint8_t *record, size_t len,
					 struct ms_spf_verdict **out,
					 char *why, size_t whylen);

/* ---- verdicts: borrowed pointers valid until ms_spf_verdict_free() ---- */
MS_SPF_API void ms_spf_verdict_free(struct ms_spf_verdict *v);
MS_SPF_API enum ms_spf_result ms_spf_verdict_result(const struct ms_spf_verdict *v);
MS_SPF_API enum ms_spf_identity ms_spf_verdict_identity(const struct ms_spf_verdict *v);
/** The `<domain>` that was checked (lower-case), the sender used for the
 * macros ("postmaster@..." when substituted), the client IP and HELO. */
MS_SPF_API const char *ms_spf_verdict_domain(const struct ms_spf_verdict *v);
MS_SPF_API const char *ms_spf_verdict_sender(const struct ms_spf_verdict *v);
MS_SPF_API const char *ms_spf_verdict_ip(const struct ms_spf_verdict *v);
MS_SPF_API const char *ms_spf_verdict_helo(const struct ms_spf_verdict *v);
/** The top-level term that decided the result, as written in the record
 * ("ip4:192.0.2.0/24", "-all", "include:_spf.example.test"); "default" when
 * no term matched (implicit neutral); NULL when no record was evaluated
 * (none, or an error before any match). */
MS_SPF_API const char *ms_spf_verdict_mechanism(const struct ms_spf_verdict *v);
/** The explanation for a "fail" (exp= text or the default); NULL otherwise. */
MS_SPF_API const char *ms_spf_verdict_explanation(const struct ms_spf_verdict *v);
/** Why the result is permerror/temperror/none, in a short sentence; NULL for
 * the other results. */
MS_SPF_API const char *ms_spf_verdict_problem(const struct ms_spf_verdict *v);
/** Terms that caused DNS lookups (include, a, mx, ptr, exists, redirect),
 * counted against the limit of 10, and void lookups (limit 2). */
MS_SPF_API unsigned ms_spf_verdict_dns_lookups(const struct ms_spf_verdict *v);
MS_SPF_API unsigned ms_spf_verdict_void_lookups(const struct ms_spf_verdict *v);
/** The combined security of the lookups behind the verdict (see above).
 * A verdict reached without any lookup is MS_DNS_INDETERMINATE. */
MS_SPF_API enum ms_dns_security ms_spf_verdict_dnssec(const struct ms_spf_verdict *v);

/** "pass", "fail", ... (the RFC 7208 s2.6 keywords); "?" if out of range. */
MS_SPF_API const char *ms_spf_result_str(enum ms_spf_result r);
/** Parse a result keyword (case-insensitive, bounded by len); -1 if unknown. */
MS_SPF_API int ms_spf_result_from_str(const char *s, size_t len);

/**
 * Write a Received-SPF header field (RFC 7208 s9.1), name included, folded
 * lines joined by CRLF + TAB, no trailing CRLF:
 *   Received-SPF: pass (mx.example.org: domain of a@example.test designates
 *   192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=...;
 *   helo=...; receiver=...; identity=mailfrom; mechanism="ip4:..."
 * Values that are not RFC 5322 dot-atoms are quoted; control characters and
 * non-ASCII are dropped so no header can be injected.  `receiver` may be
 * NULL (the evaluator's receiver is not known to the verdict).
 * MS_ERR_LIMIT if `buflen` is too small (suggest 1024).
 */
MS_SPF_API ms_status ms_spf_received_header(const struct ms_spf_verdict *v,
					    const char *receiver,
					    char *buf, size_t buflen);

/**
 * Syntax check of one SPF record (RFC 7208 s4.5, s12): MS_OK if `buf`
 * is a well-formed "v=spf1" record, MS_ERR_PARSE with the first problem in
 * `why` otherwise (non-ASCII, unknown mechanism, bad CIDR, bad macro,
 * repeated redirect/exp, ...).  Bounded: records over 16 KiB are refused
 * with MS_ERR_LIMIT.
 */
MS_SPF_API ms_status ms_spf_record_check(const uint8_t *buf, size_t len,
					 char *why, size_t whylen);

/**
 * A verdict as `mailsec spf` shows it: the result keyword on the first
 * line, then identity, domain, explanation, mechanism, problem, lookup
 * counts, DNSSEC status and the Received-SPF field (for `receiver`, may be
 * NULL; CRs removed); or one JSON object on one line, keys result,
 * identity, domain, sender, ip, mechanism, explanation, problem,
 * dns_lookups, void_lookups, dnssec, received_spf.  *out freed with
 * ms_render_free, *len (may be NULL) its length.  MS_ERR_INVALID, MS_ERR_NOMEM,
 * MS_ERR_LIMIT (16 MiB).
 */
MS_SPF_API ms_status ms_spf_verdict_render(const struct ms_spf_verdict *v, const char *receiver,
					   enum ms_render_format fmt, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_SPF_H */
