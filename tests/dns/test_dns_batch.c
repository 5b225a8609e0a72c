/*
 * test_dns_batch.c - lookup batches (ms_dns_batch_*): rounds against the
 * view, lookups of one round submitted together, prefetch, failed
 * submits, the deadline (a lookup still pending reads as a timeout
 * failure, never absent), cancel by free, and answers delivered by
 * another thread.
 *
 * Unit cases run over an injected "real" resolver that counts what is
 * asked; the deadline and thread cases over the signed test world plus a
 * zone hang.test whose server never answers (a loopback UDP socket nobody
 * reads, reached through a stub-zone).
 */
#include "mstest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- an injected real resolver ------------------------------------------
 * TXT "a.test" names "b.test"; every other name has one TXT record equal
 * to its name, except "broken.test" (the resolver fails) and
 * "none.test" (NXDOMAIN). */
static int asked[64];
static char asked_name[64][64];
static int nasked, round_no;

static ms_status fake(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	(void)user;
	if (nasked < 64) {
		asked[nasked] = round_no;
		snprintf(asked_name[nasked], sizeof(asked_name[nasked]), "%s", name);
	}
	nasked++;
	if (strcmp(name, "broken.test") == 0)
		return MS_ERR_INTERNAL;
	if (strcmp(name, "none.test") == 0)
		return ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, MS_DNS_SECURE, out);
	ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, MS_DNS_SECURE, out);
	if (st != MS_OK)
		return st;
	const char *txt = strcmp(name, "a.test") == 0 ? "b.test" : name;
	uint8_t rd[256];
	rd[0] = (uint8_t)strlen(txt);
	memcpy(rd + 1, txt, rd[0]);
	return ms_dns_result_add(*out, type, rd, (size_t)rd[0] + 1);
}

/* What the "evaluator" found in its last round. */
struct seen {
	char chain_end[64];      /* the TXT of the name a.test points to */
	int x_ok, y_ok;          /* x.test, y.test answered */
	ms_status broken_st;
	int none_outcome;
};

static void txt_of(struct ms_dns_ctx *view, const char *name, char *buf, size_t len)
{
	struct ms_dns_result *r = NULL;
	buf[0] = '\0';
	if (ms_dns_lookup(view, name, MS_DNS_T_TXT, &r, NULL, 0) == MS_OK &&
	    ms_dns_result_outcome(r) == MS_DNS_ANSWER && ms_dns_result_count(r) == 1)
		ms_dns_result_txt(r, 0, buf, len, NULL);
	ms_dns_result_free(r);
}

/* A synchronous "evaluator": the chain a.test -> b.test, two independent
 * names, a failing one and an absent one. */
static void evaluate(struct ms_dns_ctx *view, struct seen *s)
{
	char next[64], buf[64];
	memset(s, 0, sizeof(*s));
	txt_of(view, "a.test", next, sizeof(next));
	if (next[0])
		txt_of(view, next, s->chain_end, sizeof(s->chain_end));
	txt_of(view, "x.test", buf, sizeof(buf));
	s->x_ok = strcmp(buf, "x.test") == 0;
	txt_of(view, "y.test", buf, sizeof(buf));
	s->y_ok = strcmp(buf, "y.test") == 0;
	struct ms_dns_result *r = NULL;
	s->broken_st = ms_dns_lookup(view, "broken.test", MS_DNS_T_TXT, &r, NULL, 0);
	ms_dns_result_free(r);
	r = NULL;
	if (ms_dns_lookup(view, "none.test", MS_DNS_T_TXT, &r, NULL, 0) == MS_OK)
		s->none_outcome = (int)ms_dns_result_outcome(r);
	ms_dns_result_free(r);
}

/* Step a batch over a context nobody else processes until it settles;
 * returns the number of rounds. */
static int drive(struct ms_dns_batch *b, struct ms_dns_ctx *real, struct seen *s)
{
	int rounds = 0;
	for (int guard = 0; guard < 1000; guard++) {
		enum ms_dns_batch_state st;
		ck_assert_int_eq(ms_dns_batch_step(b, &st), MS_OK);
		if (st == MS_DNS_BATCH_SETTLED)
			return rounds;
		if (st == MS_DNS_BATCH_ROUND) {
			round_no = ++rounds;
			evaluate(ms_dns_batch_view(b), s);
			continue;
		}
		int t = ms_dns_batch_timeout_ms(b);
		struct pollfd p = { .fd = ms_dns_fd(real), .events = POLLIN };
		poll(&p, p.fd >= 0 ? 1 : 0, t >= 0 && t < 50 ? t : 50);
		ck_assert_int_eq(ms_dns_process(real), MS_OK);
	}
	ck_abort_msg("the batch never settled");
	return -1;
}

START_TEST(rounds_follow_the_chain_and_go_out_together)
{
	struct ms_dns_ctx *real = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake, NULL, &real), MS_OK);
	struct ms_dns_batch *b = NULL;
	ck_assert_int_eq(ms_dns_batch_new(NULL, real, 0, &b, NULL, 0), MS_OK);
	nasked = round_no = 0;
	struct seen s;
	int rounds = drive(b, real, &s);
	/* round 1 asks a, x, y, broken, none (submitted together after it);
	 * round 2 asks b (the chain's second link); round 3 reads only
	 * answers */
	ck_assert_int_eq(rounds, 3);
	ck_assert_int_eq(nasked, 6);   /* each name once */
	int in_round1 = 0;
	for (int i = 0; i < nasked; i++) {
		if (strcmp(asked_name[i], "b.test") == 0)
			ck_assert_int_eq(asked[i], 2);
		else
			in_round1 += asked[i] == 1;
	}
	ck_assert_int_eq(in_round1, 5);
	/* the settled round equals the synchronous lookups */
	ck_assert_str_eq(s.chain_end, "b.test");
	ck_assert(s.x_ok && s.y_ok);
	ck_assert_int_eq(s.broken_st, MS_ERR_INTERNAL);   /* the submit's error */
	ck_assert_int_eq(s.none_outcome, MS_DNS_NXDOMAIN);
	struct seen direct;
	evaluate(real, &direct);
	ck_assert_str_eq(direct.chain_end, s.chain_end);
	ck_assert_int_eq(direct.none_outcome, s.none_outcome);
	ck_assert_int_eq(direct.broken_st, s.broken_st);
	/* settled is final: stepping again runs no round */
	enum ms_dns_batch_state st;
	ck_assert_int_eq(ms_dns_batch_step(b, &st), MS_OK);
	ck_assert_int_eq(st, MS_DNS_BATCH_SETTLED);
	ck_assert_int_eq(ms_dns_batch_timeout_ms(b), -1);
	ck_assert_int_eq(ms_dns_batch_want(b, "late.test", MS_DNS_T_TXT, NULL, 0), MS_ERR_STATE);
	/* without MS_DNS_BATCH_LATE_LOOKUP, a name never fetched reads as a
	 * failed lookup after settling, never as absent */
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(ms_dns_batch_view(b), "late.test", MS_DNS_T_TXT, &r, NULL,
				       0), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_TIMEOUT);
	ck_assert(ms_dns_result_failed(r));
	ms_dns_result_free(r);
	/* the table */
	ck_assert_int_eq(ms_dns_batch_get(b, "B.TEST.", MS_DNS_T_TXT, &r), MS_OK);
	ck_assert_str_eq(ms_dns_result_qname(r), "b.test");
	ms_dns_result_free(r);
	ck_assert_int_eq(ms_dns_batch_get(b, "late.test", MS_DNS_T_TXT, &r), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dns_batch_get(b, "broken.test", MS_DNS_T_TXT, &r), MS_ERR_INTERNAL);
	ck_assert_ptr_null(r);
	ms_dns_batch_free(b);
	ms_dns_ctx_free(real);
}
END_TEST

START_TEST(late_lookup_flag_asks_the_real_context)
{
	struct ms_dns_ctx *real = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake, NULL, &real), MS_OK);
	struct ms_dns_batch *b = NULL;
	ck_assert_int_eq(ms_dns_batch_new(NULL, real, MS_DNS_BATCH_LATE_LOOKUP, &b, NULL, 0),
			 MS_OK);
	struct seen s;
	drive(b, real, &s);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(ms_dns_batch_view(b), "late.test", MS_DNS_T_TXT, &r, NULL,
				       0), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_ANSWER);
	ms_dns_result_free(r);
	ms_dns_batch_free(b);
	ms_dns_ctx_free(real);
}
END_TEST

/* A name wanted before the first round, which no round reads: the batch
 * waits for it before settling, and the table holds it. */
START_TEST(want_prefetches_before_the_first_round)
{
	struct ms_dns_ctx *real = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake, NULL, &real), MS_OK);
	struct ms_dns_batch *b = NULL;
	ck_assert_int_eq(ms_dns_batch_new(NULL, real, 0, &b, NULL, 0), MS_OK);
	nasked = round_no = 0;
	ck_assert_int_eq(ms_dns_batch_want(b, "key.test", MS_DNS_T_TXT, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_batch_want(b, "KEY.test.", MS_DNS_T_TXT, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_batch_want(b, "bad..name", MS_DNS_T_TXT, NULL, 0),
			 MS_ERR_INVALID);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_batch_get(b, "key.test", MS_DNS_T_TXT, &r), MS_ERR_STATE);
	struct seen s;
	drive(b, real, &s);
	ck_assert_int_eq(asked[0], 0);   /* submitted by the first step, before any round */
	ck_assert_str_eq(asked_name[0], "key.test");
	ck_assert_int_eq(nasked, 7);     /* once, despite two wants */
	ck_assert_int_eq(ms_dns_batch_get(b, "key.test", MS_DNS_T_TXT, &r), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_ANSWER);
	ms_dns_result_free(r);
	ms_dns_batch_free(b);
	ms_dns_ctx_free(real);
}
END_TEST

/* ---- the world with a black hole ---------------------------------------- */

static struct ms_dns_ctx *wdns;
static int hole = -1;
static char conf[4096];

static void world_setup(void)
{
	hole = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(hole, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(hole, (struct sockaddr *)&sa, &sl), 0);
	char src[4096];
	mstest_world_path(src, sizeof(src), "auth.conf");
	snprintf(conf, sizeof(conf), "%s/dns-batch-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	FILE *in = fopen(src, "r"), *out = fdopen(fd, "w");
	ck_assert_ptr_nonnull(in);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fprintf(out, "server:\n    local-zone: \"hang.test.\" transparent\n"
		     "    domain-insecure: \"hang.test\"\n"
		     "stub-zone:\n    name: \"hang.test\"\n    stub-addr: 127.0.0.1@%u\n",
		(unsigned)ntohs(sa.sin_port));
	fclose(out);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = conf,
				     /* the batches' deadlines (which scale) must end the
				      * black-holed lookups, not libunbound's own timeout */
				     .timeout_ms = mstest_scale_ms(8000) };
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &wdns, why, sizeof(why)) == MS_OK, "%s", why);
}

static void world_teardown(void)
{
	ms_dns_ctx_free(wdns);
	close(hole);
	unlink(conf);
}

struct wseen {
	int mx_outcome, mx_failed;
	int hang_outcome, hang_security, hang_failed;
};

static void wevaluate(struct ms_dns_ctx *view, struct wseen *s)
{
	struct ms_dns_result *r = NULL;
	memset(s, 0, sizeof(*s));
	s->mx_outcome = s->hang_outcome = -1;
	if (ms_dns_lookup(view, "example.test", MS_DNS_T_MX, &r, NULL, 0) == MS_OK) {
		s->mx_outcome = (int)ms_dns_result_outcome(r);
		s->mx_failed = ms_dns_result_failed(r);
	}
	ms_dns_result_free(r);
	r = NULL;
	if (ms_dns_lookup(view, "key.hang.test", MS_DNS_T_TXT, &r, NULL, 0) == MS_OK) {
		s->hang_outcome = (int)ms_dns_result_outcome(r);
		s->hang_security = (int)ms_dns_result_security(r);
		s->hang_failed = ms_dns_result_failed(r);
	}
	ms_dns_result_free(r);
}

START_TEST(deadline_reads_a_pending_lookup_as_a_timeout_failure)
{
	struct ms_dns_batch *b = NULL;
	ck_assert_int_eq(ms_dns_batch_new(NULL, wdns, 0, &b, NULL, 0), MS_OK);
	unsigned deadline = mstest_scale_ms(700);
	ms_dns_batch_set_deadline(b, deadline);
	uint64_t t0 = now_ms();
	struct wseen s;
	int rounds = 0, max_step_ms = 0;
	for (;;) {
		enum ms_dns_batch_state st;
		uint64_t s0 = now_ms();
		ck_assert_int_eq(ms_dns_batch_step(b, &st), MS_OK);
		if ((int)(now_ms() - s0) > max_step_ms)
			max_step_ms = (int)(now_ms() - s0);
		if (st == MS_DNS_BATCH_SETTLED)
			break;
		if (st == MS_DNS_BATCH_ROUND) {
			rounds++;
			wevaluate(ms_dns_batch_view(b), &s);
			continue;
		}
		int t = ms_dns_batch_timeout_ms(b);
		ck_assert_int_ge(t, 0);   /* a deadline is set: never "forever" */
		ck_assert_int_le(t, (int)deadline);
		struct pollfd p = { .fd = ms_dns_fd(wdns), .events = POLLIN };
		poll(&p, 1, t);
		ck_assert_int_eq(ms_dns_process(wdns), MS_OK);
		ck_assert_msg(now_ms() - t0 < mstest_scale_ms(5000), "the deadline did not end the batch");
	}
	uint64_t took = now_ms() - t0;
	ck_assert_msg(took >= deadline - 5 && took < deadline + mstest_scale_ms(1500),
		      "settled after %llu ms, deadline %u", (unsigned long long)took, deadline);
	ck_assert(ms_dns_batch_closed(b));
	/* the answered lookup is reported as usual */
	ck_assert_int_eq(s.mx_outcome, MS_DNS_ANSWER);
	ck_assert(!s.mx_failed);
	/* the pending one is a failed lookup: timeout, indeterminate, never
	 * NXDOMAIN/NODATA (absent) or insecure */
	ck_assert_int_eq(s.hang_outcome, MS_DNS_TIMEOUT);
	ck_assert_int_eq(s.hang_security, MS_DNS_INDETERMINATE);
	ck_assert(s.hang_failed);
	ck_assert_int_ge(rounds, 2);   /* the round after the close read it */
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_batch_get(b, "key.hang.test", MS_DNS_T_TXT, &r), MS_ERR_STATE);
	/* cancelled at the close: nothing left on the shared context */
	ck_assert_uint_eq(ms_dns_pending(wdns), 0);
	ms_dns_batch_free(b);
}
END_TEST

START_TEST(free_while_pending_cancels)
{
	struct ms_dns_batch *b = NULL;
	ck_assert_int_eq(ms_dns_batch_new(NULL, wdns, 0, &b, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_batch_want(b, "k1.hang.test", MS_DNS_T_TXT, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_batch_want(b, "k2.hang.test", MS_DNS_T_TXT, NULL, 0), MS_OK);
	enum ms_dns_batch_state st;
	ck_assert_int_eq(ms_dns_batch_step(b, &st), MS_OK);
	ck_assert_int_eq(st, MS_DNS_BATCH_ROUND);
	ck_assert_int_eq(ms_dns_batch_step(b, &st), MS_OK);
	ck_assert_int_eq(st, MS_DNS_BATCH_PENDING);
	ck_assert_uint_eq(ms_dns_pending(wdns), 2);
	ms_dns_batch_free(b);
	ck_assert_uint_eq(ms_dns_pending(wdns), 0);
	ck_assert_int_eq(ms_dns_process(wdns), MS_OK);   /* no callback into freed memory */
}
END_TEST

/* ---- threads: another thread delivers ------------------------------------ */

static volatile int stop_pump;

static void *pump(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_pump, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = ms_dns_fd(wdns), .events = POLLIN };
		poll(&p, 1, 5);
		ms_dns_process(wdns);
	}
	return NULL;
}

static void *batch_worker(void *arg)
{
	int *ok = arg;
	for (int i = 0; i < 4; i++) {
		struct ms_dns_batch *b = NULL;
		if (ms_dns_batch_new(NULL, wdns, 0, &b, NULL, 0) != MS_OK)
			return NULL;
		ms_dns_batch_set_deadline(b, mstest_scale_ms(400));
		struct wseen s;
		memset(&s, 0, sizeof(s));
		for (;;) {
			enum ms_dns_batch_state st;
			if (ms_dns_batch_step(b, &st) != MS_OK)
				break;
			if (st == MS_DNS_BATCH_SETTLED)
				break;
			if (st == MS_DNS_BATCH_ROUND) {
				wevaluate(ms_dns_batch_view(b), &s);
				continue;
			}
			/* never ms_dns_process here: the pump thread delivers */
			int t = ms_dns_batch_timeout_ms(b);
			poll(NULL, 0, t >= 0 && t < 5 ? t : 5);
		}
		/* the black-holed lookup is cut by the deadline.  Under valgrind
		 * the deadline scales but libunbound's clock for the silent
		 * server does not: it may give up first with SERVFAIL, which is
		 * the same fail-closed result (failed, indeterminate) */
		int hang_cut = s.hang_outcome == MS_DNS_TIMEOUT ||
			       (getenv("MS_UNDER_VALGRIND") && s.hang_outcome == MS_DNS_SERVFAIL);
		if (s.mx_outcome == MS_DNS_ANSWER && !s.mx_failed && hang_cut && s.hang_failed &&
		    s.hang_security == MS_DNS_INDETERMINATE)
			(*ok)++;
		ms_dns_batch_free(b);
	}
	return NULL;
}

START_TEST(answers_delivered_by_another_thread)
{
	stop_pump = 0;
	pthread_t p, w[4];
	int ok[4] = { 0 };
	ck_assert_int_eq(pthread_create(&p, NULL, pump, NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, batch_worker, &ok[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&stop_pump, 1, __ATOMIC_RELEASE);
	pthread_join(p, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ok[i], 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dns-batch");
	TCase *u = tcase_create("unit");
	tcase_add_test(u, rounds_follow_the_chain_and_go_out_together);
	tcase_add_test(u, late_lookup_flag_asks_the_real_context);
	tcase_add_test(u, want_prefetches_before_the_first_round);
	suite_add_tcase(s, u);
	TCase *w = tcase_create("world");
	tcase_add_checked_fixture(w, world_setup, world_teardown);
	tcase_set_timeout(w, 60);
	tcase_add_test(w, deadline_reads_a_pending_lookup_as_a_timeout_failure);
	tcase_add_test(w, free_while_pending_cancels);
	tcase_add_test(w, answers_delivered_by_another_thread);
	suite_add_tcase(s, w);
	return mstest_run(s);
}
