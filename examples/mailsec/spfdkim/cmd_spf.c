/*
 * cmd_spf.c - `mailsec spf --ip IP --sender ADDR --helo NAME`: one SPF
 * evaluation (RFC 7208).  The first stdout line is the result keyword;
 * then the explanation, matched mechanism, lookup counts, DNSSEC status
 * and the Received-SPF header.  --helo-only checks the HELO identity.
 */
#include "cli.h"

#include <mailsec/spf.h>
#include <string.h>

static void print_json(const struct ms_spf_verdict *v, const char *hdr)
{
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "result", ms_spf_result_str(ms_spf_verdict_result(v)));
	json_string(&j, "identity",
		    ms_spf_verdict_identity(v) == MS_SPF_ID_HELO ? "helo" : "mailfrom");
	json_string(&j, "domain", ms_spf_verdict_domain(v));
	json_string(&j, "sender", ms_spf_verdict_sender(v));
	json_string(&j, "ip", ms_spf_verdict_ip(v));
	json_string(&j, "mechanism", ms_spf_verdict_mechanism(v));
	json_string(&j, "explanation", ms_spf_verdict_explanation(v));
	json_string(&j, "problem", ms_spf_verdict_problem(v));
	json_int(&j, "dns_lookups", ms_spf_verdict_dns_lookups(v));
	json_int(&j, "void_lookups", ms_spf_verdict_void_lookups(v));
	json_string(&j, "dnssec", ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	json_string(&j, "received_spf", hdr);
	json_object_end(&j);
	json_finish(&j);
}

static void print_human(const struct ms_spf_verdict *v, const char *hdr)
{
	const char *s;
	printf("%s\n", ms_spf_result_str(ms_spf_verdict_result(v)));
	printf("  identity:    %s %s\n",
	       ms_spf_verdict_identity(v) == MS_SPF_ID_HELO ? "helo" : "mailfrom",
	       ms_spf_verdict_sender(v));
	printf("  domain:      %s\n", ms_spf_verdict_domain(v));
	if ((s = ms_spf_verdict_explanation(v)) != NULL)
		printf("  explanation: %s\n", s);
	printf("  mechanism:   %s\n", (s = ms_spf_verdict_mechanism(v)) ? s : "(none)");
	if ((s = ms_spf_verdict_problem(v)) != NULL)
		printf("  problem:     %s\n", s);
	printf("  lookups:     %u dns, %u void\n", ms_spf_verdict_dns_lookups(v),
	       ms_spf_verdict_void_lookups(v));
	printf("  dnssec:      %s\n", ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	if (hdr) {
		/* Show the folded header on the terminal without its CRs. */
		printf("  ");
		for (const char *p = hdr; *p; p++)
			if (*p != '\r')
				putchar(*p);
		putchar('\n');
	}
}

int cmd_spf(struct cli *cli, int argc, char **argv)
{
	const char *ip = NULL, *sender = NULL, *helo = NULL, *receiver = NULL;
	int helo_only = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--helo-only") == 0) {
			helo_only = 1;
			continue;
		}
		if (strcmp(a, "--ip") && strcmp(a, "--sender") && strcmp(a, "--helo") &&
		    strcmp(a, "--receiver"))
			return cli_usage_error(cli, "spf: unknown argument '%s'", a);
		if (val == NULL)
			return cli_usage_error(cli, "spf: %s needs a value", a);
		i++;
		if (strcmp(a, "--ip") == 0)
			ip = val;
		else if (strcmp(a, "--sender") == 0)
			sender = val;
		else if (strcmp(a, "--helo") == 0)
			helo = val;
		else
			receiver = val;
	}
	if (ip == NULL || (sender == NULL && helo == NULL))
		return cli_usage_error(cli, "usage: spf --ip IP --sender ADDR --helo NAME "
				       "[--receiver NAME] [--helo-only]");
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_spf *spf = NULL;
	if (ms_spf_new(&cli->env, dns, &spf) != MS_OK) {
		ms_dns_ctx_free(dns);
		return cli_error(cli, CLI_EXIT_ERROR, "spf: out of memory");
	}
	if (receiver)
		ms_spf_set_receiver(spf, receiver);
	struct ms_spf_verdict *v = NULL;
	char why[256] = "";
	ms_status st = helo_only ?
		ms_spf_check_helo(spf, ip, helo, &v, why, sizeof(why)) :
		ms_spf_check_mailfrom(spf, ip, helo, sender, &v, why, sizeof(why));
	int rc = CLI_EXIT_OK;
	if (st == MS_ERR_INVALID) {
		rc = cli_usage_error(cli, "spf: %s", why);
	} else if (st != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "spf: %s", why[0] ? why : ms_status_str(st));
	} else {
		char hdr[2048];
		int have = ms_spf_received_header(v, receiver, hdr, sizeof(hdr)) == MS_OK;
		if (cli->json)
			print_json(v, have ? hdr : NULL);
		else
			print_human(v, have ? hdr : NULL);
	}
	ms_spf_verdict_free(v);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	return rc;
}
