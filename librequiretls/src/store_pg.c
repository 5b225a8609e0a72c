/*
 * store_pg.c - the recipient-domain memory in PostgreSQL, shared by a
 * fleet of MTAs (issue 19), in the shape of mailsec/store.h:
 *   rec:   const struct rtls_store_obs * (one observation, merged)
 *   query: const struct rtls_store_key * (get hands a struct
 *          ms_rtls_capability to fn)
 * An observation is one INSERT ... ON CONFLICT: the newer observation
 * wins (an MTA whose clock or queue is behind does not overwrite what
 * another saw later) and requiretls_last only moves forward.
 * ms_rtls_store_open() picks this or the SQLite file by location.
 */
#include "mailsec/requiretls_store.h"
#include "rtls_internal.h"
#include "rtls_store.h"
#include "ms_pg_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const migrations[] = {
	"CREATE TABLE rtls_capability ("
	" account text NOT NULL, domain text NOT NULL, starttls integer NOT NULL,"
	" requiretls integer NOT NULL, updated bigint NOT NULL,"
	" requiretls_last bigint NOT NULL DEFAULT 0, PRIMARY KEY (account, domain))",
};

enum { Q_GET, Q_PUT, Q_EXPIRE, Q_DEL };

static const char *const statements[] = {
	[Q_GET] = "SELECT starttls, requiretls, updated, requiretls_last FROM rtls_capability"
		  " WHERE account = $1 AND domain = $2",
	[Q_PUT] = "INSERT INTO rtls_capability AS c (account, domain, starttls, requiretls,"
		  " updated, requiretls_last) VALUES ($1, $2, $3::integer, $4::integer,"
		  " $5::bigint, CASE WHEN $4::integer <> 0 THEN $5::bigint ELSE 0 END)"
		  " ON CONFLICT (account, domain) DO UPDATE SET"
		  " starttls = CASE WHEN EXCLUDED.updated >= c.updated THEN EXCLUDED.starttls"
		  "  ELSE c.starttls END,"
		  " requiretls = CASE WHEN EXCLUDED.updated >= c.updated THEN EXCLUDED.requiretls"
		  "  ELSE c.requiretls END,"
		  " updated = GREATEST(c.updated, EXCLUDED.updated),"
		  " requiretls_last = GREATEST(c.requiretls_last, EXCLUDED.requiretls_last)",
	[Q_EXPIRE] = "DELETE FROM rtls_capability WHERE updated < $1::bigint",
	[Q_DEL] = "DELETE FROM rtls_capability WHERE account = $1 AND domain = $2",
};

static const struct ms_pg_schema schema = MS_PG_SCHEMA("requiretls", migrations, statements);

static ms_status pg_open(const struct ms_env *env, const char *location, void **impl,
			 char *why, size_t whylen)
{
	return ms_pg_store_open(env, location, &schema, impl, why, whylen);
}

struct walk {
	ms_store_rec_fn fn;
	void *user;
	int bad;
};

static int on_row(void *user, int ncols, const char *const *v)
{
	struct walk *w = user;
	if (ncols != 4 || !v[0] || !v[1] || !v[2] || !v[3]) {
		w->bad = 1;
		return 1;
	}
	struct ms_rtls_capability c;
	c.starttls = atoi(v[0]) != 0;
	c.requiretls = atoi(v[1]) != 0;
	c.updated = strtoll(v[2], NULL, 10);
	c.requiretls_last = strtoll(v[3], NULL, 10);
	return w->fn(w->user, &c);
}

static ms_status pg_get(void *impl, const void *query, ms_store_rec_fn fn, void *user,
			char *why, size_t whylen)
{
	struct ms_pg_store *s = impl;
	const struct rtls_store_key *k = query;
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no key");
	struct walk w = { fn, user, 0 };
	const char *p[] = { k->account, k->domain };
	ms_status st = ms_pg_exec(s->pg, Q_GET, 2, p, on_row, &w, NULL, why, whylen);
	if (st == MS_OK && w.bad)
		st = ms_why(why, whylen, MS_ERR_IO, "postgresql: a stored row is malformed");
	return st;
}

static ms_status put_one(struct ms_pg_store *s, const void *rec, char *why, size_t whylen)
{
	const struct rtls_store_obs *o = rec;
	char now[24];
	snprintf(now, sizeof(now), "%" PRId64, o->now);
	const char *p[] = { o->account, o->domain, o->starttls ? "1" : "0",
			    o->requiretls ? "1" : "0", now };
	return ms_pg_exec(s->pg, Q_PUT, 5, p, NULL, NULL, NULL, why, whylen);
}

static ms_status pg_put(void *impl, const void *rec, char *why, size_t whylen)
{
	return put_one(impl, rec, why, whylen);
}

static ms_status pg_batch(void *impl, const void *recs, size_t n, char *why, size_t whylen)
{
	return ms_pg_store_batch(impl, recs, n, sizeof(struct rtls_store_obs), put_one, why,
				 whylen);
}

static ms_status pg_expire(void *impl, int64_t before, char *why, size_t whylen)
{
	return ms_pg_store_expire(impl, Q_EXPIRE, before, why, whylen);
}

static ms_status pg_del(void *impl, const void *query, char *why, size_t whylen)
{
	struct ms_pg_store *s = impl;
	const struct rtls_store_key *k = query;
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no key");
	const char *p[] = { k->account, k->domain };
	return ms_pg_exec(s->pg, Q_DEL, 2, p, NULL, NULL, NULL, why, whylen);
}

const struct ms_store_ops rtls_store_pg_ops = {
	.version = MS_STORE_OPS_VERSION,
	.open = pg_open,
	.get = pg_get,
	.put = pg_put,
	.batch = pg_batch,
	.expire = pg_expire,
	.close = ms_pg_store_close,
	.del = pg_del,
};

/* ---- the library's store over a generic one ------------------------- */

struct gen_get {
	struct ms_rtls_capability *out;
	int found;
};

static int gen_get_one(void *user, const void *rec)
{
	struct gen_get *g = user;
	*g->out = *(const struct ms_rtls_capability *)rec;
	g->found = 1;
	return 1;
}

static ms_status gen_record(void *impl, const char *account, const char *domain,
			    int starttls, int requiretls, int64_t now, char *why, size_t whylen)
{
	struct rtls_store_obs o = { account, domain, starttls, requiretls, now };
	return ms_store_put(impl, &o, why, whylen);
}

static ms_status gen_get(void *impl, const char *account, const char *domain,
			 struct ms_rtls_capability *out, int *found, char *why, size_t whylen)
{
	struct rtls_store_key k = { account, domain };
	struct gen_get g = { out, 0 };
	ms_status st = ms_store_get(impl, &k, gen_get_one, &g, why, whylen);
	*found = st == MS_OK && g.found;
	return st;
}

static void gen_close(void *impl)
{
	ms_store_free(impl);
}

ms_status ms_rtls_store_open(const struct ms_env *env, const char *location,
			     struct ms_rtls_store **out, char *why, size_t whylen)
{
	if (out != NULL)
		*out = NULL;
	/* both backends through the one store shape (mailsec/store.h) */
	static const struct ms_store_backends backends = {
		MS_STORE_OPS_VERSION, &rtls_store_sqlite_ops, &rtls_store_pg_ops,
	};
	struct ms_store *g = NULL;
	ms_status st = ms_store_open(env, location, &backends, &g, why, whylen);
	if (st != MS_OK)
		return st;
	static const struct ms_rtls_store_ops ops = {
		MS_RTLS_STORE_OPS_VERSION, gen_record, gen_get, gen_close,
	};
	return ms_rtls_store_new(env, &ops, g, out, why, whylen);
}
