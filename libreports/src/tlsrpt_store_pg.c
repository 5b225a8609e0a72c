/*
 * tlsrpt_store_pg.c - the TLSRPT store in PostgreSQL: the MTAs of a fleet
 * count their sessions into one table (issue 19), per policy domain and
 * UTC day.  A put is one upsert that adds atomically
 * ("count = count + EXCLUDED.count"); a batch is one transaction.
 * ms_tlsrpt_store_open() picks this or the SQLite file by location.
 */
#include "tlsrpt_internal.h"
#include "ms_pg_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "day, domain, ptype, strings, mx, host, addr, result, reason"

static const char *const migrations[] = {
	"CREATE TABLE tlsrpt_rows ("
	" day text NOT NULL, domain text NOT NULL, ptype integer NOT NULL,"
	" strings text NOT NULL, mx text NOT NULL, host text NOT NULL, addr text NOT NULL,"
	" result integer NOT NULL, reason text NOT NULL, count bigint NOT NULL)",
	/* the strings may hold whole certificates: the key is their digest */
	"CREATE UNIQUE INDEX tlsrpt_rows_key ON tlsrpt_rows (day, domain, ptype,"
	" md5(strings), md5(mx), host, addr, result, reason)",
};

enum { Q_PUT, Q_GET_ALL, Q_GET_ONE, Q_EXPIRE };

static const char *const statements[] = {
	[Q_PUT] = "INSERT INTO tlsrpt_rows AS t (" KEY ", count) VALUES ($1, $2, $3::integer,"
		  " $4, $5, $6, $7, $8::integer, $9, $10::bigint)"
		  " ON CONFLICT (day, domain, ptype, md5(strings), md5(mx), host, addr, result,"
		  " reason) DO UPDATE SET count = t.count + EXCLUDED.count",
	[Q_GET_ALL] = "SELECT domain, ptype, strings, mx, host, addr, result, reason, count"
		      " FROM tlsrpt_rows WHERE day = $1"
		      " ORDER BY domain, ptype, strings, mx, host, addr, result, reason",
	[Q_GET_ONE] = "SELECT domain, ptype, strings, mx, host, addr, result, reason, count"
		      " FROM tlsrpt_rows WHERE day = $1 AND domain = $2"
		      " ORDER BY ptype, strings, mx, host, addr, result, reason",
	[Q_EXPIRE] = "DELETE FROM tlsrpt_rows WHERE day < $1",
};

static const struct ms_pg_schema schema = MS_PG_SCHEMA("tlsrpt", migrations, statements);

static ms_status put_one(struct ms_pg_store *t, const void *rec, char *why, size_t whylen)
{
	const struct ms_tlsrpt_row *r = rec;
	char ptype[12], result[12], count[24];
	snprintf(ptype, sizeof(ptype), "%d", (int)r->policy_type);
	snprintf(result, sizeof(result), "%d", (int)r->result);
	snprintf(count, sizeof(count), "%" PRIu64, r->count);
	const char *p[] = { r->day, r->policy_domain, ptype, r->policy_strings, r->mx_patterns,
			    r->mx_host, r->addr, result, r->reason, count };
	return ms_pg_exec(t->pg, Q_PUT, 10, p, NULL, NULL, NULL, why, whylen);
}

static ms_status tpg_put(void *impl, const struct ms_tlsrpt_row *row, char *why, size_t whylen)
{
	return put_one(impl, row, why, whylen);
}

static ms_status tpg_batch(void *impl, const struct ms_tlsrpt_row *rows, size_t n, char *why,
			   size_t whylen)
{
	return ms_pg_store_batch(impl, rows, n, sizeof(rows[0]), put_one, why, whylen);
}

struct walk {
	const char *day;
	ms_tlsrpt_row_fn fn;
	void *arg;
};

static int on_row(void *user, int ncols, const char *const *v)
{
	struct walk *w = user;
	if (ncols != 9)
		return 1;
	for (int i = 0; i < 9; i++)
		if (v[i] == NULL)
			return 0;
	int t = atoi(v[1]), res = atoi(v[6]);
	if (t < 0 || t > MS_TLSRPT_POLICY_STS || res < 0 || res > MS_TLSRPT_RESULT_MAX)
		return 0; /* a row this version cannot name: never reported wrong */
	struct ms_tlsrpt_row r = { .policy_domain = v[0] };
	snprintf(r.day, sizeof(r.day), "%s", w->day);
	r.policy_type = (enum ms_tlsrpt_policy_type)t;
	r.policy_strings = v[2];
	r.mx_patterns = v[3];
	r.mx_host = v[4];
	r.addr = v[5];
	r.result = (enum ms_tlsrpt_result)res;
	r.reason = v[7];
	r.count = strtoull(v[8], NULL, 10);
	return w->fn(w->arg, &r);
}

static ms_status tpg_get(void *impl, const char *day, const char *domain, ms_tlsrpt_row_fn fn,
			 void *arg, char *why, size_t whylen)
{
	struct ms_pg_store *t = impl;
	struct walk w = { day, fn, arg };
	const char *p[] = { day, domain };
	return ms_pg_exec(t->pg, domain ? Q_GET_ONE : Q_GET_ALL, domain ? 2 : 1, p, on_row, &w,
			  NULL, why, whylen);
}

static ms_status tpg_expire(void *impl, const char *before, char *why, size_t whylen)
{
	struct ms_pg_store *t = impl;
	const char *p[] = { before };
	return ms_pg_exec(t->pg, Q_EXPIRE, 1, p, NULL, NULL, NULL, why, whylen);
}

ms_status ms_tlsrpt_store_open(const struct ms_env *env, const char *location,
			       struct ms_tlsrpt_store **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	enum ms_store_backend b;
	const char *path = NULL;
	ms_status st = ms_store_parse_location(location, &b, &path, why, whylen);
	if (st != MS_OK)
		return st;
	if (b == MS_STORE_SQLITE)
		return ms_tlsrpt_store_open_sqlite(env, path, out, why, whylen);
	if (!ms_store_have_postgresql())
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
			      "mailsec was built without libpq: no PostgreSQL stores");
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	void *t = NULL;
	st = ms_pg_store_open(env, location, &schema, &t, why, whylen);
	if (st != MS_OK)
		return st;
	static const struct ms_tlsrpt_store_ops ops = {
		.version = MS_TLSRPT_STORE_OPS_VERSION,
		.get = tpg_get,
		.put = tpg_put,
		.batch = tpg_batch,
		.expire = tpg_expire,
		.close = ms_pg_store_close,
	};
	return ms_tlsrpt_store_new(env, &ops, t, out, why, whylen);
}
