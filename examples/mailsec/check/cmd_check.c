/*
 * cmd_check.c - `mailsec check DOMAIN` (usage: main.c's table): the CLI
 * contract's options turned into ms_check_opts, libmscheck's report
 * printed as text or JSON; every decision is the library's (docs/check.md).
 * Exit 0 when the check ran, whatever it found; 2 usage; 3 no report.
 */
#include "cli.h"

#include <mailsec/check.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void progress(void *user, const char *line)
{
	(void)user;
	fprintf(stderr, "mailsec check: %s\n", line);
}

int cmd_check(struct cli *cli, int argc, char **argv)
{
	const char *domain = NULL, *connect_to[MS_CHECK_MAX_CONNECT_TO];
	const char *selectors[MS_CHECK_MAX_SELECTORS];
	struct ms_check_opts o = { .version = MS_CHECK_OPTS_VERSION, .port = 25,
				   .connect_to = connect_to, .dkim_selectors = selectors };
	int show_progress = isatty(STDERR_FILENO);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--port") == 0 && v) {
			char *end;
			long p = strtol(v, &end, 10);
			if (*end || p < 1 || p > 65535)
				return cli_usage_error(cli, "bad --port '%s'", v);
			o.port = (uint16_t)p;
			i++;
		} else if (strcmp(a, "--ca-file") == 0 && v) {
			o.ca_file = v;
			i++;
		} else if (strcmp(a, "--connect-to") == 0 && v) {
			if (o.nconnect_to == MS_CHECK_MAX_CONNECT_TO)
				return cli_usage_error(cli, "too many --connect-to");
			connect_to[o.nconnect_to++] = v;
			i++;
		} else if (strcmp(a, "--dkim-selector") == 0 && v) {
			if (o.ndkim_selectors == MS_CHECK_MAX_SELECTORS)
				return cli_usage_error(cli, "too many --dkim-selector");
			selectors[o.ndkim_selectors++] = v;
			i++;
		} else if (strcmp(a, "--no-probe") == 0) {
			o.no_probe = 1;
		} else if (strcmp(a, "--progress") == 0) {
			show_progress = 1;
		} else if (a[0] != '-' && domain == NULL) {
			domain = a;
		} else {
			return cli_usage_error(cli, "usage: mailsec check DOMAIN [--port N] [--no-probe] "
					       "[--ca-file F] [--connect-to H:P:A:P] "
					       "[--dkim-selector S]... [--progress]");
		}
	}
	if (domain == NULL)
		return cli_usage_error(cli, "usage: mailsec check DOMAIN [options]");
	char norm[256], why[256] = "";
	if (ms_dns_hostname_normalize(domain, norm, sizeof(norm), why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "bad domain '%s': %s", domain, why);
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	o.now = cli_now(cli);
	o.timeout_ms = cli->timeout_ms;
	o.progress = show_progress ? progress : NULL;

	struct ms_check_report *r = NULL;
	char *text = NULL;
	ms_status st = ms_check_run(&cli->env, dns, norm, &o, &r, why, sizeof(why));
	int colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	if (st == MS_OK)
		st = ms_check_report_render(r, cli->json ? MS_CHECK_JSON :
					    colour ? MS_CHECK_TEXT_COLOUR : MS_CHECK_TEXT, &text, NULL);
	ms_check_report_free(r);
	ms_dns_ctx_free(dns);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "check: %s%s%s", ms_status_str(st),
				 why[0] ? ": " : "", why);
	fputs(text, stdout);
	ms_render_free(text);
	return CLI_EXIT_OK;
}
