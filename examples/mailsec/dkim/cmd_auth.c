/*
 * cmd_auth.c - `mailsec auth --ip IP --helo NAME --sender ADDR [FILE]`:
 * a thin wrapper of the inbound call (mailsec/auth.h: SPF, DKIM, DMARC,
 * iprev, each with its DNSSEC status): stream the message into it, print
 * the Authentication-Results field an MTA would add, then the details.
 * Exit 0 once the checks ran, whatever the results.
 */
#include "cli.h"

#include <mailsec/auth.h>
#include <stdlib.h>
#include <string.h>

static void print_field(const char *hdr)
{
	for (const char *p = hdr; *p; p++)
		if (*p != '\r')
			putchar(*p);
	putchar('\n');
}

static void print_json(const struct ms_auth *a)
{
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "authentication_results", ms_auth_header(a));
	const struct ms_spf_verdict *sv = ms_auth_spf(a);
	json_object_begin(&j, "spf");
	json_string(&j, "result", ms_spf_result_str(ms_auth_spf_result(a)));
	json_string(&j, "domain", ms_spf_verdict_domain(sv));
	json_string(&j, "dnssec", ms_dns_security_str(ms_auth_spf_dnssec(a)));
	json_object_end(&j);
	json_array_begin(&j, "dkim");
	for (size_t i = 0; i < ms_auth_dkim_count(a); i++) {
		const struct ms_dkim_sig *s = ms_auth_dkim_sig(a, i);
		json_object_begin(&j, NULL);
		json_string(&j, "result", ms_dkim_result_str(ms_dkim_sig_result(s)));
		json_string(&j, "domain", ms_dkim_sig_domain(s));
		json_string(&j, "selector", ms_dkim_sig_selector(s));
		json_string(&j, "algorithm", ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s)));
		json_string(&j, "dnssec", ms_dns_security_str(ms_dkim_sig_dnssec(s)));
		json_string(&j, "reason", ms_dkim_sig_reason(s));
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_begin(&j, "dmarc");
	json_string(&j, "result", ms_dmarc_result_str(ms_auth_dmarc_result(a)));
	json_string(&j, "from_domain", ms_auth_dmarc_from_domain(a));
	json_string(&j, "reason", ms_auth_dmarc_reason(a));
	json_string(&j, "disposition", ms_auth_dmarc(a) ?
		    ms_dmarc_policy_str(ms_auth_dmarc_disposition(a)) : NULL);
	json_object_end(&j);
	json_object_begin(&j, "iprev");
	json_string(&j, "result", ms_iprev_result_str(ms_auth_iprev_result(a)));
	json_string(&j, "name", ms_auth_iprev_name(a));
	json_object_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

static void print_text(const struct ms_auth *a)
{
	print_field(ms_auth_header(a));
	printf("\nspf:   %s (domain %s, dnssec %s)\n", ms_spf_result_str(ms_auth_spf_result(a)),
	       ms_spf_verdict_domain(ms_auth_spf(a)),
	       ms_dns_security_str(ms_auth_spf_dnssec(a)));
	if (ms_auth_dkim_count(a) == 0)
		printf("dkim:  none (no DKIM-Signature)\n");
	for (size_t i = 0; i < ms_auth_dkim_count(a); i++) {
		const struct ms_dkim_sig *s = ms_auth_dkim_sig(a, i);
		const char *r = ms_dkim_sig_reason(s), *d = ms_dkim_sig_domain(s),
			   *sel = ms_dkim_sig_selector(s);
		printf("dkim:  %s d=%s s=%s a=%s dnssec=%s%s%s\n",
		       ms_dkim_result_str(ms_dkim_sig_result(s)), d ? d : "-", sel ? sel : "-",
		       ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s)),
		       ms_dns_security_str(ms_dkim_sig_dnssec(s)), r && *r ? " reason=" : "",
		       r ? r : "");
	}
	if (ms_auth_dmarc(a)) {
		const char *r = ms_auth_dmarc_reason(a);
		printf("dmarc: %s (from %s, disposition %s, dnssec %s): %s\n",
		       ms_dmarc_result_str(ms_auth_dmarc_result(a)), ms_auth_dmarc_from_domain(a),
		       ms_dmarc_policy_str(ms_auth_dmarc_disposition(a)),
		       ms_dns_security_str(ms_auth_dmarc_dnssec(a)), r ? r : "");
	} else {
		printf("dmarc: permerror (From: %s)\n",
		       ms_dmarc_from_outcome_str(ms_auth_dmarc_from_outcome(a)));
	}
	const char *nm = ms_auth_iprev_name(a);
	printf("iprev: %s%s%s\n", ms_iprev_result_str(ms_auth_iprev_result(a)), nm ? " " : "",
	       nm ? nm : "");
}

int cmd_auth(struct cli *cli, int argc, char **argv)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .authserv_id = "localhost" };
	const char *file = NULL;
	static const char usage[] = "usage: auth --ip IP --helo NAME --sender ADDR "
				    "[--authserv-id ID] [FILE]";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (file)
				return cli_usage_error(cli, "%s", usage);
			file = a;
			continue;
		}
		if (val == NULL)
			return cli_usage_error(cli, "auth: %s needs a value", a);
		i++;
		if (strcmp(a, "--ip") == 0)
			o.client_ip = val;
		else if (strcmp(a, "--helo") == 0)
			o.helo = val;
		else if (strcmp(a, "--sender") == 0)
			o.mail_from = val;
		else if (strcmp(a, "--authserv-id") == 0)
			o.authserv_id = val;
		else
			return cli_usage_error(cli, "auth: unknown option '%s'", a);
	}
	if (o.client_ip == NULL || o.helo == NULL || o.mail_from == NULL)
		return cli_usage_error(cli, "%s", usage);
	FILE *in = file && strcmp(file, "-") ? fopen(file, "rb") : stdin;
	if (in == NULL)
		return cli_error(cli, CLI_EXIT_USAGE, "auth: cannot open %s", file);
	if ((o.dns = cli_dns_ctx(cli)) == NULL) {
		if (in != stdin)
			fclose(in);
		return CLI_EXIT_USAGE;
	}
	char why[256] = "";
	struct ms_auth *a = NULL;
	ms_status st = ms_auth_new(&cli->env, &o, &a, why, sizeof(why));
	static uint8_t buf[65536];
	size_t n;
	while (st == MS_OK && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		st = ms_auth_feed(a, buf, n, why, sizeof(why));
	int rerr = ferror(in);
	if (in != stdin)
		fclose(in);
	if (st == MS_OK && !rerr)
		st = ms_auth_finish(a, why, sizeof(why));
	int rc = CLI_EXIT_OK;
	if (st == MS_OK && rerr)
		rc = cli_error(cli, CLI_EXIT_ERROR, "auth: cannot read the message");
	else if (st != MS_OK)
		rc = cli_error(cli, st == MS_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
			       "auth: %s", why);
	else if (cli->json)
		print_json(a);
	else
		print_text(a);
	ms_auth_free(a);
	ms_dns_ctx_free(o.dns);
	return rc;
}
