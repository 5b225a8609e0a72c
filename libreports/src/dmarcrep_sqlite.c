/*
 * dmarcrep_sqlite.c - the default DMARC report store: one SQLite file in
 * WAL mode, one row per identical tuple and hour with a count; a batch is
 * one transaction of upserts ("count = count + excluded.count"), so
 * several MTAs (processes) may write the same file.
 */
#include "dmarcrep_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <mailsec/store.h>
#include <sqlite3.h>

#include "ms_sqlite_schema.h"

#define SCHEMA_VERSION 1

struct sq {
	struct ms_env env;
	sqlite3 *db;
	sqlite3_stmt *upsert;
	pthread_mutex_t lock;  /* one statement set: calls are serialised */
};

#define COLS "hour, policy_domain, policy, source_ip, header_from, envelope_from, " \
	     "disposition, dkim_eval, spf_eval, reason, spf_domain, spf_scope, spf_result, dkim"

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS dmarc_rows ("
	" hour INTEGER NOT NULL, policy_domain TEXT NOT NULL, policy TEXT NOT NULL,"
	" source_ip TEXT NOT NULL, header_from TEXT NOT NULL, envelope_from TEXT NOT NULL,"
	" disposition TEXT NOT NULL, dkim_eval TEXT NOT NULL, spf_eval TEXT NOT NULL,"
	" reason TEXT NOT NULL, spf_domain TEXT NOT NULL, spf_scope TEXT NOT NULL,"
	" spf_result TEXT NOT NULL, dkim TEXT NOT NULL, count INTEGER NOT NULL,"
	" PRIMARY KEY (" COLS ")) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS dmarc_rows_domain ON dmarc_rows (policy_domain, hour);";

static ms_status dberr(struct sq *q, char *why, size_t whylen, const char *what)
{
	return ms_why(why, whylen, MS_ERR_IO, "sqlite: %s: %s", what, sqlite3_errmsg(q->db));
}

static void sq_close(void *impl)
{
	struct sq *q = impl;
	if (q == NULL)
		return;
	sqlite3_finalize(q->upsert);
	sqlite3_close(q->db);
	pthread_mutex_destroy(&q->lock);
	struct ms_env e = q->env;
	ms_free(&e, q);
}

static ms_status sq_open(const struct ms_env *env, const char *location, void **impl,
			 char *why, size_t whylen)
{
	struct sq *q = ms_calloc(env, 1, sizeof(*q));
	if (q == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	ms_env_init(&q->env, env);   /* NULL env: the defaults */
	pthread_mutex_init(&q->lock, NULL);
	ms_status st = MS_OK;
	if (sqlite3_open_v2(location, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		st = ms_why(why, whylen, MS_ERR_IO, "sqlite: cannot open %s: %s", location,
			    q->db ? sqlite3_errmsg(q->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(q->db, MS_STORE_BUSY_TIMEOUT_MS);
	char *err = NULL;
	static const char *const steps[] = { SCHEMA };
	int rc = SQLITE_BUSY;
	/* a new file: the journal-mode switch can be BUSY without the busy
	 * handler being asked (as in the other stores): retried for 10 s */
	for (int i = 0; i < 1000 && (rc == SQLITE_BUSY || rc == SQLITE_LOCKED); i++) {
		sqlite3_free(err);
		err = NULL;
		rc = sqlite3_exec(q->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
				  NULL, NULL, &err);
		if (rc == SQLITE_OK)
			rc = ms_sqlite_schema(q->db, "dmarc-report", steps, SCHEMA_VERSION, &err);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(10);
	}
	if (rc != SQLITE_OK) {
		st = ms_why(why, whylen, MS_ERR_IO, "sqlite: %s: %s", location,
			    err ? err : sqlite3_errmsg(q->db));
		sqlite3_free(err);
		goto fail;
	}
	if (sqlite3_prepare_v2(q->db,
			       "INSERT INTO dmarc_rows (" COLS ", count) VALUES "
			       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (" COLS ") DO UPDATE "
			       "SET count = count + excluded.count", -1, &q->upsert,
			       NULL) != SQLITE_OK) {
		st = dberr(q, why, whylen, "prepare");
		goto fail;
	}
	*impl = q;
	return MS_OK;
fail:
	sq_close(q);
	return st;
}

/* DKIM results in one column: "result domain selector" lines (the row
 * check keeps spaces and newlines out of each field). */
void dmarcrep_dkim_text(const struct ms_dmarcrep_row *r, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < r->ndkim && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s %s %s", i ? "\n" : "",
					r->dkim[i].result, r->dkim[i].domain, r->dkim[i].selector);
}

int dmarcrep_dkim_parse(struct ms_dmarcrep_row *r, const char *t)
{
	r->ndkim = 0;
	while (t && *t) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t) : strlen(t);
		char line[400];
		if (n >= sizeof(line) || r->ndkim >= MS_DMARCREP_MAX_DKIM)
			return 0;
		memcpy(line, t, n);
		line[n] = '\0';
		struct ms_dmarcrep_dkim *d = &r->dkim[r->ndkim];
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (sp2 == NULL)
			return 0;
		*sp1 = *sp2 = '\0';
		if (!dmarcrep_copy(d->result, sizeof(d->result), line) ||
		    !dmarcrep_copy(d->domain, sizeof(d->domain), sp1 + 1) ||
		    !dmarcrep_copy(d->selector, sizeof(d->selector), sp2 + 1))
			return 0;
		r->ndkim++;
		t = nl ? nl + 1 : NULL;
	}
	return 1;
}

static ms_status put_locked(struct sq *q, const struct ms_dmarcrep_row *r, char *why,
			    size_t whylen)
{
	ms_status st = ms_dmarcrep_row_check(r, why, whylen);
	if (st != MS_OK)
		return st;
	char dk[MS_DMARCREP_MAX_DKIM * 340];
	dmarcrep_dkim_text(r, dk, sizeof(dk));
	const char *txt[] = { r->policy_domain, r->policy, r->source_ip, r->header_from,
			      r->envelope_from, r->disposition, r->dkim_eval, r->spf_eval,
			      r->reason, r->spf_domain, r->spf_scope, r->spf_result, dk };
	sqlite3_reset(q->upsert);
	sqlite3_bind_int64(q->upsert, 1, r->hour);
	for (int i = 0; i < 13; i++)
		sqlite3_bind_text(q->upsert, i + 2, txt[i], -1, SQLITE_STATIC);
	if (r->count > INT64_MAX)
		return ms_why(why, whylen, MS_ERR_INVALID, "count too large");
	sqlite3_bind_int64(q->upsert, 15, (sqlite3_int64)r->count);
	int rc = sqlite3_step(q->upsert);
	sqlite3_reset(q->upsert);
	sqlite3_clear_bindings(q->upsert);
	if (rc != SQLITE_DONE)
		return dberr(q, why, whylen, "upsert");
	return MS_OK;
}

static ms_status sq_put(void *impl, const struct ms_dmarcrep_row *row, char *why, size_t whylen)
{
	struct sq *q = impl;
	pthread_mutex_lock(&q->lock);
	ms_status st = put_locked(q, row, why, whylen);
	pthread_mutex_unlock(&q->lock);
	return st;
}

static ms_status sq_batch(void *impl, const struct ms_dmarcrep_row *rows, size_t n, char *why,
			  size_t whylen)
{
	struct sq *q = impl;
	pthread_mutex_lock(&q->lock);
	ms_status st = MS_OK;
	/* IMMEDIATE: take the write lock now (busy timeout applies), not at
	 * the first upsert where a conflict could not be retried */
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		st = dberr(q, why, whylen, "begin");
		goto out;
	}
	for (size_t i = 0; i < n && st == MS_OK; i++)
		st = put_locked(q, &rows[i], why, whylen);
	if (st == MS_OK && sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		st = dberr(q, why, whylen, "commit");
	if (st != MS_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&q->lock);
	return st;
}

static const char *col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? (const char *)t : "";
}

static ms_status sq_get(void *impl, const char *domain, int64_t begin, int64_t end,
			ms_dmarcrep_row_fn fn, void *user, char *why, size_t whylen)
{
	struct sq *q = impl;
	pthread_mutex_lock(&q->lock);
	ms_status st = MS_OK;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->db,
			       domain ? "SELECT " COLS ", count FROM dmarc_rows WHERE hour >= ?1 "
					"AND hour < ?2 AND policy_domain = ?3 ORDER BY hour"
				      : "SELECT " COLS ", count FROM dmarc_rows WHERE hour >= ?1 "
					"AND hour < ?2 ORDER BY policy_domain, hour",
			       -1, &s, NULL) != SQLITE_OK) {
		st = dberr(q, why, whylen, "select");
		goto out;
	}
	sqlite3_bind_int64(s, 1, begin);
	sqlite3_bind_int64(s, 2, end);
	if (domain)
		sqlite3_bind_text(s, 3, domain, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct ms_dmarcrep_row r;
		memset(&r, 0, sizeof(r));
		r.version = MS_DMARCREP_ROW_VERSION;
		r.hour = sqlite3_column_int64(s, 0);
		struct { char *dst; size_t len; } f[] = {
			{ r.policy_domain, sizeof(r.policy_domain) }, { r.policy, sizeof(r.policy) },
			{ r.source_ip, sizeof(r.source_ip) }, { r.header_from, sizeof(r.header_from) },
			{ r.envelope_from, sizeof(r.envelope_from) },
			{ r.disposition, sizeof(r.disposition) }, { r.dkim_eval, sizeof(r.dkim_eval) },
			{ r.spf_eval, sizeof(r.spf_eval) }, { r.reason, sizeof(r.reason) },
			{ r.spf_domain, sizeof(r.spf_domain) }, { r.spf_scope, sizeof(r.spf_scope) },
			{ r.spf_result, sizeof(r.spf_result) },
		};
		int ok = 1;
		for (int i = 0; i < 12; i++)
			ok &= dmarcrep_copy(f[i].dst, f[i].len, col(s, i + 1));
		ok &= dmarcrep_dkim_parse(&r, col(s, 13));
		sqlite3_int64 c = sqlite3_column_int64(s, 14);
		r.count = c > 0 ? (uint64_t)c : 0;
		/* a row another writer damaged is reported, not passed on */
		if (!ok || ms_dmarcrep_row_check(&r, NULL, 0) != MS_OK) {
			st = ms_why(why, whylen, MS_ERR_IO, "sqlite: a stored row is malformed");
			break;
		}
		if (fn(user, &r))
			break;
	}
	if (st == MS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = dberr(q, why, whylen, "select");
	sqlite3_finalize(s);
out:
	pthread_mutex_unlock(&q->lock);
	return st;
}

static ms_status sq_expire(void *impl, int64_t before, char *why, size_t whylen)
{
	struct sq *q = impl;
	pthread_mutex_lock(&q->lock);
	ms_status st = MS_OK;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->db, "DELETE FROM dmarc_rows WHERE hour < ?", -1, &s, NULL) !=
		    SQLITE_OK ||
	    (sqlite3_bind_int64(s, 1, before), sqlite3_step(s)) != SQLITE_DONE)
		st = dberr(q, why, whylen, "expire");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&q->lock);
	return st;
}

static const struct ms_dmarcrep_store_ops sqlite_ops = {
	.version = MS_DMARCREP_STORE_OPS_VERSION,
	.open = sq_open,
	.get = sq_get,
	.put = sq_put,
	.batch = sq_batch,
	.expire = sq_expire,
	.close = sq_close,
};

const struct ms_dmarcrep_store_ops *ms_dmarcrep_store_sqlite(void)
{
	return &sqlite_ops;
}
