/*
 * render.c - the report as text (sections, per-area scores, fixes; colour
 * on request) or as one JSON object (keys: docs/cli.md).
 */
#include "check_int.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include <mailsec/dane.h>

static const char *const areas[] = { "mx", "dnssec", "ns", "ipv6", "dane", "mta-sts", "tls",
				     "caa", "tlsrpt", "spf", "dmarc", "dkim", "rpki" };
#define NAREAS (sizeof(areas) / sizeof(areas[0]))

static const char *status_word(enum check_status s)
{
	switch (s) {
	case CHECK_PASS: return "pass";
	case CHECK_INFO: return "info";
	case CHECK_WARN: return "warn";
	case CHECK_FAIL: return "fail";
	}
	return "?";
}

/* Area score: 100, minus 50 per failure and 15 per warning, at least 0;
 * -1 when the area had no finding at all. */
static int area_score(const struct ms_check_report *c, const char *area, enum check_status *worst)
{
	int score = 100, any = 0;
	*worst = CHECK_PASS;
	for (const struct ms_check_finding *f = c->findings; f; f = f->next) {
		if (strcmp(f->area, area) != 0)
			continue;
		any = 1;
		if (f->status == CHECK_FAIL)
			score -= 50;
		else if (f->status == CHECK_WARN)
			score -= 15;
		if (f->status > *worst && f->status != CHECK_INFO)
			*worst = f->status;
	}
	if (!any)
		return -1;
	return score < 0 ? 0 : score;
}

static enum check_status overall(const struct ms_check_report *c, int *fails, int *warns)
{
	enum check_status v = CHECK_PASS;
	*fails = *warns = 0;
	for (const struct ms_check_finding *f = c->findings; f; f = f->next) {
		if (f->status == CHECK_FAIL)
			(*fails)++;
		if (f->status == CHECK_WARN)
			(*warns)++;
		if (f->status != CHECK_INFO && f->status > v)
			v = f->status;
	}
	return v;
}

void check_render_text(const struct ms_check_report *c, FILE *out, int colour)
{
	const char *on[] = { "\033[32m", "\033[36m", "\033[33m", "\033[31m" };
	const char *bold = colour ? "\033[1m" : "", *off = colour ? "\033[0m" : "";

	fprintf(out, "%smailsec check %s%s\n", bold, c->domain, off);
	for (size_t a = 0; a < NAREAS; a++) {
		int header = 0;
		for (const struct ms_check_finding *f = c->findings; f; f = f->next) {
			if (strcmp(f->area, areas[a]) != 0)
				continue;
			if (!header) {
				fprintf(out, "\n%s%s%s\n", bold, areas[a], off);
				header = 1;
			}
			/* the key names the check (internet.nl subtest) */
			fprintf(out, "  %s[%s]%s %-28s %-22s %s\n", colour ? on[f->status] : "",
			       status_word(f->status), colour ? off : "", f->item, f->key,
			       f->message ? f->message : "");
		}
	}
	fprintf(out, "\n%ssummary%s\n", bold, off);
	for (size_t a = 0; a < NAREAS; a++) {
		enum check_status worst;
		int s = area_score(c, areas[a], &worst);
		if (s >= 0)
			fprintf(out, "  %-8s %3d  %s%s%s\n", areas[a], s, colour ? on[worst] : "",
			       status_word(worst), colour ? off : "");
	}
	int fails, warns;
	enum check_status v = overall(c, &fails, &warns);
	fprintf(out, "  overall: %s%s%s (%d failing, %d warnings)\n", colour ? on[v] : "",
	       status_word(v), colour ? off : "", fails, warns);
	int header = 0;
	for (const struct ms_check_finding *f = c->findings; f; f = f->next) {
		if (f->fix == NULL || (f->status != CHECK_FAIL && f->status != CHECK_WARN))
			continue;
		if (!header) {
			fprintf(out, "\n%sfixes%s\n", bold, off);
			header = 1;
		}
		fprintf(out, "  - %s %s: %s\n", f->area, f->item, f->fix);
	}
}

static void cj_mx(struct cj *j, const struct mx_host *m)
{
	cj_object_begin(j, NULL);
	cj_string(j, "host", m->name);
	cj_int(j, "preference", m->preference);
	cj_array_begin(j, "addresses");
	for (size_t i = 0; i < m->naddrs; i++)
		cj_string(j, NULL, m->addrs[i]);
	cj_array_end(j);
	cj_string(j, "address_security", ms_dns_security_str(m->addr_security));
	cj_object_begin(j, "dane");
	cj_string(j, "state", ms_dane_dns_state_str(m->dane_state));
	cj_string(j, "reason", m->dane_reason);
	cj_array_begin(j, "tlsa");
	for (size_t i = 0; i < m->ntlsa; i++)
		cj_string(j, NULL, m->tlsa[i]);
	cj_array_end(j);
	cj_int(j, "usable", (long long)m->usable_tlsa);
	if (m->probed && m->starttls == 1 && m->dane_state == MS_DANE_DNS_SECURE) {
		cj_string(j, "verdict", ms_dane_verdict_str(m->dane_verdict));
		cj_int(j, "depth", m->dane_depth);
		cj_string(j, "matched", m->dane_matched[0] ? m->dane_matched : NULL);
	} else {
		cj_null(j, "verdict");
	}
	cj_object_end(j);
	cj_bool(j, "probed", m->probed);
	if (m->starttls < 0)
		cj_null(j, "starttls");
	else
		cj_bool(j, "starttls", m->starttls);
	cj_bool(j, "requiretls", m->requiretls);
	cj_string(j, "tls", m->tls[0] ? m->tls : NULL);
	cj_string(j, "probe_error", m->probe_error[0] ? m->probe_error : NULL);
	if (m->probed && m->starttls == 1)
		cj_bool(j, "pkix_valid", m->pkix_ok);
	else
		cj_null(j, "pkix_valid");
	cj_object_end(j);
}

void check_render_json(const struct ms_check_report *c, FILE *out)
{
	struct cj j;
	cj_init(&j, out);
	cj_object_begin(&j, NULL);
	cj_string(&j, "domain", c->domain);
	int fails, warns;
	cj_string(&j, "verdict", status_word(overall(c, &fails, &warns)));
	cj_int(&j, "failures", fails);
	cj_int(&j, "warnings", warns);
	cj_object_begin(&j, "scores");
	for (size_t a = 0; a < NAREAS; a++) {
		enum check_status worst;
		int s = area_score(c, areas[a], &worst);
		if (s >= 0)
			cj_int(&j, areas[a], s);
	}
	cj_object_end(&j);
	cj_string(&j, "mx_security", ms_dns_security_str(c->mx_security));
	cj_bool(&j, "null_mx", c->null_mx);
	cj_array_begin(&j, "mx");
	for (size_t i = 0; i < c->nmx; i++)
		cj_mx(&j, &c->mx[i]);
	cj_array_end(&j);
	cj_object_begin(&j, "mta_sts");
	cj_bool(&j, "policy", c->sts_policy);
	cj_string(&j, "mode", c->sts_policy ? c->sts_mode : NULL);
	cj_string(&j, "id", c->sts_policy ? c->sts_id : NULL);
	cj_object_end(&j);
	cj_array_begin(&j, "findings");
	for (const struct ms_check_finding *f = c->findings; f; f = f->next) {
		cj_object_begin(&j, NULL);
		cj_string(&j, "key", f->key);
		cj_string(&j, "area", f->area);
		cj_string(&j, "item", f->item);
		cj_string(&j, "status", status_word(f->status));
		cj_string(&j, "message", f->message);
		cj_string(&j, "fix", f->fix);
		cj_object_end(&j);
	}
	cj_array_end(&j);
	cj_object_end(&j);
	cj_finish(&j);
}


ms_status ms_check_report_render(const struct ms_check_report *r, enum ms_check_format fmt,
				 char **out, size_t *len)
{
	if (r == NULL || out == NULL || (fmt != MS_CHECK_TEXT && fmt != MS_CHECK_TEXT_COLOUR &&
					 fmt != MS_CHECK_JSON))
		return MS_ERR_INVALID;
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (f == NULL)
		return MS_ERR_NOMEM;
	if (fmt == MS_CHECK_JSON)
		check_render_json(r, f);
	else
		check_render_text(r, f, fmt == MS_CHECK_TEXT_COLOUR);
	int bad = ferror(f);
	if (fclose(f) != 0 || bad || buf == NULL) {
		free(buf);
		return MS_ERR_NOMEM;
	}
	*out = buf;
	if (len)
		*len = n;
	return MS_OK;
}
