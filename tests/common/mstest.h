/*
 * mstest.h - small helpers shared by the libcheck suites: where the
 * generated test world is, and a resolver over its signed zones.
 */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailsec/dns.h>

/* The folder make-world.sh wrote (meson sets MS_TEST_WORLD). */
static inline const char *mstest_world(void)
{
	const char *w = getenv("MS_TEST_WORLD");
	ck_assert_msg(w != NULL && *w, "MS_TEST_WORLD is not set (run through meson test)");
	return w;
}

/* A path inside the world folder; returns a static buffer per call site. */
static inline void mstest_world_path(char *buf, size_t len, const char *rel)
{
	int n = snprintf(buf, len, "%s/%s", mstest_world(), rel);
	ck_assert_msg(n > 0 && (size_t)n < len, "world path too long");
}

/* Deadlines scale under valgrind (meson test --setup valgrind sets
 * MS_UNDER_VALGRIND), which runs code 20-50 times slower. */
static inline unsigned mstest_scale_ms(unsigned ms)
{
	return getenv("MS_UNDER_VALGRIND") ? ms * 20 : ms;
}

/* A monotonic clock in milliseconds, to time steps and deadlines by. */
static inline uint64_t mstest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A resolver over the world's signed zones (real DNSSEC validation). */
static inline struct ms_dns_ctx *mstest_world_resolver(const struct ms_env *env,
							unsigned timeout_ms,
							int64_t validation_time)
{
	char conf[4096], why[512] = "";
	mstest_world_path(conf, sizeof(conf), "auth.conf");
	struct ms_dns_config cfg = {
		.version = MS_DNS_CONFIG_VERSION,
		.mode = MS_DNS_MODE_CONFIG_FILE,
		.config_file = conf,
		.timeout_ms = timeout_ms,  /* callers pass mstest_scale_ms(...) where load matters */
		.validation_time = validation_time,
	};
	struct ms_dns_ctx *ctx = NULL;
	ms_status st = ms_dns_ctx_new(env, &cfg, &ctx, why, sizeof(why));
	ck_assert_msg(st == MS_OK, "resolver: %s", why);
	return ctx;
}

/* Run a suite and return a process exit status. */
static inline int mstest_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
