/*
 * bench_dmarc_report.c - the cost of recording one inbound message's DMARC
 * report row (ms_dmarcrep_record into the SQLite store, batched) against
 * the same rows written one transaction per message (the store's put, as
 * a recorder without batching would), both on a real SQLite file in WAL
 * mode in a temporary directory.  Rows rotate over 64 source IPs (the
 * shape of a day's traffic: many messages, few distinct rows).
 *
 *   bench dmarc-record/sqlite-per-message ours_ns=<median ns per message>
 *         sqlite-per-message_ns=<median> ratio=<theirs/ours>
 *
 * Median of 5 runs of N messages each (ours: N = 20000, including the
 * final flush; per message: N = 500, it is slow).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/dmarc_report.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct ms_dmarcrep_row row(int i)
{
	struct ms_dmarcrep_row r;
	memset(&r, 0, sizeof(r));
	r.version = MS_DMARCREP_ROW_VERSION;
	r.hour = 1764633600;
	strcpy(r.policy_domain, "example.test");
	strcpy(r.policy, "p=reject sp=reject adkim=r aspf=r pct=100");
	snprintf(r.source_ip, sizeof(r.source_ip), "192.0.2.%d", i % 64);
	strcpy(r.header_from, "example.test");
	strcpy(r.envelope_from, "example.test");
	strcpy(r.disposition, i % 3 ? "none" : "reject");
	strcpy(r.dkim_eval, i % 3 ? "pass" : "fail");
	strcpy(r.spf_eval, i % 3 ? "pass" : "fail");
	strcpy(r.spf_domain, "example.test");
	strcpy(r.spf_scope, "mfrom");
	strcpy(r.spf_result, i % 3 ? "pass" : "fail");
	r.ndkim = 1;
	strcpy(r.dkim[0].domain, "example.test");
	strcpy(r.dkim[0].selector, "s1");
	strcpy(r.dkim[0].result, i % 3 ? "pass" : "fail");
	r.count = 1;
	return r;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct ms_dmarcrep_store *open_store(const char *dir, int run, const char *tag)
{
	char path[1024], why[256] = "";
	snprintf(path, sizeof(path), "%s/%s-%d.db", dir, tag, run);
	struct ms_dmarcrep_store *s = NULL;
	if (ms_dmarcrep_store_open(NULL, NULL, path, &s, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "store: %s\n", why);
		exit(1);
	}
	return s;
}

static uint64_t total(struct ms_dmarcrep_store *s);
static int add(void *u, const struct ms_dmarcrep_row *r)
{
	*(uint64_t *)u += r->count;
	return 0;
}
static uint64_t total(struct ms_dmarcrep_store *s)
{
	uint64_t n = 0;
	ms_dmarcrep_store_each(s, NULL, 0, INT64_MAX, add, &n, NULL, 0);
	return n;
}

int main(void)
{
	char dir[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/bench-dmarcrep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	enum { RUNS = 5, N_OURS = 20000, N_PEER = 500 };
	uint64_t ours[RUNS], peer[RUNS];
	char why[256];
	const struct ms_dmarcrep_store_ops *ops = ms_dmarcrep_store_sqlite();
	for (int k = 0; k < RUNS; k++) {
		struct ms_dmarcrep_store *s = open_store(dir, k, "batched");
		struct ms_dmarcrep_recorder *rec = NULL;
		ms_dmarcrep_recorder_new(NULL, s, 256, &rec, why, sizeof(why));
		uint64_t t0 = now_ns();
		for (int i = 0; i < N_OURS; i++) {
			struct ms_dmarcrep_row r = row(i);
			if (ms_dmarcrep_record(rec, &r, why, sizeof(why)) != MS_OK) {
				fprintf(stderr, "record: %s\n", why);
				return 1;
			}
		}
		ms_dmarcrep_flush(rec, why, sizeof(why));
		ours[k] = (now_ns() - t0) / N_OURS;
		ms_dmarcrep_recorder_free(rec);
		/* both sides must have stored every message */
		if (total(s) != N_OURS)
			return fprintf(stderr, "batched store lost rows\n"), 1;
		ms_dmarcrep_store_free(s);

		/* the peer: one SQLite transaction per message through the same
		 * store's put (a second handle on a new file) */
		void *impl = NULL;
		char path[1024];
		snprintf(path, sizeof(path), "%s/single-%d.db", dir, k);
		if (ops->open(NULL, path, &impl, why, sizeof(why)) != MS_OK)
			return fprintf(stderr, "open: %s\n", why), 1;
		t0 = now_ns();
		for (int i = 0; i < N_PEER; i++) {
			struct ms_dmarcrep_row r = row(i);
			if (ops->put(impl, &r, why, sizeof(why)) != MS_OK)
				return fprintf(stderr, "put: %s\n", why), 1;
		}
		peer[k] = (now_ns() - t0) / N_PEER;
		uint64_t n = 0;
		ops->get(impl, NULL, 0, INT64_MAX, add, &n, NULL, 0);
		ops->close(impl);
		if (n != N_PEER)
			return fprintf(stderr, "per-message store lost rows\n"), 1;
	}
	qsort(ours, RUNS, sizeof(ours[0]), cmp);
	qsort(peer, RUNS, sizeof(peer[0]), cmp);
	printf("bench dmarc-record/sqlite-per-message ours_ns=%llu sqlite-per-message_ns=%llu "
	       "ratio=%.1f\n", (unsigned long long)ours[RUNS / 2],
	       (unsigned long long)peer[RUNS / 2], (double)peer[RUNS / 2] / (double)ours[RUNS / 2]);
	char cmd[1100];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
