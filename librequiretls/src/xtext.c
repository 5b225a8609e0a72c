/* xtext.c - RFC 3461 s4 xtext encoding (ENVID, ORCPT, AUTH=). */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

static const char hexd[] = "0123456789ABCDEF";

ms_status ms_rtls_xtext_encode(const uint8_t *raw, size_t len, char *out,
			       size_t outsize, size_t *outlen)
{
	if ((raw == NULL && len > 0) || out == NULL || outsize == 0)
		return MS_ERR_INVALID;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = raw[i];
		/* xchar = "!" (33) to "~" (126), except "+" and "=" */
		int plain = c >= 33 && c <= 126 && c != '+' && c != '=';
		size_t need = plain ? 1 : 3;
		if (o + need >= outsize) {
			out[0] = '\0';
			return MS_ERR_LIMIT;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '+';
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return MS_OK;
}

static int hexval(uint8_t c)
{
	/* RFC 3461: hexchar uses upper-case A-F only. */
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ms_status ms_rtls_xtext_decode(const uint8_t *buf, size_t len, char *out,
			       size_t outsize, size_t *outlen)
{
	if ((buf == NULL && len > 0) || out == NULL || outsize == 0)
		return MS_ERR_INVALID;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (c == '+') {
			if (len - i < 3 || hexval(buf[i + 1]) < 0 ||
			    hexval(buf[i + 2]) < 0) {
				out[0] = '\0';
				return MS_ERR_PARSE;
			}
			c = (uint8_t)(hexval(buf[i + 1]) * 16 + hexval(buf[i + 2]));
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			out[0] = '\0';
			return MS_ERR_PARSE;
		}
		if (o + 1 >= outsize) {
			out[0] = '\0';
			return MS_ERR_LIMIT;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return MS_OK;
}
