/*
 * deliver_domain.c - the delivery to one recipient domain
 * (requiretls_deliver.h): the hosts of the route in MX order (RFC 5321
 * s5.1), each judged by the engine, the plaintext retry the engine asks
 * for, the metrics, the recipient-domain memory, and the conclusion.
 */
#include "deliver_internal.h"
#include "route_internal.h"

#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* Whether an address can stand in <...> of MAIL/RCPT without injecting
 * anything: printable ASCII, no brackets or spaces, one '@'. */
static int plain_address(const char *a, int allow_empty)
{
	if (a == NULL)
		return 0;
	if (*a == '\0')
		return allow_empty;
	const char *at = strchr(a, '@');
	if (at == NULL || strchr(at + 1, '@') || at == a || at[1] == '\0' || strlen(a) > 254)
		return 0;
	for (const char *p = a; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '<' || *p == '>')
			return 0;
	return 1;
}

int rtls_plain_address(const char *a, int allow_empty)
{
	return plain_address(a, allow_empty);
}

ms_status ms_rtls_deliver_new(const struct ms_env *env, const struct ms_rtls_route *route,
			      enum ms_rtls_requirement requirement,
			      const struct ms_rtls_envelope *m,
			      const struct ms_rtls_deliver_opts *opts,
			      struct ms_rtls_delivery **out, char *why, size_t whylen)
{
	if (out == NULL || route == NULL || m == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	*out = NULL;
	if (opts && (opts->version < 1 || opts->version > MS_RTLS_DELIVER_OPTS_VERSION))
		return ms_why(why, whylen, MS_ERR_INVALID, "unknown options version %u",
			      opts->version);
	if (m->nrcpt == 0 || m->nrcpt > MS_RTLS_DELIVER_MAX_RCPT || m->rcpt == NULL ||
	    (m->msg == NULL && m->msglen > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad recipient list or message");
	if (!plain_address(m->from, 1))
		return ms_why(why, whylen, MS_ERR_INVALID, "MAIL FROM: not a plain address");
	for (size_t i = 0; i < m->nrcpt; i++)
		if (!plain_address(m->rcpt[i], 0))
			return ms_why(why, whylen, MS_ERR_INVALID, "RCPT TO: '%.100s' is not a plain address",
				      m->rcpt[i] ? m->rcpt[i] : "(null)");
	const char *helo = opts && opts->helo ? opts->helo : "localhost";
	if (helo[0] == '\0' || strlen(helo) > 255 || strpbrk(helo, " \r\n\t<>"))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad EHLO name");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_delivery *d = ms_calloc(&e, 1, sizeof(*d));
	if (d == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	d->env = e;
	d->route = route;
	d->requirement = requirement;
	d->msg = m->msg;
	d->msglen = m->msglen;
	d->port = opts && opts->port ? opts->port : 25;
	d->now = opts ? opts->now : 0;
	d->timeout_ms = opts ? opts->timeout_ms : 0;
	d->memory = opts ? opts->memory : NULL;
	if (opts && opts->version >= 2) {
		d->observer = opts->observer;
		d->observer_arg = opts->observer_arg;
	}
	if (opts && opts->version >= 3) {
		d->ca_store = opts->ca_store;
		d->dane_ctx = opts->dane_ctx;
	}
	d->tls = opts ? (SSL_CTX *)opts->tls : NULL;
	d->from = ms_strdup(&e, m->from);
	d->helo = ms_strdup(&e, helo);
	d->account = ms_strdup(&e, opts && opts->account ? opts->account : m->from);
	d->ca_file = opts && opts->ca_file ? ms_strdup(&e, opts->ca_file) : NULL;
	d->rcpts = ms_calloc(&e, m->nrcpt, sizeof(*d->rcpts));
	int bad = d->from == NULL || d->helo == NULL || d->account == NULL || d->rcpts == NULL ||
		  (opts && opts->ca_file && d->ca_file == NULL);
	for (size_t i = 0; !bad && i < m->nrcpt; i++) {
		char *a = ms_strdup(&e, m->rcpt[i]);
		d->rcpts[i].res.address = a;
		d->nrcpt = i + 1;
		bad = a == NULL;
	}
	if (bad) {
		ms_rtls_deliver_free(d);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	*out = d;
	return MS_OK;
}

void ms_rtls_deliver_free(struct ms_rtls_delivery *d)
{
	if (d == NULL)
		return;
	rtls_attempt_cancel(d);
	if (d->own_tls)
		SSL_CTX_free(d->tls);
	if (d->own_store)
		X509_STORE_free(d->ca_store);
	for (size_t i = 0; d->rcpts && i < d->nrcpt; i++)
		ms_free(&d->env, (void *)d->rcpts[i].res.address);
	ms_free(&d->env, d->rcpts);
	ms_free(&d->env, d->from);
	ms_free(&d->env, d->helo);
	ms_free(&d->env, d->account);
	ms_free(&d->env, d->ca_file);
	struct ms_env e = d->env;
	ms_free(&e, d);
}

static size_t pending(const struct ms_rtls_delivery *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->nrcpt; i++)
		n += d->rcpts[i].state == RCPT_PENDING;
	return n;
}

static int temporary(const struct ms_rtls_outcome *o)
{
	return o->temporary || o->verdict == MS_RTLS_TEMPFAIL;
}

/* No host left, or no recipient: the still pending recipients get the
 * host loop's conclusion, the domain the conclusion over everyone who
 * was not delivered. */
static void finish(struct ms_rtls_delivery *d)
{
	struct ms_rtls_outcome loop;
	if (d->nfails == 0)
		rtls_route_no_host_outcome_fill(d->route, &loop);
	else
		rtls_conclude_fill(d->fails, d->nfails, &loop);
	/* ms_rtls_conclude's rule over the recipients' outcomes (without an
	 * array of them): the first temporary one keeps the message queued,
	 * else the first one returns it. */
	const struct ms_rtls_outcome *pick = NULL;
	for (size_t i = 0; i < d->nrcpt; i++) {
		struct rcpt *r = &d->rcpts[i];
		if (r->state == RCPT_PENDING) {
			r->state = RCPT_DONE;
			r->res.out = loop;
		}
		if (r->res.delivered)
			continue;
		if (pick == NULL || (temporary(&r->res.out) && !temporary(pick)))
			pick = &r->res.out;
	}
	memset(&d->final, 0, sizeof(d->final));
	if (pick) {
		d->final = *pick;
		d->final.verdict = temporary(pick) ? MS_RTLS_TEMPFAIL : MS_RTLS_PERMFAIL;
		d->final.mail_requiretls = 0;
		d->final.ignored = MS_RTLS_R_NONE;
	}
	d->done = 1;
}

/* Only a connection that saw the first EHLO tells anything, and only a
 * TLS one can show REQUIRETLS (RFC 8689 s4.2.1). */
static void remember(struct ms_rtls_delivery *d, const struct ms_rtls_attempt *a)
{
	if (d->memory == NULL || !a->greeted || a->o.plaintext)
		return;
	char why[256] = "";
	if (ms_rtls_store_record(d->memory, d->account, ms_rtls_route_domain(d->route),
				 a->o.starttls_offered,
				 a->o.handshake == MS_RTLS_STEP_OK && a->o.requiretls_offered, why,
				 sizeof(why)) != MS_OK) {
		/* A memory that cannot be written never holds mail. */
		struct ms_kv kv[] = { { "domain", ms_rtls_route_domain(d->route) }, { "why", why } };
		ms_log(&d->env, MS_LOG_WARNING, "requiretls", "recipient-domain memory not written",
		       kv, 2);
	}
}

static ms_status ensure_tls(struct ms_rtls_delivery *d, char *why, size_t whylen)
{
	if (d->tls)
		return MS_OK;
	d->tls = SSL_CTX_new(TLS_client_method());
	if (d->tls == NULL || SSL_CTX_set_min_proto_version(d->tls, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(d->tls);
		d->tls = NULL;
		ERR_clear_error();
		return ms_why(why, whylen, MS_ERR_TLS, "TLS context set-up failed");
	}
	/* Verification is ms_rtls_verify_peer's, after the handshake. */
	SSL_CTX_set_verify(d->tls, SSL_VERIFY_NONE, NULL);
	d->own_tls = 1;
	return MS_OK;
}

/* The host's attempt (and its plaintext retry) is over: count it,
 * remember it, and decide what comes next.  Returns 1 when a plaintext
 * retry was started. */
static int attempt_over(struct ms_rtls_delivery *d, char *why, size_t whylen, ms_status *st)
{
	const struct ms_rtls_route *r = d->route;
	const struct ms_rtls_route_host *h = d->cur_host;
	struct ms_rtls_attempt *a = d->cur;
	d->cur = NULL;
	ms_rtls_outcome_count(&d->env, d->requirement, &a->out);
	/* RFC 8460: every finished attempt to the observer (it keeps only
	 * the TLS ones; a plaintext retry has no TLS result). */
	if (!a->o.plaintext)
		remember(d, a);
	rtls_tlsrpt_notify(d, a);
	if (!a->o.plaintext && a->out.verdict == MS_RTLS_RETRY_PLAINTEXT) {
		/* RFC 7435 / RFC 8689 s4.2.2: plaintext after a failed
		 * handshake, on the same host, as the engine allowed. */
		const struct ms_rtls_observed prev = a->o;
		struct ms_rtls_attempt *b = &d->attempts[d->nattempts];
		if ((*st = rtls_attempt_start(d, h, 1, &prev, b)) != MS_OK) {
			ms_why(why, whylen, *st, "out of memory");
			return 0;
		}
		d->nattempts++;
		d->cur = b;
		return 1;
	}
	if (a->delivered) {
		if (d->temp_refusal.basic)
			d->fails[d->nfails++] = d->temp_refusal;
		goto next;
	}
	if (a->out.verdict == MS_RTLS_PERMFAIL) {
		/* The server refused the message (MAIL/DATA) or every pending
		 * recipient for good: no other MX will think differently
		 * (RFC 5321 s4.2.1); recipients already got their outcome. */
		d->fails[d->nfails++] = a->out;
		finish(d);
		return 0;
	}
	if (a->out.verdict == MS_RTLS_DELIVER || a->out.verdict == MS_RTLS_RETRY_PLAINTEXT) {
		/* Cannot happen with a consistent engine; never read it as
		 * delivered. */
		a->out.verdict = MS_RTLS_TRY_NEXT;
		a->out.temporary = 1;
		a->out.basic = 4;
		snprintf(a->out.enhanced, sizeof(a->out.enhanced), "4.3.0");
		snprintf(a->out.bounce_enhanced, sizeof(a->out.bounce_enhanced), "5.3.0");
		snprintf(a->out.text, sizeof(a->out.text), "delivery to %.100s failed: %.120s",
			 ms_rtls_route_host_name(h), a->error);
	}
	d->fails[d->nfails++] = a->out;
next:
	if (pending(d) == 0 || d->next_host >= ms_rtls_route_count(r))
		finish(d);
	return 0;
}

/*
 * Never waits (issue 15): starts the next host's attempt, or advances the
 * one in progress as far as its socket allows; between steps the caller
 * waits on ms_rtls_deliver_fd/_events for at most _timeout_ms.
 */
ms_status ms_rtls_deliver_step(struct ms_rtls_delivery *d, char *why, size_t whylen)
{
	if (d == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL delivery");
	if (d->done)
		return ms_why(why, whylen, MS_ERR_STATE, "delivery already done");
	const struct ms_rtls_route *r = d->route;
	ms_status st = MS_OK;
	if (d->cur == NULL) {
		if (d->next_host >= ms_rtls_route_count(r) || d->nattempts + 2 > DELIVER_MAX_ATTEMPTS) {
			finish(d);
			return MS_OK;
		}
		if ((st = ensure_tls(d, why, whylen)) != MS_OK)
			return st;
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, d->next_host);
		const struct ms_rtls_plan *plan = ms_rtls_route_host_plan(h);
		struct ms_rtls_attempt *a = &d->attempts[d->nattempts];
		memset(&d->temp_refusal, 0, sizeof(d->temp_refusal));
		if (plan->mode == MS_RTLS_MODE_SKIP) {
			d->next_host++;
			d->nattempts++;
			memset(a, 0, sizeof(*a));
			a->host = h;
			a->mode = plan->mode;
			rtls_outcome_from_plan_fill(plan, &a->out);
			ms_rtls_outcome_count(&d->env, d->requirement, &a->out);
			rtls_tlsrpt_notify(d, a);
			d->fails[d->nfails++] = a->out;
			if (pending(d) == 0 || d->next_host >= ms_rtls_route_count(r))
				finish(d);
			return MS_OK;
		}
		if ((st = rtls_attempt_start(d, h, 0, NULL, a)) != MS_OK)
			return ms_why(why, whylen, st, "out of memory");
		d->next_host++;
		d->nattempts++;
		d->cur = a;
		d->cur_host = h;
	}
	while (d->cur != NULL && rtls_attempt_step(d)) {
		if (!attempt_over(d, why, whylen, &st) && st != MS_OK)
			return st;
	}
	return MS_OK;
}

int ms_rtls_deliver_fd(const struct ms_rtls_delivery *d)
{
	return d && !d->done && d->cur ? rtls_attempt_fd(d) : -1;
}

int ms_rtls_deliver_events(const struct ms_rtls_delivery *d)
{
	return d && !d->done && d->cur ? rtls_attempt_events(d) : 0;
}

int ms_rtls_deliver_timeout_ms(const struct ms_rtls_delivery *d)
{
	if (d == NULL || d->done)
		return -1;
	return d->cur ? rtls_attempt_wait_ms(d) : 0;
}

int ms_rtls_deliver_done(const struct ms_rtls_delivery *d)
{
	return d == NULL || d->done;
}

ms_status ms_rtls_deliver_run(struct ms_rtls_delivery *d, char *why, size_t whylen)
{
	if (d == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL delivery");
	while (!d->done) {
		ms_status st = ms_rtls_deliver_step(d, why, whylen);
		if (st != MS_OK)
			return st;
		int t = ms_rtls_deliver_timeout_ms(d), fd = ms_rtls_deliver_fd(d);
		if (t > 0) {
			struct pollfd p = { .fd = fd, .events = ms_rtls_deliver_events(d) };
			(void)poll(&p, fd >= 0 ? 1 : 0, t);
		}
	}
	return MS_OK;
}

const struct ms_rtls_route *ms_rtls_deliver_route(const struct ms_rtls_delivery *d)
{
	return d ? d->route : NULL;
}

int ms_rtls_deliver_delivered(const struct ms_rtls_delivery *d)
{
	if (d == NULL || !d->done)
		return 0;
	for (size_t i = 0; i < d->nrcpt; i++)
		if (!d->rcpts[i].res.delivered)
			return 0;
	return 1;
}

const struct ms_rtls_attempt *ms_rtls_deliver_success(const struct ms_rtls_delivery *d)
{
	for (size_t i = 0; d && i < d->nattempts; i++)
		if (d->attempts[i].delivered)
			return &d->attempts[i];
	return NULL;
}

const struct ms_rtls_outcome *ms_rtls_deliver_outcome(const struct ms_rtls_delivery *d)
{
	return d ? &d->final : NULL;
}

size_t ms_rtls_deliver_attempt_count(const struct ms_rtls_delivery *d)
{
	return d ? d->nattempts : 0;
}

const struct ms_rtls_attempt *ms_rtls_deliver_attempt(const struct ms_rtls_delivery *d, size_t i)
{
	return d && i < d->nattempts ? &d->attempts[i] : NULL;
}

size_t ms_rtls_deliver_rcpt_count(const struct ms_rtls_delivery *d)
{
	return d ? d->nrcpt : 0;
}

const struct ms_rtls_rcpt_result *ms_rtls_deliver_rcpt(const struct ms_rtls_delivery *d, size_t i)
{
	return d && i < d->nrcpt ? &d->rcpts[i].res : NULL;
}
