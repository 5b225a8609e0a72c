/*
 * requirement.c - the per-message TLS requirement and its stable queue
 * serialisation (RFC 8689 s4.2.1 REQUIRETLS, s4.2.2 TLS-Required: No).
 */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

enum ms_rtls_requirement ms_rtls_requirement_of(int requiretls_param,
						enum ms_rtls_tlsreq header)
{
	/* RFC 8689 s2: with the parameter the header field is ignored. */
	if (requiretls_param)
		return MS_RTLS_REQ_REQUIRED;
	return header == MS_RTLS_TLSREQ_NO ? MS_RTLS_REQ_NOT_REQUIRED
					   : MS_RTLS_REQ_DEFAULT;
}

/* These strings are stored in queue files: never change them. */
const char *ms_rtls_requirement_str(enum ms_rtls_requirement r)
{
	switch (r) {
	case MS_RTLS_REQ_DEFAULT: return "default";
	case MS_RTLS_REQ_REQUIRED: return "required";
	case MS_RTLS_REQ_NOT_REQUIRED: return "not-required";
	}
	return "default";
}

ms_status ms_rtls_requirement_parse(const uint8_t *buf, size_t len,
				    enum ms_rtls_requirement *out)
{
	if ((buf == NULL && len > 0) || out == NULL)
		return MS_ERR_INVALID;
	while (len > 0 && (rtls_is_wsp(buf[0]) || buf[0] == '\r' || buf[0] == '\n')) {
		buf++;
		len--;
	}
	while (len > 0 && (rtls_is_wsp(buf[len - 1]) || buf[len - 1] == '\r' ||
			   buf[len - 1] == '\n'))
		len--;
	static const enum ms_rtls_requirement all[] = {
		MS_RTLS_REQ_DEFAULT, MS_RTLS_REQ_REQUIRED, MS_RTLS_REQ_NOT_REQUIRED};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (rtls_memcaseeq(buf, len, ms_rtls_requirement_str(all[i]))) {
			*out = all[i];
			return MS_OK;
		}
	}
	return MS_ERR_PARSE;
}
