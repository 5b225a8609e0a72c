/**
 * @file
 * mailsec/requiretls_replan.h - the operator's re-plan of a queued message
 * with a changed TLS requirement (issue 14).
 *
 * A message sits in the queue because verified TLS keeps failing, or an
 * operator wants a queued message to demand REQUIRETLS after all.  One
 * handle answers both questions an operator asks before deciding:
 *   - what changes on the wire: per recipient domain and MX host, the plan
 *     before and after (mode, DANE/PKIX verification, REQUIRETLS needed,
 *     plaintext allowed, skip status) with a one-line summary;
 *   - what the MTA must requeue: the rewritten header section and the new
 *     MAIL FROM parameters that carry the new requirement.
 *
 * The stored requirement is read with the rules of a received message
 * (ms_rtls_requirement_of): REQUIRETLS in the queued MAIL FROM parameters
 * -> required (RFC 8689 s2: the TLS-Required field is then ignored); else a
 * single "TLS-Required: No" field (ms_rtls_tlsreq_scan, the folded and the
 * obsolete "TLS-Required :" forms included) -> not required; else default.
 *
 * The rewrite (RFC 8689 s3, s4.2.1, s4.2.2):
 *   required     -> REQUIRETLS added to the MAIL FROM parameters, every
 *                   TLS-Required field removed.  RFC 8689 s3 lets a relay
 *                   keep an ignored field; it is removed so that a later
 *                   hop that drops REQUIRETLS cannot find a stale "No".
 *   not-required -> REQUIRETLS removed, every TLS-Required field removed
 *                   and exactly one "TLS-Required: No" added at the end of
 *                   the header section (s3: only a single field counts).
 *   default      -> REQUIRETLS and every TLS-Required field removed.
 * Other parameters (SIZE, BODY, ENVID, ...) and other fields are kept
 * byte for byte, in order; the line ending of the added field follows the
 * message's first line (CRLF or LF).  The body is not touched: the caller
 * writes ms_rtls_replan_header() followed by the stored bytes from
 * ms_rtls_replan_body_offset() on.
 *
 * Policy: lowering a REQUIRETLS message is an operator decision that RFC
 * 8689 leaves to local policy (s4.2.1 only says what a sender does with a
 * REQUIRETLS message; the originator's choice is overridden here).  The
 * library does not judge it, it returns the data; each ms_rtls_replan_route
 * logs one info event (subsystem "requiretls", keys domain, requirement_old,
 * requirement_new, hosts_changed) through the env's log hook, so the MTA's
 * log records that the requirement was changed and for which domain.  Who
 * asked and why belongs in the MTA's own queue record, not in the message.
 *
 * Ownership: the handle is freed with ms_rtls_replan_free(); every pointer
 * a getter returns is owned by the handle and valid until it is freed.  The
 * message bytes and the routes are borrowed for the duration of a call
 * only.  Not thread-safe while routes are added; read-only afterwards.
 *
 * Async shape (issue 15): the handle holds no I/O.  The lookups are the
 * route's (ms_rtls_route_new, or ms_rtls_route_start for the async shape); the
 * caller adds each finished route here, so the asynchronous form adds a
 * route from its completion callback and nothing in this header changes.
 */
#ifndef MAILSEC_REQUIRETLS_REPLAN_H
#define MAILSEC_REQUIRETLS_REPLAN_H

#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_route.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_RTLS_REPLAN_MAX_HEADER (1024 * 1024) /**< header section bound */
#define MS_RTLS_REPLAN_MAX_DOMAINS 100          /**< routes per handle */

struct ms_rtls_replan;

/** One MX host, before and after (plans as ms_rtls_plan fills them). */
struct ms_rtls_replan_host {
	const char *name;              /**< the MX host name */
	uint16_t preference;
	struct ms_rtls_plan before;    /**< the plan for the stored requirement */
	struct ms_rtls_plan after;     /**< the plan for the new requirement */
	/** Plaintext may be used: the mode is opportunistic (no STARTTLS
	 * offered) or opportunistic-fallback (also after a failed handshake). */
	int plaintext_before;
	int plaintext_after;
	int changed;                   /**< mode, verification, REQUIRETLS,
					  plaintext or skip status differ */
	/** "mx1.good.test: dane -> opportunistic-fallback: DANE and MTA-STS
	 * failures ignored, plaintext allowed", or "...: unchanged (dane)". */
	const char *summary;
};

/** One recipient domain. */
struct ms_rtls_replan_domain {
	const char *domain;            /**< normalised, as the route has it */
	size_t nhosts;
	const struct ms_rtls_replan_host *hosts; /**< in delivery order */
	/** Whether the plan alone already says the message cannot go
	 * (ms_rtls_route_undeliverable), before and after, with the verdict
	 * (zeroed when deliverable). */
	int undeliverable_before;
	int undeliverable_after;
	struct ms_rtls_outcome outcome_before;
	struct ms_rtls_outcome outcome_after;
	int changed;                   /**< a host or the domain verdict changed */
};

/**
 * Read a stored message and prepare its rewrite for `requirement`.
 *  - msg, len: the stored message, or only its header section (reading
 *    stops at the first empty line; without one the whole input is the
 *    header section).  Borrowed for the call.
 *  - mail_params: the MAIL FROM parameters it was queued with, as
 *    ms_rtls_mail_parse_params reads them ("SIZE=298 REQUIRETLS"); NULL or
 *    "" for none.
 *  - requirement: the operator's choice.
 * Errors (*out stays NULL, `why` says what): MS_ERR_INVALID (NULL
 * msg/out, an unknown requirement value), MS_ERR_PARSE (bad MAIL FROM
 * parameters; an empty message; a header line that is not a field, e.g.
 * no colon, or a continuation line first; a NUL or bare CR in the header
 * section), MS_ERR_LIMIT (header section over MS_RTLS_REPLAN_MAX_HEADER,
 * too many parameters), MS_ERR_NOMEM.
 */
MS_RTLS_API ms_status ms_rtls_replan_new(const struct ms_env *env, const uint8_t *msg,
					 size_t len, const char *mail_params,
					 enum ms_rtls_requirement requirement,
					 struct ms_rtls_replan **out, char *why, size_t whylen);
/** NULL-safe. */
MS_RTLS_API void ms_rtls_replan_free(struct ms_rtls_replan *rp);

/** The stored requirement, the new one, and what the header scan said of
 * the stored TLS-Required fields (ms_rtls_tlsreq_scan). */
MS_RTLS_API enum ms_rtls_requirement ms_rtls_replan_before(const struct ms_rtls_replan *rp);
MS_RTLS_API enum ms_rtls_requirement ms_rtls_replan_after(const struct ms_rtls_replan *rp);
MS_RTLS_API enum ms_rtls_tlsreq ms_rtls_replan_tlsreq(const struct ms_rtls_replan *rp);

/** The rewritten header section (with its empty separator line when the
 * stored one had it), *len its length; not NUL-terminated. */
MS_RTLS_API const uint8_t *ms_rtls_replan_header(const struct ms_rtls_replan *rp, size_t *len);
/** Where the body starts in the stored bytes (len when there is none). */
MS_RTLS_API size_t ms_rtls_replan_body_offset(const struct ms_rtls_replan *rp);
/** The new MAIL FROM parameters, e.g. "SIZE=298 REQUIRETLS", "" for none. */
MS_RTLS_API const char *ms_rtls_replan_mail_params(const struct ms_rtls_replan *rp);
/** How many TLS-Required fields the rewrite removed, and whether it added
 * "TLS-Required: No". */
MS_RTLS_API size_t ms_rtls_replan_removed(const struct ms_rtls_replan *rp);
MS_RTLS_API int ms_rtls_replan_added(const struct ms_rtls_replan *rp);

/**
 * Re-plan one recipient domain: `route` (borrowed for the call) must have
 * been built by ms_rtls_route_new for this message's stored requirement
 * (ms_rtls_replan_before).  Its lookups are reused: every host is planned
 * again with the engine (ms_rtls_plan) for the new requirement, without a
 * second DNS or MTA-STS lookup.  Logs one info event (see above).
 * Errors: MS_ERR_INVALID (NULL arguments; a route planned for another
 * requirement; the domain added twice), MS_ERR_LIMIT (more than
 * MS_RTLS_REPLAN_MAX_DOMAINS), MS_ERR_NOMEM; the handle is unchanged.
 */
MS_RTLS_API ms_status ms_rtls_replan_route(struct ms_rtls_replan *rp,
					   const struct ms_rtls_route *route,
					   char *why, size_t whylen);

/** The domains re-planned, in the order they were added; NULL past the end. */
MS_RTLS_API size_t ms_rtls_replan_domain_count(const struct ms_rtls_replan *rp);
MS_RTLS_API const struct ms_rtls_replan_domain *ms_rtls_replan_domain(
	const struct ms_rtls_replan *rp, size_t i);

/**
 * The re-plan as `mailsec replan` shows it: the requirement and the MAIL
 * FROM parameters before and after (`mail_params` the stored ones, NULL:
 * ""), the header change, per domain and host the plan before and after
 * and whether the domain became undeliverable, and `written` (NULL: none)
 * the file the rewritten message went to.  MS_RENDER_JSON keys:
 * requirement_before, requirement_after, tls_required_header,
 * mail_params_before, mail_params_after, header_fields_removed,
 * header_field_added, domains[] (domain, changed, hosts[] (host,
 * preference, changed, summary, before{...}, after{...}),
 * undeliverable_before, undeliverable_after), written; docs/cli.md.
 * *out freed with ms_render_free, *len (may be NULL) its length, at most
 * 16 MiB.  MS_ERR_INVALID, MS_ERR_NOMEM, MS_ERR_LIMIT.
 */
MS_RTLS_API ms_status ms_rtls_replan_render(const struct ms_rtls_replan *rp,
					    const char *mail_params, const char *written,
					    enum ms_render_format fmt, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_REPLAN_H */
