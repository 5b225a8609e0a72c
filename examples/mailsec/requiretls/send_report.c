/*
 * send_report.c - what `mailsec send` prints about a finished
 * ms_rtls_send: per domain the attempts and the delivery or the DSN that
 * would be sent (RFC 3464), per recipient one line; or one JSON document
 * whose top-level keys describe the first recipient's domain as before
 * multi-recipient send (docs/cli.md), plus `recipients` and `domains`.
 */
#include "send.h"

#include <string.h>

static const char *step_str(enum ms_rtls_step st)
{
	return st == MS_RTLS_STEP_OK ? "ok" : st == MS_RTLS_STEP_FAILED ? "failed" : "not-done";
}

/* RFC 3464 s2.3.3: a temporary failure gives a "delayed" DSN while the
 * message stays queued; a permanent one a "failed" DSN. */
static const char *action_of(const struct ms_rtls_outcome *o)
{
	return o->verdict == MS_RTLS_PERMFAIL ? "failed" : "delayed";
}

static void json_attempt(struct json *j, const struct ms_rtls_attempt *a)
{
	json_object_begin(j, NULL);
	json_string(j, "host", ms_rtls_route_host_name(a->host));
	json_string(j, "address", a->addr[0] ? a->addr : NULL);
	json_string(j, "mode", ms_rtls_mode_str(a->mode));
	json_bool(j, "plaintext_retry", a->o.plaintext);
	json_bool(j, "connected", a->o.connected);
	json_bool(j, "starttls", a->o.starttls_offered);
	json_string(j, "handshake", step_str(a->o.handshake));
	json_string(j, "tls", a->tls[0] ? a->tls : NULL);
	json_string(j, "dane", step_str(a->o.dane));
	json_string(j, "dane_detail", a->dane[0] ? a->dane : NULL);
	json_string(j, "pkix", step_str(a->o.pkix));
	json_string(j, "pkix_detail", a->pkix[0] ? a->pkix : NULL);
	json_bool(j, "requiretls_offered", a->o.requiretls_offered);
	json_string(j, "verdict", a->delivered ? "delivered" : ms_rtls_verdict_str(a->out.verdict));
	json_string(j, "reason", ms_rtls_reason_str(a->out.reason));
	json_string(j, "ignored", a->out.ignored ? ms_rtls_reason_str(a->out.ignored) : NULL);
	json_string(j, "status", a->out.enhanced[0] ? a->out.enhanced : NULL);
	json_string(j, "text", a->out.text[0] ? a->out.text : NULL);
	json_string(j, "mail_params", a->out.verdict == MS_RTLS_DELIVER ? a->mail_params : NULL);
	json_string(j, "reply", a->reply[0] ? a->reply : NULL);
	json_string(j, "error", a->error[0] ? a->error : NULL);
	json_object_end(j);
}

/* The keys of one domain's delivery (also the top-level ones). */
static void json_domain_keys(struct json *j, const struct ms_rtls_delivery *dv)
{
	const struct ms_rtls_attempt *d = ms_rtls_deliver_success(dv);
	const struct ms_rtls_outcome *f = ms_rtls_deliver_outcome(dv);
	int all = ms_rtls_deliver_delivered(dv);
	json_string(j, "domain", ms_rtls_route_domain(ms_rtls_deliver_route(dv)));
	json_string(j, "host", d ? ms_rtls_route_host_name(d->host) : NULL);
	json_string(j, "address", d ? d->addr : NULL);
	json_string(j, "tls", d && d->tls[0] ? d->tls : NULL);
	json_bool(j, "requiretls", d && d->out.mail_requiretls);
	json_string(j, "mail_params", d ? d->mail_params : NULL);
	json_string(j, "verdict", all ? "delivered" : ms_rtls_verdict_str(f->verdict));
	json_string(j, "status", all ? "2.0.0" : f->enhanced);
	json_string(j, "bounce_status", all ? NULL : f->bounce_enhanced);
	json_string(j, "action", all ? NULL : action_of(f));
	json_string(j, "dsn", all ? NULL : f->text);
	json_string(j, "reply", d ? d->reply : NULL);
	json_array_begin(j, "attempts");
	for (size_t i = 0; i < ms_rtls_deliver_attempt_count(dv); i++)
		json_attempt(j, ms_rtls_deliver_attempt(dv, i));
	json_array_end(j);
}

static void json_report(const struct send_report *r)
{
	const struct ms_rtls_send *s = r->send;
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_bool(&j, "delivered", ms_rtls_send_delivered(s));
	json_string(&j, "requirement", ms_rtls_requirement_str(ms_rtls_send_requirement(s)));
	json_string(&j, "tls_required_header", ms_rtls_tlsreq_str(r->header));
	json_bool(&j, "requiretls_raised", ms_rtls_send_raised(s));
	const char *note = ms_rtls_send_raise_note(s);
	json_string(&j, "memory_note", note[0] ? note : NULL);
	/* The first recipient's domain, as send reported before it took
	 * several recipients. */
	json_domain_keys(&j, ms_rtls_send_delivery(s, 0));
	json_array_begin(&j, "recipients");
	for (size_t i = 0; i < ms_rtls_send_rcpt_count(s); i++) {
		size_t k = 0;
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, i, &k);
		const struct ms_rtls_attempt *a = rr->attempt;
		json_object_begin(&j, NULL);
		json_string(&j, "address", r->to[i]);
		json_string(&j, "domain", ms_rtls_send_domain(s, k));
		json_bool(&j, "delivered", rr->delivered);
		json_string(&j, "status", rr->delivered ? "2.0.0" : rr->out.enhanced);
		json_string(&j, "bounce_status", rr->delivered ? NULL : rr->out.bounce_enhanced);
		json_string(&j, "action", rr->delivered ? NULL : action_of(&rr->out));
		json_string(&j, "dsn", rr->delivered ? NULL : rr->out.text);
		json_string(&j, "host", a ? ms_rtls_route_host_name(a->host) : NULL);
		json_string(&j, "reply", rr->reply[0] ? rr->reply : NULL);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_array_begin(&j, "domains");
	for (size_t k = 0; k < ms_rtls_send_domain_count(s); k++) {
		const struct ms_rtls_delivery *dv = ms_rtls_send_delivery(s, k);
		json_object_begin(&j, NULL);
		json_bool(&j, "delivered", ms_rtls_deliver_delivered(dv));
		json_domain_keys(&j, dv);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
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
		       rr->address, action_of(f),
		       f->verdict == MS_RTLS_PERMFAIL ? f->bounce_enhanced : f->enhanced, f->text);
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
			       action_of(&rr->out), rr->out.verdict == MS_RTLS_PERMFAIL
						       ? rr->out.bounce_enhanced : rr->out.enhanced);
	}
}
