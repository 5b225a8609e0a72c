/*
 * ms_out.h - the report writer behind the libraries' *_render() calls
 * (internal): one result written once, as a human-readable text or as one
 * compact JSON object on one line, into a malloc'd buffer (never to a
 * stream the caller did not ask for: libraries never print).
 *
 * Each fact is written once: "KEY":value in JSON and/or a human line
 * INDENT LABEL: VALUE (the label padded to `width`).  A NULL key leaves it
 * out of JSON (MO_ELEM: an array element), a NULL label out of the text,
 * a NULL string value out of the text (JSON null).  The output is bounded
 * by MO_MAX bytes (MS_ERR_LIMIT beyond).
 */
#ifndef MS_OUT_H
#define MS_OUT_H

#include <stddef.h>
#include <stdio.h>

#include "mailsec/status.h"
#include "ms_common.h"

#define MO_MAX_DEPTH 32
#define MO_MAX (16u << 20)
#define MO_ELEM ""

struct ms_out {
	FILE *f;
	char *buf;
	size_t len;
	int json;
	const char *indent;
	int width;
	int depth;
	int count[MO_MAX_DEPTH];
};

/* Start a report (a JSON document opens its object).  MS_ERR_NOMEM. */
ms_status mo_begin(struct ms_out *o, int json, const char *indent, int width);
/* Close the report: *out the malloc'd NUL-terminated text (free() it),
 * *len (may be NULL) its length; the JSON object closes and ends with a
 * newline.  MS_ERR_NOMEM, MS_ERR_LIMIT. */
ms_status mo_end(struct ms_out *o, char **out, size_t *len);
/* Start without the JSON object (the caller writes the whole document). */
ms_status mo_begin_raw(struct ms_out *o, int json, const char *indent, int width);

void mo_str(struct ms_out *o, const char *key, const char *label, const char *v);
void mo_strn(struct ms_out *o, const char *key, const char *v, size_t n); /* JSON only */
void mo_int(struct ms_out *o, const char *key, const char *label, long long v);
void mo_bool(struct ms_out *o, const char *key, int v);    /* JSON only */
void mo_null(struct ms_out *o, const char *key);           /* JSON only */
/* A human line: INDENT LABEL: printf(fmt...) (label NULL: the bare line). */
void mo_line(struct ms_out *o, const char *label, const char *fmt, ...) MS_PRINTF(3, 4);
/* Human text as is (no indent, no newline). */
void mo_text(struct ms_out *o, const char *fmt, ...) MS_PRINTF(2, 3);
/* Bytes as is, in either format. */
void mo_raw(struct ms_out *o, const void *p, size_t n);
/* JSON nesting (no-ops for text). */
void mo_obj(struct ms_out *o, const char *key);
void mo_arr(struct ms_out *o, const char *key);
void mo_close(struct ms_out *o);
void mo_close_arr(struct ms_out *o);

#endif
