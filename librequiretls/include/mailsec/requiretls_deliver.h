/**
 * @file
 * mailsec/requiretls_deliver.h - outbound delivery of one message, as a
 * sending MTA does it, composed from the route (requiretls_route.h), the
 * SMTP client transport (requiretls_smtp.h), the peer verification
 * (requiretls_verify.h), the decision engine (requiretls_decide.h) and the
 * recipient-domain memory (requiretls_store.h).
 *
 * Two levels:
 *  - ms_rtls_deliver_*: one recipient domain.  The hosts of its route in
 *    MX order (RFC 5321 s5.1); per host connect over its addresses, EHLO,
 *    STARTTLS, DANE/PKIX of the peer, EHLO again (RFC 3207 s4.2), the
 *    engine's judgement, and only on DELIVER the transaction: MAIL FROM
 *    (with REQUIRETLS when the engine says so, RFC 8689 s4.2.1), one RCPT
 *    per pending recipient, DATA (RFC 5321 s3.3).  The engine's
 *    RETRY_PLAINTEXT reconnects to the same host without STARTTLS (RFC
 *    7435 opportunistic fallback, RFC 8689 s4.2.2 TLS-Required: No); the
 *    engine never answers it under DANE, MTA-STS enforce or REQUIRETLS.
 *    TRY_NEXT goes on with the next host; a 5xx to MAIL or DATA ends the
 *    domain (RFC 5321 s4.2.1); with no host left ms_rtls_conclude says
 *    TEMPFAIL or PERMFAIL.  Recipients are judged one by one: a 5xx to one
 *    RCPT fails that recipient only, a 4xx keeps it for the next host.
 *    Every attempt is counted (ms_rtls_outcome_count) and, when it reached
 *    the first EHLO over a non-retry connection, recorded in the
 *    recipient-domain memory (STARTTLS offered; REQUIRETLS offered after a
 *    good handshake, RFC 8689 s4.2.1).
 *  - ms_rtls_send_*: a message to recipients in several domains: the
 *    recipients grouped by normalised domain (ms_dns_hostname_normalize),
 *    the requirement raised to REQUIRED beforehand when the caller allows
 *    it and the memory knows every domain supports REQUIRETLS
 *    (ms_rtls_auto_requirement, RFC 8689 s4.3), then one route and one
 *    delivery per domain, all with that one requirement.
 *
 * The message is held in memory (borrowed bytes, as read from the queue
 * file; CRLF or LF line ends, dot-stuffing is the transport's).
 *
 * Ownership: handles are the caller's (free with the *_free call); the
 * route, the SSL_CTX, the store, the trust store and DANE context of the
 * options (ca_store, dane_ctx), the dns and sts handles and the message
 * bytes given to a *_new call are borrowed and must outlive the handle;
 * the envelope (addresses, message bytes) is borrowed until the handle is
 * freed; ms_rtls_deliver_new copies the addresses.  Every pointer a getter returns is owned
 * by the handle and valid until it is freed.  Handles are not thread-safe.
 *
 * Errors: *_new return MS_ERR_INVALID (NULL or malformed arguments: an
 * address that cannot stand in <...>, a helo name with spaces, an unknown
 * opts version) or MS_ERR_NOMEM; *_step and *_run return MS_ERR_NOMEM or
 * MS_ERR_TLS (no TLS context could be made).  Everything that happens on
 * the network is a result (attempts, outcomes), never an error status.
 *
 * Async shape (issue 15): the handles hold the whole state and nothing
 * waits on the network.  *_new is the start; *_step advances as far as it
 * can without waiting (a route's lookups and MTA-STS discovery, then per
 * host a resumable SMTP session: non-blocking connect, the greeting, EHLO,
 * STARTTLS and the TLS handshake with OpenSSL's WANT_READ/WANT_WRITE,
 * the DANE/PKIX checks, MAIL/RCPT/DATA with partial writes and replies
 * read as they arrive, QUIT); *_fd, *_events and *_timeout_ms say what to
 * wait for before the next step: the descriptor, POLLIN and/or POLLOUT
 * (0: only the time), and at most how long (ms; 0: step again at once).
 * The SMTP deadlines are the same as the synchronous transport's
 * (requiretls_smtp.h: the connect, a whole reply, the whole handshake,
 * the write progress rule), checked in the steps: a peer that stalls ends
 * its session with a temporary failure at its deadline, whether or not
 * the caller's poll saw an event.  done() says when to stop (the caller's
 * completion callback goes there); cancel = free, which closes a session
 * in progress.  *_run() is the synchronous loop "while (!done) { step;
 * poll(fd, events, timeout); }".  The getters do not change.
 */
#ifndef MAILSEC_REQUIRETLS_DELIVER_H
#define MAILSEC_REQUIRETLS_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_route.h>
#include <mailsec/requiretls_store.h>
#include <mailsec/tlsrpt_result.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ssl_ctx_st;
struct x509_store_st; /**< OpenSSL's X509_STORE */
struct ms_dane_ctx;

/**
 * One attempt as SMTP TLS Reporting (RFC 8460) counts it, handed to the
 * attempt observer of ms_rtls_deliver_opts.  All pointers are borrowed and
 * valid only during the call (copy what is kept).
 *  - policy_domain: the recipient domain (s4.4 "policy-domain").
 *  - policy_type: TLSA when the host has a DNSSEC-secure TLSA RRset (or its
 *    TLSA lookup failed: dnssec-invalid), else STS when an MTA-STS policy
 *    applies to the domain, else no-policy-found (RFC 8461 s2: DANE wins
 *    when both apply).
 *  - policy_strings: the TLSA records in presentation form ("3 1 1 ab..")
 *    or the MTA-STS policy's lines (s4.4 "policy-string"); none for
 *    no-policy-found.  mx_patterns: the policy's "mx" values (s4.4
 *    "mx-host", STS only).
 *  - mx_host: the MX host name; addr: the address connected to ("" when
 *    the attempt never connected, e.g. a host skipped by its policy).
 *  - result: MS_TLSRPT_SUCCESS when TLS was established and the policy's
 *    checks passed, else the s4.3 result type; reason: one sentence ("" on
 *    success), the report's failure-reason-code.
 * Attempts that never reached EHLO (no TCP connection, no greeting) have no
 * TLS outcome and are not observed; neither is the plaintext retry (the
 * failed TLS attempt before it was).  A host skipped because its TLSA
 * lookup failed (dnssec-invalid) or because the MTA-STS policy does not
 * list it (validation-failure) is observed.  When the domain publishes
 * MTA-STS but no policy could be fetched (and none was cached), delivery
 * goes on without a policy (RFC 8461 s5.1) and every observed attempt is
 * reported under "sts" with libmtasts's failure (sts-policy-fetch-error,
 * sts-policy-invalid, sts-webpki-invalid) and no policy strings.
 */
struct ms_rtls_tlsrpt_event {
	const char *policy_domain;
	enum ms_tlsrpt_policy_type policy_type;
	const char *const *policy_strings;
	size_t npolicy_strings;
	const char *const *mx_patterns;
	size_t nmx_patterns;
	const char *mx_host;
	const char *addr;
	enum ms_tlsrpt_result result;
	const char *reason;
};

/** The observer: called synchronously in the delivery step, once per
 * observed attempt; it must be cheap (libreports' recorder only buffers). */
typedef void (*ms_rtls_attempt_observer_fn)(void *arg, const struct ms_rtls_tlsrpt_event *ev);

/** 2: the TLSRPT attempt observer (observer, observer_arg) was added at the
 * end; 3: the kept verification objects (ca_store, dane_ctx) after it.
 * Version 1 and 2 structs are still accepted by ms_rtls_deliver_new. */
#define MS_RTLS_DELIVER_OPTS_VERSION 3
#define MS_RTLS_DELIVER_MAX_RCPT 1000 /**< recipients per message */

struct ms_rtls_deliver_opts {
	unsigned version;          /**< MS_RTLS_DELIVER_OPTS_VERSION */
	const char *helo;          /**< EHLO name; NULL: "localhost" */
	uint16_t port;             /**< 0: 25 (another port for tests) */
	/** TLS client context for STARTTLS (borrowed).  NULL: one is made
	 * (TLS 1.2 or later, no verification in the handshake: DANE and PKIX
	 * are judged afterwards by ms_rtls_verify_peer). */
	struct ssl_ctx_st *tls;
	/** PKIX trust anchors (PEM bundle) when `ca_store` is NULL; NULL: the
	 * system store.  Loaded once per delivery handle, at its first TLS
	 * session, and kept for the handle's other connections (a load that
	 * fails is tried again at the next session); a send handle loads it
	 * once for all its domains' deliveries. */
	const char *ca_file;
	int64_t now;               /**< certificate dates; 0: the env clock */
	unsigned timeout_ms;       /**< per SMTP step; 0: the transport's default */
	/** The recipient-domain memory (borrowed; NULL: nothing recorded) and
	 * the sender account to record under (NULL: the MAIL FROM address). */
	struct ms_rtls_store *memory;
	const char *account;
	/** Version 2: every observed attempt (struct ms_rtls_tlsrpt_event) is
	 * handed to observer(observer_arg, ev); NULL: none. */
	ms_rtls_attempt_observer_fn observer;
	void *observer_arg;
	/** Version 3: the PKIX trust store for every connection (borrowed,
	 * must outlive the handle; ca_file is then not read).  One loaded
	 * X509_STORE may serve all deliveries of an MTA, in any number of
	 * threads: OpenSSL locks it, and once loaded it is safe for
	 * concurrent verification.  NULL: the handle loads its own (ca_file). */
	struct x509_store_st *ca_store;
	/** Version 3: the DANE context for every connection (borrowed, must
	 * outlive the handle), typically the MTA's one context with the
	 * certificate cache on (ms_dane_ctx_set_cert_cache), shared by all
	 * deliveries and threads (mailsec/dane.h: read-only after its setters,
	 * the cache locks itself), so that the CA certificates seen before
	 * are not decoded again.  NULL: a fresh context per connection. */
	const struct ms_dane_ctx *dane_ctx;
};

/** What one MAIL/RCPT/DATA envelope carries (all borrowed). */
struct ms_rtls_envelope {
	const char *from;                /**< MAIL FROM address, "" for <> */
	const char *const *rcpt;         /**< recipient addresses */
	size_t nrcpt;                    /**< 1 .. MS_RTLS_DELIVER_MAX_RCPT */
	const uint8_t *msg;              /**< the message (headers and body) */
	size_t msglen;
};

/** One attempt: one SMTP session on one host. */
struct ms_rtls_attempt {
	const struct ms_rtls_route_host *host; /**< borrowed from the route */
	enum ms_rtls_tls_mode mode;  /**< the host's plan */
	char addr[64];               /**< the address connected to ("" if none) */
	struct ms_rtls_observed o;   /**< o.plaintext: the plaintext retry */
	int greeted;                 /**< 220 greeting and EHLO answered */
	char tls[96];                /**< "PROTOCOL CIPHER" when TLS was up */
	char dane[300];              /**< DANE check detail ("" when not run) */
	char pkix[300];              /**< PKIX check detail ("" when not run) */
	char error[300];             /**< the transport/protocol step that failed */
	struct ms_rtls_outcome out;  /**< the engine's judgement, or the server's
					refusal (verdict PERMFAIL/TRY_NEXT) */
	int delivered;               /**< the final "." got a 2xx (for the
					recipients accepted at RCPT) */
	size_t rcpt_accepted;        /**< recipients that got a 2xx to RCPT */
	char mail_params[128];       /**< what MAIL FROM carried */
	char reply[300];             /**< the server's last reply */
	/** The RFC 8460 s4.3 result type of the attempt (what
	 * ms_rtls_tlsrpt_event.result says): STARTTLS refused (454) or not
	 * offered is starttls-not-supported, never validation-failure. */
	enum ms_tlsrpt_result tlsrpt;
};

/** One recipient's result. */
struct ms_rtls_rcpt_result {
	const char *address;         /**< as given (copied) */
	int delivered;
	/** Not delivered: why (a refused RCPT, or the domain's conclusion). */
	struct ms_rtls_outcome out;
	char reply[300];             /**< the RCPT reply when refused, the
					final DATA reply when delivered */
	const struct ms_rtls_attempt *attempt; /**< the deciding attempt, or NULL */
};

/* ---- one recipient domain ---------------------------------------------- */

struct ms_rtls_delivery;

/**
 * Prepare the delivery of `env_msg` to its recipients of one domain over
 * `route` (borrowed; planned for `requirement`, which is the message's
 * and labels the metrics).  No I/O.  `opts` may be NULL (defaults).
 */
MS_RTLS_API ms_status ms_rtls_deliver_new(const struct ms_env *env,
					  const struct ms_rtls_route *route,
					  enum ms_rtls_requirement requirement,
					  const struct ms_rtls_envelope *env_msg,
					  const struct ms_rtls_deliver_opts *opts,
					  struct ms_rtls_delivery **out,
					  char *why, size_t whylen);
/** NULL-safe. */
MS_RTLS_API void ms_rtls_deliver_free(struct ms_rtls_delivery *d);
/** Advance without waiting: start the next host's attempt, or go on with
 * the one in progress (and the plaintext retry when the engine asks for
 * it) as far as its socket allows; MS_OK also when an attempt failed.
 * MS_ERR_STATE when done; MS_ERR_NOMEM, MS_ERR_TLS (no TLS context). */
MS_RTLS_API ms_status ms_rtls_deliver_step(struct ms_rtls_delivery *d, char *why,
					   size_t whylen);
/** What the next step waits for: the session's descriptor (-1: none,
 * wait for the time only), the poll(2) events it needs (POLLIN, POLLOUT;
 * 0 with fd -1), and at most how long in ms (0: step again at once; the
 * deadline of the SMTP step in progress, or a short tick while the kernel
 * still queues the message, RFC 5321 s4.5.3.2).  Done: -1, 0, -1. */
MS_RTLS_API int ms_rtls_deliver_fd(const struct ms_rtls_delivery *d);
MS_RTLS_API int ms_rtls_deliver_events(const struct ms_rtls_delivery *d);
MS_RTLS_API int ms_rtls_deliver_timeout_ms(const struct ms_rtls_delivery *d);
/** 1 when every recipient has its result. */
MS_RTLS_API int ms_rtls_deliver_done(const struct ms_rtls_delivery *d);
/** Step until done, polling the descriptor in between. */
MS_RTLS_API ms_status ms_rtls_deliver_run(struct ms_rtls_delivery *d, char *why,
					  size_t whylen);

/** Results (meaningful once done). */
MS_RTLS_API const struct ms_rtls_route *ms_rtls_deliver_route(const struct ms_rtls_delivery *d);
/** 1 when every recipient of the domain was delivered. */
MS_RTLS_API int ms_rtls_deliver_delivered(const struct ms_rtls_delivery *d);
/** The attempt that delivered (the first one, if several), or NULL. */
MS_RTLS_API const struct ms_rtls_attempt *ms_rtls_deliver_success(const struct ms_rtls_delivery *d);
/** The domain's outcome when a recipient was not delivered: the host loop's
 * conclusion (ms_rtls_conclude, or the route's no-host outcome), or for
 * refused recipients ms_rtls_conclude over their outcomes; zeroed (verdict
 * DELIVER) when all were delivered.  bounce_enhanced and text make the
 * DSN (RFC 3464). */
MS_RTLS_API const struct ms_rtls_outcome *ms_rtls_deliver_outcome(const struct ms_rtls_delivery *d);
MS_RTLS_API size_t ms_rtls_deliver_attempt_count(const struct ms_rtls_delivery *d);
MS_RTLS_API const struct ms_rtls_attempt *ms_rtls_deliver_attempt(const struct ms_rtls_delivery *d,
								   size_t i);
MS_RTLS_API size_t ms_rtls_deliver_rcpt_count(const struct ms_rtls_delivery *d);
MS_RTLS_API const struct ms_rtls_rcpt_result *ms_rtls_deliver_rcpt(const struct ms_rtls_delivery *d,
								   size_t i);

/* ---- a message to several domains -------------------------------------- */

/** 2: `deliver` is a version-3 struct ms_rtls_deliver_opts (ca_store,
 * dane_ctx), which moved the members after it.  Version 1 structs (with a
 * version-2 `deliver`, the layout before) are still accepted by
 * ms_rtls_send_new. */
#define MS_RTLS_SEND_OPTS_VERSION 2

struct ms_rtls_send_opts {
	unsigned version;                    /**< MS_RTLS_SEND_OPTS_VERSION */
	/** Per domain; its version is 2 or 3 (version 1 of this struct: 2). */
	struct ms_rtls_deliver_opts deliver;
	const struct ms_rtls_route_opts *route; /**< NULL: defaults */
	/** Raise a DEFAULT requirement to REQUIRED when deliver.memory knows
	 * every recipient domain supports REQUIRETLS within memory_max_age
	 * seconds (0: any age), ms_rtls_auto_requirement. */
	int auto_requiretls;
	int64_t memory_max_age;
};

struct ms_rtls_send;

/**
 * Prepare a message: check the addresses, group the recipients by
 * normalised domain (first-seen order; a recipient given twice is kept
 * once), and apply the auto-REQUIRETLS rule.  `dns` (required) and `sts`
 * (NULL: no MTA-STS) are borrowed until free, and so is the envelope
 * (its addresses and message bytes).  `opts` is copied, with its strings
 * (helo, ca_file, account); its tls context, memory store, ca_store and
 * dane_ctx stay borrowed until free (every domain's delivery uses them).  No network I/O (the
 * memory store is read).  MS_ERR_INVALID names the bad address in `why`.
 */
MS_RTLS_API ms_status ms_rtls_send_new(const struct ms_env *env, struct ms_dns_ctx *dns,
				       struct ms_sts *sts,
				       enum ms_rtls_requirement requirement,
				       const struct ms_rtls_envelope *env_msg,
				       const struct ms_rtls_send_opts *opts,
				       struct ms_rtls_send **out, char *why, size_t whylen);
MS_RTLS_API void ms_rtls_send_free(struct ms_rtls_send *s);
/**
 * One step, never waiting: start the next domain's route
 * (ms_rtls_route_start), or one step of that route (its lookups and
 * MTA-STS discovery are asynchronous; when it ends, the domain's delivery
 * is made), or one step of the current domain's delivery
 * (ms_rtls_deliver_step).  A route that fails returns its error, as
 * ms_rtls_route_new would (the domain keeps no route).
 */
MS_RTLS_API ms_status ms_rtls_send_step(struct ms_rtls_send *s, char *why, size_t whylen);
MS_RTLS_API int ms_rtls_send_done(const struct ms_rtls_send *s);
/** What the next step waits for.  While a route is pending: its
 * descriptor (ms_rtls_route_fd), POLLIN, and when to step at the latest
 * (ms).  While a domain is delivered: ms_rtls_deliver_fd, _events and
 * _timeout_ms.  fd -1 with a timeout: wait for the time only; timeout 0:
 * step again at once.  Done: -1, 0 and -1. */
MS_RTLS_API int ms_rtls_send_fd(const struct ms_rtls_send *s);
MS_RTLS_API int ms_rtls_send_events(const struct ms_rtls_send *s);
MS_RTLS_API int ms_rtls_send_timeout_ms(const struct ms_rtls_send *s);
/** Step until done, polling what the steps wait for in between. */
MS_RTLS_API ms_status ms_rtls_send_run(struct ms_rtls_send *s, char *why, size_t whylen);

/** The requirement every domain was planned with, whether it was raised
 * by the memory (then it is REQUIRED), and the memory's note ("" when it
 * was read; else why it was not and the requirement was kept). */
MS_RTLS_API enum ms_rtls_requirement ms_rtls_send_requirement(const struct ms_rtls_send *s);
MS_RTLS_API int ms_rtls_send_raised(const struct ms_rtls_send *s);
MS_RTLS_API const char *ms_rtls_send_raise_note(const struct ms_rtls_send *s);
/** 1 when every recipient was delivered. */
MS_RTLS_API int ms_rtls_send_delivered(const struct ms_rtls_send *s);
/** Domains in first-seen order; the domain's name, its delivery (NULL
 * until its route was built). */
MS_RTLS_API size_t ms_rtls_send_domain_count(const struct ms_rtls_send *s);
MS_RTLS_API const char *ms_rtls_send_domain(const struct ms_rtls_send *s, size_t i);
MS_RTLS_API const struct ms_rtls_delivery *ms_rtls_send_delivery(const struct ms_rtls_send *s,
								  size_t i);
/** Recipients in the caller's order (duplicates included): the result
 * (NULL before its domain was done) and *domain its domain's index. */
MS_RTLS_API size_t ms_rtls_send_rcpt_count(const struct ms_rtls_send *s);
MS_RTLS_API const struct ms_rtls_rcpt_result *ms_rtls_send_rcpt(const struct ms_rtls_send *s,
								size_t i, size_t *domain);

/** What the report of a send shows besides the send itself (the caller's
 * envelope and message header). */
#define MS_RTLS_SEND_VIEW_VERSION 1
struct ms_rtls_send_view {
	unsigned version;                /**< MS_RTLS_SEND_VIEW_VERSION */
	const char *from;                /**< the MAIL FROM address */
	const char *const *to;           /**< the recipients as given (nto of them) */
	size_t nto;                      /**< at least ms_rtls_send_rcpt_count() */
	enum ms_rtls_tlsreq header;      /**< the message's TLS-Required field */
	int auto_requiretls;             /**< the memory rule was asked for */
};

/**
 * The report of a finished send (after ms_rtls_send_run or the last
 * step).  MS_RENDER_TEXT: per domain each attempt (host, address, mode,
 * STARTTLS, TLS, DANE, PKIX, REQUIRETLS, the verdict), the delivery or the
 * DSN that would be sent (RFC 3464 Final-Recipient, Action, Status,
 * Diagnostic-Code), then one line per recipient.  MS_RENDER_JSON: one
 * object, keys delivered, requirement, tls_required_header,
 * requiretls_raised, memory_note, the first recipient's domain's keys
 * (domain, host, address, tls, requiretls, mail_params, verdict, status,
 * bounce_status, action, dsn, reply, attempts[]), recipients[] (address,
 * domain, delivered, status, bounce_status, action, dsn, host, reply) and
 * domains[] (delivered and the domain keys); docs/cli.md lists them.
 * *out is NUL-terminated (free it with ms_render_free), *len (may be NULL) its
 * length, at most 16 MiB (else MS_ERR_LIMIT).  MS_ERR_INVALID for a bad
 * argument, MS_ERR_STATE before the send is done, MS_ERR_NOMEM.
 */
MS_RTLS_API ms_status ms_rtls_send_render(const struct ms_rtls_send *s,
					  const struct ms_rtls_send_view *v,
					  enum ms_render_format fmt, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_DELIVER_H */
