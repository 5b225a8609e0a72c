/**
 * @file
 * mailsec/tlsrpt_result.h - the one RFC 8460 (SMTP TLS Reporting) result
 * type of the whole suite, and the policy types of a report.
 *
 * It lives in libmailsec-dns, the lowest library, because every layer
 * classifies failures in these terms: libdane (certificate and TLSA
 * failures), libmtasts (policy fetch and validity), librequiretls (what a
 * delivery attempt met: STARTTLS refused or missing, the peer checks) and
 * libreports (the recorded counts and the report JSON).
 */
#ifndef MAILSEC_TLSRPT_RESULT_H
#define MAILSEC_TLSRPT_RESULT_H

#include <mailsec/dns.h>

#ifdef __cplusplus
extern "C" {
#endif

/** RFC 8460 s4.3 result types; MS_TLSRPT_SUCCESS (0) is a successful
 * session (s4.2 "total-successful-session-count"), every other value one
 * "result-type" of a failure-details entry. */
enum ms_tlsrpt_result {
	MS_TLSRPT_SUCCESS = 0,
	MS_TLSRPT_STARTTLS_NOT_SUPPORTED = 1,     /**< s4.3.1: 454 to STARTTLS, or not offered */
	MS_TLSRPT_CERTIFICATE_HOST_MISMATCH = 2,  /**< s4.3.1 */
	MS_TLSRPT_CERTIFICATE_EXPIRED = 3,        /**< s4.3.1 */
	MS_TLSRPT_CERTIFICATE_NOT_TRUSTED = 4,    /**< s4.3.1 */
	MS_TLSRPT_VALIDATION_FAILURE = 5,         /**< s4.3.1: any other failure */
	MS_TLSRPT_TLSA_INVALID = 6,               /**< s4.3.2 */
	MS_TLSRPT_DNSSEC_INVALID = 7,             /**< s4.3.2 */
	MS_TLSRPT_DANE_REQUIRED = 8,              /**< s4.3.2 */
	MS_TLSRPT_STS_POLICY_FETCH_ERROR = 9,     /**< s4.3.3 */
	MS_TLSRPT_STS_POLICY_INVALID = 10,        /**< s4.3.3 */
	MS_TLSRPT_STS_WEBPKI_INVALID = 11         /**< s4.3.3 */
};
#define MS_TLSRPT_RESULT_MAX MS_TLSRPT_STS_WEBPKI_INVALID

/** RFC 8460 s4.4 "policy-type". */
enum ms_tlsrpt_policy_type {
	MS_TLSRPT_POLICY_NONE = 0, /**< "no-policy-found" */
	MS_TLSRPT_POLICY_TLSA = 1, /**< "tlsa": DANE TLSA records */
	MS_TLSRPT_POLICY_STS = 2   /**< "sts": an MTA-STS policy */
};

/**
 * The RFC 8460 s4.3 string of a result type ("starttls-not-supported",
 * "certificate-expired", ...).
 * @param r the result type
 * @return a static string; "" for MS_TLSRPT_SUCCESS and unknown values
 */
MS_DNS_API const char *ms_tlsrpt_result_name(enum ms_tlsrpt_result r);

/**
 * The result type named by an RFC 8460 s4.3 string (case-sensitive, as the
 * JSON schema spells it).
 * @param name the string (NUL-terminated)
 * @param out receives the type
 * @return MS_OK, MS_ERR_INVALID for NULL arguments, MS_ERR_PARSE for a
 *         name that is not an RFC 8460 result type
 */
MS_DNS_API ms_status ms_tlsrpt_result_from_name(const char *name, enum ms_tlsrpt_result *out);

/**
 * The RFC 8460 s4.4 string of a policy type: "no-policy-found", "tlsa",
 * "sts".
 * @return a static string ("no-policy-found" for unknown values)
 */
MS_DNS_API const char *ms_tlsrpt_policy_type_name(enum ms_tlsrpt_policy_type t);

/**
 * The policy type named by `name`; MS_ERR_PARSE for another string.
 */
MS_DNS_API ms_status ms_tlsrpt_policy_type_from_name(const char *name,
						     enum ms_tlsrpt_policy_type *out);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_TLSRPT_RESULT_H */
