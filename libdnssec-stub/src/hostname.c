/*
 * hostname.c - host-name syntax on top of DNS name normalisation.
 *
 * ms_dns_name_normalize() accepts any printable octet in a label, as DNS
 * and SPF macro expansion need.  A name that names a mail domain or a host
 * (a recipient domain, a policy domain that becomes the authority of
 * https://mta-sts.DOMAIN/, an SMTP server name) must also be a host name
 * (RFC 5321 s4.1.2 Domain, RFC 1123 s2.1): letters, digits and inner
 * hyphens.  Anything else (':', '@', '/', '#', '?', '>', '_', space) could
 * rewrite a URL or a command it is pasted into, so it is refused here,
 * once, for every library.
 */
#include "dns_internal.h"

#include <string.h>

static int ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

ms_status ms_dns_hostname_normalize(const char *name, char *buf, size_t buflen,
				    char *why, size_t whylen)
{
	char nwhy[160] = "";
	if (name == NULL || buf == NULL || buflen == 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	if (ms_dns_name_normalize(name, buf, buflen, nwhy, sizeof(nwhy)) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "%s", nwhy);
	/* normalised: lower case, A-labels, no trailing dot, no empty label */
	const char *bad = NULL;
	size_t label = 0;
	for (size_t i = 0; buf[i] != '\0' && bad == NULL; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '.') {
			if (buf[i - 1] == '-')
				bad = "a label ends with '-'";
			label = 0;
		} else if (!ldh(c)) {
			bad = "a character other than a letter, digit or '-'";
		} else if (label++ == 0 && c == '-') {
			bad = "a label starts with '-'";
		}
	}
	size_t len = strlen(buf);
	if (bad == NULL && len > 0 && buf[len - 1] == '-')
		bad = "a label ends with '-'";
	if (bad != NULL) {
		buf[0] = '\0';
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "not a host name: %s (RFC 5321 s4.1.2: letters, digits and "
			      "hyphens in dot-separated labels)", bad);
	}
	return MS_OK;
}
