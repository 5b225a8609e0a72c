/* rtls_internal.h - helpers shared by the librequiretls sources (not installed). */
#ifndef RTLS_INTERNAL_H
#define RTLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ms_common.h"

static inline int rtls_is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
static inline int rtls_is_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline int rtls_is_alnum(int c)
{
	return rtls_is_alpha(c) || rtls_is_digit(c);
}
static inline int rtls_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}
static inline int rtls_ascii_upper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

/* Case-insensitive comparison of a counted buffer with a C string. */
int rtls_memcaseeq(const uint8_t *p, size_t n, const char *s);

#endif
