/*
 * test_dns_async.c - the event-loop API and sharing a context across
 * threads, against the real signed test world.
 */
#include "mstest.h"

#include <poll.h>
#include <pthread.h>

#define INFLIGHT 1000

/* Names with known answers, cycled over the 1,000 lookups. */
static const struct {
	const char *name;
	uint16_t type;
	enum ms_dns_outcome outcome;
	enum ms_dns_security security;
} cases[] = {
	{ "www.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_SECURE },
	{ "www.example.test", MS_DNS_T_AAAA, MS_DNS_ANSWER, MS_DNS_SECURE },
	{ "nosuch.example.test", MS_DNS_T_A, MS_DNS_NXDOMAIN, MS_DNS_SECURE },
	{ "www.insecure.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_INSECURE },
	{ "tampered.example.test", MS_DNS_T_A, MS_DNS_SERVFAIL, MS_DNS_BOGUS },
	{ "www.rsa.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_SECURE },
	{ "example.test", MS_DNS_T_MX, MS_DNS_ANSWER, MS_DNS_SECURE },
	{ "v4only.example.test", MS_DNS_T_AAAA, MS_DNS_NODATA, MS_DNS_SECURE },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct slot {
	int index;
	int answered;
	int correct;
	int outcome, security;
};

static void on_result(void *user, struct ms_dns_result *r)
{
	struct slot *s = user;
	size_t c = (size_t)s->index % NCASES;
	s->answered++;
	s->outcome = (int)ms_dns_result_outcome(r);
	s->security = (int)ms_dns_result_security(r);
	s->correct = ms_dns_result_outcome(r) == cases[c].outcome &&
		     ms_dns_result_security(r) == cases[c].security &&
		     strcmp(ms_dns_result_qname(r), cases[c].name) == 0;
	ms_dns_result_free(r);
}

/* Drive the context like an event loop until nothing is pending. */
static void run_loop(struct ms_dns_ctx *ctx, int max_ms)
{
	int waited = 0;
	while (ms_dns_pending(ctx) > 0) {
		int t = ms_dns_next_timeout_ms(ctx);
		struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
		int slice = (t >= 0 && t < 100) ? t : 100;
		poll(&p, 1, slice);
		ck_assert_int_eq(ms_dns_process(ctx), MS_OK);
		waited += slice ? slice : 1;
		ck_assert_msg(waited < max_ms, "event loop did not drain");
	}
}

START_TEST(thousand_lookups_in_flight)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	static struct slot slots[INFLIGHT];
	memset(slots, 0, sizeof(slots));
	for (int i = 0; i < INFLIGHT; i++) {
		slots[i].index = i;
		uint64_t id = 0;
		ck_assert_int_eq(ms_dns_submit(ctx, cases[i % NCASES].name,
					       cases[i % NCASES].type, on_result,
					       &slots[i], &id, NULL, 0), MS_OK);
		ck_assert_uint_ne(id, 0);
	}
	ck_assert_uint_eq(ms_dns_pending(ctx), INFLIGHT);
	run_loop(ctx, (int)mstest_scale_ms(60000));
	for (int i = 0; i < INFLIGHT; i++) {
		ck_assert_msg(slots[i].answered == 1, "lookup %d answered %d times", i,
			      slots[i].answered);
		ck_assert_msg(slots[i].correct, "lookup %d (%s) wrong: %s/%s", i,
			      cases[i % NCASES].name,
			      ms_dns_outcome_str(slots[i].outcome),
			      ms_dns_security_str(slots[i].security));
	}
	ms_dns_ctx_free(ctx);
}
END_TEST

START_TEST(cancel_suppresses_callback)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, 5000, 0);
	struct slot a = { 0 }, b = { .index = 0 };
	uint64_t ida, idb;
	ck_assert_int_eq(ms_dns_submit(ctx, "www.rsa.example.test", MS_DNS_T_A, on_result,
				       &a, &ida, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_submit(ctx, "www.example.test", MS_DNS_T_A, on_result,
				       &b, &idb, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, ida), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, ida), MS_ERR_INVALID);
	run_loop(ctx, 10000);
	ck_assert_int_eq(a.answered, 0);
	ck_assert_int_eq(b.answered, 1);
	ck_assert(b.correct);
	ck_assert_int_eq(ms_dns_cancel(ctx, 987654), MS_ERR_INVALID);
	ms_dns_ctx_free(ctx);
}
END_TEST

static void on_timeout_result(void *user, struct ms_dns_result *r)
{
	int *outcome = user;
	*outcome = (int)ms_dns_result_outcome(r);
	ms_dns_result_free(r);
}

START_TEST(async_deadline)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, 800, 0);
	int outcome = -1;
	ck_assert_int_eq(ms_dns_submit(ctx, "www.slow.example.test", MS_DNS_T_A,
				       on_timeout_result, &outcome, NULL, NULL, 0), MS_OK);
	int t = ms_dns_next_timeout_ms(ctx);
	ck_assert(t > 0 && t <= 800);
	run_loop(ctx, 10000);
	ck_assert(outcome == MS_DNS_TIMEOUT || outcome == MS_DNS_SERVFAIL);
	ms_dns_ctx_free(ctx);
}
END_TEST

/* The in-flight list in submission order: answers leave it from the middle,
 * a cancel from anywhere, expiry from the head; every lookup is delivered
 * exactly once and the next timeout is the oldest lookup's. */
START_TEST(mixed_answers_cancels_and_deadlines)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, 900, 0);
	enum { N = 12 };
	static struct slot fast[N];
	int slow[N];
	uint64_t slow_id[N];
	memset(fast, 0, sizeof(fast));
	for (int i = 0; i < N; i++) {
		slow[i] = -1;
		ck_assert_int_eq(ms_dns_submit(ctx, "www.slow.example.test", MS_DNS_T_A,
					       on_timeout_result, &slow[i], &slow_id[i], NULL,
					       0), MS_OK);
		fast[i].index = i;
		ck_assert_int_eq(ms_dns_submit(ctx, cases[i % NCASES].name,
					       cases[i % NCASES].type, on_result, &fast[i],
					       NULL, NULL, 0), MS_OK);
	}
	ck_assert_uint_eq(ms_dns_pending(ctx), 2 * N);
	int t = ms_dns_next_timeout_ms(ctx);
	ck_assert(t > 0 && t <= 900);
	/* the oldest, one in the middle and the newest slow lookup */
	ck_assert_int_eq(ms_dns_cancel(ctx, slow_id[0]), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, slow_id[N / 2]), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, slow_id[N - 1]), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, slow_id[N / 2]), MS_ERR_INVALID);
	ck_assert_uint_eq(ms_dns_pending(ctx), 2 * N - 3);
	run_loop(ctx, 15000);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(fast[i].answered == 1 && fast[i].correct, "fast %d: %d answers", i,
			      fast[i].answered);
		if (i == 0 || i == N / 2 || i == N - 1)
			ck_assert_int_eq(slow[i], -1);
		else
			ck_assert_msg(slow[i] == MS_DNS_TIMEOUT || slow[i] == MS_DNS_SERVFAIL,
				      "slow %d: outcome %d", i, slow[i]);
	}
	ck_assert_int_eq(ms_dns_next_timeout_ms(ctx), -1);
	ms_dns_ctx_free(ctx);
}
END_TEST

START_TEST(free_with_lookups_pending)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, 5000, 0);
	struct slot s = { 0 };
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(ms_dns_submit(ctx, "www.example.test", MS_DNS_T_A,
					       on_result, &s, NULL, NULL, 0), MS_OK);
	ms_dns_ctx_free(ctx); /* must neither leak nor call back */
	ck_assert_int_eq(s.answered, 0);
}
END_TEST

/* ---- 8 threads sharing one context ---------------------------------- */
struct worker {
	struct ms_dns_ctx *ctx;
	int id;
	int errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 200; i++) {
		size_t c = (size_t)(i + w->id) % NCASES;
		struct ms_dns_result *r = NULL;
		if (ms_dns_lookup(w->ctx, cases[c].name, cases[c].type, &r, NULL, 0) != MS_OK) {
			w->errors++;
			continue;
		}
		if (ms_dns_result_outcome(r) != cases[c].outcome ||
		    ms_dns_result_security(r) != cases[c].security)
			w->errors++;
		ms_dns_result_free(r);
	}
	return NULL;
}

START_TEST(eight_threads_share_a_context)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	pthread_t th[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ .ctx = ctx, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(w[i].errors == 0, "thread %d saw %d wrong answers", i, w[i].errors);
	}
	ms_dns_ctx_free(ctx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns-async");
	TCase *tc = tcase_create("async");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, thousand_lookups_in_flight);
	tcase_add_test(tc, cancel_suppresses_callback);
	tcase_add_test(tc, async_deadline);
	tcase_add_test(tc, mixed_answers_cancels_and_deadlines);
	tcase_add_test(tc, free_with_lookups_pending);
	suite_add_tcase(s, tc);
	TCase *tt = tcase_create("threads");
	tcase_set_timeout(tt, 120);
	tcase_add_test(tt, eight_threads_share_a_context);
	suite_add_tcase(s, tt);
	return s;
}

int main(void)
{
	return mstest_run(suite());
}
