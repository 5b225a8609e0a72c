/*
 * route_reasons.c - what a route says in words and outcomes: the reasons
 * behind each host's plan (the sentences `mailsec plan` prints), the
 * outcome of a domain with no host to try, and the names of the engine's
 * inputs.
 */
#include "route_internal.h"

#include <stdio.h>
#include <string.h>

const char *ms_rtls_dane_str(enum ms_rtls_dane d)
{
	switch (d) {
	case MS_RTLS_DANE_NONE: return "none";
	case MS_RTLS_DANE_USABLE: return "usable";
	case MS_RTLS_DANE_UNUSABLE: return "unusable";
	case MS_RTLS_DANE_INSECURE: return "insecure";
	case MS_RTLS_DANE_FAILED: return "failed";
	}
	return "unknown";
}

const char *ms_rtls_sts_mode_str(enum ms_rtls_sts_mode m)
{
	switch (m) {
	case MS_RTLS_STS_NO_POLICY: return "no-policy";
	case MS_RTLS_STS_NONE: return "none";
	case MS_RTLS_STS_TESTING: return "testing";
	case MS_RTLS_STS_ENFORCE: return "enforce";
	case MS_RTLS_STS_UNKNOWN: return "unknown";
	}
	return "unknown";
}

#define ADD(...)                                                                         \
	do {                                                                             \
		if (h->nreasons < MS_RTLS_ROUTE_MAX_REASONS)                             \
			snprintf(h->reasons[h->nreasons++], sizeof(h->reasons[0]), __VA_ARGS__); \
	} while (0)

void rtls_route_reasons(const struct ms_rtls_route *r, struct ms_rtls_route_host *h)
{
	const struct ms_rtls_plan *p = &h->plan;
	h->nreasons = 0;
	ADD("MX RRset %s, host addresses %s", ms_dns_security_str(r->in.mx_security),
	    ms_dns_security_str(h->in.addr_security));
	ADD("DANE %s: %s", ms_rtls_dane_str(h->in.dane), h->dane_note);
	if (r->in.sts_mode == MS_RTLS_STS_NO_POLICY || r->in.sts_mode == MS_RTLS_STS_UNKNOWN)
		ADD("%s", r->sts_note);
	else
		ADD("MTA-STS %s: host %s the policy", ms_rtls_sts_mode_str(r->in.sts_mode),
		    h->in.sts_match ? "matches" : "is not listed in");
	if (p->mode == MS_RTLS_MODE_SKIP) {
		ADD("skip (%s %s): %.200s", p->enhanced, ms_rtls_reason_str(p->reason), p->text);
		return;
	}
	if (p->verify_dane)
		ADD("TLS verified by DANE required (RFC 7672 s2.2)");
	if (p->verify_pkix)
		ADD("TLS verified by PKIX with the MX name required (RFC 8461 s4.2)");
	if (p->mode == MS_RTLS_MODE_ENCRYPTED)
		ADD("TLS required, not authenticated: every TLSA record is unusable (RFC 7672 s2.2)");
	if (p->mode == MS_RTLS_MODE_OPPORTUNISTIC)
		ADD("STARTTLS if offered, plaintext otherwise (RFC 3207, RFC 7435)");
	if (p->report_pkix)
		ADD("MTA-STS testing: PKIX failures are reported, not enforced (RFC 8461 s5.2)");
	if (p->need_requiretls)
		ADD("REQUIRETLS: the host must advertise REQUIRETLS after STARTTLS (RFC 8689 s4.2.1)");
	if (p->mode == MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK)
		ADD("TLS-Required: No: STARTTLS tried, TLS and verification errors ignored, "
		    "plaintext fallback allowed (RFC 8689 s4.2.2); the policy alone says %s",
		    ms_rtls_mode_str(p->policy_mode));
}

void rtls_route_no_host_outcome_fill(const struct ms_rtls_route *r, struct ms_rtls_outcome *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	out->version = MS_RTLS_OUTCOME_VERSION;
	if (r == NULL) {
		rtls_conclude_fill(NULL, 0, out);
		return;
	}
	if (r->in.mx_security == MS_DNS_BOGUS || r->in.mx_security == MS_DNS_INDETERMINATE) {
		/* Ask the engine with a stand-in host: its MX rule does not
		 * depend on the host (RFC 7672 s2.1.1). */
		struct ms_rtls_host h = { .name = r->domain, .addr_security = MS_DNS_INDETERMINATE };
		struct ms_rtls_plan p;
		if (rtls_plan_fill(&r->in, &h, &p) == MS_OK && p.mode == MS_RTLS_MODE_SKIP) {
			rtls_outcome_from_plan_fill(&p, out);
			out->verdict = p.skip_verdict;
			return;
		}
	}
	if (r->flags & MS_RTLS_ROUTE_NULL_MX) {
		out->verdict = MS_RTLS_PERMFAIL;
		out->basic = 5;
		snprintf(out->enhanced, sizeof(out->enhanced), "5.1.10");
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5.1.10");
		snprintf(out->text, sizeof(out->text), "%.200s accepts no mail (null MX, RFC 7505 s3)",
			 r->domain);
		return;
	}
	if (r->flags & MS_RTLS_ROUTE_NXDOMAIN) {
		/* RFC 3463 s3.2: X.1.2 bad destination system address. */
		out->verdict = MS_RTLS_PERMFAIL;
		out->basic = 5;
		snprintf(out->enhanced, sizeof(out->enhanced), "5.1.2");
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5.1.2");
		snprintf(out->text, sizeof(out->text), "%.200s does not exist (NXDOMAIN)", r->domain);
		return;
	}
	rtls_conclude_fill(NULL, 0, out);
}

int rtls_route_undeliverable_fill(const struct ms_rtls_route *r, struct ms_rtls_outcome *out)
{
	struct ms_rtls_outcome tmp;
	if (out == NULL)
		out = &tmp;
	memset(out, 0, sizeof(*out));
	out->version = MS_RTLS_OUTCOME_VERSION;
	if (r == NULL || r->nhosts == 0) {
		rtls_route_no_host_outcome_fill(r, out);
		return 1;
	}
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].plan.mode != MS_RTLS_MODE_SKIP)
			return 0;
	struct ms_rtls_outcome *fails = ms_calloc(&r->env, r->nhosts, sizeof(*fails));
	if (fails == NULL) {
		/* out of memory: the first skip alone (the hosts agree on the
		 * class in the common case); never "deliverable" */
		rtls_outcome_from_plan_fill(&r->hosts[0].plan, out);
		out->verdict = r->hosts[0].plan.skip_verdict == MS_RTLS_PERMFAIL ? MS_RTLS_PERMFAIL
										  : MS_RTLS_TEMPFAIL;
		return 1;
	}
	for (size_t i = 0; i < r->nhosts; i++)
		rtls_outcome_from_plan_fill(&r->hosts[i].plan, &fails[i]);
	rtls_conclude_fill(fails, r->nhosts, out);
	ms_free(&r->env, fails);
	return 1;
}

/* The public calls fill the caller's outcome only as far as its version
 * goes (requiretls_decide.h); version 0 gets nothing written. */
static void outcome_copy_out(const struct ms_rtls_outcome *full, struct ms_rtls_outcome *out)
{
	if (out == NULL || out->version == 0)
		return;
	unsigned v = out->version;
	memcpy(out, full, sizeof(*out)); /* version 1 is the whole struct */
	out->version = v;
}

void ms_rtls_route_no_host_outcome(const struct ms_rtls_route *r, struct ms_rtls_outcome *out)
{
	struct ms_rtls_outcome full;
	rtls_route_no_host_outcome_fill(r, &full);
	outcome_copy_out(&full, out);
}

int ms_rtls_route_undeliverable(const struct ms_rtls_route *r, struct ms_rtls_outcome *out)
{
	struct ms_rtls_outcome full;
	int u = rtls_route_undeliverable_fill(r, &full);
	outcome_copy_out(&full, out);
	return u;
}
