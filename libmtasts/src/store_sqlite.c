/*
 * store_sqlite.c - the default policy store: one SQLite table.
 *
 * Each update is one INSERT OR REPLACE statement, i.e. one transaction, so
 * a crash (or a kill) mid-write leaves the old row or the new one, never a
 * half policy.  WAL lets readers in other processes proceed during a write;
 * the busy timeout makes concurrent writers wait instead of failing.
 * The connection is opened in serialized mode, so the store can be shared
 * by threads.
 */
#include "store.h"

#include <pthread.h>
#include <mailsec/store.h>
#include <sqlite3.h>

#include "ms_sqlite_schema.h"
#include <stdio.h>
#include <string.h>

struct sqlite_store {
	struct ms_env env;
	sqlite3 *db;
	/* The lookup every route makes (twice: would-fetch and discovery),
	 * prepared once: preparing it each time was most of a warm route's
	 * policy read (SQL parse, about 100 k instructions).  A statement has
	 * one cursor, so threads sharing the store take turns on it. */
	pthread_mutex_t get_lock;
	sqlite3_stmt *get_q;
};

/* The version in mailsec_schema (ms_sqlite_schema.h); bump with a step. */
#define STS_SCHEMA_VERSION 1

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS mtasts_policy ("
	" domain TEXT PRIMARY KEY,"
	" id TEXT NOT NULL,"
	" policy BLOB NOT NULL,"
	" fetched_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" last_used INTEGER NOT NULL,"
	" backoff_id TEXT NOT NULL,"
	" backoff_until INTEGER NOT NULL,"
	" failures INTEGER NOT NULL,"
	" last_failure INTEGER NOT NULL)";

static void copy_text(char *dst, size_t size, const unsigned char *src)
{
	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	snprintf(dst, size, "%s", (const char *)src);
}

/* Fill `e` from the current row; the policy goes to polbuf. */
static ms_status row_to_entry(sqlite3_stmt *q, struct ms_sts_entry *e,
			      uint8_t *polbuf, size_t polbufsize)
{
	memset(e, 0, sizeof(*e));
	e->version = MS_STS_ENTRY_VERSION;
	copy_text(e->domain, sizeof(e->domain), sqlite3_column_text(q, 0));
	copy_text(e->id, sizeof(e->id), sqlite3_column_text(q, 1));
	const void *pol = sqlite3_column_blob(q, 2);
	size_t plen = (size_t)sqlite3_column_bytes(q, 2);
	if (plen > polbufsize)
		return MS_ERR_LIMIT;
	if (plen)
		memcpy(polbuf, pol, plen);
	e->policy = polbuf;
	e->policy_len = plen;
	e->fetched_at = sqlite3_column_int64(q, 3);
	e->expires_at = sqlite3_column_int64(q, 4);
	e->last_used = sqlite3_column_int64(q, 5);
	copy_text(e->backoff_id, sizeof(e->backoff_id), sqlite3_column_text(q, 6));
	e->backoff_until = sqlite3_column_int64(q, 7);
	e->failures = (uint32_t)sqlite3_column_int64(q, 8);
	e->last_failure = (uint32_t)sqlite3_column_int64(q, 9);
	return MS_OK;
}

#define COLUMNS "domain, id, policy, fetched_at, expires_at, last_used," \
	" backoff_id, backoff_until, failures, last_failure"

static ms_status sq_get(void *self, const char *domain, struct ms_sts_entry *e,
			uint8_t *polbuf, size_t polbufsize, int *found)
{
	struct sqlite_store *s = self;
	*found = 0;
	pthread_mutex_lock(&s->get_lock);
	if (s->get_q == NULL &&
	    sqlite3_prepare_v2(s->db, "SELECT " COLUMNS " FROM mtasts_policy WHERE domain = ?1",
			       -1, &s->get_q, NULL) != SQLITE_OK) {
		s->get_q = NULL;
		pthread_mutex_unlock(&s->get_lock);
		return MS_ERR_IO;
	}
	sqlite3_stmt *q = s->get_q;
	ms_status st = MS_OK;
	if (sqlite3_bind_text(q, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK) {
		st = MS_ERR_IO;
	} else {
		int rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			st = row_to_entry(q, e, polbuf, polbufsize);
			*found = st == MS_OK;
		} else if (rc != SQLITE_DONE) {
			st = MS_ERR_IO;
		}
	}
	/* end the read (its snapshot) now, as finalize did, and drop the
	 * borrowed domain */
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	pthread_mutex_unlock(&s->get_lock);
	return st;
}

/* Newer wins, as in the PostgreSQL store (store_pg.c): the policy of the
 * entry fetched last, the latest use, the back-off of a newer fetch or
 * one that lasts at least as long (RFC 8461 s5.1). */
#define NEWER "excluded.fetched_at >= mtasts_policy.fetched_at"
#define BACKOFF "(excluded.fetched_at > mtasts_policy.fetched_at OR" \
	" excluded.backoff_until >= mtasts_policy.backoff_until)"
#define PICK(col, cond) " " col " = CASE WHEN " cond " THEN excluded." col \
	" ELSE mtasts_policy." col " END"
#define MERGE PICK("id", NEWER) "," PICK("policy", NEWER) "," PICK("expires_at", NEWER) "," \
	" fetched_at = max(mtasts_policy.fetched_at, excluded.fetched_at)," \
	" last_used = max(mtasts_policy.last_used, excluded.last_used)," \
	PICK("backoff_id", BACKOFF) "," PICK("failures", BACKOFF) "," \
	PICK("last_failure", BACKOFF) "," PICK("backoff_until", BACKOFF)

static ms_status sq_put(void *self, const struct ms_sts_entry *e)
{
	struct sqlite_store *s = self;
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO mtasts_policy (" COLUMNS ")"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
			       " ON CONFLICT (domain) DO UPDATE SET " MERGE,
			       -1, &q, NULL) != SQLITE_OK)
		return MS_ERR_IO;
	sqlite3_bind_text(q, 1, e->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, e->policy_len ? (const void *)e->policy : "",
			  (int)e->policy_len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, e->fetched_at);
	sqlite3_bind_int64(q, 5, e->expires_at);
	sqlite3_bind_int64(q, 6, e->last_used);
	sqlite3_bind_text(q, 7, e->backoff_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, e->backoff_until);
	sqlite3_bind_int64(q, 9, e->failures);
	sqlite3_bind_int64(q, 10, e->last_failure);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? MS_OK : MS_ERR_IO;
}

static ms_status sq_del(void *self, const char *domain)
{
	struct sqlite_store *s = self;
	sqlite3_stmt *q = NULL;
	const char *sql = domain ? "DELETE FROM mtasts_policy WHERE domain = ?1"
				 : "DELETE FROM mtasts_policy";
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return MS_ERR_IO;
	if (domain)
		sqlite3_bind_text(q, 1, domain, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? MS_OK : MS_ERR_IO;
}

static ms_status sq_list(void *self, void (*cb)(void *, const struct ms_sts_entry *),
			 void *user)
{
	struct sqlite_store *s = self;
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT " COLUMNS " FROM mtasts_policy ORDER BY domain",
			       -1, &q, NULL) != SQLITE_OK)
		return MS_ERR_IO;
	uint8_t *buf = ms_malloc(&s->env, MS_STS_POLICY_MAX);
	if (buf == NULL) {
		sqlite3_finalize(q);
		return MS_ERR_NOMEM;
	}
	int rc;
	ms_status st = MS_OK;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct ms_sts_entry e;
		if (row_to_entry(q, &e, buf, MS_STS_POLICY_MAX) == MS_OK)
			cb(user, &e);
	}
	if (rc != SQLITE_DONE)
		st = MS_ERR_IO;
	ms_free(&s->env, buf);
	sqlite3_finalize(q);
	return st;
}

static void sq_close(void *self)
{
	struct sqlite_store *s = self;
	sqlite3_finalize(s->get_q);
	pthread_mutex_destroy(&s->get_lock);
	sqlite3_close(s->db);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

static const struct ms_sts_store_ops sqlite_ops = {
	MS_STS_STORE_VERSION, sq_get, sq_put, sq_del, sq_list, sq_close,
};

/* Create the table or check that the file's schema is ours (one
 * transaction: a second process waits on the lock, then finds it). */
static int migrate(sqlite3 *db, char **err)
{
	static const char *const steps[] = { schema };
	return ms_sqlite_schema(db, "mtasts", steps, STS_SCHEMA_VERSION, err);
}

/*
 * Switch to WAL and create the table.  Two processes opening a new file at
 * once can get SQLITE_BUSY here without the busy handler being consulted
 * (the journal-mode change and WAL recovery take locks directly), so retry
 * for up to ten seconds.
 */
static int setup(sqlite3 *db, char **err)
{
	int rc = SQLITE_BUSY;
	for (int i = 0; i < 1000; i++) {
		sqlite3_free(*err);
		*err = NULL;
		rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
				  NULL, NULL, err);
		if (rc == SQLITE_OK)
			rc = migrate(db, err);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		sqlite3_sleep(10);
	}
	return rc;
}

static ms_status sq_open_impl(const struct ms_env *env, const char *path,
			     struct sqlite_store **out, char *why, size_t whylen)
{
	struct ms_env e;
	ms_env_init(&e, env);
	struct sqlite_store *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	pthread_mutex_init(&s->get_lock, NULL);
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_FULLMUTEX, NULL);
	char *err = NULL;
	if (rc != SQLITE_OK) {
		ms_why(why, whylen, MS_ERR_IO, "cannot open %s: %s", path,
		       s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, MS_STORE_BUSY_TIMEOUT_MS);
	/* journal_mode=WAL is persistent in the file; synchronous=NORMAL is
	 * still atomic and consistent under WAL (only the latest commits may
	 * roll back after a power cut, which a cache tolerates). */
	if (setup(s->db, &err) != SQLITE_OK) {
		ms_why(why, whylen, MS_ERR_IO, "cannot set up %s: %s", path,
		       err ? err : sqlite3_errmsg(s->db));
		sqlite3_free(err);
		goto fail;
	}
	*out = s;
	return MS_OK;
fail:
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->get_lock);
	ms_free(&e, s);
	return MS_ERR_IO;
}

ms_status ms_sts_store_new_sqlite(const struct ms_env *env, const char *path,
				  struct ms_sts_store **out, char *why, size_t whylen)
{
	if (out == NULL || path == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	*out = NULL;
	struct sqlite_store *s = NULL;
	ms_status st = sq_open_impl(env, path, &s, why, whylen);
	if (st != MS_OK)
		return st;
	st = ms_sts_store_new_custom(&s->env, &sqlite_ops, s, out);
	if (st != MS_OK) {
		sq_close(s);
		return ms_why(why, whylen, st, "out of memory");
	}
	return MS_OK;
}

/* ---- the same store in the shape of mailsec/store.h --------------------
 * query: const char *domain (NULL: every entry); rec: struct ms_sts_entry. */

static ms_status g_open(const struct ms_env *env, const char *location, void **impl,
			char *why, size_t whylen)
{
	struct sqlite_store *s = NULL;
	ms_status st = sq_open_impl(env, location, &s, why, whylen);
	if (st == MS_OK)
		*impl = s;
	return st;
}

struct g_walk {
	ms_store_rec_fn fn;
	void *user;
	int stop;
};

static void g_each(void *user, const struct ms_sts_entry *e)
{
	struct g_walk *w = user;
	if (!w->stop)
		w->stop = w->fn(w->user, e);
}

static ms_status g_get(void *impl, const void *query, ms_store_rec_fn fn, void *user,
		       char *why, size_t whylen)
{
	struct sqlite_store *s = impl;
	ms_status st;
	if (query == NULL) {
		struct g_walk w = { fn, user, 0 };
		st = sq_list(s, g_each, &w);
	} else {
		uint8_t *buf = ms_malloc(&s->env, MS_STS_POLICY_MAX);
		if (buf == NULL)
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		struct ms_sts_entry e;
		int found = 0;
		st = sq_get(s, query, &e, buf, MS_STS_POLICY_MAX, &found);
		if (st == MS_OK && found)
			fn(user, &e);
		ms_free(&s->env, buf);
	}
	return st == MS_OK ? st : ms_why(why, whylen, st, "sqlite: %s", sqlite3_errmsg(s->db));
}

static ms_status g_put(void *impl, const void *rec, char *why, size_t whylen)
{
	struct sqlite_store *s = impl;
	ms_status st = sq_put(s, rec);
	return st == MS_OK ? st : ms_why(why, whylen, st, "sqlite: %s", sqlite3_errmsg(s->db));
}

static ms_status g_batch(void *impl, const void *recs, size_t n, char *why, size_t whylen)
{
	struct sqlite_store *s = impl;
	const struct ms_sts_entry *e = recs;
	/* the connection's own (recursive) mutex: no other thread's statement
	 * lands inside this transaction */
	sqlite3_mutex_enter(sqlite3_db_mutex(s->db));
	ms_status st = MS_OK;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		st = MS_ERR_IO;
	for (size_t i = 0; st == MS_OK && i < n; i++)
		st = sq_put(s, &e[i]);
	if (st == MS_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		st = MS_ERR_IO;
	if (st != MS_OK) {
		ms_why(why, whylen, st, "sqlite batch: %s", sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_mutex_leave(sqlite3_db_mutex(s->db));
	return st;
}

static ms_status g_expire(void *impl, int64_t before, char *why, size_t whylen)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "DELETE FROM mtasts_policy WHERE last_used < ?1", -1,
				    &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, before);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return ms_why(why, whylen, MS_ERR_IO, "sqlite expire: %s", sqlite3_errmsg(s->db));
	return MS_OK;
}

static ms_status g_del(void *impl, const void *query, char *why, size_t whylen)
{
	struct sqlite_store *s = impl;
	ms_status st = sq_del(s, query);
	return st == MS_OK ? st : ms_why(why, whylen, st, "sqlite: %s", sqlite3_errmsg(s->db));
}

const struct ms_store_ops sts_store_sqlite_ops = {
	.version = MS_STORE_OPS_VERSION,
	.open = g_open,
	.get = g_get,
	.put = g_put,
	.batch = g_batch,
	.expire = g_expire,
	.close = sq_close,
	.del = g_del,
};
