/**
 * @file
 * mailsec/auth.h - inbound authentication of one message in one call:
 * SPF (RFC 7208), every DKIM signature (RFC 6376), DMARC (RFC 7489, the
 * author domain found by the library), iprev (RFC 8601 s3), each with the
 * DNSSEC status of its lookups, the Authentication-Results field (RFC 8601,
 * with header.b for every signature), the Received-SPF field (RFC 7208
 * s9.1) and a disposition for the MTA.  An MTA or milter needs nothing else.
 *
 *   struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
 *       .authserv_id = "mx.example.net", .client_ip = "192.0.2.1",
 *       .helo = "mail.example.test", .mail_from = "joe@example.test",
 *       .flags = MS_AUTH_APPLY_POLICY };
 *   struct ms_auth *a;
 *   ms_auth_new(env, &o, &a, why, sizeof(why));
 *   ms_auth_feed(a, chunk, n, why, sizeof(why));   (as often as needed)
 *   ms_auth_finish(a, why, sizeof(why));
 *   ms_auth_header(a), ms_auth_disposition(a), ...
 *   ms_auth_free(a);
 * or ms_auth_run() for a message in memory.
 *
 * Parallel lookups, one deadline: every DKIM key, the DMARC record (and
 * its organisational-domain fallback), iprev (PTR, then the names' A/AAAA)
 * and the SPF chain (one link after another, as RFC 7208 requires) are in
 * flight together, so a verdict takes about as many round trips as its
 * longest chain, not the sum of all lookups.  The whole verdict has one
 * deadline (deadline_ms): a lookup still unanswered then makes its method
 * temperror (never "absent"); the other methods are reported.  How: the
 * evaluators the handle makes resolve through a private view that answers
 * from the lookups the handle submitted with ms_dns_submit (libspfdkim/src/
 * auth_async.c explains the rounds).  Evaluators passed in the options
 * resolve through their own contexts, synchronously, in the final step:
 * pass them only when their caches or policy settings matter more.
 *
 * Async shape for event-loop MTAs (one thread may drive any number of
 * verdicts on one DNS context):
 *   ms_auth_new + ms_auth_feed as above, then
 *   ms_auth_start(a, done_cb, user, why, len);   lookups go out
 *   poll ms_auth_fd(a) (the DNS context's fd) for readability, and on
 *   readability or after *timeout_ms call ms_auth_step(a, &timeout_ms)
 *   until it returns MS_AUTH_DONE; done_cb runs once, inside that step;
 *   ms_auth_status() tells how it ended, the getters read the results.
 *   ms_auth_free() at any time cancels (pending lookups are cancelled).
 * ms_auth_finish is this loop (a thin synchronous wrapper).
 *
 * Bounds: the DKIM verifier's header bounds (MS_DKIM_MAX_HEADER,
 * MS_DKIM_MAX_FIELDS) make every signature permerror, the From scan's own
 * bound (MS_DMARC_MAX_HEADER_SCAN octets of header section, kept in memory
 * until the empty line) makes DMARC permerror; the other methods are
 * reported as usual.  Protocol results are results, not errors.
 *
 * Thread safety: a handle is used by one thread at a time; the borrowed
 * evaluators in the options follow their own rules (a DKIM verifier may be
 * shared, an SPF or DMARC evaluator may not).
 */
#ifndef MAILSEC_AUTH_H
#define MAILSEC_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dkim.h>
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
#define MS_AUTH_API MS_API

/* Flags (ms_auth_opts.flags). */
/** Turn the DMARC disposition (p=/sp=/np= after pct= and t=) into
 * quarantine or reject; without it the disposition is always accept. */
#define MS_AUTH_APPLY_POLICY 0x01u
/** Reject a message whose author domain cannot be determined (no From,
 * two From fields, mailboxes in several domains, malformed: RFC 7489
 * s6.6.1); without it such a message is accepted with dmarc=permerror. */
#define MS_AUTH_REJECT_BAD_FROM 0x02u

#define MS_AUTH_OPTS_VERSION 1

/** The whole verdict's deadline when ms_auth_opts.deadline_ms is 0. */
#define MS_AUTH_DEFAULT_DEADLINE_MS 20000u

/** Zero-initialise, set `version`, fill in.  Strings are copied. */
struct ms_auth_opts {
	unsigned version;          /**< MS_AUTH_OPTS_VERSION */
	struct ms_dns_ctx *dns;    /**< required, borrowed: outlives the handle */
	const char *authserv_id;   /**< required (RFC 8601 s2.5): the MTA's name */
	const char *client_ip;     /**< required: the SMTP client's address */
	const char *helo;          /**< required: HELO/EHLO name */
	const char *mail_from;     /**< required: MAIL FROM address, "" for <> */
	unsigned flags;            /**< MS_AUTH_* */
	unsigned iprev_max_names;  /**< PTR names tried; 0: the iprev default */
	/** Optional evaluators to reuse across messages (borrowed; their
	 * caches and policy settings apply); NULL: the call makes its own. */
	struct ms_dkim_verifier *dkim;
	struct ms_spf *spf;
	struct ms_dmarc *dmarc;
	/** The whole verdict's deadline in milliseconds from the end of the
	 * message (ms_auth_start/finish); 0: MS_AUTH_DEFAULT_DEADLINE_MS.
	 * Each lookup also keeps the DNS context's own timeout_ms. */
	unsigned deadline_ms;
};

/** What the MTA should do with the message. */
enum ms_auth_disposition {
	MS_AUTH_ACCEPT = 0,
	MS_AUTH_QUARANTINE = 1,
	MS_AUTH_REJECT = 2
};

struct ms_auth;

/**
 * Start one message.  MS_ERR_INVALID with `why` for a missing or bad
 * option (no DNS context, an authserv-id with controls, CR, LF or
 * non-ASCII, no client IP or HELO, no MAIL FROM: pass "" for the null
 * sender), MS_ERR_NOMEM.  Caller frees *out with ms_auth_free().
 */
MS_AUTH_API ms_status ms_auth_new(const struct ms_env *env, const struct ms_auth_opts *opts,
				  struct ms_auth **out, char *why, size_t whylen);
/** NULL-safe; also cancels a message that was never finished (its pending
 * lookups are cancelled; a delivery already under way in another thread
 * is waited for). */
MS_AUTH_API void ms_auth_free(struct ms_auth *a);
/**
 * Feed the next `len` bytes of the message as received (header, empty
 * line, body; CRLF or bare LF line ends; chunks split anywhere).  Memory:
 * the header section (bounded as above), never the body.  MS_ERR_NOMEM,
 * MS_ERR_STATE after finish.
 */
MS_AUTH_API ms_status ms_auth_feed(struct ms_auth *a, const uint8_t *buf, size_t len,
				   char *why, size_t whylen);
/**
 * End of message: run SPF, iprev, DKIM, DMARC and write the fields.  MS_OK
 * once every result exists; then the getters work.  MS_ERR_INVALID when
 * the client IP (or HELO / MAIL FROM) cannot be used by SPF or iprev
 * ("spf: ..." / "iprev: ..." in `why`), MS_ERR_NOMEM, MS_ERR_STATE when
 * called twice.
 */
MS_AUTH_API ms_status ms_auth_finish(struct ms_auth *a, char *why, size_t whylen);
/* ---- async shape ---------------------------------------------------- */
enum ms_auth_state {
	MS_AUTH_PENDING = 0,   /**< lookups in flight: poll and step again */
	MS_AUTH_DONE = 1       /**< finished (or never started) */
};
/** Completion: runs once, in the thread calling ms_auth_step, with the
 * verdict's status (MS_OK: the getters work; else as ms_auth_finish). The
 * callback may free the handle. */
typedef void (*ms_auth_done_fn)(void *user, struct ms_auth *a, ms_status st);
/**
 * End of message: find the author domain and the DKIM keys, submit the
 * first lookups.  Never calls `done` (NULL allowed): the first
 * ms_auth_step does, even if nothing was left to look up.  MS_ERR_STATE
 * when called twice (or after ms_auth_finish), MS_ERR_NOMEM.
 */
MS_AUTH_API ms_status ms_auth_start(struct ms_auth *a, ms_auth_done_fn done, void *user,
				    char *why, size_t whylen);
/** The descriptor to poll for readability: the DNS context's (-1 for an
 * injected resolver: just step after *timeout_ms). */
MS_AUTH_API int ms_auth_fd(const struct ms_auth *a);
/**
 * Deliver what arrived (ms_dns_process on the DNS context, which also
 * delivers other verdicts' answers: step each of them), advance, and at
 * the end call `done`.  *timeout_ms (may be NULL): when to step at the
 * latest (0: at once), bounded by the deadline.  Answers may be delivered
 * by another thread's ms_dns_process (the handle locks its table), but a
 * handle is stepped by one thread at a time.
 */
MS_AUTH_API enum ms_auth_state ms_auth_step(struct ms_auth *a, int *timeout_ms);
/** How a finished verdict ended (MS_ERR_STATE before the end). */
MS_AUTH_API ms_status ms_auth_status(const struct ms_auth *a, char *why, size_t whylen);

/** new + feed(msg) + finish for a message in memory; on failure *out is
 * NULL. */
MS_AUTH_API ms_status ms_auth_run(const struct ms_env *env, const struct ms_auth_opts *opts,
				  const uint8_t *msg, size_t len, struct ms_auth **out,
				  char *why, size_t whylen);

/* ---- results: valid after a successful finish; strings and verdicts are
 * borrowed and live as long as the handle ---------------------------------- */

/** "Authentication-Results: ID;\r\n\tspf=... ;\r\n\tdkim=...", folded with
 * CRLF TAB, no trailing CRLF: spf, one dkim per signature (dkim=none when
 * unsigned) with header.d, header.s and header.b, dmarc, iprev. */
MS_AUTH_API const char *ms_auth_header(const struct ms_auth *a);
/** "Received-SPF: ..." (RFC 7208 s9.1), receiver = the authserv-id. */
MS_AUTH_API const char *ms_auth_received_spf(const struct ms_auth *a);
MS_AUTH_API enum ms_auth_disposition ms_auth_disposition(const struct ms_auth *a);
MS_AUTH_API const char *ms_auth_disposition_str(enum ms_auth_disposition d);

/** SPF of MAIL FROM (or HELO for the null sender). */
MS_AUTH_API enum ms_spf_result ms_auth_spf_result(const struct ms_auth *a);
MS_AUTH_API enum ms_dns_security ms_auth_spf_dnssec(const struct ms_auth *a);
MS_AUTH_API const struct ms_spf_verdict *ms_auth_spf(const struct ms_auth *a);

/** DKIM: every signature evaluated, in header order; 0 when unsigned.  A
 * header bound gives at least one (permerror) entry, and its reason in
 * ms_auth_dkim_limit (NULL otherwise). */
MS_AUTH_API size_t ms_auth_dkim_count(const struct ms_auth *a);
/** Signature i (NULL for a bad index): ms_dkim_sig_result, _domain,
 * _selector, _algorithm, _b_prefix (header.b), _dnssec, _reason. */
MS_AUTH_API const struct ms_dkim_sig *ms_auth_dkim_sig(const struct ms_auth *a, size_t i);
/** The result of signature i as DMARC and Authentication-Results see it
 * (MS_DMARC_DKIM_NONE for a bad index). */
MS_AUTH_API enum ms_dmarc_dkim_result ms_auth_dkim_result(const struct ms_auth *a, size_t i);
MS_AUTH_API const char *ms_auth_dkim_limit(const struct ms_auth *a);
/** The mapping from a DKIM verifier result to the RFC 8601 keyword enum
 * DMARC takes: the two enums differ (MS_DKIM_PASS is 0, MS_DMARC_DKIM_PASS
 * is 1), so never cast one to the other. */
MS_AUTH_API enum ms_dmarc_dkim_result ms_auth_dkim_to_dmarc(enum ms_dkim_result r);

/** DMARC.  permerror without a verdict when the author domain cannot be
 * determined (ms_auth_dmarc_from_outcome says why). */
MS_AUTH_API enum ms_dmarc_result ms_auth_dmarc_result(const struct ms_auth *a);
/** NULL when no evaluation was possible. */
MS_AUTH_API const struct ms_dmarc_verdict *ms_auth_dmarc(const struct ms_auth *a);
MS_AUTH_API enum ms_dmarc_from_outcome ms_auth_dmarc_from_outcome(const struct ms_auth *a);
/** The RFC5322.From domain, or NULL when there is none. */
MS_AUTH_API const char *ms_auth_dmarc_from_domain(const struct ms_auth *a);
/** The verdict's reason, or the From problem. */
MS_AUTH_API const char *ms_auth_dmarc_reason(const struct ms_auth *a);
/** Policy that applied and DMARC's disposition (ABSENT without a verdict). */
MS_AUTH_API enum ms_dmarc_policy ms_auth_dmarc_policy(const struct ms_auth *a);
MS_AUTH_API enum ms_dmarc_policy ms_auth_dmarc_disposition(const struct ms_auth *a);
MS_AUTH_API enum ms_dns_security ms_auth_dmarc_dnssec(const struct ms_auth *a);

/** iprev of the client IP. */
MS_AUTH_API enum ms_iprev_result ms_auth_iprev_result(const struct ms_auth *a);
/** The forward-confirmed name on pass, else NULL. */
MS_AUTH_API const char *ms_auth_iprev_name(const struct ms_auth *a);
MS_AUTH_API enum ms_dns_security ms_auth_iprev_dnssec(const struct ms_auth *a);
MS_AUTH_API const struct ms_iprev_verdict *ms_auth_iprev(const struct ms_auth *a);

/**
 * The verdict as `mailsec auth` shows it: the Authentication-Results
 * field (CRs removed in text), then spf, dkim (one line per signature),
 * dmarc, iprev; or one JSON object (newline-terminated), keys
 * authentication_results, spf{result, domain, dnssec}, dkim[]{result,
 * domain, selector, algorithm, dnssec, reason}, dmarc{result,
 * from_domain, reason, disposition}, iprev{result, name}.  After the
 * verdict is done.  *out freed with ms_render_free, *len (may be NULL) its
 * length.  MS_ERR_INVALID, MS_ERR_NOMEM, MS_ERR_LIMIT (16 MiB).
 */
MS_AUTH_API ms_status ms_auth_render(const struct ms_auth *a, enum ms_render_format fmt,
				     char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_AUTH_H */
