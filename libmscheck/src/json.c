/* json.c - a minimal streaming JSON writer for the report (a copy of the CLI's: a library cannot use a program's helpers). */
#include "json.h"

#include <string.h>

void cj_init(struct cj *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Comma and key before a value at the current level. */
static void prefix(struct cj *j, const char *key)
{
	if (j->count[j->depth]++ > 0)
		fputc(',', j->f);
	if (key) {
		fputc('"', j->f);
		for (const char *p = key; *p; p++)
			fputc(*p, j->f);
		fputs("\":", j->f);
	}
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

void cj_object_begin(struct cj *j, const char *key)
{
	prefix(j, key);
	fputc('{', j->f);
	if (j->depth + 1 < CJ_MAX_DEPTH)
		j->count[++j->depth] = 0;
}

void cj_object_end(struct cj *j)
{
	fputc('}', j->f);
	if (j->depth > 0)
		j->depth--;
}

void cj_array_begin(struct cj *j, const char *key)
{
	prefix(j, key);
	fputc('[', j->f);
	if (j->depth + 1 < CJ_MAX_DEPTH)
		j->count[++j->depth] = 0;
}

void cj_array_end(struct cj *j)
{
	fputc(']', j->f);
	if (j->depth > 0)
		j->depth--;
}

void cj_stringn(struct cj *j, const char *key, const char *value, size_t len)
{
	if (j == NULL)
		return;
	prefix(j, key);
	if (value == NULL)
		fputs("null", j->f);
	else
		put_escaped(j->f, value, len);
}

void cj_string(struct cj *j, const char *key, const char *value)
{
	cj_stringn(j, key, value, value ? strlen(value) : 0);
}

void cj_int(struct cj *j, const char *key, long long value)
{
	prefix(j, key);
	fprintf(j->f, "%lld", value);
}

void cj_bool(struct cj *j, const char *key, int value)
{
	prefix(j, key);
	fputs(value ? "true" : "false", j->f);
}

void cj_null(struct cj *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->f);
}

void cj_finish(struct cj *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
