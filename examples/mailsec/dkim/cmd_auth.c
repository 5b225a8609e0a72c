/*
 * cmd_auth.c - `mailsec auth --ip IP --helo NAME --sender ADDR [FILE]`:
 * a thin wrapper of the inbound call (mailsec/auth.h: SPF, DKIM, DMARC,
 * iprev, each with its DNSSEC status, under one deadline): stream the
 * message into it, print the Authentication-Results field an MTA would
 * add, then the details.  Exit 0 once the checks ran, whatever the results.
 */
#include "dkim_cli.h"

#include <mailsec/auth.h>

static ms_status feed(void *a, const uint8_t *buf, size_t len, char *why, size_t wl)
{
	return ms_auth_feed(a, buf, len, why, wl);
}

static void print(const struct cli *cli, const struct ms_auth *a)
{
	struct cli_out o;
	const char *nm = ms_auth_iprev_name(a), *r = ms_auth_dmarc_reason(a);
	out_begin(&o, cli, "", 7);
	out_str(&o, "authentication_results", NULL, ms_auth_header(a));
	if (!o.json) {
		cli_put_nocr(ms_auth_header(a));
		putchar('\n');
	}
	out_obj(&o, "spf");
	out_str(&o, "result", NULL, ms_spf_result_str(ms_auth_spf_result(a)));
	out_str(&o, "domain", NULL, ms_spf_verdict_domain(ms_auth_spf(a)));
	out_str(&o, "dnssec", NULL, ms_dns_security_str(ms_auth_spf_dnssec(a)));
	out_close(&o);
	out_line(&o, NULL, "%s", "");
	out_line(&o, "spf", "%s (domain %s, dnssec %s)", ms_spf_result_str(ms_auth_spf_result(a)),
		 ms_spf_verdict_domain(ms_auth_spf(a)), ms_dns_security_str(ms_auth_spf_dnssec(a)));
	if (ms_auth_dkim_count(a) == 0)
		out_line(&o, "dkim", "none (no DKIM-Signature)");
	out_arr(&o, "dkim");
	for (size_t i = 0; i < ms_auth_dkim_count(a); i++) {
		dkim_sig_out(&o, ms_auth_dkim_sig(a, i), "dkim");
		out_close(&o);
	}
	out_close_arr(&o);
	out_obj(&o, "dmarc");
	out_str(&o, "result", NULL, ms_dmarc_result_str(ms_auth_dmarc_result(a)));
	out_str(&o, "from_domain", NULL, ms_auth_dmarc_from_domain(a));
	out_str(&o, "reason", NULL, r);
	out_str(&o, "disposition", NULL, ms_auth_dmarc(a) ?
		ms_dmarc_policy_str(ms_auth_dmarc_disposition(a)) : NULL);
	out_close(&o);
	if (ms_auth_dmarc(a))
		out_line(&o, "dmarc", "%s (from %s, disposition %s, dnssec %s): %s",
			 ms_dmarc_result_str(ms_auth_dmarc_result(a)), ms_auth_dmarc_from_domain(a),
			 ms_dmarc_policy_str(ms_auth_dmarc_disposition(a)),
			 ms_dns_security_str(ms_auth_dmarc_dnssec(a)), r ? r : "");
	else
		out_line(&o, "dmarc", "permerror (From: %s)",
			 ms_dmarc_from_outcome_str(ms_auth_dmarc_from_outcome(a)));
	out_obj(&o, "iprev");
	out_str(&o, "result", NULL, ms_iprev_result_str(ms_auth_iprev_result(a)));
	out_str(&o, "name", NULL, nm);
	out_close(&o);
	out_line(&o, "iprev", "%s%s%s", ms_iprev_result_str(ms_auth_iprev_result(a)),
		 nm ? " " : "", nm ? nm : "");
	out_end(&o);
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
	char why[256] = "";
	struct ms_auth *a = NULL;
	ms_status st = ms_auth_new(&cli->env, &o, &a, why, sizeof(why));
	if (st != MS_OK)
		rc = cli_fail(cli, st, "auth", why);
	else if ((rc = dkim_stream(cli, pos.n ? p[0] : NULL, feed, a, why, sizeof(why))) == 0 &&
		 (st = ms_auth_finish(a, why, sizeof(why))) != MS_OK)
		rc = cli_fail(cli, st, "auth", why);
	else if (rc == CLI_EXIT_OK)
		print(cli, a);
	ms_auth_free(a);
	ms_dns_ctx_free(o.dns);
	return rc;
}
