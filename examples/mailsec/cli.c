/* cli.c - error reporting, clock and resolver set-up shared by subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	struct ms_dns_config cfg = {
		.version = MS_DNS_CONFIG_VERSION, .config_file = cli->dns_config,
		.mode = cli->dns_config ? MS_DNS_MODE_CONFIG_FILE :
			cli->nforwards ? MS_DNS_MODE_FORWARD : MS_DNS_MODE_SYSTEM,
		.forwarders = cli->forwards, .nforwarders = cli->nforwards,
		.trust_anchor_file = cli->trust_anchor, .validation_time = cli->now,
		.timeout_ms = cli->timeout_ms,
	};
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
	if (buf && (ferror(f) || n > max)) {
		free(buf);
		buf = NULL;
	}
	*len = n;
	if (f != stdin)
		fclose(f);
	return buf;
}

int cli_fail(const struct cli *cli, ms_status st, const char *what, const char *why)
{
	int usage = st == MS_ERR_INVALID || st == MS_ERR_LIMIT || st == MS_ERR_UNSUPPORTED;
	return cli_error(cli, usage ? CLI_EXIT_USAGE : CLI_EXIT_ERROR, "%s: %s", what,
			 why && why[0] ? why : ms_status_str(st));
}

int cli_put(const struct cli *cli, ms_status st, char **text, const char *what)
{
	if (st != MS_OK)
		return cli_fail(cli, st, what, NULL);
	fputs(*text, stdout);
	ms_render_free(*text);
	*text = NULL;
	return CLI_EXIT_OK;
}

/* ---- subcommand tables ------------------------------------------------- */

void cli_list_cmds(FILE *f, const struct cli_cmd *cmds)
{
	for (const struct cli_cmd *c = cmds; c->name; c++) {
		fprintf(f, "  %-8s ", c->name);
		for (const struct cli_cmd *s = c->sub; s && s->name; s++)
			fprintf(f, "%s%s", s->name, s[1].name ? " | " : ": ");
		fprintf(f, "%s\n", c->summary);
	}
}

static void print_usage(FILE *f, const struct cli *cli)
{
	const struct cli_cmd *c = cli->cmd;
	fprintf(f, "usage: mailsec %s%s%s\n", cli->path, c->args[0] ? " " : "", c->args);
	if (f == stdout)
		printf("%s\n", c->summary);
}

int cli_usage(const struct cli *cli)
{
	fprintf(stderr, "%s: ", cli->prog);
	print_usage(stderr, cli);
	return CLI_EXIT_USAGE;
}

int cli_run(struct cli *cli, const struct cli_cmd *cmds, int argc, char **argv)
{
	const struct cli_cmd *c = cmds;
	while (c->name && strcmp(c->name, argv[0]) != 0)
		c++;
	if (c->name == NULL)
		return cli_usage_error(cli, "unknown command '%s%s%s' (mailsec %s%s--help lists them)",
				       cli->path, cli->path[0] ? " " : "", argv[0], cli->path,
				       cli->path[0] ? " " : "");
	static char path[64];
	size_t pl = strlen(path);
	snprintf(path + pl, sizeof(path) - pl, "%s%s", pl ? " " : "", c->name);
	cli->path = path;
	cli->cmd = c;
	int help = 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
	if (c->sub && argc >= 2 && !(help && argv[1][0] == '-'))
		return cli_run(cli, c->sub, argc - 1, argv + 1);
	if (c->sub) {
		FILE *f = help ? stdout : stderr;
		fprintf(f, "usage: mailsec %s COMMAND [ARGS]\n%s\n\ncommands:\n", path, c->summary);
		cli_list_cmds(f, c->sub);
		return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	if (help) {
		print_usage(stdout, cli);
		return CLI_EXIT_OK;
	}
	return c->run(cli, argc, argv);
}

/* ---- options ----------------------------------------------------------- */

static int list_add(const struct cli *cli, const char *what, struct cli_list *l, const char *v)
{
	if (l->n == l->max)
		return cli_usage_error(cli, "at most %zu %s", l->max, what);
	l->v[l->n++] = v;
	return -1;
}

int cli_parse(const struct cli *cli, int argc, char **argv, const struct cli_opt *opts,
	      struct cli_list *pos)
{
	/* Before the subcommand (cli->cmd NULL) only the global options are
	 * taken: other options, "--" and all after it are left in `pos`. */
	int rc = -1, dashdash = 0, top = cli->cmd == NULL;
	for (int i = 1; i < argc && rc < 0; i++) {
		const char *a = argv[i];
		const struct cli_opt *o = opts;
		while (!dashdash && o && o->name && strcmp(o->name, a) != 0)
			o++;
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = 1;
			if (!top)
				continue;
		}
		if (dashdash || a[0] != '-' || a[1] == '\0' || (top && o->name == NULL)) {
			rc = pos && pos->n < pos->max ? list_add(cli, a, pos, a) : cli_usage(cli);
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_usage(stdout, cli);
			return CLI_EXIT_OK;
		}
		if (o == NULL || o->name == NULL)
			return cli_usage_error(cli, "%s: unknown option '%s'", cli->path, a);
		if (o->kind == CLI_FLAG) {
			*(int *)o->dst = 1;
			continue;
		}
		if (i + 1 >= argc)
			return cli_usage_error(cli, "%s needs a value", a);
		const char *v = argv[++i];
		if (o->kind == CLI_STR) {
			*(const char **)o->dst = v;
		} else if (o->kind == CLI_LIST) {
			rc = list_add(cli, a, o->dst, v);
		} else {
			char *end;
			errno = 0;
			long long n = strtoll(v, &end, 10);
			if (errno || end == v || *end || n < o->min || n > o->max)
				return cli_usage_error(cli, "%s wants %lld-%lld, not '%s'", a, o->min,
						       o->max, v);
			*(long long *)o->dst = n;
		}
	}
	return rc;
}

/* ---- JSON strings ------------------------------------------------------ */

void cli_json_str(const char *before, const char *s, const char *after)
{
	fputs(before, stdout);
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n' || c == '\r' || c == '\t')
			printf("\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c); /* UTF-8 passes through */
	}
	putchar('"');
	fputs(after, stdout);
}
