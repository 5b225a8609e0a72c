/* util.c - small helpers shared by the librequiretls sources. */
#include "rtls_internal.h"

#include <string.h>

int rtls_memcaseeq(const uint8_t *p, size_t n, const char *s)
{
	size_t sl = strlen(s);
	if (sl != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ms_ascii_lower(p[i]) != ms_ascii_lower((unsigned char)s[i]))
			return 0;
	return 1;
}
