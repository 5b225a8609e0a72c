/*
 * tlsrpt_report.c - the report of one UTC day and policy domain from the
 * store (RFC 8460 s4): rows grouped into policies by (policy-type,
 * policy-string, mx-host), each with its summary and its failure-details
 * grouped by (result-type, receiving MX host, receiving IP, reason); then
 * the JSON (tlsrpt_json.c), its gzip, the s5.1 file name and the
 * Report-ID.
 */
#include "tlsrpt_internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct build {
	json_t *policies;      /* the "policies" array */
	json_t *cur;           /* the current policy object */
	json_t *cur_details;
	char *cur_key;         /* type \1 strings \1 mx of the current policy */
	uint64_t ok, failed, sessions;
	size_t npolicies;
	json_t *tlsa_hosts;    /* tlsa: the hosts the records were seen for */
	ms_status st;
	char err[200];
};

static json_t *lines(const char *joined)
{
	json_t *a = json_array();
	const char *p = joined;
	while (a && *p) {
		size_t n = strcspn(p, "\n");
		json_array_append_new(a, json_stringn(p, n));
		p += n;
		if (*p == '\n')
			p++;
	}
	return a;
}

static void close_policy(struct build *b)
{
	if (b->cur == NULL)
		return;
	json_t *sum = json_pack("{s:I,s:I}", "total-successful-session-count", (json_int_t)b->ok,
				"total-failure-session-count", (json_int_t)b->failed);
	json_object_set_new(b->cur, "summary", sum);
	if (json_array_size(b->cur_details) > 0)
		json_object_set(b->cur, "failure-details", b->cur_details);
	json_decref(b->cur_details);
	json_t *pol = json_object_get(b->cur, "policy");
	if (b->tlsa_hosts) {
		if (json_array_size(b->tlsa_hosts) > 0)
			json_object_set(pol, "mx-host", b->tlsa_hosts);
		json_decref(b->tlsa_hosts);
		b->tlsa_hosts = NULL;
	}
	json_array_append_new(b->policies, b->cur);
	b->cur = NULL;
	b->cur_details = NULL;
	free(b->cur_key);
	b->cur_key = NULL;
}

static int has_string(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/* Rows arrive ordered by type, strings, mx, host, addr, result, reason. */
static int on_row(void *arg, const struct ms_tlsrpt_row *r)
{
	struct build *b = arg;
	size_t kl = strlen(r->policy_strings) + strlen(r->mx_patterns) + 8;
	char *key = malloc(kl);
	if (key == NULL) {
		b->st = MS_ERR_NOMEM;
		return 1;
	}
	snprintf(key, kl, "%d\1%s\1%s", (int)r->policy_type, r->policy_strings, r->mx_patterns);
	if (b->cur_key == NULL || strcmp(key, b->cur_key) != 0) {
		close_policy(b);
		if (++b->npolicies > MS_TLSRPT_MAX_POLICIES) {
			free(key);
			b->st = MS_ERR_LIMIT;
			snprintf(b->err, sizeof(b->err), "more than %d policies", MS_TLSRPT_MAX_POLICIES);
			return 1;
		}
		json_t *pol = json_pack("{s:s,s:o,s:s}", "policy-type",
					ms_tlsrpt_policy_type_name(r->policy_type), "policy-string",
					lines(r->policy_strings), "policy-domain", r->policy_domain);
		if (r->policy_type == MS_TLSRPT_POLICY_STS && r->mx_patterns[0])
			json_object_set_new(pol, "mx-host", lines(r->mx_patterns));
		if (r->policy_type == MS_TLSRPT_POLICY_TLSA)
			b->tlsa_hosts = json_array();
		b->cur = json_pack("{s:o}", "policy", pol);
		b->cur_details = json_array();
		b->cur_key = key;
		b->ok = b->failed = 0;
	} else {
		free(key);
	}
	if (b->tlsa_hosts && !has_string(b->tlsa_hosts, r->mx_host))
		json_array_append_new(b->tlsa_hosts, json_string(r->mx_host));
	b->sessions += r->count;
	if (r->result == MS_TLSRPT_SUCCESS) {
		b->ok += r->count;
		return 0;
	}
	b->failed += r->count;
	if (json_array_size(b->cur_details) >= MS_TLSRPT_MAX_DETAILS) {
		b->st = MS_ERR_LIMIT;
		snprintf(b->err, sizeof(b->err), "more than %d failure details in a policy",
			 MS_TLSRPT_MAX_DETAILS);
		return 1;
	}
	json_t *d = json_pack("{s:s,s:s,s:I}", "result-type", ms_tlsrpt_result_name(r->result),
			      "receiving-mx-hostname", r->mx_host, "failed-session-count",
			      (json_int_t)r->count);
	if (r->addr[0])
		json_object_set_new(d, "receiving-ip", json_string(r->addr));
	if (r->reason[0])
		json_object_set_new(d, "failure-reason-code", json_string(r->reason));
	json_array_append_new(b->cur_details, d);
	return 0;
}

void ms_tlsrpt_report_free(struct ms_tlsrpt_report *r)
{
	if (r == NULL)
		return;
	free(r->json);
	free(r->gz);
	free(r->filename);
	free(r->report_id);
	free(r->policy_domain);
	free(r->submitter);
	free(r);
}

ms_status ms_tlsrpt_report_build(const struct ms_env *env, struct ms_tlsrpt_store *store,
				 const struct ms_tlsrpt_report_opts *o,
				 struct ms_tlsrpt_report **out, char *why, size_t whylen)
{
	(void)env;
	if (out)
		*out = NULL;
	if (store == NULL || o == NULL || out == NULL || o->version != MS_TLSRPT_REPORT_OPTS_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument or unknown options version");
	if (o->org_name == NULL || !o->org_name[0] || o->contact == NULL || !o->contact[0])
		return ms_why(why, whylen, MS_ERR_INVALID, "organization-name and contact-info are required");
	if (!tlsrpt_hostname_ok(o->submitter) || !tlsrpt_hostname_ok(o->policy_domain))
		return ms_why(why, whylen, MS_ERR_INVALID, "submitter and policy domain must be host names");
	int64_t begin = tlsrpt_day_start(o->day);
	if (begin < 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "day '%.20s' is not YYYY-MM-DD",
			      o->day ? o->day : "(null)");
	int64_t end = begin + 86399; /* the day's last second, as RFC 8460's examples */
	char domain[254];
	size_t dl = strlen(o->policy_domain);
	for (size_t i = 0; i <= dl; i++)
		domain[i] = (char)ms_ascii_lower((unsigned char)o->policy_domain[i]);

	struct build b = { .policies = json_array(), .st = MS_OK };
	ms_status st = ms_tlsrpt_store_get(store, o->day, domain, on_row, &b, why, whylen);
	if (st == MS_OK && b.st != MS_OK)
		st = ms_why(why, whylen, b.st, "%s", b.err[0] ? b.err : "out of memory");
	if (st == MS_OK)
		close_policy(&b);
	else {
		json_decref(b.cur);
		json_decref(b.cur_details);
		json_decref(b.tlsa_hosts);
		free(b.cur_key);
	}
	if (st != MS_OK) {
		json_decref(b.policies);
		return st;
	}
	struct ms_tlsrpt_report *r = calloc(1, sizeof(*r));
	char start_s[21], end_s[21], id[400], fname[600];
	tlsrpt_rfc3339(begin, start_s);
	tlsrpt_rfc3339(end, end_s);
	/* Report-ID: unique per day, domain and submitter, a valid msg-id
	 * (dot-atom "@" domain) for the mail's Report-ID (s5.3). */
	snprintf(id, sizeof(id), "%.4s%.2s%.2s.%s@%s", o->day, o->day + 5, o->day + 8, domain,
		 o->submitter);
	json_t *root = json_pack("{s:s,s:{s:s,s:s},s:s,s:s,s:o}", "organization-name", o->org_name,
				 "date-range", "start-datetime", start_s, "end-datetime", end_s,
				 "contact-info", o->contact, "report-id", id, "policies", b.policies);
	if (r == NULL || root == NULL) {
		json_decref(root);
		free(r);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	r->json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	r->begin = begin;
	r->end = end;
	r->sessions = b.sessions;
	r->report_id = strdup(id);
	r->policy_domain = strdup(domain);
	r->submitter = strdup(o->submitter);
	if (r->json == NULL || r->report_id == NULL || r->policy_domain == NULL ||
	    r->submitter == NULL) {
		ms_tlsrpt_report_free(r);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	r->json_len = strlen(r->json);
	if (r->json_len > MS_TLSRPT_MAX_REPORT) {
		ms_tlsrpt_report_free(r);
		return ms_why(why, whylen, MS_ERR_LIMIT, "report over %u bytes", MS_TLSRPT_MAX_REPORT);
	}
	st = ms_tlsrpt_gzip((const uint8_t *)r->json, r->json_len, &r->gz, &r->gz_len, why, whylen);
	if (st == MS_OK)
		st = ms_tlsrpt_filename(o->submitter, domain, begin, end, NULL, 1, fname, sizeof(fname));
	if (st == MS_OK && (r->filename = strdup(fname)) == NULL)
		st = MS_ERR_NOMEM;
	if (st != MS_OK) {
		ms_tlsrpt_report_free(r);
		return ms_why(why, whylen, st, "report packaging failed");
	}
	*out = r;
	return MS_OK;
}
