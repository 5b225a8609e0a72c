/*
 * route_cli.h - the options `mailsec plan` and `mailsec send` share, and
 * the call of librequiretls's route (ms_rtls_route_new) with the CLI's
 * resolver and MTA-STS cache.  The lookups and the plan are the library's.
 */
#ifndef MAILSEC_RTLS_ROUTE_CLI_H
#define MAILSEC_RTLS_ROUTE_CLI_H

#include "cli.h"

#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_route.h>

/* The MX hosts plan and send consider (the library orders the whole set
 * first, RFC 5321 s5.1). */
#define ROUTE_MAX_MX 10

/* Options the fetch of the MTA-STS policy needs. */
struct route_opts {
	const char *ca_file;     /* NULL: the system store */
	const char *connect_to;  /* curl CONNECT_TO entry, or NULL */
	const char *cache;       /* SQLite policy cache, or NULL */
	int requiretls;          /* --requiretls */
	int tls_required_no;     /* --tls-required-no */
};

/*
 * --ca-file F, --connect-to E, --cache F (`v` is the next argument, NULL at
 * the end), --requiretls, --tls-required-no.  Returns how many arguments
 * it took (1 or 2), or 0 when `a` is none of them (or lacks its value).
 */
int route_opts_arg(struct route_opts *o, const char *a, const char *v);

/* The resolver and the MTA-STS handle (with its --cache store) that
 * routes are made with, for commands that route several domains. */
struct route_ctx {
	struct ms_dns_ctx *dns;
	struct ms_sts *sts;
	struct ms_sts_store *store;
};

/* CLI_EXIT_OK with *c set (close with route_ctx_close), or a CLI exit
 * code after printing the reason. */
int route_ctx_open(struct cli *cli, const struct route_opts *o, struct route_ctx *c);
void route_ctx_close(struct route_ctx *c);

/*
 * The route of `domain` for `requirement` (ms_rtls_route_new).  Returns
 * CLI_EXIT_OK with *out set (free it with ms_rtls_route_free), or a CLI
 * exit code after printing the reason (bad domain, bad options, resolver
 * set-up).
 */
int route_open(struct cli *cli, const char *domain, const struct route_opts *o,
	       enum ms_rtls_requirement requirement, struct ms_rtls_route **out);

/* The MAIL FROM parameters a plan leads to (e.g. "REQUIRETLS", or ""). */
void route_mail_params(const struct ms_env *env, int requiretls, char *out, size_t outsize);

#endif
