/*
 * deliver_attempt.c - one delivery attempt on one MX host: connect over
 * the host's addresses, EHLO, STARTTLS, DANE/PKIX checks of the chain,
 * EHLO again over TLS (the pre-TLS capabilities discarded, RFC 3207 s4.2),
 * the engine's judgement, and only on DELIVER the MAIL/RCPT/DATA
 * transaction (RFC 5321 s3.3) for the recipients still pending, each RCPT
 * judged on its own.
 *
 * The attempt is a resumable state machine (issue 15): each transport
 * call is started, then stepped (rtls_attempt_step) whenever its socket
 * is ready, so no step waits on the network; between steps the caller
 * polls rtls_attempt_fd/_events/_wait_ms.  The decisions are the same
 * in every state as in the straight-line session they replace.
 */
#include "deliver_internal.h"
#include "smtp_internal.h"
#include "verify_internal.h"

#include "mailsec/requiretls_smtp.h"
#include "mailsec/requiretls_verify.h"

#include <stdio.h>
#include <string.h>

void rtls_refusal(struct ms_rtls_outcome *o, const char *host, int code, const char *text,
		  const char *step)
{
	memset(o, 0, sizeof(*o));
	/* 4xx may go away (try the next host), 5xx is final (RFC 5321 s4.2.1). */
	o->verdict = code >= 500 ? MS_RTLS_PERMFAIL : MS_RTLS_TRY_NEXT;
	o->temporary = code < 500;
	o->basic = code >= 500 ? 5 : 4;
	/* Take the server's enhanced code (RFC 3463 "c.d.e") when it gave one. */
	size_t n = strspn(text, "0123456789.");
	if (n >= 5 && n < sizeof(o->enhanced) && text[0] == (char)('0' + o->basic) && text[1] == '.')
		memcpy(o->enhanced, text, n);
	else
		snprintf(o->enhanced, sizeof(o->enhanced), "%d.0.0", o->basic);
	snprintf(o->bounce_enhanced, sizeof(o->bounce_enhanced), "5%s", o->enhanced + 1);
	snprintf(o->text, sizeof(o->text), "%.100s said %d %.100s (in reply to %s)", host, code,
		 text, step);
}

static void lost(struct ms_rtls_attempt *a, const char *step)
{
	/* The message may or may not have arrived; RFC 5321 s6.1 wants a
	 * retry later: the next host is tried, the recipients stay pending. */
	memset(&a->out, 0, sizeof(a->out));
	a->out.verdict = MS_RTLS_TRY_NEXT;
	a->out.temporary = 1;
	a->out.basic = 4;
	a->out.reason = MS_RTLS_R_CONNECT;
	snprintf(a->out.enhanced, sizeof(a->out.enhanced), "4.4.2");
	snprintf(a->out.bounce_enhanced, sizeof(a->out.bounce_enhanced), "5.4.2");
	snprintf(a->out.text, sizeof(a->out.text), "connection with %.100s lost during %s",
		 ms_rtls_route_host_name(a->host), step);
}

/* The server refused a step of the whole transaction (MAIL, DATA, the
 * final "."): 5xx ends it for every recipient still in it. */
static void refuse_all(struct ms_rtls_delivery *d, struct ms_rtls_attempt *a, const struct ms_rtls_smtp_reply *c,
		       const char *step)
{
	snprintf(a->reply, sizeof(a->reply), "%d %.290s", c->code, c->text);
	rtls_refusal(&a->out, ms_rtls_route_host_name(a->host), c->code, c->text, step);
	if (a->out.verdict != MS_RTLS_PERMFAIL)
		return;
	for (size_t i = 0; i < d->nrcpt; i++) {
		struct rcpt *r = &d->rcpts[i];
		if (r->state == RCPT_PENDING) {
			r->state = RCPT_DONE;
			r->res.out = a->out;
			snprintf(r->res.reply, sizeof(r->res.reply), "%s", a->reply);
			r->res.attempt = a;
		}
	}
}

/* What the attempt does when its current transport call completes. */
enum attempt_state {
	A_CONNECT,   /* the next address: open a session */
	A_CONNECTING,
	A_GREETING,
	A_EHLO,      /* the first EHLO */
	A_STARTTLS,  /* the command and the handshake */
	A_EHLO_TLS,  /* the EHLO over TLS */
	A_JUDGE,     /* no I/O: the engine's judgement */
	A_MAIL,
	A_RCPT,      /* RCPT of recipient `ri` */
	A_DATA,
	A_MESSAGE,
	A_QUIT,
	A_DONE,
};

struct rtls_attempt_sm {
	struct ms_rtls_delivery *d;
	const struct ms_rtls_route_host *h;
	struct ms_rtls_attempt *a;
	int plaintext;
	enum attempt_state state;
	struct ms_rtls_smtp *s;     /* the session (NULL: none usable) */
	size_t ai;                  /* the address being tried */
	size_t ri;                  /* the recipient at RCPT */
	char connect_why[256];      /* the last address's failure */
	struct ms_rtls_outcome first_refusal;
	const char *step;           /* the transaction step, for messages */
};

static void drop(struct rtls_attempt_sm *m)
{
	ms_rtls_smtp_free(m->s);
	m->s = NULL;
}

/* The first EHLO's result (A_EHLO and A_EHLO_TLS): 0 when the reply is
 * not a usable 250. */
static int ehlo_done(struct rtls_attempt_sm *m, ms_status st, const char *why)
{
	struct ms_rtls_attempt *a = m->a;
	const struct ms_rtls_smtp_reply *r = rtls_smtp_reply(m->s);
	if (st != MS_OK && r->code == 0) {
		snprintf(a->error, sizeof(a->error), "EHLO: %s", why);
		return 0;
	}
	if (st != MS_OK) {
		snprintf(a->error, sizeof(a->error), "EHLO refused or malformed: %d %.200s %s",
			 r->code, r->text, st == MS_ERR_STATE ? "" : why);
		return 0;
	}
	ms_rtls_observe_ehlo(ms_rtls_smtp_caps(m->s), &a->o);
	return 1;
}

/* Start a transport call; a call refused at once (state, arguments)
 * completes the state at once with that status. */
static int started(ms_status st, ms_status *now)
{
	*now = st;
	return st == MS_OK;
}

/* The next address of the host, or the end of the connect phase. */
static void next_address(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_smtp_opts o = { .version = MS_RTLS_SMTP_OPTS_VERSION,
				       .timeout_ms = d->timeout_ms };
	while (m->ai < ms_rtls_route_host_addr_count(m->h)) {
		const char *addr = ms_rtls_route_host_addr(m->h, m->ai++);
		if (ms_rtls_smtp_new(&d->env, &o, &m->s) != MS_OK) {
			snprintf(m->connect_why, sizeof(m->connect_why), "out of memory");
			break;
		}
		m->connect_why[0] = '\0';
		if (rtls_smtp_start_connect(m->s, addr, d->port, m->connect_why,
					    sizeof(m->connect_why)) == MS_OK) {
			snprintf(m->a->addr, sizeof(m->a->addr), "%s", addr);
			m->state = A_CONNECTING;
			return;
		}
		drop(m);
	}
	snprintf(m->a->error, sizeof(m->a->error), "connect: %s", m->connect_why);
	m->state = A_JUDGE;
}

/* STARTTLS done: the checks of the chain (no I/O), then the EHLO over
 * TLS.  0 when the connection cannot be used any more. */
static void tls_up(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	char why[256] = "";
	a->o.handshake = MS_RTLS_STEP_OK;
	snprintf(a->tls, sizeof(a->tls), "%s", ms_rtls_smtp_tls(m->s));
	/* Both checks whatever the plan demands: the engine also needs them
	 * to report what TLS-Required: No or testing mode let through. */
	/* One trust store per handle, not per connection (issue 20): parsing
	 * the CA bundle costs more than the verification.  A store that
	 * cannot be loaded is tried again next time; this call then tries
	 * ca_file itself and says "cannot load the CA store", as before. */
	if (d->ca_store == NULL && rtls_pkix_store_load(&d->ca_store, d->ca_file, NULL))
		d->own_store = 1;
	struct ms_rtls_verify_opts vo = { .version = MS_RTLS_VERIFY_OPTS_VERSION,
					  .ca_store = d->ca_store, .ca_file = d->ca_file,
					  .now = d->now, .dane_ctx = d->dane_ctx };
	struct ms_rtls_peer peer = { .version = MS_RTLS_PEER_VERSION };
	if (ms_rtls_verify_peer(&d->env, ms_rtls_smtp_ssl(m->s), m->h, &vo, &peer, why,
				sizeof(why)) == MS_OK) {
		ms_rtls_peer_observe(&peer, &a->o);
		a->tlsrpt = rtls_tlsrpt_of_peer(rtls_tlsrpt_policy(d->route, m->h), &peer);
		snprintf(a->dane, sizeof(a->dane), "%s", peer.dane_detail);
		snprintf(a->pkix, sizeof(a->pkix), "%s", peer.pkix_detail);
	} else {
		a->o.dane = a->o.pkix = MS_RTLS_STEP_FAILED;
		a->tlsrpt = MS_TLSRPT_VALIDATION_FAILURE;
		snprintf(a->pkix, sizeof(a->pkix), "verification impossible: %.200s", why);
	}
}

/* The transaction: MAIL FROM with the engine's parameters. */
static void transaction(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	char why[256] = "";
	struct ms_rtls_mail *ml = NULL;
	if (ms_rtls_mail_new(&d->env, &ml) != MS_OK ||
	    ms_rtls_outcome_apply(&a->out, ml) != MS_OK ||
	    ms_rtls_mail_format(ml, a->mail_params, sizeof(a->mail_params), NULL) != MS_OK) {
		ms_rtls_mail_free(ml);
		snprintf(a->error, sizeof(a->error), "cannot format MAIL FROM parameters");
		lost(a, "MAIL FROM");
		m->state = A_DONE;
		return;
	}
	ms_rtls_mail_free(ml);
	for (size_t i = 0; i < d->nrcpt; i++)
		d->rcpts[i].accepted = 0;
	memset(&m->first_refusal, 0, sizeof(m->first_refusal));
	m->step = "MAIL FROM";
	m->state = A_MAIL;
	if (rtls_smtp_start_mail(m->s, d->from, a->mail_params, why, sizeof(why)) != MS_OK) {
		snprintf(a->error, sizeof(a->error), "%s: %.280s", m->step, why);
		lost(a, m->step);
		m->state = A_DONE;
	}
}

/* QUIT whatever the session's state allows; then the attempt is over. */
static void quit(struct rtls_attempt_sm *m)
{
	char why[64];
	m->state = rtls_smtp_start_quit(m->s, why, sizeof(why)) == MS_OK ? A_QUIT : A_DONE;
}

/* A transaction step failed in the transport: the message may or may not
 * have arrived (lost). */
static void io_lost(struct rtls_attempt_sm *m, const char *why)
{
	snprintf(m->a->error, sizeof(m->a->error), "%s: %.280s", m->step, why);
	lost(m->a, m->step);
	m->state = A_DONE;
}

/* RCPT for the next pending recipient (RFC 5321 s4.1.1.3), or DATA when
 * every one had its RCPT. */
static void next_rcpt(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	char why[256] = "";
	while (m->ri < d->nrcpt && d->rcpts[m->ri].state != RCPT_PENDING)
		m->ri++;
	if (m->ri < d->nrcpt) {
		m->step = "RCPT TO";
		m->state = A_RCPT;
		if (rtls_smtp_start_rcpt(m->s, d->rcpts[m->ri].res.address, why, sizeof(why)) !=
		    MS_OK)
			io_lost(m, why);
		return;
	}
	if (a->rcpt_accepted == 0) {
		/* Nobody to send to here: the refusal of the first recipient
		 * (a 4xx one first: some may go elsewhere later). */
		a->out = m->first_refusal;
		quit(m);
		return;
	}
	m->step = "DATA";
	m->state = A_DATA;
	if (rtls_smtp_start_data(m->s, why, sizeof(why)) != MS_OK)
		io_lost(m, why);
}

/* A reply to RCPT: 2xx accepted, 5xx fails that recipient only, 4xx
 * keeps it for the next host. */
static void rcpt_reply(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	const struct ms_rtls_smtp_reply *c = rtls_smtp_reply(m->s);
	struct rcpt *r = &d->rcpts[m->ri++];
	if (c->code == 250 || c->code == 251) {
		r->accepted = 1;
		a->rcpt_accepted++;
		return;
	}
	struct ms_rtls_outcome o;
	rtls_refusal(&o, ms_rtls_route_host_name(a->host), c->code, c->text, "RCPT TO");
	if (m->first_refusal.basic == 0 || (m->first_refusal.basic == 5 && o.basic == 4))
		m->first_refusal = o;
	snprintf(a->reply, sizeof(a->reply), "%d %.290s", c->code, c->text);
	if (o.verdict == MS_RTLS_PERMFAIL) {
		r->state = RCPT_DONE;
		r->res.out = o;
		snprintf(r->res.reply, sizeof(r->res.reply), "%s", a->reply);
		r->res.attempt = a;
	}
}

/* The final reply was 2xx: the accepted recipients are delivered. */
static void delivered(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	const struct ms_rtls_smtp_reply *c = rtls_smtp_reply(m->s);
	snprintf(a->reply, sizeof(a->reply), "%d %.290s", c->code, c->text);
	a->delivered = 1;
	for (size_t i = 0; i < d->nrcpt; i++) {
		struct rcpt *r = &d->rcpts[i];
		if (r->state == RCPT_PENDING && r->accepted) {
			r->state = RCPT_DONE;
			r->res.delivered = 1;
			snprintf(r->res.reply, sizeof(r->res.reply), "%s", a->reply);
			r->res.attempt = a;
		}
	}
	/* Recipients refused with 4xx stay pending for the next host; the
	 * attempt says why (the engine's DELIVER stays in a->out). */
	if (m->first_refusal.basic == 4)
		d->temp_refusal = m->first_refusal;
}

/* The engine's judgement on what the connection showed; only on
 * DELIVER, and only over a usable connection, the transaction. */
static void judge(struct rtls_attempt_sm *m)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	const struct ms_rtls_plan *plan = ms_rtls_route_host_plan(m->h);
	rtls_judge_fill(ms_rtls_route_engine_domain(d->route), ms_rtls_route_host_engine(m->h),
			plan, &a->o, &a->out);
	/* Never send the message unless the engine says so, and never over
	 * a connection that is no longer usable. */
	if (a->out.verdict == MS_RTLS_DELIVER && m->s != NULL) {
		transaction(m);
		return;
	}
	if (m->s != NULL) {
		quit(m);
		return;
	}
	m->state = A_DONE;
	if (a->out.verdict != MS_RTLS_DELIVER)
		return;
	/* The engine allows delivery, but this connection died during the
	 * TLS steps: the plaintext retry where the plan allows it (RFC
	 * 7435), else the next host. */
	a->out.verdict = a->o.handshake == MS_RTLS_STEP_FAILED && !m->plaintext &&
					 plan->mode == MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK
				 ? MS_RTLS_RETRY_PLAINTEXT : MS_RTLS_TRY_NEXT;
	if (a->out.verdict == MS_RTLS_TRY_NEXT) {
		a->out.temporary = 1;
		a->out.basic = 4;
		a->out.reason = MS_RTLS_R_HANDSHAKE;
		snprintf(a->out.enhanced, sizeof(a->out.enhanced), "4.7.5");
		snprintf(a->out.bounce_enhanced, sizeof(a->out.bounce_enhanced), "5.7.5");
		snprintf(a->out.text, sizeof(a->out.text), "TLS session with %.100s failed: %.120s",
			 ms_rtls_route_host_name(m->h), a->error);
	}
}

/* The current transport call completed with `st`: the next state. */
static void advance(struct rtls_attempt_sm *m, ms_status st, const char *why)
{
	struct ms_rtls_delivery *d = m->d;
	struct ms_rtls_attempt *a = m->a;
	const struct ms_rtls_smtp_reply *c = rtls_smtp_reply(m->s);
	ms_status now = MS_OK;
	char w[256] = "";
	switch (m->state) {
	case A_CONNECTING:
		if (st == MS_OK && started(rtls_smtp_start_greeting(m->s, w, sizeof(w)), &now)) {
			m->state = A_GREETING;
			return;
		}
		snprintf(m->connect_why, sizeof(m->connect_why), "%s", st != MS_OK ? why : w);
		drop(m);
		next_address(m);
		return;
	case A_GREETING:
		if (st == MS_OK && c->code == 220) {
			m->state = A_EHLO;
			if (!started(rtls_smtp_start_ehlo(m->s, d->helo, w, sizeof(w)), &now))
				advance(m, now, w);
			return;
		}
		if (why[0] == '\0' || c->code != 0)
			snprintf(m->connect_why, sizeof(m->connect_why), "greeting %d %.200s", c->code,
				 c->text);
		else
			snprintf(m->connect_why, sizeof(m->connect_why), "%s", why);
		drop(m);
		next_address(m);
		return;
	case A_EHLO:
		if (!ehlo_done(m, st, why)) {
			m->state = A_JUDGE;
			return;
		}
		a->o.connected = 1;
		a->greeted = 1;
		if (!m->plaintext && !a->o.starttls_offered)
			a->tlsrpt = MS_TLSRPT_STARTTLS_NOT_SUPPORTED; /* RFC 8460 s4.3.1 */
		if (m->plaintext || !a->o.starttls_offered) {
			m->state = A_JUDGE;
			return;
		}
		m->state = A_STARTTLS;
		/* SNI: the TLSA base domain (RFC 7672 s8.1), else the MX name. */
		if (!started(rtls_smtp_start_starttls(m->s, d->tls, ms_rtls_route_host_sni(m->h), w,
						      sizeof(w)), &now))
			advance(m, now, w);
		return;
	case A_STARTTLS:
		if (st != MS_OK) {
			a->o.handshake = MS_RTLS_STEP_FAILED;
			/* RFC 8460 s4.3.1: a refused STARTTLS (454, MS_ERR_STATE)
			 * is starttls-not-supported; a failed handshake is not. */
			a->tlsrpt = st == MS_ERR_STATE ? MS_TLSRPT_STARTTLS_NOT_SUPPORTED
						       : MS_TLSRPT_VALIDATION_FAILURE;
			snprintf(a->error, sizeof(a->error), "%s", why);
			/* a refused STARTTLS leaves plaintext usable */
			if (st != MS_ERR_STATE)
				drop(m);
			m->state = A_JUDGE;
			return;
		}
		tls_up(m);
		/* RFC 3207 s4.2: the transport forgot what was learnt before TLS. */
		m->state = A_EHLO_TLS;
		if (!started(rtls_smtp_start_ehlo(m->s, d->helo, w, sizeof(w)), &now))
			advance(m, now, w);
		return;
	case A_EHLO_TLS:
		if (!ehlo_done(m, st, why)) {
			a->o.handshake = MS_RTLS_STEP_FAILED;
			if (a->tlsrpt == MS_TLSRPT_SUCCESS)
				a->tlsrpt = MS_TLSRPT_VALIDATION_FAILURE;
			drop(m);
		}
		m->state = A_JUDGE;
		return;
	case A_MAIL:
		if (st != MS_OK) {
			io_lost(m, why);
		} else if (c->code != 250) {
			refuse_all(d, a, c, m->step);
			quit(m);
		} else {
			m->ri = 0;
			next_rcpt(m);
		}
		return;
	case A_RCPT:
		if (st != MS_OK) {
			io_lost(m, why);
		} else {
			rcpt_reply(m);
			next_rcpt(m);
		}
		return;
	case A_DATA:
		if (st != MS_OK) {
			io_lost(m, why);
		} else if (c->code != 354) {
			refuse_all(d, a, c, m->step);
			quit(m);
		} else {
			m->step = "end of data";
			m->state = A_MESSAGE;
			if (!started(rtls_smtp_start_message(m->s, d->msg, d->msglen, w, sizeof(w)),
				     &now))
				io_lost(m, w);
		}
		return;
	case A_MESSAGE:
		if (st != MS_OK) {
			io_lost(m, why);
			return;
		}
		if (c->code / 100 != 2)
			refuse_all(d, a, c, m->step);
		else
			delivered(m);
		quit(m);
		return;
	default: /* A_QUIT: over whatever the answer */
		m->state = A_DONE;
		return;
	}
}

ms_status rtls_attempt_start(struct ms_rtls_delivery *d, const struct ms_rtls_route_host *h,
			     int plaintext, const struct ms_rtls_observed *prev,
			     struct ms_rtls_attempt *a)
{
	struct rtls_attempt_sm *m = d->sm;
	if (m == NULL) {
		m = ms_calloc(&d->env, 1, sizeof(*m));
		if (m == NULL)
			return MS_ERR_NOMEM;
		d->sm = m;
	}
	memset(m, 0, sizeof(*m));
	memset(a, 0, sizeof(*a));
	m->d = d;
	m->h = h;
	m->a = a;
	m->plaintext = plaintext;
	a->host = h;
	a->mode = ms_rtls_route_host_plan(h)->mode;
	if (plaintext && prev) {
		/* The engine wants the TLS try's handshake result kept. */
		a->o.handshake = prev->handshake;
		a->o.plaintext = 1;
	}
	snprintf(m->connect_why, sizeof(m->connect_why), "no address");
	next_address(m);
	return MS_OK;
}

int rtls_attempt_step(struct ms_rtls_delivery *d)
{
	struct rtls_attempt_sm *m = d->sm;
	for (;;) {
		if (m->state == A_JUDGE) {
			judge(m);
			continue;
		}
		if (m->state == A_DONE) {
			drop(m);
			return 1;
		}
		ms_status st;
		char why[256] = "";
		if (!rtls_smtp_step(m->s, &st, why, sizeof(why)))
			return 0;
		advance(m, st, why);
	}
}

int rtls_attempt_fd(const struct ms_rtls_delivery *d)
{
	const struct rtls_attempt_sm *m = d->sm;
	return m && m->s ? rtls_smtp_fd(m->s) : -1;
}

short rtls_attempt_events(const struct ms_rtls_delivery *d)
{
	const struct rtls_attempt_sm *m = d->sm;
	return m && m->s ? rtls_smtp_events(m->s) : 0;
}

int rtls_attempt_wait_ms(const struct ms_rtls_delivery *d)
{
	const struct rtls_attempt_sm *m = d->sm;
	return m && m->s ? rtls_smtp_wait_ms(m->s) : 0;
}

void rtls_attempt_cancel(struct ms_rtls_delivery *d)
{
	if (d->sm)
		drop(d->sm);
	ms_free(&d->env, d->sm);
	d->sm = NULL;
}
