/*
 * jsoncheck.h - a strict little JSON reader for the render tests: checks
 * that a rendering is one JSON object (RFC 8259 syntax) on one line ended
 * by a newline, and reports its top-level keys.  Not a general parser:
 * enough to prove a document parses and has the keys the headers promise.
 */
#ifndef MS_JSONCHECK_H
#define MS_JSONCHECK_H

#include <ctype.h>
#include <string.h>

struct jc {
	const char *p;
	int depth;
	char keys[64][48]; /* top-level keys, in order */
	int nkeys;
};

static int jc_value(struct jc *j);

static void jc_ws(struct jc *j)
{
	while (*j->p == ' ' || *j->p == '\t')
		j->p++;
}

/* A string; at depth 1 (an object key) `key` receives it. */
static int jc_string(struct jc *j, char *key, size_t keylen)
{
	size_t n = 0;
	if (*j->p++ != '"')
		return 0;
	for (; *j->p != '"'; j->p++) {
		unsigned char c = (unsigned char)*j->p;
		if (c < 0x20)
			return 0; /* a raw control character (also the end) */
		if (c == '\\') {
			j->p++;
			if (*j->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)j->p[i]))
						return 0;
				j->p += 4;
			} else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p) {
				return 0;
			}
		}
		if (key && n + 1 < keylen)
			key[n++] = (char)c;
	}
	if (key)
		key[n] = '\0';
	j->p++;
	return 1;
}

static int jc_container(struct jc *j, char open)
{
	char close = open == '{' ? '}' : ']';
	j->p++;
	j->depth++;
	jc_ws(j);
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return 1;
	}
	for (;;) {
		jc_ws(j);
		if (open == '{') {
			char k[48];
			if (!jc_string(j, k, sizeof(k)))
				return 0;
			if (j->depth == 1 && j->nkeys < 64)
				strcpy(j->keys[j->nkeys++], k);
			jc_ws(j);
			if (*j->p++ != ':')
				return 0;
		}
		if (!jc_value(j))
			return 0;
		jc_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			return 0;
		j->depth--;
		return 1;
	}
}

static int jc_value(struct jc *j)
{
	jc_ws(j);
	if (j->depth > 64)
		return 0;
	if (*j->p == '{' || *j->p == '[')
		return jc_container(j, *j->p);
	if (*j->p == '"')
		return jc_string(j, NULL, 0);
	static const char *const words[] = { "true", "false", "null" };
	for (int i = 0; i < 3; i++)
		if (strncmp(j->p, words[i], strlen(words[i])) == 0) {
			j->p += strlen(words[i]);
			return 1;
		}
	const char *s = j->p;
	if (*j->p == '-')
		j->p++;
	if (!isdigit((unsigned char)*j->p))
		return 0;
	while (isdigit((unsigned char)*j->p) || strchr(".eE+-", *j->p))
		j->p++;
	return j->p > s;
}

/* 1 when doc is one JSON object and a newline, nothing else. */
static int jc_parse(struct jc *j, const char *doc)
{
	memset(j, 0, sizeof(*j));
	j->p = doc;
	if (*doc != '{' || !jc_value(j))
		return 0;
	return j->p[0] == '\n' && j->p[1] == '\0';
}

static int jc_has(const struct jc *j, const char *key)
{
	for (int i = 0; i < j->nkeys; i++)
		if (strcmp(j->keys[i], key) == 0)
			return 1;
	return 0;
}

#endif
