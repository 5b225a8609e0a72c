/*
 * auth.c - one inbound message from bytes to verdict: options, streaming
 * (every byte to the DKIM verifier; the header section kept for the From
 * scan), then SPF, iprev, DKIM, DMARC in finish.  The fields are written by
 * auth_header.c, the getters live in auth_get.c.
 */
#include "auth_internal.h"

#include <stdio.h>
#include <string.h>

static int clean(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

ms_status ms_auth_new(const struct ms_env *env, const struct ms_auth_opts *o,
		      struct ms_auth **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	if (o == NULL || o->version != MS_AUTH_OPTS_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID, "options missing or of another version");
	if (o->dns == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no DNS context");
	if (o->authserv_id == NULL || o->authserv_id[0] == '\0' ||
	    strlen(o->authserv_id) > 255 || !clean(o->authserv_id) ||
	    strchr(o->authserv_id, ' '))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad authserv-id");
	if (o->client_ip == NULL || o->helo == NULL || o->mail_from == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "client IP, HELO and MAIL FROM are required");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_auth *a = ms_calloc(&e, 1, sizeof(*a));
	if (a == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	a->env = e;
	a->dns = o->dns;
	a->flags = o->flags;
	a->iprev_max_names = o->iprev_max_names ? o->iprev_max_names
						: MS_IPREV_DEFAULT_MAX_NAMES;
	a->deadline_ms = o->deadline_ms ? o->deadline_ms : MS_AUTH_DEFAULT_DEADLINE_MS;
	a->from_outcome = MS_DMARC_FROM_MALFORMED;
	a->nl_state = 1;                 /* the message starts at a line start */
	/* +2: one octet past the bound tells "longer than the bound" */
	ms_buf_init(&a->hdr, &a->env, MS_DMARC_MAX_HEADER_SCAN + 2);
	a->authserv_id = ms_strdup(&a->env, o->authserv_id);
	a->ip = ms_strdup(&a->env, o->client_ip);
	a->helo = ms_strdup(&a->env, o->helo);
	a->mail_from = ms_strdup(&a->env, o->mail_from);
	ms_status st = MS_ERR_NOMEM;
	if (!a->authserv_id || !a->ip || !a->helo || !a->mail_from)
		goto fail;
	/* the evaluators the handle owns resolve through the view (auth_async.c) */
	if ((st = ms_auth_view_new(a)) != MS_OK)
		goto fail;
	a->dkim = o->dkim;
	if (a->dkim == NULL) {
		if ((st = ms_dkim_verifier_new(&a->env, a->view, &a->dkim_own)) != MS_OK)
			goto fail;
		a->dkim = a->dkim_own;
	}
	a->spf = o->spf;
	if (a->spf == NULL) {
		if ((st = ms_spf_new(&a->env, a->view, &a->spf_own)) != MS_OK)
			goto fail;
		a->spf = a->spf_own;
		/* the receiver in Received-SPF and %{r} is this MTA */
		if ((st = ms_spf_set_receiver(a->spf, a->authserv_id)) != MS_OK)
			goto fail;
	}
	a->dmarc = o->dmarc;
	if ((st = ms_dkim_verify_new(a->dkim, &a->vf)) != MS_OK)
		goto fail;
	*out = a;
	return MS_OK;
fail:
	ms_auth_free(a);
	return ms_why(why, whylen, st, "%s",
		      st == MS_ERR_NOMEM ? "out of memory" : "cannot set up the evaluators");
}

void ms_auth_free(struct ms_auth *a)
{
	if (a == NULL)
		return;
	const struct ms_env *e = &a->env;
	/* cancels lookups still pending: free before the end is cancel */
	ms_auth_view_free(a);
	ms_free(e, a->ar_header);
	ms_free(e, a->received_spf);
	ms_dmarc_verdict_free(a->mv);
	ms_free(e, a->dres);
	ms_iprev_verdict_free(a->iv);
	ms_spf_verdict_free(a->sv);
	ms_buf_free(&a->hdr);
	ms_dkim_verify_free(a->vf);
	ms_dmarc_free(a->dmarc_own);
	ms_spf_free(a->spf_own);
	ms_dkim_verifier_free(a->dkim_own);
	ms_free(e, a->authserv_id);
	ms_free(e, a->ip);
	ms_free(e, a->helo);
	ms_free(e, a->mail_from);
	struct ms_env copy = a->env;
	ms_free(&copy, a);
}

/* Keep the header section, and only it: a byte machine finds the empty
 * line across chunk boundaries (state 1: at the start of a line, 2: after
 * a CR there, 0: inside a line), so a message fed whole keeps no body
 * bytes.  A line of "\r\r\n" is not taken as the end: stopping late is
 * harmless, the From scan stops at its own empty line. */
static ms_status keep_header(struct ms_auth *a, const uint8_t *buf, size_t len)
{
	if (a->hdr_done || len == 0)
		return MS_OK;
	size_t i;
	for (i = 0; i < len && !a->hdr_done; i++) {
		uint8_t c = buf[i];
		if (a->nl_state != 0 && c == '\n')
			a->hdr_done = 1;
		else if (a->nl_state == 1 && c == '\r')
			a->nl_state = 2;
		else
			a->nl_state = c == '\n';
	}
	size_t room = a->hdr.max - a->hdr.len, take = i < room ? i : room;
	ms_status st = ms_buf_append(&a->hdr, buf, take);
	if (st != MS_OK)
		return st;
	if (a->hdr.len == a->hdr.max) {
		a->hdr_done = 1;
		a->hdr_over = 1;
	}
	return MS_OK;
}

ms_status ms_auth_feed(struct ms_auth *a, const uint8_t *buf, size_t len, char *why,
		       size_t whylen)
{
	if (a == NULL || (buf == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (a->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "message already finished");
	ms_status st = ms_dkim_verify_feed(a->vf, buf, len, why, whylen);
	if (st != MS_OK)
		return st;
	if (keep_header(a, buf, len) != MS_OK)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	return MS_OK;
}

enum ms_dmarc_dkim_result ms_auth_dkim_to_dmarc(enum ms_dkim_result r)
{
	switch (r) {
	case MS_DKIM_PASS: return MS_DMARC_DKIM_PASS;
	case MS_DKIM_FAIL: return MS_DMARC_DKIM_FAIL;
	case MS_DKIM_NEUTRAL: return MS_DMARC_DKIM_NEUTRAL;
	case MS_DKIM_POLICY: return MS_DMARC_DKIM_POLICY;
	case MS_DKIM_TEMPERROR: return MS_DMARC_DKIM_TEMPERROR;
	case MS_DKIM_PERMERROR: return MS_DMARC_DKIM_PERMERROR;
	}
	return MS_DMARC_DKIM_PERMERROR;
}

/* The author domain from the kept header section, and the DMARC
 * evaluator (the view's when the handle owns it). */
ms_status ms_auth_scan_from(struct ms_auth *a)
{
	if (a->hdr_over) {
		a->from_outcome = MS_DMARC_FROM_MALFORMED;
		snprintf(a->from_why, sizeof(a->from_why),
			 "header section longer than %u octets: From not searched to its end",
			 MS_DMARC_MAX_HEADER_SCAN);
	} else {
		ms_status st = ms_dmarc_from_message(a->hdr.data, a->hdr.len, &a->from_outcome,
						     a->from_domain, sizeof(a->from_domain),
						     a->from_why, sizeof(a->from_why));
		if (st != MS_OK)
			return st;
	}
	if (a->from_outcome != MS_DMARC_FROM_OK || a->dmarc != NULL)
		return MS_OK;
	ms_status st = ms_dmarc_new(&a->env, a->view, &a->dmarc_own, a->from_why,
				    sizeof(a->from_why));
	if (st == MS_OK)
		a->dmarc = a->dmarc_own;
	return st;
}

/* DMARC from the SPF and DKIM results. */
static ms_status run_dmarc(struct ms_auth *a, char *why, size_t whylen)
{
	size_t nsig = ms_dkim_verify_count(a->vf);
	if (a->from_outcome != MS_DMARC_FROM_OK)
		return MS_OK;
	const char **dom = ms_calloc(&a->env, nsig + 1, sizeof(*dom));
	const char **sel = ms_calloc(&a->env, nsig + 1, sizeof(*sel));
	ms_status st = MS_ERR_NOMEM;
	if (dom && sel) {
		for (size_t i = 0; i < nsig; i++) {
			const struct ms_dkim_sig *s = ms_dkim_verify_sig(a->vf, i);
			dom[i] = ms_dkim_sig_domain(s);
			sel[i] = ms_dkim_sig_selector(s);
		}
		st = ms_dmarc_check(a->dmarc, a->from_domain, ms_spf_verdict_result(a->sv),
				    ms_spf_verdict_domain(a->sv), dom, sel, a->dres, nsig,
				    &a->mv, why, whylen);
	} else {
		ms_why(why, whylen, st, "out of memory");
	}
	ms_free(&a->env, dom);
	ms_free(&a->env, sel);
	return st;
}

static enum ms_auth_disposition decide(const struct ms_auth *a)
{
	if ((a->flags & MS_AUTH_REJECT_BAD_FROM) && a->from_outcome != MS_DMARC_FROM_OK)
		return MS_AUTH_REJECT;
	if (!(a->flags & MS_AUTH_APPLY_POLICY) || a->mv == NULL)
		return MS_AUTH_ACCEPT;
	switch (ms_dmarc_verdict_disposition(a->mv)) {
	case MS_DMARC_POLICY_REJECT: return MS_AUTH_REJECT;
	case MS_DMARC_POLICY_QUARANTINE: return MS_AUTH_QUARANTINE;
	default: return MS_AUTH_ACCEPT;
	}
}

/* The final step (auth_async.c calls it once every lookup is answered or
 * the deadline passed): SPF through a borrowed evaluator (its own context,
 * synchronously), DKIM with the keys fetched, DMARC, the fields. */
ms_status ms_auth_conclude(struct ms_auth *a)
{
	char *why = a->why;
	size_t whylen = sizeof(a->why);
	char w[256] = "";
	ms_status st;
	if (a->spf != a->spf_own) {
		st = ms_spf_check_mailfrom(a->spf, a->ip, a->helo, a->mail_from, &a->sv, w,
					   sizeof(w));
		if (st != MS_OK)
			return ms_why(why, whylen, st, "spf: %s", w[0] ? w : "out of memory");
	}
	st = ms_dkim_verify_finish(a->vf, w, sizeof(w));
	if (st != MS_OK)
		return ms_why(why, whylen, st, "dkim: %s", w[0] ? w : "out of memory");
	size_t nsig = ms_dkim_verify_count(a->vf);
	if ((a->dres = ms_calloc(&a->env, nsig + 1, sizeof(*a->dres))) == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < nsig; i++)
		a->dres[i] = ms_auth_dkim_to_dmarc(ms_dkim_sig_result(ms_dkim_verify_sig(a->vf, i)));
	if ((st = run_dmarc(a, w, sizeof(w))) != MS_OK)
		return ms_why(why, whylen, st, "dmarc: %s", w[0] ? w : "out of memory");
	/* the header section is no longer needed */
	ms_buf_free(&a->hdr);
	a->disposition = decide(a);
	return ms_auth_write_fields(a, why, whylen);
}

ms_status ms_auth_run(const struct ms_env *env, const struct ms_auth_opts *opts,
		      const uint8_t *msg, size_t len, struct ms_auth **out, char *why,
		      size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	struct ms_auth *a = NULL;
	ms_status st = ms_auth_new(env, opts, &a, why, whylen);
	if (st == MS_OK)
		st = ms_auth_feed(a, msg, len, why, whylen);
	if (st == MS_OK)
		st = ms_auth_finish(a, why, whylen);
	if (st != MS_OK) {
		ms_auth_free(a);
		a = NULL;
	}
	*out = a;
	return st;
}
