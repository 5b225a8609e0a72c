/* names.c - the static names of DKIM results, algorithms, canonicalizations. */
#include "dkim_internal.h"

const char *ms_dkim_result_str(enum ms_dkim_result r)
{
	switch (r) {
	case MS_DKIM_PASS: return "pass";
	case MS_DKIM_FAIL: return "fail";
	case MS_DKIM_NEUTRAL: return "neutral";
	case MS_DKIM_POLICY: return "policy";
	case MS_DKIM_TEMPERROR: return "temperror";
	case MS_DKIM_PERMERROR: return "permerror";
	}
	return "permerror";
}

const char *ms_dkim_algorithm_str(enum ms_dkim_algorithm a)
{
	switch (a) {
	case MS_DKIM_RSA_SHA256: return "rsa-sha256";
	case MS_DKIM_ED25519_SHA256: return "ed25519-sha256";
	case MS_DKIM_RSA_SHA1: return "rsa-sha1";
	case MS_DKIM_ALG_UNKNOWN: break;
	}
	return "unknown";
}

const char *ms_dkim_canon_str(enum ms_dkim_canon c)
{
	return c == MS_DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

enum ms_dkim_algorithm ms_dkim_algorithm_from_str(const char *s)
{
	if (s == NULL)
		return MS_DKIM_ALG_UNKNOWN;
	if (ms_ascii_casecmp(s, "rsa-sha256") == 0 || ms_ascii_casecmp(s, "rsa") == 0)
		return MS_DKIM_RSA_SHA256;
	if (ms_ascii_casecmp(s, "ed25519-sha256") == 0 || ms_ascii_casecmp(s, "ed25519") == 0)
		return MS_DKIM_ED25519_SHA256;
	if (ms_ascii_casecmp(s, "rsa-sha1") == 0)
		return MS_DKIM_RSA_SHA1;
	return MS_DKIM_ALG_UNKNOWN;
}
