/*
 * record.c - the _mta-sts TXT record (RFC 8461 s3.1):
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *                     [sts-field-delim]
 *   sts-version     = %s"v=STSv1"
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 */
#include "sts_internal.h"

#include <string.h>

#define STS_PREFIX "v=STSv1;"

int ms_sts_record_is_sts(const uint8_t *buf, size_t len)
{
	/* s3.1: "Records that do not begin with "v=STSv1;" are discarded." */
	size_t n = sizeof(STS_PREFIX) - 1;
	return buf != NULL && len >= n && memcmp(buf, STS_PREFIX, n) == 0;
}

static int ext_name_char(int c)
{
	return sts_is_alnum(c) || c == '_' || c == '-' || c == '.';
}

static int ext_value_char(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

ms_status ms_sts_record_parse(const uint8_t *buf, size_t len,
			      char id[MS_STS_ID_MAX + 1],
			      char *why, size_t whylen)
{
	if (buf == NULL || id == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no record");
	id[0] = '\0';
	const size_t vlen = sizeof("v=STSv1") - 1;
	if (len < vlen || memcmp(buf, "v=STSv1", vlen) != 0)
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "record does not begin with v=STSv1");
	size_t i = vlen, nfields = 0;
	int have_id = 0;
	while (i < len) {
		/* sts-field-delim, which must be there (even after the version) */
		while (i < len && sts_is_wsp(buf[i]))
			i++;
		if (i >= len || buf[i] != ';')
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "expected ';' at offset %zu", i);
		i++;
		while (i < len && sts_is_wsp(buf[i]))
			i++;
		if (i == len)
			break; /* trailing delimiter */
		/* a field: name "=" value */
		size_t ns = i;
		if (!sts_is_alnum(buf[i]))
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "bad field name at offset %zu", i);
		while (i < len && ext_name_char(buf[i]))
			i++;
		size_t nlen = i - ns;
		if (nlen > 32)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "field name longer than 32 at offset %zu", ns);
		if (i >= len || buf[i] != '=')
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "expected '=' at offset %zu", i);
		i++;
		size_t vs = i;
		while (i < len && ext_value_char(buf[i]))
			i++;
		size_t vl = i - vs;
		if (vl == 0)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "empty value at offset %zu", vs);
		nfields++;
		if (nlen == 2 && memcmp(buf + ns, "id", 2) == 0) {
			if (vl > MS_STS_ID_MAX)
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "id longer than %d characters",
					      MS_STS_ID_MAX);
			for (size_t k = 0; k < vl; k++)
				if (!sts_is_alnum(buf[vs + k]))
					return ms_why(why, whylen, MS_ERR_PARSE,
						      "id may hold only letters and digits");
			if (!have_id) { /* the first id wins */
				memcpy(id, buf + vs, vl);
				id[vl] = '\0';
				have_id = 1;
			}
		}
	}
	if (nfields == 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "record has no fields");
	if (!have_id)
		return ms_why(why, whylen, MS_ERR_PARSE, "record has no id");
	return MS_OK;
}
