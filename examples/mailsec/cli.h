/*
 * cli.h - shared plumbing of the `mailsec` example CLI: the global options
 * of the CLI contract (docs/cli.md), exit codes, resolver set-up and a tiny
 * JSON string writer; the reports themselves are the libraries' renderings.
 * Each subcommand lives in its own cmd_*.c file.
 */
#ifndef MAILSEC_CLI_H
#define MAILSEC_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>

/* Exit codes of the CLI contract. */
enum {
	CLI_EXIT_OK = 0,      /* the check completed (for verify/match: passed) */
	CLI_EXIT_FAIL = 1,    /* verify/match/parse subcommands: negative verdict */
	CLI_EXIT_USAGE = 2,   /* bad arguments, unreadable input or configuration */
	CLI_EXIT_ERROR = 3    /* the check could not run (internal failure) */
};

#define CLI_MAX_FORWARDS 8

struct cli_cmd;

struct cli {
	const char *prog;
	const struct cli_cmd *cmd;      /* the subcommand running (its usage) */
	const char *path;               /* "dane verify": the words that named it */
	const char *dns_config;         /* --dns-config FILE */
	const char *forwards[CLI_MAX_FORWARDS]; /* --dns-forward ADDR[@PORT] */
	size_t nforwards;
	const char *trust_anchor;       /* --trust-anchor FILE */
	int64_t now;                    /* --now UNIX_SECONDS (0: real clock) */
	unsigned timeout_ms;            /* --timeout SECONDS (0: library default) */
	int json;                       /* --json */
	int verbose;                    /* --verbose: logfmt debug lines on stderr */
	const char *metrics_file;       /* --metrics FILE: Prometheus text at exit */
	struct ms_env env;              /* hooks wired to the adapters */
};

/* Print "mailsec: MESSAGE" on stderr and return `code` (a usage error: 2). */
int cli_error(const struct cli *cli, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define cli_usage_error(cli, ...) cli_error(cli, CLI_EXIT_USAGE, __VA_ARGS__)

/* Build a resolver from the global options (CLI contract: a --dns-config
 * file is the whole configuration; --dns-forward forwards; otherwise the
 * system's resolvers).  Prints the reason and returns NULL on failure. */
struct ms_dns_ctx *cli_dns_ctx(const struct cli *cli);

/* The wall clock of the run: --now, or time(NULL). */
int64_t cli_now(const struct cli *cli);
/* The whole of PATH ("-": stdin), at most `max` bytes: a malloc'd buffer
 * (free it) with *len set, or NULL when it cannot be read or is larger. */
uint8_t *cli_read_file(const char *path, size_t max, size_t *len);

/* A library call failed: "mailsec: WHAT: WHY" on stderr; exit 2 for bad
 * input (MS_ERR_INVALID, _LIMIT, _UNSUPPORTED), else 3. */
int cli_fail(const struct cli *cli, ms_status st, const char *what, const char *why);

/* The rendering --json asks for. */
static inline enum ms_render_format cli_format(const struct cli *cli)
{
	return cli->json ? MS_RENDER_JSON : MS_RENDER_TEXT;
}
/* A library's rendering (st its status, *text read after the call that set
 * it): print it, free it with ms_render_free, CLI_EXIT_OK; else cli_fail. */
int cli_put(const struct cli *cli, ms_status st, char **text, const char *what);

/* The MTA-STS discovery handle of `mtasts`, `plan`, `send` and `replan`:
 * the resolver, the --cache SQLite policy store (NULL: none) and the HTTPS
 * fetch options (mtasts/cmd_mtasts.c).  CLI_EXIT_OK, or an exit code after
 * printing why; close (NULL-safe members) with cli_sts_close. */
struct cli_sts {
	struct ms_dns_ctx *dns;
	struct ms_sts_store *store;
	struct ms_sts *sts;
};
int cli_sts_open(struct cli *cli, const char *ca_file, const char *connect_to,
		 const char *cache, unsigned default_timeout_ms, struct cli_sts *s);
void cli_sts_close(struct cli_sts *s);

/* ---- subcommand tables --------------------------------------------- */
struct cli_cmd {
	const char *name;
	/* argv[0] is the subcommand name; NULL for a group (`sub`). */
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *args;               /* synopsis after the name */
	const char *summary;            /* one line: what it shows */
	const struct cli_cmd *sub;      /* a group's subcommands, NULL-terminated */
};
/* Run argv[0] of `cmds` (NULL-terminated): a group dispatches on, "--help"
 * prints the group's commands on stdout.  Unknown name: usage error. */
int cli_run(struct cli *cli, const struct cli_cmd *cmds, int argc, char **argv);
/* The command list of a --help text. */
void cli_list_cmds(FILE *f, const struct cli_cmd *cmds);
/* Usage error for the running subcommand: its synopsis on stderr, exit 2. */
int cli_usage(const struct cli *cli);

/* ---- table-driven options of a subcommand -------------------------- */
enum cli_opt_kind {
	CLI_FLAG,   /* int *: set to 1 */
	CLI_STR,    /* const char **: the value (the last one given) */
	CLI_LIST,   /* struct cli_list *: every value, in order */
	CLI_NUM     /* long long *: a decimal integer in [min, max] */
};
struct cli_opt {
	const char *name;               /* "--ip" */
	enum cli_opt_kind kind;
	void *dst;
	long long min, max;             /* CLI_NUM bounds */
};
struct cli_list {
	const char **v;
	size_t n, max;
};
#define OPT_FLAG(n, p) { n, CLI_FLAG, p, 0, 0 }
#define OPT_STR(n, p) { n, CLI_STR, p, 0, 0 }
#define OPT_LIST(n, p) { n, CLI_LIST, p, 0, 0 }
#define OPT_NUM(n, p, lo, hi) { n, CLI_NUM, p, lo, hi }
#define OPT_END { NULL, CLI_FLAG, NULL, 0, 0 }
#define CLI_LIST_OF(arr) { (arr), 0, sizeof(arr) / sizeof((arr)[0]) }
/* Parse argv[1..]: options of `opts` (ended by a {NULL} entry) anywhere,
 * "--" ends them, other words (and "-") go to `pos` (NULL: none allowed).
 * Returns -1 to go on; else the exit code to return now: 0 after --help
 * (usage on stdout), 2 after a usage error (on stderr). */
int cli_parse(const struct cli *cli, int argc, char **argv, const struct cli_opt *opts,
	      struct cli_list *pos);

/* BEFORE, S as a JSON string, AFTER on stdout (dane's key/TLSA lines). */
void cli_json_str(const char *before, const char *s, const char *after);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_dns(struct cli *cli, int argc, char **argv);
int cmd_spf(struct cli *cli, int argc, char **argv);
int cmd_iprev(struct cli *cli, int argc, char **argv);
int cmd_dmarc(struct cli *cli, int argc, char **argv);
int cmd_auth(struct cli *cli, int argc, char **argv);
int cmd_plan(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_setup(struct cli *cli, int argc, char **argv);
int cmd_replan(struct cli *cli, int argc, char **argv);
/* Groups of subcommands (NULL-terminated tables). */
extern const struct cli_cmd cli_dane_cmds[];
extern const struct cli_cmd cli_mtasts_cmds[];
extern const struct cli_cmd cli_dkim_cmds[];
extern const struct cli_cmd cli_dmarc_report_cmds[];
extern const struct cli_cmd cli_tlsrpt_cmds[];

#endif
