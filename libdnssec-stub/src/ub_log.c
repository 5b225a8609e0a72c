/*
 * ub_log.c - libunbound's own log lines: a stdio sink (fopencookie) that
 * hands each line to the env log instead of stderr, and keeps the first
 * error line while ms_dns_ctx_new runs so a configuration that cannot be
 * loaded is reported in `why` with libunbound's reason.
 *
 * libunbound formats "[TIME] libunbound[PID:TID] TYPE: MESSAGE\n" (util/log.c)
 * and its log file is process-wide: the last context to finalise owns it,
 * and deleting any context silences it (ub_ctx_delete calls log_file(NULL)
 * before we close our sink, so the sink is never used after it is closed).
 */
#include "dns_internal.h"

#include <string.h>
#include <unistd.h>

/* Set only in the configuration-check child (conf_check.c): lines go to its
 * fd 2, which is a pipe to the parent, never to the caller's log hook. */
static int in_check_child;

void ms_dns_ub_log_child(void)
{
	in_check_child = 1;
}

static const struct {
	const char *tag;
	enum ms_log_level level;
} types[] = {
	{ "] error: ", MS_LOG_WARNING },  /* the caller also gets a status */
	{ "] warning: ", MS_LOG_WARNING },
	{ "] notice: ", MS_LOG_INFO },
	{ "] info: ", MS_LOG_DEBUG },
	{ "] debug: ", MS_LOG_DEBUG },
};

void ms_dns_ub_log_line(struct ms_dns_ctx *ctx, enum ms_log_level level, int is_error,
			const char *msg)
{
	if (is_error) {
		pthread_mutex_lock(&ctx->log_lock);
		if (ctx->ub_capture && ctx->ub_error[0] == '\0')
			snprintf(ctx->ub_error, sizeof(ctx->ub_error), "%s", msg);
		pthread_mutex_unlock(&ctx->log_lock);
	}
	if (ms_log_enabled(&ctx->env, level)) {
		struct ms_kv kv[] = { { "from", "libunbound" } };
		ms_log(&ctx->env, level, "dns", msg, kv, 1);
	}
}

/* fopencookie write hook: libunbound writes whole lines (line buffered). */
static ssize_t ub_log_write(void *cookie, const char *buf, size_t size)
{
	if (in_check_child) {
		ssize_t w = write(2, buf, size);
		(void)w;
		return (ssize_t)size;
	}
	char line[512];
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, buf, n);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	line[n] = '\0';
	if (n == 0)
		return (ssize_t)size;
	enum ms_log_level level = MS_LOG_DEBUG;
	const char *msg = line;
	int is_error = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const char *p = strstr(line, types[i].tag);
		if (p) {
			level = types[i].level;
			msg = p + strlen(types[i].tag);
			is_error = i == 0;
			break;
		}
	}
	ms_dns_ub_log_line(cookie, level, is_error, msg);
	return (ssize_t)size;
}

FILE *ms_dns_ub_log_open(struct ms_dns_ctx *ctx)
{
	FILE *f = fopencookie(ctx, "w", (cookie_io_functions_t){ .write = ub_log_write });
	if (f)
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

void ms_dns_ub_capture(struct ms_dns_ctx *ctx, int on)
{
	pthread_mutex_lock(&ctx->log_lock);
	ctx->ub_capture = on;
	if (on)
		ctx->ub_error[0] = '\0';
	pthread_mutex_unlock(&ctx->log_lock);
}

void ms_dns_ub_first_error(struct ms_dns_ctx *ctx, char *buf, size_t len)
{
	pthread_mutex_lock(&ctx->log_lock);
	snprintf(buf, len, "%s", ctx->ub_error);
	pthread_mutex_unlock(&ctx->log_lock);
}
