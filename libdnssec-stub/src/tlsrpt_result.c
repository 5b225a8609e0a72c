/* tlsrpt_result.c - names of the RFC 8460 result and policy types
 * (mailsec/tlsrpt_result.h). */
#include "mailsec/tlsrpt_result.h"

#include <string.h>

static const char *const result_names[] = {
	[MS_TLSRPT_SUCCESS] = "",
	[MS_TLSRPT_STARTTLS_NOT_SUPPORTED] = "starttls-not-supported",
	[MS_TLSRPT_CERTIFICATE_HOST_MISMATCH] = "certificate-host-mismatch",
	[MS_TLSRPT_CERTIFICATE_EXPIRED] = "certificate-expired",
	[MS_TLSRPT_CERTIFICATE_NOT_TRUSTED] = "certificate-not-trusted",
	[MS_TLSRPT_VALIDATION_FAILURE] = "validation-failure",
	[MS_TLSRPT_TLSA_INVALID] = "tlsa-invalid",
	[MS_TLSRPT_DNSSEC_INVALID] = "dnssec-invalid",
	[MS_TLSRPT_DANE_REQUIRED] = "dane-required",
	[MS_TLSRPT_STS_POLICY_FETCH_ERROR] = "sts-policy-fetch-error",
	[MS_TLSRPT_STS_POLICY_INVALID] = "sts-policy-invalid",
	[MS_TLSRPT_STS_WEBPKI_INVALID] = "sts-webpki-invalid",
};

const char *ms_tlsrpt_result_name(enum ms_tlsrpt_result r)
{
	if ((unsigned)r > MS_TLSRPT_RESULT_MAX)
		return "";
	return result_names[r];
}

ms_status ms_tlsrpt_result_from_name(const char *name, enum ms_tlsrpt_result *out)
{
	if (name == NULL || out == NULL)
		return MS_ERR_INVALID;
	/* success has no name of its own in a report: never parsed from one */
	for (unsigned i = 1; i <= MS_TLSRPT_RESULT_MAX; i++)
		if (strcmp(name, result_names[i]) == 0) {
			*out = (enum ms_tlsrpt_result)i;
			return MS_OK;
		}
	return MS_ERR_PARSE;
}

static const char *const policy_names[] = { "no-policy-found", "tlsa", "sts" };

const char *ms_tlsrpt_policy_type_name(enum ms_tlsrpt_policy_type t)
{
	return (unsigned)t <= MS_TLSRPT_POLICY_STS ? policy_names[t] : policy_names[0];
}

ms_status ms_tlsrpt_policy_type_from_name(const char *name, enum ms_tlsrpt_policy_type *out)
{
	if (name == NULL || out == NULL)
		return MS_ERR_INVALID;
	for (unsigned i = 0; i <= MS_TLSRPT_POLICY_STS; i++)
		if (strcmp(name, policy_names[i]) == 0) {
			*out = (enum ms_tlsrpt_policy_type)i;
			return MS_OK;
		}
	return MS_ERR_PARSE;
}
