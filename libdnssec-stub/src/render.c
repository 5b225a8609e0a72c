/* render.c - a lookup result as `mailsec dns` shows it (ms_dns_result_render). */
#include "mailsec/dns.h"

#include "ms_out.h"

#include <stdlib.h>

/* Presentation text of record i (the caller frees it); worst case 4
 * characters per rdata byte (\DDD escapes) plus quotes and separators. */
static char *record_text(const struct ms_dns_result *r, size_t i, size_t *malformed)
{
	size_t len = 0;
	ms_dns_result_rdata(r, i, &len);
	char *text = malloc(len * 5 + 64);
	if (text && ms_dns_result_rdata_text(r, i, text, len * 5 + 64) == MS_ERR_PARSE)
		++*malformed;
	return text;
}

ms_status ms_dns_result_render(const struct ms_dns_result *r, enum ms_render_format fmt,
			       char **out, size_t *len)
{
	struct ms_out o;
	char qt[16];
	if (out)
		*out = NULL;
	if (r == NULL || out == NULL)
		return MS_ERR_INVALID;
	const char *type = ms_dns_result_qtype(r) == 0 ? "ADDR" :
			   ms_dns_type_str(ms_dns_result_qtype(r), qt, sizeof(qt));
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 11) != MS_OK)
		return MS_ERR_NOMEM;
	mo_line(&o, NULL, "%s %s", ms_dns_result_qname(r), type);
	mo_str(&o, "name", NULL, ms_dns_result_qname(r));
	mo_str(&o, "type", NULL, type);
	mo_str(&o, "outcome", "outcome", ms_dns_outcome_str(ms_dns_result_outcome(r)));
	mo_str(&o, "security", "security", ms_dns_security_str(ms_dns_result_security(r)));
	int ede = ms_dns_result_ede(r), cs = ms_dns_result_cname_secure(r);
	const char *text = ms_dns_result_ede_text(r);
	if (ede >= 0) {
		mo_int(&o, "ede", NULL, ede);
		mo_line(&o, "ede", "%d (%s)%s%s", ede, ms_dns_ede_str(ede), text ? ": " : "",
			 text ? text : "");
	} else {
		mo_null(&o, "ede");
	}
	mo_str(&o, "ede_text", NULL, text);
	mo_str(&o, "canonical", NULL, ms_dns_result_canonical(r));
	mo_line(&o, "canonical", "%s%s%s", ms_dns_result_canonical(r),
		 cs < 0 ? "" : cs ? " (CNAME chain secure)" : " (CNAME chain not secure)", "");
	if (cs >= 0)
		mo_bool(&o, "cname_secure", cs);
	else
		mo_null(&o, "cname_secure");
	mo_int(&o, "ttl", "ttl", ms_dns_result_ttl(r));
	mo_int(&o, "duration_ms", NULL, ms_dns_result_duration_ms(r));
	mo_bool(&o, "null_mx", ms_dns_result_is_null_mx(r));
	size_t n = ms_dns_result_count(r), malformed = 0;
	if (n)
		mo_line(&o, NULL, "  records:");
	mo_arr(&o, "records");
	for (size_t i = 0; i < n; i++) {
		char tb[16];
		size_t bad = malformed;
		char *t = record_text(r, i, &malformed);
		mo_str(&o, MO_ELEM, NULL, t);
		mo_line(&o, NULL, "    %s%s%s", ms_dns_result_qtype(r) == 0 ?
			 ms_dns_type_str(ms_dns_result_rtype(r, i), tb, sizeof(tb)) : "",
			 ms_dns_result_qtype(r) == 0 ? " " : "", t ? t : "(out of memory)");
		if (malformed > bad)
			mo_line(&o, NULL, "      (malformed rdata)");
		free(t);
	}
	mo_close_arr(&o);
	mo_arr(&o, "record_types");
	for (size_t i = 0; i < n; i++) {
		char tb[16];
		mo_str(&o, MO_ELEM, NULL, ms_dns_type_str(ms_dns_result_rtype(r, i), tb, sizeof(tb)));
	}
	mo_close_arr(&o);
	mo_int(&o, "malformed_records", NULL, (long long)malformed);
	if (ms_dns_result_is_null_mx(r))
		mo_line(&o, NULL, "  null MX: the domain accepts no mail (RFC 7505)");
	return mo_end(&o, out, len);
}

/* Every library's renderer writes through common/src/ms_out.c, which
 * allocates with malloc (dns.h says so); one free call for all of them. */
void ms_render_free(char *buf)
{
	free(buf);
}
