/*
 * hdrname.c - the one place where mailsec recognises the name of a
 * message header field.  RFC 5322 s3.6.8: field-name = 1*ftext (printable
 * US-ASCII except ':'); the obsolete syntax of s4.5 (obs-optional and the
 * other obs-fields: field-name *WSP ":") must be read as well (s4: "MUST
 * accept and parse").  A reader that requires the colon right after the
 * name and a reader that does not would see different messages, so every
 * library (DKIM field selection, the DMARC author domain, the
 * Authentication-Results and TLS-Required fields) asks this function.
 */
#include "ms_common.h"

#include <string.h>

size_t ms_hdr_name(const uint8_t *f, size_t len, size_t *colon)
{
	size_t n = 0;
	if (f == NULL)
		return 0;
	while (n < len && f[n] >= 33 && f[n] <= 126 && f[n] != ':')
		n++;
	size_t c = n;
	while (c < len && (f[c] == ' ' || f[c] == '\t'))
		c++;
	if (n == 0 || c >= len || f[c] != ':')
		return 0;
	if (colon)
		*colon = c;
	return n;
}

int ms_hdr_is(const uint8_t *f, size_t len, const char *name, size_t *colon)
{
	size_t c = 0, nl = strlen(name);
	size_t n = ms_hdr_name(f, len, &c);
	if (n == 0 || n != nl || ms_ascii_ncasecmp((const char *)f, name, n) != 0)
		return 0;
	if (colon)
		*colon = c;
	return 1;
}
