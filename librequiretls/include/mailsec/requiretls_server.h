/**
 * @file
 * mailsec/requiretls_server.h - the receiving side of REQUIRETLS as one
 * per-connection session object (RFC 8689 s2, s4.1, s4.3; RFC 3207;
 * RFC 8314; RFC 5321 s4.4).
 *
 * A receiving MTA (port 25), a submission server (587, STARTTLS) or a
 * submissions server (465, implicit TLS, RFC 8314 s3) creates one
 * `struct ms_rtls_server` per accepted connection and tells it what happens
 * on the connection: EHLO/HELO, STARTTLS, the completed TLS handshake, MAIL,
 * RSET and the end of a transaction.  In return the session says
 *   - which of STARTTLS and REQUIRETLS to list in the EHLO reply;
 *   - the reply to STARTTLS and to MAIL FROM (with or without REQUIRETLS);
 *   - whether the message of the open transaction requires TLS, and its
 *     requirement for onward relay (RFC 8689 s4.1: the receiver MUST keep
 *     it with the message);
 *   - the Received header field, with the "(requiretls)" comment and the
 *     DNSSEC status of the receiver's lookups (ms_rtls_received_format).
 *
 * REQUIRETLS is on by default whenever the session is protected by TLS:
 * a zero-initialised configuration enables it, `disable_requiretls` turns
 * it off.  Everything else in the EHLO reply (PIPELINING, 8BITMIME, SIZE,
 * AUTH, ...), RCPT and DATA are the MTA's business.
 *
 * The session does no I/O and never blocks: every call is one step on its
 * state and returns at once.  It therefore already has the shape an event
 * loop needs (issue 15's async shape: the MTA's loop owns the socket and
 * the TLS object and calls these steps as commands arrive; nothing here
 * needs a start/step/cancel split).  A session is not thread-safe; use one
 * per connection.
 */
#ifndef MAILSEC_REQUIRETLS_SERVER_H
#define MAILSEC_REQUIRETLS_SERVER_H

#include <mailsec/requiretls.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The kind of listener a connection arrived on. */
enum ms_rtls_listener {
	/** Port 25 relay (RFC 5321): STARTTLS offered when a certificate is
	 * configured; TLS is never required (RFC 3207 s4: a publicly
	 * referenced server MUST NOT require it). */
	MS_RTLS_LISTEN_SMTP = 0,
	/** Port 587 submission (RFC 6409) with STARTTLS: mail is accepted only
	 * over TLS (RFC 8314 s3.3 / RFC 3207 s4: 530 5.7.0 "Must issue a
	 * STARTTLS command first") unless `submission_plaintext` is set. */
	MS_RTLS_LISTEN_SUBMISSION = 1,
	/** Port 465 submissions, TLS from the first byte (RFC 8314 s3.3):
	 * STARTTLS is never advertised; mail only after the handshake. */
	MS_RTLS_LISTEN_SUBMISSIONS = 2
};

#define MS_RTLS_SERVER_CONFIG_VERSION 1

/** Listener configuration; zero-initialise, set `version`, fill.  The
 * zero values are the safe defaults.  Copied by ms_rtls_server_new(). */
struct ms_rtls_server_config {
	unsigned version;           /**< MS_RTLS_SERVER_CONFIG_VERSION */
	enum ms_rtls_listener kind;
	const char *hostname;       /**< this server's name: the Received "by"
				     * (required, header-safe token) */
	int tls_available;          /**< a certificate is loaded: STARTTLS can
				     * be offered (required for SUBMISSIONS) */
	int disable_requiretls;     /**< 1: never advertise nor accept
				     * REQUIRETLS (MAIL ... REQUIRETLS then
				     * gets 555 5.5.4) */
	int submission_plaintext;   /**< SUBMISSION only: accept mail without
				     * TLS (not recommended, RFC 8314 s3.3) */
};

/** The EHLO keywords this library decides on (ms_rtls_server_caps). */
#define MS_RTLS_CAP_STARTTLS 0x1u
#define MS_RTLS_CAP_REQUIRETLS 0x2u

struct ms_rtls_server;

/**
 * Create a session for one accepted connection from `client_ip` (the
 * peer address in text form, required; the Received "from" literal).
 * `env` may be NULL (its clock dates the Received field).  The config and
 * strings are copied.  Errors: MS_ERR_INVALID for NULL arguments, an
 * unknown version or kind, or a hostname/client_ip that is not a
 * header-safe token; MS_ERR_CONFIG for a SUBMISSIONS listener without
 * `tls_available`; MS_ERR_NOMEM.  Free with ms_rtls_server_free().
 */
MS_RTLS_API ms_status ms_rtls_server_new(const struct ms_env *env,
					 const struct ms_rtls_server_config *cfg,
					 const char *client_ip,
					 struct ms_rtls_server **out,
					 char *why, size_t whylen);

/** Free a session; NULL-safe. */
MS_RTLS_API void ms_rtls_server_free(struct ms_rtls_server *s);

/**
 * The client said EHLO (`esmtp` 1) or HELO (0) with `name` (the argument,
 * without CRLF).  Any open transaction is dropped (RFC 5321 s4.1.4).
 * Returns MS_ERR_PARSE for an empty name or one with bytes not allowed in
 * a header (the MTA answers 501 5.5.4); the session then has no client
 * name and MAIL gets 503.
 */
MS_RTLS_API ms_status ms_rtls_server_hello(struct ms_rtls_server *s,
					   const char *name, int esmtp);

/**
 * The keywords to list in the EHLO reply now, as MS_RTLS_CAP_* bits:
 * STARTTLS before TLS when a certificate is available and the listener is
 * not SUBMISSIONS (RFC 3207 s4, never again after TLS); REQUIRETLS only
 * when TLS is active and it is not disabled (RFC 8689 s2,
 * ms_rtls_server_advertise()).  0 for NULL.
 */
MS_RTLS_API unsigned ms_rtls_server_caps(const struct ms_rtls_server *s);

/**
 * The same as keyword strings ("STARTTLS", "REQUIRETLS"; static) into
 * out[0..max); returns how many there are (may exceed max).
 */
MS_RTLS_API size_t ms_rtls_server_keywords(const struct ms_rtls_server *s,
					   const char **out, size_t max);

/**
 * Answer a STARTTLS command: 220 2.0.0 to go ahead (RFC 3207 s4); 502
 * 5.5.1 when STARTTLS is not offered (no certificate, or SUBMISSIONS);
 * 503 5.5.1 when TLS is already active or a mail transaction is open.
 * After a 220 the MTA MUST discard any input it has buffered beyond the
 * STARTTLS line (plaintext pipelined after STARTTLS could be an
 * attacker's, CVE-2011-0411), run the handshake and then call
 * ms_rtls_server_tls_started(); a failed handshake ends the connection.
 * MS_ERR_INVALID for NULL arguments only.
 */
MS_RTLS_API ms_status ms_rtls_server_starttls(struct ms_rtls_server *s,
					      struct ms_rtls_reply *out);

/**
 * The TLS handshake completed (after STARTTLS, or at once on SUBMISSIONS).
 * `version` and `cipher` (may be NULL; e.g. SSL_get_version() and
 * SSL_get_cipher_name()) go into the Received field.  RFC 3207 s4.2: the
 * server discards what the client said before TLS, so the EHLO name and
 * any transaction are forgotten and the client must say EHLO again.
 * MS_ERR_STATE if TLS was already active; MS_ERR_INVALID for a NULL
 * session or a version/cipher that is not a header-safe token.
 */
MS_RTLS_API ms_status ms_rtls_server_tls_started(struct ms_rtls_server *s,
						 const char *version,
						 const char *cipher);

/** Whether the session is protected by TLS now. */
MS_RTLS_API int ms_rtls_server_tls_active(const struct ms_rtls_server *s);

/**
 * Answer a MAIL command: `line` is the whole command without CRLF
 * ("MAIL FROM:<a@b> SIZE=10 REQUIRETLS").  In this order:
 *   503 5.5.1  a transaction is already open (RFC 5321 s4.1.4);
 *   501 5.5.4  the command or its parameters do not parse (RFC 5321
 *              s4.1.2, ms_rtls_mail_parse_command);
 *   503 5.5.1  no EHLO/HELO yet, also after TLS started (RFC 5321
 *              s4.1.4, RFC 3207 s4.2);
 *   555 5.5.4  REQUIRETLS given but not advertised in this session
 *              (disabled, or the client said HELO) (RFC 5321 s4.1.1.11);
 *   530 5.7.10 REQUIRETLS on a session without TLS (RFC 8689 s4.1);
 *   530 5.7.0  SUBMISSION/SUBMISSIONS without TLS (RFC 3207 s4);
 *   250 2.1.0  accepted: a transaction is open; when it carried
 *              REQUIRETLS the message requires TLS (RFC 8689 s4.1, also
 *              on submission: RFC 8689 s4.3).
 * REQUIRETLS counts as advertised only after EHLO (HELO has no
 * extensions, RFC 5321 s4.1.1.1).  `why` (optional) gets a short reason
 * for a refusal.  Other parameters (SIZE, BODY, ...) are the MTA's to check through
 * ms_rtls_server_mail_params(); to refuse the command after all it calls
 * ms_rtls_server_reset().  Returns MS_OK whenever *out holds the reply;
 * MS_ERR_INVALID for NULL arguments, MS_ERR_NOMEM.
 */
MS_RTLS_API ms_status ms_rtls_server_mail(struct ms_rtls_server *s,
					  const uint8_t *line, size_t len,
					  struct ms_rtls_reply *out,
					  char *why, size_t whylen);

/** Whether a transaction is open (a MAIL command was accepted). */
MS_RTLS_API int ms_rtls_server_in_transaction(const struct ms_rtls_server *s);

/** The parsed MAIL command of the open transaction (reverse-path and
 * parameters), borrowed until the next MAIL, reset, hello, TLS start or
 * free; NULL when no transaction is open. */
MS_RTLS_API const struct ms_rtls_mail *ms_rtls_server_mail_params(
	const struct ms_rtls_server *s);

/** Whether the open transaction's MAIL carried REQUIRETLS (the message
 * must then be relayed only with REQUIRETLS, RFC 8689 s4.1). */
MS_RTLS_API int ms_rtls_server_requiretls(const struct ms_rtls_server *s);

/**
 * The requirement to store with the received message, from the MAIL
 * parameter and the message's header section (`hdrs`, may be the whole
 * message: the scan stops at the first empty line): REQUIRED with
 * REQUIRETLS, NOT_REQUIRED with a single "TLS-Required: No" field,
 * DEFAULT otherwise (ms_rtls_tlsreq_scan, ms_rtls_requirement_of).
 * Serialise it with ms_rtls_requirement_str() for the queue.
 */
MS_RTLS_API enum ms_rtls_requirement ms_rtls_server_requirement(
	const struct ms_rtls_server *s, const uint8_t *hdrs, size_t len);

/**
 * Format the Received field for the open transaction's message into
 * `out` (ms_rtls_received_format: folded, without the final CRLF).  The
 * session fills helo, client_ip, by, tls, tls_version, tls_cipher,
 * requiretls ("(requiretls)" comment, RFC 8689 s4.1), smtputf8 (from the
 * MAIL parameters) and `when` (env clock, unless extra->when is set).
 * `extra` (may be NULL) gives what only the MTA knows: client_rdns, id,
 * for_addr, authenticated (ESMTPA/ESMTPSA, RFC 3848) and the DNSSEC
 * status of its own lookups (lookups/nlookups); its other fields are
 * ignored.  Errors: MS_ERR_STATE without an open transaction,
 * MS_ERR_INVALID / MS_ERR_LIMIT as ms_rtls_received_format().
 */
MS_RTLS_API ms_status ms_rtls_server_received(const struct ms_rtls_server *s,
					      const struct ms_rtls_received *extra,
					      char *out, size_t outsize,
					      size_t *needed,
					      char *why, size_t whylen);

/** End the transaction (RSET, after the message was accepted or refused,
 * or when the MTA refuses MAIL for its own reasons).  NULL-safe. */
MS_RTLS_API void ms_rtls_server_reset(struct ms_rtls_server *s);

/** Static name of a listener kind: "smtp", "submission", "submissions". */
MS_RTLS_API const char *ms_rtls_listener_str(enum ms_rtls_listener k);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_SERVER_H */
