/*
 * cmd_spf.c - `mailsec spf --ip IP --sender ADDR --helo NAME`: one SPF
 * evaluation (RFC 7208).  The first stdout line is the result keyword;
 * then the explanation, matched mechanism, lookup counts, DNSSEC status
 * and the Received-SPF header.  --helo-only checks the HELO identity.
 */
#include "cli.h"

#include <mailsec/spf.h>

static void print(const struct cli *cli, const struct ms_spf_verdict *v, const char *hdr)
{
	const char *id = ms_spf_verdict_identity(v) == MS_SPF_ID_HELO ? "helo" : "mailfrom";
	const char *mech = ms_spf_verdict_mechanism(v);
	struct cli_out o;
	out_begin(&o, cli, "  ", 13);
	out_str(&o, "result", NULL, ms_spf_result_str(ms_spf_verdict_result(v)));
	out_line(&o, NULL, "%s", ms_spf_result_str(ms_spf_verdict_result(v)));
	out_str(&o, "identity", NULL, id);
	out_line(&o, "identity", "%s %s", id, ms_spf_verdict_sender(v));
	out_str(&o, "domain", "domain", ms_spf_verdict_domain(v));
	out_str(&o, "sender", NULL, ms_spf_verdict_sender(v));
	out_str(&o, "ip", NULL, ms_spf_verdict_ip(v));
	out_str(&o, NULL, "explanation", ms_spf_verdict_explanation(v));
	out_str(&o, "mechanism", "mechanism", mech ? mech : o.json ? NULL : "(none)");
	out_str(&o, "explanation", NULL, ms_spf_verdict_explanation(v));
	out_str(&o, "problem", "problem", ms_spf_verdict_problem(v));
	out_int(&o, "dns_lookups", NULL, ms_spf_verdict_dns_lookups(v));
	out_int(&o, "void_lookups", NULL, ms_spf_verdict_void_lookups(v));
	out_line(&o, "lookups", "%u dns, %u void", ms_spf_verdict_dns_lookups(v),
		 ms_spf_verdict_void_lookups(v));
	out_str(&o, "dnssec", "dnssec", ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	out_str(&o, "received_spf", NULL, hdr);
	if (hdr && !o.json) {
		/* the folded header on the terminal, without its CRs */
		printf("  ");
		cli_put_nocr(hdr);
		putchar('\n');
	}
	out_end(&o);
}

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
	char why[256] = "", hdr[2048];
	ms_status st = ms_spf_new(&cli->env, dns, &spf);
	if (st == MS_OK && receiver)
		ms_spf_set_receiver(spf, receiver);
	if (st == MS_OK)
		st = helo_only ? ms_spf_check_helo(spf, ip, helo, &v, why, sizeof(why)) :
		     ms_spf_check_mailfrom(spf, ip, helo, sender, &v, why, sizeof(why));
	if (st != MS_OK)
		rc = cli_fail(cli, st, "spf", why);
	else
		print(cli, v, ms_spf_received_header(v, receiver, hdr, sizeof(hdr)) == MS_OK ?
			      hdr : NULL);
	ms_spf_verdict_free(v);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	return st == MS_OK ? CLI_EXIT_OK : rc;
}
