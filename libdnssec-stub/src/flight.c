/*
 * flight.c - coalescing identical asynchronous lookups in flight (see
 * flight.h): the (name, type) table, waiters joining and leaving, the
 * libunbound callback, cancelling a query its last waiter left.
 *
 * The table is a chained hash table under ctx->lock that doubles when it
 * holds as many flights as buckets, so a submit costs O(1) however many
 * lookups are in flight.  A table that cannot grow (out of memory) stays
 * correct, only longer chains; a flight that cannot be entered at all is
 * simply not joinable.
 */
#include "flight.h"

#include <string.h>
#include <unbound.h>

#define TABLE_MIN 64

uint32_t ms_dns_flight_hash(const char *name, size_t nlen, uint16_t type)
{
	/* FNV-1a: names are short, and normalised (lower case) */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < nlen; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	h = (h ^ (type & 0xff)) * 16777619u;
	h = (h ^ (type >> 8)) * 16777619u;
	return h;
}

struct ms_dns_flight *ms_dns_flight_find(struct ms_dns_ctx *ctx, const char *name,
					 size_t nlen, uint16_t type, uint32_t hash)
{
	if (ctx->ftab_size == 0)
		return NULL;
	for (struct ms_dns_flight *f = ctx->ftab[hash & (ctx->ftab_size - 1)]; f; f = f->hnext)
		if (f->hash == hash && f->type == type && f->nlen == nlen &&
		    memcmp(f->name, name, nlen) == 0)
			return f;
	return NULL;
}

static void table_grow(struct ms_dns_ctx *ctx)
{
	size_t n = ctx->ftab_size ? ctx->ftab_size * 2 : TABLE_MIN;
	struct ms_dns_flight **t = ms_calloc(&ctx->env, n, sizeof(*t));
	if (t == NULL)
		return;
	for (size_t i = 0; i < ctx->ftab_size; i++) {
		while (ctx->ftab[i]) {
			struct ms_dns_flight *f = ctx->ftab[i];
			ctx->ftab[i] = f->hnext;
			f->hnext = t[f->hash & (n - 1)];
			t[f->hash & (n - 1)] = f;
		}
	}
	ms_free(&ctx->env, ctx->ftab);
	ctx->ftab = t;
	ctx->ftab_size = n;
}

static void unhash(struct ms_dns_ctx *ctx, struct ms_dns_flight *f)
{
	if (!f->hashed)
		return;
	struct ms_dns_flight **pp = &ctx->ftab[f->hash & (ctx->ftab_size - 1)];
	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	f->hnext = NULL;
	f->hashed = 0;
	ctx->fhashed--;
}

struct ms_dns_flight *ms_dns_flight_new(struct ms_dns_ctx *ctx, const char *name,
					size_t nlen, uint16_t type, uint32_t hash)
{
	struct ms_dns_flight *f = ms_calloc(&ctx->env, 1, sizeof(*f) + nlen + 1);
	if (f == NULL)
		return NULL;
	f->ctx = ctx;
	f->type = type;
	f->hash = hash;
	f->nlen = nlen;
	memcpy(f->name, name, nlen);
	f->refs = 2;   /* the launching submitter and libunbound */
	if (ctx->fhashed >= ctx->ftab_size)
		table_grow(ctx);
	if (ctx->ftab_size > 0) {
		struct ms_dns_flight **b = &ctx->ftab[hash & (ctx->ftab_size - 1)];
		f->hnext = *b;
		*b = f;
		f->hashed = 1;
		ctx->fhashed++;
	}
	f->anext = ctx->flights;
	if (ctx->flights)
		ctx->flights->aprev = f;
	ctx->flights = f;
	return f;
}

void ms_dns_flight_attach(struct ms_dns_flight *f, struct ms_dns_pending *p)
{
	p->flight = f;
	p->wnext = NULL;
	p->wprev = f->wtail;
	if (f->wtail)
		f->wtail->wnext = p;
	else
		f->whead = p;
	f->wtail = p;
	f->nwait++;
	f->refs++;
}

enum ms_dns_flight_act ms_dns_flight_unref(struct ms_dns_ctx *ctx, struct ms_dns_flight *f,
					   unsigned n)
{
	f->refs -= n;
	if (f->refs > 0)
		return MS_FLIGHT_KEEP;
	unhash(ctx, f);
	if (f->aprev)
		f->aprev->anext = f->anext;
	else
		ctx->flights = f->anext;
	if (f->anext)
		f->anext->aprev = f->aprev;
	f->anext = f->aprev = NULL;
	return MS_FLIGHT_FREE;
}

enum ms_dns_flight_act ms_dns_flight_detach(struct ms_dns_ctx *ctx, struct ms_dns_pending *p)
{
	struct ms_dns_flight *f = p->flight;
	if (p->wprev)
		p->wprev->wnext = p->wnext;
	else
		f->whead = p->wnext;
	if (p->wnext)
		p->wnext->wprev = p->wprev;
	else
		f->wtail = p->wprev;
	p->wnext = p->wprev = NULL;
	p->flight = NULL;
	f->nwait--;
	if (f->nwait == 0 && !f->done) {
		/* nobody waits: no later submit may join a query that is being
		 * cancelled */
		unhash(ctx, f);
		/* before ub_resolve_async returned, its submitter cancels */
		if (f->launched)
			return MS_FLIGHT_CANCEL;  /* p's reference goes with it */
	}
	return ms_dns_flight_unref(ctx, f, 1);
}

void ms_dns_flight_land(struct ms_dns_ctx *ctx, struct ms_dns_flight *f, int err,
			struct ub_result *ub)
{
	unhash(ctx, f);
	f->done = 1;
	f->err = err;
	f->ub = ub;
	/* all at once, in join order: one ms_dns_process call takes them all
	 * (async.c relies on it to convert the answer once) */
	for (struct ms_dns_pending *w = f->whead; w; w = w->wnext) {
		ms_dns_pending_unlink(ctx, w);
		ms_dns_pending_enqueue_done(ctx, w);
	}
}

void ms_dns_flight_cb(void *arg, int err, struct ub_result *result)
{
	struct ms_dns_flight *f = arg;
	struct ms_dns_ctx *ctx = f->ctx;
	pthread_mutex_lock(&ctx->lock);
	if (f->nwait > 0) {
		ms_dns_flight_land(ctx, f, err, result);
		result = NULL;
	}
	/* libunbound's reference; with no waiter the answer is dropped */
	enum ms_dns_flight_act act = ms_dns_flight_unref(ctx, f, 1);
	pthread_mutex_unlock(&ctx->lock);
	if (result)
		ub_resolve_free(result);
	ms_dns_flight_act(ctx, f, act);
}

void ms_dns_flight_cancel(struct ms_dns_ctx *ctx, struct ms_dns_flight *f)
{
	/* 0: libunbound will never call back (it takes the query out of its
	 * table when it reads the answer, under the same lock as ub_cancel);
	 * otherwise the callback runs or ran and drops its own reference */
	int rc = ub_cancel(ctx->ub, f->ubid);
	pthread_mutex_lock(&ctx->lock);
	enum ms_dns_flight_act act = ms_dns_flight_unref(ctx, f, rc == 0 ? 2 : 1);
	pthread_mutex_unlock(&ctx->lock);
	ms_dns_flight_act(ctx, f, act);
}

void ms_dns_flight_free(struct ms_dns_ctx *ctx, struct ms_dns_flight *f)
{
	if (f->ub)
		ub_resolve_free(f->ub);
	ms_dns_result_free(f->result);
	ms_free(&ctx->env, f);
}

void ms_dns_flight_free_all(struct ms_dns_ctx *ctx)
{
	while (ctx->flights) {
		struct ms_dns_flight *f = ctx->flights;
		ctx->flights = f->anext;
		ms_dns_flight_free(ctx, f);
	}
	ms_free(&ctx->env, ctx->ftab);
	ctx->ftab = NULL;
	ctx->ftab_size = ctx->fhashed = 0;
}

struct ms_dns_result *ms_dns_flight_take(struct ms_dns_ctx *ctx, struct ms_dns_flight *f)
{
	/* no lock for these fields: the waiters were all queued at once
	 * (ms_dns_flight_land), so this call holds every one still attached,
	 * and nobody else reaches the flight's answer */
	if (!f->converted) {
		f->converted = 1;
		f->result = ms_dns_from_ub(ctx, f->name, f->type, f->err, f->ub);
		if (f->ub)
			ub_resolve_free(f->ub);
		f->ub = NULL;
		if (f->result)
			ms_dns_finish_cname(ctx, f->result);
	}
	int last = ++f->delivered == f->nwait;
	struct ms_dns_result *r = NULL;
	if (f->result && last) {
		r = f->result;
		f->result = NULL;
	} else if (f->result) {
		r = ms_dns_result_copy(f->result);
	}
	if (last) {
		pthread_mutex_lock(&ctx->lock);
		enum ms_dns_flight_act act = ms_dns_flight_unref(ctx, f, (unsigned)f->nwait);
		pthread_mutex_unlock(&ctx->lock);
		ms_dns_flight_act(ctx, f, act);
	}
	return r;
}
