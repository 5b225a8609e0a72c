/*
 * log.h - the daemon's ms_env hooks: log lines (logfmt through the example
 * adapter, or plain text) and metrics (the Prometheus adapter's registry,
 * written to a text file for node_exporter's textfile collector).  One
 * `user` pointer serves both hooks, as struct ms_env has one.
 */
#ifndef POLICYD_LOG_H
#define POLICYD_LOG_H

#include <stdio.h>

#include <mailsec/env.h>

#include "config.h"
#include "logfmt.h"
#include "prometheus.h"

struct policyd_log {
	enum policyd_log_format format;
	int level;
	struct ms_logfmt logfmt;   /* .out is the log stream */
	struct ms_prom *prom;      /* NULL: no metrics */
};

/* Fill an env whose hooks write to `lg`. */
void policyd_env(struct policyd_log *lg, struct ms_env *env);

/* Log from the daemon itself (subsystem "policyd"), kv pairs as for hooks. */
void policyd_logf(struct policyd_log *lg, enum ms_log_level level, const struct ms_kv *kv,
		  size_t nkv, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Count/observe a metric of the daemon's own. */
void policyd_metric(struct policyd_log *lg, enum ms_metric_kind kind, const char *name,
		    const char *label, const char *value, double v);

/* Write the registry to `path` atomically (PATH.tmp, then rename); 0 or -1. */
int policyd_metrics_write(struct policyd_log *lg, const char *path);

#endif
