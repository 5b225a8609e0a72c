/*
 * test_conc_reports.c - libreports' TLSRPT recorder shared by 8 threads
 * (the delivery threads of an MTA share one): every thread observes its
 * attempts into one recorder over one SQLite store, with a small batch so
 * flushes race with observes; afterwards the store holds exactly every
 * attempt, per domain and result.  CI runs it under ThreadSanitizer.
 */
#include "conc.h"

#include <mailsec/tlsrpt.h>

#define OPS 2000

static int64_t fixed_now(void *u)
{
	(void)u;
	return 1795867200; /* 2026-11-28 12:00Z */
}

static void *worker(void *arg)
{
	struct conc_thread *t = arg;
	struct ms_tlsrpt_recorder *rec = t->shared;
	conc_wait_start(t);
	for (unsigned i = 0; i < OPS; i++) {
		char dom[32], host[48];
		/* 40 domains shared by all threads, one failure in 10 */
		snprintf(dom, sizeof(dom), "d%u.example", i % 40);
		snprintf(host, sizeof(host), "mx.d%u.example", i % 40);
		struct ms_rtls_tlsrpt_event ev = {
			.policy_domain = dom, .policy_type = MS_TLSRPT_POLICY_NONE,
			.mx_host = host, .addr = "192.0.2.1",
			.result = i % 10 == 0 ? MS_TLSRPT_STARTTLS_NOT_SUPPORTED : MS_TLSRPT_SUCCESS,
			.reason = i % 10 == 0 ? "454 4.7.0 TLS not available" : "",
		};
		ms_tlsrpt_recorder_observe(rec, &ev);
		if (i % 500 == 499) {
			char why[200] = "";
			CONC_CHECK(t, ms_tlsrpt_recorder_flush(rec, why, sizeof(why)) == MS_OK,
				   "flush: %s", why);
		}
		t->ops++;
	}
	return NULL;
}

struct sums {
	uint64_t ok, failed;
	size_t rows;
};
static int add(void *arg, const struct ms_tlsrpt_row *r)
{
	struct sums *s = arg;
	s->rows++;
	if (r->result == MS_TLSRPT_SUCCESS)
		s->ok += r->count;
	else
		s->failed += r->count;
	return 0;
}

START_TEST(shared_recorder)
{
	char dir[300], db[400], why[256] = "";
	conc_mkdtemp(dir, sizeof(dir), "tlsrpt");
	snprintf(db, sizeof(db), "%s/tlsrpt.db", dir);
	struct ms_env env = { .version = MS_ENV_VERSION, .now = fixed_now };
	struct ms_tlsrpt_store *st = NULL;
	ck_assert_msg(ms_tlsrpt_store_open_sqlite(&env, db, &st, why, sizeof(why)) == MS_OK, "%s",
		      why);
	struct ms_tlsrpt_recorder_opts o = { .version = MS_TLSRPT_RECORDER_OPTS_VERSION,
					     .batch_rows = 16 };
	struct ms_tlsrpt_recorder *rec = NULL;
	ck_assert_int_eq(ms_tlsrpt_recorder_new(&env, st, &o, &rec, why, sizeof(why)), MS_OK);
	conc_run(worker, rec, OPS);
	ck_assert_uint_eq(ms_tlsrpt_recorder_observed(rec), (uint64_t)CONC_THREADS * OPS);
	ms_tlsrpt_recorder_free(rec);
	struct sums s = { 0 };
	ck_assert_int_eq(ms_tlsrpt_store_get(st, "2026-11-28", NULL, add, &s, why, sizeof(why)),
			 MS_OK);
	/* 40 domains; d0, d10, d20, d30 see only the failing attempts */
	ck_assert_uint_eq(s.rows, 40);
	ck_assert_uint_eq(s.ok + s.failed, (uint64_t)CONC_THREADS * OPS);
	ck_assert_uint_eq(s.failed, (uint64_t)CONC_THREADS * OPS / 10);
	memset(&s, 0, sizeof(s));
	ms_tlsrpt_store_get(st, "2026-11-28", "d7.example", add, &s, why, sizeof(why));
	ck_assert_uint_eq(s.ok + s.failed, (uint64_t)CONC_THREADS * OPS / 40);
	ms_tlsrpt_store_free(st);
	conc_rm_db(dir, db);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("conc-reports");
	TCase *tc = tcase_create("recorder");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shared_recorder);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
