/*
 * auth_get.c - getters of a finished inbound verdict (mailsec/auth.h).
 * Before a successful finish they return the neutral value (NULL, 0,
 * permerror/temperror, indeterminate) rather than crash.
 */
#include "auth_internal.h"

#define DONE(a) ((a) != NULL && (a)->ar_header != NULL)

const char *ms_auth_header(const struct ms_auth *a)
{
	return DONE(a) ? a->ar_header : NULL;
}

const char *ms_auth_received_spf(const struct ms_auth *a)
{
	return DONE(a) ? a->received_spf : NULL;
}

enum ms_auth_disposition ms_auth_disposition(const struct ms_auth *a)
{
	return DONE(a) ? a->disposition : MS_AUTH_ACCEPT;
}

const char *ms_auth_disposition_str(enum ms_auth_disposition d)
{
	switch (d) {
	case MS_AUTH_ACCEPT: return "accept";
	case MS_AUTH_QUARANTINE: return "quarantine";
	case MS_AUTH_REJECT: return "reject";
	}
	return "unknown";
}

const struct ms_spf_verdict *ms_auth_spf(const struct ms_auth *a)
{
	return DONE(a) ? a->sv : NULL;
}

enum ms_spf_result ms_auth_spf_result(const struct ms_auth *a)
{
	return DONE(a) ? ms_spf_verdict_result(a->sv) : MS_SPF_TEMPERROR;
}

enum ms_dns_security ms_auth_spf_dnssec(const struct ms_auth *a)
{
	return DONE(a) ? ms_spf_verdict_dnssec(a->sv) : MS_DNS_INDETERMINATE;
}

size_t ms_auth_dkim_count(const struct ms_auth *a)
{
	return DONE(a) ? ms_dkim_verify_count(a->vf) : 0;
}

const struct ms_dkim_sig *ms_auth_dkim_sig(const struct ms_auth *a, size_t i)
{
	return DONE(a) ? ms_dkim_verify_sig(a->vf, i) : NULL;
}

enum ms_dmarc_dkim_result ms_auth_dkim_result(const struct ms_auth *a, size_t i)
{
	return DONE(a) && i < ms_dkim_verify_count(a->vf) ? a->dres[i] : MS_DMARC_DKIM_NONE;
}

const char *ms_auth_dkim_limit(const struct ms_auth *a)
{
	return DONE(a) ? ms_dkim_verify_limit(a->vf) : NULL;
}

enum ms_dmarc_result ms_auth_dmarc_result(const struct ms_auth *a)
{
	return DONE(a) && a->mv ? ms_dmarc_verdict_result(a->mv) : MS_DMARC_PERMERROR;
}

const struct ms_dmarc_verdict *ms_auth_dmarc(const struct ms_auth *a)
{
	return DONE(a) ? a->mv : NULL;
}

enum ms_dmarc_from_outcome ms_auth_dmarc_from_outcome(const struct ms_auth *a)
{
	return DONE(a) ? a->from_outcome : MS_DMARC_FROM_MALFORMED;
}

const char *ms_auth_dmarc_from_domain(const struct ms_auth *a)
{
	return DONE(a) && a->from_domain[0] ? a->from_domain : NULL;
}

const char *ms_auth_dmarc_reason(const struct ms_auth *a)
{
	if (!DONE(a))
		return NULL;
	return a->mv ? ms_dmarc_verdict_reason(a->mv)
		     : ms_dmarc_from_outcome_str(a->from_outcome);
}

enum ms_dmarc_policy ms_auth_dmarc_policy(const struct ms_auth *a)
{
	return DONE(a) && a->mv ? ms_dmarc_verdict_policy(a->mv) : MS_DMARC_POLICY_ABSENT;
}

enum ms_dmarc_policy ms_auth_dmarc_disposition(const struct ms_auth *a)
{
	return DONE(a) && a->mv ? ms_dmarc_verdict_disposition(a->mv) : MS_DMARC_POLICY_ABSENT;
}

enum ms_dns_security ms_auth_dmarc_dnssec(const struct ms_auth *a)
{
	return DONE(a) && a->mv ? ms_dmarc_verdict_dnssec(a->mv) : MS_DNS_INDETERMINATE;
}

const struct ms_iprev_verdict *ms_auth_iprev(const struct ms_auth *a)
{
	return DONE(a) ? a->iv : NULL;
}

enum ms_iprev_result ms_auth_iprev_result(const struct ms_auth *a)
{
	return DONE(a) ? ms_iprev_verdict_result(a->iv) : MS_IPREV_TEMPERROR;
}

const char *ms_auth_iprev_name(const struct ms_auth *a)
{
	return DONE(a) ? ms_iprev_verdict_name(a->iv) : NULL;
}

enum ms_dns_security ms_auth_iprev_dnssec(const struct ms_auth *a)
{
	return DONE(a) ? ms_iprev_verdict_dnssec(a->iv) : MS_DNS_INDETERMINATE;
}
