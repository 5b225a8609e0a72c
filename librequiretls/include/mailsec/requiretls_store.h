/**
 * @file
 * mailsec/requiretls_store.h - recipient-domain memory for REQUIRETLS.
 *
 * After each delivery attempt an MTA records, per sender account and
 * recipient domain, whether the server offered STARTTLS and (after
 * STARTTLS) REQUIRETLS, with the time.  A mail client can then ask, for
 * the recipient domains of a draft, whether all are known to support
 * REQUIRETLS (to pre-select it, RFC 8689 s4.3) and which are not.
 *
 * The store sits behind a small interface (struct ms_rtls_store_ops) so an
 * MTA fleet can plug in a shared database; the default is an embedded
 * SQLite file in WAL mode, every update a single atomic statement.
 *
 * Thread safety: a struct ms_rtls_store may be shared by threads; the
 * SQLite default serialises its calls with a mutex, custom stores must be
 * thread-safe themselves if shared.  Several processes may open the same
 * SQLite file (WAL, busy timeout 5 s).
 */
#ifndef MAILSEC_REQUIRETLS_STORE_H
#define MAILSEC_REQUIRETLS_STORE_H

#include <mailsec/requiretls.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_RTLS_MAX_ACCOUNT 320  /**< bytes of a sender account key */
#define MS_RTLS_MAX_DOMAIN 253   /**< bytes of a domain name, no final dot */
#define MS_RTLS_MAX_QUERY 1000   /**< domains per ms_rtls_store_query() */

/** What is known about one (account, domain) pair. */
struct ms_rtls_capability {
	int starttls;            /**< STARTTLS offered at the last attempt */
	int requiretls;          /**< REQUIRETLS offered after STARTTLS then */
	int64_t updated;         /**< Unix time of the last attempt */
	int64_t requiretls_last; /**< last time REQUIRETLS was seen (0: never) */
};

enum ms_rtls_support {
	MS_RTLS_SUPPORT_UNKNOWN = 0, /**< no (fresh enough) record */
	MS_RTLS_SUPPORT_YES = 1,     /**< REQUIRETLS offered at the last attempt */
	MS_RTLS_SUPPORT_NO = 2       /**< last attempt: no REQUIRETLS */
};

#define MS_RTLS_STORE_OPS_VERSION 1

/**
 * A custom store.  Strings passed in are normalised (domain lower-case,
 * no final dot) and NUL-terminated, valid only during the call.
 *  - record: merge one observation atomically: set starttls, requiretls
 *    and updated = `now`; set requiretls_last = `now` when requiretls,
 *    else keep it.
 *  - get: fill *out and set *found = 1, or *found = 0.
 *  - close: release `impl` (called by ms_rtls_store_free; may be NULL).
 * Errors return a negative ms_status and may fill `why`.
 */
struct ms_rtls_store_ops {
	unsigned version; /**< MS_RTLS_STORE_OPS_VERSION */
	ms_status (*record)(void *impl, const char *account, const char *domain,
			    int starttls, int requiretls, int64_t now,
			    char *why, size_t whylen);
	ms_status (*get)(void *impl, const char *account, const char *domain,
			 struct ms_rtls_capability *out, int *found,
			 char *why, size_t whylen);
	void (*close)(void *impl);
};

struct ms_rtls_store;

/** Wrap a custom store; `ops` is copied, `impl` is owned by the store from
 * now on (closed by ms_rtls_store_free, also when this call fails). */
MS_RTLS_API ms_status ms_rtls_store_new(const struct ms_env *env,
					const struct ms_rtls_store_ops *ops,
					void *impl, struct ms_rtls_store **out,
					char *why, size_t whylen);

/**
 * Open (creating if needed) the SQLite store at `path`, in WAL mode.
 * MS_ERR_IO when the file cannot be opened or is not a store of a
 * compatible schema (why says which).
 */
MS_RTLS_API ms_status ms_rtls_store_open_sqlite(const struct ms_env *env,
						const char *path,
						struct ms_rtls_store **out,
						char *why, size_t whylen);

/**
 * Open the store `location` names (mailsec/store.h): a path or
 * "sqlite:PATH" (ms_rtls_store_open_sqlite), or "postgresql://..." (one
 * database shared by a fleet of MTAs, when built with libpq; each
 * observation one upsert in which the newer observation wins).  A
 * PostgreSQL server that cannot be reached gives MS_ERR_UNAVAILABLE
 * (temporary) here and from record/get; ms_rtls_auto_requirement() then
 * keeps the requirement asked.  MS_ERR_INVALID (location),
 * MS_ERR_UNSUPPORTED (built without libpq).
 */
MS_RTLS_API ms_status ms_rtls_store_open(const struct ms_env *env, const char *location,
					 struct ms_rtls_store **out, char *why, size_t whylen);

/** Close and free; NULL-safe. */
MS_RTLS_API void ms_rtls_store_free(struct ms_rtls_store *store);

/**
 * Record what the server of `domain` offered at an attempt made now (the
 * env clock) for `account` ("" allowed).  MS_ERR_INVALID for a bad domain
 * or account, MS_ERR_IO for storage failures.
 */
MS_RTLS_API ms_status ms_rtls_store_record(struct ms_rtls_store *store,
					   const char *account,
					   const char *domain, int starttls,
					   int requiretls, char *why,
					   size_t whylen);

/** Look one pair up: *found = 0 when there is no record. */
MS_RTLS_API ms_status ms_rtls_store_get(struct ms_rtls_store *store,
					const char *account, const char *domain,
					struct ms_rtls_capability *out,
					int *found, char *why, size_t whylen);

/**
 * For `n` recipient domains: *all_supported = 1 when every one is known to
 * support REQUIRETLS (n == 0: 1); `each` (optional, n entries) says per
 * domain YES, NO or UNKNOWN.  Records older than `max_age` seconds count as
 * UNKNOWN (0: any age).  MS_ERR_LIMIT above MS_RTLS_MAX_QUERY domains.
 */
MS_RTLS_API ms_status ms_rtls_store_query(struct ms_rtls_store *store,
					  const char *account,
					  const char *const *domains, size_t n,
					  int64_t max_age,
					  enum ms_rtls_support *each,
					  int *all_supported, char *why,
					  size_t whylen);

/**
 * The requirement to deliver a message with (RFC 8689 s4.3): `asked` (from
 * its MAIL FROM parameter and TLS-Required header, ms_rtls_requirement_of)
 * raised to MS_RTLS_REQ_REQUIRED when `allow_raise` is set, `asked` is
 * DEFAULT and every one of the `n` recipient domains is known to support
 * REQUIRETLS within `max_age` seconds (ms_rtls_store_query).  REQUIRED and
 * NOT_REQUIRED (TLS-Required: No: the sender opted out) are never changed.
 * A store that cannot be read keeps `asked`, returns MS_OK and says so in
 * `why` (raising only strengthens; never a reason to hold mail).  `store`
 * may be NULL (nothing raised).  MS_ERR_INVALID for bad arguments.
 */
MS_RTLS_API ms_status ms_rtls_auto_requirement(struct ms_rtls_store *store,
					       const char *account,
					       const char *const *domains, size_t n,
					       int64_t max_age,
					       enum ms_rtls_requirement asked,
					       int allow_raise,
					       enum ms_rtls_requirement *out,
					       char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_STORE_H */
