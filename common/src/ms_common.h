/*
 * ms_common.h - internal helpers shared by the mailsec libraries.
 *
 * This is a static, never-installed library compiled into each shared
 * library with hidden visibility: nothing here is part of any ABI.  It holds
 * the env hook shims (allocation, clock, log, metrics), the optional `why`
 * buffer writer and a bounded growable buffer.
 */
#ifndef MS_COMMON_H
#define MS_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "mailsec/env.h"
#include "mailsec/status.h"

#if defined(__GNUC__)
#define MS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MS_PRINTF(a, b)
#endif

/* Copy `src` (may be NULL) into `dst`, honouring src->version. */
void ms_env_init(struct ms_env *dst, const struct ms_env *src);

void *ms_malloc(const struct ms_env *env, size_t size);
void *ms_calloc(const struct ms_env *env, size_t n, size_t size);
void *ms_realloc(const struct ms_env *env, void *ptr, size_t size);
void ms_free(const struct ms_env *env, void *ptr);
char *ms_strdup(const struct ms_env *env, const char *s);
char *ms_strndup(const struct ms_env *env, const char *s, size_t n);

/* Wall clock (Unix seconds) through the env hook, and a monotonic clock. */
int64_t ms_now(const struct ms_env *env);
uint64_t ms_monotonic_ns(void);

/* Whether a log event at `level` would be delivered (skip costly formatting). */
int ms_log_enabled(const struct ms_env *env, enum ms_log_level level);
void ms_log(const struct ms_env *env, enum ms_log_level level,
	    const char *subsystem, const char *msg,
	    const struct ms_kv *kv, size_t nkv);
void ms_metric(const struct ms_env *env, enum ms_metric_kind kind,
	       const char *name, const struct ms_kv *labels, size_t nlabels,
	       double value);

/*
 * Write a message into the caller's optional `why` buffer (NULL or len 0 is
 * fine) and return `status`, so error paths read `return ms_why(...)`.
 */
ms_status ms_why(char *why, size_t whylen, ms_status status,
		 const char *fmt, ...) MS_PRINTF(4, 5);

/*
 * A growable byte buffer with a hard upper bound.  Appends past `max` fail
 * with MS_ERR_LIMIT and leave the content unchanged.  The content is always
 * followed by a NUL byte (not counted in len) so text can be used as a string.
 */
struct ms_buf {
	const struct ms_env *env;
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

void ms_buf_init(struct ms_buf *b, const struct ms_env *env, size_t max);
ms_status ms_buf_append(struct ms_buf *b, const void *p, size_t n);
/* Make room for `extra` more bytes now (one allocation instead of several
 * doublings when the size is known); MS_ERR_LIMIT past max. */
ms_status ms_buf_reserve(struct ms_buf *b, size_t extra);
ms_status ms_buf_putc(struct ms_buf *b, uint8_t c);
ms_status ms_buf_printf(struct ms_buf *b, const char *fmt, ...) MS_PRINTF(2, 3);
/* Hand the content (NUL-terminated) to the caller, who frees it with ms_free. */
char *ms_buf_steal(struct ms_buf *b);
void ms_buf_free(struct ms_buf *b);

/* ASCII-only helpers (locale independent, as protocol text requires). */
static inline int ms_ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}
int ms_ascii_casecmp(const char *a, const char *b);
int ms_ascii_ncasecmp(const char *a, const char *b, size_t n);

/*
 * Header field names (RFC 5322 s3.6.8, with the obsolete "Name :" form of
 * s4.5: white space between the name and the colon).  `f` is the start of
 * a field (len bytes, not NUL-terminated).  ms_hdr_name returns the length
 * of the name, or 0 when the line is not a field (no name, no colon, a
 * character outside ftext); *colon (may be NULL) gets the offset of the
 * colon.  ms_hdr_is: whether the field is named `name` (ASCII
 * case-insensitive), with *colon as above.  Every header-name match in
 * mailsec goes through these two (hdrname.c).
 */
size_t ms_hdr_name(const uint8_t *f, size_t len, size_t *colon);
int ms_hdr_is(const uint8_t *f, size_t len, const char *name, size_t *colon);

/* strerror() is not reentrant (POSIX); this is, through strerror_r.
 * Returns the text, in `buf` or static. */
const char *ms_strerror(int err, char *buf, size_t len);

#endif /* MS_COMMON_H */
