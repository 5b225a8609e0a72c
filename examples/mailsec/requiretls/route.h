/*
 * route.h - what `mailsec plan` and `mailsec send` learn about a recipient
 * domain before connecting: the MX set (libdnssec-stub), DANE per host
 * (libdane), the MTA-STS policy and match per host (libmtasts), mapped
 * onto librequiretls's decision-engine values and planned per host.
 */
#ifndef MAILSEC_RTLS_ROUTE_H
#define MAILSEC_RTLS_ROUTE_H

#include "cli.h"

#include <mailsec/dane.h>
#include <mailsec/mtasts.h>
#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>

#define ROUTE_MAX_MX 10
#define ROUTE_MAX_ADDRS 4

struct route_host {
	char name[256];
	uint16_t preference;
	char addrs[ROUTE_MAX_ADDRS][64];
	size_t naddrs;
	struct ms_dane_lookup *dane;   /* NULL when the lookup was impossible */
	int tlsa_usable;               /* usable TLSA records found */
	char dane_note[200];
	enum ms_sts_verdict sts_verdict;
	struct ms_rtls_host in;        /* what the engine gets */
	struct ms_rtls_plan plan;
};

/* Options the fetch of the MTA-STS policy needs. */
struct route_opts {
	const char *ca_file;     /* NULL: the system store */
	const char *connect_to;  /* curl CONNECT_TO entry, or NULL */
	const char *cache;       /* SQLite policy cache, or NULL */
	int requiretls;          /* --requiretls */
	int tls_required_no;     /* --tls-required-no */
};

/*
 * The options `plan` and `send` share: --ca-file F, --connect-to E,
 * --cache F (`v` is the next argument, NULL at the end), --requiretls,
 * --tls-required-no.  Returns how many arguments it took (1 or 2), or 0
 * when `a` is none of them (or lacks its value).
 */
int route_opts_arg(struct route_opts *o, const char *a, const char *v);

struct route {
	char domain[256];
	const struct ms_env *env;        /* the CLI's hooks */
	struct ms_dns_ctx *dns;
	struct ms_sts_store *sts_store;
	struct ms_sts *sts;
	struct ms_sts_result *sts_result; /* NULL when discovery was impossible */
	char sts_note[256];
	int null_mx;
	int implicit_mx;
	int nxdomain;
	char mx_note[256];
	struct ms_rtls_domain in;  /* what the engine gets */
	struct route_host hosts[ROUTE_MAX_MX];
	size_t nhosts;
};

/*
 * Look everything up for `domain` (normalised) and plan every host for
 * `requirement`.  Returns CLI_EXIT_OK, or a CLI exit code after printing
 * the reason (bad options, resolver set-up).  A failed lookup is not an
 * error: it is an input of the plan (e.g. a bogus MX skips every host).
 * Free with route_free() in every case.
 */
int route_build(struct cli *cli, const char *domain, const struct route_opts *o,
		enum ms_rtls_requirement requirement, struct route *r);
void route_free(struct route *r);

/* The outcome when the domain has no host to plan: a bogus or failed MX
 * lookup (the engine's deferral), a null MX (RFC 7505 s3: 5.1.10), a
 * domain that does not exist (5.1.2), or no
 * MX and no address (4.4.4 from ms_rtls_conclude). */
void route_no_host_outcome(const struct route *r, struct ms_rtls_outcome *out);

/* Short names of the engine's DANE and MTA-STS inputs for reports. */
const char *route_dane_str(enum ms_rtls_dane d);
const char *route_sts_mode_str(enum ms_rtls_sts_mode m);

/* The human reasons behind a host's plan, one sentence each, appended to
 * `out` (at most `max`); returns how many. */
size_t route_reasons(const struct route *r, const struct route_host *h,
		     char out[][256], size_t max);

/* The MAIL FROM parameters a plan leads to (e.g. "REQUIRETLS", or ""). */
void route_mail_params(const struct ms_env *env, int requiretls, char *out, size_t outsize);

#endif
