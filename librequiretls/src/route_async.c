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
 * survives into a finished route).
 *
 * The MTA-STS discovery (libmtasts ms_sts_get_*, on the sts handle's own
 * resolver and a libcurl multi handle) starts with the route and is
 * stepped beside the rounds; when both ended, its result goes into the
 * route and the ROUTE_STS step and the plans run (CPU only).  The caller
 * polls one descriptor: with sts, an epoll set of ours holding the DNS
 * context's descriptor and the discovery's (itself an epoll set).
 *
 * The deadline (opts v2) is the batch's too: at it, pending lookups read
 * as timeouts (the usual fail-closed deferrals); a discovery still
 * pending fails the build with MS_ERR_TIMEOUT, never "no policy".
 *
 * Answers arrive in whichever thread calls ms_dns_process on the shared
 * context (the batch locks its table); a free cancels what it can and
 * waits for deliveries already under way.
 */
#include "route_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct route_async {
	struct ms_dns_batch *batch;   /* the table, its locking (libdnssec-stub) */
	struct ms_dns_ctx *dns;       /* borrowed until done */
	struct ms_sts *sts;
	struct ms_sts_get *sg;        /* the MTA-STS discovery, beside the lookups */
	int sg_done, settled;
	int epfd;                     /* the one fd with sts: dns fd + sg's fd */
	uint64_t deadline_ns;         /* 0: none */
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
	if (st == MS_ERR_TIMEOUT)
		snprintf(as->why, sizeof(as->why),
			 "route: the MTA-STS policy discovery was still pending at the deadline");
	else if (st != MS_OK)
		snprintf(as->why, sizeof(as->why), "route: %s",
			 st == MS_ERR_NOMEM ? "out of memory" : "the engine refused its input");
	/* dns and sts were lent for the build only: the discovery goes */
	ms_sts_get_free(as->sg);
	as->sg = NULL;
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

/* The MTA-STS discovery, stepped beside the lookups. */
static void step_sts(struct route_async *as, int *timeout_ms)
{
	if (as->sg == NULL || as->sg_done)
		return;
	int t = -1;
	if (ms_sts_get_step(as->sg, &t) == MS_STS_GET_DONE) {
		as->sg_done = 1;
		/* its descriptor leaves our set: nothing more to wait for there */
		if (as->epfd >= 0)
			epoll_ctl(as->epfd, EPOLL_CTL_DEL, ms_sts_get_fd(as->sg), NULL);
	}
	else if (timeout_ms && t >= 0 && t < *timeout_ms)
		*timeout_ms = t;
}

/* The lookups settled and the discovery ended: its result into the
 * route, then the MTA-STS step and the plans. */
static void conclude(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	r->sts = NULL;   /* the ROUTE_STS step reads the discovery's outcome */
	if (as->sts) {
		r->sts_asked = 1;
		/* without sg, the start refused: sts_status and sts_why were
		 * set then (and kept by every round's reset) */
		if (as->sg != NULL)
			r->sts_status = ms_sts_get_result(as->sg, &r->sts_result, r->sts_why,
							  sizeof(r->sts_why));
		if (r->sts_status == MS_ERR_NOMEM) {
			complete(r, MS_ERR_NOMEM);
			return;
		}
	}
	ms_status st = MS_OK;
	while (st == MS_OK && r->step != ROUTE_DONE)
		st = rtls_route_step(r);
	complete(r, st);
}

static int past_deadline(const struct route_async *as)
{
	return as->deadline_ns && ms_monotonic_ns() >= as->deadline_ns;
}

/* Advance as far as possible without waiting. */
static void advance(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	while (!as->settled) {
		enum ms_dns_batch_state bs;
		ms_status st = ms_dns_batch_step(as->batch, &bs);
		if (st != MS_OK) {
			/* a round wanted a name the table could not record */
			complete(r, st);
			return;
		}
		if (bs == MS_DNS_BATCH_PENDING)
			break;   /* wait for answers */
		if (bs == MS_DNS_BATCH_ROUND) {
			if ((st = round_run(r)) != MS_OK) {
				complete(r, st);
				return;
			}
			continue;
		}
		as->settled = 1;
	}
	if (as->settled && (as->sg == NULL || as->sg_done)) {
		conclude(r);
		return;
	}
	if (past_deadline(as)) {
		/* the batch closed itself (its deadline is ours); a discovery
		 * still pending is a temporary failure, never "no policy" */
		if (as->settled)
			complete(r, MS_ERR_TIMEOUT);
	}
}

void rtls_route_async_free(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	if (as == NULL)
		return;
	/* cancels what is in flight, waits for deliveries under way */
	ms_dns_batch_free(as->batch);
	ms_sts_get_free(as->sg);
	if (as->epfd >= 0)
		close(as->epfd);
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
	as->epfd = -1;
	as->dns = dns;
	as->sts = sts;
	as->done = done;
	as->user = user;
	if (ms_dns_batch_new(&r->env, dns, 0, &as->batch, NULL, 0) != MS_OK)
		goto nomem;
	if (r->deadline_ms) {
		/* the batch's first: it has closed when ours has passed */
		ms_dns_batch_set_deadline(as->batch, r->deadline_ms);
		as->deadline_ns = ms_monotonic_ns() + (uint64_t)r->deadline_ms * 1000000u;
	}
	if (sts) {
		/* the discovery runs beside the lookups; a refusal other than
		 * out of memory is the discovery's outcome (no usable policy,
		 * RFC 8461 s5.1), as ms_sts_get_policy's would be */
		char swhy[200] = "";
		ms_status sst = ms_sts_get_start(sts, r->domain, &as->sg, swhy, sizeof(swhy));
		if (sst == MS_ERR_NOMEM)
			goto nomem;
		if (sst != MS_OK) {
			as->sg_done = 1;
			r->sts_status = sst;
			snprintf(r->sts_why, sizeof(r->sts_why), "%s", swhy);
		}
		/* one descriptor for the caller: the DNS context's and the
		 * discovery's (itself an epoll set) in an epoll set of ours */
		as->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (as->epfd < 0)
			goto nomem;
		int fds[2] = { ms_dns_fd(dns), ms_sts_get_fd(as->sg) };
		for (int i = 0; i < 2; i++) {
			struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
			if (fds[i] >= 0 && epoll_ctl(as->epfd, EPOLL_CTL_ADD, fds[i], &ev) != 0 &&
			    errno != EEXIST)
				goto nomem;
		}
	}
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
	if (r == NULL || r->as == NULL || r->as->finished)
		return -1;
	return r->as->epfd >= 0 ? r->as->epfd : ms_dns_fd(r->as->dns);
}

enum ms_rtls_route_state ms_rtls_route_step(struct ms_rtls_route *r, int *timeout_ms)
{
	if (timeout_ms)
		*timeout_ms = 0;
	if (r == NULL || r->as == NULL)
		return MS_RTLS_ROUTE_DONE;
	struct route_async *as = r->as;
	int t = 1000;   /* another thread may deliver: look again soon */
	if (!as->finished) {
		ms_dns_process(as->dns);
		step_sts(as, &t);
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
		int d = as->settled ? -1 : ms_dns_batch_timeout_ms(as->batch);
		if (d >= 0 && d < t)
			t = d;
		if (as->deadline_ns) {
			uint64_t now = ms_monotonic_ns();
			int left = now >= as->deadline_ns ? 0
				   : (int)((as->deadline_ns - now + 999999u) / 1000000u);
			if (left < t)
				t = left;
		}
		*timeout_ms = t;
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
