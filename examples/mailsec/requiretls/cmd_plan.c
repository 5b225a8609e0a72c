/*
 * cmd_plan.c - `mailsec plan DOMAIN [--requiretls | --tls-required-no]
 *               [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]`
 *
 * The TLS decision per MX host before any connection: what librequiretls's
 * engine demands (DANE, PKIX, encrypted, opportunistic, skip) and why, from
 * the MX lookup, DANE and MTA-STS.  Exit 0 when the plan was made, whatever
 * it says.  The plan and its report are librequiretls's
 * (ms_rtls_route_new, ms_rtls_route_render).
 */
#include "route_cli.h"

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
	char *text = NULL;
	if (rc == CLI_EXIT_OK)
		rc = cli_put(cli, ms_rtls_route_render(r, cli_format(cli), &text, NULL), &text, "plan");
	ms_rtls_route_free(r);
	return rc;
}
