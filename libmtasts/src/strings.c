/* strings.c - names of the enums, and verdicts that depend only on a mode. */
#include "sts_internal.h"

const char *ms_sts_failure_str(enum ms_sts_failure f)
{
	switch (f) {
	case MS_STS_FAIL_NONE: return "";
	case MS_STS_FAIL_FETCH: return "sts-policy-fetch-error";
	case MS_STS_FAIL_INVALID: return "sts-policy-invalid";
	case MS_STS_FAIL_WEBPKI: return "sts-webpki-invalid";
	case MS_STS_FAIL_MX: return "validation-failure";
	}
	return "";
}

enum ms_sts_verdict ms_sts_verdict_for(enum ms_sts_mode mode, int failed)
{
	if (!failed)
		return MS_STS_PASS;
	switch (mode) {
	case MS_STS_MODE_ENFORCE: return MS_STS_FAIL;
	case MS_STS_MODE_TESTING: return MS_STS_WOULD_FAIL;
	case MS_STS_MODE_NONE: break;
	}
	return MS_STS_PASS;
}

const char *ms_sts_verdict_str(enum ms_sts_verdict v)
{
	switch (v) {
	case MS_STS_PASS: return "pass";
	case MS_STS_FAIL: return "fail";
	case MS_STS_WOULD_FAIL: return "would-fail";
	}
	return "unknown";
}
