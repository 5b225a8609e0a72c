/* json.c - a minimal streaming JSON writer for the CLI's --json output. */
#include "cli.h"

#include <string.h>

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Comma and key before a value at the current level. */
static void prefix(struct json *j, const char *key)
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

static void open_(struct json *j, const char *key, char c)
{
	prefix(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->count[++j->depth] = 0;
}

static void close_(struct json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_object_begin(struct json *j, const char *key) { open_(j, key, '{'); }
void json_object_end(struct json *j) { close_(j, '}'); }
void json_array_begin(struct json *j, const char *key) { open_(j, key, '['); }
void json_array_end(struct json *j) { close_(j, ']'); }

void json_stringn(struct json *j, const char *key, const char *value, size_t len)
{
	if (j == NULL)
		return;
	prefix(j, key);
	if (value == NULL)
		fputs("null", j->f);
	else
		put_escaped(j->f, value, len);
}

void json_string(struct json *j, const char *key, const char *value)
{
	json_stringn(j, key, value, value ? strlen(value) : 0);
}

void json_int(struct json *j, const char *key, long long value)
{
	prefix(j, key);
	fprintf(j->f, "%lld", value);
}

void json_bool(struct json *j, const char *key, int value)
{
	prefix(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->f);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
