/*
 * match.c - host name checks and MX pattern matching (RFC 8461 s4.1).
 */
#include "sts_internal.h"

#include <string.h>

const char *sts_check_hostname(const char *s, size_t len)
{
	if (len == 0)
		return "empty host name";
	if (len > 253)
		return "host name longer than 253 octets";
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return "empty label";
			if (s[i - 1] == '-')
				return "label ends with '-'";
			label = 0;
			continue;
		}
		if (c >= 0x80)
			return "non-ASCII host name (use A-labels)";
		if (!sts_is_alnum(c) && c != '-')
			return "invalid character in host name";
		if (label == 0 && c == '-')
			return "label starts with '-'";
		if (++label > 63)
			return "label longer than 63 octets";
	}
	if (label == 0)
		return "empty label";
	if (s[len - 1] == '-')
		return "label ends with '-'";
	return NULL;
}

size_t sts_host_len(const char *s)
{
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	return n;
}

static int eq_nocase(const char *a, const char *b, size_t n)
{
	return ms_ascii_ncasecmp(a, b, n) == 0;
}

int ms_sts_mx_pattern_match(const char *pattern, const char *mxhost)
{
	if (pattern == NULL || mxhost == NULL)
		return 0;
	size_t pl = sts_host_len(pattern), hl = sts_host_len(mxhost);
	if (pl == 0 || hl == 0)
		return 0;
	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* "*.example.com": the host is one label plus ".example.com"
		 * (s4.1: the wildcard matches only the left-most label). */
		const char *suffix = pattern + 1; /* ".example.com" */
		size_t sl = pl - 1;
		if (hl <= sl)
			return 0;
		size_t first = hl - sl; /* length of the host's first label */
		if (memchr(mxhost, '.', first) != NULL)
			return 0;
		return eq_nocase(mxhost + first, suffix, sl);
	}
	return pl == hl && eq_nocase(pattern, mxhost, hl);
}
