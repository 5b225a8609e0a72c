/*
 * bench_store.c - the store operations of one delivery against both store
 * backends (issue 19): the embedded SQLite file and a PostgreSQL server
 * (the one named by MS_BENCH_PG_URI, else a throwaway one started on
 * loopback with tests/store/pg_server.sh, fsync off).  One delivery is
 *   - the MTA-STS policy cache read (ms_sts_store_get) of the domain,
 *   - the REQUIRETLS memory upsert (ms_rtls_store_record),
 *   - the DMARC report row upsert (the store's put, count + 1),
 * over 1000 domains and 64 source addresses, with 1 and 8 writer threads
 * sharing one handle per store (as mailsec-policyd's threads do; the
 * PostgreSQL stores keep a connection per thread).
 *
 *   bench store-delivery-w<N>/sqlite ours_ns=<ns per delivery, PostgreSQL>
 *         sqlite_ns=<ns per delivery, SQLite> ratio=<sqlite/ours>
 *   # store-delivery-w<N>: postgresql <ops/s> ops/s, sqlite <ops/s> ops/s
 *
 * ns per delivery = wall time / deliveries (all threads); ops/s counts the
 * three store operations.  Median of 3 runs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/dmarc_report.h>
#include <mailsec/mtasts.h>
#include <mailsec/requiretls_store.h>
#include <mailsec/store.h>

#define DELIVERIES 4000   /* per run, split over the threads */

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
	snprintf(r.policy_domain, sizeof(r.policy_domain), "d%d.example", i % 1000);
	strcpy(r.policy, "p=reject sp=reject adkim=r aspf=r pct=100");
	snprintf(r.source_ip, sizeof(r.source_ip), "192.0.2.%d", i % 64);
	snprintf(r.header_from, sizeof(r.header_from), "d%d.example", i % 1000);
	strcpy(r.envelope_from, "example.test");
	strcpy(r.disposition, "none");
	strcpy(r.dkim_eval, "pass");
	strcpy(r.spf_eval, "pass");
	strcpy(r.spf_domain, "example.test");
	strcpy(r.spf_scope, "mfrom");
	strcpy(r.spf_result, "pass");
	r.ndkim = 1;
	strcpy(r.dkim[0].domain, "example.test");
	strcpy(r.dkim[0].selector, "s1");
	strcpy(r.dkim[0].result, "pass");
	r.count = 1;
	return r;
}

struct stores {
	struct ms_sts_store *sts;
	struct ms_rtls_store *rtls;
	const struct ms_dmarcrep_store_ops *dops;
	void *dmarc;
};

struct job {
	struct stores *s;
	int first, n, errors;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	char why[256];
	uint8_t *buf = malloc(MS_STS_POLICY_MAX);
	for (int i = j->first; i < j->first + j->n; i++) {
		char dom[32];
		snprintf(dom, sizeof(dom), "d%d.example", i % 1000);
		struct ms_sts_entry e;
		memset(&e, 0, sizeof(e));
		e.version = MS_STS_ENTRY_VERSION;
		int found = 0;
		if (ms_sts_store_get(j->s->sts, dom, &e, buf, MS_STS_POLICY_MAX, &found) != MS_OK)
			j->errors++;
		if (ms_rtls_store_record(j->s->rtls, "", dom, 1, i & 1, why, sizeof(why)) != MS_OK)
			j->errors++;
		struct ms_dmarcrep_row r = row(i);
		if (j->s->dops->put(j->s->dmarc, &r, why, sizeof(why)) != MS_OK)
			j->errors++;
	}
	free(buf);
	return NULL;
}

static int open_stores(const char *loc, struct stores *s)
{
	char why[512] = "";
	memset(s, 0, sizeof(*s));
	enum ms_store_backend b;
	const char *path = NULL;
	if (ms_store_parse_location(loc, &b, &path, why, sizeof(why)) != MS_OK)
		return -1;
	s->dops = b == MS_STORE_POSTGRESQL ? ms_dmarcrep_store_postgresql()
					   : ms_dmarcrep_store_sqlite();
	if (ms_sts_store_open(NULL, loc, &s->sts, why, sizeof(why)) != MS_OK ||
	    ms_rtls_store_open(NULL, loc, &s->rtls, why, sizeof(why)) != MS_OK ||
	    s->dops->open(NULL, b == MS_STORE_SQLITE ? path : loc, &s->dmarc, why,
			  sizeof(why)) != MS_OK) {
		fprintf(stderr, "bench-store: %s: %s\n", loc, why);
		return -1;
	}
	/* a cache that holds the domains: the reads find an entry */
	static const char pol[] = "version: STSv1\nmode: enforce\nmx: mx.example\nmax_age: 86400\n";
	for (int i = 0; i < 1000; i++) {
		struct ms_sts_entry e;
		memset(&e, 0, sizeof(e));
		e.version = MS_STS_ENTRY_VERSION;
		snprintf(e.domain, sizeof(e.domain), "d%d.example", i);
		strcpy(e.id, "20260101");
		e.policy = (const uint8_t *)pol;
		e.policy_len = sizeof(pol) - 1;
		e.fetched_at = e.last_used = 1764633600;
		e.expires_at = e.fetched_at + 86400;
		if (ms_sts_store_put(s->sts, &e) != MS_OK)
			return -1;
	}
	return 0;
}

static void close_stores(struct stores *s)
{
	ms_sts_store_free(s->sts);
	ms_rtls_store_free(s->rtls);
	if (s->dmarc)
		s->dops->close(s->dmarc);
}

/* ns per delivery of one run with `threads` writers; -1 on errors */
static double run(struct stores *s, int threads)
{
	pthread_t t[8];
	struct job j[8];
	uint64_t t0 = now_ns();
	for (int k = 0; k < threads; k++) {
		j[k] = (struct job){ s, k * (DELIVERIES / threads), DELIVERIES / threads, 0 };
		pthread_create(&t[k], NULL, worker, &j[k]);
	}
	int errors = 0;
	for (int k = 0; k < threads; k++) {
		pthread_join(t[k], NULL);
		errors += j[k].errors;
	}
	if (errors) {
		fprintf(stderr, "bench-store: %d failed operations\n", errors);
		return -1;
	}
	return (double)(now_ns() - t0) / DELIVERIES;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median3(struct stores *s, int threads)
{
	double v[3];
	for (int i = 0; i < 3; i++)
		if ((v[i] = run(s, threads)) < 0)
			return -1;
	qsort(v, 3, sizeof(v[0]), cmpd);
	return v[1];
}

int main(void)
{
	if (!ms_store_have_postgresql()) {
		fprintf(stderr, "bench-store: built without libpq\n");
		return 1;
	}
	char pgdir[64] = "", uri[256] = "";
	const char *env_uri = getenv("MS_BENCH_PG_URI");
	if (env_uri) {
		snprintf(uri, sizeof(uri), "%s", env_uri);
	} else {
		snprintf(pgdir, sizeof(pgdir), "/tmp/msbench.XXXXXX");
		if (mkdtemp(pgdir) == NULL)
			return 1;
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "'%s' start '%s'", PG_SERVER_SH, pgdir);
		FILE *p = popen(cmd, "r");
		if (p == NULL || fgets(uri, sizeof(uri), p) == NULL) {
			fprintf(stderr, "bench-store: could not start PostgreSQL\n");
			return 1;
		}
		pclose(p);
		uri[strcspn(uri, "\r\n")] = '\0';
	}
	char dir[] = "/tmp/msbench-sqlite.XXXXXX", sq[128];
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sq, sizeof(sq), "sqlite:%s/store.db", dir);
	struct stores pg, lite;
	int rc = 1;
	if (open_stores(uri, &pg) == 0 && open_stores(sq, &lite) == 0) {
		rc = 0;
		int ws[] = { 1, 8 };
		for (int w = 0; w < 2; w++) {
			double ours = median3(&pg, ws[w]), theirs = median3(&lite, ws[w]);
			if (ours < 0 || theirs < 0) {
				rc = 1;
				break;
			}
			printf("bench store-delivery-w%d/sqlite ours_ns=%.0f sqlite_ns=%.0f ratio=%.2f\n",
			       ws[w], ours, theirs, theirs / ours);
			printf("# store-delivery-w%d: postgresql %.0f ops/s, sqlite %.0f ops/s\n",
			       ws[w], 3e9 / ours, 3e9 / theirs);
		}
	}
	close_stores(&pg);
	close_stores(&lite);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	if (pgdir[0]) {
		snprintf(cmd, sizeof(cmd), "'%s' stop '%s'", PG_SERVER_SH, pgdir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
