/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void hook_log(void *user, enum ms_log_level level, const char *subsystem, const char *msg,
		     const struct ms_kv *kv, size_t nkv)
{
	struct policyd_log *lg = user;
	if ((int)level > lg->level || lg->logfmt.out == NULL)
		return;
	if (lg->format == LOG_LOGFMT) {
		ms_logfmt_log(&lg->logfmt, level, subsystem, msg, kv, nkv);
		return;
	}
	FILE *f = lg->logfmt.out;
	flockfile(f);
	fprintf(f, "%s: %s: %s", level_names[level], subsystem, msg);
	for (size_t i = 0; i < nkv; i++)
		fprintf(f, " %s=%s", kv[i].key, kv[i].value ? kv[i].value : "");
	fputc('\n', f);
	funlockfile(f);
}

static void hook_metric(void *user, const struct ms_metric_event *ev)
{
	struct policyd_log *lg = user;
	if (lg->prom)
		ms_prom_metric(lg->prom, ev);
}

void policyd_env(struct policyd_log *lg, struct ms_env *env)
{
	memset(env, 0, sizeof(*env));
	env->version = MS_ENV_VERSION;
	env->user = lg;
	env->log = hook_log;
	env->log_level = (enum ms_log_level)lg->level;
	env->metric = hook_metric;
}

void policyd_logf(struct policyd_log *lg, enum ms_log_level level, const struct ms_kv *kv,
		  size_t nkv, const char *fmt, ...)
{
	if ((int)level > lg->level)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hook_log(lg, level, "policyd", msg, kv, nkv);
}

void policyd_metric(struct policyd_log *lg, enum ms_metric_kind kind, const char *name,
		    const char *label, const char *value, double v)
{
	if (lg->prom == NULL)
		return;
	struct ms_kv l = {label, value};
	struct ms_metric_event ev = {kind, name, label ? &l : NULL, label ? 1 : 0, v};
	ms_prom_metric(lg->prom, &ev);
}

int policyd_metrics_write(struct policyd_log *lg, const char *path)
{
	if (lg->prom == NULL || path[0] == '\0')
		return 0;
	char tmp[POLICYD_PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	int rc = ms_prom_write(lg->prom, f);
	if (fclose(f) != 0 || rc != 0 || rename(tmp, path) != 0) {
		remove(tmp);
		return -1;
	}
	return 0;
}
