/* pending.h - one lookup a caller waits for: a synchronous lookup's own
 * libunbound query, or an asynchronous caller waiting on a flight
 * (flight.h) that it may share with identical lookups. */
#ifndef MS_DNS_PENDING_H
#define MS_DNS_PENDING_H

#include "dns_internal.h"

struct ms_dns_pending {
	struct ms_dns_pending *next;
	struct ms_dns_pending *prev;  /* in ctx->pending only */
	int in_flight;                /* linked in ctx->pending (under ctx->lock) */
	struct ms_dns_ctx *ctx;
	uint16_t type;
	int ubid;
	uint64_t id;              /* async id handed to the caller */
	uint64_t started_ns;
	uint64_t deadline_ns;
	/* sync only: set under ctx->lock by the libunbound callback. */
	int done;
	int err;
	struct ub_result *ub;
	/* The owner gave up (timeout, cancel, free): the callback frees it. */
	int abandoned;
	/* async only */
	struct ms_dns_flight *flight; /* the query it waits for (NULL: custom) */
	struct ms_dns_pending *wnext; /* the flight's waiters */
	struct ms_dns_pending *wprev;
	ms_dns_callback cb;
	void *user;
	struct ms_dns_result *result; /* prepared result (custom or timeout) */
	/* the normalised name, allocated to its length: with 1,000 lookups in
	 * flight a fixed MS_DNS_NAME_MAX buffer tripled the records' size */
	char name[];
};

/* Append `p` to the context's done queue (async results waiting for
 * ms_dns_process).  Call with ctx->lock held. */
static inline void ms_dns_pending_enqueue_done(struct ms_dns_ctx *ctx,
					       struct ms_dns_pending *p)
{
	p->next = NULL;
	if (ctx->done_tail)
		ctx->done_tail->next = p;
	else
		ctx->done_head = p;
	ctx->done_tail = p;
}

/* Append `p` to the in-flight list.  Call with ctx->lock held. */
static inline void ms_dns_pending_link(struct ms_dns_ctx *ctx, struct ms_dns_pending *p)
{
	p->next = NULL;
	p->prev = ctx->pending_tail;
	if (ctx->pending_tail)
		ctx->pending_tail->next = p;
	else
		ctx->pending = p;
	ctx->pending_tail = p;
	p->in_flight = 1;
}

/* Take `p` out of the in-flight list.  Call with ctx->lock held. */
static inline void ms_dns_pending_unlink(struct ms_dns_ctx *ctx, struct ms_dns_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		ctx->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		ctx->pending_tail = p->prev;
	p->next = p->prev = NULL;
	p->in_flight = 0;
}

/* The libunbound callback of every synchronous query. */
void ms_dns_ub_callback(void *arg, int err, struct ub_result *result);

/* Stop waiting for `p`: cancel it in libunbound and free it now, or leave
 * it for the callback.  Call without ctx->lock held. */
void ms_dns_pending_abandon(struct ms_dns_ctx *ctx, struct ms_dns_pending *p);

#endif
