/* env.c - the ms_env hook shims: allocation, clock, log and metrics. */
#include "ms_common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void ms_env_init(struct ms_env *dst, const struct ms_env *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->version = MS_ENV_VERSION;
	dst->log_level = MS_LOG_INFO;
	if (src == NULL)
		return;
	/* Version 1 is the first layout; later versions append members,
	 * copied here only when src->version says the caller's struct has
	 * them (an older caller's struct is shorter). */
	dst->user = src->user;
	dst->log = src->log;
	dst->log_level = src->log_level;
	dst->metric = src->metric;
	/* An allocator is all or nothing: a half-set one would mix heaps. */
	if (src->alloc && src->realloc && src->free) {
		dst->alloc = src->alloc;
		dst->realloc = src->realloc;
		dst->free = src->free;
	}
	dst->now = src->now;
	if (src->version >= 2) {
		dst->log_user = src->log_user;
		dst->metric_user = src->metric_user;
	}
}

void *ms_malloc(const struct ms_env *env, size_t size)
{
	if (size == 0)
		size = 1;
	if (env && env->alloc)
		return env->alloc(env->user, size);
	return malloc(size);
}

void *ms_calloc(const struct ms_env *env, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	void *p = ms_malloc(env, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *ms_realloc(const struct ms_env *env, void *ptr, size_t size)
{
	if (size == 0)
		size = 1;
	if (env && env->realloc)
		return env->realloc(env->user, ptr, size);
	return realloc(ptr, size);
}

void ms_free(const struct ms_env *env, void *ptr)
{
	if (ptr == NULL)
		return;
	if (env && env->free)
		env->free(env->user, ptr);
	else
		free(ptr);
}

char *ms_strndup(const struct ms_env *env, const char *s, size_t n)
{
	char *d = ms_malloc(env, n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

char *ms_strdup(const struct ms_env *env, const char *s)
{
	return ms_strndup(env, s, strlen(s));
}

int64_t ms_now(const struct ms_env *env)
{
	if (env && env->now)
		return env->now(env->user);
	return (int64_t)time(NULL);
}

uint64_t ms_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ms_log_enabled(const struct ms_env *env, enum ms_log_level level)
{
	return env && env->log && level <= env->log_level;
}

void ms_log(const struct ms_env *env, enum ms_log_level level,
	    const char *subsystem, const char *msg,
	    const struct ms_kv *kv, size_t nkv)
{
	if (ms_log_enabled(env, level))
		env->log(env->version >= 2 && env->log_user ? env->log_user : env->user,
			 level, subsystem, msg, kv, nkv);
}

void ms_metric(const struct ms_env *env, enum ms_metric_kind kind,
	       const char *name, const struct ms_kv *labels, size_t nlabels,
	       double value)
{
	if (env == NULL || env->metric == NULL)
		return;
	struct ms_metric_event ev = {
		.kind = kind, .name = name, .labels = labels,
		.nlabels = nlabels, .value = value,
	};
	/* env may be the caller's own struct (not a copy): read the version-2
	 * members only when it has them */
	env->metric(env->version >= 2 && env->metric_user ? env->metric_user : env->user, &ev);
}
