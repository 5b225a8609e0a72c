/*
 * send_report.c - what `mailsec send` prints about a finished
 * ms_rtls_send: per domain the attempts and the delivery or the DSN that
 * would be sent (RFC 3464), per recipient one line; or one JSON document
 * whose top-level keys describe the first recipient's domain as before
 * multi-recipient send (docs/cli.md), plus `recipients` and `domains`.
 */
#include "send.h"

#include <string.h>

static void json_attempt(struct cli_out *o, const struct ms_rtls_attempt *a)
{
	out_obj(o, NULL);
	out_str(o, "host", NULL, ms_rtls_route_host_name(a->host));
	out_str(o, "address", NULL, a->addr[0] ? a->addr : NULL);
	out_str(o, "mode", NULL, ms_rtls_mode_str(a->mode));
	out_bool(o, "plaintext_retry", a->o.plaintext);
	out_bool(o, "connected", a->o.connected);
	out_bool(o, "starttls", a->o.starttls_offered);
	out_str(o, "handshake", NULL, ms_rtls_step_str(a->o.handshake));
	out_str(o, "tls", NULL, a->tls[0] ? a->tls : NULL);
	out_str(o, "dane", NULL, ms_rtls_step_str(a->o.dane));
	out_str(o, "dane_detail", NULL, a->dane[0] ? a->dane : NULL);
	out_str(o, "pkix", NULL, ms_rtls_step_str(a->o.pkix));
	out_str(o, "pkix_detail", NULL, a->pkix[0] ? a->pkix : NULL);
	out_bool(o, "requiretls_offered", a->o.requiretls_offered);
	out_str(o, "verdict", NULL, a->delivered ? "delivered" : ms_rtls_verdict_str(a->out.verdict));
	out_str(o, "reason", NULL, ms_rtls_reason_str(a->out.reason));
	out_str(o, "ignored", NULL, a->out.ignored ? ms_rtls_reason_str(a->out.ignored) : NULL);
	out_str(o, "status", NULL, a->out.enhanced[0] ? a->out.enhanced : NULL);
	out_str(o, "text", NULL, a->out.text[0] ? a->out.text : NULL);
	out_str(o, "mail_params", NULL, a->out.verdict == MS_RTLS_DELIVER ? a->mail_params : NULL);
	out_str(o, "reply", NULL, a->reply[0] ? a->reply : NULL);
	out_str(o, "error", NULL, a->error[0] ? a->error : NULL);
	out_close(o);
}

/* The keys of one domain's delivery (also the top-level ones). */
static void json_domain_keys(struct cli_out *o, const struct ms_rtls_delivery *dv)
{
	const struct ms_rtls_attempt *d = ms_rtls_deliver_success(dv);
	const struct ms_rtls_outcome *f = ms_rtls_deliver_outcome(dv);
	int all = ms_rtls_deliver_delivered(dv);
	out_str(o, "domain", NULL, ms_rtls_route_domain(ms_rtls_deliver_route(dv)));
	out_str(o, "host", NULL, d ? ms_rtls_route_host_name(d->host) : NULL);
	out_str(o, "address", NULL, d ? d->addr : NULL);
	out_str(o, "tls", NULL, d && d->tls[0] ? d->tls : NULL);
	out_bool(o, "requiretls", d && d->out.mail_requiretls);
	out_str(o, "mail_params", NULL, d ? d->mail_params : NULL);
	out_str(o, "verdict", NULL, all ? "delivered" : ms_rtls_verdict_str(f->verdict));
	out_str(o, "status", NULL, all ? "2.0.0" : f->enhanced);
	out_str(o, "bounce_status", NULL, all ? NULL : f->bounce_enhanced);
	out_str(o, "action", NULL, all ? NULL : ms_rtls_dsn_action(f));
	out_str(o, "dsn", NULL, all ? NULL : f->text);
	out_str(o, "reply", NULL, d ? d->reply : NULL);
	out_arr(o, "attempts");
	for (size_t i = 0; i < ms_rtls_deliver_attempt_count(dv); i++)
		json_attempt(o, ms_rtls_deliver_attempt(dv, i));
	out_close_arr(o);
}

static void json_report(const struct send_report *r)
{
	const struct ms_rtls_send *s = r->send;
	const char *note = ms_rtls_send_raise_note(s);
	struct cli_out o;
	out_begin(&o, r->cli, "", 0);
	out_bool(&o, "delivered", ms_rtls_send_delivered(s));
	out_str(&o, "requirement", NULL, ms_rtls_requirement_str(ms_rtls_send_requirement(s)));
	out_str(&o, "tls_required_header", NULL, ms_rtls_tlsreq_str(r->header));
	out_bool(&o, "requiretls_raised", ms_rtls_send_raised(s));
	out_str(&o, "memory_note", NULL, note[0] ? note : NULL);
	/* The first recipient's domain, as send reported before it took
	 * several recipients. */
	json_domain_keys(&o, ms_rtls_send_delivery(s, 0));
	out_arr(&o, "recipients");
	for (size_t i = 0; i < ms_rtls_send_rcpt_count(s); i++) {
		size_t k = 0;
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, i, &k);
		int ok = rr->delivered;
		out_obj(&o, NULL);
		out_str(&o, "address", NULL, r->to[i]);
		out_str(&o, "domain", NULL, ms_rtls_send_domain(s, k));
		out_bool(&o, "delivered", ok);
		out_str(&o, "status", NULL, ok ? "2.0.0" : rr->out.enhanced);
		out_str(&o, "bounce_status", NULL, ok ? NULL : rr->out.bounce_enhanced);
		out_str(&o, "action", NULL, ok ? NULL : ms_rtls_dsn_action(&rr->out));
		out_str(&o, "dsn", NULL, ok ? NULL : rr->out.text);
		out_str(&o, "host", NULL, rr->attempt ? ms_rtls_route_host_name(rr->attempt->host) :
			NULL);
		out_str(&o, "reply", NULL, rr->reply[0] ? rr->reply : NULL);
		out_close(&o);
	}
	out_close_arr(&o);
	out_arr(&o, "domains");
	for (size_t k = 0; k < ms_rtls_send_domain_count(s); k++) {
		out_obj(&o, NULL);
		out_bool(&o, "delivered", ms_rtls_deliver_delivered(ms_rtls_send_delivery(s, k)));
		json_domain_keys(&o, ms_rtls_send_delivery(s, k));
		out_close(&o);
	}
	out_close_arr(&o);
	out_end(&o);
}

static void human_attempt(const struct ms_rtls_attempt *a)
{
	printf("%s [%s] mode %s%s:", ms_rtls_route_host_name(a->host), a->addr[0] ? a->addr : "-",
	       ms_rtls_mode_str(a->mode), a->o.plaintext ? " (plaintext retry)" : "");
	if (a->mode == MS_RTLS_MODE_SKIP) {
		printf(" skipped, %s %s\n", a->out.enhanced, a->out.text);
		return;
	}
	printf(" %s, STARTTLS %s, TLS %s", a->o.connected ? "connected" : "not connected",
	       a->o.starttls_offered ? "offered" : "not offered", a->tls[0] ? a->tls : "no");
	if (a->dane[0])
		printf(", DANE %s", a->dane);
	if (a->pkix[0])
		printf(", PKIX %s", a->pkix);
	if (a->o.handshake == MS_RTLS_STEP_OK)
		printf(", REQUIRETLS %s", a->o.requiretls_offered ? "offered" : "not offered");
	if (a->delivered)
		printf("\n  delivered: %s\n", a->reply);
	else
		printf("\n  %s%s%s%s%s\n", ms_rtls_verdict_str(a->out.verdict),
		       a->out.enhanced[0] ? " " : "", a->out.enhanced, a->out.text[0] ? " " : "",
		       a->out.text);
	if (a->out.ignored)
		printf("  TLS-Required: No let this through: %s\n", ms_rtls_reason_str(a->out.ignored));
	if (a->error[0])
		printf("  (%s)\n", a->error);
}

static void human_domain(const struct ms_rtls_delivery *dv)
{
	for (size_t i = 0; i < ms_rtls_deliver_attempt_count(dv); i++)
		human_attempt(ms_rtls_deliver_attempt(dv, i));
	const struct ms_rtls_attempt *d = ms_rtls_deliver_success(dv);
	if (d)
		printf("delivered to %s [%s] %s%s%s\n", ms_rtls_route_host_name(d->host), d->addr,
		       d->tls[0] ? "over " : "in plaintext", d->tls,
		       d->out.mail_requiretls ? " with REQUIRETLS" : "");
	for (size_t i = 0; i < ms_rtls_deliver_rcpt_count(dv); i++) {
		const struct ms_rtls_rcpt_result *rr = ms_rtls_deliver_rcpt(dv, i);
		const struct ms_rtls_outcome *f = &rr->out;
		if (rr->delivered)
			continue;
		printf("not delivered; the DSN that would be sent (RFC 3464):\n"
		       "  Final-Recipient: rfc822;%s\n  Action: %s\n  Status: %s\n"
		       "  Diagnostic-Code: smtp; %s\n",
		       rr->address, ms_rtls_dsn_action(f), ms_rtls_dsn_status(f), f->text);
		if (f->verdict != MS_RTLS_PERMFAIL)
			printf("  (when the retries run out: Status %s)\n", f->bounce_enhanced);
	}
}

void send_report(const struct send_report *r)
{
	const struct ms_rtls_send *s = r->send;
	if (r->cli->json) {
		json_report(r);
		return;
	}
	printf("mailsec send %s -> ", r->from);
	for (size_t i = 0; i < r->nto; i++)
		printf("%s%s", i ? ", " : "", r->to[i]);
	printf(" (requirement %s, TLS-Required header %s)\n",
	       ms_rtls_requirement_str(ms_rtls_send_requirement(s)), ms_rtls_tlsreq_str(r->header));
	if (r->auto_requiretls)
		printf("auto-REQUIRETLS: %s%s%s\n",
		       ms_rtls_send_raised(s) ? "raised to required (every recipient domain is known "
						"to support REQUIRETLS)"
					      : "not raised",
		       ms_rtls_send_raise_note(s)[0] ? "; " : "", ms_rtls_send_raise_note(s));
	for (size_t k = 0; k < ms_rtls_send_domain_count(s); k++) {
		if (ms_rtls_send_domain_count(s) > 1)
			printf("domain %s:\n", ms_rtls_send_domain(s, k));
		human_domain(ms_rtls_send_delivery(s, k));
	}
	/* One line per recipient, in the order given. */
	for (size_t i = 0; i < ms_rtls_send_rcpt_count(s); i++) {
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, i, NULL);
		if (rr->delivered)
			printf("recipient %s: delivered, status 2.0.0\n", r->to[i]);
		else
			printf("recipient %s: not delivered (%s), status %s\n", r->to[i],
			       ms_rtls_dsn_action(&rr->out), ms_rtls_dsn_status(&rr->out));
	}
}
