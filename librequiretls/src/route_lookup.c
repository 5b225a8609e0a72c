/*
 * route_lookup.c - the lookups of a route, one step each: the MX set
 * (RFC 5321 s5.1, null MX RFC 7505), a host's addresses and DANE state
 * (RFC 7672 s2.2), the MTA-STS policy (RFC 8461 s5.1) and each host's
 * match (s4.1).  The engine gets plain values, so this file is the one
 * place where library results, failed ones included, are mapped onto
 * them (the fail-closed rules of docs/SECURITY.md).
 */
#include "route_internal.h"

#include <stdio.h>
#include <string.h>

static ms_status hosts_alloc(struct ms_rtls_route *r, size_t n)
{
	r->hosts = ms_calloc(&r->env, n ? n : 1, sizeof(*r->hosts));
	if (r->hosts == NULL)
		return MS_ERR_NOMEM;
	r->nalloc = n;
	for (size_t i = 0; i < n; i++) {
		r->hosts[i].addrs = ms_calloc(&r->env, r->max_addrs, sizeof(*r->hosts[i].addrs));
		if (r->hosts[i].addrs == NULL)
			return MS_ERR_NOMEM;
	}
	return MS_OK;
}

ms_status rtls_route_mx(struct ms_rtls_route *r)
{
	struct ms_dns_result *res = NULL;
	char why[200] = "";
	ms_status st = hosts_alloc(r, r->max_mx);
	if (st != MS_OK)
		return st;
	r->mx_outcome = MS_DNS_SERVFAIL;
	r->mx_ede = -1;
	if (ms_dns_lookup(r->dns, r->domain, MS_DNS_T_MX, &res, why, sizeof(why)) != MS_OK) {
		/* No answer at all: try later, never "no MX". */
		r->in.mx_security = MS_DNS_INDETERMINATE;
		r->flags |= MS_RTLS_ROUTE_MX_FAILED;
		snprintf(r->mx_note, sizeof(r->mx_note), "MX lookup impossible: %s", why);
		return MS_OK;
	}
	r->in.mx_security = ms_dns_result_security(res);
	enum ms_dns_outcome o = ms_dns_result_outcome(res);
	r->mx_outcome = o;
	r->mx_ede = ms_dns_result_ede(res);
	snprintf(r->mx_ede_text, sizeof(r->mx_ede_text), "%s",
		 ms_dns_result_ede_text(res) ? ms_dns_result_ede_text(res) : "");
	snprintf(r->mx_note, sizeof(r->mx_note), "MX lookup: %s, DNSSEC %s", ms_dns_outcome_str(o),
		 ms_dns_security_str(r->in.mx_security));
	/* RFC 7672 s2.1.1: bogus data must not be used at all, and a failed
	 * lookup says nothing about the domain; the engine then defers the
	 * whole domain.  Only a lookup that did not fail may say NXDOMAIN. */
	int failed = ms_dns_result_failed(res);
	if (failed || o == MS_DNS_NXDOMAIN) {
		if (failed && r->in.mx_security != MS_DNS_BOGUS)
			r->in.mx_security = MS_DNS_INDETERMINATE;
		r->flags |= failed ? MS_RTLS_ROUTE_MX_FAILED : MS_RTLS_ROUTE_NXDOMAIN;
		ms_dns_result_free(res);
		return MS_OK;
	}
	if (ms_dns_result_is_null_mx(res)) {
		r->flags |= MS_RTLS_ROUTE_NULL_MX; /* RFC 7505 s3: no mail */
		ms_dns_result_free(res);
		return MS_OK;
	}
	if (o == MS_DNS_NODATA) {
		/* RFC 5321 s5.1: no MX, the domain itself is the host. */
		r->flags |= MS_RTLS_ROUTE_IMPLICIT_MX;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", r->domain);
		r->nhosts = 1;
		r->mx_total = 1;
		ms_dns_result_free(res);
		return MS_OK;
	}
	/* RFC 5321 s5.1: the library orders the whole set (preference, then
	 * random within a preference) before the cut to max_mx. */
	size_t *order = ms_calloc(&r->env, r->max_mx, sizeof(*order)), n = 0;
	if (order == NULL || ms_dns_result_mx_order(res, order, r->max_mx, &n) != MS_OK) {
		ms_free(&r->env, order);
		ms_dns_result_free(res);
		return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < ms_dns_result_count(res); i++) {
		uint16_t pref;
		char name[256];
		/* a "0 ." mixed with real MX records is no host (RFC 7505 s3) */
		if (ms_dns_result_mx(res, i, &pref, name, sizeof(name)) != MS_OK)
			r->flags |= MS_RTLS_ROUTE_MX_MALFORMED;
		else if (name[0] == '\0')
			r->flags |= MS_RTLS_ROUTE_NULL_MX_MIXED;
		else
			r->mx_total++;
	}
	for (size_t i = 0; i < n; i++) {
		struct ms_rtls_route_host *h = &r->hosts[r->nhosts];
		if (ms_dns_result_mx(res, order[i], &h->preference, h->name, sizeof(h->name)) == MS_OK &&
		    h->name[0] != '\0')
			r->nhosts++;
		else
			h->name[0] = '\0';
	}
	if (r->mx_total > r->nhosts)
		r->flags |= MS_RTLS_ROUTE_TRUNCATED;
	ms_free(&r->env, order);
	ms_dns_result_free(res);
	return MS_OK;
}

void rtls_route_host(struct ms_rtls_route *r, struct ms_rtls_route_host *h)
{
	struct ms_dns_result *res = NULL;
	char why[160] = "";
	h->in.name = h->name;
	/* No answer: the host is skipped for now (RFC 7672 s2.2.1), never
	 * taken as insecure. */
	h->in.addr_security = MS_DNS_INDETERMINATE;
	h->addr_outcome = MS_DNS_SERVFAIL;
	h->addr_failed = 1;
	for (int f = 0; f < 2; f++) {
		h->fam_outcome[f] = MS_DNS_SERVFAIL;
		h->fam_security[f] = MS_DNS_INDETERMINATE;
	}
	if (ms_dns_lookup_addr(r->dns, h->name, &res, why, sizeof(why)) != MS_OK) {
		snprintf(h->addr_note, sizeof(h->addr_note), "address lookup impossible: %s", why);
	} else {
		h->addr_outcome = ms_dns_result_outcome(res);
		h->addr_failed = ms_dns_result_failed(res);
		ms_dns_result_family(res, MS_DNS_T_A, &h->fam_outcome[0], &h->fam_security[0]);
		ms_dns_result_family(res, MS_DNS_T_AAAA, &h->fam_outcome[1], &h->fam_security[1]);
		/* A half that failed leaves only the other family's records;
		 * their security is what counts (bogus/indeterminate when none
		 * are left: the engine skips the host). */
		h->in.addr_security = ms_dns_result_records_security(res);
		for (size_t i = 0; i < ms_dns_result_count(res) && h->naddrs < r->max_addrs; i++)
			if (ms_dns_result_addr(res, i, h->addrs[h->naddrs], sizeof(h->addrs[0])) == MS_OK)
				h->naddrs++;
		ms_dns_result_free(res);
	}
	/* TLSA is always at _25._tcp: the port of the MX service, whatever
	 * port the caller connects to. */
	if (ms_dane_lookup_env(&r->env, r->dns, h->name, r->in.mx_security == MS_DNS_SECURE, 25,
			       &h->dane, why, sizeof(why)) != MS_OK) {
		h->in.dane = MS_RTLS_DANE_FAILED;
		snprintf(h->dane_note, sizeof(h->dane_note), "TLSA lookup impossible: %s", why);
		return;
	}
	snprintf(h->dane_note, sizeof(h->dane_note), "%s", ms_dane_lookup_reason(h->dane));
	switch (ms_dane_lookup_state(h->dane)) {
	case MS_DANE_DNS_SECURE: {
		const struct ms_dane_tlsa *recs;
		size_t n = ms_dane_lookup_records(h->dane, &recs), usable = 0;
		for (size_t i = 0; i < n; i++)
			usable += ms_dane_tlsa_usable(&recs[i]) != 0;
		h->in.dane = usable ? MS_RTLS_DANE_USABLE : MS_RTLS_DANE_UNUSABLE;
		break;
	}
	case MS_DANE_DNS_TEMPFAIL:
		h->in.dane = MS_RTLS_DANE_FAILED;
		break;
	default:
		h->in.dane = MS_RTLS_DANE_INSECURE;
		break;
	}
}

/* The discovery ran beside the lookups (route_async.c, ms_sts_get_*): its
 * result is in r->sts_result, or its error in sts_status/sts_why. */
void rtls_route_sts(struct ms_rtls_route *r)
{
	r->in.sts_mode = MS_RTLS_STS_NO_POLICY;
	if (!r->sts_asked)
		return;
	if (r->sts_status != MS_OK || r->sts_result == NULL) {
		/* RFC 8461 s5.1: no usable (fetched or cached) policy means
		 * the domain is treated as having none. */
		snprintf(r->sts_note, sizeof(r->sts_note), "MTA-STS discovery impossible: %s",
			 r->sts_why);
		return;
	}
	const struct ms_sts_result *res = r->sts_result;
	if (ms_sts_result_state(res) != MS_STS_POLICY) {
		if (ms_sts_result_failure(res) != MS_TLSRPT_SUCCESS)
			snprintf(r->sts_note, sizeof(r->sts_note), "no usable MTA-STS policy: %s (%s)",
				 ms_sts_result_failure_detail(res),
				 ms_tlsrpt_result_name(ms_sts_result_failure(res)));
		else
			snprintf(r->sts_note, sizeof(r->sts_note), "no MTA-STS (%s)",
				 ms_sts_result_record_note(res));
		return;
	}
	const struct ms_sts_policy *p = ms_sts_result_policy(res);
	enum ms_sts_mode m = ms_sts_policy_mode(p);
	r->in.sts_mode = m == MS_STS_MODE_ENFORCE ? MS_RTLS_STS_ENFORCE :
			 m == MS_STS_MODE_TESTING ? MS_RTLS_STS_TESTING : MS_RTLS_STS_NONE;
	r->flags |= MS_RTLS_ROUTE_STS_POLICY;
	snprintf(r->sts_note, sizeof(r->sts_note), "MTA-STS policy id %s, mode %s",
		 ms_sts_result_policy_id(res), ms_sts_mode_str(m));
	for (size_t i = 0; i < r->nhosts; i++) {
		struct ms_rtls_route_host *h = &r->hosts[i];
		h->in.sts_match = ms_sts_policy_match(p, h->name);
		h->sts_verdict = ms_sts_result_check_mx(res, h->name, NULL);
	}
}
