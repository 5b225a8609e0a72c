/**
 * @file
 * mailsec/mtasts.h - libmtasts: SMTP MTA Strict Transport Security
 * (RFC 8461) with a persistent policy cache.
 *
 * Layers, each usable on its own:
 *   - parsers for the _mta-sts TXT record (s3.1) and the policy file (s3.2),
 *     and MX pattern matching (s4.1);
 *   - the HTTPS policy fetch (s3.3) over libcurl, or a caller's callback;
 *   - a policy store (SQLite by default, or the caller's own) and the
 *     discovery logic of s5.1 on top: ms_sts_get_policy() answers "which
 *     policy applies to DOMAIN now", with the RFC 8460 failure type of what
 *     went wrong on the way.
 *
 * Thread safety: a struct ms_sts_policy and a struct ms_sts_result are
 * immutable once made and may be read from any thread.  A struct ms_sts
 * and the SQLite store may be shared by threads (the store serialises its
 * own access; concurrent ms_sts_get_policy() calls for the same domain may
 * both fetch, the last writer wins).  Several processes may share one
 * SQLite cache file.
 */
#ifndef MAILSEC_MTASTS_H
#define MAILSEC_MTASTS_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/status.h>
#include <mailsec/export.h>
#include <mailsec/tlsrpt_result.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_STS_API MS_API

#define MS_STS_ID_MAX 32              /**< s3.1: id is 1-32 letters/digits */
#define MS_STS_POLICY_MAX 65536       /**< s3.3: policy bodies are at most 64 KiB */
#define MS_STS_MAX_AGE_MAX 31557600   /**< s3.2: about a year */
#define MS_STS_MIN_BACKOFF 300        /**< seconds between fetch attempts for one id */

/* ---- the _mta-sts TXT record (RFC 8461 s3.1) ------------------------- */

/**
 * Whether a TXT string (the record's character-strings joined without
 * separators) is an STS record at all: it begins with "v=STSv1;"
 * (case-sensitive, so "v=STSv10;" is not).  Other TXT records at
 * _mta-sts are discarded before counting (s3.1).
 */
MS_STS_API int ms_sts_record_is_sts(const uint8_t *buf, size_t len);

/**
 * Parse one STS TXT record: "v=STSv1" then fields separated by
 * *WSP ";" *WSP, an optional trailing ";".  `id` (1-32 ALPHA/DIGIT) is
 * required; the first id wins; other fields must be well-formed
 * extensions (name "=" value) and are ignored.  On success the id is
 * written NUL-terminated to `id` (MS_STS_ID_MAX + 1 bytes).  MS_ERR_PARSE
 * with the reason in `why` otherwise.
 */
MS_STS_API ms_status ms_sts_record_parse(const uint8_t *buf, size_t len,
					 char id[MS_STS_ID_MAX + 1],
					 char *why, size_t whylen);

/* ---- the policy file (RFC 8461 s3.2) -------------------------------- */

enum ms_sts_mode {
	MS_STS_MODE_NONE = 0,
	MS_STS_MODE_TESTING = 1,
	MS_STS_MODE_ENFORCE = 2
};

struct ms_sts_policy;

/**
 * Parse a policy body.  Lines end in LF or CRLF, the final line ending is
 * optional, empty lines are ignored.  Each line is KEY ":" *WSP VALUE *WSP
 * with a case-sensitive KEY.  `version` (STSv1), `mode` and `max_age`
 * (0-31557600) are required, and at least one `mx` unless the mode is
 * none.  For the single-valued keys the first occurrence wins; unknown
 * keys are ignored.  MX patterns are A-labels (`mx.example.com` or
 * `*.example.com`), stored lower-case without a trailing dot.
 * On failure `*out` is NULL, the status MS_ERR_PARSE (or MS_ERR_NOMEM) and
 * `why` names the line and the problem ("line 3: mode: unknown value ...").
 * The caller frees *out with ms_sts_policy_free().
 */
MS_STS_API ms_status ms_sts_policy_parse(const struct ms_env *env,
					 const uint8_t *buf, size_t len,
					 struct ms_sts_policy **out,
					 char *why, size_t whylen);
MS_STS_API void ms_sts_policy_free(struct ms_sts_policy *p);
MS_STS_API enum ms_sts_mode ms_sts_policy_mode(const struct ms_sts_policy *p);
MS_STS_API uint32_t ms_sts_policy_max_age(const struct ms_sts_policy *p);
MS_STS_API size_t ms_sts_policy_mx_count(const struct ms_sts_policy *p);
/** MX pattern i (borrowed, valid until the policy is freed), NULL if out of range. */
MS_STS_API const char *ms_sts_policy_mx(const struct ms_sts_policy *p, size_t i);
/** "none", "testing", "enforce". */
MS_STS_API const char *ms_sts_mode_str(enum ms_sts_mode m);

/**
 * MX matching (s4.1): 1 if `mxhost` matches one of the policy's patterns,
 * else 0.  Case-insensitive, a trailing dot on `mxhost` is ignored, and a
 * "*." pattern matches exactly one whole left-most label.  For a domain
 * without MX records (implicit MX, RFC 5321 s5.1) pass the domain itself.
 */
MS_STS_API int ms_sts_policy_match(const struct ms_sts_policy *p,
				   const char *mxhost);
/** The same test for one pattern. */
MS_STS_API int ms_sts_mx_pattern_match(const char *pattern, const char *mxhost);

/* ---- failure types (RFC 8460 s4.3) --------------------------------- */

/** The failures of this library are enum ms_tlsrpt_result of
 * mailsec/tlsrpt_result.h (libmailsec-dns): MS_TLSRPT_STS_POLICY_FETCH_ERROR,
 * MS_TLSRPT_STS_POLICY_INVALID, MS_TLSRPT_STS_WEBPKI_INVALID, and
 * MS_TLSRPT_VALIDATION_FAILURE for an MX host the policy does not list;
 * ms_tlsrpt_result_name() gives the RFC 8460 string. */

/* ---- fetching (RFC 8461 s3.3) -------------------------------------- */

/**
 * A caller's own HTTP client.  Fetch `url` (always
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt) following the rules of
 * s3.3 (TLS with PKIX validation for the host name, no redirects, only 200
 * with text/plain) and write at most `bufsize` body bytes into `buf`,
 * setting *len.  Return MS_OK, or an error with *failure set to
 * MS_TLSRPT_STS_POLICY_FETCH_ERROR, MS_TLSRPT_STS_WEBPKI_INVALID or MS_TLSRPT_STS_POLICY_INVALID and the
 * reason in `why`.  Called synchronously from the thread making the call.
 */
typedef ms_status (*ms_sts_fetch_fn)(void *user, const char *url,
				     uint8_t *buf, size_t bufsize, size_t *len,
				     enum ms_tlsrpt_result *failure,
				     char *why, size_t whylen);

#define MS_STS_FETCH_CONFIG_VERSION 1

/**
 * How to fetch.  Zero-initialise, set `version`; NULL/0 members mean the
 * default.  Strings are copied by ms_sts_new() (and read during
 * ms_sts_fetch()).
 */
struct ms_sts_fetch_config {
	unsigned version;        /**< MS_STS_FETCH_CONFIG_VERSION */
	const char *ca_file;     /**< PEM CA bundle; NULL: the system store */
	const char *ca_path;     /**< hashed CA directory; NULL: the system store */
	/** curl CURLOPT_CONNECT_TO entry "HOST:PORT:ADDR:PORT": connect
	 * elsewhere while URL, SNI, Host and the name check stay. */
	const char *connect_to;
	const char *proxy;       /**< NULL: never a proxy (environment ignored) */
	unsigned timeout_ms;     /**< whole transfer; 0: 60000 */
	ms_sts_fetch_fn fetch;   /**< non-NULL: used instead of libcurl */
	void *fetch_user;
};

/**
 * Fetch the policy body of `domain` into `buf` (give it MS_STS_POLICY_MAX
 * bytes; a longer body fails with MS_ERR_LIMIT).  MS_OK with *len set, or
 * an error (MS_ERR_NETWORK, MS_ERR_TIMEOUT, MS_ERR_TLS, MS_ERR_PROTOCOL,
 * MS_ERR_LIMIT, ...) with *failure set to the RFC 8460 type and `why` set.
 * `env` and `cfg` may be NULL.
 *
 * `domain` (A- or U-label) must be a host name once converted to A-labels:
 * letters, digits and hyphens, labels of 1-63 octets not starting or
 * ending with '-' (RFC 5321 s4.1.2 Domain).  Anything else (':', '@', '/',
 * '#', '_', ...) is MS_ERR_INVALID "bad domain: ..." before any network
 * use, since the domain becomes the authority of the policy URL.
 *
 * ms_sts_fetch() lets libcurl resolve mta-sts.DOMAIN (the system
 * resolver).  ms_sts_fetch_dns() resolves it through `dns` (A and AAAA,
 * DNSSEC-validated where signed; bogus data is never used) and hands
 * libcurl the addresses; a failed address lookup (timeout, SERVFAIL,
 * bogus) or no address at all is a fetch failure (MS_ERR_TIMEOUT or
 * MS_ERR_NETWORK, MS_TLSRPT_STS_POLICY_FETCH_ERROR) naming the lookup.  No lookup is
 * made when `cfg->fetch` is set (the caller's client resolves), with a
 * `proxy` (the proxy resolves) or when `connect_to` names the address for
 * mta-sts.DOMAIN:443; a `connect_to` that only changes the port keeps the
 * lookup.  ms_sts_get_policy() uses the handle's resolver this way.
 */
MS_STS_API ms_status ms_sts_fetch(const struct ms_env *env,
				  const struct ms_sts_fetch_config *cfg,
				  const char *domain,
				  uint8_t *buf, size_t bufsize, size_t *len,
				  enum ms_tlsrpt_result *failure,
				  char *why, size_t whylen);
MS_STS_API ms_status ms_sts_fetch_dns(const struct ms_env *env,
				      const struct ms_sts_fetch_config *cfg,
				      struct ms_dns_ctx *dns, const char *domain,
				      uint8_t *buf, size_t bufsize, size_t *len,
				      enum ms_tlsrpt_result *failure,
				      char *why, size_t whylen);

/* ---- the policy store ----------------------------------------------- */

#define MS_STS_ENTRY_VERSION 1

/**
 * One cached domain.  Strings are NUL-terminated.  `policy` points at the
 * policy text (`policy_len` bytes; 0 when only back-off state is kept):
 * for get() it points into the buffer the caller handed to the store.
 */
struct ms_sts_entry {
	unsigned version;                /**< MS_STS_ENTRY_VERSION */
	char domain[254];
	char id[MS_STS_ID_MAX + 1];      /**< id of the cached policy */
	const uint8_t *policy;
	size_t policy_len;
	int64_t fetched_at;              /**< Unix seconds */
	int64_t expires_at;              /**< fetched_at + max_age, never more */
	int64_t last_used;
	char backoff_id[MS_STS_ID_MAX + 1]; /**< id whose fetch failed ("" none) */
	int64_t backoff_until;
	uint32_t failures;               /**< consecutive failed fetches */
	uint32_t last_failure;           /**< enum ms_tlsrpt_result of the last one */
};

#define MS_STS_STORE_VERSION 1

/**
 * A policy store: an MTA fleet may plug in its own shared store.  Every
 * operation must be atomic for one domain (a reader sees the old or the
 * new entry, never a mixture).  Return MS_OK or an error (MS_ERR_IO...).
 *   get:   fill *e for `domain`, copying the policy into polbuf (size
 *          MS_STS_POLICY_MAX); *found = 0 if there is no entry.
 *   put:   insert or replace the entry of e->domain.
 *   del:   remove `domain` (NULL: every entry); no entry is not an error.
 *   list:  call `cb` for each entry (its policy is borrowed for the call);
 *          the callback must not call back into the store.
 *   close: release the store (called by ms_sts_store_free()).
 */
struct ms_sts_store_ops {
	unsigned version;                /**< MS_STS_STORE_VERSION */
	ms_status (*get)(void *self, const char *domain, struct ms_sts_entry *e,
			 uint8_t *polbuf, size_t polbufsize, int *found);
	ms_status (*put)(void *self, const struct ms_sts_entry *e);
	ms_status (*del)(void *self, const char *domain);
	ms_status (*list)(void *self,
			  void (*cb)(void *user, const struct ms_sts_entry *e),
			  void *user);
	void (*close)(void *self);
};

struct ms_sts_store;

/** Wrap caller operations (copied) and their `self` into a store handle. */
MS_STS_API ms_status ms_sts_store_new_custom(const struct ms_env *env,
					     const struct ms_sts_store_ops *ops,
					     void *self,
					     struct ms_sts_store **out);
/**
 * The default store: an SQLite database at `path` (created if missing;
 * WAL journal, one transaction per update, a busy timeout so processes
 * can share the file).  ":memory:" gives a private in-memory cache.
 */
MS_STS_API ms_status ms_sts_store_new_sqlite(const struct ms_env *env,
					     const char *path,
					     struct ms_sts_store **out,
					     char *why, size_t whylen);
/**
 * Open the store `location` names (mailsec/store.h): a path or
 * "sqlite:PATH" (the SQLite store above), or "postgresql://..." (one
 * database shared by a fleet of MTAs, when built with libpq).  In both,
 * two MTAs writing the same domain keep the newer entry (RFC 8461 s5.1:
 * the policy fetched last; the latest use; the longer back-off).  A
 * PostgreSQL store that cannot be reached answers MS_ERR_UNAVAILABLE
 * (temporary) from here and from its operations, and discovery treats it
 * as "cache unknown" (ms_sts_get_policy()).  MS_ERR_INVALID (location),
 * MS_ERR_UNSUPPORTED (no libpq), MS_ERR_IO (schema).
 */
MS_STS_API ms_status ms_sts_store_open(const struct ms_env *env, const char *location,
				       struct ms_sts_store **out, char *why, size_t whylen);
MS_STS_API void ms_sts_store_free(struct ms_sts_store *s);
/** Direct access, e.g. for tools: same contracts as the ops above.  For
 * ms_sts_store_get the caller sets e->version (MS_STS_ENTRY_VERSION): the
 * library fills only the members that version has and refuses 0
 * (MS_ERR_INVALID). */
MS_STS_API ms_status ms_sts_store_get(struct ms_sts_store *s, const char *domain,
				      struct ms_sts_entry *e, uint8_t *polbuf,
				      size_t polbufsize, int *found);
MS_STS_API ms_status ms_sts_store_put(struct ms_sts_store *s,
				      const struct ms_sts_entry *e);

/* ---- discovery with the cache (RFC 8461 s5.1, s3.3) ------------------ */

#define MS_STS_CONFIG_VERSION 1

struct ms_sts_config {
	unsigned version;                  /**< MS_STS_CONFIG_VERSION */
	struct ms_sts_fetch_config fetch;
	/** Seconds to wait before refetching an id whose fetch failed; values
	 * below MS_STS_MIN_BACKOFF are raised to it (0: 300, doubling per
	 * consecutive failure up to 1 hour). */
	uint32_t backoff;
	/** ms_sts_refresh(): entries unused this long are dropped (0: 35 days). */
	uint32_t drop_unused_after;
};

struct ms_sts;

/**
 * A discovery handle.  `dns` (the TXT lookups) and `store` are borrowed and
 * must outlive the handle; `store` may be NULL for no cache at all.
 * `env` and `cfg` may be NULL.  Free with ms_sts_free() (NULL-safe).
 */
MS_STS_API ms_status ms_sts_new(const struct ms_env *env,
				const struct ms_sts_config *cfg,
				struct ms_dns_ctx *dns, struct ms_sts_store *store,
				struct ms_sts **out, char *why, size_t whylen);
MS_STS_API void ms_sts_free(struct ms_sts *sts);

/** What a ms_sts_get_policy() call concluded. */
enum ms_sts_state {
	MS_STS_NO_POLICY = 0,   /**< no MTA-STS for this domain now */
	MS_STS_POLICY = 1,      /**< ms_sts_result_policy() applies */
	/** Whether an MTA-STS policy applies is unknown, and no unexpired
	 * cached policy answers it: the _mta-sts TXT lookup failed (timeout,
	 * SERVFAIL, bogus: a failed lookup is never "no record"), or the
	 * domain publishes a record, its policy could not be fetched and the
	 * policy store could not be read (a shared database down,
	 * MS_ERR_UNAVAILABLE).  The MTA defers (temporary failure) instead of
	 * delivering as if there were none.  ms_sts_result_failure() and
	 * ms_sts_result_failure_detail() say what failed. */
	MS_STS_UNKNOWN = 2
};

/** Where the applying policy (or the absence of one) came from. */
enum ms_sts_source {
	MS_STS_SRC_NONE = 0,       /**< nothing applies */
	MS_STS_SRC_FETCHED = 1,    /**< just fetched (and stored) */
	MS_STS_SRC_CACHE = 2       /**< from the store, unexpired */
};

struct ms_sts_result;

/**
 * Which policy applies to `domain` (an A- or U-label mail domain) at
 * env->now (RFC 8461 s5.1):
 *   - TXT _mta-sts.DOMAIN (CNAMEs followed) has one valid record whose id
 *     equals the cached, unexpired policy's: the cached policy applies.
 *   - a new id, or nothing cached: fetch.  A valid policy is stored with
 *     expiry fetch time + max_age and applies.  A failed fetch backs off
 *     that id (no refetch before the back-off ends), and the unexpired
 *     cached policy applies if there is one, otherwise no policy; either
 *     way the result carries the failure type (a report event).
 *   - no valid record (gone, several, invalid, DNS failure): an unexpired
 *     cached policy still applies; otherwise no policy.
 * Returns MS_OK with a result whatever the verdict; errors only when the
 * call could not be made (MS_ERR_INVALID domain, MS_ERR_NOMEM).  Store
 * failures are logged; a store that cannot be read makes the cache
 * unknown, not empty: when the domain has a valid record and the fetch
 * fails too, the state is MS_STS_UNKNOWN (defer), never "no policy".  Free the result with
 * ms_sts_result_free().
 */
MS_STS_API ms_status ms_sts_get_policy(struct ms_sts *sts, const char *domain,
				       struct ms_sts_result **out,
				       char *why, size_t whylen);

/* ---- async discovery (issue 15) -----------------------------------------
 * The same discovery as ms_sts_get_policy() (same cache decisions, writes,
 * logs and result) without blocking, for event loops:
 *
 *   ms_sts_get_start(sts, "example.org", &g, why, len);
 *   while (ms_sts_get_step(g, &timeout_ms) == MS_STS_GET_PENDING)
 *           wait_readable(ms_sts_get_fd(g), timeout_ms);
 *   ms_sts_get_result(g, &res, why, len);   (res is the caller's)
 *   ms_sts_get_free(g);                     (at any time: cancels)
 *
 * The TXT record and, when the cache says a fetch is due, the policy
 * host's A/AAAA go out together on the handle's resolver (a lookup batch,
 * mailsec/dns.h); the HTTPS fetch runs on a libcurl multi handle.
 * ms_sts_get_fd() is one epoll descriptor (Linux) owned by the handle,
 * holding the resolver's descriptor and libcurl's sockets: poll it for
 * readability (it may sit in the caller's own epoll set) and step on
 * readability or after *timeout_ms.  Each step calls ms_dns_process() on
 * the handle's resolver in the DNS phase (which also delivers other
 * callers' answers).  An injected fetch (cfg.fetch) is a synchronous
 * function of the caller: it runs inside a step.  The fetch keeps its
 * configured timeout; the caller's own deadline is a free.
 *
 * Threads: one thread at a time steps a handle; the struct ms_sts may be
 * shared as for ms_sts_get_policy().  The ms_sts must outlive the handle.
 */
struct ms_sts_get;

enum ms_sts_get_state {
	MS_STS_GET_PENDING = 0,   /**< poll ms_sts_get_fd() and step again */
	MS_STS_GET_DONE = 1       /**< ms_sts_get_result() tells the outcome */
};

/** Start (the TXT lookup is submitted).  MS_ERR_INVALID (arguments, a
 * domain that is not a host name), MS_ERR_NOMEM, MS_ERR_IO (no epoll
 * descriptor), MS_ERR_INTERNAL (libcurl). */
MS_STS_API ms_status ms_sts_get_start(struct ms_sts *sts, const char *domain,
				      struct ms_sts_get **out, char *why, size_t whylen);
/** The one descriptor to poll for readability (valid until the free). */
MS_STS_API int ms_sts_get_fd(const struct ms_sts_get *g);
/** Advance without blocking; *timeout_ms (may be NULL): when to step at the
 * latest if the descriptor stays quiet. */
MS_STS_API enum ms_sts_get_state ms_sts_get_step(struct ms_sts_get *g, int *timeout_ms);
/** Once done: what ms_sts_get_policy() would have returned (MS_OK with the
 * result, owned by the caller, taken once; or its error).  MS_ERR_STATE
 * while pending or when the result was taken. */
MS_STS_API ms_status ms_sts_get_result(struct ms_sts_get *g, struct ms_sts_result **out,
				       char *why, size_t whylen);
/** Free; a pending discovery is cancelled (lookups cancelled, the transfer
 * dropped, nothing written to the cache).  NULL-safe. */
MS_STS_API void ms_sts_get_free(struct ms_sts_get *g);

MS_STS_API void ms_sts_result_free(struct ms_sts_result *r);
MS_STS_API enum ms_sts_state ms_sts_result_state(const struct ms_sts_result *r);
MS_STS_API enum ms_sts_source ms_sts_result_source(const struct ms_sts_result *r);
/** The applying policy (borrowed), NULL for MS_STS_NO_POLICY. */
MS_STS_API const struct ms_sts_policy *ms_sts_result_policy(const struct ms_sts_result *r);
/** The applying policy's text and id (borrowed), NULL without a policy. */
MS_STS_API const char *ms_sts_result_policy_text(const struct ms_sts_result *r);
MS_STS_API const char *ms_sts_result_policy_id(const struct ms_sts_result *r);
MS_STS_API int64_t ms_sts_result_expires(const struct ms_sts_result *r);
/** The id of the DNS record seen now, "" if no valid record was found. */
MS_STS_API const char *ms_sts_result_record_id(const struct ms_sts_result *r);
/** A note on the DNS record ("ok", "no record", "2 STS records", reason). */
MS_STS_API const char *ms_sts_result_record_note(const struct ms_sts_result *r);
/** What failed on the way (for TLSRPT), with a human reason (borrowed). */
MS_STS_API enum ms_tlsrpt_result ms_sts_result_failure(const struct ms_sts_result *r);
MS_STS_API const char *ms_sts_result_failure_detail(const struct ms_sts_result *r);
/** 1 if the result came with a fetch attempt that is now backing off. */
MS_STS_API int ms_sts_result_backoff(const struct ms_sts_result *r);

/** Verdict for one MX host under a result (RFC 8461 s5, s5.1). */
enum ms_sts_verdict {
	MS_STS_PASS = 0,        /**< no policy, mode none, or the MX matches */
	MS_STS_FAIL = 1,        /**< enforce: do not deliver to this MX */
	MS_STS_WOULD_FAIL = 2   /**< testing: deliver, but report the failure */
};
/**
 * Check `mxhost` (or the domain itself for an implicit MX) against the
 * applying policy.  For a mismatch, *failure (optional) is set to
 * MS_TLSRPT_VALIDATION_FAILURE.  The certificate checks of s4.2 are the MTA's job: a
 * failing one is reported with ms_sts_verdict_for(mode, 1).  Before
 * deferring a message on MS_STS_FAIL, call ms_sts_get_policy() again
 * (s5.1: check for an updated policy id first).
 */
MS_STS_API enum ms_sts_verdict ms_sts_result_check_mx(const struct ms_sts_result *r,
						     const char *mxhost,
						     enum ms_tlsrpt_result *failure);
/** The verdict under `mode` for a check that failed (1) or passed (0). */
MS_STS_API enum ms_sts_verdict ms_sts_verdict_for(enum ms_sts_mode mode, int failed);
MS_STS_API const char *ms_sts_verdict_str(enum ms_sts_verdict v);

/* ---- maintenance ------------------------------------------------------ */

/** Remove `domain`'s entry, or every entry when `domain` is NULL. */
MS_STS_API ms_status ms_sts_purge(struct ms_sts *sts, const char *domain);

/**
 * The periodic refresh (s5.1: proactively refresh cached policies, e.g.
 * daily): drop entries unused for cfg->drop_unused_after, and for every
 * other entry with a policy look up the TXT record and refetch (a new
 * policy only replaces the cached one if it is valid).  Counts go to the
 * optional outputs.
 */
MS_STS_API ms_status ms_sts_refresh(struct ms_sts *sts, size_t *refreshed,
				    size_t *failed, size_t *dropped);
/** Seconds until the next refresh: one day plus or minus up to one hour of
 * random jitter, so a fleet does not refresh in lockstep. */
MS_STS_API uint32_t ms_sts_refresh_delay(void);

/* ---- renderings (what `mailsec mtasts` prints) --------------------------- */
/**
 * Each writes human-readable text or one JSON object on one line
 * (MS_RENDER_JSON, newline-terminated) into *out (free it with ms_render_free),
 * *len (may be NULL) its length; MS_ERR_INVALID for bad arguments,
 * MS_ERR_NOMEM, MS_ERR_LIMIT past 16 MiB.
 *
 * ms_sts_result_render: a discovery of `domain` (ms_sts_get_policy): the
 * record, the policy and where it came from, the failure; JSON keys
 * domain, record_id, record, policy (bool), source (fetched, cache,
 * none), policy_id, mode, max_age, mx[], expires, failure,
 * failure_detail, backoff, policy_text.
 * ms_sts_policy_render: a policy file's check, p NULL when it was invalid
 * (`why` from ms_sts_policy_parse); JSON keys valid, error, mode,
 * max_age, mx[].
 * ms_sts_match_render: `mxhost` against p's patterns (RFC 8461 s4.1) and
 * the verdict its mode gives a miss; *matched (may be NULL) 1 on a match;
 * JSON keys mx, match, pattern, mode, verdict.
 */
MS_STS_API ms_status ms_sts_result_render(const struct ms_sts_result *res, const char *domain,
					  enum ms_render_format fmt, char **out, size_t *len);
MS_STS_API ms_status ms_sts_policy_render(const struct ms_sts_policy *p, const char *why,
					  enum ms_render_format fmt, char **out, size_t *len);
MS_STS_API ms_status ms_sts_match_render(const struct ms_sts_policy *p, const char *mxhost,
					 int *matched, enum ms_render_format fmt, char **out,
					 size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_MTASTS_H */
