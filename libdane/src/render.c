/* render.c - a verification result as text or JSON (ms_dane_result_render). */
#include "mailsec/dane.h"

#include "ms_out.h"

#include <stdio.h>

#define MAX_TLSA_TEXT 8192

ms_status ms_dane_result_render(const struct ms_dane_result *res, const struct ms_dane_tlsa *tlsa,
				size_t ntlsa, enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	char rec[MAX_TLSA_TEXT] = "";
	if (out)
		*out = NULL;
	if (res == NULL || out == NULL || (res->matched >= 0 && (tlsa == NULL ||
							       (size_t)res->matched >= ntlsa)))
		return MS_ERR_INVALID;
	if (res->matched >= 0 && ms_dane_tlsa_to_text(&tlsa[res->matched], rec, sizeof(rec)) != MS_OK)
		snprintf(rec, sizeof(rec), "%u %u %u (%zu bytes)", tlsa[res->matched].usage,
			 tlsa[res->matched].selector, tlsa[res->matched].mtype,
			 tlsa[res->matched].datalen);
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 9) != MS_OK)
		return MS_ERR_NOMEM;
	const char *rpt = ms_tlsrpt_result_name(res->tlsrpt);
	mo_str(&o, "verdict", "verdict", ms_dane_verdict_str(res->verdict));
	mo_bool(&o, "verified", res->verdict == MS_DANE_VERIFIED);
	mo_str(&o, "matched", "matched", res->matched >= 0 ? rec : NULL);
	if (res->matched < 0)
		mo_line(&o, "matched", "none");
	if (res->depth >= 0)
		mo_int(&o, "depth", "depth", res->depth);
	else
		mo_null(&o, "depth");
	if (res->depth < 0)
		mo_line(&o, "depth", "none");
	mo_str(&o, "tlsrpt_result", "tlsrpt", rpt[0] ? rpt : NULL);
	mo_int(&o, "usable_records", NULL, (long long)res->usable);
	mo_str(&o, "reason", "reason", res->reason);
	return mo_end(&o, out, len);
}
