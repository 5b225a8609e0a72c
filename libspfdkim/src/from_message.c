/*
 * from_message.c - find the From fields of a whole message for DMARC
 * (RFC 7489 s6.6.1) with the same field-name rule as every other header
 * reader in mailsec (ms_hdr_is: "From :" is a From field, RFC 5322 s4.5),
 * in constant memory and past the DKIM verifier's header bounds, so that
 * padding a message cannot hide its author from DMARC.
 */
#include "dmarc_internal.h"

#include <string.h>

/* End of the line starting at `pos` (index after its LF, or len). */
static size_t line_end(const uint8_t *m, size_t len, size_t pos)
{
	const uint8_t *nl = memchr(m + pos, '\n', len - pos);
	return nl ? (size_t)(nl - m) + 1 : len;
}

ms_status ms_dmarc_from_message(const uint8_t *msg, size_t len,
				enum ms_dmarc_from_outcome *outcome, char *domain,
				size_t domlen, char *why, size_t whylen)
{
	if (outcome == NULL || (msg == NULL && len) || (domain == NULL && domlen))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*outcome = MS_DMARC_FROM_MALFORMED;
	if (domain && domlen)
		domain[0] = '\0';
	size_t pos = 0, nfrom = 0, val = 0, vlen = 0;
	while (pos < len) {
		size_t next = line_end(msg, len, pos), content = next;
		while (content > pos && (msg[content - 1] == '\n' || msg[content - 1] == '\r'))
			content--;
		if (content == pos)
			break;                  /* the empty line: the body follows */
		/* continuation lines (starting with WSP) belong to the field */
		size_t fend = next;
		while (fend < len && (msg[fend] == ' ' || msg[fend] == '\t') &&
		       fend <= MS_DMARC_MAX_HEADER_SCAN)
			fend = line_end(msg, len, fend);
		if (fend > MS_DMARC_MAX_HEADER_SCAN)
			return ms_why(why, whylen, MS_OK,
				      "header section longer than %u octets: From not searched "
				      "to its end", MS_DMARC_MAX_HEADER_SCAN);
		size_t colon;
		if (ms_hdr_is(msg + pos, content - pos, "from", &colon) && ++nfrom == 1) {
			val = pos + colon + 1;
			vlen = fend - val;
		}
		pos = fend;
	}
	if (nfrom == 0) {
		*outcome = MS_DMARC_FROM_NONE;
		return ms_why(why, whylen, MS_OK, "no From header");
	}
	if (nfrom > 1) {
		*outcome = MS_DMARC_FROM_MULTIPLE_HEADERS;
		return ms_why(why, whylen, MS_OK, "%zu From header fields", nfrom);
	}
	ms_status st = ms_dmarc_from_parse(msg + val, vlen, outcome, domain, domlen, NULL, why,
					   whylen);
	/* An over-long From value or too many mailboxes is an outcome
	 * (MALFORMED), not a failure of the call. */
	return st == MS_ERR_LIMIT ? MS_OK : st;
}
