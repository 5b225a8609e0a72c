/**
 * @file
 * mailsec/requiretls_route.h - from a recipient domain to a delivery plan.
 *
 * One call does what a sending MTA learns before it connects: the MX set
 * (RFC 5321 s5.1: preference order, random within a preference, implicit
 * MX; RFC 7505 null MX), each host's addresses and their DNSSEC status
 * (libdnssec-stub), the host's DANE TLSA lookup (libdane, RFC 7672 s2.2),
 * the domain's MTA-STS policy from the cache or fetched when stale
 * (libmtasts, RFC 8461 s5.1) and each host's match (s4.1), and finally the
 * decision engine's plan per host (ms_rtls_plan, requiretls_decide.h).
 *
 * Failed lookups are handled here, once, as the fail-closed rules say
 * (docs/SECURITY.md, issue 13): a failed or bogus MX lookup is never read
 * as "no MX" (the domain is deferred, RFC 7672 s2.1.1); a failed address
 * lookup leaves only the records that did answer, with their own security
 * (ms_dns_result_records_security), and none is never "insecure"; a failed
 * TLSA lookup is MS_RTLS_DANE_FAILED (the host is skipped, never tried
 * without DANE); a failed MTA-STS discovery with no cached policy is "no
 * policy" (RFC 8461 s5.1), with the reason in the note.
 *
 * Ownership: the route is an opaque handle the caller frees with
 * ms_rtls_route_free(); every pointer a getter returns (names, notes, the
 * engine inputs, the DANE lookup, the plans) is owned by the route and valid
 * until it is freed.  `dns` and `sts` are borrowed for the duration of the
 * call only (until done, for ms_rtls_route_start).  A route is read-only
 * once built, so several threads may read one route at once.
 *
 * Async shape (issue 15): ms_rtls_route_start() returns the handle at once
 * with the MX lookup (and the MTA-STS discovery) in flight; the caller
 * polls ms_rtls_route_fd() and calls ms_rtls_route_step() on readability
 * or after *timeout_ms until it returns MS_RTLS_ROUTE_DONE; the completion
 * callback runs once inside that step; ms_rtls_route_status() tells how
 * the build ended; ms_rtls_route_free() at any time cancels it.  The
 * lookups of independent hosts (every MX host's A, AAAA, then TLSA) are
 * submitted together (a lookup batch, mailsec/dns.h), so a route costs
 * about three round trips (MX, addresses, TLSA) whatever the number of
 * hosts.  With an MTA-STS handle the policy discovery (libmtasts
 * ms_sts_get_*: its TXT record and policy host addresses on the sts
 * handle's resolver, the HTTPS fetch on a libcurl multi handle) runs
 * beside those lookups and never blocks a step.  One descriptor: without
 * sts it is the DNS context's; with sts it is an epoll descriptor (Linux)
 * the route owns, holding the DNS context's descriptor and the
 * discovery's (itself an epoll set of the sts resolver's descriptor and
 * libcurl's sockets).  ms_rtls_route_new() is the thin synchronous loop
 * over these calls; the getters do not change.  opts.deadline_ms bounds
 * the whole build (see there).
 */
#ifndef MAILSEC_REQUIRETLS_ROUTE_H
#define MAILSEC_REQUIRETLS_ROUTE_H

#include <mailsec/dane.h>
#include <mailsec/dns.h>
#include <mailsec/mtasts.h>
#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_RTLS_ROUTE_OPTS_VERSION 2   /**< 1: without deadline_ms */
#define MS_RTLS_ROUTE_MAX_MX 64      /**< hard bound of max_mx */
#define MS_RTLS_ROUTE_MAX_ADDRS 16   /**< hard bound of max_addrs */
#define MS_RTLS_ROUTE_MAX_REASONS 12 /**< reasons kept per host */

struct ms_rtls_route_opts {
	unsigned version;        /**< MS_RTLS_ROUTE_OPTS_VERSION */
	/** How many hosts of the ordered MX set are kept (0: 10; at most
	 * MS_RTLS_ROUTE_MAX_MX).  The whole set is ordered before the cut. */
	size_t max_mx;
	/** Addresses kept per host (0: 4; at most MS_RTLS_ROUTE_MAX_ADDRS). */
	size_t max_addrs;
	/** The message is a DSN of a REQUIRETLS message (RFC 8689 s5), passed
	 * to the engine as ms_rtls_domain.dsn_of_requiretls. */
	int dsn_of_requiretls;
	/** Version 2: the whole build's deadline in milliseconds from the
	 * start (0: none; each lookup keeps the DNS context's timeout and the
	 * MTA-STS fetch its own).  At the deadline the lookups still pending
	 * read as failed (timeout): a failed MX lookup defers the domain, a
	 * host whose address or TLSA lookup failed is skipped or deferred,
	 * exactly as for a lookup that timed out; an MTA-STS discovery still
	 * pending makes the build fail with MS_ERR_TIMEOUT (a temporary
	 * failure: defer the domain).  Never a downgrade. */
	unsigned deadline_ms;
};

struct ms_rtls_route;
struct ms_rtls_route_host;

/**
 * Look everything up for `domain` (A- or U-label, normalised with
 * ms_dns_hostname_normalize) and plan every host for `requirement`.
 *  - env: hooks (copied; NULL for defaults).  Its clock is not used: DANE
 *    and PKIX dates are checked by ms_rtls_verify_peer().
 *  - dns: the resolver (borrowed, required).
 *  - sts: an MTA-STS handle (borrowed; its store is the policy cache and
 *    its fetch configuration is used when the cached policy is stale or
 *    missing); NULL: MTA-STS is not used and the domain has no policy.
 *  - opts: NULL for the defaults.
 * A failed lookup is not an error: it is an input of the plan (a bogus MX
 * gives no host and a deferral, see ms_rtls_route_no_host_outcome).
 * Errors (*out stays NULL): MS_ERR_INVALID (NULL dns/domain/out, a domain
 * that is not a host name, an unknown opts version), MS_ERR_NOMEM.
 */
MS_RTLS_API ms_status ms_rtls_route_new(const struct ms_env *env, struct ms_dns_ctx *dns,
					struct ms_sts *sts, const char *domain,
					enum ms_rtls_requirement requirement,
					const struct ms_rtls_route_opts *opts,
					struct ms_rtls_route **out, char *why, size_t whylen);
/** NULL-safe.  On a route still pending: cancels its lookups (waiting for
 * a delivery another thread's ms_dns_process has already begun); its
 * completion callback is not called. */
MS_RTLS_API void ms_rtls_route_free(struct ms_rtls_route *r);

/* ---- async shape (issue 15) -------------------------------------------- */

enum ms_rtls_route_state {
	MS_RTLS_ROUTE_PENDING = 0,  /**< lookups in flight: poll and step again */
	MS_RTLS_ROUTE_DONE = 1      /**< finished (or NULL) */
};
/** Completion: runs once, in the thread calling ms_rtls_route_step, with
 * the build's status (MS_OK: the getters work; else the error
 * ms_rtls_route_new would return).  The callback may free the route. */
typedef void (*ms_rtls_route_done_fn)(void *user, struct ms_rtls_route *r, ms_status st);
/**
 * Start the build of ms_rtls_route_new (same arguments and validation) and
 * return the route at once in *out.  `dns` and `sts` are borrowed until the
 * route is done or freed; `dns` may be shared with other routes and other
 * async callers (answers arrive in whichever thread calls ms_dns_process;
 * the route locks its own state).  `done` may be NULL.  Errors (*out NULL):
 * as ms_rtls_route_new.  The callback never runs inside this call.
 */
MS_RTLS_API ms_status ms_rtls_route_start(const struct ms_env *env, struct ms_dns_ctx *dns,
					  struct ms_sts *sts, const char *domain,
					  enum ms_rtls_requirement requirement,
					  const struct ms_rtls_route_opts *opts,
					  ms_rtls_route_done_fn done, void *user,
					  struct ms_rtls_route **out, char *why, size_t whylen);
/** The one descriptor to poll for readability: the DNS context's without
 * an MTA-STS handle, else the route's own epoll descriptor (DNS context
 * and the MTA-STS discovery's sockets); -1 when done, or for an injected
 * resolver without sts (then just step after *timeout_ms). */
MS_RTLS_API int ms_rtls_route_fd(const struct ms_rtls_route *r);
/**
 * Deliver what arrived (ms_dns_process on the DNS context, which also
 * delivers other callers' answers: step each of them), step the MTA-STS
 * discovery (its transfer's sockets, without waiting), submit the next
 * lookups, and when nothing is left (and the discovery ended) apply the
 * policy and run the plans, then the callback.  Never blocks.  *timeout_ms (may be NULL): when to step at the
 * latest if the descriptor stays quiet.  A finished route returns
 * MS_RTLS_ROUTE_DONE and calls nobody.
 */
MS_RTLS_API enum ms_rtls_route_state ms_rtls_route_step(struct ms_rtls_route *r, int *timeout_ms);
/** How the build ended: MS_ERR_STATE while pending, else its status. */
MS_RTLS_API ms_status ms_rtls_route_status(const struct ms_rtls_route *r, char *why,
					   size_t whylen);

/* ---- domain-level facts ----------------------------------------------- */

/** The normalised domain (A-labels, lower case, no trailing dot). */
MS_RTLS_API const char *ms_rtls_route_domain(const struct ms_rtls_route *r);
/** What the engine gets for the domain (pass it to ms_rtls_judge). */
MS_RTLS_API const struct ms_rtls_domain *ms_rtls_route_engine_domain(const struct ms_rtls_route *r);

/** Flags of ms_rtls_route_flags(). */
#define MS_RTLS_ROUTE_NULL_MX 0x01     /**< RFC 7505: the domain accepts no mail */
#define MS_RTLS_ROUTE_IMPLICIT_MX 0x02 /**< no MX: the domain itself (RFC 5321 s5.1) */
#define MS_RTLS_ROUTE_NXDOMAIN 0x04    /**< the domain does not exist (validly) */
#define MS_RTLS_ROUTE_MX_FAILED 0x08   /**< MX lookup failed or bogus: defer */
#define MS_RTLS_ROUTE_TRUNCATED 0x10   /**< more MX hosts than max_mx */
#define MS_RTLS_ROUTE_STS_POLICY 0x20  /**< an MTA-STS policy applies */
#define MS_RTLS_ROUTE_NULL_MX_MIXED 0x40 /**< a "0 ." among other MX records
					    (ignored, RFC 7505 s3) */
#define MS_RTLS_ROUTE_MX_MALFORMED 0x80  /**< an MX record could not be read */
#define MS_RTLS_ROUTE_STS_UNKNOWN 0x100  /**< MTA-STS published but the policy is
					    unknown (fetch failed, policy store
					    unreachable): defer (issue 19) */
MS_RTLS_API unsigned ms_rtls_route_flags(const struct ms_rtls_route *r);
/** Number of usable MX records before the cut to max_mx. */
MS_RTLS_API size_t ms_rtls_route_mx_total(const struct ms_rtls_route *r);
/** How the MX lookup ended (MS_DNS_SERVFAIL when it was impossible) and
 * its RFC 8914 extended error (-1: none) with the resolver's text (never
 * NULL, "" when none), for reports of a bogus or failed lookup. */
MS_RTLS_API enum ms_dns_outcome ms_rtls_route_mx_outcome(const struct ms_rtls_route *r);
MS_RTLS_API int ms_rtls_route_mx_ede(const struct ms_rtls_route *r, const char **text);
/** "MX lookup: answer, DNSSEC secure", "MX lookup impossible: ..." */
MS_RTLS_API const char *ms_rtls_route_mx_note(const struct ms_rtls_route *r);
/** "MTA-STS policy id X, mode enforce", "no MTA-STS (...)", "" when sts was
 * NULL. */
MS_RTLS_API const char *ms_rtls_route_sts_note(const struct ms_rtls_route *r);
/** The policy id, NULL when no policy applies. */
MS_RTLS_API const char *ms_rtls_route_sts_policy_id(const struct ms_rtls_route *r);
/** libmtasts's result (for TLSRPT and reports), NULL when discovery was
 * impossible or sts was NULL. */
MS_RTLS_API const struct ms_sts_result *ms_rtls_route_sts_result(const struct ms_rtls_route *r);

/* ---- hosts, in delivery order ----------------------------------------- */

MS_RTLS_API size_t ms_rtls_route_count(const struct ms_rtls_route *r);
/** Host i (0 .. count-1), NULL past the end. */
MS_RTLS_API const struct ms_rtls_route_host *ms_rtls_route_host(const struct ms_rtls_route *r,
								size_t i);

MS_RTLS_API const char *ms_rtls_route_host_name(const struct ms_rtls_route_host *h);
MS_RTLS_API uint16_t ms_rtls_route_host_preference(const struct ms_rtls_route_host *h);
/** Addresses in text form, in the resolver's order (only records of a
 * lookup half that answered: a failed half adds none). */
MS_RTLS_API size_t ms_rtls_route_host_addr_count(const struct ms_rtls_route_host *h);
MS_RTLS_API const char *ms_rtls_route_host_addr(const struct ms_rtls_route_host *h, size_t i);
/** How the address lookup ended: its combined outcome, *failed set when
 * it (or one of its halves) failed or was impossible; for reports. */
MS_RTLS_API enum ms_dns_outcome ms_rtls_route_host_addr_outcome(const struct ms_rtls_route_host *h,
								int *failed);
/** How the A or AAAA half ended (MS_DNS_T_A / MS_DNS_T_AAAA); SERVFAIL and
 * indeterminate when the lookup was impossible. */
MS_RTLS_API void ms_rtls_route_host_addr_family(const struct ms_rtls_route_host *h, uint16_t type,
						enum ms_dns_outcome *outcome,
						enum ms_dns_security *security);
/** "" or "address lookup impossible: ..." */
MS_RTLS_API const char *ms_rtls_route_host_addr_note(const struct ms_rtls_route_host *h);
/** What the engine gets for the host (pass it to ms_rtls_judge). */
MS_RTLS_API const struct ms_rtls_host *ms_rtls_route_host_engine(const struct ms_rtls_route_host *h);
/** The engine's plan for the host. */
MS_RTLS_API const struct ms_rtls_plan *ms_rtls_route_host_plan(const struct ms_rtls_route_host *h);
/** The DANE lookup (state, records, base domain for SNI), NULL when the
 * lookup was impossible (then the engine input is MS_RTLS_DANE_FAILED). */
MS_RTLS_API const struct ms_dane_lookup *ms_rtls_route_host_dane(const struct ms_rtls_route_host *h);
/** The TLSA lookup's reason sentence. */
MS_RTLS_API const char *ms_rtls_route_host_dane_note(const struct ms_rtls_route_host *h);
/** The name to send as SNI: the TLSA base domain (RFC 7672 s8.1), else the
 * MX host name. */
MS_RTLS_API const char *ms_rtls_route_host_sni(const struct ms_rtls_route_host *h);
/** libmtasts's verdict for the host (meaningful when a policy applies). */
MS_RTLS_API enum ms_sts_verdict ms_rtls_route_host_sts_verdict(const struct ms_rtls_route_host *h);
/** The human reasons behind the plan, one sentence each (what `mailsec
 * plan` prints): count, then reason i (NULL past the end). */
MS_RTLS_API size_t ms_rtls_route_host_reason_count(const struct ms_rtls_route_host *h);
MS_RTLS_API const char *ms_rtls_route_host_reason(const struct ms_rtls_route_host *h, size_t i);

/* ---- outcomes ----------------------------------------------------------- */

/**
 * The outcome when the domain has no host to plan: a bogus or failed MX
 * lookup (TEMPFAIL, the engine's deferral, RFC 7672 s2.1.1), a null MX
 * (PERMFAIL 5.1.10, RFC 7505 s3), a domain that does not exist (PERMFAIL
 * 5.1.2, RFC 3463 s3.2), or no MX and no address (TEMPFAIL 4.4.4 from
 * ms_rtls_conclude).  NULL-safe on `out` only.  The caller sets
 * out->version (MS_RTLS_OUTCOME_VERSION); with version 0 nothing is written.
 */
MS_RTLS_API void ms_rtls_route_no_host_outcome(const struct ms_rtls_route *r,
					       struct ms_rtls_outcome *out);
/**
 * Whether the plan alone already says the message cannot go now: 1 when no
 * host is left to try (no host, or every host skipped), with *out the final
 * verdict (ms_rtls_route_no_host_outcome, or ms_rtls_conclude over the
 * skipped hosts); 0 when a host may be tried (*out zeroed).  `out` may be
 * NULL; as in ms_rtls_route_no_host_outcome it is filled only when the
 * caller set its version.
 */
MS_RTLS_API int ms_rtls_route_undeliverable(const struct ms_rtls_route *r,
					    struct ms_rtls_outcome *out);

/* ---- MAIL FROM parameters and the report -------------------------------- */

/** The MAIL FROM parameters a plan leads to (RFC 8689 s4.2: "REQUIRETLS"
 * when the plan needs it, else ""), into out (NUL-terminated, "" when it
 * does not fit). */
MS_RTLS_API void ms_rtls_plan_mail_params(const struct ms_rtls_plan *p, char *out,
					  size_t outsize);
/** The MAIL FROM parameters of the first host that may be tried (hosts in
 * delivery order, skipped ones passed over): 1 with out set, 0 (out "")
 * when every host is skipped or there is none. */
MS_RTLS_API int ms_rtls_route_mail_params(const struct ms_rtls_route *r, char *out,
					  size_t outsize);
/**
 * The route as `mailsec plan` shows it.  MS_RENDER_TEXT: the domain, its
 * requirement, the MX and MTA-STS notes, per host its mode, reasons and
 * MAIL FROM parameters.  MS_RENDER_JSON: one object, keys domain,
 * requirement, mx_security, null_mx, implicit_mx, mta_sts_mode,
 * mta_sts_note, hosts[] (host, preference, addresses[], addr_security,
 * mode, dane, mta_sts{mode, match, verdict}, verify_dane, verify_pkix,
 * report_pkix, need_requiretls, policy_mode, skip_reason/status/text when
 * skipped, mail_params, reasons[]), mail_params (the first usable host's,
 * null when none) and undeliverable (null, or {verdict, status,
 * bounce_status, text}); docs/cli.md.  *out freed with ms_render_free, *len
 * (may be NULL) its length, at most 16 MiB.  MS_ERR_INVALID, MS_ERR_NOMEM,
 * MS_ERR_LIMIT.
 */
MS_RTLS_API ms_status ms_rtls_route_render(const struct ms_rtls_route *r,
					   enum ms_render_format fmt, char **out, size_t *len);

/** Static names of the engine's inputs for reports: "none", "usable",
 * "unusable", "insecure", "failed"; "no-policy", "none", "testing",
 * "enforce". */
MS_RTLS_API const char *ms_rtls_dane_str(enum ms_rtls_dane d);
MS_RTLS_API const char *ms_rtls_sts_mode_str(enum ms_rtls_sts_mode m);


/* ---- the route as a Postfix TLS policy (mailsec-policyd) --------------- */

/** What a Postfix smtp_tls_policy_maps lookup answers (socketmap(5)). */
enum ms_rtls_postfix_kind {
	MS_RTLS_POSTFIX_OK = 0,       /**< "OK <policy>": the policy applies */
	MS_RTLS_POSTFIX_NOTFOUND = 1, /**< "NOTFOUND ": no policy, main.cf decides */
	MS_RTLS_POSTFIX_TEMP = 2      /**< "TEMP <reason>": a lookup failed, defer */
};
/** Flags of ms_rtls_route_postfix_policy(). */
#define MS_RTLS_POSTFIX_TESTING_AS_ENFORCE 0x01 /**< MTA-STS testing like enforce */
/** A reply buffer of this size always holds the reply (1 KiB less than
 * Postfix's socketmap limit of 100000 bytes, far above any real policy). */
#define MS_RTLS_POSTFIX_REPLY_MAX 4096

/**
 * Render a built route as the socketmap reply of Postfix's
 * smtp_tls_policy_maps (postconf(5) "TLS policy table"), the decisions being
 * the route's own (its plans, RFC 7672 and RFC 8461):
 *  - the MX lookup failed or was bogus, or any host's address or TLSA
 *    lookup failed or was bogus (the plan skips it with a temporary
 *    reason): "TEMP <reason>" - Postfix defers; a failure is never
 *    NOTFOUND, which would let main.cf's default (often "may") apply to a
 *    domain that may have DANE (RFC 7672 s2.1.1, s2.2);
 *  - every host to try has usable DANE (DNSSEC-secure MX set and address,
 *    secure TLSA RRset with a usable record): "OK dane-only";
 *  - some hosts have DANE (usable or all-unusable TLSA) and no MTA-STS
 *    enforce policy applies: "OK dane" (Postfix applies RFC 7672 host by
 *    host, the others opportunistic);
 *  - an MTA-STS enforce policy applies (testing too with
 *    MS_RTLS_POSTFIX_TESTING_AS_ENFORCE) and not every host has DANE:
 *    "OK secure match=P1:P2... servername=hostname" with the policy's mx
 *    patterns ("*.example.com" becomes Postfix's ".example.com", which also
 *    matches deeper names: Postfix cannot say "one label");
 *  - otherwise (no MX and no address, a null MX, a domain that does not
 *    exist, no DANE and no enforce policy; an MTA-STS discovery failure
 *    without a cached policy is "no policy", RFC 8461 s5.1): "NOTFOUND ".
 * `reply` gets the whole reply text (printable ASCII, NUL-terminated; give
 * it MS_RTLS_POSTFIX_REPLY_MAX bytes), `kind` (optional) its kind.  A
 * reply that does not fit is never cut: it becomes "TEMP policy too long"
 * (MS_ERR_LIMIT, kind TEMP) when that fits.  Errors: MS_ERR_INVALID (NULL
 * route or reply, a route not built, replylen < 32), MS_ERR_LIMIT.
 * Thread-safe on a built route.
 */
MS_RTLS_API ms_status ms_rtls_route_postfix_policy(const struct ms_rtls_route *r, unsigned flags,
						   enum ms_rtls_postfix_kind *kind, char *reply,
						   size_t replylen);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_ROUTE_H */
