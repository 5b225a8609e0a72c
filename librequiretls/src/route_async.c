/*
 * route_async.c - the route's async shape (issue 15): ms_rtls_route_start,
 * _fd, _step, _status, and the cancel of ms_rtls_route_free.
 *
 * Design (the one of libspfdkim's auth_async.c): the lookup steps of the
 * machine (MX, then every host's addresses and DANE lookup) run in rounds
 * against the view of a lookup batch (libdnssec-stub, ms_dns_batch_*),
 * which answers from the lookups fetched so far and records every other
 * name as wanted ("timeout" for now).  Each round starts from the route's
 * initial state; the batch submits what a round wanted, all at once.  So
 * the MX lookup goes first, then the A and AAAA of every host together,
 * then every host's TLSA together.  A round that wanted nothing read only
 * real answers (the batch settled): its results are exactly those of the
 * synchronous lookups, with the same fail-closed mapping (route_lookup.c
 * is the only code that reads them; a "timeout" placeholder never
 * survives into a finished route).  The MTA-STS step (libmtasts, on the
 * sts handle's own DNS context and HTTPS) then runs synchronously, and
 * the plans.
 *
 * Answers arrive in whichever thread calls ms_dns_process on the shared
 * context (the batch locks its table); a free cancels what it can and
 * waits for deliveries already under way.
 */
#include "route_internal.h"

#include <stdio.h>
#include <string.h>

struct route_async {
	struct ms_dns_batch *batch;   /* the table, its locking (libdnssec-stub) */
	struct ms_dns_ctx *dns;       /* borrowed until done */
	struct ms_sts *sts;
	struct ms_rtls_route pristine; /* the state before the first step */
	ms_rtls_route_done_fn done;
	void *user;
	int finished, notified;
	ms_status status;
	char why[200];
};

static void complete(struct ms_rtls_route *r, ms_status st)
{
	struct route_async *as = r->as;
	as->finished = 1;
	as->status = st;
	if (st != MS_OK)
		snprintf(as->why, sizeof(as->why), "route: %s",
			 st == MS_ERR_NOMEM ? "out of memory" : "the engine refused its input");
	/* dns and sts were lent for the build only */
	r->dns = NULL;
	r->sts = NULL;
}

/* One round: the lookup steps from the initial state against the table. */
static ms_status round_run(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	rtls_route_clear(r);
	*r = as->pristine;
	r->as = as;
	r->dns = ms_dns_batch_view(as->batch);
	ms_status st = MS_OK;
	while (st == MS_OK && (r->step == ROUTE_MX || r->step == ROUTE_HOST))
		st = rtls_route_step(r);
	return st;
}

/* Advance as far as possible without waiting. */
static void advance(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	for (;;) {
		enum ms_dns_batch_state bs;
		ms_status st = ms_dns_batch_step(as->batch, &bs);
		if (st != MS_OK) {
			/* a round wanted a name the table could not record */
			complete(r, st);
			return;
		}
		if (bs == MS_DNS_BATCH_PENDING)
			return;   /* wait for answers */
		if (bs == MS_DNS_BATCH_ROUND) {
			if ((st = round_run(r)) != MS_OK) {
				complete(r, st);
				return;
			}
			continue;
		}
		/* every lookup answered: MTA-STS (synchronous) and the plans */
		r->sts = as->sts;
		while (st == MS_OK && r->step != ROUTE_DONE)
			st = rtls_route_step(r);
		complete(r, st);
		return;
	}
}

void rtls_route_async_free(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	if (as == NULL)
		return;
	/* cancels what is in flight, waits for deliveries under way */
	ms_dns_batch_free(as->batch);
	ms_free(&r->env, as);
	r->as = NULL;
}

ms_status ms_rtls_route_start(const struct ms_env *env, struct ms_dns_ctx *dns,
			      struct ms_sts *sts, const char *domain,
			      enum ms_rtls_requirement requirement,
			      const struct ms_rtls_route_opts *opts, ms_rtls_route_done_fn done,
			      void *user, struct ms_rtls_route **out, char *why, size_t whylen)
{
	struct ms_rtls_route *r = NULL;
	if (out)
		*out = NULL;
	ms_status st = rtls_route_init(env, dns, sts, domain, requirement, opts,
				       out ? &r : NULL, why, whylen);
	if (st != MS_OK)
		return st;
	struct route_async *as = ms_calloc(&r->env, 1, sizeof(*as));
	if (as == NULL)
		goto nomem;
	r->as = as;
	as->dns = dns;
	as->sts = sts;
	as->done = done;
	as->user = user;
	if (ms_dns_batch_new(&r->env, dns, 0, &as->batch, NULL, 0) != MS_OK)
		goto nomem;
	as->pristine = *r;
	advance(r);   /* the first round runs now */
	*out = r;
	return MS_OK;
nomem:
	ms_rtls_route_free(r);
	return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
}

int ms_rtls_route_fd(const struct ms_rtls_route *r)
{
	return r && r->as && !r->as->finished ? ms_dns_fd(r->as->dns) : -1;
}

enum ms_rtls_route_state ms_rtls_route_step(struct ms_rtls_route *r, int *timeout_ms)
{
	if (timeout_ms)
		*timeout_ms = 0;
	if (r == NULL || r->as == NULL)
		return MS_RTLS_ROUTE_DONE;
	struct route_async *as = r->as;
	if (!as->finished) {
		ms_dns_process(as->dns);
		advance(r);
	}
	if (as->finished) {
		if (!as->notified) {
			as->notified = 1;
			if (as->done)
				as->done(as->user, r, as->status);   /* may free r */
		}
		return MS_RTLS_ROUTE_DONE;
	}
	if (timeout_ms) {
		int d = ms_dns_batch_timeout_ms(as->batch);
		/* another thread may deliver: look again soon */
		*timeout_ms = d >= 0 && d < 1000 ? d : 1000;
	}
	return MS_RTLS_ROUTE_PENDING;
}

ms_status ms_rtls_route_status(const struct ms_rtls_route *r, char *why, size_t whylen)
{
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "route: NULL argument");
	if (r->as == NULL || !r->as->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "route: not finished");
	if (r->as->status != MS_OK)
		return ms_why(why, whylen, r->as->status, "%s", r->as->why);
	return MS_OK;
}
