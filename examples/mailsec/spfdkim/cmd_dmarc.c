/*
 * cmd_dmarc.c - `mailsec dmarc --from-header H --spf RESULT:DOMAIN
 * [--dkim RESULT:DOMAIN[:SELECTOR]]...`: DMARC (RFC 7489) from given
 * authentication results.  First stdout line: the DMARC result.  A From
 * header that cannot name one author domain (several headers, several
 * domains, malformed, none) is reported as permerror with disposition
 * reject, the outcome dmarc.h defines for it (ms_dmarc_bad_from_render).
 */
#include "cli.h"

#include <mailsec/dmarc.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FROM 8
#define MAX_DKIM 16

/* "RESULT:DOMAIN[:SELECTOR]" split in place (a copy of the argument). */
static int split(const char *arg, char *buf, size_t len, char **dom, char **sel)
{
	snprintf(buf, len, "%s", arg);
	char *c = strchr(buf, ':');
	if (c == NULL || c == buf || c[1] == '\0')
		return -1;
	*c = '\0';
	*dom = c + 1;
	char *c2 = strchr(*dom, ':');
	if (c2)
		*c2 = '\0';
	if (sel)
		*sel = c2 ? c2 + 1 : NULL;
	return 0;
}

int cmd_dmarc(struct cli *cli, int argc, char **argv)
{
	const char *from[MAX_FROM], *spf_arg = NULL, *dkim_arg[MAX_DKIM];
	long long sample = -1;
	int tree = 0;
	struct cli_list fl = CLI_LIST_OF(from), dl = CLI_LIST_OF(dkim_arg);
	const struct cli_opt opts[] = {
		OPT_LIST("--from-header", &fl), OPT_STR("--spf", &spf_arg),
		OPT_LIST("--dkim", &dl), OPT_FLAG("--tree-walk", &tree),
		OPT_NUM("--pct-sample", &sample, 0, 99), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc >= 0)
		return rc;
	if (fl.n == 0)
		return cli_usage(cli);
	static char bufs[MAX_DKIM + 1][512];
	char *spf_dom = NULL, *dkim_dom[MAX_DKIM], *dkim_sel[MAX_DKIM];
	enum ms_dmarc_dkim_result dkim_res[MAX_DKIM];
	int spf = MS_SPF_NONE;
	if (spf_arg && (split(spf_arg, bufs[MAX_DKIM], sizeof(bufs[0]), &spf_dom, NULL) != 0 ||
			(spf = ms_spf_result_from_str(bufs[MAX_DKIM], strlen(bufs[MAX_DKIM]))) < 0))
		return cli_usage_error(cli, "dmarc: --spf wants RESULT:DOMAIN");
	for (size_t i = 0; i < dl.n; i++) {
		int r;
		if (split(dkim_arg[i], bufs[i], sizeof(bufs[i]), &dkim_dom[i], &dkim_sel[i]) != 0 ||
		    (r = ms_dmarc_dkim_result_from_str(bufs[i])) < 0)
			return cli_usage_error(cli, "dmarc: --dkim wants RESULT:DOMAIN[:SELECTOR]");
		dkim_res[i] = (enum ms_dmarc_dkim_result)r;
	}
	size_t fromlen[MAX_FROM];
	for (size_t i = 0; i < fl.n; i++)
		fromlen[i] = strlen(from[i]);
	enum ms_dmarc_from_outcome fo;
	char domain[256], why[256] = "";
	ms_status st = ms_dmarc_from_headers((const uint8_t *const *)from, fromlen, fl.n, &fo,
					     domain, sizeof(domain), why, sizeof(why));
	if (st != MS_OK && st != MS_ERR_LIMIT)
		return cli_error(cli, CLI_EXIT_ERROR, "dmarc: %s", why);
	char *text = NULL;
	if (st == MS_ERR_LIMIT || fo != MS_DMARC_FROM_OK) /* no lookup: permerror, reject */
		return cli_put(cli, ms_dmarc_bad_from_render(fo, why, cli_format(cli), &text, NULL),
			       &text, "dmarc");
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dmarc *d = NULL;
	struct ms_dmarc_verdict *v = NULL;
	if ((st = ms_dmarc_new(&cli->env, dns, &d, why, sizeof(why))) == MS_OK) {
		ms_dmarc_set_tree_walk(d, tree);
		ms_dmarc_set_pct_sample(d, (int)sample);
		st = ms_dmarc_check(d, domain, (enum ms_spf_result)spf, spf_dom,
				    (const char *const *)dkim_dom, (const char *const *)dkim_sel,
				    dkim_res, dl.n, &v, why, sizeof(why));
	}
	if (st != MS_OK)
		rc = cli_fail(cli, st, "dmarc", why);
	else
		rc = cli_put(cli, ms_dmarc_verdict_render(d, v, cli_format(cli), &text, NULL), &text,
			     "dmarc");
	ms_dmarc_verdict_free(v);
	ms_dmarc_free(d);
	ms_dns_ctx_free(dns);
	return rc;
}
