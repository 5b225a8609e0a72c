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

struct cli {
	const char *prog;
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

/* Print a usage error for the current subcommand and return CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print a runtime error and return `code`. */
int cli_error(const struct cli *cli, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Build a resolver from the global options (CLI contract: a --dns-config
 * file is the whole configuration; --dns-forward forwards; otherwise the
 * system's resolvers).  Prints the reason and returns NULL on failure. */
struct ms_dns_ctx *cli_dns_ctx(const struct cli *cli);

/* The wall clock of the run: --now, or time(NULL). */
int64_t cli_now(const struct cli *cli);
/* The whole of PATH ("-": stdin), at most `max` bytes: a malloc'd buffer
 * (free it) with *len set, or NULL when it cannot be read or is larger. */
uint8_t *cli_read_file(const char *path, size_t max, size_t *len);

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

/* Subcommands: argv[0] is the subcommand name. */
int cmd_dns(struct cli *cli, int argc, char **argv);
int cmd_dane(struct cli *cli, int argc, char **argv);
int cmd_mtasts(struct cli *cli, int argc, char **argv);
int cmd_spf(struct cli *cli, int argc, char **argv);
int cmd_iprev(struct cli *cli, int argc, char **argv);
int cmd_dmarc(struct cli *cli, int argc, char **argv);
int cmd_dkim(struct cli *cli, int argc, char **argv);
int cmd_auth(struct cli *cli, int argc, char **argv);
int cmd_plan(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_replan(struct cli *cli, int argc, char **argv);
int cmd_tlsrpt(struct cli *cli, int argc, char **argv);

#endif
