/*
 * canon_header.c - header field canonicalization (RFC 6376 s3.4.1,
 * s3.4.2) and the selection of fields named by h= (s5.4.2).
 */
#include <string.h>

#include "dkim_internal.h"

ms_status dkim_headercanon(enum ms_dkim_canon canon, const uint8_t *f, size_t len,
			   int crlf, struct ms_buf *out)
{
	ms_status st;
	if (canon == MS_DKIM_CANON_SIMPLE) {
		if ((st = ms_buf_append(out, f, len)) != MS_OK)
			return st;
		return crlf ? ms_buf_append(out, "\r\n", 2) : MS_OK;
	}
	/* relaxed: lower-case name, no WSP around the colon, unfolded value
	 * with WSP runs as one SP and no leading or trailing WSP. */
	size_t colon = 0;
	while (colon < len && f[colon] != ':')
		colon++;
	size_t ne = colon;
	while (ne > 0 && (f[ne - 1] == ' ' || f[ne - 1] == '\t'))
		ne--;
	uint8_t tmp[256];
	size_t t = 0;
	for (size_t i = 0; i < ne; i++) {
		tmp[t++] = (uint8_t)ms_ascii_lower(f[i]);
		if (t == sizeof(tmp)) {
			if ((st = ms_buf_append(out, tmp, t)) != MS_OK)
				return st;
			t = 0;
		}
	}
	if ((st = ms_buf_append(out, tmp, t)) != MS_OK)
		return st;
	if ((st = ms_buf_putc(out, ':')) != MS_OK)
		return st;
	int wsp = 0, any = 0;
	size_t i = colon < len ? colon + 1 : len;
	size_t run = i;
	/* Emit ordinary spans in one append; whitespace and line breaks are
	 * where the output differs from the input. */
	for (; i < len; i++) {
		uint8_t c = f[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (run < i && (st = ms_buf_append(out, f + run, i - run)) != MS_OK)
				return st;
			run = i + 1;
			if (c == ' ' || c == '\t')
				wsp = 1;
			continue;
		}
		if (run == i && wsp) {
			if (any && (st = ms_buf_putc(out, ' ')) != MS_OK)
				return st;
		}
		wsp = 0;
		any = 1;
	}
	if (run < len && (st = ms_buf_append(out, f + run, len - run)) != MS_OK)
		return st;
	return crlf ? ms_buf_append(out, "\r\n", 2) : MS_OK;
}

void dkim_select_fields(const struct dkim_msg *m, const char *const *h,
			const size_t *hlen, size_t nh, size_t *idx)
{
	/* Each name takes the last instance not taken yet, bottom-up; a name
	 * with no instance left selects nothing (oversigning, s5.4.2). */
	uint8_t used[MS_DKIM_MAX_FIELDS];
	memset(used, 0, m->nfields < MS_DKIM_MAX_FIELDS ? m->nfields : MS_DKIM_MAX_FIELDS);
	for (size_t k = 0; k < nh; k++) {
		idx[k] = SIZE_MAX;
		for (size_t j = m->nfields; j-- > 0;) {
			if (!used[j] && dkim_field_is(m, j, h[k], hlen[k])) {
				used[j] = 1;
				idx[k] = j;
				break;
			}
		}
	}
}
