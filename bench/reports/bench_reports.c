/*
 * bench_reports.c - bench-reports: the cost of TLSRPT recording in the
 * delivery path (issue 17: below 5 us per attempt with SQLite, batched).
 *
 *   record-attempt/txn-per-attempt
 *       ours: ms_tlsrpt_recorder_observe on the SQLite store, batched
 *             (the flushes included: total time / attempts);
 *       peer: the same attempts each written at once, one SQLite upsert
 *             transaction per attempt (ms_tlsrpt_store_put), which is what
 *             a recorder without a buffer does.
 *   Both end with the same counts in the store (checked).
 *
 * Output (DESIGN.md): bench <case>/<peer> ours_ns=.. <peer>_ns=.. ratio=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/tlsrpt.h>

#define ROUNDS 5
#define OURS_N 50000
#define PEER_N 500

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static const char *strings[] = { "3 1 1 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
				 "3 1 1 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" };

/* Attempt i of a realistic mix: 200 domains, 2 hosts each, 1 in 20 failing. */
static void attempt(size_t i, struct ms_rtls_tlsrpt_event *ev, char *dom, char *host, char *addr)
{
	snprintf(dom, 64, "d%zu.example", i % 200);
	snprintf(host, 80, "mx%zu.d%zu.example", i % 2, i % 200);
	snprintf(addr, 64, "192.0.2.%zu", (i % 200) % 250);
	int fail = i % 20 == 0;
	*ev = (struct ms_rtls_tlsrpt_event){
		.policy_domain = dom, .policy_type = MS_TLSRPT_POLICY_TLSA,
		.policy_strings = strings, .npolicy_strings = 2, .mx_host = host, .addr = addr,
		.result = fail ? MS_TLSRPT_CERTIFICATE_EXPIRED : MS_TLSRPT_SUCCESS,
		.reason = fail ? "certificate has expired" : "",
	};
}

static struct ms_tlsrpt_store *fresh(const char *dir, const char *name)
{
	char path[600], why[256] = "";
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	struct ms_tlsrpt_store *s = NULL;
	if (ms_tlsrpt_store_open_sqlite(NULL, path, &s, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "bench-reports: %s\n", why);
		exit(1);
	}
	return s;
}

static int64_t fixed_now(void *u)
{
	(void)u;
	return 1795867200;
}

struct total {
	uint64_t n;
};
static int add(void *arg, const struct ms_tlsrpt_row *r)
{
	((struct total *)arg)->n += r->count;
	return 0;
}

static uint64_t total(struct ms_tlsrpt_store *s)
{
	struct total t = { 0 };
	char why[200];
	ms_tlsrpt_store_get(s, "2026-11-28", NULL, add, &t, why, sizeof(why));
	return t.n;
}

int main(void)
{
	char dir[] = "/tmp/bench-reports-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	struct ms_env env = { .version = MS_ENV_VERSION, .now = fixed_now };
	uint64_t ours[ROUNDS], peer[ROUNDS];
	char dom[64], host[80], addr[64], why[256];
	struct ms_rtls_tlsrpt_event ev;
	for (int r = 0; r < ROUNDS; r++) {
		struct ms_tlsrpt_store *s = fresh(dir, "ours.db");
		struct ms_tlsrpt_recorder *rec = NULL;
		ms_tlsrpt_recorder_new(&env, s, NULL, &rec, why, sizeof(why));
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < OURS_N; i++) {
			attempt(i, &ev, dom, host, addr);
			ms_tlsrpt_recorder_observe(rec, &ev);
		}
		ms_tlsrpt_recorder_free(rec); /* the last flush is part of the cost */
		ours[r] = (now_ns() - t0) / OURS_N;
		if (total(s) != OURS_N) {
			fprintf(stderr, "bench-reports: ours wrote %llu of %d\n",
				(unsigned long long)total(s), OURS_N);
			return 1;
		}
		ms_tlsrpt_store_free(s);

		s = fresh(dir, "peer.db");
		t0 = now_ns();
		for (size_t i = 0; i < PEER_N; i++) {
			attempt(i, &ev, dom, host, addr);
			struct ms_tlsrpt_row row = { .day = "2026-11-28", .policy_domain = dom,
						     .policy_type = ev.policy_type,
						     .policy_strings = "3 1 1 0a..\n3 1 1 ff..",
						     .mx_patterns = "", .mx_host = host, .addr = addr,
						     .result = ev.result, .reason = ev.reason, .count = 1 };
			if (ms_tlsrpt_store_put(s, &row, why, sizeof(why)) != MS_OK) {
				fprintf(stderr, "bench-reports: %s\n", why);
				return 1;
			}
		}
		peer[r] = (now_ns() - t0) / PEER_N;
		if (total(s) != PEER_N) {
			fprintf(stderr, "bench-reports: the peer wrote %llu of %d\n",
				(unsigned long long)total(s), PEER_N);
			return 1;
		}
		ms_tlsrpt_store_free(s);
	}
	qsort(ours, ROUNDS, sizeof(ours[0]), cmp);
	qsort(peer, ROUNDS, sizeof(peer[0]), cmp);
	printf("bench record-attempt/txn-per-attempt ours_ns=%llu txn-per-attempt_ns=%llu ratio=%.2f\n",
	       (unsigned long long)ours[ROUNDS / 2], (unsigned long long)peer[ROUNDS / 2],
	       (double)peer[ROUNDS / 2] / (double)(ours[ROUNDS / 2] ? ours[ROUNDS / 2] : 1));
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
