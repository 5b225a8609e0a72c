/* netstring.c - see netstring.h. */
#include "netstring.h"

#include <string.h>

long netstring_read(FILE *f, char *buf, size_t max)
{
	size_t len = 0;
	int c, digits = 0;
	while ((c = getc(f)) != EOF && c >= '0' && c <= '9') {
		if (++digits > 9)
			return -2;
		len = len * 10 + (size_t)(c - '0');
	}
	if (c == EOF && digits == 0)
		return -1;
	if (c != ':' || digits == 0 || len > max)
		return -2;
	if (fread(buf, 1, len, f) != len)
		return -2;
	buf[len] = '\0';
	if (getc(f) != ',')
		return -2;
	return (long)len;
}

int netstring_write(FILE *f, const char *s)
{
	if (fprintf(f, "%zu:%s,", strlen(s), s) < 0 || fflush(f) != 0)
		return -1;
	return 0;
}
