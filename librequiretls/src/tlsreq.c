/*
 * tlsreq.c - the TLS-Required header field (RFC 8689 s3):
 *   tls-required = "TLS-Required:" [FWS] "No" CRLF
 * Only a single field with that value counts; a message that also carried
 * the REQUIRETLS MAIL FROM parameter ignores it (RFC 8689 s2).
 */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

enum ms_rtls_tlsreq ms_rtls_tlsreq_value(const uint8_t *buf, size_t len)
{
	if (buf == NULL)
		return MS_RTLS_TLSREQ_INVALID;
	size_t i = 0;
	/* [FWS]: white space and line folds (CRLF followed by WSP) */
	while (i < len && (rtls_is_wsp(buf[i]) || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (len - i < 2 || ms_ascii_lower(buf[i]) != 'n' ||
	    ms_ascii_lower(buf[i + 1]) != 'o')
		return MS_RTLS_TLSREQ_INVALID;
	/* Trailing white space is not in the ABNF but is tolerated, as
	 * everywhere in header parsing (RFC 5322 s3.2.2 CFWS spirit). */
	for (i += 2; i < len; i++)
		if (!rtls_is_wsp(buf[i]) && buf[i] != '\r' && buf[i] != '\n')
			return MS_RTLS_TLSREQ_INVALID;
	return MS_RTLS_TLSREQ_NO;
}

/* Length of the line at p (up to and including LF), and its content length. */
static size_t line_at(const uint8_t *p, size_t n, size_t *content)
{
	size_t e = 0;
	while (e < n && p[e] != '\n')
		e++;
	size_t c = e;
	if (c > 0 && p[c - 1] == '\r')
		c--;
	*content = c;
	return e < n ? e + 1 : e;
}

enum ms_rtls_tlsreq ms_rtls_tlsreq_scan(const uint8_t *hdrs, size_t len,
					int requiretls_param)
{
	if (hdrs == NULL)
		len = 0;
	size_t found = 0;
	enum ms_rtls_tlsreq first = MS_RTLS_TLSREQ_ABSENT;
	size_t pos = 0;
	while (pos < len) {
		size_t clen;
		size_t step = line_at(hdrs + pos, len - pos, &clen);
		if (clen == 0)
			break; /* the empty line ends the header section */
		const uint8_t *l = hdrs + pos;
		/* Find the whole field: continuation lines start with WSP. */
		size_t fend = pos + step;
		while (fend < len && rtls_is_wsp(hdrs[fend])) {
			size_t c2;
			fend += line_at(hdrs + fend, len - fend, &c2);
		}
		size_t colon; /* the one name rule, obsolete "Name :" form included */
		if (ms_hdr_is(l, clen, "TLS-Required", &colon)) {
			found++;
			if (found == 1)
				first = ms_rtls_tlsreq_value(l + colon + 1,
							     fend - (pos + colon + 1));
		}
		pos = fend;
	}
	if (found == 0)
		return MS_RTLS_TLSREQ_ABSENT;
	if (requiretls_param)
		return MS_RTLS_TLSREQ_OVERRIDDEN;
	if (found > 1)
		return MS_RTLS_TLSREQ_MULTIPLE;
	return first;
}

const char *ms_rtls_tlsreq_str(enum ms_rtls_tlsreq v)
{
	switch (v) {
	case MS_RTLS_TLSREQ_ABSENT: return "absent";
	case MS_RTLS_TLSREQ_NO: return "no";
	case MS_RTLS_TLSREQ_INVALID: return "invalid";
	case MS_RTLS_TLSREQ_MULTIPLE: return "multiple";
	case MS_RTLS_TLSREQ_OVERRIDDEN: return "overridden";
	}
	return "unknown";
}
