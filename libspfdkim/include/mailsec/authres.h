/**
 * @file
 * mailsec/authres.h - Authentication-Results header fields (RFC 8601):
 * a writer for spf, dkim, dmarc and iprev results that carries the DNSSEC
 * status of every method, and a parser for incoming fields so an MTA can
 * remove those that claim its own authserv-id (RFC 8601 s5).
 *
 * Writer output: values are written as RFC 2045 tokens when they are
 * tokens and as quoted-strings (with escapes) otherwise; control
 * characters, CR, LF and non-ASCII are dropped, so nothing a sender
 * controls can end the field or start a new one.  Method and result names
 * must be keywords (letters, digits, '-').  The DNSSEC status is a comment
 * right after each result: "spf=pass (dnssec=secure) smtp.mailfrom=...".
 *
 * Thread safety: a builder is used by one thread at a time; parsed fields
 * are immutable.
 */
#ifndef MAILSEC_AUTHRES_H
#define MAILSEC_AUTHRES_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dmarc.h>
#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/iprev.h>
#include <mailsec/spf.h>
#include <mailsec/status.h>
#include <mailsec/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_AR_API MS_API

struct ms_ar;

/** A builder for one field.  `authserv_id` (RFC 8601 s2.5) is usually the
 * host name of the MTA; MS_ERR_INVALID if it contains CR, LF, controls or
 * non-ASCII.  Caller frees with ms_ar_free(). */
MS_AR_API ms_status ms_ar_new(const struct ms_env *env, const char *authserv_id,
			      struct ms_ar **out);
MS_AR_API void ms_ar_free(struct ms_ar *ar);

/** Add a method result.  `reason` may be NULL; `dnssec` is written as the
 * comment "(dnssec=...)".  At most 40 methods (every DKIM
 * signature the verifier evaluates, MS_DKIM_MAX_SIGNATURES, and the rest). */
MS_AR_API ms_status ms_ar_add(struct ms_ar *ar, const char *method, const char *result,
			      const char *reason, enum ms_dns_security dnssec);
/** Add "ptype.property=value" to the last added method (at most 8 each). */
MS_AR_API ms_status ms_ar_add_prop(struct ms_ar *ar, const char *ptype,
				   const char *property, const char *value);

/* Convenience adders from verdicts (RFC 8601 s2.7): */
/** spf=RESULT smtp.mailfrom=SENDER (or smtp.helo=HELO for the HELO identity);
 * the problem of a permerror/temperror becomes the reason. */
MS_AR_API ms_status ms_ar_add_spf(struct ms_ar *ar, const struct ms_spf_verdict *v);
/** iprev=RESULT policy.iprev=IP (RFC 8601 s3). */
MS_AR_API ms_status ms_ar_add_iprev(struct ms_ar *ar, const struct ms_iprev_verdict *v);
/** dmarc=RESULT header.from=DOMAIN with the policy and disposition in
 * policy.dmarc and the reason. */
MS_AR_API ms_status ms_ar_add_dmarc(struct ms_ar *ar, const struct ms_dmarc_verdict *v);
/** dkim=RESULT header.d=DOMAIN header.s=SELECTOR (selector may be NULL).
 * This one has no header.b: for a verified signature use
 * ms_ar_add_dkim_sig(), or add it with ms_ar_add_prop(ar, "header", "b",
 * ms_dkim_sig_b_prefix(sig)); use it as is for "dkim=none". */
MS_AR_API ms_status ms_ar_add_dkim(struct ms_ar *ar, enum ms_dmarc_dkim_result result,
				   const char *domain, const char *selector,
				   const char *reason, enum ms_dns_security dnssec);
/** One verified DKIM signature (mailsec/dkim.h), everything from it:
 * dkim=RESULT (dnssec=...) reason=... header.d= header.s= header.b=, where
 * header.b is the first 8 characters of b= (RFC 8601 s2.7.1, RFC 6008; as
 * OpenDKIM writes it) so that two signatures of one domain and selector
 * can be told apart; the result is mapped to the RFC 8601 keyword without
 * a cast (MS_DKIM_PASS is 0, MS_DMARC_DKIM_PASS is 1).  The reason is
 * written only when the signature has one. */
struct ms_dkim_sig;
MS_AR_API ms_status ms_ar_add_dkim_sig(struct ms_ar *ar, const struct ms_dkim_sig *sig);

/**
 * Write "Authentication-Results: ID; m1=r1 ...;\r\n\tm2=r2 ..." (folded,
 * no trailing CRLF), or "ID; none" when no method was added.
 * MS_ERR_LIMIT if `buflen` is too small (4096 always suffices).
 */
MS_AR_API ms_status ms_ar_write(const struct ms_ar *ar, char *buf, size_t buflen);

/* ---- parsing incoming fields -------------------------------------------- */
struct ms_ar_parsed;

/**
 * Parse one field, with or without the "Authentication-Results:" name.
 * MS_ERR_PARSE with a reason when it is not well formed, MS_ERR_LIMIT over
 * 16 KiB, 64 methods or 16 properties per method.  Caller frees *out.
 */
MS_AR_API ms_status ms_ar_parse(const struct ms_env *env, const uint8_t *buf, size_t len,
				struct ms_ar_parsed **out, char *why, size_t whylen);
MS_AR_API void ms_ar_parsed_free(struct ms_ar_parsed *p);
/** Borrowed strings, valid until ms_ar_parsed_free(). */
MS_AR_API const char *ms_ar_parsed_authserv_id(const struct ms_ar_parsed *p);
MS_AR_API size_t ms_ar_parsed_count(const struct ms_ar_parsed *p);
MS_AR_API const char *ms_ar_parsed_method(const struct ms_ar_parsed *p, size_t i);
MS_AR_API const char *ms_ar_parsed_result(const struct ms_ar_parsed *p, size_t i);
/** NULL when the method has no reason. */
MS_AR_API const char *ms_ar_parsed_reason(const struct ms_ar_parsed *p, size_t i);
MS_AR_API size_t ms_ar_parsed_prop_count(const struct ms_ar_parsed *p, size_t i);
MS_AR_API ms_status ms_ar_parsed_prop(const struct ms_ar_parsed *p, size_t i, size_t j,
				      const char **ptype, const char **property,
				      const char **value);

/**
 * Should an MTA whose authserv-id is `authserv_id` remove this incoming
 * field (RFC 8601 s5)?  1: it claims that id (compared case-insensitively)
 * or cannot be parsed (so no later reader can be fooled by it); 0: it
 * belongs to someone else.
 */
MS_AR_API int ms_ar_should_remove(const uint8_t *buf, size_t len, const char *authserv_id);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_AUTHRES_H */
