/**
 * @file
 * mailsec/env.h - the hooks a caller injects into every mailsec handle.
 *
 * A struct ms_env is passed to each ms_*_new() call and copied there, so the
 * caller may free or reuse its own copy afterwards (the `user` pointer and the
 * callbacks themselves must stay valid for the life of the handle).  Passing
 * NULL, or leaving a member NULL, selects the quiet default: no logging, no
 * metrics, malloc/realloc/free, time(NULL).
 *
 * The layout is versioned: set `version` to MS_ENV_VERSION.  Later versions
 * only append members, and libraries read only the members that the declared
 * version has, so a caller compiled against an older header keeps working.
 *
 * No library prints to stdout/stderr or links a logging or metrics framework;
 * examples/ has adapters for logfmt and Prometheus text exposition.
 */
#ifndef MAILSEC_ENV_H
#define MAILSEC_ENV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_ENV_VERSION 2

/** One structured key/value pair attached to a log line or a metric. */
struct ms_kv {
	const char *key;    /**< static, lower_snake_case */
	const char *value;  /**< valid only during the callback */
};

enum ms_log_level {
	MS_LOG_ERROR = 0,
	MS_LOG_WARNING = 1,
	MS_LOG_INFO = 2,
	MS_LOG_DEBUG = 3
};

enum ms_metric_kind {
	MS_METRIC_COUNTER = 0,   /**< value is the increment (usually 1) */
	MS_METRIC_GAUGE = 1,     /**< value is the new absolute value */
	MS_METRIC_HISTOGRAM = 2  /**< value is one observation (seconds for durations) */
};

/** A metric event; all pointers are valid only during the callback. */
struct ms_metric_event {
	enum ms_metric_kind kind;
	const char *name;           /**< static string, e.g. "dns_lookups_total" */
	const struct ms_kv *labels; /**< label names are static, values transient */
	size_t nlabels;
	double value;
};

/**
 * Log callback.  `subsystem` is a static string ("dns", "dane", ...), `msg` a
 * short human sentence, `kv` structured fields in the spirit of logfmt.
 */
typedef void (*ms_log_fn)(void *user, enum ms_log_level level,
			  const char *subsystem, const char *msg,
			  const struct ms_kv *kv, size_t nkv);

typedef void (*ms_metric_fn)(void *user, const struct ms_metric_event *ev);

struct ms_env {
	unsigned version;          /**< MS_ENV_VERSION */
	void *user;                /**< handed back to every callback (log and
				      metric: unless log_user/metric_user) */

	ms_log_fn log;             /**< NULL: no logging */
	enum ms_log_level log_level; /**< deliver events at or below this level */

	ms_metric_fn metric;       /**< NULL: no metrics */

	/**
	 * Allocator for the memory mailsec itself allocates (not for what
	 * OpenSSL, libunbound, libcurl or SQLite allocate internally).  Either
	 * all three are set or none; realloc(user, NULL, n) must act as malloc.
	 */
	void *(*alloc)(void *user, size_t size);
	void *(*realloc)(void *user, void *ptr, size_t size);
	void (*free)(void *user, void *ptr);

	/** Wall clock in Unix seconds; NULL: time(NULL).  Tests inject this. */
	int64_t (*now)(void *user);

	/** Version 2.  Separate `user` pointers for the log and the metric
	 * callbacks, so that a logger and a metrics registry from different
	 * modules each get their own state.  NULL (or a version-1 struct):
	 * the callback gets `user`. */
	void *log_user;
	void *metric_user;
};

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_ENV_H */
