/*
 * deliver.c - one delivery attempt on one MX host: connect, EHLO,
 * STARTTLS, DANE/PKIX checks of the chain, EHLO again over TLS (the
 * pre-TLS capabilities discarded, RFC 3207 s4.2), the engine's judgement,
 * and only on DELIVER the MAIL/RCPT/DATA transaction (RFC 5321 s3.3).
 */
#include "send.h"
#include <mailsec/requiretls_verify.h>

#include <mailsec/requiretls_smtp.h>

#include <string.h>

/* A session of librequiretls's transport and the last reply it read. */
struct conn {
	struct ms_rtls_smtp *s;
	struct ms_rtls_smtp_reply r;
};

/* The last reply's text (out of line: its 1000-byte bound is not what
 * the callers' messages are sized for, they truncate). */
__attribute__((noinline)) static const char *last_text(const struct conn *c)
{
	return c->r.text;
}

/* A server's refusal of MAIL/RCPT/DATA as an outcome: 4xx may go away
 * (try the next host), 5xx is final (RFC 5321 s4.2.1). */
static void refused(struct attempt *a, struct conn *c, const char *step)
{
	int code = c->r.code;
	const char *last = last_text(c);
	struct ms_rtls_outcome *o = &a->out;
	memset(o, 0, sizeof(*o));
	a->rejected = 1;
	o->verdict = code >= 500 ? MS_RTLS_PERMFAIL : MS_RTLS_TRY_NEXT;
	o->temporary = code < 500;
	o->basic = code >= 500 ? 5 : 4;
	/* Take the server's enhanced code (RFC 3463 "c.d.e") when it gave one. */
	size_t n = strspn(last, "0123456789.");
	if (n >= 5 && n < sizeof(o->enhanced) && last[0] == (char)('0' + o->basic) && last[1] == '.')
		memcpy(o->enhanced, last, n);
	else
		snprintf(o->enhanced, sizeof(o->enhanced), "%d.0.0", o->basic);
	snprintf(o->bounce_enhanced, sizeof(o->bounce_enhanced), "5%s", o->enhanced + 1);
	snprintf(o->text, sizeof(o->text), "%.100s said %d %.100s (in reply to %s)",
		 ms_rtls_route_host_name(a->host), code, last, step);
}

/* EHLO, the capabilities parsed by the transport (over TLS: the pre-TLS
 * ones already discarded, RFC 3207 s4.2); 0 when the reply is not a
 * usable 250. */
static int ehlo(struct send *s, struct conn *c, struct attempt *a)
{
	char why[256] = "";
	ms_status st = ms_rtls_smtp_ehlo(c->s, s->helo, &c->r, why, sizeof(why));
	if (st != MS_OK && c->r.code == 0) {
		snprintf(a->error, sizeof(a->error), "EHLO: %s", why);
		return 0;
	}
	if (st != MS_OK) {
		snprintf(a->error, sizeof(a->error), "EHLO refused or malformed: %d %s %s",
			 c->r.code, last_text(c), st == MS_ERR_STATE ? "" : why);
		return 0;
	}
	ms_rtls_observe_ehlo(ms_rtls_smtp_caps(c->s), &a->o);
	return 1;
}

static int connect_host(struct send *s, const struct ms_rtls_route_host *h,
			struct conn *c, struct attempt *a)
{
	struct ms_rtls_smtp_opts o = { .version = MS_RTLS_SMTP_OPTS_VERSION,
				       .timeout_ms = s->cli->timeout_ms ? s->cli->timeout_ms : 30000 };
	char why[256] = "no address";
	for (size_t i = 0; i < ms_rtls_route_host_addr_count(h); i++) {
		const char *addr = ms_rtls_route_host_addr(h, i);
		if (ms_rtls_smtp_new(&s->cli->env, &o, &c->s) != MS_OK) {
			snprintf(why, sizeof(why), "out of memory");
			break;
		}
		why[0] = '\0';
		if (ms_rtls_smtp_connect(c->s, addr, s->port, why, sizeof(why)) == MS_OK) {
			snprintf(a->addr, sizeof(a->addr), "%s", addr);
			if (ms_rtls_smtp_greeting(c->s, &c->r, why, sizeof(why)) == MS_OK &&
			    c->r.code == 220)
				return 1;
			if (why[0] == '\0' || c->r.code != 0)
				snprintf(why, sizeof(why), "greeting %d %s", c->r.code, last_text(c));
		}
		ms_rtls_smtp_free(c->s);
		c->s = NULL;
	}
	snprintf(a->error, sizeof(a->error), "connect: %s", why);
	return 0;
}

/* STARTTLS, the checks of the chain, and the post-TLS EHLO.  Returns 0
 * when the connection cannot be used any more. */
static int go_tls(struct send *s, const struct ms_rtls_route_host *h, struct conn *c,
		  struct attempt *a)
{
	char why[256] = "";
	/* SNI: the TLSA base domain (RFC 7672 s8.1), else the MX name. */
	ms_status st = ms_rtls_smtp_starttls(c->s, s->tls, ms_rtls_route_host_sni(h), &c->r, why,
					     sizeof(why));
	if (st != MS_OK) {
		a->o.handshake = MS_RTLS_STEP_FAILED;
		snprintf(a->error, sizeof(a->error), "%s", why);
		return st == MS_ERR_STATE; /* a refused STARTTLS leaves plaintext usable */
	}
	a->o.handshake = MS_RTLS_STEP_OK;
	SSL *ssl = ms_rtls_smtp_ssl(c->s);
	snprintf(a->tls, sizeof(a->tls), "%s", ms_rtls_smtp_tls(c->s));
	/* Both checks whatever the plan demands: the engine also needs them
	 * to report what TLS-Required: No or testing mode let through. */
	struct ms_rtls_verify_opts vo = { .version = MS_RTLS_VERIFY_OPTS_VERSION,
					  .ca_file = s->ca_file, .now = cli_now(s->cli) };
	struct ms_rtls_peer peer;
	if (ms_rtls_verify_peer(&s->cli->env, ssl, h, &vo, &peer, why, sizeof(why)) == MS_OK) {
		ms_rtls_peer_observe(&peer, &a->o);
		snprintf(a->dane, sizeof(a->dane), "%s", peer.dane_detail);
		snprintf(a->pkix, sizeof(a->pkix), "%s", peer.pkix_detail);
	} else {
		a->o.dane = a->o.pkix = MS_RTLS_STEP_FAILED;
		snprintf(a->pkix, sizeof(a->pkix), "verification impossible: %s", why);
	}
	/* RFC 3207 s4.2: the transport forgot what was learnt before TLS;
	 * ask again. */
	if (!ehlo(s, c, a)) {
		a->o.handshake = MS_RTLS_STEP_FAILED;
		return 0;
	}
	return 1;
}

static void transaction(struct send *s, struct conn *c, struct attempt *a)
{
	char why[256] = "";
	struct ms_rtls_mail *m = NULL;
	if (ms_rtls_mail_new(&s->cli->env, &m) != MS_OK ||
	    ms_rtls_outcome_apply(&a->out, m) != MS_OK ||
	    ms_rtls_mail_format(m, a->mail_params, sizeof(a->mail_params), NULL) != MS_OK) {
		ms_rtls_mail_free(m);
		snprintf(a->error, sizeof(a->error), "cannot format MAIL FROM parameters");
		return;
	}
	ms_rtls_mail_free(m);
	const char *step = "MAIL FROM";
	if (ms_rtls_smtp_mail(c->s, s->from, a->mail_params, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	if (c->r.code != 250)
		goto no;
	step = "RCPT TO";
	if (ms_rtls_smtp_rcpt(c->s, s->to, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	if (c->r.code != 250 && c->r.code != 251)
		goto no;
	step = "DATA";
	if (ms_rtls_smtp_data(c->s, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	if (c->r.code != 354)
		goto no;
	step = "end of data";
	if (ms_rtls_smtp_message(c->s, s->msg, s->msglen, &c->r, why, sizeof(why)) != MS_OK)
		goto io;
	snprintf(a->reply, sizeof(a->reply), "%d %s", c->r.code, last_text(c));
	if (c->r.code / 100 != 2)
		goto no;
	a->delivered = 1;
	ms_rtls_smtp_quit(c->s, NULL, why, sizeof(why));
	return;
no:
	snprintf(a->reply, sizeof(a->reply), "%d %s", c->r.code, last_text(c));
	refused(a, c, step);
	ms_rtls_smtp_quit(c->s, NULL, why, sizeof(why));
	return;
io:
	/* Lost connection mid-transaction: the message may or may not have
	 * arrived; a real MTA would retry later (RFC 5321 s6.1).  Here the
	 * next host is tried. */
	snprintf(a->error, sizeof(a->error), "%s: %s", step, why);
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

void attempt_run(struct send *s, const struct ms_rtls_route_host *h, int plaintext,
		 const struct ms_rtls_observed *prev, struct attempt *a)
{
	memset(a, 0, sizeof(*a));
	a->host = h;
	if (plaintext && prev) {
		/* The engine wants the TLS try's handshake result kept. */
		a->o.handshake = prev->handshake;
		a->o.plaintext = 1;
	}
	struct conn conn = { 0 }, *c = &conn;
	if (connect_host(s, h, c, a) && ehlo(s, c, a)) {
		a->o.connected = 1;
		a->greeted = 1;
		if (!plaintext && a->o.starttls_offered && !go_tls(s, h, c, a)) {
			ms_rtls_smtp_free(c->s);
			c->s = NULL;
		}
	}
	const struct ms_rtls_plan *plan = ms_rtls_route_host_plan(h);
	ms_rtls_judge(ms_rtls_route_engine_domain(s->route), ms_rtls_route_host_engine(h), plan,
		      &a->o, &a->out);
	/* Never send the message unless the engine says so, and never over a
	 * connection that is no longer usable. */
	if (a->out.verdict == MS_RTLS_DELIVER && c->s != NULL) {
		transaction(s, c, a);
	} else if (c->s != NULL) {
		char why[64];
		ms_rtls_smtp_quit(c->s, NULL, why, sizeof(why));
	} else if (a->out.verdict == MS_RTLS_DELIVER) {
		/* The engine allows delivery, but this connection died during
		 * the TLS steps: ask for the plaintext retry or the next host. */
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
