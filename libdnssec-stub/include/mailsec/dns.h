/**
 * @file
 * mailsec/dns.h - libdnssec-stub: DNS lookups that know what DNSSEC proved.
 *
 * A thin, validating layer over libunbound.  Every result says how the
 * lookup ended (answer, NXDOMAIN, NODATA, SERVFAIL, timeout, refused), how
 * secure it is (secure, insecure, bogus, indeterminate), the RFC 8914
 * extended DNS error behind a failure, the TTL, and the canonical name after
 * any CNAME chain together with whether every step of that chain was signed.
 *
 * Bogus data is never handed out: a bogus result has outcome SERVFAIL and no
 * records (RFC 4035 s5.5), whatever the upstream sent.
 *
 * Names are accepted in A-label or U-label (IDNA2008) form and are returned
 * in lower-case A-label form without the trailing dot.
 *
 * Thread safety: a struct ms_dns_ctx may be shared by any number of threads
 * for synchronous lookups; the asynchronous calls (submit, process, cancel)
 * may also be made from any thread.  A struct ms_dns_result is immutable and
 * may be read from any thread; it is owned by the caller and freed with
 * ms_dns_result_free().
 */
#ifndef MAILSEC_DNS_H
#define MAILSEC_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/env.h>
#include <mailsec/status.h>
#include <mailsec/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_DNS_API MS_API

/** Record types with typed accessors; any other type works through rdata. */
enum ms_dns_type {
	MS_DNS_T_A = 1,
	MS_DNS_T_NS = 2,
	MS_DNS_T_CNAME = 5,
	MS_DNS_T_SOA = 6,
	MS_DNS_T_PTR = 12,
	MS_DNS_T_MX = 15,
	MS_DNS_T_TXT = 16,
	MS_DNS_T_AAAA = 28,
	MS_DNS_T_DS = 43,
	MS_DNS_T_DNSKEY = 48,
	MS_DNS_T_TLSA = 52
};

/** How the lookup ended. */
enum ms_dns_outcome {
	MS_DNS_ANSWER = 0,   /**< records of the asked type exist */
	MS_DNS_NXDOMAIN = 1, /**< the name does not exist */
	MS_DNS_NODATA = 2,   /**< the name exists, without records of this type */
	MS_DNS_SERVFAIL = 3, /**< the resolver failed (includes every bogus answer) */
	MS_DNS_TIMEOUT = 4,  /**< no answer within the context's timeout */
	MS_DNS_REFUSED = 5   /**< the resolver or policy refused the query */
};

/** What DNSSEC validation established (RFC 4033 s5). */
enum ms_dns_security {
	MS_DNS_SECURE = 0,        /**< validated from a trust anchor */
	MS_DNS_INSECURE = 1,      /**< provably unsigned (or no anchor covers it) */
	MS_DNS_BOGUS = 2,         /**< validation failed: the data must not be used */
	MS_DNS_INDETERMINATE = 3  /**< could not find out (timeout, SERVFAIL) */
};

/** How the resolver context finds DNS servers. */
enum ms_dns_mode {
	MS_DNS_MODE_SYSTEM = 0,  /**< forward to resolv.conf servers, validate locally */
	MS_DNS_MODE_RECURSIVE,   /**< full recursion from the root, validate locally */
	MS_DNS_MODE_FORWARD,     /**< forward to `forwarders`, validate locally */
	MS_DNS_MODE_CONFIG_FILE  /**< an unbound.conf file is the whole configuration */
};

#define MS_DNS_CONFIG_VERSION 1

/**
 * Resolver configuration.  Zero-initialise, set `version`, fill what you
 * need; NULL/0 members mean the documented default.  Strings are copied.
 */
struct ms_dns_config {
	unsigned version;              /**< MS_DNS_CONFIG_VERSION */
	enum ms_dns_mode mode;
	/** MS_DNS_MODE_FORWARD (and optionally CONFIG_FILE): "ADDR" or
	 * "ADDR@PORT" (IPv4 or IPv6). */
	const char *const *forwarders;
	size_t nforwarders;
	/** MS_DNS_MODE_CONFIG_FILE: path of an unbound.conf-format file. */
	const char *config_file;
	/**
	 * Root trust anchor file (DS or DNSKEY lines).  NULL: Debian's
	 * dns-root-data (/usr/share/dns/root.key).  Ignored in CONFIG_FILE mode,
	 * where the file must name its own anchors.
	 */
	const char *root_anchor_file;
	/** Extra anchors: a file, and/or single RR strings ("zone. DS ..."). */
	const char *trust_anchor_file;
	const char *const *trust_anchors;
	size_t ntrust_anchors;
	/** Validate signatures as at this Unix time (0: the real clock). */
	int64_t validation_time;
	/** Per-lookup deadline in milliseconds (0: 5000). */
	unsigned timeout_ms;
};

struct ms_dns_ctx;
struct ms_dns_result;

/** A parsed TLSA record (RFC 6698 s2.1); `data` is borrowed from its owner.
 * The one TLSA type of the suite: mailsec/dane.h names it ms_dane_tlsa. */
struct ms_dns_tlsa {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	const uint8_t *data;
	size_t datalen;
};

/* ---- context -------------------------------------------------------- */

/**
 * Create a resolver context.  `env` and `cfg` may be NULL (defaults: system
 * mode with the root anchor).  On failure *out is NULL and `why` (optional)
 * says what went wrong, e.g. that no trust anchor could be loaded
 * (MS_ERR_CONFIG).  The whole configuration (config file, trust anchor
 * files, auth-zone files) is loaded here, so a file that cannot be read or
 * parsed is MS_ERR_CONFIG with `why` = "trust anchor file FILE: REASON" or
 * "resolver configuration FILE: REASON" (REASON: libunbound's first error),
 * never a failure of a later lookup; libunbound's messages go to the env
 * log, none to stderr (a config file is first parsed in a short-lived child
 * process for that; docs/dns.md).  The context owns a libunbound context;
 * creating one is cheap (no network traffic until the first lookup).  Create
 * it in the process that uses it (after fork(), not before).
 */
MS_DNS_API ms_status ms_dns_ctx_new(const struct ms_env *env,
				    const struct ms_dns_config *cfg,
				    struct ms_dns_ctx **out,
				    char *why, size_t whylen);

/** Free a context; NULL-safe.  Outstanding async lookups are cancelled
 * without their callbacks being called. */
MS_DNS_API void ms_dns_ctx_free(struct ms_dns_ctx *ctx);

/**
 * An injected resolver: for unit tests, and for callers that have their own
 * DNS stack.  `resolve` must return MS_OK with a result built with
 * ms_dns_result_create() (ownership passes to the library), or an error.
 * It is called synchronously, also for ms_dns_submit() (the result is then
 * delivered by the next ms_dns_process()), and from any thread that makes a
 * lookup: it must be thread-safe if the context is shared.
 */
typedef ms_status (*ms_dns_resolve_fn)(void *user, const char *name,
				       uint16_t type,
				       struct ms_dns_result **out);

MS_DNS_API ms_status ms_dns_ctx_new_custom(const struct ms_env *env,
					   ms_dns_resolve_fn resolve,
					   void *user,
					   struct ms_dns_ctx **out);

/* ---- synchronous lookups ---------------------------------------------
 * Each returns MS_OK with a result (whatever the DNS outcome, including
 * timeout and bogus), or an error when the lookup could not be made at all:
 * MS_ERR_INVALID for a malformed name (message in `why`), MS_ERR_NOMEM,
 * MS_ERR_INTERNAL for a libunbound failure.  The caller frees *out.
 */

/** Lookup by numeric RR type (class IN). */
MS_DNS_API ms_status ms_dns_lookup(struct ms_dns_ctx *ctx, const char *name,
				   uint16_t type, struct ms_dns_result **out,
				   char *why, size_t whylen);

/**
 * Address lookup for both families (A, then AAAA); the result holds the A
 * records then the AAAA records.
 *
 * Fail closed (RFC 7672 s2.2): when either lookup failed (timeout,
 * SERVFAIL, REFUSED, bogus), the combined result is a failure: its outcome,
 * security and extended error are those of the failed half (a bogus half
 * wins over a timeout), so a caller that only looks at the outcome sees a
 * failure, never a weaker "answer".  It still holds the records of the half
 * that answered (never of the failed one): a caller that can go on with one
 * family (e.g. DANE over the secure family's addresses, see libdane) asks
 * ms_dns_result_family() how each half ended.  When neither failed:
 * outcome ANSWER if either family has addresses, else NXDOMAIN over NODATA;
 * security is the weaker of the two.
 */
MS_DNS_API ms_status ms_dns_lookup_addr(struct ms_dns_ctx *ctx,
					const char *name,
					struct ms_dns_result **out,
					char *why, size_t whylen);

/**
 * How one family of an ms_dns_lookup_addr() result ended: `type` is
 * MS_DNS_T_A or MS_DNS_T_AAAA; either output may be NULL.  MS_ERR_INVALID
 * for any other type or for a result of another lookup.
 */
MS_DNS_API ms_status ms_dns_result_family(const struct ms_dns_result *r,
					  uint16_t type,
					  enum ms_dns_outcome *outcome,
					  enum ms_dns_security *security);

/**
 * The DNSSEC status of the records the result holds: the result's own
 * security, except for a failed combined address lookup that kept the
 * other family's records, where it is that family's security.  This is
 * what decides whether those addresses are good enough for DANE
 * (RFC 7672 s2.2.1); ms_dns_result_failed() still says the lookup failed.
 * A failed result without records: its (bogus or indeterminate) security.
 */
MS_DNS_API enum ms_dns_security ms_dns_result_records_security(const struct ms_dns_result *r);

/** PTR lookup for an IPv4 or IPv6 address in text form (RFC 1035 s3.5, RFC 3596 s2.5). */
MS_DNS_API ms_status ms_dns_lookup_ptr(struct ms_dns_ctx *ctx,
				       const char *ip,
				       struct ms_dns_result **out,
				       char *why, size_t whylen);

/* ---- asynchronous lookups --------------------------------------------
 * For event-driven callers.  Submit lookups, watch ms_dns_fd() for
 * readability, and call ms_dns_process() when it is readable and at least
 * every ms_dns_next_timeout_ms() milliseconds.  Callbacks run only inside
 * ms_dns_process(), in the calling thread, and receive ownership of the
 * result (never NULL).  A callback may submit or cancel lookups.
 */
typedef void (*ms_dns_callback)(void *user, struct ms_dns_result *result);

/**
 * Start an asynchronous lookup; `cb` runs once, from a later
 * ms_dns_process(), with a result it owns (a timeout, SERVFAIL or bogus
 * result when the lookup failed), unless the lookup is cancelled first.
 *
 * Identical lookups in flight are coalesced (docs/dns.md): while a
 * libunbound query for the same normalised name and type of this context
 * is in flight, no second query starts; this lookup joins it and gets its
 * own copy of the answer.  It keeps its own id, callback, user pointer,
 * start time (duration_ms) and deadline: when its deadline passes it is
 * answered "timeout" (EDE 22, fail closed) while the others still wait,
 * and ms_dns_cancel() detaches only it (the query is cancelled with its
 * last lookup).  Once the answer arrived, a new submit starts a new query.
 * Each joined lookup counts the metric dns_lookups_coalesced_total{type}.
 * Injected resolvers (ms_dns_ctx_new_custom) answer at once, uncoalesced.
 *
 * @param ctx    the context; may be shared with other threads
 * @param name   the name to look up, normalised as by ms_dns_name_normalize
 *               (U-labels to A-labels, lower case, no trailing dot); the
 *               normalised name is the coalescing key
 * @param type   the RR type (MS_DNS_T_*)
 * @param cb     the callback; it may submit or cancel lookups
 * @param user   handed to `cb`
 * @param id     receives the lookup's id for ms_dns_cancel(); may be NULL
 * @param why    optional buffer for the reason of a failure
 * @param whylen its size
 * @return MS_OK (the callback will run), MS_ERR_INVALID (no context,
 *         callback or a bad name), MS_ERR_NOMEM, MS_ERR_INTERNAL (libunbound
 *         could not start the query); on an error `cb` never runs
 */
MS_DNS_API ms_status ms_dns_submit(struct ms_dns_ctx *ctx, const char *name,
				   uint16_t type, ms_dns_callback cb,
				   void *user, uint64_t *id,
				   char *why, size_t whylen);
/** The descriptor to poll for readability; -1 if none. */
MS_DNS_API int ms_dns_fd(struct ms_dns_ctx *ctx);
/** Deliver finished and timed-out lookups: every lookup whose submit
 * returned MS_OK gets its callback exactly once (unless cancelled).
 * Returns MS_OK, MS_ERR_INTERNAL if libunbound failed, or MS_ERR_NOMEM when
 * some result could not be built: that lookup's callback then gets a
 * shared failure result (SERVFAIL, INDETERMINATE, EDE 0 "out of memory",
 * no records; ms_dns_result_free leaves it), never nothing, so a caller
 * waiting for every callback is not left waiting. */
MS_DNS_API ms_status ms_dns_process(struct ms_dns_ctx *ctx);
/** Milliseconds until the nearest async deadline, -1 if none is pending. */
MS_DNS_API int ms_dns_next_timeout_ms(struct ms_dns_ctx *ctx);
/** Number of async lookups whose callback has not yet run. */
MS_DNS_API size_t ms_dns_pending(struct ms_dns_ctx *ctx);
/** Cancel a pending lookup: its callback will not run.  MS_ERR_INVALID if
 * `id` is unknown or already delivered.  A lookup coalesced with identical
 * ones (ms_dns_submit) leaves alone: the others still get the answer. */
MS_DNS_API ms_status ms_dns_cancel(struct ms_dns_ctx *ctx, uint64_t id);

/* ---- lookup batches (prefetch views) ------------------------------------
 * The engine behind the async compositions (libspfdkim's ms_auth_start,
 * librequiretls' ms_rtls_route_start): code written against synchronous
 * lookups (evaluators, state machines) runs in "rounds" against a private
 * view context whose resolver answers from the batch's table.  A name the
 * table does not hold yet is recorded as wanted and answered "timeout" for
 * that round; after the round every wanted name is submitted to the real
 * context at once (ms_dns_submit).  When answers arrive the caller runs
 * another round, so independent lookups of one round go out together and
 * each chain (an SPF include, an MX then its hosts' addresses) advances one
 * link per round trip.  A round that asked only answered names settles the
 * batch: its results are those the synchronous lookups would have given.
 *
 *   ms_dns_batch_new(env, dns, 0, &b, ...);   bind evaluators to the view
 *   ms_dns_batch_set_deadline(b, 5000);       optional, from now
 *   for (;;) switch (ms_dns_batch_step(b, &state)) ... :
 *     MS_DNS_BATCH_ROUND:   run the evaluators against the view, loop
 *     MS_DNS_BATCH_PENDING: poll ms_dns_fd(dns) for at most
 *                           ms_dns_batch_timeout_ms(b), ms_dns_process(dns)
 *     MS_DNS_BATCH_SETTLED: the last round's results stand
 *
 * Deadline: when it passes (or on ms_dns_batch_close) the lookups still in
 * flight are cancelled and the batch is closed: one more round runs, in
 * which every name not answered in time reads as a failed lookup (outcome
 * TIMEOUT, security indeterminate, ms_dns_result_failed() true), never as
 * "absent" or "insecure" (fail closed: temperror, RFC 7208 s2.6.6); the
 * batch then settles.  A lookup the real context timed out is a timeout
 * result like any other answer.  A submit that failed gives the round the
 * error a direct lookup would have returned.
 *
 * Ownership: the batch borrows `dns` (which must outlive it) and owns the
 * view (valid until ms_dns_batch_free) and every result in its table; the
 * view hands out deep copies (ms_dns_result_dup), owned by whoever asked.
 *
 * Threads: one thread at a time calls the ms_dns_batch_* functions of one
 * batch and runs its rounds; answers are delivered by whichever thread
 * calls ms_dns_process() on the real context, which may be shared by many
 * threads and batches (the table is locked).  ms_dns_batch_free cancels
 * what it can and waits for deliveries already under way in other
 * threads, so it must not be called from inside a callback run by
 * ms_dns_process() on the same context.
 */
struct ms_dns_batch;

enum ms_dns_batch_state {
	MS_DNS_BATCH_ROUND = 0,    /**< run a round against the view now */
	MS_DNS_BATCH_PENDING = 1,  /**< lookups in flight: wait, then step again */
	MS_DNS_BATCH_SETTLED = 2   /**< the last round's results stand */
};

/* ms_dns_batch_new flags */
/** Once settled, a name the batch never fetched (asked by a final step that
 * reads something the rounds did not) is looked up synchronously on the
 * real context (this blocks for one lookup).  Without the flag, and always
 * once the batch was closed by its deadline, such a name reads as a failed
 * lookup (timeout). */
#define MS_DNS_BATCH_LATE_LOOKUP 0x1u

/**
 * A new batch over the real context `dns`, no deadline.  MS_ERR_INVALID,
 * MS_ERR_NOMEM (`why` optional).
 */
MS_DNS_API ms_status ms_dns_batch_new(const struct ms_env *env,
				      struct ms_dns_ctx *dns, unsigned flags,
				      struct ms_dns_batch **out,
				      char *why, size_t whylen);
/** The view context to bind evaluators to (owned by the batch). */
MS_DNS_API struct ms_dns_ctx *ms_dns_batch_view(const struct ms_dns_batch *b);
/** Close the batch `ms` milliseconds from now (0: no deadline). */
MS_DNS_API void ms_dns_batch_set_deadline(struct ms_dns_batch *b, unsigned ms);
/**
 * Ask for a name before any round does (e.g. every DKIM key named by the
 * header section): submitted by the next ms_dns_batch_step.  Names are
 * normalised (ms_dns_name_normalize); asking twice is one lookup.
 * MS_ERR_INVALID (bad name), MS_ERR_STATE (batch closed or settled),
 * MS_ERR_NOMEM.
 */
MS_DNS_API ms_status ms_dns_batch_want(struct ms_dns_batch *b, const char *name,
				       uint16_t type, char *why, size_t whylen);
/**
 * Submit what the last round wanted, check the deadline, and say what to
 * do next in *state.  The first call always asks for a round.  Returns
 * MS_ERR_NOMEM when the last round wanted a name the table could not
 * record (that round's results must not be used), MS_ERR_INVALID for a
 * NULL argument; else MS_OK.
 */
MS_DNS_API ms_status ms_dns_batch_step(struct ms_dns_batch *b,
				       enum ms_dns_batch_state *state);
/**
 * Milliseconds the caller may wait before the next ms_dns_batch_step: 0
 * when answers arrived since the last round (delivered by any thread) or
 * the deadline passed; else the sooner of the deadline and the real
 * context's next lookup timeout; -1 when neither applies.
 */
MS_DNS_API int ms_dns_batch_timeout_ms(struct ms_dns_batch *b);
/** Close now, as the deadline does (idempotent). */
MS_DNS_API void ms_dns_batch_close(struct ms_dns_batch *b);
/** 1 once the batch was closed (deadline or ms_dns_batch_close), else 0. */
MS_DNS_API int ms_dns_batch_closed(const struct ms_dns_batch *b);
/**
 * The table's answer for (name, type), a deep copy the caller frees.
 * MS_ERR_STATE when it was wanted but not answered (in flight, or cut by
 * the deadline), MS_ERR_INVALID when the batch never asked for it; a
 * submit that failed returns that error.
 */
MS_DNS_API ms_status ms_dns_batch_get(struct ms_dns_batch *b, const char *name,
				      uint16_t type, struct ms_dns_result **out);
/** Free the batch and its view; cancels lookups in flight (their results
 * are dropped).  NULL-safe. */
MS_DNS_API void ms_dns_batch_free(struct ms_dns_batch *b);

/* ---- results ---------------------------------------------------------
 * Getters return borrowed pointers valid until ms_dns_result_free().
 */
/**
 * A result as `mailsec dns` shows it: name and type (ADDR for the
 * combined lookup), outcome, security, extended error (RFC 8914),
 * canonical name, TTL, the records in presentation form (malformed rdata
 * marked) and the null MX note (RFC 7505); or one JSON object on one line
 * (newline-terminated), keys name, type, outcome, security, ede,
 * ede_text, canonical, cname_secure, ttl, duration_ms, null_mx, records[],
 * record_types[], malformed_records.  *out freed with ms_render_free, *len (may
 * be NULL) its length.  MS_ERR_INVALID, MS_ERR_NOMEM, MS_ERR_LIMIT
 * (16 MiB).
 */
MS_DNS_API ms_status ms_dns_result_render(const struct ms_dns_result *r,
					  enum ms_render_format fmt, char **out, size_t *len);
/**
 * Free a buffer that any library's renderer returned in `*out`
 * (ms_dns_result_render, ms_dane_result_render, ms_sts_*_render,
 * ms_spf/iprev/dmarc/dkim/auth renderers, ms_rtls_*_render,
 * ms_check_report_render, ms_setup_render, ms_dmarcrep_report_json/_text,
 * ms_tlsrpt_send_render, ms_tlsrpt_parsed_render): the one free call for
 * every rendering (issue 16), so a program never calls free() on library
 * memory.  Render buffers come from the C library allocator, not the env
 * allocator (a rendering is a short-lived printable copy); this call is
 * where that is decided, so it may change without touching callers.
 * @param buf the rendering (NULL: nothing).
 */
MS_DNS_API void ms_render_free(char *buf);
MS_DNS_API void ms_dns_result_free(struct ms_dns_result *r);
/** A deep copy of `r` (every field, records, texts; both halves of a
 * combined address lookup), allocated through `env` (NULL: r's allocator).
 * For callers that serve one answer to several consumers, each of which
 * frees its own.  MS_ERR_INVALID, MS_ERR_NOMEM. */
MS_DNS_API ms_status ms_dns_result_dup(const struct ms_env *env,
				       const struct ms_dns_result *r,
				       struct ms_dns_result **out);
MS_DNS_API enum ms_dns_outcome ms_dns_result_outcome(const struct ms_dns_result *r);
MS_DNS_API enum ms_dns_security ms_dns_result_security(const struct ms_dns_result *r);
/** RFC 8914 INFO-CODE, or -1 when there is none. */
MS_DNS_API int ms_dns_result_ede(const struct ms_dns_result *r);
/** Human text for the extended error (e.g. libunbound's why_bogus), or NULL. */
MS_DNS_API const char *ms_dns_result_ede_text(const struct ms_dns_result *r);
MS_DNS_API uint32_t ms_dns_result_ttl(const struct ms_dns_result *r);
/** The queried name (normalised) and type. */
MS_DNS_API const char *ms_dns_result_qname(const struct ms_dns_result *r);
MS_DNS_API uint16_t ms_dns_result_qtype(const struct ms_dns_result *r);
/** The name the records belong to after following CNAMEs (== qname if none). */
MS_DNS_API const char *ms_dns_result_canonical(const struct ms_dns_result *r);
/** 1 if a CNAME chain was followed and every CNAME in it was secure, 0 if
 * some CNAME was not secure, -1 if there was no CNAME. */
MS_DNS_API int ms_dns_result_cname_secure(const struct ms_dns_result *r);
/** Milliseconds the lookup took. */
MS_DNS_API uint32_t ms_dns_result_duration_ms(const struct ms_dns_result *r);

/**
 * 1 if the lookup failed: outcome SERVFAIL, TIMEOUT or REFUSED, security
 * bogus or indeterminate, or (combined address lookups) either half failed.
 * The one test every consumer uses before reading a result as "insecure"
 * or "absent": a failed lookup is neither (RFC 7672 s2.1, RFC 7208 s5 /
 * s2.6.6 temperror).  NULL counts as failed.
 */
MS_DNS_API int ms_dns_result_failed(const struct ms_dns_result *r);

/** Number of records (0 unless outcome is ANSWER, except a failed combined
 * address lookup, which keeps the records of the half that answered). */
MS_DNS_API size_t ms_dns_result_count(const struct ms_dns_result *r);
/** Type of record i (differs from qtype only in ms_dns_lookup_addr results). */
MS_DNS_API uint16_t ms_dns_result_rtype(const struct ms_dns_result *r, size_t i);
/** Raw wire rdata of record i, names uncompressed. */
MS_DNS_API const uint8_t *ms_dns_result_rdata(const struct ms_dns_result *r,
					       size_t i, size_t *len);

/* Typed accessors: MS_ERR_INVALID for a wrong index or type, MS_ERR_PARSE
 * for malformed rdata (which is kept and reported, never dropped). */
/** A or AAAA as text ("192.0.2.1", "2001:db8::1"); buf of 46 bytes suffices. */
MS_DNS_API ms_status ms_dns_result_addr(const struct ms_dns_result *r, size_t i,
					char *buf, size_t buflen);
/** MX: preference and exchange (A-label, no trailing dot; "" for the root,
 * i.e. an RFC 7505 null MX). */
MS_DNS_API ms_status ms_dns_result_mx(const struct ms_dns_result *r, size_t i,
				      uint16_t *preference, char *host,
				      size_t hostlen);
/**
 * The order in which to try an MX set (RFC 5321 s5.1): writes to
 * order[0..*n) the record indices of at most `cap` MX records, lowest
 * preference first, equal preferences in a fresh random order on every
 * call, malformed records last.  Sorting comes before the cut, so a set
 * larger than the caller's limit keeps its most preferred hosts whatever
 * the (unsigned) order of the answer.  MS_ERR_NOMEM, MS_ERR_INVALID.
 */
MS_DNS_API ms_status ms_dns_result_mx_order(const struct ms_dns_result *r,
					    size_t *order, size_t cap,
					    size_t *n);
/** 1 if the MX set is exactly one record "0 ." (RFC 7505 s3), else 0. */
MS_DNS_API int ms_dns_result_is_null_mx(const struct ms_dns_result *r);
/** CNAME, PTR or NS target name. */
MS_DNS_API ms_status ms_dns_result_name(const struct ms_dns_result *r, size_t i,
					char *buf, size_t buflen);
/** TXT: the character-strings joined without separators (RFC 7208 s3.3),
 * as bytes; NUL bytes inside are kept, `buf` is NUL-terminated. */
MS_DNS_API ms_status ms_dns_result_txt(const struct ms_dns_result *r, size_t i,
				       char *buf, size_t buflen, size_t *outlen);
/** TXT: the number of character-strings of record i, and string j. */
MS_DNS_API ms_status ms_dns_result_txt_strings(const struct ms_dns_result *r,
					       size_t i, size_t *count);
MS_DNS_API ms_status ms_dns_result_txt_string(const struct ms_dns_result *r,
					      size_t i, size_t j,
					      const uint8_t **s, size_t *len);
/** TLSA: `tlsa->data` borrows from the result. */
MS_DNS_API ms_status ms_dns_result_tlsa(const struct ms_dns_result *r, size_t i,
					struct ms_dns_tlsa *tlsa);
/** Any record in presentation format ("10 mx.example.test." style). */
MS_DNS_API ms_status ms_dns_result_rdata_text(const struct ms_dns_result *r,
					      size_t i, char *buf, size_t buflen);

/* ---- building results (for injected resolvers) -------------------------
 * Create an empty result for (qname, qtype) with the given outcome and
 * security, then add records.  `env` may be NULL.  A BOGUS result never
 * keeps records: adding to one fails with MS_ERR_STATE.
 */
MS_DNS_API ms_status ms_dns_result_create(const struct ms_env *env,
					  const char *qname, uint16_t qtype,
					  enum ms_dns_outcome outcome,
					  enum ms_dns_security security,
					  struct ms_dns_result **out);
/** Append one record (wire rdata, names uncompressed); copies the bytes. */
MS_DNS_API ms_status ms_dns_result_add(struct ms_dns_result *r, uint16_t type,
				       const uint8_t *rdata, size_t len);
/** Set TTL, canonical name (NULL: qname), CNAME security (-1, 0, 1) and
 * extended error (-1 for none, text may be NULL). */
MS_DNS_API ms_status ms_dns_result_set_meta(struct ms_dns_result *r,
					    uint32_t ttl,
					    const char *canonical,
					    int cname_secure, int ede,
					    const char *ede_text);

/* ---- rdata parsers (untrusted input; also used by the fuzz targets) ---- */
/** TLSA rdata: usage, selector, mtype, then at least one byte of data. */
MS_DNS_API ms_status ms_dns_parse_tlsa(const uint8_t *rdata, size_t len,
				       struct ms_dns_tlsa *out);
/** MX rdata: preference + uncompressed name. */
MS_DNS_API ms_status ms_dns_parse_mx(const uint8_t *rdata, size_t len,
				     uint16_t *preference, char *host,
				     size_t hostlen);
/** An uncompressed wire name spanning exactly `len` bytes, to text. */
MS_DNS_API ms_status ms_dns_parse_name(const uint8_t *rdata, size_t len,
				       char *buf, size_t buflen);
/** TXT rdata: join the character-strings; fails on a truncated string. */
MS_DNS_API ms_status ms_dns_parse_txt(const uint8_t *rdata, size_t len,
				      char *buf, size_t buflen, size_t *outlen);

/** Any rdata in presentation format (RFC 1035 s5.1; RFC 3597 "\\# len hex"
 * for types without a specific format).  MS_ERR_LIMIT if buf is too small. */
MS_DNS_API ms_status ms_dns_rdata_to_text(uint16_t type, const uint8_t *rdata,
					  size_t len, char *buf, size_t buflen);

/* ---- names and strings ------------------------------------------------ */
/**
 * Normalise a domain name: U-labels are converted to A-labels (IDNA2008,
 * UTS #46 non-transitional mapping), ASCII is lower-cased, one trailing dot
 * removed.  Labels of 1-63 octets, 253 octets in all, of printable ASCII
 * except '\\' and '.' (DNS labels may hold any octet, RFC 2181 s11, and
 * SPF macros expand local-parts into names, RFC 7208 s7.3): this is a DNS
 * owner name, not a host name.  MS_ERR_INVALID with a reason in `why`
 * otherwise.  buf of 254 bytes suffices.
 */
MS_DNS_API ms_status ms_dns_name_normalize(const char *name, char *buf,
					   size_t buflen, char *why,
					   size_t whylen);

/**
 * The same, then host-name syntax (RFC 5321 s4.1.2, RFC 1123 s2.1):
 * letters, digits and hyphens, no label starting or ending with '-'.  For
 * every name that names a mail domain or a host and may be pasted into a
 * URL or an SMTP command (recipient domains, MTA-STS policy domains): a
 * name with ':', '@', '/', '#', '_' or a space is MS_ERR_INVALID, and `buf`
 * is set to "".  buf of 254 bytes suffices.
 */
MS_DNS_API ms_status ms_dns_hostname_normalize(const char *name, char *buf,
					       size_t buflen, char *why,
					       size_t whylen);
/** The reverse-lookup name for an IP address ("1.2.0.192.in-addr.arpa"). */
MS_DNS_API ms_status ms_dns_reverse_name(const char *ip, char *buf, size_t buflen);

MS_DNS_API const char *ms_dns_outcome_str(enum ms_dns_outcome o);  /**< "answer", "nxdomain", ... */
MS_DNS_API const char *ms_dns_security_str(enum ms_dns_security s); /**< "secure", ... */
MS_DNS_API const char *ms_dns_type_str(uint16_t type, char *buf, size_t buflen); /**< "MX", "TYPE65" */
/** Parse "MX", "mx", "TYPE65" or "65"; 0 if unknown. */
MS_DNS_API uint16_t ms_dns_type_from_str(const char *s);
/** RFC 8914 name of an INFO-CODE ("Signature Expired"), "" if unknown. */
MS_DNS_API const char *ms_dns_ede_str(int code);

/** The weaker of two security states: bogus > indeterminate > insecure > secure. */
MS_DNS_API enum ms_dns_security ms_dns_security_combine(enum ms_dns_security a,
							enum ms_dns_security b);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_DNS_H */
