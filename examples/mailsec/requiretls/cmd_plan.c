/*
 * cmd_plan.c - `mailsec plan DOMAIN [--requiretls | --tls-required-no]
 *               [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]`
 *
 * The TLS decision per MX host before any connection: what librequiretls's
 * engine demands (DANE, PKIX, encrypted, opportunistic, skip) and why, from
 * the MX lookup, DANE and MTA-STS.  Exit 0 when the plan was made, whatever
 * it says.
 */
#include "route_cli.h"

#include <string.h>

static void out_host(struct cli_out *o, const struct ms_rtls_route_host *h,
		     const struct ms_rtls_domain *d, char *params, size_t plen)
{
	const struct ms_rtls_host *in = ms_rtls_route_host_engine(h);
	const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
	int skip = p->mode == MS_RTLS_MODE_SKIP;
	out_line(o, NULL, "\nMX %u %s: %s", ms_rtls_route_host_preference(h),
		 ms_rtls_route_host_name(h), ms_rtls_mode_str(p->mode));
	out_obj(o, NULL);
	out_str(o, "host", NULL, ms_rtls_route_host_name(h));
	out_int(o, "preference", NULL, ms_rtls_route_host_preference(h));
	out_arr(o, "addresses");
	for (size_t k = 0; k < ms_rtls_route_host_addr_count(h); k++)
		out_str(o, OUT_ELEM, NULL, ms_rtls_route_host_addr(h, k));
	out_close_arr(o);
	out_str(o, "addr_security", NULL, ms_dns_security_str(in->addr_security));
	out_str(o, "mode", NULL, ms_rtls_mode_str(p->mode));
	out_str(o, "dane", NULL, ms_rtls_dane_str(in->dane));
	out_obj(o, "mta_sts");
	out_str(o, "mode", NULL, ms_rtls_sts_mode_str(d->sts_mode));
	out_bool(o, "match", in->sts_match);
	out_str(o, "verdict", NULL, d->sts_mode == MS_RTLS_STS_NO_POLICY ? NULL
		: ms_sts_verdict_str(ms_rtls_route_host_sts_verdict(h)));
	out_close(o);
	out_bool(o, "verify_dane", p->verify_dane);
	out_bool(o, "verify_pkix", p->verify_pkix);
	out_bool(o, "report_pkix", p->report_pkix);
	out_bool(o, "need_requiretls", p->need_requiretls);
	out_str(o, "policy_mode", NULL, ms_rtls_mode_str(p->policy_mode));
	if (skip) {
		out_str(o, "skip_reason", NULL, ms_rtls_reason_str(p->reason));
		out_str(o, "status", NULL, p->enhanced);
		out_str(o, "text", NULL, p->text);
	}
	params[0] = '\0';
	if (!skip)
		route_mail_params(p->need_requiretls, params, plen);
	out_str(o, "mail_params", NULL, skip ? NULL : params);
	out_arr(o, "reasons");
	for (size_t k = 0; k < ms_rtls_route_host_reason_count(h); k++) {
		out_str(o, OUT_ELEM, NULL, ms_rtls_route_host_reason(h, k));
		out_line(o, NULL, "  - %s", ms_rtls_route_host_reason(h, k));
	}
	out_close_arr(o);
	out_close(o);
	if (!skip)
		out_line(o, "MAIL FROM parameters", "%s", params[0] ? params : "(none)");
}

static void print(const struct cli *cli, const struct ms_rtls_route *r)
{
	const struct ms_rtls_domain *d = ms_rtls_route_engine_domain(r);
	const char *sts_note = ms_rtls_route_sts_note(r);
	unsigned flags = ms_rtls_route_flags(r);
	struct cli_out o;
	out_begin(&o, cli, "  ", 0);
	out_str(&o, "domain", NULL, ms_rtls_route_domain(r));
	out_str(&o, "requirement", NULL, ms_rtls_requirement_str(d->requirement));
	out_line(&o, NULL, "domain %s: requirement %s\n  %s\n  %s", ms_rtls_route_domain(r),
		 ms_rtls_requirement_str(d->requirement), ms_rtls_route_mx_note(r),
		 sts_note[0] ? sts_note : "MTA-STS not checked");
	out_str(&o, "mx_security", NULL, ms_dns_security_str(d->mx_security));
	out_bool(&o, "null_mx", (flags & MS_RTLS_ROUTE_NULL_MX) != 0);
	out_bool(&o, "implicit_mx", (flags & MS_RTLS_ROUTE_IMPLICIT_MX) != 0);
	out_str(&o, "mta_sts_mode", NULL, ms_rtls_sts_mode_str(d->sts_mode));
	out_str(&o, "mta_sts_note", NULL, sts_note);
	struct ms_rtls_outcome oc = { .version = MS_RTLS_OUTCOME_VERSION };
	if (ms_rtls_route_count(r) == 0) {
		ms_rtls_route_no_host_outcome(r, &oc);
		out_line(&o, NULL, "no host to try: %s %s", oc.enhanced, oc.text);
	}
	char params[128], first[128] = "";
	int any = 0;
	out_arr(&o, "hosts");
	for (size_t i = 0; i < ms_rtls_route_count(r); i++) {
		out_host(&o, ms_rtls_route_host(r, i), d, params, sizeof(params));
		if (!any && ms_rtls_route_host_plan(ms_rtls_route_host(r, i))->mode !=
				    MS_RTLS_MODE_SKIP) {
			snprintf(first, sizeof(first), "%s", params);
			any = 1;
		}
	}
	out_close_arr(&o);
	/* What MAIL FROM carries on the first host that may be used (null
	 * when every host is skipped). */
	out_str(&o, "mail_params", NULL, any ? first : NULL);
	int undeliverable = ms_rtls_route_undeliverable(r, &oc);
	route_out_outcome(&o, "undeliverable", undeliverable, &oc);
	out_end(&o);
}

int cmd_plan(struct cli *cli, int argc, char **argv)
{
	struct route_opts o = { 0 };
	const char *p[1];
	struct cli_list pos = CLI_LIST_OF(p);
	const struct cli_opt opts[] = { ROUTE_OPTS(&o), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	/* RFC 8689 s4.2.2: the header is ignored when REQUIRETLS is given;
	 * asking for both at once is a contradiction, not a plan. */
	if (o.requiretls && o.tls_required_no)
		return cli_usage_error(cli, "--requiretls and --tls-required-no exclude each other");
	struct ms_rtls_route *r = NULL;
	rc = route_open(cli, p[0], &o, o.requiretls ? MS_RTLS_REQ_REQUIRED :
			o.tls_required_no ? MS_RTLS_REQ_NOT_REQUIRED : MS_RTLS_REQ_DEFAULT, &r);
	if (rc == CLI_EXIT_OK)
		print(cli, r);
	ms_rtls_route_free(r);
	return rc;
}
