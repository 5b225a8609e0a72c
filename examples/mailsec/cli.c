/* cli.c - error reporting, clock and resolver set-up shared by subcommands. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

/* The text after "PREFIX FILE: " in `why`, or NULL. */
static const char *after_file(const char *why, const char *prefix, const char *file)
{
	size_t p = strlen(prefix), f = file ? strlen(file) : 0;
	if (file == NULL || strncmp(why, prefix, p) != 0 || strncmp(why + p, file, f) != 0 ||
	    strncmp(why + p + f, ": ", 2) != 0)
		return NULL;
	return why + p + f + 2;
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
		/* The library's `why` starts with the file it could not load;
		 * name it by the option that gave it (docs/cli.md). */
		const char *rest;
		if ((rest = after_file(why, "trust anchor file ", cli->trust_anchor)))
			cli_error(cli, CLI_EXIT_USAGE, "--trust-anchor %s: %s", cli->trust_anchor,
				  rest);
		else if ((rest = after_file(why, "resolver configuration ", cli->dns_config)))
			cli_error(cli, CLI_EXIT_USAGE, "--dns-config %s: %s", cli->dns_config, rest);
		else
			cli_error(cli, CLI_EXIT_USAGE, "resolver: %s",
				  why[0] ? why : ms_status_str(st));
		return NULL;
	}
	return ctx;
}

uint8_t *cli_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	int bad = buf == NULL || ferror(f) || n > max;
	if (f != stdin)
		fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}
