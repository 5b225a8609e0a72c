/*
 * dmarcrep_store.c - the store handle over its ops, and the recorder: the
 * MTA's per-message call, which aggregates rows in memory and writes them
 * in batches (one transaction per batch, not one per message).
 */
#include "dmarcrep_internal.h"

#include <mailsec/store.h>
#include <string.h>

ms_status ms_dmarcrep_store_open(const struct ms_env *env, const struct ms_dmarcrep_store_ops *ops,
				 const char *location, struct ms_dmarcrep_store **out,
				 char *why, size_t whylen)
{
	if (out == NULL || location == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	if (ops == NULL) {
		/* the location picks the engine (mailsec/store.h) */
		enum ms_store_backend b;
		ms_status pst = ms_store_parse_location(location, &b, &location, why, whylen);
		if (pst != MS_OK)
			return pst;
		if (b == MS_STORE_POSTGRESQL && !ms_store_have_postgresql())
			return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
				      "mailsec was built without libpq: no PostgreSQL stores");
		ops = b == MS_STORE_POSTGRESQL ? ms_dmarcrep_store_postgresql()
					       : ms_dmarcrep_store_sqlite();
	}
	if (ops->version != MS_DMARCREP_STORE_OPS_VERSION || !ops->open || !ops->get ||
	    !ops->put || !ops->batch || !ops->expire || !ops->close)
		return ms_why(why, whylen, MS_ERR_INVALID, "incomplete store ops or unknown version");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dmarcrep_store *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	s->ops = *ops;
	ms_status st = ops->open(&s->env, location, &s->impl, why, whylen);
	if (st != MS_OK) {
		ms_free(&e, s);
		return st;
	}
	*out = s;
	return MS_OK;
}

void ms_dmarcrep_store_free(struct ms_dmarcrep_store *s)
{
	if (s == NULL)
		return;
	s->ops.close(s->impl);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

ms_status ms_dmarcrep_store_each(struct ms_dmarcrep_store *s, const char *domain, int64_t begin,
				 int64_t end, ms_dmarcrep_row_fn fn, void *user,
				 char *why, size_t whylen)
{
	if (s == NULL || fn == NULL || end <= begin)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	return s->ops.get(s->impl, domain, begin, end, fn, user, why, whylen);
}

ms_status ms_dmarcrep_store_expire(struct ms_dmarcrep_store *s, int64_t before, char *why,
				   size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no store");
	return s->ops.expire(s->impl, before, why, whylen);
}

ms_status dmarcrep_store_batch(struct ms_dmarcrep_store *s, const struct ms_dmarcrep_row *rows,
			       size_t n, char *why, size_t whylen)
{
	if (n == 0)
		return MS_OK;
	return n == 1 ? s->ops.put(s->impl, rows, why, whylen)
		      : s->ops.batch(s->impl, rows, n, why, whylen);
}

/* ---- the recorder ----------------------------------------------------- */

struct ms_dmarcrep_recorder {
	struct ms_env env;
	struct ms_dmarcrep_store *store;
	struct dmarcrep_rowset pending;
	size_t batch_max;
};

ms_status ms_dmarcrep_recorder_new(const struct ms_env *env, struct ms_dmarcrep_store *store,
				   size_t batch_max, struct ms_dmarcrep_recorder **out,
				   char *why, size_t whylen)
{
	if (out == NULL || store == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dmarcrep_recorder *r = ms_calloc(&e, 1, sizeof(*r));
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	r->env = e;
	r->store = store;
	r->batch_max = batch_max ? batch_max : 256;
	/* one row more than a batch: a row recorded while a failed batch is
	 * kept still fits, the next flush retries them together */
	dmarcrep_rowset_init(&r->pending, &r->env, 0, r->batch_max * 4);
	*out = r;
	return MS_OK;
}

ms_status ms_dmarcrep_flush(struct ms_dmarcrep_recorder *r, char *why, size_t whylen)
{
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no recorder");
	if (r->pending.n == 0)
		return MS_OK;
	uint64_t t0 = ms_monotonic_ns();
	ms_status st = dmarcrep_store_batch(r->store, r->pending.rows, r->pending.n, why, whylen);
	if (st != MS_OK) {
		ms_metric(&r->env, MS_METRIC_COUNTER, "dmarc_report_store_errors_total", NULL, 0, 1);
		return st;
	}
	ms_metric(&r->env, MS_METRIC_HISTOGRAM, "dmarc_report_batch_seconds", NULL, 0,
		  (double)(ms_monotonic_ns() - t0) / 1e9);
	dmarcrep_rowset_clear(&r->pending);
	return MS_OK;
}

void ms_dmarcrep_recorder_free(struct ms_dmarcrep_recorder *r)
{
	if (r == NULL)
		return;
	char why[256] = "";
	if (ms_dmarcrep_flush(r, why, sizeof(why)) != MS_OK) {
		struct ms_kv kv[] = { { "why", why } };
		ms_log(&r->env, MS_LOG_ERROR, "dmarc-report", "rows lost at recorder_free", kv, 1);
	}
	dmarcrep_rowset_free(&r->pending);
	struct ms_env e = r->env;
	ms_free(&e, r);
}

ms_status ms_dmarcrep_record(struct ms_dmarcrep_recorder *r, const struct ms_dmarcrep_row *row,
			     char *why, size_t whylen)
{
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no recorder");
	ms_status st = ms_dmarcrep_row_check(row, why, whylen);
	if (st != MS_OK)
		return st;
	if ((st = dmarcrep_rowset_add(&r->pending, row, 1, why, whylen)) != MS_OK)
		return st;
	ms_metric(&r->env, MS_METRIC_COUNTER, "dmarc_report_rows_recorded_total", NULL, 0, 1);
	if (r->pending.n >= r->batch_max)
		return ms_dmarcrep_flush(r, why, whylen);
	return MS_OK;
}

ms_status ms_dmarcrep_record_auth(struct ms_dmarcrep_recorder *r, const struct ms_auth *a,
				  int64_t when, int *recorded, char *why, size_t whylen)
{
	if (recorded)
		*recorded = 0;
	if (r == NULL || a == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	struct ms_dmarcrep_row row;
	int reportable = 0;
	ms_status st = ms_dmarcrep_row_from_auth(a, when, &row, &reportable, why, whylen);
	if (st != MS_OK || !reportable)
		return st;
	if ((st = ms_dmarcrep_record(r, &row, why, whylen)) == MS_OK && recorded)
		*recorded = 1;
	return st;
}
