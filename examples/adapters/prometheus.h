/*
 * prometheus.h - an ms_env metric hook that aggregates events into a
 * registry and writes the Prometheus text exposition format (0.0.4).
 *
 * An example adapter: set env.metric = ms_prom_metric and env.user = the
 * registry, then call ms_prom_write() from your /metrics handler.
 * Thread-safe.  Histograms use fixed buckets suited to latencies in seconds.
 */
#ifndef MAILSEC_EXAMPLE_PROMETHEUS_H
#define MAILSEC_EXAMPLE_PROMETHEUS_H

#include <stdio.h>

#include <mailsec/env.h>

struct ms_prom;

struct ms_prom *ms_prom_new(void);
void ms_prom_free(struct ms_prom *reg);
void ms_prom_metric(void *reg, const struct ms_metric_event *ev);
/* Write every series; returns 0, or -1 on a write error. */
int ms_prom_write(struct ms_prom *reg, FILE *out);

#endif
