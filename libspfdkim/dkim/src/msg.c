/*
 * msg.c - split the header block of a streamed message into fields
 * (RFC 5322 s2.2), bounded, with bare LF taken as CRLF.  The header is
 * kept (signatures need it at the end); the body is not: the caller hands
 * the bytes after the separator to the body canonicalizers.
 */
#include <stdio.h>
#include <string.h>

#include "dkim_internal.h"

void dkim_msg_init(struct dkim_msg *m, const struct ms_env *env)
{
	memset(m, 0, sizeof(*m));
	m->env = env;
	ms_buf_init(&m->hdr, env, MS_DKIM_MAX_HEADER + 2);
	m->line_start = 1;
}

void dkim_msg_free(struct dkim_msg *m)
{
	ms_buf_free(&m->hdr);
	ms_free(m->env, m->fields);
	m->fields = NULL;
}

static int close_field(struct dkim_msg *m, size_t end)
{
	if (!m->have_cur)
		return 0;
	m->have_cur = 0;
	if (m->nfields == m->capfields) {
		size_t nc = m->capfields ? m->capfields * 2 : 32;
		if (nc > MS_DKIM_MAX_FIELDS)
			nc = MS_DKIM_MAX_FIELDS;
		if (m->nfields >= nc) {
			snprintf(m->err, sizeof(m->err), "more than %u header fields",
				 MS_DKIM_MAX_FIELDS);
			return -1;
		}
		struct dkim_field *f = ms_realloc(m->env, m->fields, nc * sizeof(*f));
		if (f == NULL) {
			snprintf(m->err, sizeof(m->err), "out of memory");
			m->nomem = 1;
			return -1;
		}
		m->fields = f;
		m->capfields = nc;
	}
	struct dkim_field *f = &m->fields[m->nfields++];
	f->off = m->cur;
	f->len = end - m->cur;
	/* The name as every mailsec reader sees it ("From :" included); a
	 * line that is not a field never matches a name. */
	size_t n = ms_hdr_name(m->hdr.data + f->off, f->len, NULL);
	f->namelen = n ? n : SIZE_MAX;
	return 0;
}

static int put(struct dkim_msg *m, const uint8_t *p, size_t n)
{
	/* Most header blocks fit in 4 KiB: start there rather than at 64
	 * bytes and double six times. */
	ms_status st = m->hdr.cap ? MS_OK : ms_buf_reserve(&m->hdr, 4096);
	if (st == MS_OK)
		st = ms_buf_append(&m->hdr, p, n);
	if (st == MS_ERR_NOMEM) {
		snprintf(m->err, sizeof(m->err), "out of memory");
		m->nomem = 1;
		return -1;
	}
	if (st != MS_OK) {
		snprintf(m->err, sizeof(m->err), "header block larger than %u bytes",
			 MS_DKIM_MAX_HEADER);
		return -1;
	}
	return 0;
}

/* A line ended (its CRLF is in hdr): the next byte decides what follows. */
long dkim_msg_feed_header(struct dkim_msg *m, const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (m->overflow)
		return -1;
	while (i < n && !m->in_body) {
		uint8_t b = p[i];
		if (m->cr) {
			m->cr = 0;
			if (b == '\n') {
				if (m->line_start) { /* CR LF alone: the separator */
					i++;
					goto body;
				}
				if (put(m, (const uint8_t *)"\r\n", 2) < 0)
					goto over;
				m->line_start = 1;
				i++;
				continue;
			}
			/* A lone CR is content of the line. */
			if (m->line_start) {
				if (close_field(m, m->hdr.len >= 2 ? m->hdr.len - 2 : 0) < 0)
					goto over;
				m->cur = m->hdr.len;
				m->have_cur = 1;
				m->line_start = 0;
			}
			if (put(m, (const uint8_t *)"\r", 1) < 0)
				goto over;
		}
		if (b == '\r') {
			m->cr = 1;
			i++;
			continue;
		}
		if (b == '\n') {
			if (m->line_start) {
				i++;
				goto body;
			}
			if (put(m, (const uint8_t *)"\r\n", 2) < 0)
				goto over;
			m->line_start = 1;
			i++;
			continue;
		}
		if (m->line_start) {
			m->line_start = 0;
			if (!(b == ' ' || b == '\t') || !m->have_cur) {
				/* A new field; the previous one ends before the
				 * CRLF just stored. */
				if (m->have_cur &&
				    close_field(m, m->hdr.len - 2) < 0)
					goto over;
				m->cur = m->hdr.len;
				m->have_cur = 1;
			}
		}
		size_t j = i + 1;
		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		if (put(m, p + i, j - i) < 0)
			goto over;
		i = j;
	}
	return (long)i;
body:
	if (m->have_cur && close_field(m, m->hdr.len - 2) < 0)
		goto over;
	m->in_body = 1;
	return (long)i;
over:
	m->overflow = 1;
	return -1;
}

void dkim_msg_end_header(struct dkim_msg *m)
{
	if (m->in_body || m->overflow)
		return;
	if (m->cr && !m->line_start)
		put(m, (const uint8_t *)"\r", 1);
	m->cr = 0;
	if (m->have_cur) {
		size_t end = m->hdr.len;
		if (m->line_start && end >= 2)
			end -= 2;
		if (close_field(m, end) < 0)
			m->overflow = 1;
	}
	m->in_body = 1;
}

int dkim_field_is(const struct dkim_msg *m, size_t i, const char *name, size_t nlen)
{
	const struct dkim_field *f = &m->fields[i];
	return f->namelen == nlen &&
	       ms_ascii_ncasecmp((const char *)m->hdr.data + f->off, name, nlen) == 0;
}
