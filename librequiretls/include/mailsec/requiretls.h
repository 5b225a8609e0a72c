/**
 * @file
 * mailsec/requiretls.h - librequiretls protocol pieces (RFC 8689 REQUIRETLS).
 *
 * The SMTP-level building blocks an MTA needs to speak REQUIRETLS on both
 * sides of a connection:
 *   - EHLO reply parsing into a capability set (RFC 5321 s4.1.1.1, s4.2),
 *     and discarding the pre-STARTTLS set (RFC 3207 s4.2);
 *   - MAIL FROM esmtp-param parsing and formatting (RFC 5321 s4.1.2), with
 *     REQUIRETLS (RFC 8689 s2), SIZE, BODY, SMTPUTF8, RET, ENVID (xtext);
 *   - server-side acceptance of the REQUIRETLS parameter (RFC 8689 s4.1);
 *   - TLS-Required header field parsing (RFC 8689 s3);
 *   - the per-message requirement (default / required / not required) and
 *     its stable serialisation for the queue;
 *   - a Received header field helper (RFC 5321 s4.4, RFC 3848, RFC 8689).
 *
 * The delivery decision engine is in mailsec/requiretls_decide.h and the
 * recipient-domain memory in mailsec/requiretls_store.h.
 *
 * Every parser takes (const uint8_t *buf, size_t len), never needs NUL
 * termination and bounds everything it keeps.  Handles are not thread-safe:
 * use one per connection/message, or lock around them.
 */
#ifndef MAILSEC_REQUIRETLS_H
#define MAILSEC_REQUIRETLS_H

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
#define MS_RTLS_API MS_API

/** Hard bounds on what the parsers keep. */
#define MS_RTLS_MAX_REPLY_BYTES 65536  /**< a whole EHLO reply */
#define MS_RTLS_MAX_LINE 1000          /**< one reply line or command line */
#define MS_RTLS_MAX_CAPS 128           /**< capability lines kept */
#define MS_RTLS_MAX_PARAMS 32          /**< MAIL FROM parameters kept */
#define MS_RTLS_MAX_ENVID 100          /**< RFC 3461 s4.4: decoded ENVID */

/* ---- EHLO capability set (RFC 5321 s4.1.1.1; RFC 3207 s4.2) ---------- */

struct ms_rtls_ehlo;

/** Create an empty capability set.  `env` may be NULL.  Free with
 * ms_rtls_ehlo_free(). */
MS_RTLS_API ms_status ms_rtls_ehlo_new(const struct ms_env *env,
				       struct ms_rtls_ehlo **out);

/** Free a set; NULL-safe. */
MS_RTLS_API void ms_rtls_ehlo_free(struct ms_rtls_ehlo *set);

/**
 * Parse a complete EHLO reply (all lines, "250-..." then a final "250 ...",
 * CRLF or bare LF line ends, the last line end optional) into `set`,
 * replacing what it held.  `over_tls` records whether the reply came over a
 * TLS session (after STARTTLS).  Keywords are matched case-insensitively
 * (RFC 5321 s2.4) and stored upper-cased; the first line is the server's
 * domain and greeting, not a keyword.  Lines whose keyword is not
 * (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") are skipped, duplicates keep the
 * first occurrence.  A non-250 reply parses to an empty set with that code.
 * Returns MS_ERR_PARSE for a malformed reply (mixed codes, a line without a
 * code, text after the final line), MS_ERR_LIMIT beyond the MS_RTLS_MAX_*
 * bounds; the set is then empty.
 */
MS_RTLS_API ms_status ms_rtls_ehlo_parse(struct ms_rtls_ehlo *set,
					 const uint8_t *buf, size_t len,
					 int over_tls, char *why, size_t whylen);

/**
 * Forget every capability, as RFC 3207 s4.2 requires once STARTTLS
 * succeeds: the client MUST discard what it learnt before TLS (an attacker
 * may have forged it) and issue EHLO again.  The set then reports code 0
 * and no keywords until the next ms_rtls_ehlo_parse().
 */
MS_RTLS_API void ms_rtls_ehlo_discard(struct ms_rtls_ehlo *set);

/** The reply code (250 for success, 0 when empty or discarded). */
MS_RTLS_API int ms_rtls_ehlo_code(const struct ms_rtls_ehlo *set);
/** Whether the set was parsed from a reply received over TLS. */
MS_RTLS_API int ms_rtls_ehlo_over_tls(const struct ms_rtls_ehlo *set);
/** The first line's text (server domain and greeting); borrowed, "" if none. */
MS_RTLS_API const char *ms_rtls_ehlo_greeting(const struct ms_rtls_ehlo *set);
/** Number of capabilities, and the i-th keyword (upper-case) and its
 * parameters (the rest of the line, "" when none); borrowed, valid until the
 * next parse/discard/free.  NULL when i is out of range. */
MS_RTLS_API size_t ms_rtls_ehlo_count(const struct ms_rtls_ehlo *set);
MS_RTLS_API const char *ms_rtls_ehlo_keyword(const struct ms_rtls_ehlo *set,
					     size_t i);
MS_RTLS_API const char *ms_rtls_ehlo_params(const struct ms_rtls_ehlo *set,
					    size_t i);
/** Whether `keyword` (NUL-terminated, any case) was advertised. */
MS_RTLS_API int ms_rtls_ehlo_has(const struct ms_rtls_ehlo *set,
				 const char *keyword);
/** The parameters of `keyword`, borrowed; NULL when not advertised. */
MS_RTLS_API const char *ms_rtls_ehlo_param(const struct ms_rtls_ehlo *set,
					   const char *keyword);

/* ---- MAIL FROM parameters (RFC 5321 s4.1.2) --------------------------- */

struct ms_rtls_mail;

enum ms_rtls_body {
	MS_RTLS_BODY_NONE = 0,    /**< no BODY parameter */
	MS_RTLS_BODY_7BIT = 1,
	MS_RTLS_BODY_8BITMIME = 2,  /**< RFC 6152 */
	MS_RTLS_BODY_BINARYMIME = 3 /**< RFC 3030 */
};

enum ms_rtls_ret {
	MS_RTLS_RET_NONE = 0,  /**< no RET parameter */
	MS_RTLS_RET_FULL = 1,  /**< RFC 3461 s4.3 */
	MS_RTLS_RET_HDRS = 2
};

/** Create an empty parameter list (for formatting, or to parse into). */
MS_RTLS_API ms_status ms_rtls_mail_new(const struct ms_env *env,
				       struct ms_rtls_mail **out);
/** Free; NULL-safe. */
MS_RTLS_API void ms_rtls_mail_free(struct ms_rtls_mail *m);

/**
 * Parse the esmtp parameters of a MAIL command: the text after the
 * reverse-path, e.g. "SIZE=1000 BODY=8BITMIME REQUIRETLS" (a leading space
 * is allowed, CRLF must not be included).  Replaces the list's content.
 * Syntax per RFC 5321 s4.1.2: esmtp-keyword ["=" esmtp-value], separated by
 * single or multiple spaces.  Known parameters are checked: SIZE digits
 * (RFC 1870), BODY value (RFC 6152/3030), SMTPUTF8 and REQUIRETLS without
 * value (RFC 6531, RFC 8689 s2), RET=FULL|HDRS and ENVID xtext (RFC 3461),
 * and none may appear twice.  Returns MS_ERR_PARSE on a syntax error
 * (servers answer 501 5.5.4), MS_ERR_LIMIT past MS_RTLS_MAX_PARAMS.
 */
MS_RTLS_API ms_status ms_rtls_mail_parse_params(struct ms_rtls_mail *m,
						const uint8_t *buf, size_t len,
						char *why, size_t whylen);

/**
 * Parse a whole MAIL command line without CRLF: "MAIL FROM:<path> params"
 * (verb and FROM case-insensitive; a quoted local part may hold '>').  The
 * reverse-path without brackets is kept (ms_rtls_mail_path()).
 */
MS_RTLS_API ms_status ms_rtls_mail_parse_command(struct ms_rtls_mail *m,
						 const uint8_t *buf, size_t len,
						 char *why, size_t whylen);

/** The reverse-path from ms_rtls_mail_parse_command() (borrowed, "" for
 * the null path <> or when none was parsed). */
MS_RTLS_API const char *ms_rtls_mail_path(const struct ms_rtls_mail *m);
/** Number of parameters, i-th keyword (upper-case) and raw value (NULL for a
 * parameter without value); borrowed. */
MS_RTLS_API size_t ms_rtls_mail_count(const struct ms_rtls_mail *m);
MS_RTLS_API const char *ms_rtls_mail_keyword(const struct ms_rtls_mail *m,
					     size_t i);
MS_RTLS_API const char *ms_rtls_mail_value(const struct ms_rtls_mail *m,
					   size_t i);
/** Whether `keyword` is present; its raw value (NULL if absent or valueless). */
MS_RTLS_API int ms_rtls_mail_has(const struct ms_rtls_mail *m,
				 const char *keyword);
MS_RTLS_API const char *ms_rtls_mail_get(const struct ms_rtls_mail *m,
					 const char *keyword);
/** Typed views of the known parameters. */
MS_RTLS_API int ms_rtls_mail_requiretls(const struct ms_rtls_mail *m);
MS_RTLS_API int ms_rtls_mail_smtputf8(const struct ms_rtls_mail *m);
MS_RTLS_API enum ms_rtls_body ms_rtls_mail_body(const struct ms_rtls_mail *m);
MS_RTLS_API enum ms_rtls_ret ms_rtls_mail_ret(const struct ms_rtls_mail *m);
/** SIZE as a number: MS_OK and *size, or MS_ERR_INVALID when absent. */
MS_RTLS_API ms_status ms_rtls_mail_size(const struct ms_rtls_mail *m,
					uint64_t *size);
/** Decoded ENVID into out (NUL-terminated); *outlen gets its length.
 * MS_ERR_INVALID when absent, MS_ERR_LIMIT when `outsize` is too small. */
MS_RTLS_API ms_status ms_rtls_mail_envid(const struct ms_rtls_mail *m,
					 char *out, size_t outsize,
					 size_t *outlen);

/**
 * Set (add or replace) a parameter; `value` NULL for a valueless one.  The
 * keyword and value are checked as the parser checks them.
 */
MS_RTLS_API ms_status ms_rtls_mail_set(struct ms_rtls_mail *m,
				       const char *keyword, const char *value);
/** Set ENVID from raw bytes, xtext-encoding them (RFC 3461 s4). */
MS_RTLS_API ms_status ms_rtls_mail_set_envid(struct ms_rtls_mail *m,
					     const uint8_t *raw, size_t len);
/** Remove a parameter; MS_OK also when it was absent. */
MS_RTLS_API ms_status ms_rtls_mail_remove(struct ms_rtls_mail *m,
					  const char *keyword);
/**
 * Format the parameters, in order, separated by single spaces and without a
 * leading space, e.g. "SIZE=1000 REQUIRETLS", into `out` (NUL-terminated).
 * *needed (optional) gets the length without NUL; MS_ERR_LIMIT when
 * `outsize` is too small.
 */
MS_RTLS_API ms_status ms_rtls_mail_format(const struct ms_rtls_mail *m,
					  char *out, size_t outsize,
					  size_t *needed);

/**
 * xtext (RFC 3461 s4): encode bytes ("+" and "=", controls, space and
 * non-ASCII become "+XX") or decode.  Outputs are NUL-terminated;
 * MS_ERR_LIMIT when `outsize` is too small, MS_ERR_PARSE for bad xtext.
 */
MS_RTLS_API ms_status ms_rtls_xtext_encode(const uint8_t *raw, size_t len,
					   char *out, size_t outsize,
					   size_t *outlen);
MS_RTLS_API ms_status ms_rtls_xtext_decode(const uint8_t *buf, size_t len,
					   char *out, size_t outsize,
					   size_t *outlen);

/* ---- server side (RFC 8689 s2, s4.1) --------------------------------- */

/** A reply for the SMTP server to send; strings are static. */
struct ms_rtls_reply {
	int accept;           /**< 1: go on with the MAIL command */
	int code;             /**< 250 on accept, else the reply code */
	const char *enhanced; /**< RFC 3463 enhanced status, e.g. "5.7.10" */
	const char *text;     /**< human text for the reply */
};

/**
 * Whether to advertise REQUIRETLS in an EHLO reply: only when the operator
 * enabled it and the session is protected by TLS (RFC 8689 s2: the option
 * is only meaningful on a TLS session; offering it before STARTTLS would
 * only invite clients that then get a 530).
 */
MS_RTLS_API int ms_rtls_server_advertise(int enabled, int tls_active);

/**
 * Judge the REQUIRETLS parameter of a parsed MAIL command.  Without it the
 * reply accepts.  With it: extension disabled -> 555 5.5.4 (RFC 5321
 * s4.1.1.11: parameter not recognised); plaintext session -> 530 5.7.10
 * (RFC 8689 s4.1, RFC 5248 "Encryption Needed"); else accept, and the MTA
 * must store the message as MS_RTLS_REQ_REQUIRED.  Other parameters are
 * the MTA's business.  Returns MS_ERR_INVALID for NULL arguments only.
 */
MS_RTLS_API ms_status ms_rtls_server_check_mail(const struct ms_rtls_mail *m,
						int enabled, int tls_active,
						struct ms_rtls_reply *out);

/** The reply for a syntactically bad MAIL command (501 5.5.4). */
MS_RTLS_API void ms_rtls_server_syntax_reply(struct ms_rtls_reply *out);

/* ---- TLS-Required header field (RFC 8689 s3) -------------------------- */

enum ms_rtls_tlsreq {
	MS_RTLS_TLSREQ_ABSENT = 0,   /**< no TLS-Required field */
	MS_RTLS_TLSREQ_NO = 1,       /**< exactly one field, value "No": honoured */
	MS_RTLS_TLSREQ_INVALID = 2,  /**< one field with another value: ignored */
	MS_RTLS_TLSREQ_MULTIPLE = 3, /**< more than one field: ignored */
	MS_RTLS_TLSREQ_OVERRIDDEN = 4 /**< REQUIRETLS parameter given: ignored */
};

/**
 * Scan a message's header section (up to the first empty line, or all of
 * `len`) for TLS-Required fields (field name case-insensitive).  RFC 8689
 * s3: the value is "No" (case-insensitive as every ABNF literal), with
 * folding white space allowed before it and trailing white space
 * tolerated; only a single such field counts.  When `requiretls_param` is
 * set the field is ignored (RFC 8689 s2: the MAIL FROM parameter wins).
 * Never fails: malformed header lines are skipped.
 */
MS_RTLS_API enum ms_rtls_tlsreq ms_rtls_tlsreq_scan(const uint8_t *hdrs,
						    size_t len,
						    int requiretls_param);

/** Judge one field value (the text after "TLS-Required:", may be folded). */
MS_RTLS_API enum ms_rtls_tlsreq ms_rtls_tlsreq_value(const uint8_t *buf,
						     size_t len);

/** A static name: "absent", "no", "invalid", "multiple", "overridden". */
MS_RTLS_API const char *ms_rtls_tlsreq_str(enum ms_rtls_tlsreq v);

/* ---- per-message requirement ------------------------------------------ */

enum ms_rtls_requirement {
	MS_RTLS_REQ_DEFAULT = 0,     /**< recipient-domain policy decides */
	MS_RTLS_REQ_REQUIRED = 1,    /**< REQUIRETLS (RFC 8689 s4.2.1) */
	MS_RTLS_REQ_NOT_REQUIRED = 2 /**< TLS-Required: No (RFC 8689 s4.2.2) */
};

/**
 * The requirement of a received message: REQUIRED when the MAIL FROM
 * parameter was accepted, NOT_REQUIRED when the header scan said
 * MS_RTLS_TLSREQ_NO, DEFAULT otherwise.
 */
MS_RTLS_API enum ms_rtls_requirement ms_rtls_requirement_of(
	int requiretls_param, enum ms_rtls_tlsreq header);

/**
 * Stable serialisation for the queue file: "default", "required",
 * "not-required".  These strings never change; an operator may edit them
 * on a queued message (e.g. to "not-required" when verified TLS keeps
 * failing).  Parsing is case-insensitive, ignores surrounding white space
 * and returns MS_ERR_PARSE for anything else.
 */
MS_RTLS_API const char *ms_rtls_requirement_str(enum ms_rtls_requirement r);
MS_RTLS_API ms_status ms_rtls_requirement_parse(const uint8_t *buf,
						size_t len,
						enum ms_rtls_requirement *out);

/* ---- Received header field (RFC 5321 s4.4, RFC 3848, RFC 8689) -------- */

/** DNSSEC status of one lookup the receiver made, e.g. {"iprev", SECURE}. */
struct ms_rtls_lookup_status {
	const char *what;              /**< short label: [A-Za-z0-9_.-]+ */
	enum ms_dns_security security;
};

#define MS_RTLS_RECEIVED_VERSION 1

/** Zero-initialise, set `version`, fill; NULL strings are left out. */
struct ms_rtls_received {
	unsigned version;          /**< MS_RTLS_RECEIVED_VERSION */
	const char *helo;          /**< the client's EHLO name (required) */
	const char *client_rdns;   /**< reverse DNS name of the client */
	const char *client_ip;     /**< the client address (required) */
	const char *by;            /**< this server's name (required) */
	const char *id;            /**< queue id */
	const char *for_addr;      /**< single recipient, without brackets */
	int tls;                   /**< session protected by TLS */
	const char *tls_version;   /**< "TLSv1.3" */
	const char *tls_cipher;    /**< "TLS_AES_256_GCM_SHA384" */
	int requiretls;            /**< MAIL FROM carried REQUIRETLS */
	int authenticated;         /**< SMTP AUTH: ESMTPA / ESMTPSA (RFC 3848) */
	int smtputf8;              /**< UTF8SMTP(S)(A) (RFC 6531 s3.7.3) */
	const struct ms_rtls_lookup_status *lookups;
	size_t nlookups;
	int64_t when;              /**< Unix seconds, printed in UTC */
};

/**
 * Format the whole field, "Received: from ..." folded with CRLF + TAB and
 * without a final CRLF, e.g.
 * @verbatim
     Received: from helo.example (rdns.example [192.0.2.1])
     	by mx.example with ESMTPS (requiretls)
     	(TLSv1.3 TLS_AES_256_GCM_SHA384) (dnssec iprev=secure)
     	id Q1 for <rcpt@example>; Sat, 28 Nov 2026 13:00:00 +0000
   @endverbatim
 * The "(requiretls)" comment sits right after the "with" protocol and
 * before "id", as RFC 8689 s4.1 asks of receivers of the parameter.
 * Strings with CR, LF, parentheses, backslashes or non-printable bytes are
 * refused (MS_ERR_INVALID) so nobody can inject header text.
 * MS_ERR_LIMIT when `outsize` is too small; *needed (optional) gets the
 * length without NUL.
 */
MS_RTLS_API ms_status ms_rtls_received_format(const struct ms_rtls_received *r,
					      char *out, size_t outsize,
					      size_t *needed,
					      char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_H */
