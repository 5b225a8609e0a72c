/*
 * main.c - the `mailsec` example CLI: global options and subcommand
 * dispatch.  Global options (the scripted contract in docs/cli.md) may
 * stand anywhere on the command line; everything else goes to the
 * subcommand.  Each subcommand shows one library in use.
 */
#include "cli.h"
#include "../adapters/logfmt.h"
#include "../adapters/prometheus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "dns", cmd_dns, "TYPE NAME: records with their DNSSEC status" },
#ifdef MS_CLI_HAVE_DANE
	{ "dane", cmd_dane, "verify | tlsa | probe: DANE for SMTP" },
#endif
#ifdef MS_CLI_HAVE_MTASTS
	{ "mtasts", cmd_mtasts, "fetch | parse | match: MTA-STS policies" },
#endif
#ifdef MS_CLI_HAVE_SPF
	{ "spf", cmd_spf, "--ip IP --sender ADDR --helo NAME: SPF evaluation" },
	{ "iprev", cmd_iprev, "IP: reverse DNS with forward confirmation" },
	{ "dmarc", cmd_dmarc, "--from-header H --spf R:D [--dkim R:D]: DMARC" },
#endif
#ifdef MS_CLI_HAVE_DKIM
	{ "dkim", cmd_dkim, "verify | sign | keygen: DKIM" },
	{ "auth", cmd_auth, "--ip IP --helo NAME --sender ADDR [FILE]: Authentication-Results" },
#endif
#ifdef MS_CLI_HAVE_PLAN
	{ "plan", cmd_plan, "DOMAIN [--requiretls | --tls-required-no]: TLS decision per MX" },
	{ "send", cmd_send, "--from ADDR --to ADDR [--requiretls] FILE: deliver one message" },
#endif
#ifdef MS_CLI_HAVE_CHECK
	{ "check", cmd_check, "DOMAIN: mail-domain security report" },
#endif
#ifdef MS_CLI_HAVE_PLAN
	{ "replan", cmd_replan, "--message FILE --to ADDR --requirement REQ: re-plan a queued message" },
#endif
#ifdef MS_CLI_HAVE_TLSRPT
	{ "tlsrpt", cmd_tlsrpt, "record | report | send | parse: SMTP TLS reports (RFC 8460)" },
#endif
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailsec [global options] COMMAND [ARGS]\n"
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

static int parse_u64(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Take the global options out of argv (anywhere before a "--"), leaving
 * the subcommand and its own arguments in order.  Returns the new argc, or
 * -1 after printing a usage error. */
static int take_globals(struct cli *cli, int argc, char **argv)
{
	int out = 0, i = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		long long n;
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--json") == 0) {
			cli->json = 1;
		} else if (strcmp(a, "--verbose") == 0) {
			cli->verbose = 1;
		} else if (strcmp(a, "--dns-config") == 0 || strcmp(a, "--dns-forward") == 0 ||
			   strcmp(a, "--trust-anchor") == 0 || strcmp(a, "--now") == 0 ||
			   strcmp(a, "--timeout") == 0 || strcmp(a, "--metrics") == 0) {
			if (val == NULL) {
				fprintf(stderr, "mailsec: %s needs a value\n", a);
				return -1;
			}
			i++;
			if (strcmp(a, "--dns-config") == 0) {
				cli->dns_config = val;
			} else if (strcmp(a, "--trust-anchor") == 0) {
				cli->trust_anchor = val;
			} else if (strcmp(a, "--metrics") == 0) {
				cli->metrics_file = val;
			} else if (strcmp(a, "--dns-forward") == 0) {
				if (cli->nforwards == CLI_MAX_FORWARDS) {
					fprintf(stderr, "mailsec: at most %d --dns-forward\n",
						CLI_MAX_FORWARDS);
					return -1;
				}
				cli->forwards[cli->nforwards++] = val;
			} else if (strcmp(a, "--now") == 0) {
				if (parse_u64(val, 1, 253402300799LL, &n) != 0) {
					fprintf(stderr, "mailsec: --now wants Unix seconds, not '%s'\n", val);
					return -1;
				}
				cli->now = n;
			} else {
				if (parse_u64(val, 1, 3600, &n) != 0) {
					fprintf(stderr, "mailsec: --timeout wants 1-3600 seconds, not '%s'\n", val);
					return -1;
				}
				cli->timeout_ms = (unsigned)n * 1000u;
			}
		} else {
			argv[out++] = argv[i];
		}
	}
	/* Keep "--" and what follows for the subcommand. */
	for (; i < argc; i++)
		argv[out++] = argv[i];
	argv[out] = NULL;
	return out;
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

	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, args[0]) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "mailsec: unknown command '%s'\n", args[0]);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	int rc = cmd->run(&cli, n, args);

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
