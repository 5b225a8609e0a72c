/*
 * render_route.c - the renderings of a route (`mailsec plan`) and of a
 * re-plan (`mailsec replan`), and the MAIL FROM parameters a plan leads
 * to: ms_rtls_route_render, ms_rtls_replan_render, ms_rtls_plan_mail_params,
 * ms_rtls_route_mail_params.
 */
#include "mailsec/requiretls_replan.h"
#include "mailsec/requiretls_route.h"

#include "ms_out.h"

#include <stdio.h>
#include <string.h>

static void out_outcome(struct ms_out *o, const char *key, int set,
		       const struct ms_rtls_outcome *oc)
{
	if (!set) {
		mo_null(o, key);
		return;
	}
	mo_obj(o, key);
	mo_str(o, "verdict", NULL, ms_rtls_verdict_str(oc->verdict));
	mo_str(o, "status", NULL, oc->enhanced);
	mo_str(o, "bounce_status", NULL, oc->bounce_enhanced);
	mo_str(o, "text", NULL, oc->text);
	mo_close(o);
}

static void out_host(struct ms_out *o, const struct ms_rtls_route_host *h,
		     const struct ms_rtls_domain *d, char *params, size_t plen)
{
	const struct ms_rtls_host *in = ms_rtls_route_host_engine(h);
	const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
	int skip = p->mode == MS_RTLS_MODE_SKIP;
	mo_line(o, NULL, "\nMX %u %s: %s", ms_rtls_route_host_preference(h),
		 ms_rtls_route_host_name(h), ms_rtls_mode_str(p->mode));
	mo_obj(o, NULL);
	mo_str(o, "host", NULL, ms_rtls_route_host_name(h));
	mo_int(o, "preference", NULL, ms_rtls_route_host_preference(h));
	mo_arr(o, "addresses");
	for (size_t k = 0; k < ms_rtls_route_host_addr_count(h); k++)
		mo_str(o, MO_ELEM, NULL, ms_rtls_route_host_addr(h, k));
	mo_close_arr(o);
	mo_str(o, "addr_security", NULL, ms_dns_security_str(in->addr_security));
	mo_str(o, "mode", NULL, ms_rtls_mode_str(p->mode));
	mo_str(o, "dane", NULL, ms_rtls_dane_str(in->dane));
	mo_obj(o, "mta_sts");
	mo_str(o, "mode", NULL, ms_rtls_sts_mode_str(d->sts_mode));
	mo_bool(o, "match", in->sts_match);
	mo_str(o, "verdict", NULL, d->sts_mode == MS_RTLS_STS_NO_POLICY ? NULL
		: ms_sts_verdict_str(ms_rtls_route_host_sts_verdict(h)));
	mo_close(o);
	mo_bool(o, "verify_dane", p->verify_dane);
	mo_bool(o, "verify_pkix", p->verify_pkix);
	mo_bool(o, "report_pkix", p->report_pkix);
	mo_bool(o, "need_requiretls", p->need_requiretls);
	mo_str(o, "policy_mode", NULL, ms_rtls_mode_str(p->policy_mode));
	if (skip) {
		mo_str(o, "skip_reason", NULL, ms_rtls_reason_str(p->reason));
		mo_str(o, "status", NULL, p->enhanced);
		mo_str(o, "text", NULL, p->text);
	}
	params[0] = '\0';
	if (!skip)
		ms_rtls_plan_mail_params(p, params, plen);
	mo_str(o, "mail_params", NULL, skip ? NULL : params);
	mo_arr(o, "reasons");
	for (size_t k = 0; k < ms_rtls_route_host_reason_count(h); k++) {
		mo_str(o, MO_ELEM, NULL, ms_rtls_route_host_reason(h, k));
		mo_line(o, NULL, "  - %s", ms_rtls_route_host_reason(h, k));
	}
	mo_close_arr(o);
	mo_close(o);
	if (!skip)
		mo_line(o, "MAIL FROM parameters", "%s", params[0] ? params : "(none)");
}

static void route_report(struct ms_out *o, const struct ms_rtls_route *r)
{
	const struct ms_rtls_domain *d = ms_rtls_route_engine_domain(r);
	const char *sts_note = ms_rtls_route_sts_note(r);
	unsigned flags = ms_rtls_route_flags(r);
	mo_str(o, "domain", NULL, ms_rtls_route_domain(r));
	mo_str(o, "requirement", NULL, ms_rtls_requirement_str(d->requirement));
	mo_line(o, NULL, "domain %s: requirement %s\n  %s\n  %s", ms_rtls_route_domain(r),
		 ms_rtls_requirement_str(d->requirement), ms_rtls_route_mx_note(r),
		 sts_note[0] ? sts_note : "MTA-STS not checked");
	mo_str(o, "mx_security", NULL, ms_dns_security_str(d->mx_security));
	mo_bool(o, "null_mx", (flags & MS_RTLS_ROUTE_NULL_MX) != 0);
	mo_bool(o, "implicit_mx", (flags & MS_RTLS_ROUTE_IMPLICIT_MX) != 0);
	mo_str(o, "mta_sts_mode", NULL, ms_rtls_sts_mode_str(d->sts_mode));
	mo_str(o, "mta_sts_note", NULL, sts_note);
	struct ms_rtls_outcome oc = { .version = MS_RTLS_OUTCOME_VERSION };
	if (ms_rtls_route_count(r) == 0) {
		ms_rtls_route_no_host_outcome(r, &oc);
		mo_line(o, NULL, "no host to try: %s %s", oc.enhanced, oc.text);
	}
	char params[128];
	mo_arr(o, "hosts");
	for (size_t i = 0; i < ms_rtls_route_count(r); i++)
		out_host(o, ms_rtls_route_host(r, i), d, params, sizeof(params));
	mo_close_arr(o);
	/* What MAIL FROM carries on the first host that may be used (null
	 * when every host is skipped). */
	int any = ms_rtls_route_mail_params(r, params, sizeof(params));
	mo_str(o, "mail_params", NULL, any ? params : NULL);
	int undeliverable = ms_rtls_route_undeliverable(r, &oc);
	out_outcome(o, "undeliverable", undeliverable, &oc);
}

/* One host's plan: a JSON object under `key`, or a human line. */
static void out_plan(struct ms_out *o, const char *key, const char *label,
		     const struct ms_rtls_plan *p, int plaintext)
{
	int skip = p->mode == MS_RTLS_MODE_SKIP;
	mo_obj(o, key);
	mo_str(o, "mode", NULL, ms_rtls_mode_str(p->mode));
	mo_bool(o, "verify_dane", p->verify_dane);
	mo_bool(o, "verify_pkix", p->verify_pkix);
	mo_bool(o, "need_requiretls", p->need_requiretls);
	mo_bool(o, "plaintext", plaintext);
	mo_str(o, "skip_status", NULL, skip ? p->enhanced : NULL);
	mo_str(o, "skip_reason", NULL, skip ? ms_rtls_reason_str(p->reason) : NULL);
	mo_close(o);
	if (skip)
		mo_line(o, NULL, "    %s %s %s (%s): %s", label, ms_rtls_mode_str(p->mode),
			 p->enhanced, ms_rtls_reason_str(p->reason), p->text);
	else
		mo_line(o, NULL, "    %s %s: verify DANE %s, PKIX %s, REQUIRETLS needed %s, "
			 "plaintext %s", label, ms_rtls_mode_str(p->mode),
			 p->verify_dane ? "yes" : "no", p->verify_pkix ? "yes" : "no",
			 p->need_requiretls ? "yes" : "no", plaintext ? "allowed" : "no");
}

static void out_undeliverable(struct ms_out *o, const char *when, int set,
			      const struct ms_rtls_outcome *oc)
{
	char key[32];
	snprintf(key, sizeof(key), "undeliverable_%s", when);
	out_outcome(o, key, set, oc);
	if (set)
		mo_line(o, NULL, "  undeliverable %s: %s %s", when, oc->enhanced, oc->text);
}

static void replan_report(struct ms_out *o, const struct ms_rtls_replan *rp, const char *params,
			  const char *written)
{
	const char *np = ms_rtls_replan_mail_params(rp);
	const char *before = ms_rtls_requirement_str(ms_rtls_replan_before(rp));
	const char *after = ms_rtls_requirement_str(ms_rtls_replan_after(rp));
	const char *tlsreq = ms_rtls_tlsreq_str(ms_rtls_replan_tlsreq(rp));
	mo_str(o, "requirement_before", NULL, before);
	mo_str(o, "requirement_after", NULL, after);
	mo_str(o, "tls_required_header", NULL, tlsreq);
	mo_str(o, "mail_params_before", NULL, params);
	mo_str(o, "mail_params_after", NULL, np);
	mo_int(o, "header_fields_removed", NULL, (long long)ms_rtls_replan_removed(rp));
	mo_bool(o, "header_field_added", ms_rtls_replan_added(rp));
	mo_line(o, NULL, "message requirement: %s -> %s (TLS-Required header %s)\n"
		 "MAIL FROM parameters: %s -> %s\nheader: %zu TLS-Required field(s) removed%s",
		 before, after, tlsreq, params[0] ? params : "(none)", np[0] ? np : "(none)",
		 ms_rtls_replan_removed(rp),
		 ms_rtls_replan_added(rp) ? ", \"TLS-Required: No\" added" : "");
	mo_arr(o, "domains");
	for (size_t i = 0; i < ms_rtls_replan_domain_count(rp); i++) {
		const struct ms_rtls_replan_domain *d = ms_rtls_replan_domain(rp, i);
		mo_line(o, NULL, "\ndomain %s: %s", d->domain, d->changed ? "changed" : "unchanged");
		if (d->nhosts == 0)
			mo_line(o, NULL, "  no host to try");
		mo_obj(o, NULL);
		mo_str(o, "domain", NULL, d->domain);
		mo_bool(o, "changed", d->changed);
		mo_arr(o, "hosts");
		for (size_t k = 0; k < d->nhosts; k++) {
			const struct ms_rtls_replan_host *h = &d->hosts[k];
			mo_line(o, NULL, "  MX %u %s", h->preference, h->summary);
			mo_obj(o, NULL);
			mo_str(o, "host", NULL, h->name);
			mo_int(o, "preference", NULL, h->preference);
			mo_bool(o, "changed", h->changed);
			mo_str(o, "summary", NULL, h->summary);
			out_plan(o, "before", "before:", &h->before, h->plaintext_before);
			out_plan(o, "after", "after: ", &h->after, h->plaintext_after);
			mo_close(o);
		}
		mo_close_arr(o);
		out_undeliverable(o, "before", d->undeliverable_before, &d->outcome_before);
		out_undeliverable(o, "after", d->undeliverable_after, &d->outcome_after);
		mo_close(o);
	}
	mo_close_arr(o);
	mo_str(o, "written", NULL, written);
	if (written)
		mo_line(o, NULL, "\nwrote %s; requeue it with MAIL FROM parameters: %s", written,
			 np[0] ? np : "(none)");
}


void ms_rtls_plan_mail_params(const struct ms_rtls_plan *p, char *out, size_t outsize)
{
	struct ms_rtls_mail *m = NULL;
	if (outsize)
		out[0] = '\0';
	if (p == NULL || outsize == 0 || ms_rtls_mail_new(NULL, &m) != MS_OK)
		return;
	if (p->need_requiretls)
		ms_rtls_mail_set(m, "REQUIRETLS", NULL);
	if (ms_rtls_mail_format(m, out, outsize, NULL) != MS_OK)
		out[0] = '\0';
	ms_rtls_mail_free(m);
}

int ms_rtls_route_mail_params(const struct ms_rtls_route *r, char *out, size_t outsize)
{
	if (outsize)
		out[0] = '\0';
	for (size_t i = 0; r && i < ms_rtls_route_count(r); i++) {
		const struct ms_rtls_plan *p = ms_rtls_route_host_plan(ms_rtls_route_host(r, i));
		if (p->mode != MS_RTLS_MODE_SKIP) {
			ms_rtls_plan_mail_params(p, out, outsize);
			return 1;
		}
	}
	return 0;
}

ms_status ms_rtls_route_render(const struct ms_rtls_route *r, enum ms_render_format fmt,
			       char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (r == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 0) != MS_OK)
		return MS_ERR_NOMEM;
	route_report(&o, r);
	return mo_end(&o, out, len);
}

ms_status ms_rtls_replan_render(const struct ms_rtls_replan *rp, const char *mail_params,
				const char *written, enum ms_render_format fmt, char **out,
				size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (rp == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 0) != MS_OK)
		return MS_ERR_NOMEM;
	replan_report(&o, rp, mail_params ? mail_params : "", written);
	return mo_end(&o, out, len);
}
