/* result.h - the layout of a discovery result (result.c, sts.c). */
#ifndef STS_RESULT_H
#define STS_RESULT_H

#include "sts_internal.h"

struct ms_sts_result {
	struct ms_env env;
	enum ms_sts_state state;
	enum ms_sts_source source;
	struct ms_sts_policy *policy;     /* owned; NULL without a policy */
	char *policy_text;                /* owned, NUL-terminated */
	char policy_id[MS_STS_ID_MAX + 1];
	int64_t expires;
	char record_id[MS_STS_ID_MAX + 1];
	char record_note[192];
	enum ms_tlsrpt_result failure;
	char failure_detail[320];
	int backoff;
};

#endif
