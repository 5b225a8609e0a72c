/*
 * async.c - the event-loop API (submit, fd, process, cancel) and freeing a
 * context with lookups still in flight.
 *
 * Finished lookups are queued by the libunbound callback and delivered
 * only from ms_dns_process(), outside our lock, so user callbacks may
 * submit or cancel freely and never run in a thread the caller did not
 * expect (a synchronous waiter's ub_process() may finish async queries too).
 *
 * A lookup identical to one whose libunbound query is still in flight
 * joins that query (flight.h); each waiter keeps its own id, callback,
 * start and deadline and gets its own copy of the answer.
 */
#include "flight.h"

#include <string.h>
#include <unbound.h>

/* Start a libunbound query for the new flight `f`, whose first waiter is
 * `p`; both are linked.  MS_OK, or the error for a query that could not
 * start (p is then freed, and waiters that joined meanwhile are answered
 * SERVFAIL). */
static ms_status launch(struct ms_dns_ctx *ctx, struct ms_dns_flight *f,
			struct ms_dns_pending *p, const char *norm, uint16_t type,
			char *why, size_t whylen)
{
	int ubid = 0;
	int rc = ub_resolve_async(ctx->ub, norm, type, 1, f, ms_dns_flight_cb, &ubid);
	pthread_mutex_lock(&ctx->lock);
	if (rc != 0) {
		/* p may have been cancelled or expired meanwhile (and freed by
		 * that thread): only pointers are compared until it is found */
		int mine = 0;
		for (struct ms_dns_pending *w = f->whead; w; w = w->wnext)
			mine |= w == p;
		if (mine) {
			ms_dns_pending_unlink(ctx, p);
			(void)ms_dns_flight_detach(ctx, p);  /* not launched: keeps f */
		}
		if (f->nwait > 0)
			ms_dns_flight_land(ctx, f, rc, NULL);
		/* libunbound's reference and ours */
		enum ms_dns_flight_act act = ms_dns_flight_unref(ctx, f, 2);
		pthread_mutex_unlock(&ctx->lock);
		ms_dns_flight_act(ctx, f, act);
		if (!mine)
			return MS_OK;  /* its callback got (or gets) a timeout */
		ms_free(&ctx->env, p);
		return ms_why(why, whylen, MS_ERR_INTERNAL, "ub_resolve_async: %s",
			      ub_strerror(rc));
	}
	f->ubid = ubid;
	f->launched = 1;
	if (f->nwait == 0 && !f->done) {
		/* every waiter left before the query was started */
		pthread_mutex_unlock(&ctx->lock);
		ms_dns_flight_cancel(ctx, f);
		return MS_OK;
	}
	enum ms_dns_flight_act act = ms_dns_flight_unref(ctx, f, 1);
	pthread_mutex_unlock(&ctx->lock);
	ms_dns_flight_act(ctx, f, act);
	return MS_OK;
}

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

	uint32_t hash = ms_dns_flight_hash(norm, nl, type);
	/* Link first: the callback may run in another thread at once. */
	pthread_mutex_lock(&ctx->lock);
	p->id = ctx->next_id++;
	/* the deadline is taken under the lock so the list stays in deadline
	 * order even when threads submit at once */
	p->started_ns = ms_monotonic_ns();
	p->deadline_ns = p->started_ns + timeout_ns;
	uint64_t myid = p->id;
	struct ms_dns_flight *f = ms_dns_flight_find(ctx, norm, nl, type, hash);
	int joined = f != NULL;
	if (f == NULL && (f = ms_dns_flight_new(ctx, norm, nl, type, hash)) == NULL) {
		pthread_mutex_unlock(&ctx->lock);
		ms_free(&ctx->env, p);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	ms_dns_pending_link(ctx, p);
	ms_dns_flight_attach(f, p);
	pthread_mutex_unlock(&ctx->lock);
	if (joined) {
		char tbuf[16];
		struct ms_kv label = { "type", ms_dns_type_str(type, tbuf, sizeof(tbuf)) };
		ms_metric(&ctx->env, MS_METRIC_COUNTER, "dns_lookups_coalesced_total", &label, 1, 1);
	} else if ((st = launch(ctx, f, p, norm, type, why, whylen)) != MS_OK) {
		return st;
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

/* Take `p` (out of ctx's lists) off its flight; the flight is added to
 * `todo` when the caller must cancel or free it.  Under ctx->lock. */
static void leave(struct ms_dns_ctx *ctx, struct ms_dns_pending *p, struct ms_dns_flight **todo)
{
	struct ms_dns_flight *f = p->flight;
	if (f == NULL)
		return;
	enum ms_dns_flight_act act = ms_dns_flight_detach(ctx, p);
	if (act != MS_FLIGHT_KEEP) {
		f->todo = (int)act;
		f->tnext = *todo;
		*todo = f;
	}
}

static void do_todo(struct ms_dns_ctx *ctx, struct ms_dns_flight *todo)
{
	while (todo) {
		struct ms_dns_flight *f = todo;
		todo = f->tnext;
		ms_dns_flight_act(ctx, f, (enum ms_dns_flight_act)f->todo);
	}
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
	struct ms_dns_flight *todo = NULL;
	pthread_mutex_lock(&ctx->lock);
	/* in deadline order: stop at the first lookup still in time, so a
	 * round costs nothing per lookup in flight.  Each waiter expires on
	 * its own; a shared query goes only with its last waiter. */
	struct ms_dns_pending **etail = &expired;
	while (ctx->pending && ctx->pending->deadline_ns <= now) {
		struct ms_dns_pending *p = ctx->pending;
		ms_dns_pending_unlink(ctx, p);
		leave(ctx, p, &todo);
		*etail = p;
		etail = &p->next;
	}
	struct ms_dns_pending *ready = ctx->done_head;
	ctx->done_head = ctx->done_tail = NULL;
	pthread_mutex_unlock(&ctx->lock);
	do_todo(ctx, todo);

	while (expired) {
		struct ms_dns_pending *p = expired;
		expired = p->next;
		struct ms_dns_result *r = ms_dns_timeout_result(&ctx->env, p->name, p->type);
		ms_dns_callback cb = p->cb;
		void *user = p->user;
		uint64_t started = p->started_ns;
		ms_free(&ctx->env, p);
		if (r == NULL) {
			/* answered all the same: a failure, never left waiting */
			st = MS_ERR_NOMEM;
			cb(user, ms_dns_oom_result());
			continue;
		}
		ms_dns_finish(ctx, r, started);
		cb(user, r);
	}
	while (ready) {
		struct ms_dns_pending *p = ready;
		ready = p->next;
		struct ms_dns_result *r = p->result;
		if (p->flight != NULL)
			r = ms_dns_flight_take(ctx, p->flight);  /* converted once */
		else
			ms_dns_finish_cname(ctx, r);
		ms_dns_callback cb = p->cb;
		void *user = p->user;
		uint64_t started = p->started_ns;
		ms_free(&ctx->env, p);
		if (r == NULL) {
			/* answered all the same: a failure, never left waiting */
			st = MS_ERR_NOMEM;
			cb(user, ms_dns_oom_result());
			continue;
		}
		ms_dns_report(ctx, r, started);
		cb(user, r);
	}
	return st;
}

ms_status ms_dns_cancel(struct ms_dns_ctx *ctx, uint64_t id)
{
	if (ctx == NULL)
		return MS_ERR_INVALID;
	struct ms_dns_flight *todo = NULL;
	struct ms_dns_pending *found = NULL;
	pthread_mutex_lock(&ctx->lock);
	for (struct ms_dns_pending *p = ctx->pending; p && !found; p = p->next) {
		if (p->id == id) {
			ms_dns_pending_unlink(ctx, p);
			found = p;
		}
	}
	struct ms_dns_pending *prev = NULL;
	for (struct ms_dns_pending *p = ctx->done_head; p && !found; prev = p, p = p->next) {
		if (p->id == id) {
			if (prev)
				prev->next = p->next;
			else
				ctx->done_head = p->next;
			if (ctx->done_tail == p)
				ctx->done_tail = prev;
			found = p;
		}
	}
	/* only this waiter leaves; the query goes with the last one */
	if (found)
		leave(ctx, found, &todo);
	pthread_mutex_unlock(&ctx->lock);
	if (found == NULL)
		return MS_ERR_INVALID;
	do_todo(ctx, todo);
	ms_dns_result_free(found->result);
	ms_free(&ctx->env, found);
	return MS_OK;
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
		ms_dns_result_free(p->result);
		ms_free(&ctx->env, p);
	}
	/* flights, shared or not, answered or not, and those whose callback
	 * will never come now */
	ms_dns_flight_free_all(ctx);
	if (ctx->ub_log)
		fclose(ctx->ub_log);
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->log_lock);
	struct ms_env env = ctx->env;
	ms_free(&env, ctx);
}
