/*
 * smtp_data.c - the message after a 354 (RFC 5321 s4.1.1.4): CRLF line
 * ends, dot-stuffing (s4.5.2), the final dot, the wait while the peer
 * reads what the kernel still queues, the final reply.  The whole
 * transfer runs under the write progress rule (smtp_io.c).
 */
#include "smtp_internal.h"

ms_status ms_rtls_smtp_message(struct ms_rtls_smtp *s, const uint8_t *msg, size_t len,
			       struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	if (s == NULL || (msg == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_DATA)
		return ms_why(why, whylen, MS_ERR_STATE, "the message needs a 354 reply to DATA");
	s->state = RTLS_S_READY; /* whatever happens, the DATA phase ends here */
	/* Batch writes so that TLS records are not one per line; the
	 * progress rule runs over the whole transfer. */
	uint8_t out[16384];
	size_t o = 0;
	ms_status st;
	int bol = 1;
	rtls_smtp_begin_write(s);
	for (size_t i = 0; i <= len; i++) {
		if (o + 4 > sizeof(out)) {
			if ((st = rtls_smtp_write(s, out, o, why, whylen)) != MS_OK)
				return rtls_smtp_broken(s, st);
			o = 0;
		}
		if (i == len) {
			if (!bol) { /* the last line had no line end */
				out[o++] = '\r';
				out[o++] = '\n';
			}
			break;
		}
		uint8_t c = msg[i];
		if (bol && c == '.')
			out[o++] = '.'; /* RFC 5321 s4.5.2 transparency */
		bol = 0;
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			bol = 1;
		} else if (c == '\r' && i + 1 < len && msg[i + 1] == '\n') {
			continue; /* CRLF: the LF writes both */
		} else {
			out[o++] = c;
		}
	}
	if ((st = rtls_smtp_write(s, out, o, why, whylen)) != MS_OK ||
	    (st = rtls_smtp_write(s, ".\r\n", 3, why, whylen)) != MS_OK ||
	    (st = rtls_smtp_wait_sent(s, why, whylen)) != MS_OK)
		return rtls_smtp_broken(s, st);
	return rtls_smtp_read_reply(s, r, why, whylen);
}
