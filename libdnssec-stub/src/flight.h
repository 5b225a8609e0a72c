/*
 * flight.h - one libunbound query in flight for asynchronous lookups,
 * shared by every identical lookup (same normalised name and type) that is
 * submitted while it is in flight: the way Go's net.Resolver coalesces with
 * singleflight.  The flight is the libunbound callback argument; each
 * caller keeps its own pending record (id, callback, start, deadline).
 *
 * Lifetime: `refs` counts the owners, all under ctx->lock: one per waiter
 * (attached, in flight or queued for delivery), one for libunbound until
 * its callback ran or ub_cancel() said it never will, and one for a thread
 * that works on the flight outside the lock (the submitter while it calls
 * ub_resolve_async, a canceller while it calls ub_cancel).  Whoever drops
 * the last reference frees it.
 */
#ifndef MS_DNS_FLIGHT_H
#define MS_DNS_FLIGHT_H

#include "pending.h"

struct ms_dns_flight {
	struct ms_dns_flight *hnext;   /* hash chain, while joinable */
	struct ms_dns_flight *anext;   /* ctx->flights: every live flight ... */
	struct ms_dns_flight *aprev;   /* ... so ms_dns_ctx_free frees them all */
	struct ms_dns_flight *tnext;   /* a caller's local to-do list ... */
	int todo;                      /* ... and what to do (ms_dns_flight_act) */
	struct ms_dns_ctx *ctx;
	struct ms_dns_pending *whead;  /* waiters, in join order */
	struct ms_dns_pending *wtail;
	size_t nwait;
	unsigned refs;
	uint32_t hash;
	uint16_t type;
	int ubid;
	int hashed;                    /* in the table: a submit may join */
	int launched;                  /* ubid is valid */
	int done;                      /* libunbound answered (or failed) */
	int err;
	struct ub_result *ub;
	/* Converted once by the ms_dns_process call that took the waiters;
	 * only that call touches these, outside the lock. */
	int converted;
	size_t delivered;
	struct ms_dns_result *result;
	size_t nlen;
	char name[];
};

/* What a caller must do, outside the lock, after a detach or unref. */
enum ms_dns_flight_act { MS_FLIGHT_KEEP, MS_FLIGHT_FREE, MS_FLIGHT_CANCEL };

/* Hash of a normalised name and type (the table key). */
uint32_t ms_dns_flight_hash(const char *name, size_t nlen, uint16_t type);

/* Under ctx->lock: the joinable flight for (name, type), or NULL. */
struct ms_dns_flight *ms_dns_flight_find(struct ms_dns_ctx *ctx, const char *name,
					 size_t nlen, uint16_t type, uint32_t hash);

/* Under ctx->lock: a new joinable flight, owned by the caller (launching)
 * and by libunbound; NULL when out of memory. */
struct ms_dns_flight *ms_dns_flight_new(struct ms_dns_ctx *ctx, const char *name,
					size_t nlen, uint16_t type, uint32_t hash);

/* Under ctx->lock: make `p` a waiter of `f`. */
void ms_dns_flight_attach(struct ms_dns_flight *f, struct ms_dns_pending *p);

/* Under ctx->lock: `p` (already out of ctx's lists) stops waiting for its
 * flight.  MS_FLIGHT_CANCEL: it was the last waiter of an unanswered,
 * launched query; call ms_dns_flight_cancel (the reference of `p` passed
 * to that call).  MS_FLIGHT_FREE: call ms_dns_flight_free. */
enum ms_dns_flight_act ms_dns_flight_detach(struct ms_dns_ctx *ctx, struct ms_dns_pending *p);

/* Under ctx->lock: drop `n` references; MS_FLIGHT_FREE when none is left
 * (the flight is then out of every list). */
enum ms_dns_flight_act ms_dns_flight_unref(struct ms_dns_ctx *ctx, struct ms_dns_flight *f,
					   unsigned n);

/* Under ctx->lock: the query is answered (or could not start, err != 0):
 * every waiter moves to the delivery queue; nobody joins any more. */
void ms_dns_flight_land(struct ms_dns_ctx *ctx, struct ms_dns_flight *f, int err,
			struct ub_result *ub);

/* Without the lock: cancel the libunbound query of a flight nobody waits
 * for any more, dropping the caller's reference. */
void ms_dns_flight_cancel(struct ms_dns_ctx *ctx, struct ms_dns_flight *f);

/* Free a flight that is out of every list (or the context is going). */
void ms_dns_flight_free(struct ms_dns_ctx *ctx, struct ms_dns_flight *f);

/* Carry out an act returned above (without the lock). */
static inline void ms_dns_flight_act(struct ms_dns_ctx *ctx, struct ms_dns_flight *f,
				     enum ms_dns_flight_act act)
{
	if (act == MS_FLIGHT_FREE)
		ms_dns_flight_free(ctx, f);
	else if (act == MS_FLIGHT_CANCEL)
		ms_dns_flight_cancel(ctx, f);
}

/* The result for the next of a landed flight's waiters, in the
 * ms_dns_process call that took them all from the delivery queue: the
 * answer is converted (and its CNAME chain checked) once, every waiter but
 * the last gets a copy, the last the original and the flight is released.
 * NULL when out of memory. */
struct ms_dns_result *ms_dns_flight_take(struct ms_dns_ctx *ctx, struct ms_dns_flight *f);

/* The libunbound callback of every asynchronous query (arg: the flight). */
void ms_dns_flight_cb(void *arg, int err, struct ub_result *result);

/* ms_dns_ctx_free, after ub_ctx_delete: free every flight and the table. */
void ms_dns_flight_free_all(struct ms_dns_ctx *ctx);

#endif
