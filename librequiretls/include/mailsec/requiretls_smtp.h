/**
 * @file
 * mailsec/requiretls_smtp.h - the outbound SMTP/STARTTLS client transport
 * of librequiretls (RFC 5321, STARTTLS RFC 3207), and the STARTTLS probe
 * built on it (what `mailsec dane probe` and `mailsec check` report).
 *
 * One session per handle, plaintext or over OpenSSL.  The transport moves
 * bytes and enforces the protocol's safety rules; every policy decision
 * (whether TLS is needed, whether the peer is acceptable, whether to send
 * the message) stays with the caller and the decision engine
 * (mailsec/requiretls_decide.h).  The rules it enforces:
 *   - every step has a deadline: the connect, a whole reply however it
 *     trickles in, the whole TLS handshake; writes (a command, the whole
 *     DATA transfer, the wait while the peer reads the queued message)
 *     must finish or move at least MS_RTLS_SMTP_MIN_PROGRESS bytes in each
 *     timeout period (a peer draining a byte at a time is cut off, a slow
 *     honest link is not; RFC 5321 s4.5.3.2 allows minutes per step);
 *   - replies are read with hard bounds: a line of at most
 *     MS_RTLS_MAX_LINE bytes, a reply of at most MS_RTLS_MAX_REPLY_BYTES
 *     and MS_RTLS_SMTP_MAX_LINES lines (MS_ERR_LIMIT beyond);
 *   - the client never pipelines, so bytes that arrive after a complete
 *     reply are the server's doing: the session is abandoned
 *     (MS_ERR_PROTOCOL).  After the 220 to STARTTLS they would be
 *     plaintext posing as the first TLS-protected replies (the STARTTLS
 *     command-injection class, CVE-2011-0411);
 *   - after the TLS handshake the pre-TLS capabilities are discarded and
 *     EHLO must be sent again (RFC 3207 s4.2): until then
 *     ms_rtls_smtp_caps() reports an empty set, and MAIL is refused.
 *
 * Status conventions: MS_OK means the step ran and a well-formed reply was
 * read (its code is the caller's to judge, except where a call says
 * otherwise); MS_ERR_INVALID for bad arguments; MS_ERR_STATE for a call
 * out of order (or on a session that an earlier error ended);
 * MS_ERR_TIMEOUT, MS_ERR_NETWORK, MS_ERR_TLS, MS_ERR_PROTOCOL,
 * MS_ERR_LIMIT end the session (only ms_rtls_smtp_free is left to call).
 * `why` (may be NULL) gets a one-line explanation of every error.
 *
 * Async shape (issue 15): the handle holds the whole session state and the
 * socket is non-blocking from connect() on.  Inside the library each call
 * below is a start (the arguments and the state checked) and steps that
 * never wait: the I/O goes as far as the socket allows and reports the
 * events it needs (POLLIN/POLLOUT, OpenSSL's WANT_READ/WANT_WRITE during
 * the handshake and TLS records) and the step's deadline.  The delivery
 * calls (requiretls_deliver.h) drive the session that way from the
 * caller's event loop; the calls here are the thin synchronous wrappers
 * (start, then step and poll until the call completes), with the same
 * statuses and replies.
 *
 * Handles are not thread-safe: one per connection.
 */
#ifndef MAILSEC_REQUIRETLS_SMTP_H
#define MAILSEC_REQUIRETLS_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/tlsrpt_result.h>
#include <mailsec/dane.h>
#include <mailsec/requiretls.h>

#ifdef __cplusplus
extern "C" {
#endif

/** OpenSSL's types, without pulling its headers in (SSL_CTX, SSL). */
struct ssl_ctx_st;
struct ssl_st;

#define MS_RTLS_SMTP_MAX_LINES 1000           /**< lines of one reply */
#define MS_RTLS_SMTP_MIN_PROGRESS (64 * 1024) /**< bytes a write must move per period */
#define MS_RTLS_SMTP_DEFAULT_TIMEOUT_MS 30000

/** One complete SMTP reply (RFC 5321 s4.2). */
struct ms_rtls_smtp_reply {
	int code;          /**< 200..599; 0 when no reply was read */
	char enhanced[16]; /**< RFC 3463 "c.d.e" at the start of the last line's
			    * text when its class is the code's first digit
			    * (RFC 2034 s3), else "" */
	char text[MS_RTLS_MAX_LINE + 1]; /**< the last line's text (after
					  * "NNN " or "NNN-"), enhanced code
					  * included, NUL-terminated */
	size_t lines;      /**< number of lines */
};

/**
 * Parse one complete reply at the start of buf[0..len): every line
 * "NNN-text" then a final "NNN text" or "NNN", the same code on every line
 * (RFC 5321 s4.2.1), CRLF or bare LF line ends.  *used gets the bytes the
 * reply took (bytes after it are the caller's business).  MS_ERR_PARSE for
 * a malformed reply or an incomplete one (no final line in buf),
 * MS_ERR_LIMIT past MS_RTLS_MAX_LINE / MS_RTLS_MAX_REPLY_BYTES /
 * MS_RTLS_SMTP_MAX_LINES.  The transport reads replies with the same
 * parser, byte by byte as they arrive.  On error *r is zeroed.
 */
MS_RTLS_API ms_status ms_rtls_smtp_reply_parse(const uint8_t *buf, size_t len,
					       struct ms_rtls_smtp_reply *r,
					       size_t *used, char *why,
					       size_t whylen);

#define MS_RTLS_SMTP_OPTS_VERSION 1

struct ms_rtls_smtp_opts {
	unsigned version;    /**< MS_RTLS_SMTP_OPTS_VERSION */
	unsigned timeout_ms; /**< the deadline of each step (see above);
			      * 0: MS_RTLS_SMTP_DEFAULT_TIMEOUT_MS */
	/** Optional: called with the new SSL* after SNI is set and before the
	 * handshake, for per-connection settings (OpenSSL's own DANE or host
	 * checks, ALPN, a session to resume).  Non-zero fails STARTTLS with
	 * MS_ERR_TLS.  NULL: none. */
	int (*tls_setup)(void *user, struct ssl_st *ssl);
	void *tls_user;
};

struct ms_rtls_smtp;

/**
 * Create an unconnected session.  `env` (may be NULL) is copied: its
 * allocator is used for the handle.  opts may be NULL (defaults).  Free
 * with ms_rtls_smtp_free().  MS_ERR_INVALID, MS_ERR_NOMEM.
 */
MS_RTLS_API ms_status ms_rtls_smtp_new(const struct ms_env *env,
				       const struct ms_rtls_smtp_opts *opts,
				       struct ms_rtls_smtp **out);

/** Close the connection (TLS close_notify when TLS is up, no QUIT) and
 * free everything the handle owns; NULL-safe. */
MS_RTLS_API void ms_rtls_smtp_free(struct ms_rtls_smtp *s);

/**
 * Connect to `addr` (an IPv4 or IPv6 literal, no brackets) port `port`
 * within the timeout.  MS_ERR_INVALID for an address that is not a
 * literal, MS_ERR_TIMEOUT, MS_ERR_NETWORK.  Only once per handle.
 */
MS_RTLS_API ms_status ms_rtls_smtp_connect(struct ms_rtls_smtp *s,
					   const char *addr, uint16_t port,
					   char *why, size_t whylen);

/** Read the server's greeting (RFC 5321 s4.3.1) into *r; MS_OK for any
 * well-formed reply (a usable server says 220). */
MS_RTLS_API ms_status ms_rtls_smtp_greeting(struct ms_rtls_smtp *s,
					    struct ms_rtls_smtp_reply *r,
					    char *why, size_t whylen);

/**
 * EHLO `helo` (RFC 5321 s4.1.1.1) and parse the reply with
 * ms_rtls_ehlo_parse() into the session's capability set (marked as
 * received over TLS once TLS is up).  MS_OK for a parsed 250; MS_ERR_STATE
 * (session still usable) with *r filled when the server answered another
 * code; MS_ERR_PARSE / MS_ERR_LIMIT when a 250 reply could not be parsed.
 */
MS_RTLS_API ms_status ms_rtls_smtp_ehlo(struct ms_rtls_smtp *s,
					const char *helo,
					struct ms_rtls_smtp_reply *r,
					char *why, size_t whylen);

/** The capabilities of the last EHLO (borrowed, valid until the next
 * EHLO/STARTTLS/free); an empty set (code 0) after STARTTLS until EHLO is
 * sent again (RFC 3207 s4.2). */
MS_RTLS_API const struct ms_rtls_ehlo *ms_rtls_smtp_caps(const struct ms_rtls_smtp *s);

/**
 * STARTTLS (RFC 3207 s4): send the command; on 220 run the TLS handshake
 * with `ctx` (the caller's; certificates are not checked here: DANE and
 * PKIX are judged on the peer chain afterwards) and SNI `sni` (may be
 * NULL; RFC 7672 s8.1 wants the TLSA base domain).  On MS_OK the pre-TLS
 * capabilities are gone: call ms_rtls_smtp_ehlo() again.
 * MS_ERR_STATE (plaintext session still usable) when the server refused
 * with another code; MS_ERR_PROTOCOL when bytes followed the 220
 * (injection); MS_ERR_TLS when the handshake failed; MS_ERR_TIMEOUT when
 * it did not end within the timeout.
 */
MS_RTLS_API ms_status ms_rtls_smtp_starttls(struct ms_rtls_smtp *s,
					    struct ssl_ctx_st *ctx,
					    const char *sni,
					    struct ms_rtls_smtp_reply *r,
					    char *why, size_t whylen);

/** The TLS session (borrowed; NULL before STARTTLS succeeded), for
 * peer verification after the handshake. */
MS_RTLS_API struct ssl_st *ms_rtls_smtp_ssl(const struct ms_rtls_smtp *s);
/** The chain the peer sent, DER, [0] the leaf (borrowed, valid until
 * free); 0 before TLS. */
MS_RTLS_API size_t ms_rtls_smtp_chain(const struct ms_rtls_smtp *s,
				      const struct ms_dane_cert **chain);
/** "PROTOCOL CIPHER" of the TLS session, "" before TLS (borrowed). */
MS_RTLS_API const char *ms_rtls_smtp_tls(const struct ms_rtls_smtp *s);

/**
 * Send one command line (without CRLF; no CR or LF inside, at most
 * MS_RTLS_MAX_LINE - 2 bytes, else MS_ERR_INVALID) and read its reply.
 * For commands the calls below do not cover (RSET, NOOP, ...).
 */
MS_RTLS_API ms_status ms_rtls_smtp_command(struct ms_rtls_smtp *s,
					   const char *line,
					   struct ms_rtls_smtp_reply *r,
					   char *why, size_t whylen);

/** "MAIL FROM:<from>[ params]" (RFC 5321 s4.1.1.2; params as formatted by
 * ms_rtls_mail_format(), may be NULL or "").  MS_ERR_STATE before a
 * successful EHLO, and over TLS before the post-STARTTLS EHLO. */
MS_RTLS_API ms_status ms_rtls_smtp_mail(struct ms_rtls_smtp *s,
					const char *from, const char *params,
					struct ms_rtls_smtp_reply *r,
					char *why, size_t whylen);
/** "RCPT TO:<to>" (RFC 5321 s4.1.1.3). */
MS_RTLS_API ms_status ms_rtls_smtp_rcpt(struct ms_rtls_smtp *s, const char *to,
					struct ms_rtls_smtp_reply *r,
					char *why, size_t whylen);
/** "DATA" (RFC 5321 s4.1.1.4); a 354 reply allows ms_rtls_smtp_message(). */
MS_RTLS_API ms_status ms_rtls_smtp_data(struct ms_rtls_smtp *s,
					struct ms_rtls_smtp_reply *r,
					char *why, size_t whylen);
/**
 * After a 354: send msg[0..len) with CRLF line ends (bare LF becomes
 * CRLF) and dot-stuffing (RFC 5321 s4.5.2), then ".", wait (by the
 * progress rule) until the peer has read what the kernel still queues
 * (Linux SIOCOUTQ; elsewhere the reply deadline starts at once), and read
 * the final reply.  MS_ERR_STATE unless the last reply was 354 to DATA.
 */
MS_RTLS_API ms_status ms_rtls_smtp_message(struct ms_rtls_smtp *s,
					   const uint8_t *msg, size_t len,
					   struct ms_rtls_smtp_reply *r,
					   char *why, size_t whylen);
/** "QUIT" (RFC 5321 s4.1.1.10); the session is over afterwards whatever
 * the answer.  r may be NULL. */
MS_RTLS_API ms_status ms_rtls_smtp_quit(struct ms_rtls_smtp *s,
					struct ms_rtls_smtp_reply *r,
					char *why, size_t whylen);

/* ---- STARTTLS probe (what `mailsec dane probe` and `check` report) ---- */

#define MS_RTLS_PROBE_VERSION 1

struct ms_rtls_probe_opts {
	unsigned version;    /**< MS_RTLS_PROBE_VERSION */
	const char *connect; /**< "ADDR:PORT" or "[V6]:PORT" (required) */
	const char *helo;    /**< EHLO name; NULL: "localhost" */
	const char *sni;     /**< SNI (the TLSA base domain, RFC 7672 s8.1); may be NULL */
	unsigned timeout_ms; /**< per step; 0: 10000 */
};

struct ms_rtls_probe;

/**
 * OpenSSL writes with write(2): a peer that closes mid-write raises
 * SIGPIPE, so callers of the transport and the probe must ignore it, as
 * MTAs do (plaintext writes use MSG_NOSIGNAL).
 *
 * Connect, read the banner (220), EHLO (250), STARTTLS (220), handshake
 * with SNI (TLS 1.2 or later, no certificate check: the chain is for
 * ms_dane_verify() and PKIX), EHLO again with the pre-TLS capabilities
 * discarded (RFC 3207 s4.2), QUIT.  Each step has the transport's
 * deadlines.  Any failing step fails the probe (*out NULL): an unexpected
 * code is MS_ERR_PROTOCOL ("STARTTLS refused: 454 ..."), bytes pipelined
 * after a reply MS_ERR_PROTOCOL, and the transport's errors otherwise.
 * On MS_OK *out holds the facts; free with ms_rtls_probe_free().
 */
MS_RTLS_API ms_status ms_rtls_probe_run(const struct ms_env *env,
					const struct ms_rtls_probe_opts *opts,
					struct ms_rtls_probe **out,
					char *why, size_t whylen);
/**
 * The same, and *failure (may be NULL) says what a failed probe means for
 * SMTP TLS reporting (RFC 8460 s4.3): starttls-not-supported when the
 * server refused STARTTLS (454, 554, 502: not offered), validation-failure
 * for any other failure (handshake, no banner, plaintext after the 220),
 * MS_TLSRPT_SUCCESS on MS_OK.
 */
MS_RTLS_API ms_status ms_rtls_probe_run_classify(const struct ms_env *env,
						 const struct ms_rtls_probe_opts *opts,
						 struct ms_rtls_probe **out,
						 enum ms_tlsrpt_result *failure,
						 char *why, size_t whylen);
MS_RTLS_API void ms_rtls_probe_free(struct ms_rtls_probe *p);
/** The chain the server sent, [0] the leaf (borrowed). */
MS_RTLS_API size_t ms_rtls_probe_chain(const struct ms_rtls_probe *p,
				       const struct ms_dane_cert **chain);
/** The capabilities of the post-TLS EHLO (borrowed; over_tls is 1). */
MS_RTLS_API const struct ms_rtls_ehlo *ms_rtls_probe_ehlo(const struct ms_rtls_probe *p);
/** Negotiated protocol and cipher, "PROTOCOL CIPHER" (borrowed). */
MS_RTLS_API const char *ms_rtls_probe_tls(const struct ms_rtls_probe *p);

/* ---- DANE probe of one MX host (`mailsec dane probe`, like
 * posttls-finger): TLSA lookup, STARTTLS probe, ms_dane_verify ---------- */

#define MS_RTLS_DANE_PROBE_VERSION 1

struct ms_rtls_dane_probe_opts {
	unsigned version;     /**< MS_RTLS_DANE_PROBE_VERSION */
	uint16_t port;        /**< TLSA port (_PORT._tcp) and the port connected to; 0: 25 */
	const char *connect;  /**< "ADDR:PORT" / "[V6]:PORT"; NULL: the host's first address */
	unsigned timeout_ms;  /**< per probe step; 0: the probe's default */
	int64_t now;          /**< certificate dates; 0: the env clock */
};

struct ms_rtls_dane_probe;

/**
 * The DANE facts of MX host `host` (a host reached through a secure MX, or
 * named directly): ms_dane_lookup_env() of its TLSA records through `dns`,
 * then, only when that lookup did not fail (RFC 7672 s2.2: a bogus or
 * failed TLSA lookup makes the host unusable now, so it is not contacted),
 * the STARTTLS probe (ms_rtls_probe_run, SNI = the TLSA base domain) and
 * ms_dane_verify() of the chain the server sent against the records.
 * Callers must ignore SIGPIPE (see ms_rtls_probe_run).
 *
 * MS_OK with *out once the facts exist: a failed connection or probe is a
 * fact (ms_rtls_dane_probe_error), not an error.  MS_ERR_INVALID for bad
 * arguments or a bad host name (from the lookup), MS_ERR_NOMEM, or the
 * error of a verification that could not run.  Free *out with
 * ms_rtls_dane_probe_free (NULL-safe).  The handle is not shared.
 */
MS_RTLS_API ms_status ms_rtls_dane_probe_run(const struct ms_env *env, struct ms_dns_ctx *dns,
					     const char *host,
					     const struct ms_rtls_dane_probe_opts *opts,
					     struct ms_rtls_dane_probe **out,
					     char *why, size_t whylen);
/**
 * The probe of `host` as `mailsec dane probe` shows it (posttls-finger
 * style): host, the TLSA lookup (state, reason, base, records), the
 * connection, TLS, the chain (depth, subject, SHA-256 of each
 * certificate) and the verification.  MS_RENDER_JSON: one object, keys
 * host, dns_state, dns_reason, tlsa_base, tlsa[], connect, tls, error,
 * chain[] ({depth, subject, sha256}), verdict, verified, matched, depth,
 * tlsrpt_result and, after a session, usable_records and reason
 * (docs/cli.md).  *out freed with ms_render_free, *len (may be NULL) its
 * length.  MS_ERR_INVALID, MS_ERR_NOMEM.
 */
MS_RTLS_API ms_status ms_rtls_dane_probe_render(const struct ms_rtls_dane_probe *p,
						const char *host, enum ms_render_format fmt,
						char **out, size_t *len);
MS_RTLS_API void ms_rtls_dane_probe_free(struct ms_rtls_dane_probe *p);
/** The TLSA lookup: state, reason, base domain, records (borrowed). */
MS_RTLS_API const struct ms_dane_lookup *ms_rtls_dane_probe_lookup(
	const struct ms_rtls_dane_probe *p);
/** The address connected to (or that would have been), NULL when the host
 * has none (borrowed). */
MS_RTLS_API const char *ms_rtls_dane_probe_connect(const struct ms_rtls_dane_probe *p);
/** The STARTTLS session's facts (chain, TLS, capabilities), NULL when no
 * session was made: TLSA lookup failed, no address, or the probe failed. */
MS_RTLS_API const struct ms_rtls_probe *ms_rtls_dane_probe_session(
	const struct ms_rtls_dane_probe *p);
/** Why no session was made ("no address for HOST", the probe's reason), or
 * NULL (borrowed). */
MS_RTLS_API const char *ms_rtls_dane_probe_error(const struct ms_rtls_dane_probe *p);
/** libdane's result for the session's chain.  Without a session: verdict
 * unset, matched and depth -1, and the RFC 8460 result type of the
 * failure: dnssec-invalid for a failed TLSA lookup, validation-failure for
 * no connection (borrowed). */
MS_RTLS_API const struct ms_dane_result *ms_rtls_dane_probe_result(
	const struct ms_rtls_dane_probe *p);
/** 1 when a session was made and libdane verified its chain. */
MS_RTLS_API int ms_rtls_dane_probe_verified(const struct ms_rtls_dane_probe *p);
/** libdane's verdict word with a session, else "dns-tempfail" (TLSA lookup
 * failed: host not contacted) or "connect-failed". */
MS_RTLS_API const char *ms_rtls_dane_probe_verdict_str(const struct ms_rtls_dane_probe *p);

#ifdef __cplusplus
}
#endif

#endif
