/**
 * @file
 * mailsec/store.h - the one shape of every mailsec store (issue 19).
 *
 * The libraries that keep state (libmtasts: the MTA-STS policy cache,
 * librequiretls: the recipient-domain memory, libreports: DMARC and TLSRPT
 * report rows) keep it behind a store of this shape: open, get, put,
 * batch, expire, close, each returning an ms_status and filling a `why`
 * buffer.  Each library documents the key and record types its stores
 * take; the store picked by a location:
 *
 *   - "sqlite:/var/lib/mailsec/sts.db" or a plain path: the embedded SQLite
 *     default (WAL, busy timeout MS_STORE_BUSY_TIMEOUT_MS, a schema version);
 *   - "postgresql://user@host:5432/db?..." (also "postgres://"): one database
 *     shared by a fleet of MTAs, on libpq, when the libraries were built
 *     with it (ms_store_have_postgresql()).
 *
 * A shared store that cannot be reached (server down, connection lost,
 * server shutting down) answers MS_ERR_UNAVAILABLE, a temporary error:
 * the caller defers what depends on it and retries later; the connection
 * is re-established by the next call.
 *
 * The PostgreSQL layer below (struct ms_pg) is what each library's
 * PostgreSQL backend is written on: one connection per thread, reused;
 * statements prepared once per connection; a schema per component,
 * created and migrated under an advisory lock, its version kept in
 * the table mailsec_schema.
 */
#ifndef MAILSEC_STORE_H
#define MAILSEC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/env.h>
#include <mailsec/export.h>
#include <mailsec/status.h>

#ifndef MS_DNS_API
#define MS_DNS_API MS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The busy timeout of every SQLite store (milliseconds): concurrent
 * writers (several MTA processes on one file) wait this long for the lock. */
#define MS_STORE_BUSY_TIMEOUT_MS 5000

/** Which engine a location names. */
enum ms_store_backend {
	MS_STORE_SQLITE = 1,     /**< "sqlite:PATH" or a plain path */
	MS_STORE_POSTGRESQL = 2  /**< "postgresql://..." or "postgres://..." */
};

/**
 * Which backend `location` names.  For SQLite, *path (optional) points
 * into `location` at the file path ("sqlite:" stripped).  MS_ERR_INVALID
 * for NULL, an empty location, an empty SQLite path or an unknown scheme
 * ("redis://..."), with `why`.
 */
MS_DNS_API ms_status ms_store_parse_location(const char *location,
					     enum ms_store_backend *backend,
					     const char **path, char *why, size_t whylen);

/** 1 when the libraries were built with libpq (PostgreSQL locations work),
 * else 0 (they fail with MS_ERR_UNSUPPORTED). */
MS_DNS_API int ms_store_have_postgresql(void);

/** Called by get for each matching record; nonzero stops the walk. */
typedef int (*ms_store_rec_fn)(void *user, const void *rec);

#define MS_STORE_OPS_VERSION 1

/**
 * A store.  `query` and `rec` are the library's types (documented with its
 * store); everything passed in is valid only during the call.
 *  - open:   open or create the store at `location`; *impl goes to the rest.
 *  - get:    call fn for every record matching `query` (fn must not call
 *            into the same store).
 *  - put:    merge one record (each library says how: newer wins, counts add).
 *  - batch:  put `n` records (an array of the record type) atomically.
 *  - expire: drop records older than `before` (Unix seconds).
 *  - close:  release impl (NULL-safe).
 *  - del:    optional (NULL: unsupported): remove what `query` matches.
 * Errors: a negative ms_status with `why`; MS_ERR_UNAVAILABLE when a shared
 * store cannot be reached, MS_ERR_IO for other storage failures.
 */
struct ms_store_ops {
	unsigned version; /**< MS_STORE_OPS_VERSION */
	ms_status (*open)(const struct ms_env *env, const char *location, void **impl,
			  char *why, size_t whylen);
	ms_status (*get)(void *impl, const void *query, ms_store_rec_fn fn, void *user,
			 char *why, size_t whylen);
	ms_status (*put)(void *impl, const void *rec, char *why, size_t whylen);
	ms_status (*batch)(void *impl, const void *recs, size_t n, char *why, size_t whylen);
	ms_status (*expire)(void *impl, int64_t before, char *why, size_t whylen);
	void (*close)(void *impl);
	ms_status (*del)(void *impl, const void *query, char *why, size_t whylen);
};

/** One library's backends, picked by the location's scheme (NULL: that
 * engine is not offered). */
struct ms_store_backends {
	unsigned version; /**< MS_STORE_OPS_VERSION */
	const struct ms_store_ops *sqlite;
	const struct ms_store_ops *postgresql;
};

struct ms_store;

/**
 * Open the store `location` names (ms_store_parse_location) through the
 * matching backend of `b`; the SQLite backend gets the bare path.
 * MS_ERR_INVALID (location, incomplete ops), MS_ERR_UNSUPPORTED (no
 * backend for that engine, or PostgreSQL not built in), the backend's
 * open error (MS_ERR_UNAVAILABLE: the server cannot be reached now).
 * Free with ms_store_free().
 */
MS_DNS_API ms_status ms_store_open(const struct ms_env *env, const char *location,
				   const struct ms_store_backends *b, struct ms_store **out,
				   char *why, size_t whylen);
/** Close and free (NULL-safe). */
MS_DNS_API void ms_store_free(struct ms_store *s);
/** The engine of an open store. */
MS_DNS_API enum ms_store_backend ms_store_backend_of(const struct ms_store *s);
/** The ops of an open store, called through these (MS_ERR_INVALID for NULL;
 * ms_store_del: MS_ERR_UNSUPPORTED when the store has none). */
MS_DNS_API ms_status ms_store_get(struct ms_store *s, const void *query, ms_store_rec_fn fn,
				  void *user, char *why, size_t whylen);
MS_DNS_API ms_status ms_store_put(struct ms_store *s, const void *rec, char *why,
				  size_t whylen);
MS_DNS_API ms_status ms_store_batch(struct ms_store *s, const void *recs, size_t n,
				    char *why, size_t whylen);
MS_DNS_API ms_status ms_store_expire(struct ms_store *s, int64_t before, char *why,
				     size_t whylen);
MS_DNS_API ms_status ms_store_del(struct ms_store *s, const void *query, char *why,
				  size_t whylen);

/* ---- the PostgreSQL layer of the backends ------------------------------ */

struct ms_pg;

/** One schema step: SQL run once, in order, inside the migration's
 * transaction; the schema's version is the number of steps applied. */
struct ms_pg_schema {
	const char *component;            /**< e.g. "mtasts": its row in mailsec_schema */
	const char *const *migrations;    /**< step i brings version i to i+1 */
	size_t nmigrations;
	const char *const *statements;    /**< prepared on each connection */
	size_t nstatements;
};

/**
 * Connect to `uri` (a libpq connection URI; connect_timeout defaults to
 * 3 s), create or migrate `schema` (an advisory lock serialises MTAs
 * starting together; a database whose version is newer than this
 * library's is refused with MS_ERR_IO) and keep the connection as the
 * calling thread's.  `schema` and its strings must outlive the handle.
 * MS_ERR_UNAVAILABLE when the server cannot be reached, MS_ERR_UNSUPPORTED
 * without libpq.
 */
MS_DNS_API ms_status ms_pg_open(const struct ms_env *env, const char *uri,
				const struct ms_pg_schema *schema, struct ms_pg **out,
				char *why, size_t whylen);
/** Close every thread's connection and free (NULL-safe). */
MS_DNS_API void ms_pg_close(struct ms_pg *pg);

/** Called per result row with its values as text (NULL for SQL NULL). */
typedef int (*ms_pg_row_fn)(void *user, int ncols, const char *const *vals);

/**
 * Run prepared statement `stmt` (an index into schema->statements) with
 * `nparams` text parameters (NULL: SQL NULL) on the calling thread's
 * connection (opened on first use, re-opened after a failure), calling
 * `fn` (may be NULL) per row; *affected (optional): rows changed.
 * MS_ERR_UNAVAILABLE when the server cannot be reached or the connection
 * broke (the statement may or may not have committed: every statement of
 * the backends is idempotent or single-statement atomic), MS_ERR_IO for
 * an SQL error.
 */
MS_DNS_API ms_status ms_pg_exec(struct ms_pg *pg, size_t stmt, int nparams,
				const char *const *params, ms_pg_row_fn fn, void *user,
				int64_t *affected, char *why, size_t whylen);
/** BEGIN / COMMIT / ROLLBACK on the calling thread's connection (for
 * batches: the statements between run in one transaction). */
MS_DNS_API ms_status ms_pg_begin(struct ms_pg *pg, char *why, size_t whylen);
MS_DNS_API ms_status ms_pg_commit(struct ms_pg *pg, char *why, size_t whylen);
MS_DNS_API void ms_pg_rollback(struct ms_pg *pg);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_STORE_H */
