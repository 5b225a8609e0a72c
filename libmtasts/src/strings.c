/* strings.c - names of the enums, and verdicts that depend only on a mode. */
#include "sts_internal.h"

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
