/*
 * cli.h - shared plumbing of the `mailsec` example CLI: the global options
 * of the CLI contract (docs/cli.md), exit codes, resolver set-up and a tiny
 * JSON writer.  Each subcommand lives in its own cmd_*.c file.
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

/* ---- JSON writer: compact, one document on one line ---------------- */
#define JSON_MAX_DEPTH 32
struct json {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH];
};
void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *value); /* NULL: null */
void json_stringn(struct json *j, const char *key, const char *value, size_t len);
void json_int(struct json *j, const char *key, long long value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);
/* End the document with a newline. */
void json_finish(struct json *j);

/* ---- one report, human or JSON ------------------------------------- */
/* Each fact is printed once: as "KEY":value in the JSON object and/or as a
 * human line INDENT LABEL: VALUE (label padded to `width`).  A NULL key
 * leaves it out of JSON (OUT_ELEM: an array element), a NULL label out of
 * the human text, a NULL string value out of the human text (JSON null). */
#define OUT_ELEM ""
struct cli_out {
	int json;
	const char *indent;
	int width;
	struct json j;
};
/* Start a report (the JSON object opens). */
void out_begin(struct cli_out *o, const struct cli *cli, const char *indent, int width);
/* Close the JSON document; no-op for human text. */
void out_end(struct cli_out *o);
void out_str(struct cli_out *o, const char *key, const char *label, const char *v);
void out_int(struct cli_out *o, const char *key, const char *label, long long v);
/* JSON only (a human line for a bool is written with out_line). */
void out_bool(struct cli_out *o, const char *key, int v);
/* JSON null; human: nothing. */
void out_null(struct cli_out *o, const char *key);
/* A human line only: INDENT LABEL: printf(fmt...) (label NULL: the bare
 * formatted line). */
void out_line(struct cli_out *o, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Nested JSON objects and arrays (no-ops for human text). */
void out_obj(struct cli_out *o, const char *key);
void out_arr(struct cli_out *o, const char *key);
void out_close(struct cli_out *o);      /* ends the innermost object */
void out_close_arr(struct cli_out *o);  /* ends the innermost array */
/* Write a string without its CRs (a folded header field on a terminal). */
void cli_put_nocr(const char *s);

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
int cmd_dmarc_report(struct cli *cli, int argc, char **argv);
/* Groups of subcommands (NULL-terminated tables). */
extern const struct cli_cmd cli_dane_cmds[];
extern const struct cli_cmd cli_mtasts_cmds[];
extern const struct cli_cmd cli_dkim_cmds[];
extern const struct cli_cmd cli_tlsrpt_cmds[];

#endif
