/*
 * cmd_spf.c - `mailsec spf --ip IP --sender ADDR --helo NAME`: one SPF
 * evaluation (RFC 7208).  The first stdout line is the result keyword;
 * then the explanation, matched mechanism, lookup counts, DNSSEC status
 * and the Received-SPF header.  --helo-only checks the HELO identity.
 */
#include "cli.h"

#include <mailsec/spf.h>

int cmd_spf(struct cli *cli, int argc, char **argv)
{
	const char *ip = NULL, *sender = NULL, *helo = NULL, *receiver = NULL;
	int helo_only = 0;
	const struct cli_opt opts[] = {
		OPT_STR("--ip", &ip), OPT_STR("--sender", &sender), OPT_STR("--helo", &helo),
		OPT_STR("--receiver", &receiver), OPT_FLAG("--helo-only", &helo_only), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc >= 0)
		return rc;
	if (ip == NULL || (sender == NULL && helo == NULL))
		return cli_usage(cli);
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_spf *spf = NULL;
	struct ms_spf_verdict *v = NULL;
	char why[256] = "", *text = NULL;
	ms_status st = ms_spf_new(&cli->env, dns, &spf);
	if (st == MS_OK && receiver)
		ms_spf_set_receiver(spf, receiver);
	if (st == MS_OK)
		st = helo_only ? ms_spf_check_helo(spf, ip, helo, &v, why, sizeof(why)) :
		     ms_spf_check_mailfrom(spf, ip, helo, sender, &v, why, sizeof(why));
	if (st != MS_OK)
		rc = cli_fail(cli, st, "spf", why);
	else
		rc = cli_put(cli, ms_spf_verdict_render(v, receiver, cli_format(cli), &text, NULL),
			     &text, "spf");
	ms_spf_verdict_free(v);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	return rc;
}
