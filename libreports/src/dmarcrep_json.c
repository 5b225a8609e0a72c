/*
 * dmarcrep_json.c - the JSON view of a report (generated or parsed):
 * the reporting organisation, the period, the published policy and per
 * source IP row the counts and results (docs/cli.md, `parse --json`).
 */
#include "dmarcrep_internal.h"

#include <stdio.h>
#include <string.h>

static void js(struct ms_buf *b, const char *key, const char *v)
{
	ms_buf_printf(b, "\"%s\":\"", key);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			ms_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			ms_buf_printf(b, "\\u%04x", *p);
		else
			ms_buf_putc(b, *p);
	}
	ms_buf_putc(b, '"');
}

ms_status ms_dmarcrep_report_json(const struct ms_dmarcrep_report *r, char **out, char *why,
				  size_t whylen)
{
	if (r == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_buf b;
	/* plain malloc (no env): the caller frees with ms_dmarcrep_buf_free */
	ms_buf_init(&b, NULL, (size_t)r->rows.n * 4096 + 65536);
	const struct ms_dmarcrep_meta *m = &r->meta;
	ms_buf_putc(&b, '{');
	js(&b, "org_name", m->org_name);
	ms_buf_putc(&b, ',');
	js(&b, "email", m->email);
	ms_buf_putc(&b, ',');
	js(&b, "report_id", m->report_id);
	ms_buf_printf(&b, ",\"begin\":%lld,\"end\":%lld,\"policy\":{", (long long)m->begin,
		      (long long)m->end);
	js(&b, "domain", m->domain);
	ms_buf_putc(&b, ',');
	js(&b, "p", m->p);
	ms_buf_putc(&b, ',');
	js(&b, "sp", m->sp);
	if (m->np[0]) {
		ms_buf_putc(&b, ',');
		js(&b, "np", m->np);
	}
	ms_buf_putc(&b, ',');
	js(&b, "adkim", m->adkim);
	ms_buf_putc(&b, ',');
	js(&b, "aspf", m->aspf);
	ms_buf_printf(&b, ",\"pct\":%u},\"messages\":%llu,\"records\":[", m->pct,
		      (unsigned long long)ms_dmarcrep_report_messages(r));
	for (size_t i = 0; i < r->rows.n; i++) {
		const struct ms_dmarcrep_row *w = &r->rows.rows[i];
		ms_buf_printf(&b, "%s{", i ? "," : "");
		js(&b, "source_ip", w->source_ip);
		ms_buf_printf(&b, ",\"count\":%llu,", (unsigned long long)w->count);
		js(&b, "disposition", w->disposition);
		ms_buf_putc(&b, ',');
		js(&b, "dkim", w->dkim_eval);
		ms_buf_putc(&b, ',');
		js(&b, "spf", w->spf_eval);
		if (w->reason[0]) {
			ms_buf_putc(&b, ',');
			js(&b, "reason", w->reason);
		}
		ms_buf_putc(&b, ',');
		js(&b, "header_from", w->header_from);
		ms_buf_putc(&b, ',');
		js(&b, "envelope_from", w->envelope_from);
		ms_buf_printf(&b, ",\"auth_results\":{\"dkim\":[");
		for (size_t k = 0; k < w->ndkim; k++) {
			ms_buf_printf(&b, "%s{", k ? "," : "");
			js(&b, "domain", w->dkim[k].domain);
			ms_buf_putc(&b, ',');
			js(&b, "selector", w->dkim[k].selector);
			ms_buf_putc(&b, ',');
			js(&b, "result", w->dkim[k].result);
			ms_buf_putc(&b, '}');
		}
		ms_buf_printf(&b, "],\"spf\":{");
		js(&b, "domain", w->spf_domain);
		ms_buf_putc(&b, ',');
		js(&b, "scope", w->spf_scope);
		ms_buf_putc(&b, ',');
		js(&b, "result", w->spf_result);
		ms_buf_printf(&b, "}}}");
	}
	ms_status st = ms_buf_printf(&b, "]}");
	/* a failed append anywhere leaves the buffer short: check the end */
	if (st != MS_OK || b.len < 2 || memcmp(b.data + b.len - 2, "]}", 2) != 0) {
		ms_buf_free(&b);
		return ms_why(why, whylen, MS_ERR_NOMEM, "JSON view: out of memory");
	}
	*out = ms_buf_steal(&b);
	return *out ? MS_OK : ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
}

ms_status ms_dmarcrep_report_text(const struct ms_dmarcrep_report *r, char **out, char *why,
				  size_t whylen)
{
	if (r == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_buf b;
	ms_buf_init(&b, NULL, (size_t)r->rows.n * 4096 + 65536);
	const struct ms_dmarcrep_meta *m = &r->meta;
	ms_status st = ms_buf_printf(&b, "org:      %s <%s>\nreport:   %s\nperiod:   %lld .. %lld\n"
		      "policy:   %s p=%s sp=%s adkim=%s aspf=%s pct=%u\nmessages: %llu\n",
		      m->org_name, m->email, m->report_id, (long long)m->begin, (long long)m->end,
		      m->domain, m->p, m->sp, m->adkim, m->aspf, m->pct,
		      (unsigned long long)ms_dmarcrep_report_messages(r));
	for (size_t i = 0; st == MS_OK && i < r->rows.n; i++) {
		const struct ms_dmarcrep_row *w = &r->rows.rows[i];
		st = ms_buf_printf(&b, "  %-39s count=%llu disposition=%s dkim=%s spf=%s%s%s from=%s\n",
			      w->source_ip, (unsigned long long)w->count, w->disposition,
			      w->dkim_eval, w->spf_eval, w->reason[0] ? " reason=" : "", w->reason,
			      w->header_from);
	}
	if (st != MS_OK) {
		ms_buf_free(&b);
		return ms_why(why, whylen, MS_ERR_NOMEM, "text view: out of memory");
	}
	*out = ms_buf_steal(&b);
	return *out ? MS_OK : ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
}
