/*
 * main.c - the `mailsec` example CLI: global options and subcommand
 * dispatch.  Global options (the scripted contract in docs/cli.md) may
 * stand anywhere on the command line; everything else goes to the
 * subcommand.  Each subcommand shows one library in use.
 */
#include "cli.h"
#include "../adapters/logfmt.h"
#include "../adapters/prometheus.h"

#include <stdlib.h>
#include <string.h>

#ifndef MAILSEC_VERSION
#define MAILSEC_VERSION "unknown"
#endif

static const struct cli_cmd commands[] = {
	{ "dns", cmd_dns, "TYPE NAME", "records with their DNSSEC status", NULL },
#ifdef MS_CLI_HAVE_DANE
	{ "dane", NULL, "", "DANE for SMTP", cli_dane_cmds },
#endif
#ifdef MS_CLI_HAVE_MTASTS
	{ "mtasts", NULL, "", "MTA-STS policies", cli_mtasts_cmds },
#endif
#ifdef MS_CLI_HAVE_SPF
	{ "spf", cmd_spf, "--ip IP --sender ADDR --helo NAME [--receiver NAME] [--helo-only]",
	  "SPF evaluation", NULL },
	{ "iprev", cmd_iprev, "IP [--max-names N]", "reverse DNS with forward confirmation", NULL },
	{ "dmarc", cmd_dmarc, "--from-header H --spf RESULT:DOMAIN "
	  "[--dkim RESULT:DOMAIN[:SELECTOR]]... [--tree-walk] [--pct-sample N]", "DMARC", NULL },
#endif
#ifdef MS_CLI_HAVE_DKIM
	{ "dkim", NULL, "", "DKIM", cli_dkim_cmds },
	{ "auth", cmd_auth, "--ip IP --helo NAME --sender ADDR [--authserv-id ID] "
	  "[--deadline MS] [FILE]", "Authentication-Results", NULL },
#endif
#ifdef MS_CLI_HAVE_PLAN
	{ "plan", cmd_plan, "DOMAIN [--requiretls | --tls-required-no] [--ca-file F] "
	  "[--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]", "TLS decision per MX", NULL },
	{ "send", cmd_send, "--from ADDR --to ADDR [--to ADDR]... [--requiretls] "
	  "[--tls-required-no] [--auto-requiretls] [--port N] [--ca-file F] "
	  "[--connect-to H:P:A:P] [--cache FILE] [--helo NAME] [--memory FILE] "
	  "[--memory-max-age SECONDS] FILE", "deliver one message", NULL },
#endif
#ifdef MS_CLI_HAVE_CHECK
	{ "check", cmd_check, "DOMAIN [--port N] [--no-probe] [--ca-file F] "
	  "[--connect-to H:P:A:P]... [--dkim-selector S]... [--progress]",
	  "mail-domain security report", NULL },
	{ "setup", cmd_setup, "DOMAIN --mx HOST [--key F] ... --rua ADDR", "records to publish", NULL },
#endif
#ifdef MS_CLI_HAVE_PLAN
	{ "replan", cmd_replan, "--message FILE [--mail-params PARAMS] --to ADDR [--to ADDR]... "
	  "--requirement required|default|not-required [--write OUT] [--ca-file F] "
	  "[--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]", "re-plan a queued message", NULL },
#endif
#ifdef MS_CLI_HAVE_TLSRPT
	{ "tlsrpt", NULL, "", "SMTP TLS reports (RFC 8460)", cli_tlsrpt_cmds },
#endif
#ifdef MS_CLI_HAVE_DMARC_REPORT
	{ "dmarc-report", cmd_dmarc_report, "record | report | send | parse", "DMARC aggregate reports", NULL },
#endif
	{ NULL, NULL, NULL, NULL, NULL }
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailsec [global options] COMMAND [ARGS]\n"
		"       mailsec COMMAND --help; mailsec --version\n"
		"\n"
		"global options:\n"
		"  --dns-config FILE          unbound.conf-format resolver configuration (the whole\n"
		"                             configuration: no default root anchor is added)\n"
		"  --dns-forward ADDR[@PORT]  resolve through this server, validate locally (repeatable)\n"
		"  --trust-anchor FILE        extra trust anchors (DS or DNSKEY lines)\n"
		"  --now UNIX_SECONDS         evaluate signatures, certificates, policies at this time\n"
		"  --timeout SECONDS          per-lookup and per-connection deadline\n"
		"  --json                     one JSON object on stdout\n"
		"  --verbose                  debug log lines (logfmt) on stderr\n"
		"  --metrics FILE             write Prometheus text-format metrics to FILE at exit\n"
		"\ncommands:\n");
	cli_list_cmds(f, commands);
}

/* Take the global options out of argv (anywhere before a "--"), leaving
 * the subcommand and its own arguments in order.  Returns the new argc, or
 * -1 after printing a usage error. */
static int take_globals(struct cli *cli, int argc, char **argv)
{
	long long now = 0, timeout = 0;
	struct cli_list fw = { cli->forwards, 0, CLI_MAX_FORWARDS };
	struct cli_list rest = { (const char **)argv, 0, (size_t)argc };
	const struct cli_opt opts[] = {
		OPT_FLAG("--json", &cli->json), OPT_FLAG("--verbose", &cli->verbose),
		OPT_STR("--dns-config", &cli->dns_config), OPT_LIST("--dns-forward", &fw),
		OPT_STR("--trust-anchor", &cli->trust_anchor),
		OPT_STR("--metrics", &cli->metrics_file),
		OPT_NUM("--now", &now, 1, 253402300799LL), OPT_NUM("--timeout", &timeout, 1, 3600),
		OPT_END };
	/* cli->cmd is NULL: other words (also "--" and what follows) stay */
	if (cli_parse(cli, argc + 1, argv - 1, opts, &rest) >= 0)
		return -1;
	cli->nforwards = fw.n;
	cli->now = now;
	cli->timeout_ms = (unsigned)timeout * 1000u;
	argv[rest.n] = NULL;
	return (int)rest.n;
}

struct hooks {
	struct ms_logfmt logfmt;
	struct ms_prom *prom;
	int64_t now;
};

static void hook_log(void *user, enum ms_log_level level, const char *subsystem,
		     const char *msg, const struct ms_kv *kv, size_t nkv)
{
	struct hooks *h = user;
	ms_logfmt_log(&h->logfmt, level, subsystem, msg, kv, nkv);
}

static void hook_metric(void *user, const struct ms_metric_event *ev)
{
	struct hooks *h = user;
	ms_prom_metric(h->prom, ev);
}

static int64_t hook_now(void *user)
{
	return ((struct hooks *)user)->now;
}

int main(int argc, char **argv)
{
	struct cli cli;
	memset(&cli, 0, sizeof(cli));
	cli.prog = "mailsec";
	int n = take_globals(&cli, argc - 1, argv + 1);
	if (n < 0)
		return CLI_EXIT_USAGE;
	char **args = argv + 1;
	if (n == 0 || strcmp(args[0], "--help") == 0 || strcmp(args[0], "-h") == 0 ||
	    strcmp(args[0], "help") == 0) {
		usage(n == 0 ? stderr : stdout);
		return n == 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(args[0], "--version") == 0) {
		printf("mailsec %s\n", MAILSEC_VERSION);
		return CLI_EXIT_OK;
	}

	struct hooks hooks = { .logfmt = { stderr }, .now = cli.now };
	cli.env.version = MS_ENV_VERSION;
	cli.env.user = &hooks;
	if (cli.verbose) {
		cli.env.log = hook_log;
		cli.env.log_level = MS_LOG_DEBUG;
	}
	if (cli.metrics_file) {
		hooks.prom = ms_prom_new();
		if (hooks.prom == NULL)
			return CLI_EXIT_ERROR;
		cli.env.metric = hook_metric;
	}
	if (cli.now)
		cli.env.now = hook_now;

	cli.path = "";
	int rc = cli_run(&cli, commands, n, args);

	if (hooks.prom) {
		FILE *f = fopen(cli.metrics_file, "w");
		if (f == NULL || ms_prom_write(hooks.prom, f) != 0) {
			fprintf(stderr, "mailsec: cannot write metrics to %s\n", cli.metrics_file);
			if (rc == CLI_EXIT_OK)
				rc = CLI_EXIT_ERROR;
		}
		if (f)
			fclose(f);
		ms_prom_free(hooks.prom);
	}
	return rc;
}
