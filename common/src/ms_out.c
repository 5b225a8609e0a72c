/* ms_out.c - the report writer of the libraries' *_render() calls. */
#include "ms_out.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

ms_status mo_begin_raw(struct ms_out *o, int json, const char *indent, int width)
{
	memset(o, 0, sizeof(*o));
	o->json = json;
	o->indent = indent ? indent : "";
	o->width = width;
	o->f = open_memstream(&o->buf, &o->len);
	return o->f ? MS_OK : MS_ERR_NOMEM;
}

ms_status mo_begin(struct ms_out *o, int json, const char *indent, int width)
{
	ms_status st = mo_begin_raw(o, json, indent, width);
	if (st == MS_OK && json)
		mo_obj(o, NULL);
	return st;
}

ms_status mo_end(struct ms_out *o, char **out, size_t *len)
{
	*out = NULL;
	if (o->json && o->depth > 0) {
		mo_close(o);
		fputc('\n', o->f);
	}
	int bad = ferror(o->f);
	if (fclose(o->f) != 0 || bad || o->buf == NULL) {
		free(o->buf);
		return MS_ERR_NOMEM;
	}
	if (o->len > MO_MAX) {
		free(o->buf);
		return MS_ERR_LIMIT;
	}
	*out = o->buf;
	if (len)
		*len = o->len;
	return MS_OK;
}

/* Comma and key before a JSON value at the current level. */
static void prefix(struct ms_out *o, const char *key)
{
	if (o->count[o->depth]++ > 0)
		fputc(',', o->f);
	if (key && key[0])
		fprintf(o->f, "\"%s\":", key);
}

static void put_escaped(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f); /* UTF-8 passes through */
		}
	}
	fputc('"', f);
}

static void open_(struct ms_out *o, const char *key, char c)
{
	if (!o->json)
		return;
	prefix(o, key);
	fputc(c, o->f);
	if (o->depth + 1 < MO_MAX_DEPTH)
		o->count[++o->depth] = 0;
}

static void close_(struct ms_out *o, char c)
{
	if (!o->json)
		return;
	fputc(c, o->f);
	if (o->depth > 0)
		o->depth--;
}

void mo_obj(struct ms_out *o, const char *key) { open_(o, key, '{'); }
void mo_arr(struct ms_out *o, const char *key) { open_(o, key, '['); }
void mo_close(struct ms_out *o) { close_(o, '}'); }
void mo_close_arr(struct ms_out *o) { close_(o, ']'); }

void mo_strn(struct ms_out *o, const char *key, const char *v, size_t n)
{
	if (!o->json || key == NULL)
		return;
	prefix(o, key);
	if (v == NULL)
		fputs("null", o->f);
	else
		put_escaped(o->f, v, n);
}

void mo_str(struct ms_out *o, const char *key, const char *label, const char *v)
{
	if (o->json)
		mo_strn(o, key, v, v ? strlen(v) : 0);
	else if (label && v)
		mo_line(o, label, "%s", v);
}

void mo_int(struct ms_out *o, const char *key, const char *label, long long v)
{
	if (o->json && key) {
		prefix(o, key);
		fprintf(o->f, "%lld", v);
	} else if (!o->json && label) {
		mo_line(o, label, "%lld", v);
	}
}

void mo_bool(struct ms_out *o, const char *key, int v)
{
	if (o->json) {
		prefix(o, key);
		fputs(v ? "true" : "false", o->f);
	}
}

void mo_null(struct ms_out *o, const char *key)
{
	if (o->json) {
		prefix(o, key);
		fputs("null", o->f);
	}
}

void mo_line(struct ms_out *o, const char *label, const char *fmt, ...)
{
	if (o->json)
		return;
	va_list ap;
	if (label) {
		int pad = o->width - (int)strlen(label) - 1;
		fprintf(o->f, "%s%s:%*s", o->indent, label, pad < 1 ? 1 : pad, "");
	}
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
}

void mo_text(struct ms_out *o, const char *fmt, ...)
{
	if (o->json)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

void mo_raw(struct ms_out *o, const void *p, size_t n)
{
	fwrite(p, 1, n, o->f);
}
