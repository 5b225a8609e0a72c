/* prometheus.c - a small metric registry with text exposition output. */
#include "prometheus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	struct series *next;
	char *name;
	char *labels;            /* rendered: key="value",key2="value2" */
	enum ms_metric_kind kind;
	double value;            /* counter total, gauge value, histogram sum */
	unsigned long long count;
	unsigned long long bucket[NBUCKETS];
};

struct ms_prom {
	pthread_mutex_t lock;
	struct series *head;
};

struct ms_prom *ms_prom_new(void)
{
	struct ms_prom *r = calloc(1, sizeof(*r));
	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

void ms_prom_free(struct ms_prom *reg)
{
	if (reg == NULL)
		return;
	while (reg->head) {
		struct series *s = reg->head;
		reg->head = s->next;
		free(s->name);
		free(s->labels);
		free(s);
	}
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

/* Label values escaped as the exposition format requires. */
static char *render_labels(const struct ms_kv *kv, size_t n)
{
	size_t cap = 1;
	for (size_t i = 0; i < n; i++)
		cap += strlen(kv[i].key) + 2 * strlen(kv[i].value ? kv[i].value : "") + 5;
	char *out = malloc(cap), *p = out;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p += sprintf(p, "%s=\"", kv[i].key);
		for (const char *v = kv[i].value ? kv[i].value : ""; *v; v++) {
			if (*v == '\\' || *v == '"') {
				*p++ = '\\';
				*p++ = *v;
			} else if (*v == '\n') {
				*p++ = '\\';
				*p++ = 'n';
			} else {
				*p++ = *v;
			}
		}
		*p++ = '"';
	}
	*p = '\0';
	return out;
}

void ms_prom_metric(void *user, const struct ms_metric_event *ev)
{
	struct ms_prom *reg = user;
	if (reg == NULL || ev == NULL || ev->name == NULL)
		return;
	char *labels = render_labels(ev->labels, ev->nlabels);
	if (labels == NULL)
		return;
	pthread_mutex_lock(&reg->lock);
	struct series *s = reg->head;
	while (s && !(strcmp(s->name, ev->name) == 0 && strcmp(s->labels, labels) == 0))
		s = s->next;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL || (s->name = strdup(ev->name)) == NULL) {
			free(s);
			pthread_mutex_unlock(&reg->lock);
			free(labels);
			return;
		}
		s->labels = labels;
		labels = NULL;
		s->kind = ev->kind;
		s->next = reg->head;
		reg->head = s;
	}
	switch (s->kind) {
	case MS_METRIC_COUNTER:
		s->value += ev->value;
		break;
	case MS_METRIC_GAUGE:
		s->value = ev->value;
		break;
	case MS_METRIC_HISTOGRAM:
		s->value += ev->value;
		s->count++;
		for (size_t i = 0; i < NBUCKETS; i++)
			if (ev->value <= buckets[i])
				s->bucket[i]++;
		break;
	}
	pthread_mutex_unlock(&reg->lock);
	free(labels);
}

static const char *type_name(enum ms_metric_kind k)
{
	return k == MS_METRIC_COUNTER ? "counter" :
	       k == MS_METRIC_GAUGE ? "gauge" : "histogram";
}

static void write_series(FILE *out, const struct series *s)
{
	const char *sep = *s->labels ? "," : "";
	if (s->kind != MS_METRIC_HISTOGRAM) {
		fprintf(out, "%s{%s} %.17g\n", s->name, s->labels, s->value);
		return;
	}
	for (size_t i = 0; i < NBUCKETS; i++)
		fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, s->labels,
			sep, buckets[i], s->bucket[i]);
	fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep,
		s->count);
	fprintf(out, "%s_sum{%s} %.17g\n", s->name, s->labels, s->value);
	fprintf(out, "%s_count{%s} %llu\n", s->name, s->labels, s->count);
}

int ms_prom_write(struct ms_prom *reg, FILE *out)
{
	pthread_mutex_lock(&reg->lock);
	/* The format wants each metric family together under one # TYPE line:
	 * visit names in first-seen order, then every series of that name. */
	for (struct series *s = reg->head; s; s = s->next) {
		int seen = 0;
		for (struct series *t = reg->head; t != s && !seen; t = t->next)
			seen = strcmp(t->name, s->name) == 0;
		if (seen)
			continue;
		fprintf(out, "# TYPE %s %s\n", s->name, type_name(s->kind));
		for (struct series *t = s; t; t = t->next)
			if (strcmp(t->name, s->name) == 0)
				write_series(out, t);
	}
	pthread_mutex_unlock(&reg->lock);
	return ferror(out) ? -1 : 0;
}
