/*
 * route.c - the route handle: its build as a step machine (one lookup per
 * step; route_async.c re-runs the lookup steps in rounds against the
 * answers it fetched in parallel), the synchronous call over the async
 * shape, the getters and the free.  The lookups are in route_lookup.c,
 * the reasons and outcomes in route_reasons.c.
 */
#include "route_internal.h"

#include <poll.h>
#include <string.h>

/* One step of the machine; MS_OK until ROUTE_DONE or an error. */
ms_status rtls_route_step(struct ms_rtls_route *r)
{
	switch (r->step) {
	case ROUTE_MX: {
		ms_status st = rtls_route_mx(r);
		if (st != MS_OK)
			return st;
		r->step = r->nhosts ? ROUTE_HOST : ROUTE_STS;
		return MS_OK;
	}
	case ROUTE_HOST:
		rtls_route_host(r, &r->hosts[r->next_host++]);
		if (r->next_host == r->nhosts)
			r->step = ROUTE_STS;
		return MS_OK;
	case ROUTE_STS:
		rtls_route_sts(r);
		r->step = ROUTE_PLAN;
		return MS_OK;
	case ROUTE_PLAN:
		for (size_t i = 0; i < r->nhosts; i++) {
			if (rtls_plan_fill(&r->in, &r->hosts[i].in, &r->hosts[i].plan) != MS_OK)
				return MS_ERR_INTERNAL;
			rtls_route_reasons(r, &r->hosts[i]);
		}
		r->step = ROUTE_DONE;
		return MS_OK;
	case ROUTE_DONE:
		break;
	}
	return MS_OK;
}

ms_status rtls_route_init(const struct ms_env *env, struct ms_dns_ctx *dns, struct ms_sts *sts,
			  const char *domain, enum ms_rtls_requirement requirement,
			  const struct ms_rtls_route_opts *opts, struct ms_rtls_route **out,
			  char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (dns == NULL || domain == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "route: NULL argument");
	if (opts && opts->version != MS_RTLS_ROUTE_OPTS_VERSION && opts->version != 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "route: unknown options version %u",
			      opts->version);
	if (requirement != MS_RTLS_REQ_DEFAULT && requirement != MS_RTLS_REQ_REQUIRED &&
	    requirement != MS_RTLS_REQ_NOT_REQUIRED)
		return ms_why(why, whylen, MS_ERR_INVALID, "route: bad requirement %d",
			      (int)requirement);
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_route *r = ms_calloc(&e, 1, sizeof(*r));
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	r->env = e;
	char nwhy[200] = "";
	if (ms_dns_hostname_normalize(domain, r->domain, sizeof(r->domain), nwhy,
				      sizeof(nwhy)) != MS_OK) {
		ms_free(&e, r);
		return ms_why(why, whylen, MS_ERR_INVALID, "bad domain '%.100s': %s", domain, nwhy);
	}
	r->max_mx = opts && opts->max_mx ? opts->max_mx : 10;
	r->max_addrs = opts && opts->max_addrs ? opts->max_addrs : 4;
	if (r->max_mx > MS_RTLS_ROUTE_MAX_MX)
		r->max_mx = MS_RTLS_ROUTE_MAX_MX;
	if (r->max_addrs > MS_RTLS_ROUTE_MAX_ADDRS)
		r->max_addrs = MS_RTLS_ROUTE_MAX_ADDRS;
	r->in.domain = r->domain;
	r->in.requirement = requirement;
	r->in.dsn_of_requiretls = opts ? opts->dsn_of_requiretls : 0;
	r->deadline_ms = opts && opts->version >= 2 ? opts->deadline_ms : 0;
	r->dns = dns;
	r->sts = sts;
	*out = r;
	return MS_OK;
}

/* The synchronous call: the async steps, waiting on the context's fd (in
 * short slices: on a context shared by threads, another thread's
 * ms_dns_process may deliver our answers). */
ms_status ms_rtls_route_new(const struct ms_env *env, struct ms_dns_ctx *dns,
			    struct ms_sts *sts, const char *domain,
			    enum ms_rtls_requirement requirement,
			    const struct ms_rtls_route_opts *opts,
			    struct ms_rtls_route **out, char *why, size_t whylen)
{
	struct ms_rtls_route *r = NULL;
	if (out)
		*out = NULL;
	ms_status st = ms_rtls_route_start(env, dns, sts, domain, requirement, opts, NULL, NULL,
					   out ? &r : NULL, why, whylen);
	if (st != MS_OK)
		return st;
	int t = 0;
	while (ms_rtls_route_step(r, &t) == MS_RTLS_ROUTE_PENDING) {
		struct pollfd p = { .fd = ms_rtls_route_fd(r), .events = POLLIN };
		poll(&p, p.fd >= 0 ? 1 : 0, t < 10 ? t : 10);
	}
	st = ms_rtls_route_status(r, why, whylen);
	if (st != MS_OK) {
		ms_rtls_route_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

void rtls_route_clear(struct ms_rtls_route *r)
{
	for (size_t i = 0; r->hosts && i < r->nalloc; i++) {
		ms_dane_lookup_free(r->hosts[i].dane);
		ms_free(&r->env, r->hosts[i].addrs);
	}
	ms_free(&r->env, r->hosts);
	ms_sts_result_free(r->sts_result);
	r->hosts = NULL;
	r->nalloc = 0;
	r->sts_result = NULL;
}

void ms_rtls_route_free(struct ms_rtls_route *r)
{
	if (r == NULL)
		return;
	rtls_route_async_free(r);
	rtls_route_clear(r);
	struct ms_env e = r->env;
	ms_free(&e, r);
}

const char *ms_rtls_route_domain(const struct ms_rtls_route *r)
{
	return r ? r->domain : NULL;
}

const struct ms_rtls_domain *ms_rtls_route_engine_domain(const struct ms_rtls_route *r)
{
	return r ? &r->in : NULL;
}

unsigned ms_rtls_route_flags(const struct ms_rtls_route *r)
{
	return r ? r->flags : 0;
}

size_t ms_rtls_route_mx_total(const struct ms_rtls_route *r)
{
	return r ? r->mx_total : 0;
}

enum ms_dns_outcome ms_rtls_route_mx_outcome(const struct ms_rtls_route *r)
{
	return r ? r->mx_outcome : MS_DNS_SERVFAIL;
}

int ms_rtls_route_mx_ede(const struct ms_rtls_route *r, const char **text)
{
	if (text)
		*text = r ? r->mx_ede_text : "";
	return r ? r->mx_ede : -1;
}

const char *ms_rtls_route_mx_note(const struct ms_rtls_route *r)
{
	return r ? r->mx_note : NULL;
}

const char *ms_rtls_route_sts_note(const struct ms_rtls_route *r)
{
	return r ? r->sts_note : NULL;
}

const char *ms_rtls_route_sts_policy_id(const struct ms_rtls_route *r)
{
	if (r == NULL || !(r->flags & MS_RTLS_ROUTE_STS_POLICY) || r->sts_result == NULL)
		return NULL;
	return ms_sts_result_policy_id(r->sts_result);
}

const struct ms_sts_result *ms_rtls_route_sts_result(const struct ms_rtls_route *r)
{
	return r ? r->sts_result : NULL;
}

size_t ms_rtls_route_count(const struct ms_rtls_route *r)
{
	return r ? r->nhosts : 0;
}

const struct ms_rtls_route_host *ms_rtls_route_host(const struct ms_rtls_route *r, size_t i)
{
	return r && i < r->nhosts ? &r->hosts[i] : NULL;
}

const char *ms_rtls_route_host_name(const struct ms_rtls_route_host *h)
{
	return h ? h->name : NULL;
}

uint16_t ms_rtls_route_host_preference(const struct ms_rtls_route_host *h)
{
	return h ? h->preference : 0;
}

size_t ms_rtls_route_host_addr_count(const struct ms_rtls_route_host *h)
{
	return h ? h->naddrs : 0;
}

const char *ms_rtls_route_host_addr(const struct ms_rtls_route_host *h, size_t i)
{
	return h && i < h->naddrs ? h->addrs[i] : NULL;
}

enum ms_dns_outcome ms_rtls_route_host_addr_outcome(const struct ms_rtls_route_host *h,
						    int *failed)
{
	if (failed)
		*failed = h ? h->addr_failed : 1;
	return h ? h->addr_outcome : MS_DNS_SERVFAIL;
}

void ms_rtls_route_host_addr_family(const struct ms_rtls_route_host *h, uint16_t type,
				    enum ms_dns_outcome *outcome, enum ms_dns_security *security)
{
	int f = type == MS_DNS_T_AAAA;
	if (outcome)
		*outcome = h && (type == MS_DNS_T_A || f) ? h->fam_outcome[f] : MS_DNS_SERVFAIL;
	if (security)
		*security = h && (type == MS_DNS_T_A || f) ? h->fam_security[f]
							    : MS_DNS_INDETERMINATE;
}

const char *ms_rtls_route_host_addr_note(const struct ms_rtls_route_host *h)
{
	return h ? h->addr_note : NULL;
}

const struct ms_rtls_host *ms_rtls_route_host_engine(const struct ms_rtls_route_host *h)
{
	return h ? &h->in : NULL;
}

const struct ms_rtls_plan *ms_rtls_route_host_plan(const struct ms_rtls_route_host *h)
{
	return h ? &h->plan : NULL;
}

const struct ms_dane_lookup *ms_rtls_route_host_dane(const struct ms_rtls_route_host *h)
{
	return h ? h->dane : NULL;
}

const char *ms_rtls_route_host_dane_note(const struct ms_rtls_route_host *h)
{
	return h ? h->dane_note : NULL;
}

const char *ms_rtls_route_host_sni(const struct ms_rtls_route_host *h)
{
	if (h == NULL)
		return NULL;
	const char *base = h->dane ? ms_dane_lookup_base(h->dane) : NULL;
	return base ? base : h->name;
}

enum ms_sts_verdict ms_rtls_route_host_sts_verdict(const struct ms_rtls_route_host *h)
{
	return h ? h->sts_verdict : MS_STS_PASS;
}

size_t ms_rtls_route_host_reason_count(const struct ms_rtls_route_host *h)
{
	return h ? h->nreasons : 0;
}

const char *ms_rtls_route_host_reason(const struct ms_rtls_route_host *h, size_t i)
{
	return h && i < h->nreasons ? h->reasons[i] : NULL;
}
