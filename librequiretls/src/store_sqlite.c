/*
 * store_sqlite.c - the default recipient-domain store: one SQLite file in
 * WAL mode (readers never block the writer, a crash never leaves a half
 * update), each observation merged by a single UPSERT statement.
 */
#include "mailsec/requiretls_store.h"
#include "rtls_internal.h"
#include "rtls_store.h"

#include <pthread.h>
#include <mailsec/store.h>
#include <sqlite3.h>

#include "ms_sqlite_schema.h"
#include <string.h>

/* Bump together with a migration when the table changes. */
#define RTLS_SCHEMA_VERSION 1

struct sq {
	struct ms_env env;
	sqlite3 *db;
	sqlite3_stmt *put;
	sqlite3_stmt *get;
	pthread_mutex_t lock; /* the statements are shared state */
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS rtls_capability ("
	" account TEXT NOT NULL,"
	" domain TEXT NOT NULL,"
	" starttls INTEGER NOT NULL,"
	" requiretls INTEGER NOT NULL,"
	" updated INTEGER NOT NULL,"
	" requiretls_last INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (account, domain)) WITHOUT ROWID;";

static const char put_sql[] =
	"INSERT INTO rtls_capability (account, domain, starttls, requiretls,"
	" updated, requiretls_last) VALUES (?1, ?2, ?3, ?4, ?5,"
	" CASE WHEN ?4 THEN ?5 ELSE 0 END)"
	" ON CONFLICT (account, domain) DO UPDATE SET"
	/* the newer observation wins, as in the PostgreSQL store: an MTA
	 * whose attempt is older does not overwrite a later one */
	" starttls = CASE WHEN excluded.updated >= rtls_capability.updated"
	" THEN excluded.starttls ELSE rtls_capability.starttls END,"
	" requiretls = CASE WHEN excluded.updated >= rtls_capability.updated"
	" THEN excluded.requiretls ELSE rtls_capability.requiretls END,"
	" updated = max(rtls_capability.updated, excluded.updated),"
	" requiretls_last = max(rtls_capability.requiretls_last, excluded.requiretls_last);";

static const char get_sql[] =
	"SELECT starttls, requiretls, updated, requiretls_last"
	" FROM rtls_capability WHERE account = ?1 AND domain = ?2;";

static void sq_close(void *impl)
{
	struct sq *s = impl;
	if (s == NULL)
		return;
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->get);
	sqlite3_close(s->db); /* checkpoints the WAL when last to close */
	pthread_mutex_destroy(&s->lock);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

static ms_status sq_err(struct sq *s, char *why, size_t whylen, const char *what)
{
	return ms_why(why, whylen, MS_ERR_IO, "sqlite %s: %s", what,
		      s->db ? sqlite3_errmsg(s->db) : "no database");
}

static ms_status sq_record(void *impl, const char *account, const char *domain,
			   int starttls, int requiretls, int64_t now, char *why,
			   size_t whylen)
{
	struct sq *s = impl;
	ms_status st = MS_OK;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *q = s->put;
	if (sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 2, domain, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(q, 3, starttls) != SQLITE_OK ||
	    sqlite3_bind_int(q, 4, requiretls) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 5, now) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE)
		st = sq_err(s, why, whylen, "record");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	pthread_mutex_unlock(&s->lock);
	return st;
}

static ms_status sq_get(void *impl, const char *account, const char *domain,
			struct ms_rtls_capability *out, int *found, char *why,
			size_t whylen)
{
	struct sq *s = impl;
	ms_status st = MS_OK;
	*found = 0;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *q = s->get;
	int rc = SQLITE_ERROR;
	if (sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(q, 2, domain, -1, SQLITE_STATIC) == SQLITE_OK)
		rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->starttls = sqlite3_column_int(q, 0) != 0;
		out->requiretls = sqlite3_column_int(q, 1) != 0;
		out->updated = sqlite3_column_int64(q, 2);
		out->requiretls_last = sqlite3_column_int64(q, 3);
		*found = 1;
	} else if (rc != SQLITE_DONE) {
		st = sq_err(s, why, whylen, "lookup");
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	pthread_mutex_unlock(&s->lock);
	return st;
}

static ms_status sq_exec(struct sq *s, const char *sql, char *why, size_t whylen)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_err(s, why, whylen, "setup");
	return MS_OK;
}

/* Create the schema, or check that an existing file has ours (its version
 * in mailsec_schema: stores of other components may share the file). */
static ms_status sq_schema(struct sq *s, char *why, size_t whylen)
{
	static const char *const steps[] = { schema_sql };
	char *err = NULL;
	if (ms_sqlite_schema(s->db, "requiretls", steps, RTLS_SCHEMA_VERSION, &err) == SQLITE_OK)
		return MS_OK;
	ms_status st = err ? ms_why(why, whylen, MS_ERR_IO, "sqlite: %s", err)
			   : sq_err(s, why, whylen, "schema");
	sqlite3_free(err);
	return st;
}

/* Open (create, migrate) the file; *out is the store's state. */
static ms_status sq_open_impl(const struct ms_env *env, const char *path, struct sq **out,
			      char *why, size_t whylen)
{
	if (path == NULL || *path == '\0')
		return ms_why(why, whylen, MS_ERR_INVALID, "no path");
	struct ms_env e;
	ms_env_init(&e, env);
	struct sq *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	/* recursive: a batch holds it across the records it makes */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	int mrc = pthread_mutex_init(&s->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (mrc != 0) {
		ms_free(&e, s);
		return ms_why(why, whylen, MS_ERR_INTERNAL, "mutex");
	}
	ms_status st;
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		st = sq_err(s, why, whylen, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, MS_STORE_BUSY_TIMEOUT_MS);
	/* WAL: concurrent readers, atomic commits; NORMAL sync is durable
	 * across application crashes, which is what a cache needs.  Two
	 * processes opening a new file at once can get SQLITE_BUSY from the
	 * journal-mode switch without the busy handler being consulted, so
	 * the set-up is retried for up to ten seconds. */
	for (int i = 0; i < 1000; i++) {
		if ((st = sq_exec(s, "PRAGMA journal_mode = WAL;", why, whylen)) == MS_OK &&
		    (st = sq_exec(s, "PRAGMA synchronous = NORMAL;", why, whylen)) == MS_OK &&
		    (st = sq_schema(s, why, whylen)) == MS_OK)
			break;
		int ec = sqlite3_errcode(s->db);
		if (ec != SQLITE_BUSY && ec != SQLITE_LOCKED)
			break;
		sqlite3_sleep(10);
	}
	if (st != MS_OK)
		goto fail;
	if (sqlite3_prepare_v3(s->db, put_sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &s->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db, get_sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &s->get, NULL) != SQLITE_OK) {
		st = sq_err(s, why, whylen, "prepare");
		goto fail;
	}
	*out = s;
	return MS_OK;
fail:
	sq_close(s);
	return st;
}

ms_status ms_rtls_store_open_sqlite(const struct ms_env *env, const char *path,
				    struct ms_rtls_store **out, char *why,
				    size_t whylen)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no path");
	struct sq *s = NULL;
	ms_status st = sq_open_impl(env, path, &s, why, whylen);
	if (st != MS_OK)
		return st;
	static const struct ms_rtls_store_ops ops = {
		MS_RTLS_STORE_OPS_VERSION, sq_record, sq_get, sq_close};
	return ms_rtls_store_new(&s->env, &ops, s, out, why, whylen);
}

/* ---- the same store in the shape of mailsec/store.h (rtls_store.h) ---- */

static ms_status g_open(const struct ms_env *env, const char *location, void **impl,
			char *why, size_t whylen)
{
	struct sq *s = NULL;
	ms_status st = sq_open_impl(env, location, &s, why, whylen);
	if (st == MS_OK)
		*impl = s;
	return st;
}

static ms_status g_get(void *impl, const void *query, ms_store_rec_fn fn, void *user,
		       char *why, size_t whylen)
{
	const struct rtls_store_key *k = query;
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no key");
	struct ms_rtls_capability c;
	int found = 0;
	ms_status st = sq_get(impl, k->account, k->domain, &c, &found, why, whylen);
	if (st == MS_OK && found)
		fn(user, &c);
	return st;
}

static ms_status g_put(void *impl, const void *rec, char *why, size_t whylen)
{
	const struct rtls_store_obs *o = rec;
	return sq_record(impl, o->account, o->domain, o->starttls, o->requiretls, o->now, why,
			 whylen);
}

static ms_status g_batch(void *impl, const void *recs, size_t n, char *why, size_t whylen)
{
	struct sq *s = impl;
	const struct rtls_store_obs *o = recs;
	pthread_mutex_lock(&s->lock);
	ms_status st = sq_exec(s, "BEGIN IMMEDIATE;", why, whylen);
	for (size_t i = 0; st == MS_OK && i < n; i++)
		st = g_put(s, &o[i], why, whylen);
	if (st == MS_OK)
		st = sq_exec(s, "COMMIT;", why, whylen);
	if (st != MS_OK)
		sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
	pthread_mutex_unlock(&s->lock);
	return st;
}

static ms_status g_expire(void *impl, int64_t before, char *why, size_t whylen)
{
	struct sq *s = impl;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "DELETE FROM rtls_capability WHERE updated < ?1", -1,
				    &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, before);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	ms_status st = rc == SQLITE_DONE ? MS_OK : sq_err(s, why, whylen, "expire");
	pthread_mutex_unlock(&s->lock);
	return st;
}

static ms_status g_del(void *impl, const void *query, char *why, size_t whylen)
{
	struct sq *s = impl;
	const struct rtls_store_key *k = query;
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no key");
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "DELETE FROM rtls_capability WHERE account = ?1 AND"
				    " domain = ?2", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, k->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, k->domain, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	ms_status st = rc == SQLITE_DONE ? MS_OK : sq_err(s, why, whylen, "delete");
	pthread_mutex_unlock(&s->lock);
	return st;
}

const struct ms_store_ops rtls_store_sqlite_ops = {
	.version = MS_STORE_OPS_VERSION,
	.open = g_open,
	.get = g_get,
	.put = g_put,
	.batch = g_batch,
	.expire = g_expire,
	.close = sq_close,
	.del = g_del,
};
