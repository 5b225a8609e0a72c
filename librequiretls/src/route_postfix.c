/*
 * route_postfix.c - a built route rendered as Postfix's TLS policy answer
 * (smtp_tls_policy_maps over socketmap), see requiretls_route.h.
 *
 * The decisions are the route's: the engine already planned every host
 * (RFC 7672 s2.2 DANE first, RFC 8461 MTA-STS, fail closed on failed
 * lookups).  This file only maps those plans onto the few policy levels
 * Postfix takes per next-hop domain, choosing the stricter one where
 * Postfix cannot express the per-host mix.
 */
#include "rtls_internal.h"

#include <mailsec/requiretls_route.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Write a reply; 0 when it fit. */
static int put(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The reply is one netstring Postfix logs: keep the reason printable,
 * short and on one line. */
static void temp(char *out, size_t outlen, const char *why)
{
	char clean[201];
	size_t n = 0;
	for (; why && why[n] && n < sizeof(clean) - 1; n++)
		clean[n] = (why[n] >= 0x20 && why[n] < 0x7f) ? why[n] : '?';
	clean[n] = '\0';
	put(out, outlen, "TEMP %s", n ? clean : "lookup failed");
}

/* A skip that a later attempt may not repeat: the lookups that failed. */
static int skip_is_failed_lookup(const struct ms_rtls_plan *p)
{
	return p->mode == MS_RTLS_MODE_SKIP &&
	       (p->reason == MS_RTLS_R_TLSA_LOOKUP || p->reason == MS_RTLS_R_ADDR_LOOKUP ||
		p->reason == MS_RTLS_R_MX_LOOKUP || p->reason == MS_RTLS_R_STS_UNKNOWN);
}

/* "secure match=P1:P2 servername=hostname" from the applying policy. */
static ms_status secure_match(const struct ms_rtls_route *r, char *out, size_t outlen)
{
	const struct ms_sts_policy *p = ms_sts_result_policy(ms_rtls_route_sts_result(r));
	size_t n = (size_t)snprintf(out, outlen, "OK secure match=");
	size_t count = ms_sts_policy_mx_count(p);
	for (size_t i = 0; i < count && n < outlen; i++) {
		const char *pat = ms_sts_policy_mx(p, i);
		if (pat[0] == '*')
			pat++; /* "*.example.com" -> ".example.com" */
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? ":" : "", pat);
	}
	if (n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, " servername=hostname");
	if (count == 0 || n >= outlen) {
		/* never hand out a truncated (wider or narrower) match list */
		put(out, outlen, "TEMP policy too long for a reply");
		return MS_ERR_LIMIT;
	}
	return MS_OK;
}

ms_status ms_rtls_route_postfix_policy(const struct ms_rtls_route *r, unsigned flags,
				       enum ms_rtls_postfix_kind *kind, char *reply,
				       size_t replylen)
{
	if (kind)
		*kind = MS_RTLS_POSTFIX_TEMP;
	if (reply == NULL || replylen < 32)
		return MS_ERR_INVALID;
	if (r == NULL || ms_rtls_route_status(r, NULL, 0) != MS_OK) {
		temp(reply, replylen, "route not built");
		return MS_ERR_INVALID;
	}
	unsigned rf = ms_rtls_route_flags(r);
	if (rf & MS_RTLS_ROUTE_MX_FAILED) {
		/* RFC 7672 s2.1.1: a failed MX lookup defers the domain */
		char why[200];
		snprintf(why, sizeof(why), "MX lookup for %.100s failed: %.70s", ms_rtls_route_domain(r),
			 ms_rtls_route_mx_note(r));
		temp(reply, replylen, why);
		return MS_OK;
	}
	size_t count = ms_rtls_route_count(r), tried = 0, dane_usable = 0, dane_any = 0;
	for (size_t i = 0; i < count; i++) {
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
		const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
		const struct ms_rtls_host *in = ms_rtls_route_host_engine(h);
		if (skip_is_failed_lookup(p)) {
			/* Any host: Postfix would otherwise try this host under
			 * whatever level the others get, without its DANE. */
			char why[200];
			snprintf(why, sizeof(why), "%.100s: %.90s", ms_rtls_route_host_name(h),
				 p->text[0] ? p->text : ms_rtls_reason_str(p->reason));
			temp(reply, replylen, why);
			return MS_OK;
		}
		if (p->mode == MS_RTLS_MODE_SKIP)
			continue; /* e.g. not in the MTA-STS policy: "secure match" refuses it */
		tried++;
		if (p->mode == MS_RTLS_MODE_DANE && in->dane == MS_RTLS_DANE_USABLE)
			dane_usable++;
		/* DANE applies (RFC 7672 s2.2), usable or all-unusable TLSA */
		if (p->verify_dane ||
		    (p->mode == MS_RTLS_MODE_ENCRYPTED && in->dane == MS_RTLS_DANE_UNUSABLE))
			dane_any++;
	}
	ms_status st = MS_OK;
	enum ms_rtls_postfix_kind k = MS_RTLS_POSTFIX_OK;
	enum ms_rtls_sts_mode mode = ms_rtls_route_engine_domain(r)->sts_mode;
	int enforce = (rf & MS_RTLS_ROUTE_STS_POLICY) &&
		      (mode == MS_RTLS_STS_ENFORCE ||
		       (mode == MS_RTLS_STS_TESTING && (flags & MS_RTLS_POSTFIX_TESTING_AS_ENFORCE))) &&
		      ms_sts_result_policy(ms_rtls_route_sts_result(r)) != NULL;
	if (tried > 0 && dane_usable == tried) {
		put(reply, replylen, "OK dane-only"); /* RFC 8461 s2: DANE wins */
	} else if (enforce) {
		/* Mixed DANE and non-DANE hosts under enforce: Postfix takes one
		 * level per domain; "secure" (PKIX for every host) is the
		 * stricter choice, "dane" would leave the others opportunistic. */
		st = secure_match(r, reply, replylen);
		if (st != MS_OK)
			k = MS_RTLS_POSTFIX_TEMP;
	} else if (dane_any > 0) {
		put(reply, replylen, "OK dane");
	} else {
		put(reply, replylen, "NOTFOUND ");
		k = MS_RTLS_POSTFIX_NOTFOUND;
	}
	if (kind)
		*kind = k;
	return st;
}
