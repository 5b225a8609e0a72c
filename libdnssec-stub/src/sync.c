/*
 * sync.c - synchronous lookups with a deadline on a shared context.
 *
 * libunbound's own ub_resolve() has no overall deadline (an unreachable
 * authority costs tens of seconds), so every lookup is submitted with
 * ub_resolve_async() and waited for here.  Waiters on the same context
 * take turns as "leader": one thread polls the libunbound descriptor and
 * calls ub_process(), which runs the callbacks of whoever's queries
 * finished; the others sleep on a condition variable that the leader
 * signals after each round.  The leader polls in short slices so it also
 * notices answers that another thread's ub_process() delivered.
 */
#include "pending.h"

#include <poll.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#define LEADER_SLICE_MS 20

/* Asynchronous lookups have their own callback (flight.c). */
void ms_dns_ub_callback(void *arg, int err, struct ub_result *result)
{
	struct ms_dns_pending *p = arg;
	struct ms_dns_ctx *ctx = p->ctx;
	pthread_mutex_lock(&ctx->lock);
	if (p->abandoned) {
		pthread_mutex_unlock(&ctx->lock);
		ub_resolve_free(result);
		ms_free(&ctx->env, p);
		return;
	}
	p->done = 1;
	p->err = err;
	p->ub = result;
	pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->lock);
}

void ms_dns_pending_abandon(struct ms_dns_ctx *ctx, struct ms_dns_pending *p)
{
	int rc = ub_cancel(ctx->ub, p->ubid);
	pthread_mutex_lock(&ctx->lock);
	if (p->done) {
		/* The answer arrived while we were giving up. */
		pthread_mutex_unlock(&ctx->lock);
		ub_resolve_free(p->ub);
		ms_free(&ctx->env, p);
		return;
	}
	if (rc == 0) {
		/* Cancelled: libunbound will never call back. */
		pthread_mutex_unlock(&ctx->lock);
		ms_free(&ctx->env, p);
		return;
	}
	/* Being delivered by another thread right now: it frees p. */
	p->abandoned = 1;
	pthread_mutex_unlock(&ctx->lock);
}

static void deadline_to_timespec(uint64_t deadline_ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ns / 1000000000u);
	ts->tv_nsec = (long)(deadline_ns % 1000000000u);
}

/* Wait (ctx->lock held) until p is done or its deadline passed. */
static void wait_for(struct ms_dns_ctx *ctx, struct ms_dns_pending *p)
{
	while (!p->done) {
		uint64_t now = ms_monotonic_ns();
		if (now >= p->deadline_ns)
			return;
		if (!ctx->leader) {
			ctx->leader = 1;
			pthread_mutex_unlock(&ctx->lock);
			uint64_t left_ms = (p->deadline_ns - now) / 1000000u + 1;
			struct pollfd pfd = { .fd = ub_fd(ctx->ub), .events = POLLIN };
			poll(&pfd, 1, left_ms < LEADER_SLICE_MS ? (int)left_ms : LEADER_SLICE_MS);
			ub_process(ctx->ub);
			pthread_mutex_lock(&ctx->lock);
			ctx->leader = 0;
			pthread_cond_broadcast(&ctx->cond);
		} else {
			struct timespec ts;
			uint64_t until = now + LEADER_SLICE_MS * 1000000ull;
			deadline_to_timespec(until < p->deadline_ns ? until : p->deadline_ns, &ts);
			pthread_cond_timedwait(&ctx->cond, &ctx->lock, &ts);
		}
	}
}

ms_status ms_dns_sync_lookup(struct ms_dns_ctx *ctx, const char *name,
			     uint16_t type, int finish, struct ms_dns_result **out)
{
	uint64_t started = ms_monotonic_ns();
	*out = NULL;
	if (ctx->custom) {
		struct ms_dns_result *r = NULL;
		ms_status st = ctx->custom(ctx->custom_user, name, type, &r);
		if (st != MS_OK)
			return st;
		if (r == NULL)
			return MS_ERR_INTERNAL;
		if (finish)
			ms_dns_finish(ctx, r, started);
		*out = r;
		return MS_OK;
	}

	size_t nl = strnlen(name, MS_DNS_NAME_MAX - 1);
	struct ms_dns_pending *p = ms_calloc(&ctx->env, 1, sizeof(*p) + nl + 1);
	if (p == NULL)
		return MS_ERR_NOMEM;
	p->ctx = ctx;
	memcpy(p->name, name, nl);
	p->name[nl] = '\0';
	p->type = type;
	p->started_ns = started;
	p->deadline_ns = started + (uint64_t)ctx->timeout_ms * 1000000u;
	int rc = ub_resolve_async(ctx->ub, name, type, 1 /* IN */, p,
				  ms_dns_ub_callback, &p->ubid);
	if (rc != 0) {
		ms_free(&ctx->env, p);
		ms_log(&ctx->env, MS_LOG_ERROR, "dns", ub_strerror(rc), NULL, 0);
		return MS_ERR_INTERNAL;
	}
	pthread_mutex_lock(&ctx->lock);
	wait_for(ctx, p);
	int done = p->done;
	pthread_mutex_unlock(&ctx->lock);

	struct ms_dns_result *r;
	if (done) {
		r = ms_dns_from_ub(ctx, name, type, p->err, p->ub);
		ub_resolve_free(p->ub);
		ms_free(&ctx->env, p);
	} else {
		ms_dns_pending_abandon(ctx, p);
		r = ms_dns_timeout_result(&ctx->env, name, type);
	}
	if (r == NULL)
		return MS_ERR_NOMEM;
	if (finish)
		ms_dns_finish(ctx, r, started);
	*out = r;
	return MS_OK;
}
