/*
 * bench_dns.c - libdnssec-stub against raw libunbound in the same run.
 *
 *   bench-dns AUTH.CONF [CASE]   (a make-world.sh output; see docs/PERFORMANCE.md;
 *                                 CASE "cached", "async" or "distinct" runs only
 *                                 that one,
 *                                 e.g. under valgrind --tool=callgrind)
 *
 * cached-a/ubresolve: a cached, validated A lookup through ms_dns_lookup()
 *   versus the same lookup through ub_resolve() on a context with the same
 *   configuration.  Our overhead: the async round trip that bounds the
 *   deadline, name normalisation, result conversion, hooks.
 * async-1000/ubresolve: 1,000 lookups in flight through ms_dns_submit() and
 *   ms_dns_process() versus ub_resolve_async() and ub_process(); ns per lookup.
 *   The 1,000 lookups cycle over 4 names, so ours share 4 libunbound queries
 *   (identical lookups in flight are coalesced, docs/dns.md).
 * async-1000-distinct/ubresolve: the same with 1,000 distinct names
 *   (NNN.many.example.test, a wildcard), all in both sides' caches (a first
 *   pass warms them): nothing to coalesce, one libunbound query each.
 * Each case runs several rounds and prints the medians; verdicts (outcome
 * and security) are checked equal before timing.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#include <mailsec/dns.h>

#define ROUNDS 15

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void report(const char *name, uint64_t ours, uint64_t peer)
{
	printf("bench %s ours_ns=%llu ubresolve_ns=%llu ratio=%.2f\n", name,
	       (unsigned long long)ours, (unsigned long long)peer,
	       ours ? (double)peer / (double)ours : 0.0);
}

static struct ub_ctx *ub_new(const char *conf)
{
	struct ub_ctx *ub = ub_ctx_create();
	if (ub == NULL || ub_ctx_async(ub, 1) != 0 || ub_ctx_config(ub, conf) != 0) {
		fprintf(stderr, "bench-dns: cannot load %s\n", conf);
		exit(2);
	}
	return ub;
}

static const char *names[] = { "www.example.test", "mx.example.test",
			       "www.rsa.example.test", "v4only.example.test" };

static void bench_cached(const char *conf)
{
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf };
	struct ms_dns_ctx *ctx;
	char why[256];
	if (ms_dns_ctx_new(NULL, &cfg, &ctx, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "bench-dns: %s\n", why);
		exit(2);
	}
	struct ub_ctx *ub = ub_new(conf);
	/* warm both caches and check the verdicts agree */
	for (size_t i = 0; i < 4; i++) {
		struct ms_dns_result *r;
		struct ub_result *u;
		ms_dns_lookup(ctx, names[i], MS_DNS_T_A, &r, NULL, 0);
		ub_resolve(ub, names[i], 1, 1, &u);
		int same = (ms_dns_result_security(r) == MS_DNS_SECURE) == (u->secure != 0) &&
			   (ms_dns_result_count(r) > 0) == (u->havedata != 0);
		ms_dns_result_free(r);
		ub_resolve_free(u);
		if (!same) {
			fprintf(stderr, "bench-dns: verdicts differ for %s\n", names[i]);
			exit(1);
		}
	}
	enum { OPS = 2000 };
	uint64_t ours[ROUNDS], peer[ROUNDS];
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < OPS; i++) {
			struct ms_dns_result *r;
			ms_dns_lookup(ctx, names[i & 3], MS_DNS_T_A, &r, NULL, 0);
			ms_dns_result_free(r);
		}
		uint64_t t1 = now_ns();
		for (int i = 0; i < OPS; i++) {
			struct ub_result *u;
			ub_resolve(ub, names[i & 3], 1, 1, &u);
			ub_resolve_free(u);
		}
		uint64_t t2 = now_ns();
		ours[round] = (t1 - t0) / OPS;
		peer[round] = (t2 - t1) / OPS;
	}
	report("cached-a/ubresolve", median(ours, ROUNDS), median(peer, ROUNDS));
	ms_dns_ctx_free(ctx);
	ub_ctx_delete(ub);
}

static int ms_done;
static void ms_cb(void *user, struct ms_dns_result *r)
{
	(void)user;
	ms_done++;
	ms_dns_result_free(r);
}

static int ub_done;
static void ub_cb(void *user, int err, struct ub_result *r)
{
	(void)user;
	(void)err;
	ub_done++;
	ub_resolve_free(r);
}

static char distinct[1000][64];

static const char *name_of(int distinct_names, int i)
{
	return distinct_names ? distinct[i] : names[i & 3];
}

__attribute__((noinline)) static void run_ours(struct ms_dns_ctx *ctx, int n, int distinct_names)
{
	ms_done = 0;
	for (int i = 0; i < n; i++)
		ms_dns_submit(ctx, name_of(distinct_names, i), MS_DNS_T_A, ms_cb, NULL, NULL,
			      NULL, 0);
	while (ms_done < n) {
		struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
		poll(&p, 1, 100);
		ms_dns_process(ctx);
	}
}

__attribute__((noinline)) static void run_peer(struct ub_ctx *ub, int n, int distinct_names)
{
	ub_done = 0;
	for (int i = 0; i < n; i++)
		ub_resolve_async(ub, name_of(distinct_names, i), 1, 1, NULL, ub_cb, NULL);
	while (ub_done < n) {
		struct pollfd p = { .fd = ub_fd(ub), .events = POLLIN };
		poll(&p, 1, 100);
		ub_process(ub);
	}
}

static void bench_async(const char *conf, int distinct_names)
{
	enum { N = 1000 };
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf, .timeout_ms = 30000 };
	uint64_t ours[ROUNDS], peer[ROUNDS];
	struct ms_dns_ctx *ctx;
	if (ms_dns_ctx_new(NULL, &cfg, &ctx, NULL, 0) != MS_OK)
		exit(2);
	struct ub_ctx *ub = ub_new(conf);
	if (distinct_names) {
		for (int i = 0; i < N; i++)
			snprintf(distinct[i], sizeof(distinct[i]), "h%d.many.example.test", i);
		/* warm both caches, and check the names answer alike */
		run_ours(ctx, N, 1);
		run_peer(ub, N, 1);
		struct ms_dns_result *r = NULL;
		if (ms_dns_lookup(ctx, distinct[N - 1], MS_DNS_T_A, &r, NULL, 0) != MS_OK ||
		    ms_dns_result_outcome(r) != MS_DNS_ANSWER ||
		    ms_dns_result_security(r) != MS_DNS_SECURE) {
			fprintf(stderr, "bench-dns: %s is not a secure answer (old world?)\n",
				distinct[N - 1]);
			exit(2);
		}
		ms_dns_result_free(r);
		struct ub_result *u = NULL;
		if (ub_resolve(ub, distinct[N - 1], 1, 1, &u) != 0 || !u->havedata || !u->secure) {
			fprintf(stderr, "bench-dns: libunbound: %s is not a secure answer\n",
				distinct[N - 1]);
			exit(2);
		}
		ub_resolve_free(u);
	}
	for (int round = 0; round < ROUNDS; round++) {
		/* odd rounds run the peer first: whichever side runs right
		 * after the other one's burst finds the caches and the
		 * scheduler in a different state */
		for (int side = 0; side < 2; side++) {
			int mine = (side == 0) == (round % 2 == 0);
			uint64_t t0 = now_ns();
			if (mine)
				run_ours(ctx, N, distinct_names);
			else
				run_peer(ub, N, distinct_names);
			uint64_t t = (now_ns() - t0) / N;
			if (mine)
				ours[round] = t;
			else
				peer[round] = t;
		}
	}
	report(distinct_names ? "async-1000-distinct/ubresolve" : "async-1000/ubresolve",
	       median(ours, ROUNDS), median(peer, ROUNDS));
	ms_dns_ctx_free(ctx);
	ub_ctx_delete(ub);
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: bench-dns AUTH.CONF [cached|async|distinct] "
				"(from tests/world/make-world.sh)\n");
		return 2;
	}
	if (argc == 2 || strcmp(argv[2], "cached") == 0)
		bench_cached(argv[1]);
	if (argc == 2 || strcmp(argv[2], "async") == 0)
		bench_async(argv[1], 0);
	if (argc == 2 || strcmp(argv[2], "distinct") == 0)
		bench_async(argv[1], 1);
	return 0;
}
