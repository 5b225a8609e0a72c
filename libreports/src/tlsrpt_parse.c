/*
 * tlsrpt_parse.c - a received TLSRPT report (RFC 8460 s4) into structures:
 * the whole mail (s5.3), its gzip (s5.1) or the JSON, every size bounded;
 * JSON through jansson (Debian libjansson), duplicate keys refused.  And
 * the two views `mailsec tlsrpt parse` prints.
 */
#include "tlsrpt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

struct perr {
	char *why;
	size_t whylen;
};

static ms_status bad(struct perr *e, const char *field, const char *what)
{
	return ms_why(e->why, e->whylen, MS_ERR_PARSE, "%s: %s", field, what);
}

static ms_status get_str(json_t *o, const char *key, int required, char *buf, size_t buflen,
			 struct perr *e)
{
	json_t *v = json_object_get(o, key);
	buf[0] = '\0';
	if (v == NULL)
		return required ? bad(e, key, "missing") : MS_OK;
	if (!json_is_string(v))
		return bad(e, key, "not a string");
	if (json_string_length(v) >= buflen)
		return ms_why(e->why, e->whylen, MS_ERR_LIMIT, "%s: longer than %zu bytes", key,
			      buflen - 1);
	if (memchr(json_string_value(v), '\0', json_string_length(v)))
		return bad(e, key, "contains a NUL");
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return MS_OK;
}

static ms_status get_count(json_t *o, const char *key, uint64_t *out, struct perr *e)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL)
		return bad(e, key, "missing");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(e, key, "not a non-negative integer");
	*out = (uint64_t)json_integer_value(v);
	return MS_OK;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm). */
static int rfc3339(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%*[Tt]%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 ||
	    n != 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
		return 0;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = atoi(p + 1), om = atoi(p + 4);
		if (oh > 23 || om > 59)
			return 0;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return 0;
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return 0;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
			 .tm_min = m, .tm_sec = sec };
	*out = (int64_t)timegm(&tm) - off;
	return 1;
}

static ms_status str_array(json_t *o, const char *key, char ***out, size_t *n, struct perr *e)
{
	json_t *a = json_object_get(o, key);
	*out = NULL;
	*n = 0;
	if (a == NULL)
		return MS_OK;
	if (!json_is_array(a))
		return bad(e, key, "not an array");
	if (json_array_size(a) > MS_TLSRPT_MAX_STRINGS)
		return ms_why(e->why, e->whylen, MS_ERR_LIMIT, "%s: more than %d entries", key,
			      MS_TLSRPT_MAX_STRINGS);
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (*out == NULL)
		return ms_why(e->why, e->whylen, MS_ERR_NOMEM, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return bad(e, key, "an entry is not a string");
		if (json_string_length(v) >= MS_TLSRPT_MAX_STRING)
			return ms_why(e->why, e->whylen, MS_ERR_LIMIT, "%s: entry too long", key);
		if (((*out)[i] = strdup(json_string_value(v))) == NULL)
			return ms_why(e->why, e->whylen, MS_ERR_NOMEM, "out of memory");
		*n = i + 1;
	}
	return MS_OK;
}

static ms_status one_detail(json_t *d, struct ms_tlsrpt_detail *x, struct perr *e)
{
	if (!json_is_object(d))
		return bad(e, "failure-details", "an entry is not an object");
	ms_status st;
	if ((st = get_str(d, "result-type", 1, x->result_name, sizeof(x->result_name), e)) ||
	    (st = get_str(d, "sending-mta-ip", 0, x->sending_ip, sizeof(x->sending_ip), e)) ||
	    (st = get_str(d, "receiving-mx-hostname", 0, x->mx_host, sizeof(x->mx_host), e)) ||
	    (st = get_str(d, "receiving-mx-helo", 0, x->helo, sizeof(x->helo), e)) ||
	    (st = get_str(d, "receiving-ip", 0, x->receiving_ip, sizeof(x->receiving_ip), e)) ||
	    (st = get_str(d, "failure-reason-code", 0, x->reason, sizeof(x->reason), e)) ||
	    (st = get_count(d, "failed-session-count", &x->count, e)))
		return st;
	/* an unknown result type is kept by name (a newer sender), mapped to
	 * validation-failure, the s4.3.1 catch-all */
	if (ms_tlsrpt_result_from_name(x->result_name, &x->result) != MS_OK)
		x->result = MS_TLSRPT_VALIDATION_FAILURE;
	return MS_OK;
}

static ms_status one_policy(json_t *p, struct ms_tlsrpt_policy *x, struct perr *e)
{
	if (!json_is_object(p))
		return bad(e, "policies", "an entry is not an object");
	json_t *pol = json_object_get(p, "policy"), *sum = json_object_get(p, "summary");
	if (!json_is_object(pol))
		return bad(e, "policy", "missing or not an object");
	if (!json_is_object(sum))
		return bad(e, "summary", "missing or not an object");
	char type[40];
	ms_status st;
	if ((st = get_str(pol, "policy-type", 1, type, sizeof(type), e)) ||
	    (st = get_str(pol, "policy-domain", 1, x->domain, sizeof(x->domain), e)))
		return st;
	if (ms_tlsrpt_policy_type_from_name(type, &x->type) != MS_OK)
		return bad(e, "policy-type", "not tlsa, sts or no-policy-found");
	if ((st = str_array(pol, "policy-string", &x->strings, &x->nstrings, e)) ||
	    (st = str_array(pol, "mx-host", &x->mx, &x->nmx, e)) ||
	    (st = get_count(sum, "total-successful-session-count", &x->success, e)) ||
	    (st = get_count(sum, "total-failure-session-count", &x->failure, e)))
		return st;
	json_t *d = json_object_get(p, "failure-details");
	if (d == NULL)
		return MS_OK;
	if (!json_is_array(d))
		return bad(e, "failure-details", "not an array");
	if (json_array_size(d) > MS_TLSRPT_MAX_DETAILS)
		return ms_why(e->why, e->whylen, MS_ERR_LIMIT, "more than %d failure details",
			      MS_TLSRPT_MAX_DETAILS);
	x->details = calloc(json_array_size(d) + 1, sizeof(*x->details));
	if (x->details == NULL)
		return ms_why(e->why, e->whylen, MS_ERR_NOMEM, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(d, i, v) {
		if ((st = one_detail(v, &x->details[i], e)) != MS_OK)
			return st;
		x->ndetails = i + 1;
	}
	return MS_OK;
}

static ms_status from_json(const uint8_t *buf, size_t len, struct ms_tlsrpt_parsed *out,
			   struct perr *e)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return ms_why(e->why, e->whylen, MS_ERR_PARSE, "JSON: %s (line %d)", jerr.text,
			      jerr.line);
	ms_status st;
	json_t *dr = json_object_get(root, "date-range"), *pols = json_object_get(root, "policies");
	if (!json_is_object(root))
		st = bad(e, "report", "not a JSON object");
	else if ((st = get_str(root, "organization-name", 1, out->org_name, sizeof(out->org_name), e)) ||
		 (st = get_str(root, "contact-info", 1, out->contact, sizeof(out->contact), e)) ||
		 (st = get_str(root, "report-id", 1, out->report_id, sizeof(out->report_id), e)))
		;
	else if (!json_is_object(dr))
		st = bad(e, "date-range", "missing or not an object");
	else if ((st = get_str(dr, "start-datetime", 1, out->start, sizeof(out->start), e)) ||
		 (st = get_str(dr, "end-datetime", 1, out->end, sizeof(out->end), e)))
		;
	else if (!rfc3339(out->start, &out->start_time) || !rfc3339(out->end, &out->end_time))
		st = bad(e, "date-range", "not RFC 3339 date-times");
	else if (out->end_time < out->start_time)
		st = bad(e, "date-range", "ends before it starts");
	else if (!json_is_array(pols))
		st = bad(e, "policies", "missing or not an array");
	else if (json_array_size(pols) > MS_TLSRPT_MAX_POLICIES)
		st = ms_why(e->why, e->whylen, MS_ERR_LIMIT, "more than %d policies",
			    MS_TLSRPT_MAX_POLICIES);
	else if ((out->policies = calloc(json_array_size(pols) + 1, sizeof(*out->policies))) == NULL)
		st = ms_why(e->why, e->whylen, MS_ERR_NOMEM, "out of memory");
	else {
		size_t i;
		json_t *v;
		json_array_foreach(pols, i, v) {
			out->npolicies = i + 1;
			if ((st = one_policy(v, &out->policies[i], e)) != MS_OK)
				break;
		}
	}
	json_decref(root);
	return st;
}

void ms_tlsrpt_parsed_free(struct ms_tlsrpt_parsed *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; p->policies && i < p->npolicies; i++) {
		struct ms_tlsrpt_policy *x = &p->policies[i];
		for (size_t j = 0; x->strings && j < x->nstrings; j++)
			free(x->strings[j]);
		for (size_t j = 0; x->mx && j < x->nmx; j++)
			free(x->mx[j]);
		free(x->strings);
		free(x->mx);
		free(x->details);
	}
	free(p->policies);
	free(p);
}

ms_status ms_tlsrpt_parse(const struct ms_env *env, const uint8_t *buf, size_t len,
			  struct ms_tlsrpt_parsed **out, char *why, size_t whylen)
{
	(void)env;
	if (out)
		*out = NULL;
	if (buf == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	if (len > MS_TLSRPT_MAX_MAIL)
		return ms_why(why, whylen, MS_ERR_LIMIT, "input over %u bytes", MS_TLSRPT_MAX_MAIL);
	uint8_t *owned = NULL, *json_buf = NULL;
	size_t olen = 0, jlen = 0;
	ms_status st = MS_OK;
	const uint8_t *p = buf;
	size_t n = len;
	size_t ws = 0;
	while (ws < n && (p[ws] == ' ' || p[ws] == '\t' || p[ws] == '\r' || p[ws] == '\n'))
		ws++;
	int gz = n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
	if (!gz && !(ws < n && p[ws] == '{')) {
		/* neither gzip nor JSON: the report mail */
		st = tlsrpt_mime_extract(buf, len, &owned, &olen, &gz, why, whylen);
		if (st != MS_OK)
			return st;
		p = owned;
		n = olen;
	}
	if (gz) {
		st = ms_tlsrpt_gunzip(p, n, MS_TLSRPT_MAX_REPORT, &json_buf, &jlen, why, whylen);
		free(owned);
		owned = NULL;
		if (st != MS_OK)
			return st;
		p = json_buf;
		n = jlen;
	} else if (n > MS_TLSRPT_MAX_REPORT) {
		free(owned);
		return ms_why(why, whylen, MS_ERR_LIMIT, "report over %u bytes", MS_TLSRPT_MAX_REPORT);
	}
	struct ms_tlsrpt_parsed *r = calloc(1, sizeof(*r));
	struct perr e = { why, whylen };
	if (r == NULL)
		st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	else
		st = from_json(p, n, r, &e);
	free(owned);
	free(json_buf);
	if (st != MS_OK) {
		ms_tlsrpt_parsed_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

/* ---- views --------------------------------------------------------------- */

static char *view_json(const struct ms_tlsrpt_parsed *p)
{
	json_t *pols = json_array();
	for (size_t i = 0; i < p->npolicies; i++) {
		const struct ms_tlsrpt_policy *x = &p->policies[i];
		json_t *f = json_array();
		for (size_t j = 0; j < x->ndetails; j++) {
			const struct ms_tlsrpt_detail *d = &x->details[j];
			json_array_append_new(
				f, json_pack("{s:s,s:s,s:s,s:I,s:s}", "result-type", d->result_name,
					     "receiving-mx-hostname", d->mx_host, "receiving-ip",
					     d->receiving_ip, "count", (json_int_t)d->count, "reason",
					     d->reason));
		}
		json_array_append_new(
			pols, json_pack("{s:s,s:s,s:I,s:I,s:o}", "policy-type",
					ms_tlsrpt_policy_type_name(x->type), "policy-domain", x->domain,
					"successful", (json_int_t)x->success, "failed",
					(json_int_t)x->failure, "failures", f));
	}
	json_t *root = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "organization-name", p->org_name,
				 "contact-info", p->contact, "report-id", p->report_id, "start",
				 p->start, "end", p->end, "policies", pols);
	char *s = root ? json_dumps(root, JSON_PRESERVE_ORDER | JSON_INDENT(2)) : NULL;
	json_decref(root);
	return s;
}

static char *view_table(const struct ms_tlsrpt_parsed *p)
{
	struct ms_buf b;
	ms_buf_init(&b, NULL, 64u << 20);
	ms_status st = ms_buf_printf(&b, "organization: %s\nreport-id:    %s\nperiod:       %s .. %s\n",
				     p->org_name, p->report_id, p->start, p->end);
	for (size_t i = 0; st == MS_OK && i < p->npolicies; i++) {
		const struct ms_tlsrpt_policy *x = &p->policies[i];
		st = ms_buf_printf(&b, "policy %-15s %-30s ok %-8llu failed %llu\n",
				   ms_tlsrpt_policy_type_name(x->type), x->domain,
				   (unsigned long long)x->success, (unsigned long long)x->failure);
		for (size_t j = 0; st == MS_OK && j < x->ndetails; j++) {
			const struct ms_tlsrpt_detail *d = &x->details[j];
			st = ms_buf_printf(&b, "  %-26s %-24s %-15s %6llu  %s\n", d->result_name,
					   d->mx_host, d->receiving_ip, (unsigned long long)d->count,
					   d->reason);
		}
	}
	if (st != MS_OK) {
		ms_buf_free(&b);
		return NULL;
	}
	return ms_buf_steal(&b);
}

ms_status ms_tlsrpt_parsed_view(const struct ms_tlsrpt_parsed *p, int json, char **out)
{
	if (out)
		*out = NULL;
	if (p == NULL || out == NULL)
		return MS_ERR_INVALID;
	*out = json ? view_json(p) : view_table(p);
	return *out ? MS_OK : MS_ERR_NOMEM;
}
