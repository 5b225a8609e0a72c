/*
 * dmarcrep_pg.c - the DMARC report store in PostgreSQL: every MTA of a
 * fleet records into one table (issue 19).  One row per identical tuple
 * and hour; a put is one upsert that adds atomically
 * ("count = count + EXCLUDED.count"), so concurrent MTAs never lose a
 * message; a batch is one transaction (all rows or none, also when the
 * client is killed half way).
 */
#include "dmarcrep_internal.h"
#include "ms_pg_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS "hour, policy_domain, policy, source_ip, header_from, envelope_from, " \
	     "disposition, dkim_eval, spf_eval, reason, spf_domain, spf_scope, spf_result, dkim"

static const char *const migrations[] = {
	"CREATE TABLE dmarc_rows ("
	" hour bigint NOT NULL, policy_domain text NOT NULL, policy text NOT NULL,"
	" source_ip text NOT NULL, header_from text NOT NULL, envelope_from text NOT NULL,"
	" disposition text NOT NULL, dkim_eval text NOT NULL, spf_eval text NOT NULL,"
	" reason text NOT NULL, spf_domain text NOT NULL, spf_scope text NOT NULL,"
	" spf_result text NOT NULL, dkim text NOT NULL, count bigint NOT NULL,"
	" PRIMARY KEY (" COLS "))",
	"CREATE INDEX dmarc_rows_domain ON dmarc_rows (policy_domain, hour)",
};

enum { Q_PUT, Q_GET_DOMAIN, Q_GET_ALL, Q_EXPIRE };

static const char *const statements[] = {
	[Q_PUT] = "INSERT INTO dmarc_rows AS r (" COLS ", count) VALUES ($1::bigint, $2, $3,"
		  " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::bigint)"
		  " ON CONFLICT (" COLS ") DO UPDATE SET count = r.count + EXCLUDED.count",
	[Q_GET_DOMAIN] = "SELECT " COLS ", count FROM dmarc_rows WHERE hour >= $1::bigint"
			 " AND hour < $2::bigint AND policy_domain = $3 ORDER BY hour",
	[Q_GET_ALL] = "SELECT " COLS ", count FROM dmarc_rows WHERE hour >= $1::bigint"
		      " AND hour < $2::bigint ORDER BY policy_domain, hour",
	[Q_EXPIRE] = "DELETE FROM dmarc_rows WHERE hour < $1::bigint",
};

static const struct ms_pg_schema schema = MS_PG_SCHEMA("dmarc-report", migrations, statements);

static ms_status pg_open(const struct ms_env *env, const char *location, void **impl,
			 char *why, size_t whylen)
{
	return ms_pg_store_open(env, location, &schema, impl, why, whylen);
}

static ms_status put_one(struct ms_pg_store *s, const void *rec, char *why, size_t whylen)
{
	const struct ms_dmarcrep_row *r = rec;
	ms_status st = ms_dmarcrep_row_check(r, why, whylen);
	if (st != MS_OK)
		return st;
	if (r->count > INT64_MAX)
		return ms_why(why, whylen, MS_ERR_INVALID, "count too large");
	char dk[MS_DMARCREP_MAX_DKIM * 340], hour[24], count[24];
	dmarcrep_dkim_text(r, dk, sizeof(dk));
	snprintf(hour, sizeof(hour), "%" PRId64, r->hour);
	snprintf(count, sizeof(count), "%" PRIu64, r->count);
	const char *p[] = { hour, r->policy_domain, r->policy, r->source_ip, r->header_from,
			    r->envelope_from, r->disposition, r->dkim_eval, r->spf_eval,
			    r->reason, r->spf_domain, r->spf_scope, r->spf_result, dk, count };
	return ms_pg_exec(s->pg, Q_PUT, 15, p, NULL, NULL, NULL, why, whylen);
}

static ms_status pg_put(void *impl, const struct ms_dmarcrep_row *row, char *why,
			size_t whylen)
{
	return put_one(impl, row, why, whylen);
}

static ms_status pg_batch(void *impl, const struct ms_dmarcrep_row *rows, size_t n,
			  char *why, size_t whylen)
{
	return ms_pg_store_batch(impl, rows, n, sizeof(rows[0]), put_one, why, whylen);
}

struct walk {
	ms_dmarcrep_row_fn fn;
	void *user;
	int bad;
};

static int on_row(void *user, int ncols, const char *const *v)
{
	struct walk *w = user;
	if (ncols != 15) {
		w->bad = 1;
		return 1;
	}
	struct ms_dmarcrep_row r;
	memset(&r, 0, sizeof(r));
	r.version = MS_DMARCREP_ROW_VERSION;
	r.hour = v[0] ? strtoll(v[0], NULL, 10) : 0;
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
		ok &= dmarcrep_copy(f[i].dst, f[i].len, v[i + 1] ? v[i + 1] : "");
	ok &= dmarcrep_dkim_parse(&r, v[13] ? v[13] : "");
	long long c = v[14] ? strtoll(v[14], NULL, 10) : 0;
	r.count = c > 0 ? (uint64_t)c : 0;
	/* a row another writer damaged is reported, not passed on */
	if (!ok || ms_dmarcrep_row_check(&r, NULL, 0) != MS_OK) {
		w->bad = 1;
		return 1;
	}
	return w->fn(w->user, &r);
}

static ms_status pg_get(void *impl, const char *domain, int64_t begin, int64_t end,
			ms_dmarcrep_row_fn fn, void *user, char *why, size_t whylen)
{
	struct ms_pg_store *s = impl;
	char b[24], e[24];
	snprintf(b, sizeof(b), "%" PRId64, begin);
	snprintf(e, sizeof(e), "%" PRId64, end);
	const char *p[] = { b, e, domain };
	struct walk w = { fn, user, 0 };
	ms_status st = ms_pg_exec(s->pg, domain ? Q_GET_DOMAIN : Q_GET_ALL, domain ? 3 : 2, p,
				  on_row, &w, NULL, why, whylen);
	if (st == MS_OK && w.bad)
		st = ms_why(why, whylen, MS_ERR_IO, "postgresql: a stored row is malformed");
	return st;
}

static ms_status pg_expire(void *impl, int64_t before, char *why, size_t whylen)
{
	return ms_pg_store_expire(impl, Q_EXPIRE, before, why, whylen);
}

static const struct ms_dmarcrep_store_ops pg_ops = {
	.version = MS_DMARCREP_STORE_OPS_VERSION,
	.open = pg_open,
	.get = pg_get,
	.put = pg_put,
	.batch = pg_batch,
	.expire = pg_expire,
	.close = ms_pg_store_close,
};

const struct ms_dmarcrep_store_ops *ms_dmarcrep_store_postgresql(void)
{
	return &pg_ops;
}
