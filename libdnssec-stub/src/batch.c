/*
 * batch.c - lookup batches: a table of lookups submitted to a real context
 * and served, in rounds, to code that makes synchronous lookups on the
 * batch's view context (dns.h, "lookup batches").  One engine for every
 * async composition (libspfdkim's inbound verdict, librequiretls' route).
 *
 * The table is locked: answers arrive in whichever thread calls
 * ms_dns_process on the real context, the view's resolver runs in the
 * stepping thread.  `arrived` counts answers and failed submits; a round
 * is due when it moved since the last round began (`seen`) by an answer,
 * or nothing else is in flight.
 */
#include "dns_internal.h"

#include <string.h>
#include <strings.h>

/* Entry states */
enum { E_WANTED = 0, E_INFLIGHT = 1, E_DONE = 2 };

struct batch_entry {
	struct batch_entry *next;
	struct ms_dns_batch *b;
	char name[MS_DNS_NAME_MAX];
	uint16_t type;
	int state;
	uint64_t id;
	ms_status err;              /* a submit that failed: the lookup's error */
	struct ms_dns_result *res;  /* E_DONE with err == MS_OK */
};

struct ms_dns_batch {
	struct ms_env env;
	struct ms_dns_ctx *dns;     /* borrowed */
	struct ms_dns_ctx *view;
	unsigned flags;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch_entry *entries;
	size_t inflight;
	/* arrived: answers and failed submits; answers: answers only (a
	 * failed submit alone does not start a round while others are in
	 * flight: they would make it a wasted one) */
	unsigned long arrived, seen, answers, answers_seen;
	/* set by the view during a round (under mu) */
	int nomem;
	/* the stepping thread's own state */
	int first, force, settled, closed;
	uint64_t deadline_ns;       /* 0: none */
};

static struct batch_entry *find(struct ms_dns_batch *b, const char *name, uint16_t type)
{
	for (struct batch_entry *e = b->entries; e; e = e->next)
		if (e->type == type && strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Under mu.  NULL: out of memory or a name too long for the table (the
 * view checks names first, so only a direct caller can hit the latter). */
static struct batch_entry *add(struct ms_dns_batch *b, const char *name, uint16_t type)
{
	struct batch_entry *e = find(b, name, type);
	if (e != NULL || strlen(name) >= sizeof(e->name))
		return e;
	if ((e = ms_calloc(&b->env, 1, sizeof(*e))) == NULL)
		return NULL;
	e->b = b;
	memcpy(e->name, name, strlen(name) + 1);
	e->type = type;
	e->next = b->entries;
	b->entries = e;
	return e;
}

/* The view's resolver: the table's answer, or a timeout placeholder. */
static ms_status serve(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	struct ms_dns_batch *b = user;
	pthread_mutex_lock(&b->mu);
	struct batch_entry *e = find(b, name, type);
	if (e && e->state == E_DONE) {
		ms_status st = e->err != MS_OK ? e->err : ms_dns_result_dup(&b->env, e->res, out);
		pthread_mutex_unlock(&b->mu);
		return st;
	}
	if (b->closed || b->settled) {
		int late = e == NULL && !b->closed && (b->flags & MS_DNS_BATCH_LATE_LOOKUP);
		pthread_mutex_unlock(&b->mu);
		if (late)
			return ms_dns_lookup(b->dns, name, type, out, NULL, 0);
		/* cut by the deadline: a failed lookup, never "absent" */
		return ms_dns_result_create(&b->env, name, type, MS_DNS_TIMEOUT,
					    MS_DNS_INDETERMINATE, out);
	}
	if (e == NULL && add(b, name, type) == NULL) {
		/* not recorded: the round must not count as complete */
		b->nomem = 1;
		pthread_mutex_unlock(&b->mu);
		return MS_ERR_NOMEM;
	}
	pthread_mutex_unlock(&b->mu);
	/* a placeholder: this round is followed by another one */
	return ms_dns_result_create(&b->env, name, type, MS_DNS_TIMEOUT, MS_DNS_INDETERMINATE, out);
}

ms_status ms_dns_batch_new(const struct ms_env *env, struct ms_dns_ctx *dns, unsigned flags,
			   struct ms_dns_batch **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (dns == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no context");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dns_batch *b = ms_calloc(&e, 1, sizeof(*b));
	if (b == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	b->env = e;
	b->dns = dns;
	b->flags = flags;
	b->first = 1;
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		ms_free(&e, b);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	if (pthread_cond_init(&b->cv, NULL) != 0) {
		pthread_mutex_destroy(&b->mu);
		ms_free(&e, b);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	if (ms_dns_ctx_new_custom(&b->env, serve, b, &b->view) != MS_OK) {
		ms_dns_batch_free(b);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	*out = b;
	return MS_OK;
}

struct ms_dns_ctx *ms_dns_batch_view(const struct ms_dns_batch *b)
{
	return b ? b->view : NULL;
}

void ms_dns_batch_set_deadline(struct ms_dns_batch *b, unsigned ms)
{
	if (b)
		b->deadline_ns = ms ? ms_monotonic_ns() + (uint64_t)ms * 1000000u : 0;
}

ms_status ms_dns_batch_want(struct ms_dns_batch *b, const char *name, uint16_t type, char *why,
			    size_t whylen)
{
	if (b == NULL || name == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (b->closed || b->settled)
		return ms_why(why, whylen, MS_ERR_STATE, "batch %s",
			      b->closed ? "closed" : "settled");
	char norm[MS_DNS_NAME_MAX];
	ms_status st = ms_dns_name_normalize(name, norm, sizeof(norm), why, whylen);
	if (st != MS_OK)
		return st;
	pthread_mutex_lock(&b->mu);
	struct batch_entry *e = add(b, norm, type);
	pthread_mutex_unlock(&b->mu);
	return e ? MS_OK : ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
}

static void on_answer(void *user, struct ms_dns_result *res)
{
	struct batch_entry *e = user;
	struct ms_dns_batch *b = e->b;
	pthread_mutex_lock(&b->mu);
	e->res = res;
	e->state = E_DONE;
	b->inflight--;
	b->arrived++;
	b->answers++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Submit every wanted name to the real context, all at once.  Entries are
 * only ever added at the head, so the walk from a snapshot of the head is
 * safe while the view adds more. */
static void submit_wanted(struct ms_dns_batch *b)
{
	pthread_mutex_lock(&b->mu);
	struct batch_entry *head = b->entries;
	pthread_mutex_unlock(&b->mu);
	for (struct batch_entry *e = head; e; e = e->next) {
		pthread_mutex_lock(&b->mu);
		int go = e->state == E_WANTED;
		if (go) {
			e->state = E_INFLIGHT;
			b->inflight++;   /* before submit: another thread may deliver */
		}
		pthread_mutex_unlock(&b->mu);
		if (!go)
			continue;
		uint64_t id = 0;
		ms_status st = ms_dns_submit(b->dns, e->name, e->type, on_answer, e, &id, NULL, 0);
		pthread_mutex_lock(&b->mu);
		if (st == MS_OK) {
			e->id = id;
		} else {
			/* the round sees the error a direct lookup would give */
			e->err = st;
			e->state = E_DONE;
			b->inflight--;
			b->arrived++;
		}
		pthread_mutex_unlock(&b->mu);
	}
}

/* Cancel what is in flight; deliveries already under way still land. */
static void cancel_inflight(struct ms_dns_batch *b)
{
	pthread_mutex_lock(&b->mu);
	struct batch_entry *head = b->entries;
	pthread_mutex_unlock(&b->mu);
	for (struct batch_entry *e = head; e; e = e->next) {
		pthread_mutex_lock(&b->mu);
		int inflight = e->state == E_INFLIGHT;
		uint64_t id = e->id;
		pthread_mutex_unlock(&b->mu);
		if (inflight && ms_dns_cancel(b->dns, id) == MS_OK) {
			pthread_mutex_lock(&b->mu);
			e->state = E_WANTED;
			b->inflight--;
			pthread_mutex_unlock(&b->mu);
		}
	}
}

void ms_dns_batch_close(struct ms_dns_batch *b)
{
	if (b == NULL || b->closed)
		return;
	pthread_mutex_lock(&b->mu);
	b->closed = 1;
	pthread_mutex_unlock(&b->mu);
	cancel_inflight(b);
	/* one more round, which reads every unanswered name as a timeout
	 * (unless the batch had settled: its results stand) */
	if (!b->settled)
		b->force = 1;
}

int ms_dns_batch_closed(const struct ms_dns_batch *b)
{
	return b ? b->closed : 0;
}

ms_status ms_dns_batch_step(struct ms_dns_batch *b, enum ms_dns_batch_state *state)
{
	if (b == NULL || state == NULL)
		return MS_ERR_INVALID;
	*state = MS_DNS_BATCH_SETTLED;
	if (b->settled)
		return MS_OK;
	pthread_mutex_lock(&b->mu);
	int nomem = b->nomem;
	b->nomem = 0;
	pthread_mutex_unlock(&b->mu);
	if (nomem)
		return MS_ERR_NOMEM;
	if (!b->closed && b->deadline_ns && ms_monotonic_ns() >= b->deadline_ns)
		ms_dns_batch_close(b);
	if (!b->closed)
		submit_wanted(b);   /* a failed submit counts as an arrival */
	pthread_mutex_lock(&b->mu);
	unsigned long arrived = b->arrived;
	size_t inflight = b->inflight;
	if (b->first || b->force ||
	    (arrived != b->seen && (inflight == 0 || b->closed || b->answers != b->answers_seen))) {
		b->first = b->force = 0;
		b->seen = arrived;
		b->answers_seen = b->answers;
		*state = MS_DNS_BATCH_ROUND;
	} else if (!b->closed && inflight > 0) {
		*state = MS_DNS_BATCH_PENDING;
	} else {
		/* the last round asked only answered names (or read the
		 * deadline's timeouts): settled */
		b->settled = 1;
	}
	pthread_mutex_unlock(&b->mu);
	return MS_OK;
}

int ms_dns_batch_timeout_ms(struct ms_dns_batch *b)
{
	if (b == NULL || b->settled)
		return -1;
	pthread_mutex_lock(&b->mu);
	int now = b->first || b->force ||
		  (b->arrived != b->seen && (b->inflight == 0 || b->answers != b->answers_seen));
	pthread_mutex_unlock(&b->mu);
	if (now)
		return 0;
	int t = -1;
	if (b->deadline_ns && !b->closed) {
		uint64_t n = ms_monotonic_ns();
		if (n >= b->deadline_ns)
			return 0;
		uint64_t left = (b->deadline_ns - n + 999999u) / 1000000u;
		t = left > (uint64_t)INT32_MAX ? INT32_MAX : (int)left;
	}
	int d = ms_dns_next_timeout_ms(b->dns);
	if (d >= 0 && (t < 0 || d < t))
		t = d;
	return t;
}

ms_status ms_dns_batch_get(struct ms_dns_batch *b, const char *name, uint16_t type,
			   struct ms_dns_result **out)
{
	if (out)
		*out = NULL;
	if (b == NULL || name == NULL || out == NULL)
		return MS_ERR_INVALID;
	char norm[MS_DNS_NAME_MAX];
	if (ms_dns_name_normalize(name, norm, sizeof(norm), NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	pthread_mutex_lock(&b->mu);
	struct batch_entry *e = find(b, norm, type);
	ms_status st;
	if (e == NULL)
		st = MS_ERR_INVALID;
	else if (e->state != E_DONE)
		st = MS_ERR_STATE;
	else
		st = e->err != MS_OK ? e->err : ms_dns_result_dup(&b->env, e->res, out);
	pthread_mutex_unlock(&b->mu);
	return st;
}

void ms_dns_batch_free(struct ms_dns_batch *b)
{
	if (b == NULL)
		return;
	cancel_inflight(b);
	pthread_mutex_lock(&b->mu);
	while (b->inflight > 0)   /* deliveries under way in another thread */
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	while (b->entries) {
		struct batch_entry *e = b->entries;
		b->entries = e->next;
		ms_dns_result_free(e->res);
		ms_free(&b->env, e);
	}
	ms_dns_ctx_free(b->view);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	struct ms_env env = b->env;
	ms_free(&env, b);
}
