/*
 * smtp_reply.c - the SMTP reply parser of the client transport (RFC 5321
 * s4.2): fed one byte at a time as bytes arrive, so a reply that trickles
 * in needs no re-scanning and the transport can stop at any byte (the
 * async shape), with hard bounds on the line, the reply and its lines.
 */
#include "smtp_internal.h"

#include <stdio.h>
#include <string.h>

void rtls_reply_reset(struct rtls_reply_acc *a)
{
	a->rawlen = 0;
	a->linestart = 0;
	memset(&a->r, 0, sizeof(a->r));
}

/* RFC 3463 "class.subject.detail" at the start of text, with the class of
 * the reply code (RFC 2034 s3); its length or 0. */
static size_t enhanced_len(const char *t, int code)
{
	if (t[0] != '0' + code / 100 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
		return 0;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t n = 0;
		while (n < 3 && rtls_is_digit(t[i + n]))
			n++;
		if (n == 0)
			return 0;
		i += n;
		if (part == 0 && t[i++] != '.')
			return 0;
	}
	return t[i] == '\0' || t[i] == ' ' ? i : 0;
}

/* One complete line l[0..len) (line end removed). */
static enum rtls_reply_step line_done(struct ms_rtls_smtp_reply *r, const uint8_t *l, size_t len,
				      ms_status *st, char *why, size_t whylen)
{
	/* Reply-line = *( Reply-code "-" [ textstring ] CRLF )
	 *              Reply-code [ SP textstring ] CRLF */
	if (len < 3 || l[0] < '2' || l[0] > '5' || !rtls_is_digit(l[1]) || !rtls_is_digit(l[2]) ||
	    (len > 3 && l[3] != ' ' && l[3] != '-')) {
		*st = ms_why(why, whylen, MS_ERR_PROTOCOL, "malformed reply line");
		return RTLS_REPLY_ERROR;
	}
	int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (r->code && code != r->code) {
		*st = ms_why(why, whylen, MS_ERR_PROTOCOL, "reply lines with different codes");
		return RTLS_REPLY_ERROR;
	}
	if (++r->lines > MS_RTLS_SMTP_MAX_LINES) {
		*st = ms_why(why, whylen, MS_ERR_LIMIT, "reply of more than %d lines",
			     MS_RTLS_SMTP_MAX_LINES);
		return RTLS_REPLY_ERROR;
	}
	r->code = code;
	size_t tl = len > 4 ? len - 4 : 0;
	if (tl > MS_RTLS_MAX_LINE)
		tl = MS_RTLS_MAX_LINE;
	if (tl)
		memcpy(r->text, l + 4, tl);
	r->text[tl] = '\0';
	if (len == 3 || l[3] == ' ') {
		size_t el = enhanced_len(r->text, code);
		memcpy(r->enhanced, r->text, el < sizeof(r->enhanced) ? el : 0);
		r->enhanced[el < sizeof(r->enhanced) ? el : 0] = '\0';
		return RTLS_REPLY_DONE;
	}
	return RTLS_REPLY_MORE;
}

enum rtls_reply_step rtls_reply_feed(struct rtls_reply_acc *a, uint8_t c, ms_status *st,
				     char *why, size_t whylen)
{
	if (a->rawlen == MS_RTLS_MAX_REPLY_BYTES) {
		*st = ms_why(why, whylen, MS_ERR_LIMIT, "reply longer than %d bytes",
			     MS_RTLS_MAX_REPLY_BYTES);
		return RTLS_REPLY_ERROR;
	}
	a->raw[a->rawlen++] = c;
	if (c != '\n') {
		/* the line's bytes so far, a CR before the LF allowed */
		if (a->rawlen - a->linestart > MS_RTLS_MAX_LINE + 1) {
			*st = ms_why(why, whylen, MS_ERR_LIMIT, "reply line longer than %d bytes",
				     MS_RTLS_MAX_LINE);
			return RTLS_REPLY_ERROR;
		}
		return RTLS_REPLY_MORE;
	}
	const uint8_t *l = a->raw + a->linestart;
	size_t len = a->rawlen - a->linestart - 1;
	if (len > 0 && l[len - 1] == '\r')
		len--;
	a->linestart = a->rawlen;
	enum rtls_reply_step step = line_done(&a->r, l, len, st, why, whylen);
	if (step == RTLS_REPLY_DONE)
		a->raw[a->rawlen] = '\0';
	return step;
}

ms_status ms_rtls_smtp_reply_parse(const uint8_t *buf, size_t len, struct ms_rtls_smtp_reply *r,
				   size_t *used, char *why, size_t whylen)
{
	if ((buf == NULL && len > 0) || r == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	struct rtls_reply_acc a;
	a.raw = ms_malloc(NULL, MS_RTLS_MAX_REPLY_BYTES + 1);
	if (a.raw == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	rtls_reply_reset(&a);
	ms_status st = MS_ERR_PARSE;
	enum rtls_reply_step step = RTLS_REPLY_MORE;
	size_t i = 0;
	while (i < len && step == RTLS_REPLY_MORE)
		step = rtls_reply_feed(&a, buf[i++], &st, why, whylen);
	ms_free(NULL, a.raw);
	if (step == RTLS_REPLY_MORE)
		st = ms_why(why, whylen, MS_ERR_PARSE, "incomplete reply");
	if (step != RTLS_REPLY_DONE) {
		memset(r, 0, sizeof(*r));
		return st;
	}
	*r = a.r;
	if (used)
		*used = i;
	return MS_OK;
}
