/* json.h - the report's JSON writer (internal): compact, one line. */
#ifndef MAILSEC_CHECK_JSON_H
#define MAILSEC_CHECK_JSON_H

#include <stdio.h>

#define CJ_MAX_DEPTH 32
struct cj {
	FILE *f;
	int depth;
	int count[CJ_MAX_DEPTH];
};
void cj_init(struct cj *j, FILE *f);
void cj_object_begin(struct cj *j, const char *key);
void cj_object_end(struct cj *j);
void cj_array_begin(struct cj *j, const char *key);
void cj_array_end(struct cj *j);
void cj_string(struct cj *j, const char *key, const char *value); /* NULL: null */
void cj_stringn(struct cj *j, const char *key, const char *value, size_t len);
void cj_int(struct cj *j, const char *key, long long value);
void cj_bool(struct cj *j, const char *key, int value);
void cj_null(struct cj *j, const char *key);
void cj_finish(struct cj *j);

#endif
