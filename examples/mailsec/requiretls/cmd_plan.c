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

static void print_human(const struct ms_rtls_route *r)
{
	const struct ms_rtls_domain *d = ms_rtls_route_engine_domain(r);
	const char *sts_note = ms_rtls_route_sts_note(r);
	printf("domain %s: requirement %s\n", ms_rtls_route_domain(r),
	       ms_rtls_requirement_str(d->requirement));
	printf("  %s\n  %s\n", ms_rtls_route_mx_note(r), sts_note[0] ? sts_note : "MTA-STS not checked");
	if (ms_rtls_route_count(r) == 0) {
		struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
		ms_rtls_route_no_host_outcome(r, &o);
		printf("no host to try: %s %s\n", o.enhanced, o.text);
		return;
	}
	for (size_t i = 0; i < ms_rtls_route_count(r); i++) {
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
		const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
		char params[128];
		printf("\nMX %u %s: %s\n", ms_rtls_route_host_preference(h), ms_rtls_route_host_name(h),
		       ms_rtls_mode_str(p->mode));
		for (size_t k = 0; k < ms_rtls_route_host_reason_count(h); k++)
			printf("  - %s\n", ms_rtls_route_host_reason(h, k));
		if (p->mode != MS_RTLS_MODE_SKIP) {
			route_mail_params(NULL, p->need_requiretls, params, sizeof(params));
			printf("  MAIL FROM parameters: %s\n", params[0] ? params : "(none)");
		}
	}
}

static void print_json(const struct ms_rtls_route *r)
{
	const struct ms_rtls_domain *d = ms_rtls_route_engine_domain(r);
	unsigned flags = ms_rtls_route_flags(r);
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "domain", ms_rtls_route_domain(r));
	json_string(&j, "requirement", ms_rtls_requirement_str(d->requirement));
	json_string(&j, "mx_security", ms_dns_security_str(d->mx_security));
	json_bool(&j, "null_mx", (flags & MS_RTLS_ROUTE_NULL_MX) != 0);
	json_bool(&j, "implicit_mx", (flags & MS_RTLS_ROUTE_IMPLICIT_MX) != 0);
	json_string(&j, "mta_sts_mode", ms_rtls_sts_mode_str(d->sts_mode));
	json_string(&j, "mta_sts_note", ms_rtls_route_sts_note(r));
	int any = 0;
	char params[128], first_params[128] = "";
	json_array_begin(&j, "hosts");
	for (size_t i = 0; i < ms_rtls_route_count(r); i++) {
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
		const struct ms_rtls_host *in = ms_rtls_route_host_engine(h);
		const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
		json_object_begin(&j, NULL);
		json_string(&j, "host", ms_rtls_route_host_name(h));
		json_int(&j, "preference", ms_rtls_route_host_preference(h));
		json_array_begin(&j, "addresses");
		for (size_t k = 0; k < ms_rtls_route_host_addr_count(h); k++)
			json_string(&j, NULL, ms_rtls_route_host_addr(h, k));
		json_array_end(&j);
		json_string(&j, "addr_security", ms_dns_security_str(in->addr_security));
		json_string(&j, "mode", ms_rtls_mode_str(p->mode));
		json_string(&j, "dane", ms_rtls_dane_str(in->dane));
		json_object_begin(&j, "mta_sts");
		json_string(&j, "mode", ms_rtls_sts_mode_str(d->sts_mode));
		json_bool(&j, "match", in->sts_match);
		json_string(&j, "verdict", d->sts_mode == MS_RTLS_STS_NO_POLICY ? NULL
				: ms_sts_verdict_str(ms_rtls_route_host_sts_verdict(h)));
		json_object_end(&j);
		json_bool(&j, "verify_dane", p->verify_dane);
		json_bool(&j, "verify_pkix", p->verify_pkix);
		json_bool(&j, "report_pkix", p->report_pkix);
		json_bool(&j, "need_requiretls", p->need_requiretls);
		json_string(&j, "policy_mode", ms_rtls_mode_str(p->policy_mode));
		if (p->mode == MS_RTLS_MODE_SKIP) {
			json_string(&j, "skip_reason", ms_rtls_reason_str(p->reason));
			json_string(&j, "status", p->enhanced);
			json_string(&j, "text", p->text);
			json_null(&j, "mail_params");
		} else {
			route_mail_params(NULL, p->need_requiretls, params, sizeof(params));
			json_string(&j, "mail_params", params);
			if (!any)
				snprintf(first_params, sizeof(first_params), "%s", params);
			any = 1;
		}
		json_array_begin(&j, "reasons");
		for (size_t k = 0; k < ms_rtls_route_host_reason_count(h); k++)
			json_string(&j, NULL, ms_rtls_route_host_reason(h, k));
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	/* What MAIL FROM carries on the first host that may be used (null
	 * when every host is skipped). */
	json_string(&j, "mail_params", any ? first_params : NULL);
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	if (ms_rtls_route_undeliverable(r, &o)) {
		json_object_begin(&j, "undeliverable");
		json_string(&j, "verdict", ms_rtls_verdict_str(o.verdict));
		json_string(&j, "status", o.enhanced);
		json_string(&j, "bounce_status", o.bounce_enhanced);
		json_string(&j, "text", o.text);
		json_object_end(&j);
	} else {
		json_null(&j, "undeliverable");
	}
	json_object_end(&j);
	json_finish(&j);
}

int cmd_plan(struct cli *cli, int argc, char **argv)
{
	static const char usage[] = "usage: mailsec plan DOMAIN [--requiretls | --tls-required-no] "
				    "[--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]";
	struct route_opts o = { 0 };
	const char *domain = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int took = route_opts_arg(&o, a, v);
		if (took) {
			i += took - 1;
		} else if (a[0] != '-' && domain == NULL) {
			domain = a;
		} else {
			return cli_usage_error(cli, "%s", usage);
		}
	}
	if (domain == NULL)
		return cli_usage_error(cli, "%s", usage);
	/* RFC 8689 s4.2.2: the header is ignored when REQUIRETLS is given;
	 * asking for both at once is a contradiction, not a plan. */
	if (o.requiretls && o.tls_required_no)
		return cli_usage_error(cli, "--requiretls and --tls-required-no exclude each other");
	struct ms_rtls_route *r = NULL;
	int rc = route_open(cli, domain, &o,
			    o.requiretls ? MS_RTLS_REQ_REQUIRED :
			    o.tls_required_no ? MS_RTLS_REQ_NOT_REQUIRED : MS_RTLS_REQ_DEFAULT, &r);
	if (rc == CLI_EXIT_OK) {
		if (cli->json)
			print_json(r);
		else
			print_human(r);
	}
	ms_rtls_route_free(r);
	return rc;
}
