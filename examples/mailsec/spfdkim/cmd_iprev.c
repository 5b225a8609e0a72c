/*
 * cmd_iprev.c - `mailsec iprev IP`: PTR names of the address, each
 * forward-confirmed (RFC 8601 s3).  First line: the result keyword.
 */
#include "cli.h"

#include <mailsec/iprev.h>

static void print(const struct cli *cli, const struct ms_iprev_verdict *v)
{
	struct cli_out o;
	out_begin(&o, cli, "  ", 10);
	out_str(&o, "result", NULL, ms_iprev_result_str(ms_iprev_verdict_result(v)));
	out_line(&o, NULL, "%s", ms_iprev_result_str(ms_iprev_verdict_result(v)));
	out_str(&o, "ip", "ip", ms_iprev_verdict_ip(v));
	out_str(&o, "name", "name", ms_iprev_verdict_name(v));
	out_arr(&o, "ptr_names");
	for (size_t i = 0; i < ms_iprev_verdict_ptr_count(v); i++)
		out_str(&o, OUT_ELEM, "ptr", ms_iprev_verdict_ptr_name(v, i));
	out_close_arr(&o);
	out_int(&o, "ignored_names", NULL, (long long)ms_iprev_verdict_ignored(v));
	if (ms_iprev_verdict_ignored(v))
		out_line(&o, "ignored", "%zu names over the cap", ms_iprev_verdict_ignored(v));
	out_str(&o, "problem", "problem", ms_iprev_verdict_problem(v));
	out_str(&o, "dnssec", "dnssec", ms_dns_security_str(ms_iprev_verdict_dnssec(v)));
	out_end(&o);
}

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
	char why[256] = "";
	ms_status st = ms_iprev_check(&cli->env, dns, p[0], (unsigned)max, &v, why, sizeof(why));
	if (st != MS_OK)
		rc = cli_fail(cli, st, "iprev", why);
	else
		print(cli, v);
	ms_iprev_verdict_free(v);
	ms_dns_ctx_free(dns);
	return st == MS_OK ? CLI_EXIT_OK : rc;
}
