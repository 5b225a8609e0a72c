/*
 * auth_internal.h - the state of one inbound message (struct ms_auth),
 * shared by auth.c (feed and finish), auth_header.c (the fields) and
 * auth_get.c (getters).  Everything lives in the handle: the later async
 * shape steps the same state.
 */
#ifndef MS_AUTH_INTERNAL_H
#define MS_AUTH_INTERNAL_H

#include "ms_common.h"
#include "mailsec/auth.h"


struct ms_auth {
	struct ms_env env;
	struct ms_dns_ctx *dns;            /* borrowed */
	char *authserv_id, *ip, *helo, *mail_from;
	unsigned flags, iprev_max_names, deadline_ms;
	int finished;

	/* the async engine (auth_async.c): the evaluators the handle owns
	 * resolve through `view`, the view of `batch` (libdnssec-stub's
	 * lookup batch: the table, its locking, the deadline) */
	struct ms_dns_batch *batch;
	struct ms_dns_ctx *view;
	int final, notified;
	enum ms_auth_state state;
	ms_status status;
	char why[256];
	ms_auth_done_fn done;
	void *done_user;

	/* evaluators: borrowed from the options or owned (*_own) */
	struct ms_dkim_verifier *dkim, *dkim_own;
	struct ms_spf *spf, *spf_own;
	struct ms_dmarc *dmarc, *dmarc_own;

	/* streaming: the DKIM verifier sees every byte; the header section
	 * is kept (up to MS_DMARC_MAX_HEADER_SCAN) for the From scan */
	struct ms_dkim_verify *vf;
	struct ms_buf hdr;
	int hdr_done, hdr_over, nl_state;

	/* results */
	struct ms_spf_verdict *sv;
	struct ms_iprev_verdict *iv;
	enum ms_dmarc_dkim_result *dres;   /* per signature, mapped once */
	enum ms_dmarc_from_outcome from_outcome;
	char from_domain[256];
	char from_why[200];
	struct ms_dmarc_verdict *mv;
	char *ar_header, *received_spf;
	enum ms_auth_disposition disposition;
};

/* auth_async.c: the lookup batch and its view */
ms_status ms_auth_view_new(struct ms_auth *a);
void ms_auth_view_free(struct ms_auth *a);
/* auth.c: the From scan (at start) and the final step (DKIM, DMARC,
 * disposition, fields), with a->why set on failure */
ms_status ms_auth_scan_from(struct ms_auth *a);
ms_status ms_auth_conclude(struct ms_auth *a);

/* Write a->ar_header and a->received_spf from the results. */
ms_status ms_auth_write_fields(struct ms_auth *a, char *why, size_t whylen);

#endif
