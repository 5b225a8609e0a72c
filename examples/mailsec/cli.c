/* cli.c - error reporting, clock and resolver set-up shared by subcommands. */
#include "cli.h"

#include <stdarg.h>
#include <time.h>

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

int cli_error(const struct cli *cli, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int64_t cli_now(const struct cli *cli)
{
	return cli->now ? cli->now : (int64_t)time(NULL);
}

struct ms_dns_ctx *cli_dns_ctx(const struct cli *cli)
{
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION };
	if (cli->dns_config) {
		cfg.mode = MS_DNS_MODE_CONFIG_FILE;
		cfg.config_file = cli->dns_config;
		cfg.forwarders = cli->forwards;
		cfg.nforwarders = cli->nforwards;
	} else if (cli->nforwards > 0) {
		cfg.mode = MS_DNS_MODE_FORWARD;
		cfg.forwarders = cli->forwards;
		cfg.nforwarders = cli->nforwards;
	} else {
		cfg.mode = MS_DNS_MODE_SYSTEM;
	}
	cfg.trust_anchor_file = cli->trust_anchor;
	cfg.validation_time = cli->now;
	cfg.timeout_ms = cli->timeout_ms;
	struct ms_dns_ctx *ctx = NULL;
	char why[512] = "";
	ms_status st = ms_dns_ctx_new(&cli->env, &cfg, &ctx, why, sizeof(why));
	if (st != MS_OK) {
		cli_error(cli, CLI_EXIT_USAGE, "resolver: %s", why[0] ? why : ms_status_str(st));
		return NULL;
	}
	return ctx;
}
