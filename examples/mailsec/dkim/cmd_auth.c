/*
 * cmd_auth.c - `mailsec auth --ip IP --helo NAME --sender ADDR [FILE]`:
 * a thin wrapper of the inbound call (mailsec/auth.h: SPF, DKIM, DMARC,
 * iprev, each with its DNSSEC status, under one deadline): stream the
 * message into it, print the library's report (ms_auth_render): the
 * Authentication-Results field an MTA would add, then the details.  Exit 0 once the checks ran, whatever the results.
 */
#include "dkim_cli.h"

#include <mailsec/auth.h>

static ms_status feed(void *a, const uint8_t *buf, size_t len, char *why, size_t wl)
{
	return ms_auth_feed(a, buf, len, why, wl);
}

int cmd_auth(struct cli *cli, int argc, char **argv)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .authserv_id = "localhost" };
	const char *p[1];
	long long deadline = 0;
	struct cli_list pos = CLI_LIST_OF(p);
	const struct cli_opt opts[] = {
		OPT_STR("--ip", &o.client_ip), OPT_STR("--helo", &o.helo),
		OPT_STR("--sender", &o.mail_from), OPT_STR("--authserv-id", &o.authserv_id),
		OPT_NUM("--deadline", &deadline, 1, 3600000), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0)
		return rc;
	if (o.client_ip == NULL || o.helo == NULL || o.mail_from == NULL)
		return cli_usage(cli);
	o.deadline_ms = (unsigned)deadline;
	if ((o.dns = cli_dns_ctx(cli)) == NULL)
		return CLI_EXIT_USAGE;
	char why[256] = "", *text = NULL;
	struct ms_auth *a = NULL;
	ms_status st = ms_auth_new(&cli->env, &o, &a, why, sizeof(why));
	if (st != MS_OK)
		rc = cli_fail(cli, st, "auth", why);
	else if ((rc = dkim_stream(cli, pos.n ? p[0] : NULL, feed, a, why, sizeof(why))) == 0 &&
		 (st = ms_auth_finish(a, why, sizeof(why))) != MS_OK)
		rc = cli_fail(cli, st, "auth", why);
	else if (rc == CLI_EXIT_OK)
		rc = cli_put(cli, ms_auth_render(a, cli_format(cli), &text, NULL), &text, "auth");
	ms_auth_free(a);
	ms_dns_ctx_free(o.dns);
	return rc;
}
