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

/* The decision engine on the library's own (full, current-version) plans
 * and outcomes; the public ms_rtls_plan/judge/conclude/outcome_from_plan
 * wrap these for the caller's struct version (decide.c). */
struct ms_rtls_domain;
struct ms_rtls_host;
struct ms_rtls_plan;
struct ms_rtls_observed;
struct ms_rtls_outcome;
ms_status rtls_plan_fill(const struct ms_rtls_domain *d, const struct ms_rtls_host *h,
			 struct ms_rtls_plan *out);
ms_status rtls_judge_fill(const struct ms_rtls_domain *d, const struct ms_rtls_host *h,
			  const struct ms_rtls_plan *p, const struct ms_rtls_observed *o,
			  struct ms_rtls_outcome *out);
ms_status rtls_conclude_fill(const struct ms_rtls_outcome *fails, size_t n,
			     struct ms_rtls_outcome *out);
void rtls_outcome_from_plan_fill(const struct ms_rtls_plan *p, struct ms_rtls_outcome *out);

#endif
