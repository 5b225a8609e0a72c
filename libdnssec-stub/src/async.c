/*
 * async.c - the event-loop API (submit, fd, process, cancel) and freeing a
 * context with lookups still in flight.
 *
 * Finished lookups are queued by the libunbound callback and delivered
 * only from ms_dns_process(), outside our lock, so user callbacks may
 * submit or cancel freely and never run in a thread the caller did not
 * expect (a synchronous waiter's ub_process() may finish async queries too).
 */
#include "pending.h"

#include <string.h>
#include <unbound.h>

ms_status ms_dns_submit(struct ms_dns_ctx *ctx, const char *name, uint16_t type,
			ms_dns_callback cb, void *user, uint64_t *id,
			char *why, size_t whylen)
{
	if (ctx == NULL || cb == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no context or callback");
	char norm[MS_DNS_NAME_MAX];
	ms_status st = ms_dns_name_normalize(name, norm, sizeof(norm), why, whylen);
	if (st != MS_OK)
		return st;
	size_t nl = strlen(norm);
	struct ms_dns_pending *p = ms_calloc(&ctx->env, 1, sizeof(*p) + nl + 1);
	if (p == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	p->ctx = ctx;
	memcpy(p->name, norm, nl + 1);
	p->type = type;
	p->async = 1;
	p->cb = cb;
	p->user = user;
	uint64_t timeout_ns = (uint64_t)ctx->timeout_ms * 1000000u;

	if (ctx->custom) {
		p->started_ns = ms_monotonic_ns();
		p->deadline_ns = p->started_ns + timeout_ns;
		/* Injected resolvers answer at once; deliver on the next process. */
		st = ctx->custom(ctx->custom_user, norm, type, &p->result);
		if (st != MS_OK || p->result == NULL) {
			ms_free(&ctx->env, p);
			return ms_why(why, whylen, st != MS_OK ? st : MS_ERR_INTERNAL,
				      "injected resolver failed");
		}
		/* p belongs to the queue once enqueued: another thread's
		 * ms_dns_process may deliver and free it at once, so the id is
		 * read under the lock */
		pthread_mutex_lock(&ctx->lock);
		uint64_t myid = p->id = ctx->next_id++;
		p->done = 1;
		ms_dns_pending_enqueue_done(ctx, p);
		pthread_mutex_unlock(&ctx->lock);
		if (id)
			*id = myid;
		return MS_OK;
	}

	/* Link first: the callback may run in another thread at once. */
	pthread_mutex_lock(&ctx->lock);
	p->id = ctx->next_id++;
	/* the deadline is taken under the lock so the list stays in deadline
	 * order even when threads submit at once */
	p->started_ns = ms_monotonic_ns();
	p->deadline_ns = p->started_ns + timeout_ns;
	ms_dns_pending_link(ctx, p);
	uint64_t myid = p->id;
	pthread_mutex_unlock(&ctx->lock);
	int rc = ub_resolve_async(ctx->ub, norm, type, 1, p, ms_dns_ub_callback,
				  &p->ubid);
	if (rc != 0) {
		pthread_mutex_lock(&ctx->lock);
		if (p->in_flight)
			ms_dns_pending_unlink(ctx, p);
		pthread_mutex_unlock(&ctx->lock);
		ms_free(&ctx->env, p);
		return ms_why(why, whylen, MS_ERR_INTERNAL, "ub_resolve_async: %s",
			      ub_strerror(rc));
	}
	if (id)
		*id = myid;
	return MS_OK;
}

int ms_dns_fd(struct ms_dns_ctx *ctx)
{
	return ctx && ctx->ub ? ub_fd(ctx->ub) : -1;
}

size_t ms_dns_pending(struct ms_dns_ctx *ctx)
{
	size_t n = 0;
	pthread_mutex_lock(&ctx->lock);
	for (struct ms_dns_pending *p = ctx->pending; p; p = p->next)
		n++;
	for (struct ms_dns_pending *p = ctx->done_head; p; p = p->next)
		n++;
	pthread_mutex_unlock(&ctx->lock);
	return n;
}

int ms_dns_next_timeout_ms(struct ms_dns_ctx *ctx)
{
	int ms = -1;
	uint64_t now = ms_monotonic_ns();
	pthread_mutex_lock(&ctx->lock);
	if (ctx->done_head) {
		ms = 0;
	} else if (ctx->pending) {
		/* the head has the nearest deadline (see dns_internal.h) */
		uint64_t d = ctx->pending->deadline_ns;
		uint64_t left = d > now ? d - now : 0;
		ms = (int)((left + 999999u) / 1000000u);
	}
	pthread_mutex_unlock(&ctx->lock);
	return ms;
}

ms_status ms_dns_process(struct ms_dns_ctx *ctx)
{
	if (ctx == NULL)
		return MS_ERR_INVALID;
	ms_status st = MS_OK;
	/* ub_process reads the answer pipe without blocking until it is
	 * empty (unbound.h: it may be called "whenever"); a ub_poll first
	 * was one more system call per round on top of the caller's poll. */
	if (ctx->ub && ub_process(ctx->ub) != 0)
		st = MS_ERR_INTERNAL;

	/* Take expired lookups out of flight; they are answered "timeout". */
	uint64_t now = ms_monotonic_ns();
	struct ms_dns_pending *expired = NULL;
	pthread_mutex_lock(&ctx->lock);
	/* in deadline order: stop at the first lookup still in time, so a
	 * round costs nothing per lookup in flight */
	struct ms_dns_pending **etail = &expired;
	while (ctx->pending && ctx->pending->deadline_ns <= now) {
		struct ms_dns_pending *p = ctx->pending;
		ms_dns_pending_unlink(ctx, p);
		*etail = p;
		etail = &p->next;
	}
	struct ms_dns_pending *ready = ctx->done_head;
	ctx->done_head = ctx->done_tail = NULL;
	pthread_mutex_unlock(&ctx->lock);

	while (expired) {
		struct ms_dns_pending *p = expired;
		expired = p->next;
		struct ms_dns_result *r = ms_dns_timeout_result(&ctx->env, p->name, p->type);
		ms_dns_callback cb = p->cb;
		void *user = p->user;
		uint64_t started = p->started_ns;
		ms_dns_pending_abandon(ctx, p);
		if (r == NULL) {
			st = MS_ERR_NOMEM;
			continue;
		}
		ms_dns_finish(ctx, r, started);
		cb(user, r);
	}
	while (ready) {
		struct ms_dns_pending *p = ready;
		ready = p->next;
		struct ms_dns_result *r = p->result;
		if (r == NULL) {
			r = ms_dns_from_ub(ctx, p->name, p->type, p->err, p->ub);
			ub_resolve_free(p->ub);
		}
		if (r == NULL) {
			st = MS_ERR_NOMEM;
			ms_free(&ctx->env, p);
			continue;
		}
		ms_dns_finish(ctx, r, p->started_ns);
		ms_dns_callback cb = p->cb;
		void *user = p->user;
		ms_free(&ctx->env, p);
		cb(user, r);
	}
	return st;
}

ms_status ms_dns_cancel(struct ms_dns_ctx *ctx, uint64_t id)
{
	if (ctx == NULL)
		return MS_ERR_INVALID;
	pthread_mutex_lock(&ctx->lock);
	for (struct ms_dns_pending *p = ctx->pending; p; p = p->next) {
		if (p->id == id) {
			ms_dns_pending_unlink(ctx, p);
			pthread_mutex_unlock(&ctx->lock);
			ms_dns_pending_abandon(ctx, p);
			return MS_OK;
		}
	}
	struct ms_dns_pending *prev = NULL;
	for (struct ms_dns_pending *p = ctx->done_head; p; prev = p, p = p->next) {
		if (p->id == id) {
			if (prev)
				prev->next = p->next;
			else
				ctx->done_head = p->next;
			if (ctx->done_tail == p)
				ctx->done_tail = prev;
			pthread_mutex_unlock(&ctx->lock);
			if (p->ub)
				ub_resolve_free(p->ub);
			ms_dns_result_free(p->result);
			ms_free(&ctx->env, p);
			return MS_OK;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return MS_ERR_INVALID;
}

void ms_dns_ctx_free(struct ms_dns_ctx *ctx)
{
	if (ctx == NULL)
		return;
	/* Drop undelivered results and in-flight queries.  ub_ctx_delete()
	 * stops the background thread; no callback can run after it. */
	if (ctx->ub) {
		pthread_mutex_lock(&ms_dns_ub_global_lock);
		ub_ctx_delete(ctx->ub);
		pthread_mutex_unlock(&ms_dns_ub_global_lock);
	}
	while (ctx->pending) {
		struct ms_dns_pending *p = ctx->pending;
		ctx->pending = p->next;
		ms_free(&ctx->env, p);
	}
	while (ctx->done_head) {
		struct ms_dns_pending *p = ctx->done_head;
		ctx->done_head = p->next;
		if (p->ub)
			ub_resolve_free(p->ub);
		ms_dns_result_free(p->result);
		ms_free(&ctx->env, p);
	}
	if (ctx->ub_log)
		fclose(ctx->ub_log);
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->log_lock);
	struct ms_env env = ctx->env;
	ms_free(&env, ctx);
}
