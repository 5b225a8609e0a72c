/*
 * render_send.c - the report of a finished ms_rtls_send (ms_rtls_send_render):
 * per domain the attempts and the delivery or the DSN that would be sent
 * (RFC 3464), per recipient one line; or one JSON document whose top-level
 * keys describe the first recipient's domain, plus `recipients` and
 * `domains` (docs/cli.md, `mailsec send`).
 */
#include "mailsec/requiretls_deliver.h"

#include "ms_out.h"

#include <string.h>

static void json_attempt(struct ms_out *o, const struct ms_rtls_attempt *a)
{
	mo_obj(o, NULL);
	mo_str(o, "host", NULL, ms_rtls_route_host_name(a->host));
	mo_str(o, "address", NULL, a->addr[0] ? a->addr : NULL);
	mo_str(o, "mode", NULL, ms_rtls_mode_str(a->mode));
	mo_bool(o, "plaintext_retry", a->o.plaintext);
	mo_bool(o, "connected", a->o.connected);
	mo_bool(o, "starttls", a->o.starttls_offered);
	mo_str(o, "handshake", NULL, ms_rtls_step_str(a->o.handshake));
	mo_str(o, "tls", NULL, a->tls[0] ? a->tls : NULL);
	mo_str(o, "dane", NULL, ms_rtls_step_str(a->o.dane));
	mo_str(o, "dane_detail", NULL, a->dane[0] ? a->dane : NULL);
	mo_str(o, "pkix", NULL, ms_rtls_step_str(a->o.pkix));
	mo_str(o, "pkix_detail", NULL, a->pkix[0] ? a->pkix : NULL);
	mo_bool(o, "requiretls_offered", a->o.requiretls_offered);
	mo_str(o, "verdict", NULL, a->delivered ? "delivered" : ms_rtls_verdict_str(a->out.verdict));
	mo_str(o, "reason", NULL, ms_rtls_reason_str(a->out.reason));
	mo_str(o, "ignored", NULL, a->out.ignored ? ms_rtls_reason_str(a->out.ignored) : NULL);
	mo_str(o, "status", NULL, a->out.enhanced[0] ? a->out.enhanced : NULL);
	mo_str(o, "text", NULL, a->out.text[0] ? a->out.text : NULL);
	mo_str(o, "mail_params", NULL, a->out.verdict == MS_RTLS_DELIVER ? a->mail_params : NULL);
	mo_str(o, "reply", NULL, a->reply[0] ? a->reply : NULL);
	mo_str(o, "error", NULL, a->error[0] ? a->error : NULL);
	mo_close(o);
}

/* The keys of one domain's delivery (also the top-level ones). */
static void json_domain_keys(struct ms_out *o, const struct ms_rtls_delivery *dv)
{
	const struct ms_rtls_attempt *d = ms_rtls_deliver_success(dv);
	const struct ms_rtls_outcome *f = ms_rtls_deliver_outcome(dv);
	int all = ms_rtls_deliver_delivered(dv);
	mo_str(o, "domain", NULL, ms_rtls_route_domain(ms_rtls_deliver_route(dv)));
	mo_str(o, "host", NULL, d ? ms_rtls_route_host_name(d->host) : NULL);
	mo_str(o, "address", NULL, d ? d->addr : NULL);
	mo_str(o, "tls", NULL, d && d->tls[0] ? d->tls : NULL);
	mo_bool(o, "requiretls", d && d->out.mail_requiretls);
	mo_str(o, "mail_params", NULL, d ? d->mail_params : NULL);
	mo_str(o, "verdict", NULL, all ? "delivered" : ms_rtls_verdict_str(f->verdict));
	mo_str(o, "status", NULL, all ? "2.0.0" : f->enhanced);
	mo_str(o, "bounce_status", NULL, all ? NULL : f->bounce_enhanced);
	mo_str(o, "action", NULL, all ? NULL : ms_rtls_dsn_action(f));
	mo_str(o, "dsn", NULL, all ? NULL : f->text);
	mo_str(o, "reply", NULL, d ? d->reply : NULL);
	mo_arr(o, "attempts");
	for (size_t i = 0; i < ms_rtls_deliver_attempt_count(dv); i++)
		json_attempt(o, ms_rtls_deliver_attempt(dv, i));
	mo_close_arr(o);
}

static void json_report(struct ms_out *o, const struct ms_rtls_send *s,
			const struct ms_rtls_send_view *r)
{
	const char *note = ms_rtls_send_raise_note(s);
	mo_bool(o, "delivered", ms_rtls_send_delivered(s));
	mo_str(o, "requirement", NULL, ms_rtls_requirement_str(ms_rtls_send_requirement(s)));
	mo_str(o, "tls_required_header", NULL, ms_rtls_tlsreq_str(r->header));
	mo_bool(o, "requiretls_raised", ms_rtls_send_raised(s));
	mo_str(o, "memory_note", NULL, note[0] ? note : NULL);
	/* The first recipient's domain, as send reported before it took
	 * several recipients. */
	json_domain_keys(o, ms_rtls_send_delivery(s, 0));
	mo_arr(o, "recipients");
	for (size_t i = 0; i < ms_rtls_send_rcpt_count(s); i++) {
		size_t k = 0;
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, i, &k);
		int ok = rr->delivered;
		mo_obj(o, NULL);
		mo_str(o, "address", NULL, r->to[i]);
		mo_str(o, "domain", NULL, ms_rtls_send_domain(s, k));
		mo_bool(o, "delivered", ok);
		mo_str(o, "status", NULL, ok ? "2.0.0" : rr->out.enhanced);
		mo_str(o, "bounce_status", NULL, ok ? NULL : rr->out.bounce_enhanced);
		mo_str(o, "action", NULL, ok ? NULL : ms_rtls_dsn_action(&rr->out));
		mo_str(o, "dsn", NULL, ok ? NULL : rr->out.text);
		mo_str(o, "host", NULL, rr->attempt ? ms_rtls_route_host_name(rr->attempt->host) :
			NULL);
		mo_str(o, "reply", NULL, rr->reply[0] ? rr->reply : NULL);
		mo_close(o);
	}
	mo_close_arr(o);
	mo_arr(o, "domains");
	for (size_t k = 0; k < ms_rtls_send_domain_count(s); k++) {
		mo_obj(o, NULL);
		mo_bool(o, "delivered", ms_rtls_deliver_delivered(ms_rtls_send_delivery(s, k)));
		json_domain_keys(o, ms_rtls_send_delivery(s, k));
		mo_close(o);
	}
	mo_close_arr(o);
}

static void human_attempt(struct ms_out *o, const struct ms_rtls_attempt *a)
{
	mo_text(o, "%s [%s] mode %s%s:", ms_rtls_route_host_name(a->host), a->addr[0] ? a->addr : "-",
	       ms_rtls_mode_str(a->mode), a->o.plaintext ? " (plaintext retry)" : "");
	if (a->mode == MS_RTLS_MODE_SKIP) {
		mo_text(o, " skipped, %s %s\n", a->out.enhanced, a->out.text);
		return;
	}
	mo_text(o, " %s, STARTTLS %s, TLS %s", a->o.connected ? "connected" : "not connected",
	       a->o.starttls_offered ? "offered" : "not offered", a->tls[0] ? a->tls : "no");
	if (a->dane[0])
		mo_text(o, ", DANE %s", a->dane);
	if (a->pkix[0])
		mo_text(o, ", PKIX %s", a->pkix);
	if (a->o.handshake == MS_RTLS_STEP_OK)
		mo_text(o, ", REQUIRETLS %s", a->o.requiretls_offered ? "offered" : "not offered");
	if (a->delivered)
		mo_text(o, "\n  delivered: %s\n", a->reply);
	else
		mo_text(o, "\n  %s%s%s%s%s\n", ms_rtls_verdict_str(a->out.verdict),
		       a->out.enhanced[0] ? " " : "", a->out.enhanced, a->out.text[0] ? " " : "",
		       a->out.text);
	if (a->out.ignored)
		mo_text(o, "  TLS-Required: No let this through: %s\n", ms_rtls_reason_str(a->out.ignored));
	if (a->error[0])
		mo_text(o, "  (%s)\n", a->error);
}

static void human_domain(struct ms_out *o, const struct ms_rtls_delivery *dv)
{
	for (size_t i = 0; i < ms_rtls_deliver_attempt_count(dv); i++)
		human_attempt(o, ms_rtls_deliver_attempt(dv, i));
	const struct ms_rtls_attempt *d = ms_rtls_deliver_success(dv);
	if (d)
		mo_text(o, "delivered to %s [%s] %s%s%s\n", ms_rtls_route_host_name(d->host), d->addr,
		       d->tls[0] ? "over " : "in plaintext", d->tls,
		       d->out.mail_requiretls ? " with REQUIRETLS" : "");
	for (size_t i = 0; i < ms_rtls_deliver_rcpt_count(dv); i++) {
		const struct ms_rtls_rcpt_result *rr = ms_rtls_deliver_rcpt(dv, i);
		const struct ms_rtls_outcome *f = &rr->out;
		if (rr->delivered)
			continue;
		mo_text(o, "not delivered; the DSN that would be sent (RFC 3464):\n"
		       "  Final-Recipient: rfc822;%s\n  Action: %s\n  Status: %s\n"
		       "  Diagnostic-Code: smtp; %s\n",
		       rr->address, ms_rtls_dsn_action(f), ms_rtls_dsn_status(f), f->text);
		if (f->verdict != MS_RTLS_PERMFAIL)
			mo_text(o, "  (when the retries run out: Status %s)\n", f->bounce_enhanced);
	}
}

static void human_report(struct ms_out *o, const struct ms_rtls_send *s,
			 const struct ms_rtls_send_view *r)
{
	mo_text(o, "mailsec send %s -> ", r->from);
	for (size_t i = 0; i < r->nto; i++)
		mo_text(o, "%s%s", i ? ", " : "", r->to[i]);
	mo_text(o, " (requirement %s, TLS-Required header %s)\n",
	       ms_rtls_requirement_str(ms_rtls_send_requirement(s)), ms_rtls_tlsreq_str(r->header));
	if (r->auto_requiretls)
		mo_text(o, "auto-REQUIRETLS: %s%s%s\n",
		       ms_rtls_send_raised(s) ? "raised to required (every recipient domain is known "
						"to support REQUIRETLS)"
					      : "not raised",
		       ms_rtls_send_raise_note(s)[0] ? "; " : "", ms_rtls_send_raise_note(s));
	for (size_t k = 0; k < ms_rtls_send_domain_count(s); k++) {
		if (ms_rtls_send_domain_count(s) > 1)
			mo_text(o, "domain %s:\n", ms_rtls_send_domain(s, k));
		human_domain(o, ms_rtls_send_delivery(s, k));
	}
	/* One line per recipient, in the order given. */
	for (size_t i = 0; i < ms_rtls_send_rcpt_count(s); i++) {
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, i, NULL);
		if (rr->delivered)
			mo_text(o, "recipient %s: delivered, status 2.0.0\n", r->to[i]);
		else
			mo_text(o, "recipient %s: not delivered (%s), status %s\n", r->to[i],
			       ms_rtls_dsn_action(&rr->out), ms_rtls_dsn_status(&rr->out));
	}
}

ms_status ms_rtls_send_render(const struct ms_rtls_send *s, const struct ms_rtls_send_view *v,
			      enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (s == NULL || v == NULL || out == NULL || v->version != MS_RTLS_SEND_VIEW_VERSION ||
	    (v->nto && v->to == NULL) || v->nto < ms_rtls_send_rcpt_count(s))
		return MS_ERR_INVALID;
	if (!ms_rtls_send_done(s))
		return MS_ERR_STATE;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 0) != MS_OK)
		return MS_ERR_NOMEM;
	if (fmt == MS_RENDER_JSON)
		json_report(&o, s, v);
	else
		human_report(&o, s, v);
	return mo_end(&o, out, len);
}
