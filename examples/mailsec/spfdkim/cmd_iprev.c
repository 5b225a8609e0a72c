/*
 * cmd_iprev.c - `mailsec iprev IP`: PTR names of the address, each
 * forward-confirmed (RFC 8601 s3).  First line: the result keyword.
 */
#include "cli.h"

#include <mailsec/iprev.h>

int cmd_iprev(struct cli *cli, int argc, char **argv)
{
	const char *p[1];
	long long max = 0;
	struct cli_list pos = CLI_LIST_OF(p);
	const struct cli_opt opts[] = { OPT_NUM("--max-names", &max, 0, 1000), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_iprev_verdict *v = NULL;
	char why[256] = "", *text = NULL;
	ms_status st = ms_iprev_check(&cli->env, dns, p[0], (unsigned)max, &v, why, sizeof(why));
	if (st != MS_OK)
		rc = cli_fail(cli, st, "iprev", why);
	else
		rc = cli_put(cli, ms_iprev_verdict_render(v, cli_format(cli), &text, NULL), &text,
			     "iprev");
	ms_iprev_verdict_free(v);
	ms_dns_ctx_free(dns);
	return rc;
}
