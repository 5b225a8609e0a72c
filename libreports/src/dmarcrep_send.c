/*
 * dmarcrep_send.c - a report by mail (RFC 7489 s7.2.1.1) to the rua=
 * destinations of the policy domain's current record: each destination
 * verified (s7.1: an external one must publish
 * <domain>._report._dmarc.<its domain>; a lookup that fails is "not sent",
 * never "authorised"), its !size limit honoured (s6.2: the whole message
 * is compared, the safe reading), the message delivered through
 * librequiretls's outbound composition (MX, DANE, MTA-STS).
 */
#include "dmarcrep_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <mailsec/dmarc.h>
#include <mailsec/requiretls_deliver.h>

const char *ms_dmarcrep_dest_status_str(enum ms_dmarcrep_dest_status s)
{
	switch (s) {
	case MS_DMARCREP_SENT: return "sent";
	case MS_DMARCREP_NOT_AUTHORIZED: return "not-authorized";
	case MS_DMARCREP_LOOKUP_FAILED: return "lookup-failed";
	case MS_DMARCREP_TOO_LARGE: return "too-large";
	case MS_DMARCREP_UNSUPPORTED: return "unsupported";
	case MS_DMARCREP_DELIVERY_FAILED: return "delivery-failed";
	}
	return "?";
}

int64_t ms_dmarcrep_uri_limit(const char *uri)
{
	const char *bang = uri ? strrchr(uri, '!') : NULL;
	if (bang == NULL)
		return 0;
	const char *p = bang + 1;
	int64_t v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	int shift = 0;
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: return -1;
	}
	if (*p != '\0' || v > (INT64_MAX >> shift))
		return -1;
	return v << shift;
}

/* The address of a mailto: URI (no scheme, no !size, no ?query). */
static int mailto_addr(const char *uri, char *buf, size_t len)
{
	if (ms_ascii_ncasecmp(uri, "mailto:", 7) != 0)
		return 0;
	const char *a = uri + 7;
	size_t n = strcspn(a, "!?");
	if (n == 0 || n >= len)
		return 0;
	memcpy(buf, a, n);
	buf[n] = '\0';
	const char *at = strrchr(buf, '@');
	if (at == NULL || at == buf || !at[1])
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f ||
		    strchr("<>()[]\\,;:\"%", buf[i]))
			return 0;   /* percent-encoded addresses are not decoded */
	return 1;
}

static void b64(struct ms_buf *b, const uint8_t *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = { t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
			      i + 2 < n ? t[v & 63] : '=' };
		ms_buf_append(b, q, 4);
		if ((col += 4) == 76) {
			ms_buf_append(b, "\r\n", 2);
			col = 0;
		}
	}
	if (col)
		ms_buf_append(b, "\r\n", 2);
}

static int header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

ms_status ms_dmarcrep_message(const struct ms_env *env, const struct ms_dmarcrep_report *r,
			      const char *from, const char *to, const char *receiver, int64_t now,
			      uint8_t **out, size_t *len, char *why, size_t whylen)
{
	if (r == NULL || from == NULL || to == NULL || receiver == NULL || out == NULL ||
	    len == NULL || !header_safe(from) || !header_safe(to) || strchr(from, ' ') ||
	    strchr(to, ' '))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	*len = 0;
	char fname[600];
	if (ms_dmarcrep_filename(r, receiver, NULL, "xml.gz", fname, sizeof(fname)) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "receiver is not a domain name");
	uint8_t *xml = NULL, *gz = NULL;
	size_t xlen = 0, glen = 0;
	ms_status st = ms_dmarcrep_report_xml(r, &xml, &xlen, why, whylen);
	if (st == MS_OK)
		st = ms_dmarcrep_gzip(xml, xlen, &gz, &glen, why, whylen);
	free(xml);
	if (st != MS_OK)
		return st;
	const struct ms_dmarcrep_meta *m = &r->meta;
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = ms_monotonic_ns();
	char date[64], b1[40], b2[40];
	time_t t = (time_t)(now ? now : ms_now(env));
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	gmtime_r(&(time_t){ (time_t)m->begin }, &tm);
	strftime(b1, sizeof(b1), "%Y-%m-%d %H:%M", &tm);
	gmtime_r(&(time_t){ (time_t)m->end }, &tm);
	strftime(b2, sizeof(b2), "%Y-%m-%d %H:%M", &tm);
	struct ms_buf b;
	ms_buf_init(&b, NULL, glen * 2 + 16384);
	char bound[40];
	snprintf(bound, sizeof(bound), "dmarc-report-%016llx", (unsigned long long)rnd);
	ms_buf_printf(&b,
		      "From: %s\r\nTo: %s\r\nDate: %s\r\n"
		      "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
		      "Message-ID: <%016llx.%s@%s>\r\nMIME-Version: 1.0\r\n"
		      "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		      "This is a DMARC aggregate report in MIME format.\r\n\r\n"
		      "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
		      "Content-Transfer-Encoding: 7bit\r\n\r\n"
		      "DMARC aggregate report (RFC 7489) for %s from %s,\r\n"
		      "%s to %s UTC, %llu message(s) in %zu row(s).\r\n\r\n"
		      "--%s\r\nContent-Type: application/gzip; name=\"%s\"\r\n"
		      "Content-Transfer-Encoding: base64\r\n"
		      "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
		      from, to, date, m->domain, receiver, m->report_id, (unsigned long long)rnd,
		      m->report_id, receiver, bound, bound, m->domain, receiver, b1, b2,
		      (unsigned long long)ms_dmarcrep_report_messages(r), r->rows.n, bound, fname,
		      fname);
	b64(&b, gz, glen);
	st = ms_buf_printf(&b, "--%s--\r\n", bound);
	free(gz);
	if (st != MS_OK) {
		ms_buf_free(&b);
		return ms_why(why, whylen, st, "report message too large");
	}
	*len = b.len;
	*out = (uint8_t *)ms_buf_steal(&b);
	return *out ? MS_OK : ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
}

/* The rua= list of the domain's current DMARC record. */
static ms_status current_rua(struct ms_dmarc *d, const char *domain,
			     struct ms_dmarc_verdict **v, char *why, size_t whylen)
{
	ms_status st = ms_dmarc_check(d, domain, MS_SPF_NONE, NULL, NULL, NULL, NULL, 0, v, why,
				      whylen);
	if (st != MS_OK)
		return st;
	if (ms_dmarc_verdict_result(*v) == MS_DMARC_TEMPERROR)
		return ms_why(why, whylen, MS_ERR_NETWORK, "DMARC record lookup for %s failed: %s",
			      domain, ms_dmarc_verdict_reason(*v) ? ms_dmarc_verdict_reason(*v) : "");
	return MS_OK;
}

static void deliver(const struct ms_env *env, const struct ms_dmarcrep_send_opts *o,
		    const char *to, const uint8_t *msg, size_t len, struct ms_dmarcrep_dest *dst,
		    int *temporary)
{
	const char *rcpt[1] = { to };
	struct ms_rtls_envelope e = { .from = o->from, .rcpt = rcpt, .nrcpt = 1, .msg = msg,
				      .msglen = len };
	struct ms_rtls_send *s = NULL;
	char w[300] = "";
	ms_status st = ms_rtls_send_new(env, o->dns, o->sts, MS_RTLS_REQ_DEFAULT, &e, o->send, &s,
					w, sizeof(w));
	if (st == MS_OK)
		st = ms_rtls_send_run(s, w, sizeof(w));
	if (st != MS_OK) {
		dst->status = MS_DMARCREP_DELIVERY_FAILED;
		snprintf(dst->detail, sizeof(dst->detail), "%s", w);
		*temporary = 1;
	} else if (ms_rtls_send_delivered(s)) {
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, 0, NULL);
		dst->status = MS_DMARCREP_SENT;
		snprintf(dst->detail, sizeof(dst->detail), "%s", rr ? rr->reply : "");
	} else {
		const struct ms_rtls_rcpt_result *rr = ms_rtls_send_rcpt(s, 0, NULL);
		dst->status = MS_DMARCREP_DELIVERY_FAILED;
		snprintf(dst->detail, sizeof(dst->detail), "%.150s%s%.140s",
			 rr ? rr->out.text : "", rr && rr->reply[0] ? ": " : "",
			 rr ? rr->reply : "");
		if (rr == NULL || rr->out.verdict != MS_RTLS_PERMFAIL)
			*temporary = 1;
	}
	ms_rtls_send_free(s);
}

ms_status ms_dmarcrep_send(const struct ms_env *env, const struct ms_dmarcrep_report *r,
			   const struct ms_dmarcrep_send_opts *o, struct ms_dmarcrep_dest *dests,
			   size_t maxdest, size_t *ndest, char *why, size_t whylen)
{
	if (ndest)
		*ndest = 0;
	if (r == NULL || o == NULL || o->version != MS_DMARCREP_SEND_OPTS_VERSION ||
	    o->dns == NULL || o->from == NULL || o->receiver == NULL || ndest == NULL ||
	    (dests == NULL && maxdest) || (o->nrua && o->rua == NULL))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (r->rows.n == 0)
		return ms_why(why, whylen, MS_ERR_STATE, "the report has no rows: nothing to send");
	struct ms_dmarc *d = NULL;
	struct ms_dmarc_verdict *v = NULL;
	ms_status st = ms_dmarc_new(env, o->dns, &d, why, whylen);
	if (st != MS_OK)
		return st;
	const struct ms_dmarc_record *rec = NULL;
	size_t nrua = o->nrua;
	if (o->rua == NULL) {
		if ((st = current_rua(d, r->meta.domain, &v, why, whylen)) != MS_OK)
			goto out;
		rec = ms_dmarc_verdict_record(v);
		nrua = ms_dmarc_record_rua_count(rec);
	}
	int temporary = 0;
	for (size_t i = 0; i < nrua && *ndest < maxdest; i++) {
		const char *uri = o->rua ? o->rua[i] : ms_dmarc_record_rua(rec, i);
		struct ms_dmarcrep_dest *dst = &dests[(*ndest)++];
		memset(dst, 0, sizeof(*dst));
		snprintf(dst->uri, sizeof(dst->uri), "%s", uri ? uri : "");
		char to[300];
		int64_t lim = ms_dmarcrep_uri_limit(uri);
		if (uri == NULL || !mailto_addr(uri, to, sizeof(to)) || lim < 0) {
			dst->status = MS_DMARCREP_UNSUPPORTED;
			snprintf(dst->detail, sizeof(dst->detail), "%s",
				 lim < 0 ? "malformed !size suffix" :
					   "not a mailto: URI with a plain address");
			continue;
		}
		dst->limit = (uint64_t)lim;
		int auth = 0;
		enum ms_dns_security sec = MS_DNS_INDETERMINATE;
		char w[300] = "";
		ms_status vs = ms_dmarc_report_dest_verify(d, r->meta.domain, uri, &auth, &sec, w,
							   sizeof(w));
		if (vs != MS_OK || auth < 0 ||
		    (auth == 0 && (sec == MS_DNS_BOGUS || sec == MS_DNS_INDETERMINATE))) {
			dst->status = MS_DMARCREP_LOOKUP_FAILED;
			snprintf(dst->detail, sizeof(dst->detail), "%s._report._dmarc lookup failed%s%s",
				 r->meta.domain, w[0] ? ": " : "", w);
			temporary = 1;
			continue;
		}
		if (auth == 0) {
			dst->status = MS_DMARCREP_NOT_AUTHORIZED;
			snprintf(dst->detail, sizeof(dst->detail),
				 "no v=DMARC1 at %s._report._dmarc.%s", r->meta.domain,
				 strrchr(to, '@') + 1);
			continue;
		}
		uint8_t *msg = NULL;
		size_t mlen = 0;
		if ((st = ms_dmarcrep_message(env, r, o->from, to, o->receiver, o->now, &msg, &mlen,
					      why, whylen)) != MS_OK)
			goto out;
		dst->size = mlen;
		if (dst->limit && mlen > dst->limit) {
			dst->status = MS_DMARCREP_TOO_LARGE;
			snprintf(dst->detail, sizeof(dst->detail), "%zu bytes over the %llu-byte limit",
				 mlen, (unsigned long long)dst->limit);
		} else {
			deliver(env, o, to, msg, mlen, dst, &temporary);
		}
		free(msg);
	}
	st = MS_OK;
	if (temporary)
		st = ms_why(why, whylen, MS_ERR_NETWORK,
			    "a destination could not be verified or reached: retry later");
out:
	ms_dmarc_verdict_free(v);
	ms_dmarc_free(d);
	return st;
}
