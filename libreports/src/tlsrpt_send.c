/*
 * tlsrpt_send.c - a report to the destinations its policy domain
 * publishes (RFC 8460 s3, s5): discovered here and nowhere else, so a
 * report about a domain never goes where that domain did not ask for it.
 * https: by POST (tlsrpt_post.c); mailto: as the s5.3 mail, DKIM-signed
 * when a key is given, through librequiretls's send with TLS-Required: No
 * (RFC 8689 s5, RFC 8460 s5.3: the report of broken TLS must get through
 * that broken TLS).
 */
#include "tlsrpt_internal.h"
#include "tlsrpt_send_internal.h"

#include <mailsec/dkim.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prepend DKIM-Signature fields to `mail` (a new buffer in *out). */
static ms_status dkim_sign(const struct ms_env *env, const struct ms_tlsrpt_send_opts *o,
			   const char *mail, size_t len, char **out, size_t *outlen, char *why,
			   size_t whylen)
{
	struct ms_dkim_signer *s = NULL;
	ms_status st = ms_dkim_signer_new(env, &s);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "DKIM signer");
	struct ms_dkim_sign_opts so = { .version = MS_DKIM_SIGN_OPTS_VERSION,
					.key = o->dkim_key,
					.domain = o->dkim_domain,
					.selector = o->dkim_selector,
					.header_canon = MS_DKIM_CANON_RELAXED,
					.body_canon = MS_DKIM_CANON_RELAXED,
					/* the report's own fields are signed too */
					.headers = "From:To:Date:Subject:Message-ID:MIME-Version:"
						   "Content-Type:TLS-Report-Domain:"
						   "TLS-Report-Submitter:TLS-Required" };
	if ((st = ms_dkim_signer_add(s, &so, why, whylen)) == MS_OK &&
	    (st = ms_dkim_signer_feed(s, (const uint8_t *)mail, len, why, whylen)) == MS_OK &&
	    (st = ms_dkim_signer_finish(s, why, whylen)) == MS_OK) {
		const char *h = ms_dkim_signer_headers(s);
		size_t hl = strlen(h);
		*out = malloc(hl + len + 1);
		if (*out == NULL) {
			st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		} else {
			memcpy(*out, h, hl);
			memcpy(*out + hl, mail, len + 1);
			*outlen = hl + len;
		}
	}
	ms_dkim_signer_free(s);
	return st;
}

static ms_status mail_one(const struct ms_env *env, struct ms_dns_ctx *dns, struct ms_sts *sts,
			  const char *rcpt, const struct ms_tlsrpt_report *rep,
			  const struct ms_tlsrpt_send_opts *o, char *detail, size_t dlen)
{
	if (o->from == NULL || o->deliver == NULL)
		return ms_why(detail, dlen, MS_ERR_INVALID, "mailto: needs a From address and delivery options");
	int64_t now = o->now ? o->now : ms_now(env);
	char *mail = NULL, *signed_mail = NULL;
	size_t mlen = 0;
	ms_status st = ms_tlsrpt_mail_format(rep, o->from, rcpt, now, &mail, &mlen, detail, dlen);
	if (st != MS_OK)
		return st;
	if (o->dkim_key) {
		size_t sl = 0;
		st = dkim_sign(env, o, mail, mlen, &signed_mail, &sl, detail, dlen);
		if (st != MS_OK) {
			free(mail);
			return st;
		}
		free(mail);
		mail = signed_mail;
		mlen = sl;
	}
	const char *to[1] = { rcpt };
	struct ms_rtls_envelope m = { .from = o->from, .rcpt = to, .nrcpt = 1,
				      .msg = (const uint8_t *)mail, .msglen = mlen };
	/* Only the members of the caller's version: an older struct is
	 * smaller (version 2 ends at observer_arg, version 1 before observer). */
	struct ms_rtls_send_opts so = { .version = MS_RTLS_SEND_OPTS_VERSION };
	size_t dsize = o->deliver->version >= 3   ? sizeof(*o->deliver)
		       : o->deliver->version == 2 ? offsetof(struct ms_rtls_deliver_opts, ca_store)
						  : offsetof(struct ms_rtls_deliver_opts, observer);
	memcpy(&so.deliver, o->deliver, dsize);
	so.deliver.version = MS_RTLS_DELIVER_OPTS_VERSION;
	/* the report's own delivery is not recorded into the reports */
	so.deliver.observer = NULL;
	struct ms_rtls_send *s = NULL;
	char why[300] = "";
	st = ms_rtls_send_new(env, dns, sts, MS_RTLS_REQ_NOT_REQUIRED, &m, &so, &s, why, sizeof(why));
	if (st == MS_OK)
		st = ms_rtls_send_run(s, why, sizeof(why));
	if (st != MS_OK) {
		ms_rtls_send_free(s);
		free(mail);
		return ms_why(detail, dlen, st, "%s", why);
	}
	const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, 0, NULL);
	if (ms_rtls_send_delivered(s)) {
		ms_why(detail, dlen, MS_OK, "%s", rr ? rr->reply : "delivered");
	} else {
		st = rr && rr->out.verdict == MS_RTLS_PERMFAIL ? MS_ERR_PROTOCOL : MS_ERR_NETWORK;
		ms_why(detail, dlen, st, "not delivered: %s", rr ? rr->out.text : "no result");
	}
	ms_rtls_send_free(s);
	free(mail);
	return st;
}

ms_status ms_tlsrpt_send(const struct ms_env *env, struct ms_dns_ctx *dns, struct ms_sts *sts,
			 const struct ms_tlsrpt_report *rep, const struct ms_tlsrpt_send_opts *o,
			 struct ms_tlsrpt_send_result *res, char *why, size_t whylen)
{
	if (dns == NULL || rep == NULL || o == NULL || res == NULL ||
	    o->version != MS_TLSRPT_SEND_OPTS_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument or unknown options version");
	memset(res, 0, sizeof(*res));
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_tlsrpt_rua rua;
	ms_status st = ms_tlsrpt_discover(dns, rep->policy_domain, &rua, res->rua_note,
					  sizeof(res->rua_note));
	if (st != MS_OK)
		return ms_why(why, whylen, st, "%s", res->rua_note);
	if (rua.n == 0)
		return ms_why(why, whylen, MS_ERR_STATE, "%s publishes no report destination: %s",
			      rep->policy_domain, res->rua_note);
	ms_status first = MS_OK;
	for (size_t i = 0; i < rua.n; i++) {
		snprintf(res->dest[i].uri, sizeof(res->dest[i].uri), "%s", rua.uri[i]);
		res->n = i + 1;
		const char *u = rua.uri[i];
		if (ms_ascii_ncasecmp(u, "https:", 6) == 0)
			st = tlsrpt_post(dns, u, rep, o, res->dest[i].detail,
					 sizeof(res->dest[i].detail));
		else
			st = mail_one(&e, dns, sts, u + 7, rep, o, res->dest[i].detail,
				      sizeof(res->dest[i].detail));
		res->dest[i].status = st;
		struct ms_kv kv[] = { { "domain", rep->policy_domain },
				      { "destination", u },
				      { "result", res->dest[i].detail } };
		ms_log(&e, st == MS_OK ? MS_LOG_INFO : MS_LOG_WARNING, "tlsrpt",
		       st == MS_OK ? "report sent" : "report not sent", kv, 3);
		ms_metric(&e, MS_METRIC_COUNTER, "tlsrpt_reports_sent_total",
			  (struct ms_kv[]){ { "result", st == MS_OK ? "ok" : "failed" } }, 1, 1);
		if (st != MS_OK && first == MS_OK)
			first = st;
	}
	if (first != MS_OK)
		return ms_why(why, whylen, first, "a destination did not take the report");
	return MS_OK;
}
