/*
 * report.c - collecting findings (thread-safe), putting them in report
 * order, the report's getters and its verdict.
 */
#include "check_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

__thread int check_current_order;

void check_add(struct ms_check_report *c, const char *key, const char *area, const char *item,
	       enum check_status st, const char *fix, const char *fmt, ...)
{
	struct ms_check_finding *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return;
	snprintf(f->key, sizeof(f->key), "%s", key);
	snprintf(f->area, sizeof(f->area), "%s", area);
	snprintf(f->item, sizeof(f->item), "%s", item);
	f->status = st;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&f->message, fmt, ap) < 0)
		f->message = NULL;
	va_end(ap);
	f->fix = fix ? strdup(fix) : NULL;
	f->order = check_current_order;
	pthread_mutex_lock(&c->lock);
	f->seq = c->seq++;
	*c->tail = f;
	c->tail = &f->next;
	pthread_mutex_unlock(&c->lock);
}

void check_progress(struct ms_check_report *c, const char *fmt, ...)
{
	if (c->progress == NULL)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->lock);
	c->progress(c->progress_user, line);
	pthread_mutex_unlock(&c->lock);
}

static int by_order(const void *a, const void *b)
{
	const struct ms_check_finding *x = *(const struct ms_check_finding *const *)a;
	const struct ms_check_finding *y = *(const struct ms_check_finding *const *)b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Deterministic output: findings in (MX order, insertion order), indexed
 * for the getters.  Without memory for the index the list stays in
 * insertion order and the getters see nothing (check_finish's caller
 * reports MS_ERR_NOMEM). */
void check_finish(struct ms_check_report *c)
{
	size_t n = 0;
	for (struct ms_check_finding *f = c->findings; f; f = f->next)
		n++;
	if (n == 0)
		return;
	struct ms_check_finding **v = malloc(n * sizeof(*v));
	if (v == NULL)
		return;
	n = 0;
	for (struct ms_check_finding *f = c->findings; f; f = f->next)
		v[n++] = f;
	qsort(v, n, sizeof(*v), by_order);
	for (size_t i = 0; i + 1 < n; i++)
		v[i]->next = v[i + 1];
	v[n - 1]->next = NULL;
	c->findings = v[0];
	c->tail = &v[n - 1]->next;
	c->index = v;
	c->nfindings = n;
}

void check_free(struct ms_check_report *c)
{
	while (c->findings) {
		struct ms_check_finding *f = c->findings;
		c->findings = f->next;
		free(f->message);
		free(f->fix);
		free(f);
	}
	free(c->index);
	free(c->sts_mx);
	ms_rtls_route_free(c->route);
	pthread_mutex_destroy(&c->lock);
}

const char *ms_check_status_str(enum ms_check_status s)
{
	switch (s) {
	case MS_CHECK_PASS: return "pass";
	case MS_CHECK_INFO: return "info";
	case MS_CHECK_WARN: return "warn";
	case MS_CHECK_FAIL: return "fail";
	}
	return "?";
}

const char *ms_check_report_domain(const struct ms_check_report *r)
{
	return r ? r->domain : NULL;
}

enum ms_check_status ms_check_report_verdict(const struct ms_check_report *r, int *fails,
					     int *warns)
{
	enum ms_check_status v = MS_CHECK_PASS;
	int nf = 0, nw = 0;
	for (const struct ms_check_finding *f = r ? r->findings : NULL; f; f = f->next) {
		nf += f->status == MS_CHECK_FAIL;
		nw += f->status == MS_CHECK_WARN;
		if (f->status != MS_CHECK_INFO && f->status > v)
			v = f->status;
	}
	if (fails)
		*fails = nf;
	if (warns)
		*warns = nw;
	return v;
}

size_t ms_check_report_count(const struct ms_check_report *r)
{
	return r ? r->nfindings : 0;
}

const struct ms_check_finding *ms_check_report_finding(const struct ms_check_report *r, size_t i)
{
	return r && i < r->nfindings ? r->index[i] : NULL;
}

const char *ms_check_finding_key(const struct ms_check_finding *f) { return f->key; }
const char *ms_check_finding_area(const struct ms_check_finding *f) { return f->area; }
const char *ms_check_finding_item(const struct ms_check_finding *f) { return f->item; }
enum ms_check_status ms_check_finding_status(const struct ms_check_finding *f) { return f->status; }
const char *ms_check_finding_message(const struct ms_check_finding *f)
{
	return f->message ? f->message : "";
}
const char *ms_check_finding_fix(const struct ms_check_finding *f) { return f->fix; }
