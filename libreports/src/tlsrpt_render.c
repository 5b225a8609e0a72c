/*
 * tlsrpt_render.c - what `mailsec tlsrpt send` and `tlsrpt parse` print:
 * ms_tlsrpt_send_render (a report's delivery to its destinations) and
 * ms_tlsrpt_parsed_render (a received report), through the libraries'
 * shared report writer (common/src/ms_out.c).  Free with ms_render_free.
 */
#include "mailsec/tlsrpt.h"

#include "ms_out.h"

#include <stdlib.h>
#include <string.h>

ms_status ms_tlsrpt_send_render(const struct ms_tlsrpt_report *rep,
				const struct ms_tlsrpt_send_result *res, const char *why,
				enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (rep == NULL || res == NULL || out == NULL || res->n > MS_TLSRPT_MAX_RUA ||
	    (fmt != MS_RENDER_TEXT && fmt != MS_RENDER_JSON))
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 0) != MS_OK)
		return MS_ERR_NOMEM;
	mo_str(&o, "domain", NULL, rep->policy_domain);
	mo_str(&o, "report_id", NULL, rep->report_id);
	mo_str(&o, "filename", NULL, rep->filename);
	mo_int(&o, "sessions", NULL, (long long)rep->sessions);
	mo_str(&o, "rua_note", NULL, res->rua_note[0] ? res->rua_note : NULL);
	mo_line(&o, NULL, "report %s (%llu sessions) for %s", rep->filename,
		(unsigned long long)rep->sessions, rep->policy_domain);
	if (res->n == 0)
		mo_line(&o, NULL, "  not sent: %s", why ? why : res->rua_note);
	mo_arr(&o, "destinations");
	for (size_t i = 0; i < res->n; i++) {
		mo_obj(&o, NULL);
		mo_str(&o, "uri", NULL, res->dest[i].uri);
		mo_bool(&o, "ok", res->dest[i].status == MS_OK);
		mo_str(&o, "detail", NULL, res->dest[i].detail);
		mo_close(&o);
		mo_line(&o, NULL, "  %-40s %s: %s", res->dest[i].uri,
			res->dest[i].status == MS_OK ? "sent" : "FAILED", res->dest[i].detail);
	}
	mo_close_arr(&o);
	return mo_end(&o, out, len);
}

ms_status ms_tlsrpt_parsed_render(const struct ms_tlsrpt_parsed *p, enum ms_render_format fmt,
				  char **out, size_t *len)
{
	char *view = NULL;
	if (out)
		*out = NULL;
	if (p == NULL || out == NULL || (fmt != MS_RENDER_TEXT && fmt != MS_RENDER_JSON))
		return MS_ERR_INVALID;
	ms_status st = ms_tlsrpt_parsed_view(p, fmt == MS_RENDER_JSON ? 2 : 0, &view);
	if (st != MS_OK)
		return st;
	/* A rendering ends in a newline, like every other one. */
	size_t n = strlen(view);
	if (n == 0 || view[n - 1] != '\n') {
		char *v = realloc(view, n + 2);
		if (v == NULL) {
			free(view);
			return MS_ERR_NOMEM;
		}
		view = v;
		view[n++] = '\n';
		view[n] = '\0';
	}
	*out = view;
	if (len)
		*len = n;
	return MS_OK;
}
