/*
 * cmd_plan.c - `mailsec plan DOMAIN [--requiretls | --tls-required-no]
 *               [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]`
 *
 * The TLS decision per MX host before any connection: what librequiretls's
 * engine demands (DANE, PKIX, encrypted, opportunistic, skip) and why, from
 * the MX lookup, DANE and MTA-STS.  Exit 0 when the plan was made, whatever
 * it says.
 */
#include "route.h"

#include <string.h>

static void print_human(const struct route *r)
{
	printf("domain %s: requirement %s\n", r->domain, ms_rtls_requirement_str(r->in.requirement));
	printf("  %s\n  %s\n", r->mx_note, r->sts_note[0] ? r->sts_note : "MTA-STS not checked");
	if (r->nhosts == 0) {
		struct ms_rtls_outcome o;
		route_no_host_outcome(r, &o);
		printf("no host to try: %s %s\n", o.enhanced, o.text);
		return;
	}
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct route_host *h = &r->hosts[i];
		char reasons[12][256], params[128];
		size_t n = route_reasons(r, h, reasons, 12);
		printf("\nMX %u %s: %s\n", h->preference, h->name, ms_rtls_mode_str(h->plan.mode));
		for (size_t k = 0; k < n; k++)
			printf("  - %s\n", reasons[k]);
		if (h->plan.mode != MS_RTLS_MODE_SKIP) {
			route_mail_params(NULL, h->plan.need_requiretls, params, sizeof(params));
			printf("  MAIL FROM parameters: %s\n", params[0] ? params : "(none)");
		}
	}
}

static void print_json(const struct route *r)
{
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "domain", r->domain);
	json_string(&j, "requirement", ms_rtls_requirement_str(r->in.requirement));
	json_string(&j, "mx_security", ms_dns_security_str(r->in.mx_security));
	json_bool(&j, "null_mx", r->null_mx);
	json_bool(&j, "implicit_mx", r->implicit_mx);
	json_string(&j, "mta_sts_mode", route_sts_mode_str(r->in.sts_mode));
	json_string(&j, "mta_sts_note", r->sts_note);
	const char *first_params = NULL;
	char params[ROUTE_MAX_MX][128];
	json_array_begin(&j, "hosts");
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct route_host *h = &r->hosts[i];
		const struct ms_rtls_plan *p = &h->plan;
		char reasons[12][256];
		size_t n = route_reasons(r, h, reasons, 12);
		json_object_begin(&j, NULL);
		json_string(&j, "host", h->name);
		json_int(&j, "preference", h->preference);
		json_array_begin(&j, "addresses");
		for (size_t k = 0; k < h->naddrs; k++)
			json_string(&j, NULL, h->addrs[k]);
		json_array_end(&j);
		json_string(&j, "addr_security", ms_dns_security_str(h->in.addr_security));
		json_string(&j, "mode", ms_rtls_mode_str(p->mode));
		json_string(&j, "dane", route_dane_str(h->in.dane));
		json_object_begin(&j, "mta_sts");
		json_string(&j, "mode", route_sts_mode_str(r->in.sts_mode));
		json_bool(&j, "match", h->in.sts_match);
		json_string(&j, "verdict", r->in.sts_mode == MS_RTLS_STS_NO_POLICY ? NULL
				: ms_sts_verdict_str(h->sts_verdict));
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
			route_mail_params(NULL, p->need_requiretls, params[i], sizeof(params[i]));
			json_string(&j, "mail_params", params[i]);
			if (first_params == NULL)
				first_params = params[i];
		}
		json_array_begin(&j, "reasons");
		for (size_t k = 0; k < n; k++)
			json_string(&j, NULL, reasons[k]);
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	/* What MAIL FROM carries on the first host that may be used (null
	 * when every host is skipped). */
	json_string(&j, "mail_params", first_params);
	if (first_params == NULL) {
		struct ms_rtls_outcome o;
		if (r->nhosts == 0) {
			route_no_host_outcome(r, &o);
		} else {
			struct ms_rtls_outcome fails[ROUTE_MAX_MX];
			for (size_t i = 0; i < r->nhosts; i++)
				ms_rtls_outcome_from_plan(&r->hosts[i].plan, &fails[i]);
			ms_rtls_conclude(fails, r->nhosts, &o);
		}
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
	struct route r;
	int rc = route_build(cli, domain, &o,
			     o.requiretls ? MS_RTLS_REQ_REQUIRED :
			     o.tls_required_no ? MS_RTLS_REQ_NOT_REQUIRED : MS_RTLS_REQ_DEFAULT, &r);
	if (rc == CLI_EXIT_OK) {
		if (cli->json)
			print_json(&r);
		else
			print_human(&r);
	}
	route_free(&r);
	return rc;
}
