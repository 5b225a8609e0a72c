/*
 * route_cli.h - the options `mailsec plan`, `send` and `replan` share, and
 * the call of librequiretls's route (ms_rtls_route_new) with the CLI's
 * resolver and MTA-STS cache.  The lookups and the plan are the library's.
 */
#ifndef MAILSEC_RTLS_ROUTE_CLI_H
#define MAILSEC_RTLS_ROUTE_CLI_H

#include "cli.h"

#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_deliver.h>
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
/* Their entries in a cli_opt table. */
#define ROUTE_OPTS(o) OPT_STR("--ca-file", &(o)->ca_file), \
	OPT_STR("--connect-to", &(o)->connect_to), OPT_STR("--cache", &(o)->cache), \
	OPT_FLAG("--requiretls", &(o)->requiretls), \
	OPT_FLAG("--tls-required-no", &(o)->tls_required_no)

/*
 * The route of `domain` for `requirement` (ms_rtls_route_new).  Returns
 * CLI_EXIT_OK with *out set (free it with ms_rtls_route_free), or a CLI
 * exit code after printing the reason (bad domain, bad options, resolver
 * set-up).
 */
int route_open(struct cli *cli, const char *domain, const struct route_opts *o,
	       enum ms_rtls_requirement requirement, struct ms_rtls_route **out);

/* `mailsec tlsrpt record` runs `send` with this delivery attempt observer
 * (libreports's TLSRPT recorder); NULL for a plain send. */
extern ms_rtls_attempt_observer_fn send_observer;
extern void *send_observer_arg;

#endif
