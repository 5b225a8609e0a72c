/* route_internal.h - the route handle's layout, shared by route*.c (not installed). */
#ifndef RTLS_ROUTE_INTERNAL_H
#define RTLS_ROUTE_INTERNAL_H

#include "rtls_internal.h"

#include <mailsec/requiretls_route.h>

struct ms_rtls_route_host {
	char name[256];
	uint16_t preference;
	char (*addrs)[64];             /* max_addrs entries */
	size_t naddrs;
	enum ms_dns_outcome addr_outcome;
	int addr_failed;
	enum ms_dns_outcome fam_outcome[2];   /* A, AAAA */
	enum ms_dns_security fam_security[2];
	char addr_note[200];
	struct ms_dane_lookup *dane;   /* NULL when the lookup was impossible */
	char dane_note[200];
	enum ms_sts_verdict sts_verdict;
	struct ms_rtls_host in;        /* what the engine gets */
	struct ms_rtls_plan plan;
	char reasons[MS_RTLS_ROUTE_MAX_REASONS][256];
	size_t nreasons;
};

/* The steps of the route machine, one lookup each (see the header). */
enum route_step { ROUTE_MX, ROUTE_HOST, ROUTE_STS, ROUTE_PLAN, ROUTE_DONE };

struct ms_rtls_route {
	struct ms_env env;
	struct ms_dns_ctx *dns;        /* borrowed during the build */
	struct ms_sts *sts;            /* borrowed during the build */
	size_t max_mx, max_addrs;
	enum route_step step;
	size_t next_host;
	char domain[256];
	struct ms_sts_result *sts_result;
	char sts_note[256];
	/* the MTA-STS discovery's outcome, obtained by route_async.c
	 * (ms_sts_get_*) and read by the ROUTE_STS step */
	int sts_asked;
	ms_status sts_status;
	char sts_why[200];
	unsigned deadline_ms;          /* opts v2; 0: none */
	unsigned flags;
	size_t mx_total;
	char mx_note[256];
	enum ms_dns_outcome mx_outcome;
	int mx_ede;
	char mx_ede_text[200];
	struct ms_rtls_domain in;      /* what the engine gets */
	struct ms_rtls_route_host *hosts;
	size_t nalloc;                 /* hosts allocated (max_mx) */
	size_t nhosts;                 /* hosts in use */
	struct route_async *as;        /* the async build's state (route_async.c) */
};

/* route.c: argument checks and the initial state (*out NULL on error);
 * one step of the machine; free what a build allocated (not r itself). */
ms_status rtls_route_init(const struct ms_env *env, struct ms_dns_ctx *dns, struct ms_sts *sts,
			  const char *domain, enum ms_rtls_requirement requirement,
			  const struct ms_rtls_route_opts *opts, struct ms_rtls_route **out,
			  char *why, size_t whylen);
ms_status rtls_route_step(struct ms_rtls_route *r);
void rtls_route_clear(struct ms_rtls_route *r);
/* route_async.c: cancel and free the async state (NULL-safe). */
void rtls_route_async_free(struct ms_rtls_route *r);
/* route_lookup.c: one step each. */
ms_status rtls_route_mx(struct ms_rtls_route *r);
void rtls_route_host(struct ms_rtls_route *r, struct ms_rtls_route_host *h);
void rtls_route_sts(struct ms_rtls_route *r);
/* route_reasons.c */
void rtls_route_reasons(const struct ms_rtls_route *r, struct ms_rtls_route_host *h);

/* ms_rtls_route_no_host_outcome / ms_rtls_route_undeliverable on the
 * library's own full outcome (route_reasons.c). */
void rtls_route_no_host_outcome_fill(const struct ms_rtls_route *r, struct ms_rtls_outcome *out);
int rtls_route_undeliverable_fill(const struct ms_rtls_route *r, struct ms_rtls_outcome *out);

#endif
