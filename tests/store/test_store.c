/*
 * test_store.c - the store suite of issue 19, run against both backends:
 * the embedded SQLite file and a real PostgreSQL server this program starts
 * on loopback (pg_server.sh).  The same cases for each store: round trips,
 * the merge rules (newer MTA-STS policy wins, newer REQUIRETLS observation
 * wins, DMARC counts add), schema versions, two processes writing the same
 * domains at once; and for PostgreSQL: the server stopped and restarted
 * under load (a clean temporary error, then recovery), a client killed in
 * the middle of a batch (all or nothing).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/dmarc_report.h>
#include <mailsec/mtasts.h>
#include <mailsec/requiretls_store.h>
#include <mailsec/store.h>
#include <mailsec/tlsrpt.h>

#include <mailsec/requiretls_route.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mstest.h"
#include "pgtest.h"

static struct pgtest pg;
static char why[512];

enum { B_SQLITE = 0, B_PG = 1 };

/* A fresh location of backend `b`: an SQLite file of its own, or the
 * shared server (each case uses names no other case uses). */
static void location(int b, char *buf, size_t len)
{
	if (b == B_PG) {
		snprintf(buf, len, "%s", pg.uri);
		return;
	}
	char dir[] = "/tmp/msstore.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(buf, len, "sqlite:%s/store.db", dir);
}

static int64_t clock_now;
static int64_t fake_now(void *user)
{
	(void)user;
	return clock_now;
}

static struct ms_env env_at(void)
{
	struct ms_env e;
	memset(&e, 0, sizeof(e));
	e.version = MS_ENV_VERSION;
	e.now = fake_now;
	return e;
}

static const char POLICY[] = "version: STSv1\nmode: enforce\nmx: mx.a.example\nmax_age: 86400\n";

static struct ms_sts_entry entry(const char *domain, const char *id, int64_t fetched,
				 int64_t backoff_until, int64_t last_used)
{
	struct ms_sts_entry e;
	memset(&e, 0, sizeof(e));
	e.version = MS_STS_ENTRY_VERSION;
	snprintf(e.domain, sizeof(e.domain), "%s", domain);
	snprintf(e.id, sizeof(e.id), "%s", id);
	e.policy = (const uint8_t *)POLICY;
	e.policy_len = strlen(POLICY);
	e.fetched_at = fetched;
	e.expires_at = fetched + 86400;
	e.last_used = last_used;
	if (backoff_until) {
		snprintf(e.backoff_id, sizeof(e.backoff_id), "%s", "bad");
		e.backoff_until = backoff_until;
		e.failures = 2;
		e.last_failure = 3;
	}
	return e;
}

static struct ms_sts_entry get_entry(struct ms_sts_store *s, const char *domain,
				     uint8_t *buf, int *found)
{
	struct ms_sts_entry e;
	memset(&e, 0, sizeof(e));
	e.version = MS_STS_ENTRY_VERSION;
	ck_assert_int_eq(ms_sts_store_get(s, domain, &e, buf, MS_STS_POLICY_MAX, found), MS_OK);
	return e;
}

START_TEST(location_parsing)
{
	enum ms_store_backend b;
	const char *path;
	ck_assert_int_eq(ms_store_parse_location("sqlite:/var/x.db", &b, &path, why,
						 sizeof(why)), MS_OK);
	ck_assert_int_eq(b, MS_STORE_SQLITE);
	ck_assert_str_eq(path, "/var/x.db");
	ck_assert_int_eq(ms_store_parse_location("sqlite:///var/z.db", &b, &path, why,
						 sizeof(why)), MS_OK);
	ck_assert_str_eq(path, "/var/z.db");
	ck_assert_int_eq(ms_store_parse_location("sqlite://host/z.db", &b, &path, why,
						 sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_store_parse_location("/var/y.db", &b, &path, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(b, MS_STORE_SQLITE);
	ck_assert_str_eq(path, "/var/y.db");
	ck_assert_int_eq(ms_store_parse_location("postgresql://u@h:5/db", &b, &path, why,
						 sizeof(why)), MS_OK);
	ck_assert_int_eq(b, MS_STORE_POSTGRESQL);
	ck_assert_int_eq(ms_store_parse_location("postgres://h/db", &b, NULL, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(b, MS_STORE_POSTGRESQL);
	ck_assert_int_eq(ms_store_parse_location("redis://h/0", &b, NULL, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "unknown store scheme"));
	ck_assert_int_eq(ms_store_parse_location("sqlite:", &b, NULL, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_store_parse_location("", &b, NULL, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_store_parse_location(NULL, &b, NULL, why, sizeof(why)),
			 MS_ERR_INVALID);
	/* the status of an unreachable store is temporary */
	ck_assert(ms_status_is_temporary(MS_ERR_UNAVAILABLE));
	ck_assert_str_eq(ms_status_str(MS_ERR_UNAVAILABLE), "store unreachable");
}
END_TEST

/* MTA-STS cache: round trip, newer wins (RFC 8461 s5.1), back-off merge,
 * reopen (the schema is there, at our version). */
START_TEST(sts_cache)
{
	char loc[256];
	location(_i, loc, sizeof(loc));
	struct ms_sts_store *s = NULL;
	ck_assert_msg(ms_sts_store_open(NULL, loc, &s, why, sizeof(why)) == MS_OK, "%s", why);
	uint8_t buf[MS_STS_POLICY_MAX];
	int found = 1;
	struct ms_sts_entry e = get_entry(s, "absent.example", buf, &found);
	ck_assert_int_eq(found, 0);

	struct ms_sts_entry in = entry("A.Cache.Example.", "id1", 1000, 0, 1000);
	ck_assert_int_eq(ms_sts_store_put(s, &in), MS_OK);
	e = get_entry(s, "a.cache.example", buf, &found);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(e.domain, "a.cache.example");
	ck_assert_str_eq(e.id, "id1");
	ck_assert_uint_eq(e.policy_len, strlen(POLICY));
	ck_assert_int_eq(memcmp(e.policy, POLICY, e.policy_len), 0);
	ck_assert_int_eq(e.fetched_at, 1000);
	ck_assert_int_eq(e.expires_at, 1000 + 86400);

	/* another MTA writes what it fetched earlier: the newer policy stays */
	in = entry("a.cache.example", "id0", 900, 0, 1100);
	ck_assert_int_eq(ms_sts_store_put(s, &in), MS_OK);
	e = get_entry(s, "a.cache.example", buf, &found);
	ck_assert_str_eq(e.id, "id1");
	ck_assert_int_eq(e.fetched_at, 1000);
	ck_assert_int_eq(e.last_used, 1100);   /* the later use is kept */

	/* a newer fetch replaces it */
	in = entry("a.cache.example", "id2", 2000, 0, 2000);
	ck_assert_int_eq(ms_sts_store_put(s, &in), MS_OK);
	e = get_entry(s, "a.cache.example", buf, &found);
	ck_assert_str_eq(e.id, "id2");
	ck_assert_int_eq(e.fetched_at, 2000);

	/* a failed refetch backs off; a stale touch (no back-off) keeps it */
	in = entry("a.cache.example", "id2", 2000, 5000, 2100);
	ck_assert_int_eq(ms_sts_store_put(s, &in), MS_OK);
	in = entry("a.cache.example", "id2", 2000, 0, 2200);
	ck_assert_int_eq(ms_sts_store_put(s, &in), MS_OK);
	e = get_entry(s, "a.cache.example", buf, &found);
	ck_assert_int_eq(e.backoff_until, 5000);
	ck_assert_str_eq(e.backoff_id, "bad");
	ck_assert_uint_eq(e.failures, 2);
	ck_assert_int_eq(e.last_used, 2200);
	/* a newer successful fetch clears the back-off */
	in = entry("a.cache.example", "id3", 3000, 0, 3000);
	ck_assert_int_eq(ms_sts_store_put(s, &in), MS_OK);
	e = get_entry(s, "a.cache.example", buf, &found);
	ck_assert_str_eq(e.id, "id3");
	ck_assert_int_eq(e.backoff_until, 0);
	ck_assert_uint_eq(e.failures, 0);
	ms_sts_store_free(s);

	/* reopened: the schema is found at its version, the entry is there */
	ck_assert_msg(ms_sts_store_open(NULL, loc, &s, why, sizeof(why)) == MS_OK, "%s", why);
	e = get_entry(s, "a.cache.example", buf, &found);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(e.id, "id3");
	ms_sts_store_free(s);
}
END_TEST

/* REQUIRETLS memory: the newer observation wins, requiretls_last only
 * moves forward. */
START_TEST(rtls_memory)
{
	char loc[256];
	location(_i, loc, sizeof(loc));
	struct ms_env env = env_at();
	struct ms_rtls_store *s = NULL;
	ck_assert_msg(ms_rtls_store_open(&env, loc, &s, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_rtls_capability c;
	int found = 1;
	ck_assert_int_eq(ms_rtls_store_get(s, "acct", "r.example", &c, &found, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(found, 0);
	clock_now = 100;
	ck_assert_int_eq(ms_rtls_store_record(s, "acct", "R.Example.", 1, 1, why, sizeof(why)),
			 MS_OK);
	clock_now = 200;
	ck_assert_int_eq(ms_rtls_store_record(s, "acct", "r.example", 1, 0, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(s, "acct", "r.example", &c, &found, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(c.starttls, 1);
	ck_assert_int_eq(c.requiretls, 0);
	ck_assert_int_eq(c.updated, 200);
	ck_assert_int_eq(c.requiretls_last, 100);
	/* an MTA reporting an older attempt does not overwrite the newer one */
	clock_now = 150;
	ck_assert_int_eq(ms_rtls_store_record(s, "acct", "r.example", 1, 1, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(s, "acct", "r.example", &c, &found, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(c.requiretls, 0);
	ck_assert_int_eq(c.updated, 200);
	ck_assert_int_eq(c.requiretls_last, 150);
	/* accounts are separate */
	ck_assert_int_eq(ms_rtls_store_get(s, "other", "r.example", &c, &found, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(found, 0);
	ms_rtls_store_free(s);
}
END_TEST

static struct ms_dmarcrep_row mkrow(const char *domain, const char *ip, int64_t hour,
				    uint64_t count)
{
	struct ms_dmarcrep_row r;
	memset(&r, 0, sizeof(r));
	r.version = MS_DMARCREP_ROW_VERSION;
	r.hour = hour;
	snprintf(r.policy_domain, sizeof(r.policy_domain), "%s", domain);
	strcpy(r.policy, "p=quarantine sp=none adkim=r aspf=s pct=100");
	snprintf(r.source_ip, sizeof(r.source_ip), "%s", ip);
	snprintf(r.header_from, sizeof(r.header_from), "%s", domain);
	strcpy(r.envelope_from, "bounce.example.test");
	strcpy(r.disposition, "none");
	strcpy(r.dkim_eval, "pass");
	strcpy(r.spf_eval, "pass");
	strcpy(r.spf_domain, "bounce.example.test");
	strcpy(r.spf_scope, "mfrom");
	strcpy(r.spf_result, "pass");
	r.ndkim = 1;
	snprintf(r.dkim[0].domain, sizeof(r.dkim[0].domain), "%s", domain);
	strcpy(r.dkim[0].selector, "rsa");
	strcpy(r.dkim[0].result, "pass");
	r.count = count;
	return r;
}

struct tally {
	uint64_t sum;
	size_t rows;
};

static int tally(void *user, const struct ms_dmarcrep_row *r)
{
	struct tally *t = user;
	t->sum += r->count;
	t->rows++;
	return 0;
}

static struct tally dmarc_tally(struct ms_dmarcrep_store *s, const char *domain)
{
	struct tally t = { 0, 0 };
	ck_assert_msg(ms_dmarcrep_store_each(s, domain, 0, INT64_MAX, tally, &t, why,
					     sizeof(why)) == MS_OK, "%s", why);
	return t;
}

/* Record rows through a recorder that writes every `batch` rows. */
static ms_status dmarc_put(struct ms_dmarcrep_store *s, const struct ms_dmarcrep_row *rows,
			   size_t n, size_t batch)
{
	struct ms_dmarcrep_recorder *rec = NULL;
	ms_status st = ms_dmarcrep_recorder_new(NULL, s, batch, &rec, why, sizeof(why));
	for (size_t i = 0; st == MS_OK && i < n; i++)
		st = ms_dmarcrep_record(rec, &rows[i], why, sizeof(why));
	if (st == MS_OK)
		st = ms_dmarcrep_flush(rec, why, sizeof(why));
	ms_dmarcrep_recorder_free(rec);
	return st;
}

/* DMARC rows: counts add, expire drops old hours. */
START_TEST(dmarc_rows)
{
	char loc[256];
	location(_i, loc, sizeof(loc));
	struct ms_dmarcrep_store *s = NULL;
	ck_assert_msg(ms_dmarcrep_store_open(NULL, NULL, loc, &s, why, sizeof(why)) == MS_OK,
		      "%s", why);
	struct ms_dmarcrep_row rows[3] = {
		mkrow("rows.example", "192.0.2.1", 3600, 2),
		mkrow("rows.example", "192.0.2.2", 3600, 1),
		mkrow("rows.example", "192.0.2.1", 7200, 5),
	};
	ck_assert_msg(dmarc_put(s, rows, 3, 1) == MS_OK, "%s", why);
	ck_assert_msg(dmarc_put(s, rows, 3, 10) == MS_OK, "%s", why);
	struct tally t = dmarc_tally(s, "rows.example");
	ck_assert_uint_eq(t.rows, 3);
	ck_assert_uint_eq(t.sum, 16);
	ck_assert_int_eq(ms_dmarcrep_store_expire(s, 7200, why, sizeof(why)), MS_OK);
	t = dmarc_tally(s, "rows.example");
	ck_assert_uint_eq(t.rows, 1);
	ck_assert_uint_eq(t.sum, 10);
	ms_dmarcrep_store_free(s);
}
END_TEST

static struct ms_tlsrpt_row trow(const char *day, const char *domain, const char *host,
				  enum ms_tlsrpt_result res, uint64_t count)
{
	struct ms_tlsrpt_row r;
	memset(&r, 0, sizeof(r));
	snprintf(r.day, sizeof(r.day), "%s", day);
	r.policy_domain = domain;
	r.policy_type = MS_TLSRPT_POLICY_STS;
	r.policy_strings = "version: STSv1\nmode: enforce\nmx: *.t.example\nmax_age: 86400";
	r.mx_patterns = "*.t.example";
	r.mx_host = host;
	r.addr = "192.0.2.7";
	r.result = res;
	r.reason = res == MS_TLSRPT_SUCCESS ? "" : "certificate expired";
	r.count = count;
	return r;
}

static int tsum(void *arg, const struct ms_tlsrpt_row *r)
{
	struct tally *t = arg;
	t->sum += r->count;
	t->rows++;
	return 0;
}

/* TLSRPT rows: counts add per key, a day's rows by domain, expire. */
START_TEST(tlsrpt_rows)
{
	char loc[256];
	location(_i, loc, sizeof(loc));
	struct ms_tlsrpt_store *s = NULL;
	ck_assert_msg(ms_tlsrpt_store_open(NULL, loc, &s, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_tlsrpt_row rows[3] = {
		trow("2026-12-01", "t.example", "mx1.t.example", MS_TLSRPT_SUCCESS, 3),
		trow("2026-12-01", "t.example", "mx2.t.example", MS_TLSRPT_CERTIFICATE_EXPIRED, 1),
		trow("2026-12-02", "t.example", "mx1.t.example", MS_TLSRPT_SUCCESS, 5),
	};
	ck_assert_msg(ms_tlsrpt_store_batch(s, rows, 3, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_msg(ms_tlsrpt_store_put(s, &rows[0], why, sizeof(why)) == MS_OK, "%s", why);
	struct tally t = { 0, 0 };
	ck_assert_int_eq(ms_tlsrpt_store_get(s, "2026-12-01", "t.example", tsum, &t, why,
					     sizeof(why)), MS_OK);
	ck_assert_uint_eq(t.rows, 2);
	ck_assert_uint_eq(t.sum, 7);
	ck_assert_int_eq(ms_tlsrpt_store_expire(s, "2026-12-02", why, sizeof(why)), MS_OK);
	t = (struct tally){ 0, 0 };
	ck_assert_int_eq(ms_tlsrpt_store_get(s, "2026-12-01", NULL, tsum, &t, why, sizeof(why)),
			 MS_OK);
	ck_assert_uint_eq(t.rows, 0);
	t = (struct tally){ 0, 0 };
	ck_assert_int_eq(ms_tlsrpt_store_get(s, "2026-12-02", NULL, tsum, &t, why, sizeof(why)),
			 MS_OK);
	ck_assert_uint_eq(t.sum, 5);
	ms_tlsrpt_store_free(s);
}
END_TEST

/* Two processes ("two MTAs") write the same domains at once: every DMARC
 * message is counted, every REQUIRETLS observation and MTA-STS policy ends
 * as the newest either wrote. */
#define WRITES 150
static int writer(const char *loc, int w)
{
	char e[512];
	struct ms_dmarcrep_store *d = NULL;
	struct ms_sts_store *c = NULL;
	struct ms_rtls_store *r = NULL;
	struct ms_tlsrpt_store *tr = NULL;
	struct ms_env env = env_at();
	if (ms_tlsrpt_store_open(NULL, loc, &tr, e, sizeof(e)) != MS_OK ||
	    ms_dmarcrep_store_open(NULL, NULL, loc, &d, e, sizeof(e)) != MS_OK ||
	    ms_sts_store_open(NULL, loc, &c, e, sizeof(e)) != MS_OK ||
	    ms_rtls_store_open(&env, loc, &r, e, sizeof(e)) != MS_OK) {
		fprintf(stderr, "writer %d: %s\n", w, e);
		return 1;
	}
	int bad = 0;
	for (int i = 0; i < WRITES; i++) {
		char dom[64], ip[32], id[32];
		snprintf(dom, sizeof(dom), "d%d.two.example", i % 10);
		snprintf(ip, sizeof(ip), "198.51.100.%d", i % 10);
		struct ms_dmarcrep_row row = mkrow(dom, ip, 3600, 1);
		struct ms_dmarcrep_recorder *rec = NULL;
		if (ms_dmarcrep_recorder_new(NULL, d, 1, &rec, e, sizeof(e)) != MS_OK ||
		    ms_dmarcrep_record(rec, &row, e, sizeof(e)) != MS_OK)
			bad++;
		ms_dmarcrep_recorder_free(rec);
		/* writer w fetches at times that interleave with the other's */
		snprintf(id, sizeof(id), "w%d-%d", w, i);
		struct ms_sts_entry en = entry(dom, id, 10 * i + w, 0, 10 * i + w);
		if (ms_sts_store_put(c, &en) != MS_OK)
			bad++;
		struct ms_tlsrpt_row tw = trow("2026-12-03", dom, "mx.two.example",
					       MS_TLSRPT_SUCCESS, 1);
		if (ms_tlsrpt_store_put(tr, &tw, e, sizeof(e)) != MS_OK)
			bad++;
		clock_now = 10 * i + w;
		if (ms_rtls_store_record(r, "two", dom, 1, w, e, sizeof(e)) != MS_OK)
			bad++;
	}
	ms_dmarcrep_store_free(d);
	ms_sts_store_free(c);
	ms_rtls_store_free(r);
	ms_tlsrpt_store_free(tr);
	if (bad)
		fprintf(stderr, "writer %d: %d failed writes, last: %s\n", w, bad, e);
	return bad ? 1 : 0;
}

START_TEST(two_writers)
{
	char loc[256];
	location(_i, loc, sizeof(loc));
	/* create the schemas first: the writers race on the rows, not on it */
	struct ms_dmarcrep_store *d = NULL;
	ck_assert_msg(ms_dmarcrep_store_open(NULL, NULL, loc, &d, why, sizeof(why)) == MS_OK,
		      "%s", why);
	struct ms_tlsrpt_store *tr = NULL;
	ck_assert_msg(ms_tlsrpt_store_open(NULL, loc, &tr, why, sizeof(why)) == MS_OK, "%s", why);
	pid_t p[2];
	for (int w = 0; w < 2; w++) {
		p[w] = fork();
		ck_assert_int_ge(p[w], 0);
		if (p[w] == 0)
			_exit(writer(loc, w));
	}
	for (int w = 0; w < 2; w++) {
		int stc = 0;
		ck_assert_int_eq(waitpid(p[w], &stc, 0), p[w]);
		ck_assert_msg(WIFEXITED(stc) && WEXITSTATUS(stc) == 0, "writer %d failed", w);
	}
	for (int k = 0; k < 10; k++) {
		char dom[64];
		snprintf(dom, sizeof(dom), "d%d.two.example", k);
		struct tally t = dmarc_tally(d, dom);
		ck_assert_uint_eq(t.rows, 1);
		ck_assert_uint_eq(t.sum, 2 * WRITES / 10);
		t = (struct tally){ 0, 0 };
		ck_assert_int_eq(ms_tlsrpt_store_get(tr, "2026-12-03", dom, tsum, &t, why,
						     sizeof(why)), MS_OK);
		ck_assert_uint_eq(t.rows, 1);
		ck_assert_uint_eq(t.sum, 2 * WRITES / 10);
	}
	ms_tlsrpt_store_free(tr);
	ms_dmarcrep_store_free(d);
	struct ms_sts_store *c = NULL;
	ck_assert_msg(ms_sts_store_open(NULL, loc, &c, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_env env = env_at();
	struct ms_rtls_store *r = NULL;
	ck_assert_msg(ms_rtls_store_open(&env, loc, &r, why, sizeof(why)) == MS_OK, "%s", why);
	uint8_t buf[MS_STS_POLICY_MAX];
	for (int k = 0; k < 10; k++) {
		char dom[64];
		snprintf(dom, sizeof(dom), "d%d.two.example", k);
		int found = 0;
		struct ms_sts_entry e = get_entry(c, dom, buf, &found);
		ck_assert_int_eq(found, 1);
		/* the last i with i % 10 == k, written by writer 1 (fetched last) */
		int last = WRITES - 10 + k;
		char id[32];
		snprintf(id, sizeof(id), "w1-%d", last);
		ck_assert_str_eq(e.id, id);
		ck_assert_int_eq(e.fetched_at, 10 * last + 1);
		struct ms_rtls_capability cap;
		ck_assert_int_eq(ms_rtls_store_get(r, "two", dom, &cap, &found, why, sizeof(why)),
				 MS_OK);
		ck_assert_int_eq(cap.updated, 10 * last + 1);
		ck_assert_int_eq(cap.requiretls, 1);
		ck_assert_int_eq(cap.requiretls_last, 10 * last + 1);
	}
	ms_sts_store_free(c);
	ms_rtls_store_free(r);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The server stopped and restarted under load: a child writes one DMARC
 * row after the other (the store's put, the per-message write) and reads
 * the policy cache; while the server is down every call fails with
 * MS_ERR_UNAVAILABLE (temporary) within the connect timeout, and the calls
 * succeed again once it is back.  The count in the database is what the
 * successful puts wrote (a put cut by the shutdown may have committed
 * before its answer was lost: at most one per outage). */
struct load_counts {
	long ok, unavailable, other, ok_after, slowest_ms, sts_unavailable;
};

static int readable(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	return poll(&pf, 1, 0) > 0;
}

static void load_child(int out, int stop)
{
	const struct ms_dmarcrep_store_ops *ops = ms_dmarcrep_store_postgresql();
	void *impl = NULL;
	char e[512];
	struct ms_sts_store *c = NULL;
	if (ops->open(NULL, pg.uri, &impl, e, sizeof(e)) != MS_OK ||
	    ms_sts_store_open(NULL, pg.uri, &c, e, sizeof(e)) != MS_OK) {
		fprintf(stderr, "load: %s\n", e);
		_exit(2);
	}
	struct load_counts n = { 0, 0, 0, 0, 0, 0 };
	int outage = 0;
	struct ms_dmarcrep_row row = mkrow("load.example", "203.0.113.9", 3600, 1);
	uint8_t buf[MS_STS_POLICY_MAX];
	while (!readable(stop)) {
		double t0 = now_s();
		ms_status st = ops->put(impl, &row, e, sizeof(e));
		long ms = (long)((now_s() - t0) * 1000);
		if (ms > n.slowest_ms)
			n.slowest_ms = ms;
		if (st == MS_OK) {
			n.ok++;
			n.ok_after += outage;
		} else if (st == MS_ERR_UNAVAILABLE && ms_status_is_temporary(st) &&
			   strstr(e, "store unreachable") != NULL) {
			n.unavailable++;
			outage = 1;
			struct ms_sts_entry en;
			memset(&en, 0, sizeof(en));
			en.version = MS_STS_ENTRY_VERSION;
			int found = 0;
			if (ms_sts_store_get(c, "x.load.example", &en, buf, sizeof(buf), &found) ==
			    MS_ERR_UNAVAILABLE)
				n.sts_unavailable++;
			usleep(20000);
		} else {
			n.other++;
			fprintf(stderr, "load: unexpected %d: %s\n", st, e);
		}
	}
	ops->close(impl);
	ms_sts_store_free(c);
	_exit(write(out, &n, sizeof(n)) == sizeof(n) ? 0 : 3);
}

START_TEST(pg_restart_under_load)
{
	int fd[2], stop[2];
	ck_assert_int_eq(pipe(fd), 0);
	ck_assert_int_eq(pipe(stop), 0);
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0) {
		close(fd[0]);
		close(stop[1]);
		load_child(fd[1], stop[0]);
	}
	close(fd[1]);
	close(stop[0]);
	usleep(400000);
	ck_assert_int_eq(pgtest_halt(&pg), 0);
	usleep(800000);
	ck_assert_int_eq(pgtest_resume(&pg), 0);
	usleep(800000);
	ck_assert_int_eq(write(stop[1], "x", 1), 1);
	struct load_counts n;
	ck_assert_int_eq(read(fd[0], &n, sizeof(n)), (ssize_t)sizeof(n));
	int stc = 0;
	ck_assert_int_eq(waitpid(p, &stc, 0), p);
	ck_assert(WIFEXITED(stc) && WEXITSTATUS(stc) == 0);
	fprintf(stderr, "restart under load: ok=%ld unavailable=%ld other=%ld ok_after=%ld "
		"slowest=%ld ms sts_unavailable=%ld\n", n.ok, n.unavailable, n.other, n.ok_after,
		n.slowest_ms, n.sts_unavailable);
	ck_assert_int_eq(n.other, 0);          /* only the clean temporary error */
	ck_assert_int_gt(n.unavailable, 0);    /* the outage was seen */
	ck_assert_int_gt(n.sts_unavailable, 0);
	ck_assert_int_gt(n.ok_after, 0);       /* and recovered from */
	ck_assert_int_lt(n.slowest_ms, 5000);  /* no hang: within the connect timeout */
	struct ms_dmarcrep_store *d = NULL;
	ck_assert_msg(ms_dmarcrep_store_open(NULL, NULL, pg.uri, &d, why, sizeof(why)) == MS_OK,
		      "%s", why);
	struct tally t = dmarc_tally(d, "load.example");
	ck_assert_uint_ge(t.sum, (uint64_t)n.ok);
	ck_assert_uint_le(t.sum, (uint64_t)n.ok + 1);
	ms_dmarcrep_store_free(d);
}
END_TEST

/* After a restart the first read is answered (it is tried once more on a
 * new connection); the first write fails cleanly and the next succeeds. */
START_TEST(pg_read_after_restart)
{
	struct ms_sts_store *c = NULL;
	ck_assert_msg(ms_sts_store_open(NULL, pg.uri, &c, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_sts_entry in = entry("restart.example", "r1", 100, 0, 100);
	ck_assert_int_eq(ms_sts_store_put(c, &in), MS_OK);
	ck_assert_int_eq(pgtest_halt(&pg), 0);
	ck_assert_int_eq(pgtest_resume(&pg), 0);
	uint8_t buf[MS_STS_POLICY_MAX];
	int found = 0;
	struct ms_sts_entry e = get_entry(c, "restart.example", buf, &found);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(e.id, "r1");
	ck_assert_int_eq(pgtest_halt(&pg), 0);
	ck_assert_int_eq(pgtest_resume(&pg), 0);
	in = entry("restart.example", "r2", 200, 0, 200);
	ms_status st = ms_sts_store_put(c, &in);
	ck_assert_msg(st == MS_OK || st == MS_ERR_UNAVAILABLE, "%d", st);
	if (st != MS_OK)
		ck_assert_int_eq(ms_sts_store_put(c, &in), MS_OK);
	e = get_entry(c, "restart.example", buf, &found);
	ck_assert_str_eq(e.id, "r2");
	ms_sts_store_free(c);
}
END_TEST

/* A client killed in the middle of a batch leaves no half-written data:
 * the batch's rows are all there or none is. */
#define KILL_BATCH 4000
START_TEST(pg_killed_client)
{
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0) {
		close(go[0]);
		const struct ms_dmarcrep_store_ops *ops = ms_dmarcrep_store_postgresql();
		void *impl = NULL;
		char e[512];
		static struct ms_dmarcrep_row rows[KILL_BATCH];
		for (int i = 0; i < KILL_BATCH; i++) {
			char ip[32];
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
			rows[i] = mkrow("killed.example", ip, 3600, 1);
		}
		if (ops->open(NULL, pg.uri, &impl, e, sizeof(e)) != MS_OK)
			_exit(2);
		if (write(go[1], "g", 1) != 1)
			_exit(3);
		for (;;) /* batches until killed */
			ops->batch(impl, rows, KILL_BATCH, e, sizeof(e));
	}
	close(go[1]);
	char g;
	ck_assert_int_eq(read(go[0], &g, 1), 1);
	usleep(700000);
	ck_assert_int_eq(kill(p, SIGKILL), 0);
	int stc = 0;
	ck_assert_int_eq(waitpid(p, &stc, 0), p);
	ck_assert(WIFSIGNALED(stc));
	/* the server notices the dead client and rolls its transaction back */
	usleep(300000);
	struct ms_dmarcrep_store *d = NULL;
	ck_assert_msg(ms_dmarcrep_store_open(NULL, NULL, pg.uri, &d, why, sizeof(why)) == MS_OK,
		      "%s", why);
	struct tally t = dmarc_tally(d, "killed.example");
	fprintf(stderr, "killed client: %zu rows, sum %llu\n", t.rows, (unsigned long long)t.sum);
	ck_assert_uint_eq(t.sum % KILL_BATCH, 0);  /* whole batches only */
	ck_assert(t.rows == 0 || t.rows == KILL_BATCH);
	ms_dmarcrep_store_free(d);
}
END_TEST

/* A database whose schema is newer than the library is refused, not used. */
START_TEST(pg_newer_schema_refused)
{
	struct ms_env env = env_at();
	struct ms_rtls_store *r = NULL;
	ck_assert_msg(ms_rtls_store_open(&env, pg.uri, &r, why, sizeof(why)) == MS_OK, "%s",
		      why);
	ms_rtls_store_free(r);
	static const char *const bump[] = {
		"UPDATE mailsec_schema SET version = version + 98 WHERE component = 'requiretls'",
		"UPDATE mailsec_schema SET version = version - 98 WHERE component = 'requiretls'",
	};
	static const struct ms_pg_schema probe = { "store-test-probe", NULL, 0, bump, 2 };
	struct ms_pg *h = NULL;
	ck_assert_msg(ms_pg_open(NULL, pg.uri, &probe, &h, why, sizeof(why)) == MS_OK, "%s", why);
	int64_t n = 0;
	ck_assert_int_eq(ms_pg_exec(h, 0, 0, NULL, NULL, NULL, &n, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(ms_rtls_store_open(&env, pg.uri, &r, why, sizeof(why)), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(why, "newer than this library"));
	ck_assert_int_eq(ms_pg_exec(h, 1, 0, NULL, NULL, NULL, &n, why, sizeof(why)), MS_OK);
	ms_pg_close(h);
	ck_assert_msg(ms_rtls_store_open(&env, pg.uri, &r, why, sizeof(why)) == MS_OK, "%s",
		      why);
	ms_rtls_store_free(r);
}
END_TEST

/* Nothing listens: open fails with the temporary "unreachable", quickly. */
START_TEST(pg_unreachable_open)
{
	char uri[256];
	/* the halted server's port: nobody listens there between the tests */
	snprintf(uri, sizeof(uri), "postgresql://postgres@127.0.0.1:1/postgres");
	struct ms_sts_store *c = NULL;
	double t0 = now_s();
	ck_assert_int_eq(ms_sts_store_open(NULL, uri, &c, why, sizeof(why)), MS_ERR_UNAVAILABLE);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(why, "store unreachable"));
	ck_assert(now_s() - t0 < 5);
	struct ms_dmarcrep_store *d = NULL;
	ck_assert_int_eq(ms_dmarcrep_store_open(NULL, NULL, uri, &d, why, sizeof(why)),
			 MS_ERR_UNAVAILABLE);
}
END_TEST

/* A policy host that takes the connection and never answers: a listening
 * socket nobody accepts on (the kernel completes the handshake). */
static int stalled_host(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* The route of stsgap.test (signed, publishes _mta-sts) with the policy
 * host stalled and `store` as the cache; the Postfix answer's kind. */
static enum ms_rtls_postfix_kind stalled_route(struct ms_sts_store *store, int port,
					       unsigned *flags, int *all_tempfail, char *reply,
					       size_t replylen)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	ck_assert_ptr_nonnull(dns);
	char connect_to[128];
	snprintf(connect_to, sizeof(connect_to), "mta-sts.stsgap.test:443:127.0.0.1:%d", port);
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.connect_to = connect_to;
	cfg.fetch.timeout_ms = 1500;
	struct ms_sts *sts = NULL;
	ck_assert_msg(ms_sts_new(NULL, &cfg, dns, store, &sts, why, sizeof(why)) == MS_OK, "%s",
		      why);
	struct ms_rtls_route *r = NULL;
	ck_assert_msg(ms_rtls_route_new(NULL, dns, sts, "stsgap.test", MS_RTLS_REQ_DEFAULT, NULL,
					&r, why, sizeof(why)) == MS_OK, "%s", why);
	*flags = ms_rtls_route_flags(r);
	size_t n = ms_rtls_route_count(r);
	ck_assert_uint_gt(n, 0);
	*all_tempfail = 1;
	for (size_t i = 0; i < n; i++) {
		const struct ms_rtls_plan *p = ms_rtls_route_host_plan(ms_rtls_route_host(r, i));
		if (!(p->mode == MS_RTLS_MODE_SKIP && p->reason == MS_RTLS_R_STS_UNKNOWN &&
		      p->skip_verdict == MS_RTLS_TEMPFAIL))
			*all_tempfail = 0;
	}
	enum ms_rtls_postfix_kind kind = (enum ms_rtls_postfix_kind)-1;
	ck_assert_int_eq(ms_rtls_route_postfix_policy(r, 0, &kind, reply, replylen), MS_OK);
	ms_rtls_route_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
	return kind;
}

/* Fail closed (issue 19): the policy store is a stopped PostgreSQL and the
 * domain's policy host stalls: the route defers the domain (every host
 * TEMPFAIL, Postfix's answer TEMP) instead of delivering as if no policy
 * had ever been seen.  The control: with no store configured at all (no
 * cache, RFC 8461 s5.1) the same domain is "no policy" (NOTFOUND). */
START_TEST(pg_down_defers_sts_domain)
{
	int port = 0;
	int fd = stalled_host(&port);
	struct ms_sts_store *store = NULL;
	ck_assert_msg(ms_sts_store_open(NULL, pg.uri, &store, why, sizeof(why)) == MS_OK, "%s",
		      why);
	ck_assert_int_eq(pgtest_halt(&pg), 0);
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
	unsigned flags = 0;
	int all_temp = 0;
	enum ms_rtls_postfix_kind k = stalled_route(store, port, &flags, &all_temp, reply,
						    sizeof(reply));
	ck_assert_int_eq(pgtest_resume(&pg), 0);
	ck_assert_msg(flags & MS_RTLS_ROUTE_STS_UNKNOWN, "flags %#x", flags);
	ck_assert(all_temp);
	ck_assert_int_eq(k, MS_RTLS_POSTFIX_TEMP);
	ck_assert_msg(strncmp(reply, "TEMP ", 5) == 0 && strstr(reply, "MTA-STS"), "%s", reply);

	/* control: no store, the same stalled host */
	k = stalled_route(NULL, port, &flags, &all_temp, reply, sizeof(reply));
	ck_assert(!(flags & MS_RTLS_ROUTE_STS_UNKNOWN));
	ck_assert(!all_temp);
	ck_assert_int_eq(k, MS_RTLS_POSTFIX_NOTFOUND);

	/* and the store back up: the fetch failure is backed off, no defer */
	k = stalled_route(store, port, &flags, &all_temp, reply, sizeof(reply));
	ck_assert(!(flags & MS_RTLS_ROUTE_STS_UNKNOWN));
	ck_assert_int_eq(k, MS_RTLS_POSTFIX_NOTFOUND);
	ms_sts_store_free(store);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("both");
	tcase_set_timeout(tc, 120);
	int nb = 1;
	if (ms_store_have_postgresql()) {
		if (pgtest_start(&pg) != 0)
			return 1;  /* the server is part of the test: a failure, not a skip */
		nb = 2;
	} else {
		fprintf(stderr, "built without libpq: the SQLite backend only\n");
	}
	tcase_add_test(tc, location_parsing);
	tcase_add_loop_test(tc, sts_cache, 0, nb);
	tcase_add_loop_test(tc, rtls_memory, 0, nb);
	tcase_add_loop_test(tc, dmarc_rows, 0, nb);
	tcase_add_loop_test(tc, tlsrpt_rows, 0, nb);
	tcase_add_loop_test(tc, two_writers, 0, nb);
	if (nb == 2) {
		tcase_add_test(tc, pg_unreachable_open);
		tcase_add_test(tc, pg_newer_schema_refused);
		tcase_add_test(tc, pg_read_after_restart);
		tcase_add_test(tc, pg_killed_client);
		tcase_add_test(tc, pg_restart_under_load);
		tcase_add_test(tc, pg_down_defers_sts_domain);
	}
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgtest_stop(&pg);
	return failed ? 1 : 0;
}
