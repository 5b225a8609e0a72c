/*
 * smtp_data.c - the message after a 354 (RFC 5321 s4.1.1.4): CRLF line
 * ends, dot-stuffing (s4.5.2), the final dot, the wait while the peer
 * reads what the kernel still queues, the final reply.  The whole
 * transfer runs under the write progress rule (smtp_io.c), in steps: the
 * encoder fills one buffer at a time and goes on where the socket stopped
 * taking bytes.
 */
#include "smtp_internal.h"

#include <poll.h>
#include <string.h>

ms_status rtls_smtp_start_message(struct ms_rtls_smtp *s, const uint8_t *msg, size_t len,
				  char *why, size_t whylen)
{
	if (s == NULL || (msg == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_DATA)
		return ms_why(why, whylen, MS_ERR_STATE, "the message needs a 354 reply to DATA");
	s->state = RTLS_S_READY; /* whatever happens, the DATA phase ends here */
	s->call = RTLS_C_MESSAGE;
	s->phase = 0;
	s->msg = msg;
	s->msglen = len;
	s->msgpos = 0;
	s->bol = 1;
	s->last = 0;
	s->olen = s->ooff = 0;
	s->queued = -1;
	s->want = POLLOUT;
	memset(&s->reply, 0, sizeof(s->reply));
	/* the progress rule runs over the whole transfer */
	rtls_smtp_begin_write(s);
	return MS_OK;
}

/* Fill s->out with the next part of the message; batches so that TLS
 * records are not one per line. */
static void encode(struct ms_rtls_smtp *s)
{
	uint8_t *out = s->out;
	size_t o = 0;
	while (o + 4 <= sizeof(s->out)) {
		size_t i = s->msgpos;
		if (i == s->msglen) {
			if (!s->bol) { /* the last line had no line end */
				out[o++] = '\r';
				out[o++] = '\n';
			}
			s->last = 1;
			break;
		}
		uint8_t c = s->msg[i];
		s->msgpos++;
		if (s->bol && c == '.')
			out[o++] = '.'; /* RFC 5321 s4.5.2 transparency */
		s->bol = 0;
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			s->bol = 1;
		} else if (c == '\r' && i + 1 < s->msglen && s->msg[i + 1] == '\n') {
			continue; /* CRLF: the LF writes both */
		} else {
			out[o++] = c;
		}
	}
	s->olen = o;
	s->ooff = 0;
}

/* Phases: 0 the message, 1 the final dot, 2 the kernel's queue drained.
 * 1 when all of it is through (*st), 0 to wait. */
int rtls_smtp_message_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen)
{
	for (;;) {
		if (s->ooff < s->olen) {
			if (!rtls_smtp_write_io(s, s->out, s->olen, &s->ooff, st, why, whylen))
				return 0;
			if (*st != MS_OK)
				return 1;
			continue;
		}
		if (s->phase == 0) {
			if (s->last) {
				memcpy(s->out, ".\r\n", 3);
				s->olen = 3;
				s->ooff = 0;
				s->phase = 1;
			} else {
				encode(s);
			}
			continue;
		}
		s->phase = 2;
		return rtls_smtp_sent_io(s, st, why, whylen);
	}
}

ms_status ms_rtls_smtp_message(struct ms_rtls_smtp *s, const uint8_t *msg, size_t len,
			       struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	ms_status st = rtls_smtp_start_message(s, msg, len, why, whylen);
	if (st != MS_OK)
		return st;
	return rtls_smtp_finish(s, r, why, whylen);
}
