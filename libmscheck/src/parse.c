/*
 * parse.c - the bounded parsers of DNS data the report reads on its own:
 * the TLSRPT record grammar (RFC 8460 s3) and CAA rdata (RFC 8659 s4.1).
 * Both take (buffer, length), never assume NUL termination, and write at
 * most the caller's buffer.
 */
#include "check_int.h"

#include <string.h>
#include <strings.h>

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int prefix_ci(const uint8_t *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n && strncasecmp((const char *)p, lit, n) == 0;
}

/* Printable ASCII copy (others as '?'), for reasons. */
static void show(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	size_t k = 0;
	for (; k < n && k + 1 < outlen; k++)
		out[k] = p[k] >= 0x20 && p[k] < 0x7f ? (char)p[k] : '?';
	if (outlen)
		out[k < outlen ? k : outlen - 1] = '\0';
}

/* tlsrpt-record = "v=TLSRPTv1" *(";" field) [";"], fields name=value,
 * rua = uri *("," uri) with mailto: or https: URIs. */
int check_tlsrpt_parse(const uint8_t *buf, size_t len, char *bad, size_t badlen)
{
	size_t i = 0, rua = 0;
	int first = 1;
	char shown[64];
	if (badlen)
		bad[0] = '\0';
	while (i < len) {
		while (i < len && is_ws(buf[i]))
			i++;
		size_t start = i;
		while (i < len && buf[i] != ';')
			i++;
		size_t end = i;
		while (end > start && is_ws(buf[end - 1]))
			end--;
		i++; /* past ';' (or the end) */
		if (end == start)
			continue;
		const uint8_t *f = buf + start;
		size_t fl = end - start;
		const uint8_t *eq = memchr(f, '=', fl);
		if (eq == NULL || eq == f) {
			show(shown, sizeof(shown), f, fl);
			snprintf(bad, badlen, "field '%s' is not name=value", shown);
			return 0;
		}
		if (first && !(fl == 10 && memcmp(f, "v=TLSRPTv1", 10) == 0)) {
			snprintf(bad, badlen, "the record must start with v=TLSRPTv1");
			return 0;
		}
		first = 0;
		if ((size_t)(eq - f) != 3 || strncasecmp((const char *)f, "rua", 3) != 0)
			continue;
		size_t u = (size_t)(eq - f) + 1;
		while (u < fl) {
			while (u < fl && (is_ws(f[u]) || f[u] == ','))
				u++;
			size_t us = u;
			while (u < fl && f[u] != ',')
				u++;
			size_t ue = u;
			while (ue > us && is_ws(f[ue - 1]))
				ue--;
			if (ue == us)
				continue;
			if (!prefix_ci(f + us, ue - us, "mailto:") && !prefix_ci(f + us, ue - us, "https://")) {
				show(shown, sizeof(shown), f + us, ue - us);
				snprintf(bad, badlen, "rua entry '%s' is neither mailto: nor https:", shown);
				return 0;
			}
			rua++;
		}
	}
	if (first) {
		snprintf(bad, badlen, "empty record");
		return 0;
	}
	if (rua == 0) {
		snprintf(bad, badlen, "no rua= destination");
		return 0;
	}
	return 1;
}

int check_caa_issue(const uint8_t *rd, size_t len, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	/* flags(1) tag-length(1, 1..15) tag value */
	if (rd == NULL || len < 2 || rd[1] == 0 || rd[1] > 15 || (size_t)rd[1] + 2 > len)
		return -1;
	if (!(rd[1] == 5 && strncasecmp((const char *)rd + 2, "issue", 5) == 0))
		return 0;
	show(out, outlen, rd + 7, len - 7);
	return 1;
}
