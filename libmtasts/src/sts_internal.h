/* sts_internal.h - libmtasts internals shared between its source files. */
#ifndef STS_INTERNAL_H
#define STS_INTERNAL_H

#include "mailsec/mtasts.h"
#include "ms_common.h"

#define STS_SUBSYS "mtasts"

static inline int sts_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int sts_is_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline int sts_is_alnum(int c)
{
	return sts_is_alpha(c) || sts_is_digit(c);
}
static inline int sts_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * Check an A-label host name (RFC 5321 Domain: labels of letters, digits
 * and inner hyphens, 1-63 octets, 253 in all; no trailing dot here).
 * Returns NULL if fine, else a static reason.
 */
const char *sts_check_hostname(const char *s, size_t len);

/* Whole-string host compare ignoring ASCII case and one trailing dot. */
size_t sts_host_len(const char *s);

#endif
