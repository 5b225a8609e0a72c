/*
 * test_dns_coalesce.c - identical asynchronous lookups in flight share one
 * libunbound query (ms_dns_submit, docs/dns.md), against the real signed
 * test world and, for deadlines, a delayed upstream behind the DNS fault
 * proxy (delay_world.py).
 */
#include "mstest.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *helper_py, *python;

/* ---- counting metrics ------------------------------------------------ */
struct counts {
	pthread_mutex_t mu;
	double coalesced;
	double lookups;
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct counts *c = user;
	pthread_mutex_lock(&c->mu);
	if (strcmp(ev->name, "dns_lookups_coalesced_total") == 0)
		c->coalesced += ev->value;
	else if (strcmp(ev->name, "dns_lookups_total") == 0)
		c->lookups += ev->value;
	pthread_mutex_unlock(&c->mu);
}

static struct ms_env metric_env(struct counts *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	return (struct ms_env){ .version = MS_ENV_VERSION, .user = c, .metric = on_metric };
}

/* ---- results kept for comparison ------------------------------------- */
struct got {
	int calls;
	struct ms_dns_result *r;
};

static void keep(void *user, struct ms_dns_result *r)
{
	struct got *g = user;
	g->calls++;
	if (g->r)
		ms_dns_result_free(g->r);
	g->r = r;
}

static void run_loop(struct ms_dns_ctx *ctx, int max_ms)
{
	int waited = 0;
	while (ms_dns_pending(ctx) > 0) {
		int t = ms_dns_next_timeout_ms(ctx);
		struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
		int slice = (t >= 0 && t < 50) ? t : 50;
		poll(&p, 1, slice);
		ck_assert_int_eq(ms_dns_process(ctx), MS_OK);
		waited += slice ? slice : 1;
		ck_assert_msg(waited < max_ms, "event loop did not drain");
	}
}

/* Two results say the same: every field but the duration. */
static void assert_same(const struct ms_dns_result *a, const struct ms_dns_result *b)
{
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(ms_dns_result_outcome(a), ms_dns_result_outcome(b));
	ck_assert_int_eq(ms_dns_result_security(a), ms_dns_result_security(b));
	ck_assert_int_eq(ms_dns_result_ede(a), ms_dns_result_ede(b));
	const char *ta = ms_dns_result_ede_text(a), *tb = ms_dns_result_ede_text(b);
	ck_assert((ta == NULL) == (tb == NULL));
	if (ta)
		ck_assert_str_eq(ta, tb);
	ck_assert_uint_eq(ms_dns_result_ttl(a), ms_dns_result_ttl(b));
	ck_assert_str_eq(ms_dns_result_qname(a), ms_dns_result_qname(b));
	ck_assert_str_eq(ms_dns_result_canonical(a), ms_dns_result_canonical(b));
	ck_assert_int_eq(ms_dns_result_cname_secure(a), ms_dns_result_cname_secure(b));
	ck_assert_uint_eq(ms_dns_result_count(a), ms_dns_result_count(b));
	for (size_t i = 0; i < ms_dns_result_count(a); i++) {
		size_t la = 0, lb = 0;
		const uint8_t *da = ms_dns_result_rdata(a, i, &la);
		const uint8_t *db = ms_dns_result_rdata(b, i, &lb);
		ck_assert_uint_eq(la, lb);
		ck_assert_ptr_ne(da, db);
		ck_assert(memcmp(da, db, la) == 0);
	}
}

/* N identical submits: N callbacks, equal results (each its own copy),
 * N-1 joined lookups; a submit after the answer starts a new query. */
static void identical(const char *name, uint16_t type, enum ms_dns_outcome outcome,
		      enum ms_dns_security security, int want_cname_secure)
{
	enum { N = 25 };
	struct counts c;
	struct ms_env env = metric_env(&c);
	struct ms_dns_ctx *ctx = mstest_world_resolver(&env, mstest_scale_ms(10000), 0);
	struct got g[N];
	memset(g, 0, sizeof(g));
	uint64_t ids[N];
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ms_dns_submit(ctx, name, type, keep, &g[i], &ids[i], NULL, 0),
				 MS_OK);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(ids[i], ids[j]);
	}
	ck_assert_uint_eq(ms_dns_pending(ctx), N);
	ck_assert_int_eq((int)c.coalesced, N - 1);
	run_loop(ctx, (int)mstest_scale_ms(20000));
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(g[i].calls, 1);
		ck_assert_int_eq(ms_dns_result_outcome(g[i].r), outcome);
		ck_assert_int_eq(ms_dns_result_security(g[i].r), security);
		if (want_cname_secure != -2)
			ck_assert_int_eq(ms_dns_result_cname_secure(g[i].r), want_cname_secure);
		ck_assert_uint_eq(ms_dns_result_count(g[i].r) > 0, outcome == MS_DNS_ANSWER);
		if (i > 0)
			assert_same(g[0].r, g[i].r);
	}
	/* every joined lookup is a lookup of its own in the metrics */
	ck_assert_int_eq((int)c.lookups, N);
	/* the answer is in: the next submit is a query of its own */
	struct got late = { 0 };
	ck_assert_int_eq(ms_dns_submit(ctx, name, type, keep, &late, NULL, NULL, 0), MS_OK);
	ck_assert_int_eq((int)c.coalesced, N - 1);
	run_loop(ctx, (int)mstest_scale_ms(20000));
	ck_assert_int_eq(late.calls, 1);
	ck_assert_int_eq(ms_dns_result_outcome(late.r), outcome);
	ck_assert_int_eq(ms_dns_result_security(late.r), security);
	ck_assert_uint_eq(ms_dns_result_count(late.r), ms_dns_result_count(g[0].r));
	ms_dns_result_free(late.r);
	for (int i = 0; i < N; i++)
		ms_dns_result_free(g[i].r);
	ms_dns_ctx_free(ctx);
	pthread_mutex_destroy(&c.mu);
}

START_TEST(identical_submits_share_one_answer)
{
	identical("www.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_SECURE, -1);
	/* names are joined as normalised */
	struct counts c;
	struct ms_env env = metric_env(&c);
	struct ms_dns_ctx *ctx = mstest_world_resolver(&env, mstest_scale_ms(10000), 0);
	struct got a = { 0 }, b = { 0 }, d = { 0 };
	ck_assert_int_eq(ms_dns_submit(ctx, "WWW.Example.TEST.", MS_DNS_T_A, keep, &a, NULL,
				       NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_submit(ctx, "www.example.test", MS_DNS_T_A, keep, &b, NULL,
				       NULL, 0), MS_OK);
	/* another type is another query */
	ck_assert_int_eq(ms_dns_submit(ctx, "www.example.test", MS_DNS_T_AAAA, keep, &d, NULL,
				       NULL, 0), MS_OK);
	ck_assert_int_eq((int)c.coalesced, 1);
	run_loop(ctx, (int)mstest_scale_ms(20000));
	ck_assert_int_eq(a.calls + b.calls + d.calls, 3);
	assert_same(a.r, b.r);
	ck_assert_int_eq(ms_dns_result_qtype(d.r), MS_DNS_T_AAAA);
	ck_assert_int_eq(ms_dns_result_outcome(d.r), MS_DNS_ANSWER);
	ms_dns_result_free(a.r);
	ms_dns_result_free(b.r);
	ms_dns_result_free(d.r);
	ms_dns_ctx_free(ctx);
	pthread_mutex_destroy(&c.mu);
}
END_TEST

/* The CNAME state is worked out once and the same for every waiter. */
START_TEST(identical_submits_through_a_cname)
{
	identical("mxalias.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_SECURE, 1);
	identical("insalias.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_INSECURE, 1);
}
END_TEST

/* Bogus data coalesced: every waiter gets SERVFAIL/bogus, never records. */
START_TEST(bogus_name_coalesced_fails_for_every_waiter)
{
	identical("tampered.example.test", MS_DNS_T_A, MS_DNS_SERVFAIL, MS_DNS_BOGUS, -1);
	identical("bogalias.example.test", MS_DNS_T_A, MS_DNS_SERVFAIL, MS_DNS_BOGUS, -2);
}
END_TEST

START_TEST(cancel_one_waiter)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct got g[4];
	memset(g, 0, sizeof(g));
	uint64_t id[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ms_dns_submit(ctx, "www.rsa.example.test", MS_DNS_T_A, keep,
					       &g[i], &id[i], NULL, 0), MS_OK);
	/* the first (the one that started the query) and one in the middle */
	ck_assert_int_eq(ms_dns_cancel(ctx, id[0]), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, id[0]), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dns_cancel(ctx, id[2]), MS_OK);
	ck_assert_uint_eq(ms_dns_pending(ctx), 2);
	run_loop(ctx, (int)mstest_scale_ms(20000));
	ck_assert_int_eq(g[0].calls, 0);
	ck_assert_int_eq(g[2].calls, 0);
	ck_assert_int_eq(g[1].calls, 1);
	ck_assert_int_eq(g[3].calls, 1);
	ck_assert_int_eq(ms_dns_result_outcome(g[1].r), MS_DNS_ANSWER);
	ck_assert_int_eq(ms_dns_result_security(g[1].r), MS_DNS_SECURE);
	assert_same(g[1].r, g[3].r);
	ck_assert_int_eq(ms_dns_cancel(ctx, id[1]), MS_ERR_INVALID);  /* delivered */
	ms_dns_result_free(g[1].r);
	ms_dns_result_free(g[3].r);
	ms_dns_ctx_free(ctx);
}
END_TEST

START_TEST(cancel_every_waiter)
{
	struct counts c;
	struct ms_env env = metric_env(&c);
	struct ms_dns_ctx *ctx = mstest_world_resolver(&env, mstest_scale_ms(10000), 0);
	struct got g[5];
	memset(g, 0, sizeof(g));
	uint64_t id[5];
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ms_dns_submit(ctx, "www.example.test", MS_DNS_T_MX, keep, &g[i],
					       &id[i], NULL, 0), MS_OK);
	for (int i = 4; i >= 0; i--)
		ck_assert_int_eq(ms_dns_cancel(ctx, id[i]), MS_OK);
	ck_assert_uint_eq(ms_dns_pending(ctx), 0);
	ck_assert_int_eq(ms_dns_next_timeout_ms(ctx), -1);
	/* whatever libunbound still sends is dropped, never delivered */
	for (int i = 0; i < 10; i++) {
		struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
		poll(&p, 1, 20);
		ck_assert_int_eq(ms_dns_process(ctx), MS_OK);
	}
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(g[i].calls, 0);
	ck_assert_int_eq((int)c.lookups, 0);
	/* the cancelled query is not joined: a new one answers */
	struct got late = { 0 };
	ck_assert_int_eq(ms_dns_submit(ctx, "www.example.test", MS_DNS_T_MX, keep, &late, NULL,
				       NULL, 0), MS_OK);
	ck_assert_int_eq((int)c.coalesced, 4);
	run_loop(ctx, (int)mstest_scale_ms(20000));
	ck_assert_int_eq(late.calls, 1);
	ck_assert_int_eq(ms_dns_result_outcome(late.r), MS_DNS_NODATA);
	ms_dns_result_free(late.r);
	ms_dns_ctx_free(ctx);
	pthread_mutex_destroy(&c.mu);
}
END_TEST

/* Freeing the context with joined lookups in flight, and with the answer
 * of a shared query landed (by a synchronous lookup's ub_process) but not
 * delivered: nothing leaks (ASan/valgrind), no callback runs. */
START_TEST(free_with_joined_lookups)
{
	struct ms_dns_ctx *ctx = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct got g[30];
	memset(g, 0, sizeof(g));
	uint64_t id[30];
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(ms_dns_submit(ctx, i < 20 ? "www.example.test" : "mx.example.test",
					       MS_DNS_T_A, keep, &g[i], &id[i], NULL, 0), MS_OK);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(ctx, "www.example.test", MS_DNS_T_AAAA, &r, NULL, 0), MS_OK);
	ms_dns_result_free(r);
	ck_assert_int_eq(ms_dns_cancel(ctx, id[3]), MS_OK);
	ck_assert_int_eq(ms_dns_cancel(ctx, id[25]), MS_OK);
	ck_assert_uint_eq(ms_dns_pending(ctx), 28);
	ms_dns_ctx_free(ctx);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(g[i].calls, 0);

	/* and in flight only */
	ctx = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(ms_dns_submit(ctx, "example.test", MS_DNS_T_MX, keep, &g[i],
					       NULL, NULL, 0), MS_OK);
	ms_dns_ctx_free(ctx);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(g[i].calls, 0);
}
END_TEST

/* ---- every allocation of the coalescing paths failing once ----------- */
static atomic_int alloc_count, alloc_fail_at;

static void *fail_alloc(void *u, size_t n)
{
	(void)u;
	int k = atomic_fetch_add(&alloc_count, 1) + 1;
	return k == atomic_load(&alloc_fail_at) ? NULL : malloc(n);
}

static void *fail_realloc(void *u, void *p, size_t n)
{
	(void)u;
	int k = atomic_fetch_add(&alloc_count, 1) + 1;
	return k == atomic_load(&alloc_fail_at) ? NULL : realloc(p, n);
}

static void fail_free(void *u, void *p)
{
	(void)u;
	free(p);
}

/* Submits that join, start a query (with the table growing past its first
 * size), are cancelled and delivered, with allocation k failing: a failed
 * submit says so, a delivery that could not be copied is answered with
 * the out-of-memory failure (and reported by ms_dns_process), and every
 * accepted lookup is answered exactly once.  No
 * crash, no leak (ASan, valgrind).  A context is made afresh where the
 * table's first allocation and its first growth fall (creating one costs
 * tens of milliseconds, seconds under valgrind); otherwise it is reused. */
START_TEST(allocation_failures)
{
	struct ms_env env = { .version = MS_ENV_VERSION, .alloc = fail_alloc,
			      .realloc = fail_realloc, .free = fail_free };
	enum { N = 80 };
	int k, oom_delivered = 0;
	struct ms_dns_ctx *ctx = NULL;
	for (k = 1; k < 2000; k++) {
		atomic_store(&alloc_fail_at, 0);
		/* a fresh table: submit i allocates its record, and for a new
		 * name the flight; the table comes with the first flight and
		 * grows at the 65th */
		if (ctx != NULL && (k <= 4 || (k >= 126 && k <= 140))) {
			ms_dns_ctx_free(ctx);
			ctx = NULL;
		}
		if (ctx == NULL)
			ctx = mstest_world_resolver(&env, mstest_scale_ms(10000), 0);
		atomic_store(&alloc_count, 0);
		atomic_store(&alloc_fail_at, k);
		struct got g[N];
		memset(g, 0, sizeof(g));
		uint64_t id[N];
		int ok[N];
		char name[64];
		for (int i = 0; i < N; i++) {
			/* 70 distinct names (the table grows past 64), some twice */
			snprintf(name, sizeof(name), "h%d.many.example.test", i % 70);
			ok[i] = ms_dns_submit(ctx, name, MS_DNS_T_A, keep, &g[i], &id[i], NULL, 0);
			ck_assert(ok[i] == MS_OK || ok[i] == MS_ERR_NOMEM);
		}
		if (ok[75] == MS_OK)
			ck_assert_int_eq(ms_dns_cancel(ctx, id[75]), MS_OK);
		if (ok[5] == MS_OK)
			ck_assert_int_eq(ms_dns_cancel(ctx, id[5]), MS_OK);
		for (int round = 0; ms_dns_pending(ctx) > 0; round++) {
			ck_assert_msg(round < 2000, "not drained");
			struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
			poll(&p, 1, 10);
			ms_status st = ms_dns_process(ctx);
			ck_assert(st == MS_OK || st == MS_ERR_NOMEM);
		}
		int failed = atomic_load(&alloc_count) < k ? 0 : 1;
		for (int i = 0; i < N; i++) {
			/* an accepted lookup is answered exactly once, even when
			 * its answer cannot be copied: a lookup left without a
			 * callback would hang a caller without a deadline */
			if (ok[i] != MS_OK || i == 5 || i == 75)
				ck_assert_int_eq(g[i].calls, 0);
			else
				ck_assert_int_eq(g[i].calls, 1);
			if (g[i].calls == 0)
				continue;
			if (ms_dns_result_outcome(g[i].r) == MS_DNS_ANSWER) {
				ck_assert_int_eq(ms_dns_result_security(g[i].r), MS_DNS_SECURE);
				ck_assert_uint_eq(ms_dns_result_count(g[i].r), 1);
			} else {
				/* out of memory: a failure, never an empty answer */
				ck_assert_int_eq(ms_dns_result_outcome(g[i].r), MS_DNS_SERVFAIL);
				ck_assert_int_eq(ms_dns_result_security(g[i].r),
						 MS_DNS_INDETERMINATE);
				ck_assert(ms_dns_result_failed(g[i].r));
				ck_assert_uint_eq(ms_dns_result_count(g[i].r), 0);
				oom_delivered++;
			}
			ms_dns_result_free(g[i].r);
		}
		atomic_store(&alloc_fail_at, 0);
		if (!failed)
			break;   /* every allocation point was failed once */
	}
	ms_dns_ctx_free(ctx);
	ck_assert_msg(k > 100 && k < 2000, "allocation points: %d", k);
	/* some allocation point was a delivery's copy */
	ck_assert_int_gt(oom_delivered, 0);
}
END_TEST

/* ---- deadlines per waiter, against a delayed upstream ---------------- */
struct world {
	pid_t pid;
	int to_child;
	char conf[1024];
};

static void world_start(struct world *w, unsigned delay_ms)
{
	int in[2], out[2];
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	char delay[16];
	snprintf(delay, sizeof(delay), "%u", delay_ms);
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(python, python, helper_py, delay, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	w->to_child = in[1];
	FILE *f = fdopen(out[0], "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(fgets(w->conf, sizeof(w->conf), f) != NULL,
		      "delay_world.py did not start (nsd, ldnsutils?)");
	fclose(f);
	w->conf[strcspn(w->conf, "\n")] = '\0';
}

static void world_stop(struct world *w)
{
	close(w->to_child);   /* the helper stops NSD and the proxy */
	int status = 0;
	ck_assert_int_eq(waitpid(w->pid, &status, 0), w->pid);
}

static struct ms_dns_ctx *world_resolver(struct world *w, unsigned timeout_ms)
{
	char why[512] = "";
	struct ms_dns_config cfg = {
		.version = MS_DNS_CONFIG_VERSION,
		.mode = MS_DNS_MODE_CONFIG_FILE,
		.config_file = w->conf,
		.timeout_ms = timeout_ms,
	};
	struct ms_dns_ctx *ctx = NULL;
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &ctx, why, sizeof(why)) == MS_OK, "%s", why);
	return ctx;
}

static void pump(struct ms_dns_ctx *ctx, int ms)
{
	uint64_t end = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + (uint64_t)ms;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		if (now >= end)
			break;
		int t = ms_dns_next_timeout_ms(ctx);
		int left = (int)(end - now);
		struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
		poll(&p, 1, t >= 0 && t < left ? t : left);
		ck_assert_int_eq(ms_dns_process(ctx), MS_OK);
	}
}

/* Delay 2 s, context timeout 1.5 s; the second waiter joins 1 s after the
 * first: the first times out at 1.5 s (fail closed), the shared query goes
 * on, and the second gets the answer at about 2 s, 1 s after it asked. */
START_TEST(deadlines_are_per_waiter)
{
	struct world w;
	world_start(&w, 2000);
	struct ms_dns_ctx *ctx = world_resolver(&w, 1500);
	/* the zone's keys first, so the held A query is the only wait */
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(ctx, "co.test", MS_DNS_T_DNSKEY, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_ANSWER);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_SECURE);
	ms_dns_result_free(r);

	struct got first = { 0 }, second = { 0 };
	ck_assert_int_eq(ms_dns_submit(ctx, "www.co.test", MS_DNS_T_A, keep, &first, NULL,
				       NULL, 0), MS_OK);
	pump(ctx, 1000);
	ck_assert_int_eq(first.calls, 0);
	ck_assert_int_eq(ms_dns_submit(ctx, "www.co.test", MS_DNS_T_A, keep, &second, NULL,
				       NULL, 0), MS_OK);
	ck_assert_uint_eq(ms_dns_pending(ctx), 2);
	pump(ctx, 700);   /* t = 1.7 s */
	ck_assert_int_eq(first.calls, 1);
	ck_assert_int_eq(ms_dns_result_outcome(first.r), MS_DNS_TIMEOUT);
	ck_assert_int_eq(ms_dns_result_security(first.r), MS_DNS_INDETERMINATE);
	ck_assert_uint_eq(ms_dns_result_count(first.r), 0);
	ck_assert_int_eq(second.calls, 0);
	run_loop(ctx, 5000);
	ck_assert_int_eq(first.calls, 1);
	ck_assert_int_eq(second.calls, 1);
	ck_assert_msg(ms_dns_result_outcome(second.r) == MS_DNS_ANSWER, "second: %s",
		      ms_dns_outcome_str(ms_dns_result_outcome(second.r)));
	ck_assert_int_eq(ms_dns_result_security(second.r), MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(second.r), 1);
	/* its own duration: from its own submit, about 1 s, not 2 */
	unsigned d = ms_dns_result_duration_ms(second.r);
	ck_assert_msg(d >= 700 && d < 1450, "second waiter's duration %u ms", d);
	ck_assert_uint_ge(ms_dns_result_duration_ms(first.r), 1450);
	ms_dns_result_free(first.r);
	ms_dns_result_free(second.r);
	ms_dns_ctx_free(ctx);
	world_stop(&w);
}
END_TEST

/* ---- 4 threads submit the same names, a fifth delivers ----------------- */
#define SUBMITTERS 4
#define PER_THREAD 150
static const struct {
	const char *name;
	uint16_t type;
	enum ms_dns_outcome outcome;
	enum ms_dns_security security;
} names[] = {
	{ "www.example.test", MS_DNS_T_A, MS_DNS_ANSWER, MS_DNS_SECURE },
	{ "mx.example.test", MS_DNS_T_AAAA, MS_DNS_NODATA, MS_DNS_SECURE },
	{ "tampered.example.test", MS_DNS_T_A, MS_DNS_SERVFAIL, MS_DNS_BOGUS },
	{ "nosuch.example.test", MS_DNS_T_A, MS_DNS_NXDOMAIN, MS_DNS_SECURE },
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

struct tslot {
	int index;
	int calls;
	int ok;
};
static atomic_int answered;
static atomic_int submitting;

static void tcount(void *user, struct ms_dns_result *r)
{
	struct tslot *s = user;
	size_t n = (size_t)s->index % NNAMES;
	s->calls++;
	s->ok = ms_dns_result_outcome(r) == names[n].outcome &&
		ms_dns_result_security(r) == names[n].security &&
		strcmp(ms_dns_result_qname(r), names[n].name) == 0;
	ms_dns_result_free(r);
	atomic_fetch_add(&answered, 1);
}

struct submitter {
	struct ms_dns_ctx *ctx;
	struct tslot *slots;
	int errors;
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		s->slots[i].index = i;
		if (ms_dns_submit(s->ctx, names[i % NNAMES].name, names[i % NNAMES].type, tcount,
				  &s->slots[i], NULL, NULL, 0) != MS_OK)
			s->errors++;
		if (i % 16 == 0)
			usleep(500);   /* let answers land between submits */
	}
	atomic_fetch_sub(&submitting, 1);
	return NULL;
}

static void *process_main(void *arg)
{
	struct ms_dns_ctx *ctx = arg;
	int total = SUBMITTERS * PER_THREAD;
	for (int rounds = 0; atomic_load(&answered) < total; rounds++) {
		ck_assert_msg(rounds < 20000, "deliveries stalled at %d", atomic_load(&answered));
		struct pollfd p = { .fd = ms_dns_fd(ctx), .events = POLLIN };
		poll(&p, 1, 5);
		ck_assert_int_eq(ms_dns_process(ctx), MS_OK);
	}
	return NULL;
}

START_TEST(threads_submit_the_same_names)
{
	struct counts c;
	struct ms_env env = metric_env(&c);
	struct ms_dns_ctx *ctx = mstest_world_resolver(&env, mstest_scale_ms(20000), 0);
	static struct tslot slots[SUBMITTERS][PER_THREAD];
	memset(slots, 0, sizeof(slots));
	atomic_store(&answered, 0);
	atomic_store(&submitting, SUBMITTERS);
	struct submitter s[SUBMITTERS];
	pthread_t th[SUBMITTERS], pr;
	ck_assert_int_eq(pthread_create(&pr, NULL, process_main, ctx), 0);
	for (int i = 0; i < SUBMITTERS; i++) {
		s[i] = (struct submitter){ .ctx = ctx, .slots = slots[i] };
		ck_assert_int_eq(pthread_create(&th[i], NULL, submit_main, &s[i]), 0);
	}
	/* a synchronous lookup in the meantime: its ub_process may land the
	 * shared queries in this thread */
	for (int i = 0; i < 20; i++) {
		struct ms_dns_result *r = NULL;
		ck_assert_int_eq(ms_dns_lookup(ctx, "www.example.test", MS_DNS_T_A, &r, NULL, 0),
				 MS_OK);
		ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_ANSWER);
		ms_dns_result_free(r);
	}
	for (int i = 0; i < SUBMITTERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(s[i].errors, 0);
	}
	pthread_join(pr, NULL);
	for (int t = 0; t < SUBMITTERS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			ck_assert_msg(slots[t][i].calls == 1 && slots[t][i].ok,
				      "thread %d lookup %d: %d calls, ok %d", t, i,
				      slots[t][i].calls, slots[t][i].ok);
	ck_assert_uint_eq(ms_dns_pending(ctx), 0);
	/* joined lookups never outnumber the submits */
	pthread_mutex_lock(&c.mu);
	double coalesced = c.coalesced;
	pthread_mutex_unlock(&c.mu);
	ck_assert(coalesced > 0 && coalesced < SUBMITTERS * PER_THREAD);
	ms_dns_ctx_free(ctx);
	pthread_mutex_destroy(&c.mu);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns-coalesce");
	TCase *tc = tcase_create("coalesce");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, identical_submits_share_one_answer);
	tcase_add_test(tc, identical_submits_through_a_cname);
	tcase_add_test(tc, bogus_name_coalesced_fails_for_every_waiter);
	tcase_add_test(tc, cancel_one_waiter);
	tcase_add_test(tc, cancel_every_waiter);
	tcase_add_test(tc, free_with_joined_lookups);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	TCase *td = tcase_create("deadlines");
	tcase_set_timeout(td, 120);
	tcase_add_test(td, deadlines_are_per_waiter);
	suite_add_tcase(s, td);
	TCase *tt = tcase_create("threads");
	tcase_set_timeout(tt, 180);
	tcase_add_test(tt, threads_submit_the_same_names);
	suite_add_tcase(s, tt);
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PYTHON delay_world.py\n", argv[0]);
		return 2;
	}
	python = argv[1];
	helper_py = argv[2];
	signal(SIGPIPE, SIG_IGN);
	return mstest_run(suite());
}
