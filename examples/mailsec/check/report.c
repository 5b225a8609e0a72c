/*
 * report.c - collecting findings, scoring them per area and printing the
 * report: aligned human text (colour only on a terminal) or one JSON object.
 */
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const areas[] = { "mx", "dnssec", "dane", "mta-sts", "tls",
				     "tlsrpt", "spf", "dmarc", "dkim" };
#define NAREAS (sizeof(areas) / sizeof(areas[0]))

__thread int check_current_order;

void check_add(struct check *c, const char *area, const char *item,
	       enum check_status st, const char *fix, const char *fmt, ...)
{
	struct finding *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return;
	snprintf(f->area, sizeof(f->area), "%s", area);
	snprintf(f->item, sizeof(f->item), "%s", item);
	f->status = st;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&f->message, fmt, ap) < 0)
		f->message = NULL;
	va_end(ap);
	f->fix = fix ? strdup(fix) : NULL;
	static unsigned seq;
	f->order = check_current_order;
	pthread_mutex_lock(&c->lock);
	f->seq = seq++;
	*c->tail = f;
	c->tail = &f->next;
	pthread_mutex_unlock(&c->lock);
}

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
static int area_score(const struct check *c, const char *area, enum check_status *worst)
{
	int score = 100, any = 0;
	*worst = CHECK_PASS;
	for (const struct finding *f = c->findings; f; f = f->next) {
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

static enum check_status overall(const struct check *c, int *fails, int *warns)
{
	enum check_status v = CHECK_PASS;
	*fails = *warns = 0;
	for (const struct finding *f = c->findings; f; f = f->next) {
		if (f->status == CHECK_FAIL)
			(*fails)++;
		if (f->status == CHECK_WARN)
			(*warns)++;
		if (f->status != CHECK_INFO && f->status > v)
			v = f->status;
	}
	return v;
}

static void print_human(const struct check *c)
{
	int colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	const char *on[] = { "\033[32m", "\033[36m", "\033[33m", "\033[31m" };
	const char *bold = colour ? "\033[1m" : "", *off = colour ? "\033[0m" : "";

	printf("%smailsec check %s%s\n", bold, c->domain, off);
	for (size_t a = 0; a < NAREAS; a++) {
		int header = 0;
		for (const struct finding *f = c->findings; f; f = f->next) {
			if (strcmp(f->area, areas[a]) != 0)
				continue;
			if (!header) {
				printf("\n%s%s%s\n", bold, areas[a], off);
				header = 1;
			}
			printf("  %s[%s]%s %-28s %s\n", colour ? on[f->status] : "",
			       status_word(f->status), colour ? off : "", f->item,
			       f->message ? f->message : "");
		}
	}
	printf("\n%ssummary%s\n", bold, off);
	for (size_t a = 0; a < NAREAS; a++) {
		enum check_status worst;
		int s = area_score(c, areas[a], &worst);
		if (s >= 0)
			printf("  %-8s %3d  %s%s%s\n", areas[a], s, colour ? on[worst] : "",
			       status_word(worst), colour ? off : "");
	}
	int fails, warns;
	enum check_status v = overall(c, &fails, &warns);
	printf("  overall: %s%s%s (%d failing, %d warnings)\n", colour ? on[v] : "",
	       status_word(v), colour ? off : "", fails, warns);
	int header = 0;
	for (const struct finding *f = c->findings; f; f = f->next) {
		if (f->fix == NULL || (f->status != CHECK_FAIL && f->status != CHECK_WARN))
			continue;
		if (!header) {
			printf("\n%sfixes%s\n", bold, off);
			header = 1;
		}
		printf("  - %s %s: %s\n", f->area, f->item, f->fix);
	}
}

static void json_mx(struct json *j, const struct mx_host *m)
{
	json_object_begin(j, NULL);
	json_string(j, "host", m->name);
	json_int(j, "preference", m->preference);
	json_array_begin(j, "addresses");
	for (size_t i = 0; i < m->naddrs; i++)
		json_string(j, NULL, m->addrs[i]);
	json_array_end(j);
	json_string(j, "address_security", ms_dns_security_str(m->addr_security));
	json_object_begin(j, "dane");
	json_string(j, "state", ms_dane_dns_state_str(m->dane_state));
	json_string(j, "reason", m->dane_reason);
	json_array_begin(j, "tlsa");
	for (size_t i = 0; i < m->ntlsa; i++)
		json_string(j, NULL, m->tlsa[i]);
	json_array_end(j);
	json_int(j, "usable", (long long)m->usable_tlsa);
	if (m->probed && m->starttls == 1 && m->dane_state == MS_DANE_DNS_SECURE) {
		json_string(j, "verdict", ms_dane_verdict_str(m->dane_verdict));
		json_int(j, "depth", m->dane_depth);
		json_string(j, "matched", m->dane_matched[0] ? m->dane_matched : NULL);
	} else {
		json_null(j, "verdict");
	}
	json_object_end(j);
	json_bool(j, "probed", m->probed);
	if (m->starttls < 0)
		json_null(j, "starttls");
	else
		json_bool(j, "starttls", m->starttls);
	json_bool(j, "requiretls", m->requiretls);
	json_string(j, "tls", m->tls[0] ? m->tls : NULL);
	json_string(j, "probe_error", m->probe_error[0] ? m->probe_error : NULL);
	if (m->probed && m->starttls == 1)
		json_bool(j, "pkix_valid", m->pkix_ok);
	else
		json_null(j, "pkix_valid");
	json_object_end(j);
}

static void print_json(const struct check *c)
{
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "domain", c->domain);
	int fails, warns;
	json_string(&j, "verdict", status_word(overall(c, &fails, &warns)));
	json_int(&j, "failures", fails);
	json_int(&j, "warnings", warns);
	json_object_begin(&j, "scores");
	for (size_t a = 0; a < NAREAS; a++) {
		enum check_status worst;
		int s = area_score(c, areas[a], &worst);
		if (s >= 0)
			json_int(&j, areas[a], s);
	}
	json_object_end(&j);
	json_string(&j, "mx_security", ms_dns_security_str(c->mx_security));
	json_bool(&j, "null_mx", c->null_mx);
	json_array_begin(&j, "mx");
	for (size_t i = 0; i < c->nmx; i++)
		json_mx(&j, &c->mx[i]);
	json_array_end(&j);
	json_object_begin(&j, "mta_sts");
	json_bool(&j, "policy", c->sts_policy);
	json_string(&j, "mode", c->sts_policy ? c->sts_mode : NULL);
	json_string(&j, "id", c->sts_policy ? c->sts_id : NULL);
	json_object_end(&j);
	json_array_begin(&j, "findings");
	for (const struct finding *f = c->findings; f; f = f->next) {
		json_object_begin(&j, NULL);
		json_string(&j, "area", f->area);
		json_string(&j, "item", f->item);
		json_string(&j, "status", status_word(f->status));
		json_string(&j, "message", f->message);
		json_string(&j, "fix", f->fix);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

static int by_order(const void *a, const void *b)
{
	const struct finding *x = *(const struct finding *const *)a;
	const struct finding *y = *(const struct finding *const *)b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Deterministic output: findings in (MX order, insertion order). */
static void sort_findings(struct check *c)
{
	size_t n = 0;
	for (struct finding *f = c->findings; f; f = f->next)
		n++;
	if (n < 2)
		return;
	struct finding **v = malloc(n * sizeof(*v));
	if (v == NULL)
		return;
	n = 0;
	for (struct finding *f = c->findings; f; f = f->next)
		v[n++] = f;
	qsort(v, n, sizeof(*v), by_order);
	for (size_t i = 0; i + 1 < n; i++)
		v[i]->next = v[i + 1];
	v[n - 1]->next = NULL;
	c->findings = v[0];
	c->tail = &v[n - 1]->next;
	free(v);
}

void check_report(struct check *c)
{
	sort_findings(c);
	if (c->cli->json)
		print_json(c);
	else
		print_human(c);
}

void check_free(struct check *c)
{
	while (c->findings) {
		struct finding *f = c->findings;
		c->findings = f->next;
		free(f->message);
		free(f->fix);
		free(f);
	}
	free(c->sts_mx);
	ms_rtls_route_free(c->route);
	ms_dns_ctx_free(c->dns);
	pthread_mutex_destroy(&c->lock);
}
