/*
 * replan_route.c - the per-host diff of a re-plan: a route's lookups are
 * planned again by the engine (ms_rtls_plan) for the new requirement, no
 * DNS or MTA-STS lookup is repeated, and every change is said in one line.
 */
#include "replan_internal.h"

#include <stdio.h>
#include <string.h>

static int plaintext_allowed(const struct ms_rtls_plan *p)
{
	return p->mode == MS_RTLS_MODE_OPPORTUNISTIC ||
	       p->mode == MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK;
}

static int host_changed(const struct ms_rtls_replan_host *h)
{
	const struct ms_rtls_plan *a = &h->before, *b = &h->after;
	return a->mode != b->mode || a->verify_dane != b->verify_dane ||
	       a->verify_pkix != b->verify_pkix || a->need_requiretls != b->need_requiretls ||
	       h->plaintext_before != h->plaintext_after || a->reason != b->reason ||
	       strcmp(a->enhanced, b->enhanced) != 0;
}

/* Append ", what" (or ": what" for the first clause). */
static void clause(char *s, size_t n, int *first, const char *what)
{
	size_t l = strlen(s);
	if (l < n)
		snprintf(s + l, n - l, "%s%s", *first ? ": " : ", ", what);
	*first = 0;
}

/* "mx1.good.test: dane -> opportunistic-fallback: DANE and MTA-STS
 * failures ignored, REQUIRETLS no longer needed, plaintext allowed" */
static void summarise(const struct ms_rtls_replan_host *h, char *s, size_t n)
{
	const struct ms_rtls_plan *a = &h->before, *b = &h->after;
	if (!h->changed) {
		snprintf(s, n, "%s: unchanged (%s)", h->name, ms_rtls_mode_str(b->mode));
		return;
	}
	snprintf(s, n, "%s: %s -> %s", h->name, ms_rtls_mode_str(a->mode), ms_rtls_mode_str(b->mode));
	int first = 1;
	char buf[320];
	if (b->mode == MS_RTLS_MODE_SKIP) {
		snprintf(buf, sizeof(buf), "skipped %s (%s)", b->enhanced, ms_rtls_reason_str(b->reason));
		clause(s, n, &first, buf);
		return;
	}
	if (a->mode == MS_RTLS_MODE_SKIP) {
		snprintf(buf, sizeof(buf), "no longer skipped (was %s %s)", a->enhanced,
			 ms_rtls_reason_str(a->reason));
		clause(s, n, &first, buf);
	}
	int lost_dane = a->mode != MS_RTLS_MODE_SKIP && a->verify_dane && !b->verify_dane;
	int lost_pkix = a->mode != MS_RTLS_MODE_SKIP && a->verify_pkix && !b->verify_pkix;
	if (lost_dane || lost_pkix) {
		snprintf(buf, sizeof(buf), "%s%s%s failures ignored", lost_dane ? "DANE" : "",
			 lost_dane && lost_pkix ? " and " : "", lost_pkix ? "MTA-STS" : "");
		clause(s, n, &first, buf);
	}
	if (b->verify_dane && (a->mode == MS_RTLS_MODE_SKIP || !a->verify_dane))
		clause(s, n, &first, "DANE verification required");
	if (b->verify_pkix && (a->mode == MS_RTLS_MODE_SKIP || !a->verify_pkix))
		clause(s, n, &first, "MTA-STS (PKIX) verification required");
	if (b->need_requiretls && !a->need_requiretls)
		clause(s, n, &first, "the host must offer REQUIRETLS");
	if (!b->need_requiretls && a->need_requiretls)
		clause(s, n, &first, "REQUIRETLS no longer needed");
	if (h->plaintext_after && !h->plaintext_before)
		clause(s, n, &first, "plaintext allowed");
	if (!h->plaintext_after && h->plaintext_before)
		clause(s, n, &first, "plaintext no longer allowed");
	if (b->mode == MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK &&
	    a->mode == MS_RTLS_MODE_OPPORTUNISTIC)
		clause(s, n, &first, "plaintext also after a failed handshake");
}

/* The route as if it had been planned for `req`: a shallow copy with the
 * hosts' plans redone, for ms_rtls_route_undeliverable (the copy shares
 * the route's lookups and is never freed with ms_rtls_route_free). */
static ms_status undeliverable_for(const struct ms_rtls_route *route,
				   enum ms_rtls_requirement req, int *undeliverable,
				   struct ms_rtls_outcome *o)
{
	struct ms_rtls_route tmp = *route;
	tmp.in.requirement = req;
	tmp.hosts = NULL;
	if (route->nhosts) {
		tmp.hosts = ms_calloc(&route->env, route->nhosts, sizeof(*tmp.hosts));
		if (tmp.hosts == NULL)
			return MS_ERR_NOMEM;
		for (size_t i = 0; i < route->nhosts; i++) {
			tmp.hosts[i] = route->hosts[i];
			if (rtls_plan_fill(&tmp.in, &tmp.hosts[i].in, &tmp.hosts[i].plan) != MS_OK) {
				ms_free(&route->env, tmp.hosts);
				return MS_ERR_INTERNAL;
			}
		}
	}
	tmp.nalloc = route->nhosts;
	*undeliverable = rtls_route_undeliverable_fill(&tmp, o);
	if (!*undeliverable)
		memset(o, 0, sizeof(*o));
	ms_free(&route->env, tmp.hosts);
	return MS_OK;
}

ms_status ms_rtls_replan_route(struct ms_rtls_replan *rp, const struct ms_rtls_route *route,
			       char *why, size_t whylen)
{
	if (rp == NULL || route == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "replan: NULL argument");
	if (route->in.requirement != rp->before)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "replan: the route of %s was planned for %s, the message is %s",
			      route->domain, ms_rtls_requirement_str(route->in.requirement),
			      ms_rtls_requirement_str(rp->before));
	for (size_t i = 0; i < rp->ndoms; i++)
		if (strcmp(rp->doms[i].domain, route->domain) == 0)
			return ms_why(why, whylen, MS_ERR_INVALID, "replan: %s added twice",
				      route->domain);
	if (rp->ndoms == MS_RTLS_REPLAN_MAX_DOMAINS)
		return ms_why(why, whylen, MS_ERR_LIMIT, "replan: more than %d domains",
			      MS_RTLS_REPLAN_MAX_DOMAINS);
	struct rtls_replan_dom *d = &rp->doms[rp->ndoms];
	memset(d, 0, sizeof(*d));
	size_t n = route->nhosts;
	if (n) {
		d->hosts = ms_calloc(&rp->env, n, sizeof(*d->hosts));
		d->text = ms_calloc(&rp->env, n, sizeof(*d->text));
	}
	ms_status st = n && (d->hosts == NULL || d->text == NULL) ? MS_ERR_NOMEM : MS_OK;
	struct ms_rtls_domain after_in = route->in;
	after_in.requirement = rp->after;
	size_t changed = 0;
	for (size_t i = 0; st == MS_OK && i < n; i++) {
		const struct ms_rtls_route_host *rh = &route->hosts[i];
		struct ms_rtls_replan_host *h = &d->hosts[i];
		snprintf(d->text[i].name, sizeof(d->text[i].name), "%s", rh->name);
		h->name = d->text[i].name;
		h->preference = rh->preference;
		h->before = rh->plan;
		if (rtls_plan_fill(&after_in, &rh->in, &h->after) != MS_OK) {
			st = MS_ERR_INTERNAL;
			break;
		}
		h->plaintext_before = plaintext_allowed(&h->before);
		h->plaintext_after = plaintext_allowed(&h->after);
		h->changed = host_changed(h);
		changed += (size_t)h->changed;
		summarise(h, d->text[i].summary, sizeof(d->text[i].summary));
		h->summary = d->text[i].summary;
	}
	if (st == MS_OK) {
		d->pub.undeliverable_before =
			rtls_route_undeliverable_fill(route, &d->pub.outcome_before);
		if (!d->pub.undeliverable_before)
			memset(&d->pub.outcome_before, 0, sizeof(d->pub.outcome_before));
		st = undeliverable_for(route, rp->after, &d->pub.undeliverable_after,
				       &d->pub.outcome_after);
	}
	if (st != MS_OK) {
		ms_free(&rp->env, d->hosts);
		ms_free(&rp->env, d->text);
		memset(d, 0, sizeof(*d));
		return ms_why(why, whylen, st, "replan: %s", st == MS_ERR_NOMEM ? "out of memory"
							       : "the engine refused its input");
	}
	snprintf(d->domain, sizeof(d->domain), "%s", route->domain);
	d->pub.domain = d->domain;
	d->pub.nhosts = n;
	d->pub.hosts = d->hosts;
	d->pub.changed = changed > 0 ||
			 d->pub.undeliverable_before != d->pub.undeliverable_after ||
			 strcmp(d->pub.outcome_before.enhanced, d->pub.outcome_after.enhanced) != 0;
	rp->ndoms++;
	/* The operator changed what the originator (or the default) asked
	 * for: the MTA's log keeps it (RFC 8689 leaves it to local policy). */
	char nchanged[24];
	snprintf(nchanged, sizeof(nchanged), "%zu", changed);
	const struct ms_kv kv[] = {
		{ "domain", d->domain },
		{ "requirement_old", ms_rtls_requirement_str(rp->before) },
		{ "requirement_new", ms_rtls_requirement_str(rp->after) },
		{ "hosts_changed", nchanged },
	};
	ms_log(&rp->env, MS_LOG_INFO, "requiretls", "message requirement changed by the operator",
	       kv, sizeof(kv) / sizeof(kv[0]));
	return MS_OK;
}
