/*
 * render.c - what `mailsec mtasts` shows: a discovery result
 * (ms_sts_result_render), a policy file's check (ms_sts_policy_render) and
 * an MX host against a policy (ms_sts_match_render).
 */
#include "mailsec/mtasts.h"

#include "ms_out.h"

static void out_policy(struct ms_out *o, const struct ms_sts_policy *p)
{
	mo_str(o, "mode", "mode", p ? ms_sts_mode_str(ms_sts_policy_mode(p)) : NULL);
	if (p)
		mo_int(o, "max_age", "max_age", ms_sts_policy_max_age(p));
	else
		mo_null(o, "max_age");
	mo_arr(o, "mx");
	for (size_t i = 0; p && i < ms_sts_policy_mx_count(p); i++)
		mo_str(o, MO_ELEM, "mx", ms_sts_policy_mx(p, i));
	mo_close_arr(o);
}

static const char *source_str(enum ms_sts_source s)
{
	return s == MS_STS_SRC_FETCHED ? "fetched" : s == MS_STS_SRC_CACHE ? "cache" : "none";
}

ms_status ms_sts_result_render(const struct ms_sts_result *res, const char *domain,
			       enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (res == NULL || domain == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 11) != MS_OK)
		return MS_ERR_NOMEM;
	const struct ms_sts_policy *p = ms_sts_result_policy(res);
	enum ms_tlsrpt_result f = ms_sts_result_failure(res);
	const char *id = ms_sts_result_record_id(res), *src = source_str(ms_sts_result_source(res));
	mo_str(&o, "domain", NULL, domain);
	mo_line(&o, NULL, "%s", domain);
	mo_str(&o, "record_id", NULL, id[0] ? id : NULL);
	mo_str(&o, "record", NULL, ms_sts_result_record_note(res));
	mo_line(&o, "record", "%s%s%s", ms_sts_result_record_note(res), id[0] ? ", id=" : "", id);
	mo_bool(&o, "policy", p != NULL);
	mo_str(&o, "source", NULL, src);
	mo_str(&o, "policy_id", NULL, ms_sts_result_policy_id(res));
	if (p)
		mo_line(&o, "policy", "id=%s from %s, expires %lld", ms_sts_result_policy_id(res),
			 src, (long long)ms_sts_result_expires(res));
	else if (ms_sts_result_state(res) == MS_STS_UNKNOWN)
		mo_line(&o, "policy", "unknown: not fetched and the cache is unreachable (defer)");
	else
		mo_line(&o, "policy", "none");
	mo_bool(&o, "unknown", ms_sts_result_state(res) == MS_STS_UNKNOWN);
	out_policy(&o, p);
	if (p)
		mo_int(&o, "expires", NULL, ms_sts_result_expires(res));
	else
		mo_null(&o, "expires");
	mo_str(&o, "failure", NULL, f ? ms_tlsrpt_result_name(f) : NULL);
	mo_str(&o, "failure_detail", NULL, f ? ms_sts_result_failure_detail(res) : NULL);
	mo_bool(&o, "backoff", ms_sts_result_backoff(res));
	mo_str(&o, "policy_text", NULL, ms_sts_result_policy_text(res));
	if (f)
		mo_line(&o, "failure", "%s: %s%s", ms_tlsrpt_result_name(f),
			 ms_sts_result_failure_detail(res),
			 ms_sts_result_backoff(res) ? " (backing off)" : "");
	return mo_end(&o, out, len);
}

ms_status ms_sts_policy_render(const struct ms_sts_policy *p, const char *why,
			       enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (out == NULL)
		return MS_ERR_INVALID;
	why = why ? why : "";
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 11) != MS_OK)
		return MS_ERR_NOMEM;
	mo_bool(&o, "valid", p != NULL);
	mo_str(&o, "error", NULL, p ? NULL : why);
	mo_line(&o, NULL, p ? "valid policy" : "invalid policy: %s", why);
	out_policy(&o, p);
	return mo_end(&o, out, len);
}

ms_status ms_sts_match_render(const struct ms_sts_policy *p, const char *mxhost, int *matched,
			      enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (p == NULL || mxhost == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 0) != MS_OK)
		return MS_ERR_NOMEM;
	const char *host = mxhost, *pattern = NULL, *mode = ms_sts_mode_str(ms_sts_policy_mode(p));
	for (size_t i = 0; i < ms_sts_policy_mx_count(p) && !pattern; i++)
		if (ms_sts_mx_pattern_match(ms_sts_policy_mx(p, i), host))
			pattern = ms_sts_policy_mx(p, i);
	const char *v = ms_sts_verdict_str(ms_sts_verdict_for(ms_sts_policy_mode(p), !pattern));
	mo_str(&o, "mx", NULL, host);
	mo_bool(&o, "match", pattern != NULL);
	mo_str(&o, "pattern", NULL, pattern);
	mo_str(&o, "mode", NULL, mode);
	mo_str(&o, "verdict", NULL, v);
	if (pattern)
		mo_line(&o, NULL, "%s matches %s", host, pattern);
	else
		mo_line(&o, NULL, "%s matches no mx pattern (mode %s: %s)", host, mode, v);
	if (matched)
		*matched = pattern != NULL;
	return mo_end(&o, out, len);
}
