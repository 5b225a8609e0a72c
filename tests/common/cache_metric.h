/*
 * cache_metric.h - counting a DANE context's certificate-cache lookups
 * (libdane's dane_cert_cache_total{result=hit|miss}) through its env's
 * metric hook, for the tests that check a kept context is actually reused.
 */
#ifndef MSTEST_CACHE_METRIC_H
#define MSTEST_CACHE_METRIC_H

#include <mailsec/env.h>
#include <string.h>

struct cache_counts {
	int hit, miss;
};

/* An ms_env metric hook; `user` is a struct cache_counts. */
static inline void cache_metric(void *user, const struct ms_metric_event *ev)
{
	struct cache_counts *c = user;
	if (strcmp(ev->name, "dane_cert_cache_total") != 0 || ev->nlabels != 1)
		return;
	if (strcmp(ev->labels[0].value, "hit") == 0)
		c->hit += (int)ev->value;
	else if (strcmp(ev->labels[0].value, "miss") == 0)
		c->miss += (int)ev->value;
}

#endif
