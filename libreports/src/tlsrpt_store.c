/* tlsrpt_store.c - the store handle over a struct ms_tlsrpt_store_ops
 * (mailsec/tlsrpt.h): argument checks, then the backend's call. */
#include "tlsrpt_internal.h"

#include <string.h>

struct ms_tlsrpt_store {
	struct ms_env env;
	struct ms_tlsrpt_store_ops ops;
	void *impl;
};

ms_status ms_tlsrpt_store_new(const struct ms_env *env, const struct ms_tlsrpt_store_ops *ops,
			      void *impl, struct ms_tlsrpt_store **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (ops == NULL || out == NULL || ops->version != MS_TLSRPT_STORE_OPS_VERSION ||
	    ops->get == NULL || ops->put == NULL || ops->batch == NULL || ops->expire == NULL) {
		if (ops && ops->close)
			ops->close(impl);
		return ms_why(why, whylen, MS_ERR_INVALID, "incomplete store ops or unknown version");
	}
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_tlsrpt_store *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL) {
		if (ops->close)
			ops->close(impl);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	s->env = e;
	s->ops = *ops;
	s->impl = impl;
	if (ops->open) {
		ms_status st = ops->open(impl, why, whylen);
		if (st != MS_OK) {
			ms_tlsrpt_store_free(s);
			return st;
		}
	}
	*out = s;
	return MS_OK;
}

void ms_tlsrpt_store_free(struct ms_tlsrpt_store *s)
{
	if (s == NULL)
		return;
	if (s->ops.close)
		s->ops.close(s->impl);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

static int row_ok(const struct ms_tlsrpt_row *r)
{
	return r && tlsrpt_day_start(r->day) >= 0 && tlsrpt_hostname_ok(r->policy_domain) &&
	       (unsigned)r->policy_type <= MS_TLSRPT_POLICY_STS && r->policy_strings &&
	       r->mx_patterns && r->mx_host && r->addr && r->reason &&
	       (unsigned)r->result <= MS_TLSRPT_RESULT_MAX &&
	       strlen(r->reason) < MS_TLSRPT_MAX_FIELD &&
	       strlen(r->policy_strings) < MS_TLSRPT_MAX_STRINGS * MS_TLSRPT_MAX_STRING &&
	       strlen(r->mx_patterns) < MS_TLSRPT_MAX_STRINGS * MS_TLSRPT_MAX_STRING &&
	       strlen(r->mx_host) < 256 && strlen(r->addr) < 64;
}

ms_status ms_tlsrpt_store_get(struct ms_tlsrpt_store *s, const char *day,
			      const char *policy_domain, ms_tlsrpt_row_fn fn, void *arg, char *why,
			      size_t whylen)
{
	if (s == NULL || fn == NULL || tlsrpt_day_start(day) < 0 ||
	    (policy_domain && !tlsrpt_hostname_ok(policy_domain)))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad store query");
	return s->ops.get(s->impl, day, policy_domain, fn, arg, why, whylen);
}

ms_status ms_tlsrpt_store_put(struct ms_tlsrpt_store *s, const struct ms_tlsrpt_row *row,
			      char *why, size_t whylen)
{
	if (s == NULL || !row_ok(row))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad report row");
	return s->ops.put(s->impl, row, why, whylen);
}

ms_status ms_tlsrpt_store_batch(struct ms_tlsrpt_store *s, const struct ms_tlsrpt_row *rows,
				size_t n, char *why, size_t whylen)
{
	if (s == NULL || (rows == NULL && n > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad batch");
	for (size_t i = 0; i < n; i++)
		if (!row_ok(&rows[i]))
			return ms_why(why, whylen, MS_ERR_INVALID, "bad report row %zu", i);
	if (n == 0)
		return MS_OK;
	return s->ops.batch(s->impl, rows, n, why, whylen);
}

ms_status ms_tlsrpt_store_expire(struct ms_tlsrpt_store *s, const char *before_day, char *why,
				 size_t whylen)
{
	if (s == NULL || tlsrpt_day_start(before_day) < 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad day");
	return s->ops.expire(s->impl, before_day, why, whylen);
}
