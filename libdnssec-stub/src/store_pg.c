/*
 * store_pg.c - the PostgreSQL layer of the store backends, on libpq.
 *
 * One connection per thread (a libpq connection is not to be shared by
 * threads in flight), kept in the handle and reused; each statement of the
 * component is prepared once per connection.  A connection that broke, or
 * a server that is down or shutting down, is MS_ERR_UNAVAILABLE and the
 * connection is dropped: the next call reconnects, so callers recover by
 * themselves once the server is back.  Built without libpq, every entry
 * point answers MS_ERR_UNSUPPORTED.
 */
#include "mailsec/store.h"
#include "ms_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MS_HAVE_LIBPQ
#include <libpq-fe.h>

/* Any fixed number: every mailsec schema change in a database is serialised
 * on it, whichever component, so MTAs starting together do not race. */
#define SCHEMA_LOCK_KEY "1919191919"

struct pg_conn {
	struct pg_conn *next;
	pthread_t tid;
	PGconn *c;
	int prepared;  /* the component's statements are prepared */
};

struct ms_pg {
	struct ms_env env;
	char *uri;
	const struct ms_pg_schema *schema;
	pthread_mutex_t lock;  /* the list; each connection is its thread's */
	struct pg_conn *conns;
};

int ms_store_have_postgresql(void)
{
	return 1;
}

/* libpq's messages end in a newline; `why` gets one line. */
static ms_status pg_why(char *why, size_t whylen, ms_status st, const char *what,
			const char *msg)
{
	char m[300];
	snprintf(m, sizeof(m), "%s", msg ? msg : "");
	for (char *p = m; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = (p[1] == '\0') ? '\0' : ' ';
	if (st == MS_ERR_UNAVAILABLE)
		return ms_why(why, whylen, st, "store unreachable: postgresql %s: %s", what, m);
	return ms_why(why, whylen, st, "postgresql %s: %s", what, m);
}

static struct pg_conn *conn_find(struct ms_pg *pg)
{
	pthread_t self = pthread_self();
	pthread_mutex_lock(&pg->lock);
	struct pg_conn *k = pg->conns;
	while (k && !pthread_equal(k->tid, self))
		k = k->next;
	pthread_mutex_unlock(&pg->lock);
	return k;
}

/* Drop the thread's connection after a failure: the next call reconnects. */
static void conn_reset(struct pg_conn *k)
{
	if (k->c)
		PQfinish(k->c);
	k->c = NULL;
	k->prepared = 0;
}

static void notice(void *arg, const char *message)
{
	struct ms_pg *pg = arg;
	char m[300];
	snprintf(m, sizeof(m), "%s", message);
	m[strcspn(m, "\n")] = '\0';
	struct ms_kv kv[] = { { "notice", m } };
	ms_log(&pg->env, MS_LOG_DEBUG, "store", "postgresql notice", kv, 1);
}

static ms_status conn_connect(struct ms_pg *pg, struct pg_conn *k, char *why, size_t whylen)
{
	/* connect_timeout first: a value in the URI overrides it */
	const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { "3", "mailsec", pg->uri, NULL };
	k->c = PQconnectdbParams(keys, vals, 1);
	if (k->c == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	/* libpq prints server notices ("relation already exists, skipping")
	 * to stderr by default; a library never prints: they go to the log */
	PQsetNoticeProcessor(k->c, notice, pg);
	if (PQstatus(k->c) != CONNECTION_OK) {
		ms_status st = pg_why(why, whylen, MS_ERR_UNAVAILABLE, "connect",
				      PQerrorMessage(k->c));
		conn_reset(k);
		return st;
	}
	return MS_OK;
}

/* The calling thread's connection, opened (and its statements prepared)
 * when it has none. */
static ms_status conn_get(struct ms_pg *pg, struct pg_conn **out, char *why, size_t whylen)
{
	struct pg_conn *k = conn_find(pg);
	if (k == NULL) {
		k = ms_calloc(&pg->env, 1, sizeof(*k));
		if (k == NULL)
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		k->tid = pthread_self();
		pthread_mutex_lock(&pg->lock);
		k->next = pg->conns;
		pg->conns = k;
		pthread_mutex_unlock(&pg->lock);
	}
	if (k->c != NULL && PQstatus(k->c) != CONNECTION_OK)
		conn_reset(k);
	if (k->c == NULL) {
		ms_status st = conn_connect(pg, k, why, whylen);
		if (st != MS_OK)
			return st;
	}
	*out = k;
	return MS_OK;
}

/* What a failed result means: the server or the connection is gone
 * (class 08 connection exception, 57P01-03 shutdown / cannot connect now,
 * no result at all) is temporary "unreachable"; the rest is an SQL error. */
static ms_status res_status(struct pg_conn *k, PGresult *r, ExecStatusType want,
			    const char *what, char *why, size_t whylen)
{
	if (r != NULL && PQresultStatus(r) == want)
		return MS_OK;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorMessage(r) : NULL;
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(k->c);
	int gone = r == NULL || PQstatus(k->c) != CONNECTION_OK || state == NULL ||
		   strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
	ms_status st = pg_why(why, whylen, gone ? MS_ERR_UNAVAILABLE : MS_ERR_IO, what, msg);
	if (gone)
		conn_reset(k);
	return st;
}

static ms_status simple_q(struct pg_conn *k, const char *sql, ExecStatusType want, char *why,
			 size_t whylen)
{
	PGresult *r = PQexec(k->c, sql);
	ms_status st = res_status(k, r, want, sql, why, whylen);
	PQclear(r);
	return st;
}

static ms_status simple(struct pg_conn *k, const char *sql, char *why, size_t whylen)
{
	PGresult *r = PQexec(k->c, sql);
	ms_status st = res_status(k, r, PGRES_COMMAND_OK, sql, why, whylen);
	PQclear(r);
	return st;
}

static ms_status prepare_all(struct ms_pg *pg, struct pg_conn *k, char *why, size_t whylen)
{
	for (size_t i = 0; i < pg->schema->nstatements; i++) {
		char name[32];
		snprintf(name, sizeof(name), "ms%zu", i);
		PGresult *r = PQprepare(k->c, name, pg->schema->statements[i], 0, NULL);
		ms_status st = res_status(k, r, PGRES_COMMAND_OK, "prepare", why, whylen);
		PQclear(r);
		if (st != MS_OK)
			return st;
	}
	k->prepared = 1;
	return MS_OK;
}

/* Create or migrate the component's schema in one transaction under the
 * advisory lock: a second MTA waits, then finds the version current. */
static ms_status migrate(struct ms_pg *pg, struct pg_conn *k, char *why, size_t whylen)
{
	const struct ms_pg_schema *sc = pg->schema;
	ms_status st = simple(k, "BEGIN", why, whylen);
	if (st != MS_OK)
		return st;
	st = simple_q(k, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", PGRES_TUPLES_OK,
		      why, whylen);
	if (st == MS_OK)
		st = simple(k, "CREATE TABLE IF NOT EXISTS mailsec_schema ("
		       " component text PRIMARY KEY, version integer NOT NULL)", why, whylen);
	long ver = 0;
	if (st == MS_OK) {
		const char *p[] = { sc->component };
		PGresult *r = PQexecParams(k->c,
					   "SELECT version FROM mailsec_schema WHERE component = $1",
					   1, NULL, p, NULL, NULL, 0);
		st = res_status(k, r, PGRES_TUPLES_OK, "schema version", why, whylen);
		if (st == MS_OK && PQntuples(r) == 1)
			ver = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	if (st == MS_OK && (ver < 0 || (size_t)ver > sc->nmigrations))
		st = ms_why(why, whylen, MS_ERR_IO,
			    "postgresql: %s schema version %ld is newer than this library's %zu",
			    sc->component, ver, sc->nmigrations);
	for (size_t i = (size_t)(ver < 0 ? 0 : ver); st == MS_OK && i < sc->nmigrations; i++)
		st = simple(k, sc->migrations[i], why, whylen);
	if (st == MS_OK && (size_t)ver < sc->nmigrations) {
		char v[24];
		snprintf(v, sizeof(v), "%zu", sc->nmigrations);
		const char *p[] = { sc->component, v };
		PGresult *r = PQexecParams(k->c,
					   "INSERT INTO mailsec_schema (component, version)"
					   " VALUES ($1, $2::integer) ON CONFLICT (component)"
					   " DO UPDATE SET version = EXCLUDED.version",
					   2, NULL, p, NULL, NULL, 0);
		st = res_status(k, r, PGRES_COMMAND_OK, "schema version", why, whylen);
		PQclear(r);
	}
	if (st == MS_OK)
		return simple(k, "COMMIT", why, whylen);
	if (k->c)
		PQclear(PQexec(k->c, "ROLLBACK"));
	return st;
}

void ms_pg_close(struct ms_pg *pg)
{
	if (pg == NULL)
		return;
	struct pg_conn *k = pg->conns;
	while (k) {
		struct pg_conn *n = k->next;
		conn_reset(k);
		ms_free(&pg->env, k);
		k = n;
	}
	pthread_mutex_destroy(&pg->lock);
	ms_free(&pg->env, pg->uri);
	struct ms_env e = pg->env;
	ms_free(&e, pg);
}

ms_status ms_pg_open(const struct ms_env *env, const char *uri,
		     const struct ms_pg_schema *schema, struct ms_pg **out, char *why,
		     size_t whylen)
{
	if (out == NULL || uri == NULL || schema == NULL || schema->component == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_pg *pg = ms_calloc(&e, 1, sizeof(*pg));
	if (pg == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	pg->env = e;
	pg->schema = schema;
	pthread_mutex_init(&pg->lock, NULL);
	if ((pg->uri = ms_strdup(&e, uri)) == NULL) {
		ms_pg_close(pg);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	struct pg_conn *k = NULL;
	ms_status st = conn_get(pg, &k, why, whylen);
	if (st == MS_OK)
		st = migrate(pg, k, why, whylen);
	if (st != MS_OK) {
		ms_pg_close(pg);
		return st;
	}
	*out = pg;
	return MS_OK;
}

ms_status ms_pg_exec(struct ms_pg *pg, size_t stmt, int nparams, const char *const *params,
		     ms_pg_row_fn fn, void *user, int64_t *affected, char *why, size_t whylen)
{
	if (affected)
		*affected = 0;
	if (pg == NULL || stmt >= pg->schema->nstatements || nparams < 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	/* A read on a connection the server dropped while it sat idle (a
	 * restart, a failover) is tried once more on a new connection: it
	 * changes nothing, so the first caller after a restart is not failed
	 * for nothing.  Writes are not repeated (a lost answer could hide a
	 * commit: an upsert that adds a count must not run twice). */
	int readonly = strncmp(pg->schema->statements[stmt], "SELECT", 6) == 0;
	struct pg_conn *k = NULL;
	ms_status st;
	PGresult *r = NULL;
	ExecStatusType want = PGRES_COMMAND_OK;
	for (int attempt = 0;; attempt++) {
		struct pg_conn *k0 = conn_find(pg);
		int reused = k0 != NULL && k0->c != NULL &&
			     PQtransactionStatus(k0->c) == PQTRANS_IDLE;
		if ((st = conn_get(pg, &k, why, whylen)) != MS_OK)
			return st;
		if (!k->prepared && (st = prepare_all(pg, k, why, whylen)) != MS_OK) {
			if (st == MS_ERR_UNAVAILABLE && reused && readonly && attempt == 0)
				continue;
			return st;
		}
		char name[32];
		snprintf(name, sizeof(name), "ms%zu", stmt);
		r = PQexecPrepared(k->c, name, nparams, params, NULL, NULL, 0);
		want = r && PQresultStatus(r) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK
								 : PGRES_COMMAND_OK;
		st = res_status(k, r, want, "statement", why, whylen);
		if (st == MS_ERR_UNAVAILABLE && reused && readonly && attempt == 0) {
			PQclear(r);
			r = NULL;
			continue;
		}
		break;
	}
	if (st == MS_OK && want == PGRES_TUPLES_OK && fn != NULL) {
		int nr = PQntuples(r), nc = PQnfields(r);
		const char *vals[32];
		if (nc > 32)
			st = ms_why(why, whylen, MS_ERR_LIMIT, "too many columns");
		for (int i = 0; st == MS_OK && i < nr; i++) {
			for (int j = 0; j < nc; j++)
				vals[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
			if (fn(user, nc, vals))
				break;
		}
	}
	if (st == MS_OK && affected) {
		const char *t = PQcmdTuples(r);
		*affected = t && *t ? strtoll(t, NULL, 10) : 0;
	}
	PQclear(r);
	return st;
}

ms_status ms_pg_begin(struct ms_pg *pg, char *why, size_t whylen)
{
	if (pg == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	struct pg_conn *k = NULL;
	ms_status st = conn_get(pg, &k, why, whylen);
	if (st == MS_OK && !k->prepared)
		st = prepare_all(pg, k, why, whylen);
	return st == MS_OK ? simple(k, "BEGIN", why, whylen) : st;
}

ms_status ms_pg_commit(struct ms_pg *pg, char *why, size_t whylen)
{
	struct pg_conn *k = pg ? conn_find(pg) : NULL;
	if (k == NULL || k->c == NULL)
		return ms_why(why, whylen, MS_ERR_UNAVAILABLE,
			      "store unreachable: postgresql connection lost before commit");
	return simple(k, "COMMIT", why, whylen);
}

void ms_pg_rollback(struct ms_pg *pg)
{
	struct pg_conn *k = pg ? conn_find(pg) : NULL;
	if (k != NULL && k->c != NULL && PQtransactionStatus(k->c) != PQTRANS_IDLE)
		PQclear(PQexec(k->c, "ROLLBACK"));
}

#else /* no libpq */

int ms_store_have_postgresql(void)
{
	return 0;
}

ms_status ms_pg_open(const struct ms_env *env, const char *uri,
		     const struct ms_pg_schema *schema, struct ms_pg **out, char *why,
		     size_t whylen)
{
	if (out)
		*out = NULL;
	return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "mailsec was built without libpq");
}

void ms_pg_close(struct ms_pg *pg)
{
}

ms_status ms_pg_exec(struct ms_pg *pg, size_t stmt, int nparams, const char *const *params,
		     ms_pg_row_fn fn, void *user, int64_t *affected, char *why, size_t whylen)
{
	return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "mailsec was built without libpq");
}

ms_status ms_pg_begin(struct ms_pg *pg, char *why, size_t whylen)
{
	return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "mailsec was built without libpq");
}

ms_status ms_pg_commit(struct ms_pg *pg, char *why, size_t whylen)
{
	return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "mailsec was built without libpq");
}

void ms_pg_rollback(struct ms_pg *pg)
{
}
#endif
