/*
 * route_async.c - the route's async shape (issue 15): ms_rtls_route_start,
 * _fd, _step, _status, and the cancel of ms_rtls_route_free.
 *
 * Design (the one of libspfdkim's auth_async.c): the lookup steps of the
 * machine (MX, then every host's addresses and DANE lookup) run against a
 * private "view" context (ms_dns_ctx_new_custom) whose resolver answers
 * from the route's table of fetched results.  A name the table does not
 * hold yet is recorded as wanted and answered "timeout" for now; at the
 * end of such a round the route is reset to its initial state and every
 * wanted name is submitted to the real context with ms_dns_submit, all at
 * once.  When answers arrive the next step runs another round.  So the MX
 * lookup goes first, then the A and AAAA of every host together, then
 * every host's TLSA together.  A round that wanted nothing read only real
 * answers: its results are exactly those of the synchronous lookups, with
 * the same fail-closed mapping (route_lookup.c is the only code that reads
 * them; a "timeout" placeholder never survives into a finished route).
 * A submit that fails gives the lookup's error, as a direct lookup would.
 * The MTA-STS step (libmtasts, on the sts handle's own DNS context and
 * HTTPS) then runs synchronously, and the plans.
 *
 * Answers arrive in whichever thread calls ms_dns_process on the shared
 * context, so the table is locked; a free cancels what it can and waits
 * for deliveries already under way.
 */
#include "route_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { E_WANTED = 0, E_INFLIGHT = 1, E_DONE = 2 };

struct route_entry {
	struct route_entry *next;
	struct route_async *as;
	char name[256];
	uint16_t type;
	int state;
	uint64_t id;
	ms_status err;              /* a submit that failed: the lookup's error */
	struct ms_dns_result *res;  /* E_DONE with err == MS_OK */
};

struct route_async {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct route_entry *entries;
	size_t inflight;
	unsigned long arrived, seen;
	int missed, nomem;
	struct ms_dns_ctx *view;
	struct ms_dns_ctx *dns;       /* borrowed until done */
	struct ms_sts *sts;
	struct ms_rtls_route pristine; /* the state before the first step */
	ms_rtls_route_done_fn done;
	void *user;
	int finished, notified;
	ms_status status;
	char why[200];
};

static struct route_entry *find(struct route_async *as, const char *name, uint16_t type)
{
	for (struct route_entry *e = as->entries; e; e = e->next)
		if (e->type == type && strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* The view's resolver (runs in the stepping thread, inside a step). */
static ms_status serve(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	struct ms_rtls_route *r = user;
	struct route_async *as = r->as;
	pthread_mutex_lock(&as->mu);
	struct route_entry *e = find(as, name, type);
	if (e && e->state == E_DONE) {
		ms_status st = e->err != MS_OK ? e->err : ms_dns_result_dup(&r->env, e->res, out);
		pthread_mutex_unlock(&as->mu);
		return st;
	}
	if (e == NULL && strlen(name) >= sizeof(e->name)) {
		/* never asked by the view (it checks names); not "missed", or
		 * the rounds would never end */
		pthread_mutex_unlock(&as->mu);
		return MS_ERR_INVALID;
	}
	as->missed = 1;
	if (e == NULL) {
		e = ms_calloc(&r->env, 1, sizeof(*e));
		if (e == NULL) {
			as->nomem = 1;
			pthread_mutex_unlock(&as->mu);
			return MS_ERR_NOMEM;
		}
		e->as = as;
		memcpy(e->name, name, strlen(name) + 1);
		e->type = type;
		e->next = as->entries;
		as->entries = e;
	}
	pthread_mutex_unlock(&as->mu);
	/* a placeholder: this round is thrown away */
	return ms_dns_result_create(&r->env, name, type, MS_DNS_TIMEOUT, MS_DNS_INDETERMINATE, out);
}

static void on_answer(void *user, struct ms_dns_result *res)
{
	struct route_entry *e = user;
	struct route_async *as = e->as;
	pthread_mutex_lock(&as->mu);
	e->res = res;
	e->state = E_DONE;
	as->inflight--;
	as->arrived++;
	pthread_cond_broadcast(&as->cv);
	pthread_mutex_unlock(&as->mu);
}

/* Submit every wanted name to the real context, all at once. */
static void submit_wanted(struct route_async *as)
{
	for (struct route_entry *e = as->entries; e; e = e->next) {
		pthread_mutex_lock(&as->mu);
		int go = e->state == E_WANTED;
		if (go) {
			e->state = E_INFLIGHT;
			as->inflight++;   /* before submit: another thread may deliver */
		}
		pthread_mutex_unlock(&as->mu);
		if (!go)
			continue;
		uint64_t id = 0;
		ms_status st = ms_dns_submit(as->dns, e->name, e->type, on_answer, e, &id, NULL, 0);
		pthread_mutex_lock(&as->mu);
		if (st == MS_OK) {
			e->id = id;
		} else {
			e->err = st;
			e->state = E_DONE;
			as->inflight--;
			as->arrived++;
		}
		pthread_mutex_unlock(&as->mu);
	}
}

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
	r->dns = as->view;
	as->missed = 0;
	ms_status st = MS_OK;
	while (st == MS_OK && (r->step == ROUTE_MX || r->step == ROUTE_HOST))
		st = rtls_route_step(r);
	return as->nomem ? MS_ERR_NOMEM : st;
}

/* Advance as far as possible without waiting. */
static void advance(struct ms_rtls_route *r)
{
	struct route_async *as = r->as;
	for (;;) {
		pthread_mutex_lock(&as->mu);
		unsigned long arrived = as->arrived;
		size_t inflight = as->inflight;
		pthread_mutex_unlock(&as->mu);
		if (arrived == as->seen && inflight > 0)
			return;   /* wait for answers */
		as->seen = arrived;
		ms_status st = round_run(r);
		if (st != MS_OK) {
			complete(r, st);
			return;
		}
		if (as->missed) {
			submit_wanted(as);
			continue;   /* a failed submit counts as an arrival */
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
	/* cancel what is in flight, then wait for deliveries under way */
	for (struct route_entry *e = as->entries; e; e = e->next) {
		pthread_mutex_lock(&as->mu);
		int inflight = e->state == E_INFLIGHT;
		pthread_mutex_unlock(&as->mu);
		if (inflight && ms_dns_cancel(as->dns, e->id) == MS_OK) {
			pthread_mutex_lock(&as->mu);
			e->state = E_WANTED;
			as->inflight--;
			pthread_mutex_unlock(&as->mu);
		}
	}
	pthread_mutex_lock(&as->mu);
	while (as->inflight > 0)
		pthread_cond_wait(&as->cv, &as->mu);
	pthread_mutex_unlock(&as->mu);
	while (as->entries) {
		struct route_entry *e = as->entries;
		as->entries = e->next;
		ms_dns_result_free(e->res);
		ms_free(&r->env, e);
	}
	ms_dns_ctx_free(as->view);
	pthread_cond_destroy(&as->cv);
	pthread_mutex_destroy(&as->mu);
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
	if (pthread_mutex_init(&as->mu, NULL) != 0) {
		ms_free(&r->env, as);
		goto nomem;
	}
	if (pthread_cond_init(&as->cv, NULL) != 0) {
		pthread_mutex_destroy(&as->mu);
		ms_free(&r->env, as);
		goto nomem;
	}
	r->as = as;
	as->dns = dns;
	as->sts = sts;
	as->done = done;
	as->user = user;
	if (ms_dns_ctx_new_custom(&r->env, serve, r, &as->view) != MS_OK)
		goto nomem;
	as->pristine = *r;
	as->seen = (unsigned long)-1;   /* the first round runs now */
	advance(r);
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
		int d = ms_dns_next_timeout_ms(as->dns);
		pthread_mutex_lock(&as->mu);
		int now = as->arrived != as->seen;
		pthread_mutex_unlock(&as->mu);
		/* no deadline of our own: another thread may deliver, look again soon */
		*timeout_ms = now ? 0 : d >= 0 && d < 1000 ? d : 1000;
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
