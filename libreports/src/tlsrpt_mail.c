/*
 * tlsrpt_mail.c - the report as a mail (RFC 8460 s5.3): multipart/report;
 * report-type="tlsrpt" with the gzip as a base64 application/tlsrpt+gzip
 * part, the TLS-Report-Domain/-Submitter fields and TLS-Required: No
 * (RFC 8689 s5: a report about broken TLS must not need that TLS); and the
 * way back: the TLSRPT part of a received mail, bounded.
 */
#include "tlsrpt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

ms_status tlsrpt_base64(struct ms_buf *b, const uint8_t *in, size_t len)
{
	char line[80];
	size_t ll = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		line[ll++] = B64[(v >> 18) & 63];
		line[ll++] = B64[(v >> 12) & 63];
		line[ll++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
		line[ll++] = i + 2 < len ? B64[v & 63] : '=';
		if (ll == 76 || i + 3 >= len) { /* RFC 2045 s6.8: lines of at most 76 */
			line[ll++] = '\r';
			line[ll++] = '\n';
			ms_status st = ms_buf_append(b, line, ll);
			if (st != MS_OK)
				return st;
			ll = 0;
		}
	}
	return MS_OK;
}

ms_status ms_tlsrpt_mail_format(const struct ms_tlsrpt_report *rep, const char *from,
				const char *rcpt, int64_t now, char **out, size_t *outlen,
				char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (rep == NULL || from == NULL || rcpt == NULL || out == NULL || rep->gz == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	/* addresses go into header fields: one plain address each */
	for (const char *p = from; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '<' || *p == '>' || *p == ',')
			return ms_why(why, whylen, MS_ERR_INVALID, "bad From address");
	for (const char *p = rcpt; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '<' || *p == '>' || *p == ',')
			return ms_why(why, whylen, MS_ERR_INVALID, "bad recipient address");
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	char date[64];
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* base64 has no '-' or '_': this boundary cannot occur in the body */
	char boundary[80];
	snprintf(boundary, sizeof(boundary), "----=_tlsrpt_%llx_%llx", (unsigned long long)now,
		 (unsigned long long)rep->begin);
	struct ms_buf b;
	ms_buf_init(&b, NULL, MS_TLSRPT_MAX_MAIL);
	ms_status st = ms_buf_printf(
		&b,
		"From: <%s>\r\n"
		"To: <%s>\r\n"
		"Date: %s\r\n"
		"Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
		"TLS-Report-Domain: %s\r\n"
		"TLS-Report-Submitter: %s\r\n"
		"TLS-Required: No\r\n"
		"Message-ID: <%s>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
		"\tboundary=\"%s\"\r\n"
		"\r\n"
		"This is a multipart message in MIME format.\r\n"
		"\r\n"
		"--%s\r\n"
		"Content-Type: text/plain; charset=\"us-ascii\"\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"This is an aggregate TLS report from %s\r\n"
		"for %s (RFC 8460).\r\n"
		"\r\n"
		"--%s\r\n"
		"Content-Type: application/tlsrpt+gzip\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment;\r\n"
		"\tfilename=\"%s\"\r\n"
		"\r\n",
		from, rcpt, date, rep->policy_domain, rep->submitter, rep->report_id,
		rep->policy_domain, rep->submitter, rep->report_id, boundary, boundary,
		rep->submitter, rep->policy_domain, boundary, rep->filename);
	if (st == MS_OK)
		st = tlsrpt_base64(&b, rep->gz, rep->gz_len);
	if (st == MS_OK)
		st = ms_buf_printf(&b, "--%s--\r\n", boundary);
	if (st != MS_OK) {
		ms_buf_free(&b);
		return ms_why(why, whylen, st, "report mail over %u bytes", MS_TLSRPT_MAX_MAIL);
	}
	size_t n = b.len;
	*out = ms_buf_steal(&b);
	if (*out == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	if (outlen)
		*outlen = n;
	return MS_OK;
}

/* ---- receiving: the TLSRPT part of a mail -------------------------------- */

/* The end of the header block [p, end): the offset after the empty line,
 * or `end` when there is none. */
static const uint8_t *header_end(const uint8_t *p, const uint8_t *end, const uint8_t **hend)
{
	const uint8_t *line = p;
	while (line < end) {
		const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			break;
		size_t ll = (size_t)(nl - line);
		if (ll == 0 || (ll == 1 && line[0] == '\r')) {
			*hend = line;
			return nl + 1;
		}
		line = nl + 1;
	}
	*hend = end;
	return end;
}

/* The unfolded value of header `name` in [p, hend) into buf (lower-cased
 * copy in lbuf), 0 when absent. */
static int header_value(const uint8_t *p, const uint8_t *hend, const char *name, char *buf,
			size_t buflen)
{
	size_t nl = strlen(name);
	const uint8_t *line = p;
	while (line < hend) {
		const uint8_t *eol = memchr(line, '\n', (size_t)(hend - line));
		if (eol == NULL)
			eol = hend;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    ms_ascii_ncasecmp((const char *)line, name, nl) == 0) {
			size_t o = 0;
			const uint8_t *v = line + nl + 1;
			for (;;) {
				for (; v < eol; v++)
					if (*v != '\r' && o + 1 < buflen)
						buf[o++] = (*v == '\t') ? ' ' : (char)*v;
				/* a continuation line starts with WSP */
				if (eol + 1 < hend && (eol[1] == ' ' || eol[1] == '\t')) {
					v = eol + 1;
					eol = memchr(v, '\n', (size_t)(hend - v));
					if (eol == NULL)
						eol = hend;
					continue;
				}
				break;
			}
			buf[o] = '\0';
			return 1;
		}
		line = eol + 1;
	}
	return 0;
}

/* A parameter (boundary=...) of a header value, quoted or a token. */
static int param(const char *v, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *p = v; (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ')
			p++;
		if (ms_ascii_ncasecmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
			size_t o = 0;
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++)
					if (o + 1 < outlen)
						out[o++] = *p;
			} else {
				for (; *p && *p != ';' && *p != ' '; p++)
					if (o + 1 < outlen)
						out[o++] = *p;
			}
			out[o] = '\0';
			return o > 0;
		}
	}
	return 0;
}

static int b64val(uint8_t c)
{
	const char *p = c ? strchr(B64, c) : NULL;
	return p ? (int)(p - B64) : -1;
}

static ms_status unbase64(const uint8_t *p, size_t n, uint8_t **out, size_t *outlen, char *why,
			  size_t whylen)
{
	uint8_t *o = malloc(n / 4 * 3 + 3);
	if (o == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad) {
			free(o);
			return ms_why(why, whylen, MS_ERR_PARSE, "bad base64 in the report part");
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (uint8_t)(acc >> bits);
		}
	}
	*out = o;
	*outlen = k;
	return MS_OK;
}

ms_status tlsrpt_mime_extract(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen,
			      int *gz, char *why, size_t whylen)
{
	*out = NULL;
	*outlen = 0;
	const uint8_t *end = buf + len, *hend;
	const uint8_t *body = header_end(buf, end, &hend);
	char ct[1024], boundary[200];
	if (!header_value(buf, hend, "Content-Type", ct, sizeof(ct)))
		return ms_why(why, whylen, MS_ERR_PARSE, "mail without Content-Type");
	if (ms_ascii_ncasecmp(ct + strspn(ct, " "), "multipart/report", 16) != 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "not a multipart/report mail");
	if (!param(ct, "boundary", boundary, sizeof(boundary)))
		return ms_why(why, whylen, MS_ERR_PARSE, "multipart/report without a boundary");
	size_t bl = strlen(boundary);
	/* walk the delimiter lines "--boundary" */
	const uint8_t *p = body;
	const uint8_t *part = NULL;
	while (p < end) {
		const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *next = eol ? eol + 1 : end;
		int delim = (size_t)(end - p) >= bl + 2 && p[0] == '-' && p[1] == '-' &&
			    memcmp(p + 2, boundary, bl) == 0;
		if (delim) {
			if (part) {
				/* the part's body ends before the CRLF preceding the delimiter */
				const uint8_t *pe = p;
				if (pe > part && pe[-1] == '\n')
					pe--;
				if (pe > part && pe[-1] == '\r')
					pe--;
				const uint8_t *ph, *pb = header_end(part, pe, &ph);
				char pct[512], cte[100] = "7bit";
				if (header_value(part, ph, "Content-Type", pct, sizeof(pct))) {
					const char *t = pct + strspn(pct, " ");
					int is_gz = ms_ascii_ncasecmp(t, "application/tlsrpt+gzip", 23) == 0;
					int is_js = ms_ascii_ncasecmp(t, "application/tlsrpt+json", 23) == 0;
					if (is_gz || is_js) {
						header_value(part, ph, "Content-Transfer-Encoding", cte,
							     sizeof(cte));
						const char *e = cte + strspn(cte, " ");
						*gz = is_gz;
						if (ms_ascii_ncasecmp(e, "base64", 6) == 0)
							return unbase64(pb, (size_t)(pe - pb), out, outlen,
									why, whylen);
						if (is_gz)
							return ms_why(why, whylen, MS_ERR_PARSE,
								      "gzip part not in base64");
						*out = malloc((size_t)(pe - pb) + 1);
						if (*out == NULL)
							return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
						memcpy(*out, pb, (size_t)(pe - pb));
						*outlen = (size_t)(pe - pb);
						return MS_OK;
					}
				}
			}
			if ((size_t)(end - p) >= bl + 4 && p[bl + 2] == '-' && p[bl + 3] == '-')
				break; /* the close delimiter */
			part = next;
		}
		p = next;
	}
	return ms_why(why, whylen, MS_ERR_PARSE, "no application/tlsrpt+gzip or +json part");
}
