/*
 * deliver_attempt.c - one delivery attempt on one MX host: connect over
 * the host's addresses, EHLO, STARTTLS, DANE/PKIX checks of the chain,
 * EHLO again over TLS (the pre-TLS capabilities discarded, RFC 3207 s4.2),
 * the engine's judgement, and only on DELIVER the MAIL/RCPT/DATA
 * transaction (RFC 5321 s3.3) for the recipients still pending, each RCPT
 * judged on its own.
 */
#include "deliver_internal.h"

#include "mailsec/requiretls_smtp.h"
#include "mailsec/requiretls_verify.h"

#include <stdio.h>
#include <string.h>

/* A session of the transport and the last reply it read. */
struct conn {
	struct ms_rtls_smtp *s;
	struct ms_rtls_smtp_reply r;
};

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

/* EHLO with the capabilities parsed by the transport; 0 when the reply
 * is not a usable 250. */
static int ehlo(struct ms_rtls_delivery *d, struct conn *c, struct ms_rtls_attempt *a)
{
	char why[256] = "";
	ms_status st = ms_rtls_smtp_ehlo(c->s, d->helo, &c->r, why, sizeof(why));
	if (st != MS_OK && c->r.code == 0) {
		snprintf(a->error, sizeof(a->error), "EHLO: %s", why);
		return 0;
	}
	if (st != MS_OK) {
		snprintf(a->error, sizeof(a->error), "EHLO refused or malformed: %d %.200s %s",
			 c->r.code, c->r.text, st == MS_ERR_STATE ? "" : why);
		return 0;
	}
	ms_rtls_observe_ehlo(ms_rtls_smtp_caps(c->s), &a->o);
	return 1;
}

static int connect_host(struct ms_rtls_delivery *d, const struct ms_rtls_route_host *h,
			struct conn *c, struct ms_rtls_attempt *a)
{
	struct ms_rtls_smtp_opts o = { .version = MS_RTLS_SMTP_OPTS_VERSION,
				       .timeout_ms = d->timeout_ms };
	char why[256] = "no address";
	for (size_t i = 0; i < ms_rtls_route_host_addr_count(h); i++) {
		const char *addr = ms_rtls_route_host_addr(h, i);
		if (ms_rtls_smtp_new(&d->env, &o, &c->s) != MS_OK) {
			snprintf(why, sizeof(why), "out of memory");
			break;
		}
		why[0] = '\0';
		if (ms_rtls_smtp_connect(c->s, addr, d->port, why, sizeof(why)) == MS_OK) {
			snprintf(a->addr, sizeof(a->addr), "%s", addr);
			if (ms_rtls_smtp_greeting(c->s, &c->r, why, sizeof(why)) == MS_OK &&
			    c->r.code == 220)
				return 1;
			if (why[0] == '\0' || c->r.code != 0)
				snprintf(why, sizeof(why), "greeting %d %.200s", c->r.code, c->r.text);
		}
		ms_rtls_smtp_free(c->s);
		c->s = NULL;
	}
	snprintf(a->error, sizeof(a->error), "connect: %s", why);
	return 0;
}

/* STARTTLS, the checks of the chain, and the post-TLS EHLO.  Returns 0
 * when the connection cannot be used any more. */
static int go_tls(struct ms_rtls_delivery *d, const struct ms_rtls_route_host *h,
		  struct conn *c, struct ms_rtls_attempt *a)
{
	char why[256] = "";
	/* SNI: the TLSA base domain (RFC 7672 s8.1), else the MX name. */
	ms_status st = ms_rtls_smtp_starttls(c->s, d->tls, ms_rtls_route_host_sni(h), &c->r, why,
					     sizeof(why));
	if (st != MS_OK) {
		a->o.handshake = MS_RTLS_STEP_FAILED;
		/* RFC 8460 s4.3.1: a refused STARTTLS (454, MS_ERR_STATE) is
		 * starttls-not-supported; a failed handshake is not. */
		a->tlsrpt = st == MS_ERR_STATE ? MS_TLSRPT_STARTTLS_NOT_SUPPORTED
					       : MS_TLSRPT_VALIDATION_FAILURE;
		snprintf(a->error, sizeof(a->error), "%s", why);
		return st == MS_ERR_STATE; /* a refused STARTTLS leaves plaintext usable */
	}
	a->o.handshake = MS_RTLS_STEP_OK;
	snprintf(a->tls, sizeof(a->tls), "%s", ms_rtls_smtp_tls(c->s));
	/* Both checks whatever the plan demands: the engine also needs them
	 * to report what TLS-Required: No or testing mode let through. */
	struct ms_rtls_verify_opts vo = { .version = MS_RTLS_VERIFY_OPTS_VERSION,
					  .ca_file = d->ca_file, .now = d->now };
	struct ms_rtls_peer peer = { .version = MS_RTLS_PEER_VERSION };
	if (ms_rtls_verify_peer(&d->env, ms_rtls_smtp_ssl(c->s), h, &vo, &peer, why,
				sizeof(why)) == MS_OK) {
		ms_rtls_peer_observe(&peer, &a->o);
		a->tlsrpt = rtls_tlsrpt_of_peer(rtls_tlsrpt_policy(d->route, h), &peer);
		snprintf(a->dane, sizeof(a->dane), "%s", peer.dane_detail);
		snprintf(a->pkix, sizeof(a->pkix), "%s", peer.pkix_detail);
	} else {
		a->o.dane = a->o.pkix = MS_RTLS_STEP_FAILED;
		a->tlsrpt = MS_TLSRPT_VALIDATION_FAILURE;
		snprintf(a->pkix, sizeof(a->pkix), "verification impossible: %.200s", why);
	}
	/* RFC 3207 s4.2: the transport forgot what was learnt before TLS. */
	if (!ehlo(d, c, a)) {
		a->o.handshake = MS_RTLS_STEP_FAILED;
		if (a->tlsrpt == MS_TLSRPT_SUCCESS)
			a->tlsrpt = MS_TLSRPT_VALIDATION_FAILURE;
		return 0;
	}
	return 1;
}

/* The server refused a step of the whole transaction (MAIL, DATA, the
 * final "."): 5xx ends it for every recipient still in it. */
static void refuse_all(struct ms_rtls_delivery *d, struct ms_rtls_attempt *a, struct conn *c,
		       const char *step)
{
	snprintf(a->reply, sizeof(a->reply), "%d %.290s", c->r.code, c->r.text);
	rtls_refusal(&a->out, ms_rtls_route_host_name(a->host), c->r.code, c->r.text, step);
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

/* RCPT for every pending recipient (RFC 5321 s4.1.1.3): 2xx accepted,
 * 5xx fails that recipient only, 4xx keeps it for the next host.
 * Returns 0 when the connection was lost. */
static int rcpts(struct ms_rtls_delivery *d, struct conn *c, struct ms_rtls_attempt *a,
		 struct ms_rtls_outcome *first_refusal)
{
	char why[256] = "";
	for (size_t i = 0; i < d->nrcpt; i++) {
		struct rcpt *r = &d->rcpts[i];
		if (r->state != RCPT_PENDING)
			continue;
		if (ms_rtls_smtp_rcpt(c->s, r->res.address, &c->r, why, sizeof(why)) != MS_OK) {
			snprintf(a->error, sizeof(a->error), "RCPT TO: %.280s", why);
			return 0;
		}
		if (c->r.code == 250 || c->r.code == 251) {
			r->accepted = 1;
			a->rcpt_accepted++;
			continue;
		}
		struct ms_rtls_outcome o;
		rtls_refusal(&o, ms_rtls_route_host_name(a->host), c->r.code, c->r.text, "RCPT TO");
		if (first_refusal->basic == 0 || (first_refusal->basic == 5 && o.basic == 4))
			*first_refusal = o;
		snprintf(a->reply, sizeof(a->reply), "%d %.290s", c->r.code, c->r.text);
		if (o.verdict == MS_RTLS_PERMFAIL) {
			r->state = RCPT_DONE;
			r->res.out = o;
			snprintf(r->res.reply, sizeof(r->res.reply), "%s", a->reply);
			r->res.attempt = a;
		}
	}
	return 1;
}

static void transaction(struct ms_rtls_delivery *d, struct conn *c, struct ms_rtls_attempt *a)
{
	char why[256] = "";
	struct ms_rtls_mail *m = NULL;
	if (ms_rtls_mail_new(&d->env, &m) != MS_OK || ms_rtls_outcome_apply(&a->out, m) != MS_OK ||
	    ms_rtls_mail_format(m, a->mail_params, sizeof(a->mail_params), NULL) != MS_OK) {
		ms_rtls_mail_free(m);
		snprintf(a->error, sizeof(a->error), "cannot format MAIL FROM parameters");
		lost(a, "MAIL FROM");
		return;
	}
	ms_rtls_mail_free(m);
	for (size_t i = 0; i < d->nrcpt; i++)
		d->rcpts[i].accepted = 0;
	const char *step = "MAIL FROM";
	if (ms_rtls_smtp_mail(c->s, d->from, a->mail_params, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	if (c->r.code != 250) {
		refuse_all(d, a, c, step);
		goto quit;
	}
	struct ms_rtls_outcome first_refusal = { 0 };
	if (!rcpts(d, c, a, &first_refusal)) {
		lost(a, "RCPT TO");
		return;
	}
	if (a->rcpt_accepted == 0) {
		/* Nobody to send to here: the refusal of the first recipient
		 * (a 4xx one first: some may go elsewhere later). */
		a->out = first_refusal;
		goto quit;
	}
	step = "DATA";
	if (ms_rtls_smtp_data(c->s, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	if (c->r.code != 354) {
		refuse_all(d, a, c, step);
		goto quit;
	}
	step = "end of data";
	if (ms_rtls_smtp_message(c->s, d->msg, d->msglen, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	if (c->r.code / 100 != 2) {
		refuse_all(d, a, c, step);
		goto quit;
	}
	snprintf(a->reply, sizeof(a->reply), "%d %.290s", c->r.code, c->r.text);
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
	if (first_refusal.basic == 4)
		d->temp_refusal = first_refusal;
quit:
	ms_rtls_smtp_quit(c->s, NULL, why, sizeof(why));
	return;
io:
	snprintf(a->error, sizeof(a->error), "%s: %.280s", step, why);
	lost(a, step);
}

void rtls_attempt_run(struct ms_rtls_delivery *d, const struct ms_rtls_route_host *h,
		      int plaintext, const struct ms_rtls_observed *prev,
		      struct ms_rtls_attempt *a)
{
	memset(a, 0, sizeof(*a));
	a->host = h;
	const struct ms_rtls_plan *plan = ms_rtls_route_host_plan(h);
	a->mode = plan->mode;
	if (plaintext && prev) {
		/* The engine wants the TLS try's handshake result kept. */
		a->o.handshake = prev->handshake;
		a->o.plaintext = 1;
	}
	struct conn conn = { 0 }, *c = &conn;
	if (connect_host(d, h, c, a) && ehlo(d, c, a)) {
		a->o.connected = 1;
		a->greeted = 1;
		if (!plaintext && !a->o.starttls_offered)
			a->tlsrpt = MS_TLSRPT_STARTTLS_NOT_SUPPORTED; /* RFC 8460 s4.3.1 */
		if (!plaintext && a->o.starttls_offered && !go_tls(d, h, c, a)) {
			ms_rtls_smtp_free(c->s);
			c->s = NULL;
		}
	}
	rtls_judge_fill(ms_rtls_route_engine_domain(d->route), ms_rtls_route_host_engine(h), plan,
		      &a->o, &a->out);
	/* Never send the message unless the engine says so, and never over a
	 * connection that is no longer usable. */
	if (a->out.verdict == MS_RTLS_DELIVER && c->s != NULL) {
		transaction(d, c, a);
	} else if (c->s != NULL) {
		char why[64];
		ms_rtls_smtp_quit(c->s, NULL, why, sizeof(why));
	} else if (a->out.verdict == MS_RTLS_DELIVER) {
		/* The engine allows delivery, but this connection died during
		 * the TLS steps: the plaintext retry where the plan allows it
		 * (RFC 7435), else the next host. */
		a->out.verdict = a->o.handshake == MS_RTLS_STEP_FAILED && !plaintext &&
						 plan->mode == MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK
					 ? MS_RTLS_RETRY_PLAINTEXT : MS_RTLS_TRY_NEXT;
		if (a->out.verdict == MS_RTLS_TRY_NEXT) {
			a->out.temporary = 1;
			a->out.basic = 4;
			a->out.reason = MS_RTLS_R_HANDSHAKE;
			snprintf(a->out.enhanced, sizeof(a->out.enhanced), "4.7.5");
			snprintf(a->out.bounce_enhanced, sizeof(a->out.bounce_enhanced), "5.7.5");
			snprintf(a->out.text, sizeof(a->out.text), "TLS session with %.100s failed: %.120s",
				 ms_rtls_route_host_name(h), a->error);
		}
	}
	ms_rtls_smtp_free(c->s);
}
