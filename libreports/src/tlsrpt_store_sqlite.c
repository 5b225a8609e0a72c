/*
 * tlsrpt_store_sqlite.c - the default TLSRPT store: one SQLite file (WAL,
 * busy timeout 5 s), one row per aggregation key whose count is raised by
 * an atomic upsert; a batch is one transaction (BEGIN IMMEDIATE so two
 * writers queue instead of failing at COMMIT).
 */
#include "tlsrpt_internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#define SCHEMA_VERSION "1"

struct lite {
	struct ms_env env;
	sqlite3 *db;
	sqlite3_stmt *put, *get_all, *get_one, *expire;
	pthread_mutex_t mu;
	char *path;
};

static const char *const SCHEMA =
	"CREATE TABLE IF NOT EXISTS tlsrpt_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tlsrpt_rows ("
	" day TEXT NOT NULL, domain TEXT NOT NULL, ptype INTEGER NOT NULL,"
	" strings TEXT NOT NULL, mx TEXT NOT NULL, host TEXT NOT NULL, addr TEXT NOT NULL,"
	" result INTEGER NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,"
	" PRIMARY KEY (day, domain, ptype, strings, mx, host, addr, result, reason))"
	" WITHOUT ROWID;"
	"INSERT OR IGNORE INTO tlsrpt_meta (k, v) VALUES ('schema', '" SCHEMA_VERSION "');";

static ms_status fail(struct lite *l, char *why, size_t whylen, const char *what)
{
	return ms_why(why, whylen, MS_ERR_IO, "tlsrpt store %s: %s", what, sqlite3_errmsg(l->db));
}

static ms_status lite_open(void *impl, char *why, size_t whylen)
{
	struct lite *l = impl;
	if (sqlite3_open_v2(l->path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					       SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return fail(l, why, whylen, "open");
	sqlite3_busy_timeout(l->db, 5000);
	if (sqlite3_exec(l->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
		return fail(l, why, whylen, "schema");
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(l->db, "SELECT v FROM tlsrpt_meta WHERE k = 'schema'", -1, &q,
			       NULL) != SQLITE_OK)
		return fail(l, why, whylen, "schema");
	int ok = sqlite3_step(q) == SQLITE_ROW &&
		 strcmp((const char *)sqlite3_column_text(q, 0), SCHEMA_VERSION) == 0;
	sqlite3_finalize(q);
	if (!ok)
		return ms_why(why, whylen, MS_ERR_IO, "%s: not a TLSRPT store of schema %s", l->path,
			      SCHEMA_VERSION);
	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO tlsrpt_rows VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
			       " ON CONFLICT (day, domain, ptype, strings, mx, host, addr, result,"
			       " reason) DO UPDATE SET count = count + excluded.count",
			       -1, &l->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db,
			       "SELECT domain, ptype, strings, mx, host, addr, result, reason, count"
			       " FROM tlsrpt_rows WHERE day = ?1"
			       " ORDER BY domain, ptype, strings, mx, host, addr, result, reason",
			       -1, &l->get_all, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db,
			       "SELECT domain, ptype, strings, mx, host, addr, result, reason, count"
			       " FROM tlsrpt_rows WHERE day = ?1 AND domain = ?2"
			       " ORDER BY ptype, strings, mx, host, addr, result, reason",
			       -1, &l->get_one, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "DELETE FROM tlsrpt_rows WHERE day < ?1", -1, &l->expire,
			       NULL) != SQLITE_OK)
		return fail(l, why, whylen, "prepare");
	return MS_OK;
}

static int put_one(struct lite *l, const struct ms_tlsrpt_row *r)
{
	sqlite3_stmt *q = l->put;
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, r->day, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, r->policy_domain, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, (int)r->policy_type);
	sqlite3_bind_text(q, 4, r->policy_strings, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, r->mx_patterns, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, r->mx_host, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, r->addr, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, (int)r->result);
	sqlite3_bind_text(q, 9, r->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 10, (sqlite3_int64)r->count);
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE;
}

static ms_status lite_batch(void *impl, const struct ms_tlsrpt_row *rows, size_t n, char *why,
			    size_t whylen)
{
	struct lite *l = impl;
	ms_status st = MS_OK;
	pthread_mutex_lock(&l->mu);
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		st = fail(l, why, whylen, "begin");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!put_one(l, &rows[i])) {
			st = fail(l, why, whylen, "write");
			sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
			goto out;
		}
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		st = fail(l, why, whylen, "commit");
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	}
out:
	pthread_mutex_unlock(&l->mu);
	return st;
}

static ms_status lite_put(void *impl, const struct ms_tlsrpt_row *row, char *why, size_t whylen)
{
	return lite_batch(impl, row, 1, why, whylen);
}

static const char *col(sqlite3_stmt *q, int i)
{
	const char *s = (const char *)sqlite3_column_text(q, i);
	return s ? s : "";
}

static ms_status lite_get(void *impl, const char *day, const char *domain, ms_tlsrpt_row_fn fn,
			  void *arg, char *why, size_t whylen)
{
	struct lite *l = impl;
	ms_status st = MS_OK;
	pthread_mutex_lock(&l->mu);
	sqlite3_stmt *q = domain ? l->get_one : l->get_all;
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, day, -1, SQLITE_TRANSIENT);
	if (domain)
		sqlite3_bind_text(q, 2, domain, -1, SQLITE_TRANSIENT);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct ms_tlsrpt_row r = { .policy_domain = col(q, 0) };
		memcpy(r.day, day, 10);
		int t = sqlite3_column_int(q, 1), res = sqlite3_column_int(q, 6);
		if (t < 0 || t > MS_TLSRPT_POLICY_STS || res < 0 || res > MS_TLSRPT_RESULT_MAX)
			continue; /* a row this version cannot name: never reported wrong */
		r.policy_type = (enum ms_tlsrpt_policy_type)t;
		r.policy_strings = col(q, 2);
		r.mx_patterns = col(q, 3);
		r.mx_host = col(q, 4);
		r.addr = col(q, 5);
		r.result = (enum ms_tlsrpt_result)res;
		r.reason = col(q, 7);
		r.count = (uint64_t)sqlite3_column_int64(q, 8);
		if (fn(arg, &r))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = fail(l, why, whylen, "read");
	sqlite3_reset(q);
	pthread_mutex_unlock(&l->mu);
	return st;
}

static ms_status lite_expire(void *impl, const char *before, char *why, size_t whylen)
{
	struct lite *l = impl;
	pthread_mutex_lock(&l->mu);
	sqlite3_reset(l->expire);
	sqlite3_bind_text(l->expire, 1, before, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(l->expire);
	sqlite3_reset(l->expire);
	pthread_mutex_unlock(&l->mu);
	return rc == SQLITE_DONE ? MS_OK : fail(l, why, whylen, "expire");
}

static void lite_close(void *impl)
{
	struct lite *l = impl;
	if (l == NULL)
		return;
	sqlite3_finalize(l->put);
	sqlite3_finalize(l->get_all);
	sqlite3_finalize(l->get_one);
	sqlite3_finalize(l->expire);
	sqlite3_close(l->db);
	pthread_mutex_destroy(&l->mu);
	struct ms_env e = l->env;
	ms_free(&e, l->path);
	ms_free(&e, l);
}

ms_status ms_tlsrpt_store_open_sqlite(const struct ms_env *env, const char *path,
				      struct ms_tlsrpt_store **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (path == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	struct ms_env e;
	ms_env_init(&e, env);
	struct lite *l = ms_calloc(&e, 1, sizeof(*l));
	if (l == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	l->env = e;
	pthread_mutex_init(&l->mu, NULL);
	l->path = ms_strdup(&e, path);
	if (l->path == NULL) {
		lite_close(l);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	static const struct ms_tlsrpt_store_ops ops = {
		.version = MS_TLSRPT_STORE_OPS_VERSION,
		.open = lite_open,
		.get = lite_get,
		.put = lite_put,
		.batch = lite_batch,
		.expire = lite_expire,
		.close = lite_close,
	};
	return ms_tlsrpt_store_new(&e, &ops, l, out, why, whylen);
}
