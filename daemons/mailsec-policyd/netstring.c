/* netstring.c - see netstring.h. */
#include "netstring.h"

#include <stdio.h>
#include <string.h>

enum ns_result ns_parse(const uint8_t *buf, size_t len, size_t max, const uint8_t **data,
			size_t *dlen, size_t *used)
{
	size_t n = 0, i = 0;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i == 9)
			return NS_TOO_LONG; /* more than 999999999 */
		if (i == 1 && buf[0] == '0')
			return NS_MALFORMED; /* "01:" */
		n = n * 10 + (size_t)(buf[i] - '0');
		if (n > max)
			return NS_TOO_LONG; /* known before the data arrives */
	}
	if (i == len)
		return NS_NEED_MORE;
	if (i == 0 || buf[i] != ':')
		return NS_MALFORMED;
	i++; /* ':' */
	if (len - i < n + 1)
		return NS_NEED_MORE;
	if (buf[i + n] != ',')
		return NS_MALFORMED;
	*data = buf + i;
	*dlen = n;
	*used = i + n + 1;
	return NS_COMPLETE;
}

size_t ns_format(const char *s, size_t slen, char *out, size_t outlen)
{
	int h = snprintf(out, outlen, "%zu:", slen);
	if (h < 0 || (size_t)h + slen + 1 >= outlen)
		return 0;
	memcpy(out + h, s, slen);
	out[(size_t)h + slen] = ',';
	out[(size_t)h + slen + 1] = '\0';
	return (size_t)h + slen + 1;
}
