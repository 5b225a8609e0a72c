/*
 * auth_async.c - the lookups of one inbound verdict in parallel, under one
 * deadline, driven by an event loop (ms_auth_start / ms_auth_step).
 *
 * Design: the evaluators the handle owns (SPF, iprev, DMARC, the DKIM
 * verifier) are bound to a private "view" context (ms_dns_ctx_new_custom)
 * whose resolver answers from the handle's table of fetched results.  A
 * name the table does not hold yet is recorded as wanted and answered
 * "timeout" for now.  A round re-runs the cheap evaluators (SPF, iprev and
 * DMARC's policy discovery) against the table; every name they wanted is
 * then submitted to the real context with ms_dns_submit, all at once.
 * Whenever answers arrive, the next step runs another round: each chain
 * (SPF's includes, iprev's PTR then A/AAAA, DMARC's organisational
 * fallback) advances one link per round trip, all chains and every DKIM
 * key (taken from the DKIM-Signature fields before the first round) in
 * parallel.  When a round wants nothing new and nothing is in flight, the
 * final step verifies DKIM (keys from the table), runs DMARC with the real
 * DKIM results and writes the fields.
 *
 * The deadline closes the table: the last round and the final step then
 * read every name not answered in time as "timeout", so that method is
 * temperror (RFC 7208 s2.6.6, RFC 6376 s6.1.2, RFC 7489 s6.6.3) and never
 * "absent"; the other methods are reported as usual.  Lookups still in
 * flight are cancelled.
 *
 * Answers arrive in whichever thread calls ms_dns_process on the shared
 * context, so the table is locked; ms_auth_free cancels what it can and
 * waits for deliveries already under way before freeing.
 */
#include "auth_internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Entry states */
enum { E_WANTED = 0, E_INFLIGHT = 1, E_DONE = 2 };

struct auth_entry {
	struct auth_entry *next;
	struct ms_auth *a;
	char name[256];
	uint16_t type;
	int state;
	uint64_t id;
	ms_status err;               /* a submit that failed: the lookup's error */
	struct ms_dns_result *r;     /* E_DONE with err == MS_OK */
};

static struct auth_entry *find(struct ms_auth *a, const char *name, uint16_t type)
{
	for (struct auth_entry *e = a->entries; e; e = e->next)
		if (e->type == type && strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

static struct auth_entry *want(struct ms_auth *a, const char *name, uint16_t type)
{
	struct auth_entry *e = find(a, name, type);
	if (e != NULL || strlen(name) >= sizeof(e->name))
		return e;
	if ((e = ms_calloc(&a->env, 1, sizeof(*e))) == NULL)
		return NULL;
	e->a = a;
	memcpy(e->name, name, strlen(name) + 1);
	e->type = type;
	e->next = a->entries;
	a->entries = e;
	a->nwanted++;
	return e;
}

/* The view's resolver (runs in the stepping thread, inside an evaluator). */
static ms_status serve(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	struct ms_auth *a = user;
	pthread_mutex_lock(&a->mu);
	struct auth_entry *e = find(a, name, type);
	ms_status st = MS_OK;
	if (e && e->state == E_DONE) {
		st = e->err != MS_OK ? e->err : ms_dns_result_dup(&a->env, e->r, out);
		pthread_mutex_unlock(&a->mu);
		return st;
	}
	int fallback = e == NULL && a->final && !a->closed;
	if (e == NULL && !a->final && !a->closed && want(a, name, type) == NULL)
		st = MS_ERR_NOMEM;
	a->missed = 1;
	pthread_mutex_unlock(&a->mu);
	if (st != MS_OK)
		return st;
	/* A name first asked in the final step (a DKIM-Signature our scan read
	 * differently from the verifier): ask the real context directly. */
	if (fallback)
		return ms_dns_lookup(a->dns, name, type, out, NULL, 0);
	return ms_dns_result_create(&a->env, name, type, MS_DNS_TIMEOUT, MS_DNS_INDETERMINATE,
				    out);
}

ms_status ms_auth_view_new(struct ms_auth *a)
{
	if (pthread_mutex_init(&a->mu, NULL) != 0)
		return MS_ERR_NOMEM;
	if (pthread_cond_init(&a->cv, NULL) != 0) {
		pthread_mutex_destroy(&a->mu);
		return MS_ERR_NOMEM;
	}
	a->mu_ok = 1;
	return ms_dns_ctx_new_custom(&a->env, serve, a, &a->view);
}

/* ---- DKIM keys named by the header section ---------------------------- */

static int tag_value(const char *v, size_t n, char *out, size_t outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')
			continue;
		if (k + 1 >= outlen)
			return -1;
		out[k++] = v[i];
	}
	out[k] = '\0';
	return k ? 0 : -1;
}

/* One field's value: d= and s= into the key name s._domainkey.d. */
static void want_key(struct ms_auth *a, const char *v, size_t n)
{
	char d[254] = "", s[128] = "";
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && v[j] != ';')
			j++;
		const char *eq = memchr(v + i, '=', j - i);
		if (eq) {
			char tag[8];
			if (tag_value(v + i, (size_t)(eq - (v + i)), tag, sizeof(tag)) == 0) {
				size_t vl = (size_t)(v + j - eq - 1);
				if (strcmp(tag, "d") == 0)
					tag_value(eq + 1, vl, d, sizeof(d));
				else if (strcmp(tag, "s") == 0)
					tag_value(eq + 1, vl, s, sizeof(s));
			}
		}
		i = j + 1;
	}
	char name[400];
	if (d[0] && s[0] && (size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s, d) <
	    sizeof(name)) {
		char norm[256];
		if (ms_dns_name_normalize(name, norm, sizeof(norm), NULL, 0) == MS_OK)
			want(a, norm, MS_DNS_T_TXT);
	}
}

/* Every DKIM-Signature field of the kept header section (the first
 * MS_DKIM_MAX_SIGNATURES): what the verifier will ask for. */
static void want_keys(struct ms_auth *a)
{
	const char *h = (const char *)a->hdr.data;
	size_t len = a->hdr.len, i = 0, nsig = 0;
	static const char name[] = "dkim-signature";
	while (i < len && nsig < MS_DKIM_MAX_SIGNATURES) {
		size_t j = i;   /* end of the field: a line end not followed by WSP */
		for (;;) {
			while (j < len && h[j] != '\n')
				j++;
			if (j + 1 < len && (h[j + 1] == ' ' || h[j + 1] == '\t')) {
				j++;
				continue;
			}
			break;
		}
		const char *colon = memchr(h + i, ':', j - i);
		if (colon) {
			size_t nl = (size_t)(colon - (h + i));
			while (nl && (h[i + nl - 1] == ' ' || h[i + nl - 1] == '\t'))
				nl--;
			if (nl == sizeof(name) - 1 && strncasecmp(h + i, name, nl) == 0) {
				want_key(a, colon + 1, (size_t)(h + j - colon - 1));
				nsig++;
			}
		} else if (j - i <= 1) {
			break;   /* the empty line */
		}
		i = j + 1;
	}
}

/* ---- rounds ----------------------------------------------------------- */

static void on_answer(void *user, struct ms_dns_result *r)
{
	struct auth_entry *e = user;
	struct ms_auth *a = e->a;
	pthread_mutex_lock(&a->mu);
	e->r = r;
	e->state = E_DONE;
	a->inflight--;
	a->arrived++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Submit every wanted name to the real context. */
static void submit_wanted(struct ms_auth *a)
{
	for (struct auth_entry *e = a->entries; e; e = e->next) {
		pthread_mutex_lock(&a->mu);
		int go = e->state == E_WANTED;
		if (go) {
			e->state = E_INFLIGHT;
			a->inflight++;   /* before submit: another thread may deliver */
		}
		pthread_mutex_unlock(&a->mu);
		if (!go)
			continue;
		uint64_t id = 0;
		ms_status st = ms_dns_submit(a->dns, e->name, e->type, on_answer, e, &id, NULL, 0);
		pthread_mutex_lock(&a->mu);
		if (st == MS_OK) {
			e->id = id;
		} else {
			/* the evaluator sees the error a direct lookup would give */
			e->err = st;
			e->state = E_DONE;
			a->inflight--;
			a->arrived++;
		}
		pthread_mutex_unlock(&a->mu);
	}
}

/* Cancel what is in flight (the deadline, or ms_auth_free). */
void ms_auth_cancel_lookups(struct ms_auth *a)
{
	for (struct auth_entry *e = a->entries; e; e = e->next) {
		pthread_mutex_lock(&a->mu);
		int inflight = e->state == E_INFLIGHT;
		pthread_mutex_unlock(&a->mu);
		if (inflight && ms_dns_cancel(a->dns, e->id) == MS_OK) {
			pthread_mutex_lock(&a->mu);
			e->state = E_WANTED;
			a->inflight--;
			pthread_mutex_unlock(&a->mu);
		}
	}
}

/* Free the table, after waiting for deliveries another thread has
 * already taken off the context's queue. */
void ms_auth_view_free(struct ms_auth *a)
{
	if (a->mu_ok) {
		ms_auth_cancel_lookups(a);
		pthread_mutex_lock(&a->mu);
		while (a->inflight > 0)
			pthread_cond_wait(&a->cv, &a->mu);
		pthread_mutex_unlock(&a->mu);
	}
	while (a->entries) {
		struct auth_entry *e = a->entries;
		a->entries = e->next;
		ms_dns_result_free(e->r);
		ms_free(&a->env, e);
	}
	ms_dns_ctx_free(a->view);
	a->view = NULL;
	if (a->mu_ok) {
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		a->mu_ok = 0;
	}
}

/* One round: SPF, iprev and DMARC's policy discovery against the table. */
static ms_status round_run(struct ms_auth *a)
{
	char w[256] = "";
	a->missed = 0;
	if (a->spf == a->spf_own) {
		ms_spf_verdict_free(a->sv);
		a->sv = NULL;
		ms_status st = ms_spf_check_mailfrom(a->spf, a->ip, a->helo, a->mail_from,
						     &a->sv, w, sizeof(w));
		if (st != MS_OK)
			return ms_why(a->why, sizeof(a->why), st, "spf: %s",
				      w[0] ? w : "out of memory");
	}
	ms_iprev_verdict_free(a->iv);
	a->iv = NULL;
	ms_status st = ms_iprev_check(&a->env, a->view, a->ip, a->iprev_max_names, &a->iv, w,
				      sizeof(w));
	if (st != MS_OK)
		return ms_why(a->why, sizeof(a->why), st, "iprev: %s", w[0] ? w : "out of memory");
	if (a->dmarc != NULL && a->dmarc == a->dmarc_own && a->from_outcome == MS_DMARC_FROM_OK &&
	    !a->final) {
		/* only to learn the names DMARC will ask for; the verdict comes
		 * in the final step with the DKIM results */
		struct ms_dmarc_verdict *mv = NULL;
		st = ms_dmarc_check(a->dmarc, a->from_domain, MS_SPF_NONE, NULL, NULL, NULL, NULL,
				    0, &mv, w, sizeof(w));
		ms_dmarc_verdict_free(mv);
		if (st != MS_OK)
			return ms_why(a->why, sizeof(a->why), st, "dmarc: %s",
				      w[0] ? w : "out of memory");
	}
	return MS_OK;
}

static int left_ms(const struct ms_auth *a)
{
	uint64_t now = ms_monotonic_ns();
	if (now >= a->deadline_ns)
		return 0;
	return (int)((a->deadline_ns - now + 999999u) / 1000000u);
}

static void complete(struct ms_auth *a, ms_status st)
{
	a->state = MS_AUTH_DONE;
	a->status = st;
	if (st == MS_OK)
		a->why[0] = '\0';
}

/* Advance as far as possible without waiting. */
static void advance(struct ms_auth *a)
{
	for (;;) {
		pthread_mutex_lock(&a->mu);
		unsigned long arrived = a->arrived;
		size_t inflight = a->inflight;
		pthread_mutex_unlock(&a->mu);
		if (!a->closed && left_ms(a) == 0)
			a->closed = 1;
		if (a->closed) {
			ms_auth_cancel_lookups(a);
		} else if (arrived == a->seen && inflight > 0) {
			return;  /* wait for answers */
		}
		a->seen = arrived;
		ms_status st = round_run(a);
		if (st != MS_OK) {
			complete(a, st);
			return;
		}
		if (!a->closed && a->missed) {
			submit_wanted(a);
			continue;   /* a failed submit counts as an arrival */
		}
		pthread_mutex_lock(&a->mu);
		inflight = a->inflight;
		arrived = a->arrived;
		pthread_mutex_unlock(&a->mu);
		if (!a->closed && (inflight > 0 || arrived != a->seen))
			continue;   /* a DKIM key still on its way */
		a->final = 1;
		complete(a, ms_auth_conclude(a));
		return;
	}
}

ms_status ms_auth_start(struct ms_auth *a, ms_auth_done_fn done, void *user, char *why,
			size_t whylen)
{
	if (a == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (a->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "message already finished");
	a->finished = 1;
	a->done = done;
	a->done_user = user;
	a->state = MS_AUTH_PENDING;
	a->deadline_ns = ms_monotonic_ns() + (uint64_t)a->deadline_ms * 1000000u;
	ms_status st = ms_auth_scan_from(a);
	if (st != MS_OK) {
		complete(a, st);
		a->notified = 1;   /* reported here, not through `done` */
		return ms_why(why, whylen, st, "dmarc: %s", a->from_why);
	}
	if (a->dkim == a->dkim_own)
		want_keys(a);
	submit_wanted(a);
	a->seen = (unsigned long)-1;   /* the first round runs now, with the keys in flight */
	advance(a);
	return MS_OK;
}

int ms_auth_fd(const struct ms_auth *a)
{
	return a ? ms_dns_fd(a->dns) : -1;
}

enum ms_auth_state ms_auth_step(struct ms_auth *a, int *timeout_ms)
{
	if (timeout_ms)
		*timeout_ms = 0;
	if (a == NULL || !a->finished)
		return MS_AUTH_DONE;
	if (a->state == MS_AUTH_PENDING) {
		ms_dns_process(a->dns);
		advance(a);
	}
	if (a->state == MS_AUTH_DONE) {
		if (!a->notified) {
			a->notified = 1;
			if (a->done)
				a->done(a->done_user, a, a->status);
		}
		return MS_AUTH_DONE;
	}
	if (timeout_ms) {
		int t = left_ms(a), d = ms_dns_next_timeout_ms(a->dns);
		pthread_mutex_lock(&a->mu);
		if (a->arrived != a->seen)
			t = 0;
		pthread_mutex_unlock(&a->mu);
		*timeout_ms = d >= 0 && d < t ? d : t;
	}
	return MS_AUTH_PENDING;
}

ms_status ms_auth_status(const struct ms_auth *a, char *why, size_t whylen)
{
	if (a == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (!a->finished || a->state != MS_AUTH_DONE)
		return ms_why(why, whylen, MS_ERR_STATE, "verdict not finished");
	if (a->status != MS_OK)
		return ms_why(why, whylen, a->status, "%s", a->why);
	return MS_OK;
}

/* The synchronous call: the same steps, waiting on the context's fd.  The
 * wait is cut into short slices because, on a context shared by threads,
 * another thread's ms_dns_process may deliver our answers. */
ms_status ms_auth_finish(struct ms_auth *a, char *why, size_t whylen)
{
	ms_status st = ms_auth_start(a, NULL, NULL, why, whylen);
	if (st != MS_OK)
		return st;
	int t = 0;
	while (ms_auth_step(a, &t) == MS_AUTH_PENDING) {
		struct pollfd p = { .fd = ms_auth_fd(a), .events = POLLIN };
		poll(&p, p.fd >= 0 ? 1 : 0, t < 10 ? t : 10);
	}
	return ms_auth_status(a, why, whylen);
}
