/* result.c - getters of a discovery result and the per-MX verdict. */
#include "result.h"

void ms_sts_result_free(struct ms_sts_result *r)
{
	if (r == NULL)
		return;
	ms_sts_policy_free(r->policy);
	ms_free(&r->env, r->policy_text);
	struct ms_env e = r->env;
	ms_free(&e, r);
}

enum ms_sts_state ms_sts_result_state(const struct ms_sts_result *r)
{
	return r ? r->state : MS_STS_NO_POLICY;
}

enum ms_sts_source ms_sts_result_source(const struct ms_sts_result *r)
{
	return r ? r->source : MS_STS_SRC_NONE;
}

const struct ms_sts_policy *ms_sts_result_policy(const struct ms_sts_result *r)
{
	return r ? r->policy : NULL;
}

const char *ms_sts_result_policy_text(const struct ms_sts_result *r)
{
	return r ? r->policy_text : NULL;
}

const char *ms_sts_result_policy_id(const struct ms_sts_result *r)
{
	return (r && r->policy) ? r->policy_id : NULL;
}

int64_t ms_sts_result_expires(const struct ms_sts_result *r)
{
	return (r && r->policy) ? r->expires : 0;
}

const char *ms_sts_result_record_id(const struct ms_sts_result *r)
{
	return r ? r->record_id : "";
}

const char *ms_sts_result_record_note(const struct ms_sts_result *r)
{
	return r ? r->record_note : "";
}

enum ms_tlsrpt_result ms_sts_result_failure(const struct ms_sts_result *r)
{
	return r ? r->failure : MS_TLSRPT_SUCCESS;
}

const char *ms_sts_result_failure_detail(const struct ms_sts_result *r)
{
	return r ? r->failure_detail : "";
}

int ms_sts_result_backoff(const struct ms_sts_result *r)
{
	return r ? r->backoff : 0;
}

enum ms_sts_verdict ms_sts_result_check_mx(const struct ms_sts_result *r,
					  const char *mxhost,
					  enum ms_tlsrpt_result *failure)
{
	if (failure)
		*failure = MS_TLSRPT_SUCCESS;
	if (r == NULL || r->state != MS_STS_POLICY || r->policy == NULL)
		return MS_STS_PASS;
	enum ms_sts_mode mode = ms_sts_policy_mode(r->policy);
	if (mode == MS_STS_MODE_NONE)
		return MS_STS_PASS;
	if (ms_sts_policy_match(r->policy, mxhost))
		return MS_STS_PASS;
	if (failure)
		*failure = MS_TLSRPT_VALIDATION_FAILURE;
	return ms_sts_verdict_for(mode, 1);
}
