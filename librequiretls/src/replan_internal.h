/* replan_internal.h - the re-plan handle's layout, shared by replan*.c (not installed). */
#ifndef RTLS_REPLAN_INTERNAL_H
#define RTLS_REPLAN_INTERNAL_H

#include "route_internal.h"

#include <mailsec/requiretls_replan.h>

/* A host's strings live beside its public view. */
struct rtls_replan_host {
	char name[256];
	char summary[512];
};

struct rtls_replan_dom {
	char domain[256];
	struct ms_rtls_replan_domain pub;
	struct ms_rtls_replan_host *hosts;   /* pub.hosts points here */
	struct rtls_replan_host *text;       /* names and summaries */
};

struct ms_rtls_replan {
	struct ms_env env;
	enum ms_rtls_requirement before, after;
	enum ms_rtls_tlsreq tlsreq;
	uint8_t *header;                     /* the rewritten header section */
	size_t header_len;
	size_t body_offset;
	size_t removed;
	int added;
	char params[MS_RTLS_MAX_LINE + 16];
	struct rtls_replan_dom *doms;        /* MS_RTLS_REPLAN_MAX_DOMAINS */
	size_t ndoms;
};

#endif
