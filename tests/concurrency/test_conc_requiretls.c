/*
 * One SQLite recipient-domain store shared by 8 threads
 * (requiretls_store.h: the default store serialises its calls).  Each
 * thread records observations for its own domains and for domains every
 * thread writes, querying support as it goes; the final state is exact
 * because each (account, domain) pair always gets the same observation.
 */
#include <stdlib.h>
#include <unistd.h>

#include <sched.h>

#include "conc.h"
#include <arpa/inet.h>
#include <mailsec/requiretls_deliver.h>
#include <mailsec/requiretls_route.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <mailsec/requiretls_store.h>
#include <poll.h>

#include "../mtasts/helpers.h"

#define OWN 20     /* domains only one thread writes */
#define SHARED 6   /* domains every thread writes */
#define ROUNDS 10  /* passes over the thread's domains */
#define OPS (ROUNDS * (OWN + SHARED))

/* What is recorded for a domain: REQUIRETLS on even k, STARTTLS without it
 * on k % 4 == 1, no STARTTLS at all on k % 4 == 3. */
static int obs_starttls(unsigned k) { return k % 4 != 3; }
static int obs_requiretls(unsigned k) { return k % 2 == 0; }
static enum ms_rtls_support want(unsigned k)
{
	return obs_requiretls(k) ? MS_RTLS_SUPPORT_YES : MS_RTLS_SUPPORT_NO;
}

static void own_name(char *buf, size_t cap, int tid, unsigned k)
{
	snprintf(buf, cap, "t%d-%u.example", tid, k);
}
static void shared_name(char *buf, size_t cap, unsigned k)
{
	snprintf(buf, cap, "shared-%u.example", k);
}

static void *worker(void *arg)
{
	struct conc_thread *t = arg;
	struct ms_rtls_store *st = t->shared;
	/* odd threads use a second sender account: same domains, other keys */
	const char *account = t->id % 2 ? "bob" : "alice";
	conc_wait_start(t);
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned j = 0; j < OWN + SHARED; j++) {
			/* interleave own and shared domains, start at different places */
			unsigned x = (j + (unsigned)t->id * 3) % (OWN + SHARED);
			char dom[64];
			unsigned k;
			if (x < OWN) {
				k = x;
				own_name(dom, sizeof(dom), t->id, k);
			} else {
				k = x - OWN;
				shared_name(dom, sizeof(dom), k);
			}
			char why[256] = "";
			ms_status s = ms_rtls_store_record(st, account, dom, obs_starttls(k),
							   obs_requiretls(k), why, sizeof(why));
			CONC_CHECK(t, s == MS_OK, "record %s: %d %s", dom, s, why);
			/* read back what this thread (and any other) wrote: the same */
			const char *one[1] = {dom};
			enum ms_rtls_support each = MS_RTLS_SUPPORT_UNKNOWN;
			int all = -1;
			s = ms_rtls_store_query(st, account, one, 1, 0, &each, &all, why,
						sizeof(why));
			CONC_CHECK(t, s == MS_OK, "query %s: %d %s", dom, s, why);
			CONC_CHECK(t, each == want(k) && all == (want(k) == MS_RTLS_SUPPORT_YES),
				   "query %s: support %d all %d, want %d", dom, (int)each, all,
				   (int)want(k));
			struct ms_rtls_capability cap;
			int found = 0;
			s = ms_rtls_store_get(st, account, dom, &cap, &found, why, sizeof(why));
			CONC_CHECK(t, s == MS_OK && found == 1 &&
				   cap.starttls == obs_starttls(k) &&
				   cap.requiretls == obs_requiretls(k) &&
				   (cap.requiretls_last != 0) == obs_requiretls(k),
				   "get %s: status %d found %d starttls %d requiretls %d",
				   dom, s, found, cap.starttls, cap.requiretls);
			t->ops++;
		}
	}
	return NULL;
}

START_TEST(shared_store)
{
	char dir[4096];
	conc_mkdtemp(dir, sizeof(dir), "rtls");
	char db[4200], why[256] = "";
	snprintf(db, sizeof(db), "%s/rtls.sqlite", dir);
	struct ms_rtls_store *st = NULL;
	ck_assert_msg(ms_rtls_store_open_sqlite(NULL, db, &st, why, sizeof(why)) == MS_OK,
		      "open: %s", why);

	conc_run(worker, st, OPS);

	/* Final state, per account: every thread's own domains and the shared
	 * ones in one query, plus a domain nobody wrote. */
	const char *accounts[] = {"alice", "bob"};
	for (int a = 0; a < 2; a++) {
		static char names[CONC_THREADS / 2 * OWN + SHARED + 1][64];
		const char *doms[CONC_THREADS / 2 * OWN + SHARED + 1];
		enum ms_rtls_support expect[CONC_THREADS / 2 * OWN + SHARED + 1];
		size_t n = 0;
		for (int tid = a; tid < CONC_THREADS; tid += 2)
			for (unsigned k = 0; k < OWN; k++) {
				own_name(names[n], sizeof(names[n]), tid, k);
				expect[n] = want(k);
				doms[n] = names[n];
				n++;
			}
		for (unsigned k = 0; k < SHARED; k++) {
			shared_name(names[n], sizeof(names[n]), k);
			expect[n] = want(k);
			doms[n] = names[n];
			n++;
		}
		snprintf(names[n], sizeof(names[n]), "never.example");
		expect[n] = MS_RTLS_SUPPORT_UNKNOWN;
		doms[n] = names[n];
		n++;
		enum ms_rtls_support each[CONC_THREADS / 2 * OWN + SHARED + 1];
		int all = -1;
		ck_assert_int_eq(ms_rtls_store_query(st, accounts[a], doms, n, 0, each, &all,
						     why, sizeof(why)), MS_OK);
		ck_assert_int_eq(all, 0);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(each[i] == expect[i], "%s %s: %d, want %d", accounts[a],
				      doms[i], (int)each[i], (int)expect[i]);
		/* the supporting subset alone is all-supported */
		const char *yes[SHARED];
		size_t ny = 0;
		for (unsigned k = 0; k < SHARED; k++)
			if (want(k) == MS_RTLS_SUPPORT_YES)
				yes[ny++] = names[n - 1 - SHARED + k];
		ck_assert_int_eq(ms_rtls_store_query(st, accounts[a], yes, ny, 0, NULL, &all,
						     why, sizeof(why)), MS_OK);
		ck_assert_int_eq(all, 1);
	}
	/* a thread's own domain is not known under the other account */
	struct ms_rtls_capability cap;
	int found = 1;
	ck_assert_int_eq(ms_rtls_store_get(st, "bob", "t0-0.example", &cap, &found, why,
					   sizeof(why)), MS_OK);
	ck_assert_int_eq(found, 0);
	ms_rtls_store_free(st);

	conc_rm_db(dir, db);
}
END_TEST

/*
 * Routes (issue 15's async shape) on one DNS context shared by 8 threads:
 * each thread starts a batch of routes to good.test and steps them, so one
 * thread's ms_dns_process delivers another's answers; one route of some
 * batches is freed while its lookups are in flight.  Every finished route
 * is exact (two hosts, DANE usable), every callback runs once.
 */
#define ROUTE_OPS 6
#define ROUTE_BATCH 3

static void route_done(void *user, struct ms_rtls_route *r, ms_status st)
{
	(void)r;
	*(int *)user += st == MS_OK ? 1 : 100;
}

static void *route_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct ms_dns_ctx *dns = t->shared;
	conc_wait_start(t);
	for (unsigned i = 0; i < ROUTE_OPS; i++) {
		struct ms_rtls_route *r[ROUTE_BATCH] = { 0 };
		int done[ROUTE_BATCH] = { 0 };
		for (int k = 0; k < ROUTE_BATCH; k++)
			CONC_CHECK(t, ms_rtls_route_start(NULL, dns, NULL, "good.test",
							  MS_RTLS_REQ_REQUIRED, NULL, route_done,
							  &done[k], &r[k], NULL, 0) == MS_OK,
				   "op %u start", i);
		if (i % 2 == 1) {
			ms_rtls_route_free(r[0]);   /* cancelled in flight */
			r[0] = NULL;
		}
		for (int pending = 1, guard = 0; pending && guard < 1000000; guard++) {
			pending = 0;
			for (int k = 0; k < ROUTE_BATCH; k++)
				if (r[k] && ms_rtls_route_step(r[k], NULL) == MS_RTLS_ROUTE_PENDING)
					pending = 1;
			if (pending)
				sched_yield();
		}
		for (int k = 0; k < ROUTE_BATCH; k++) {
			if (r[k] == NULL)
				continue;
			const struct ms_rtls_route_host *h = ms_rtls_route_host(r[k], 0);
			CONC_CHECK(t, done[k] == 1 && ms_rtls_route_status(r[k], NULL, 0) == MS_OK &&
				      ms_rtls_route_count(r[k]) == 2 &&
				      ms_rtls_route_host_engine(h)->dane == MS_RTLS_DANE_USABLE,
				   "op %u route %d: done %d, %zu hosts", i, k, done[k],
				   ms_rtls_route_count(r[k]));
			ms_rtls_route_free(r[k]);
		}
		t->ops++;
	}
	return NULL;
}

START_TEST(route_shared_context)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(20000), 0);
	conc_run(route_worker, dns, ROUTE_OPS);
	ck_assert_uint_eq(ms_dns_pending(dns), 0);
	ms_dns_ctx_free(dns);
}
END_TEST

/*
 * Routes with one shared MTA-STS handle (issue 15): 8 threads each start
 * routes to example.test whose policy is fetched over HTTPS from the
 * loopback policy host (no store: every route fetches, each on its own
 * libcurl multi handle) while the lookups run on a shared DNS context;
 * each thread polls its routes' descriptors.  Every route ends with the
 * enforce policy; one route of some batches is freed mid-fetch.
 */
struct sts_shared {
	struct ms_dns_ctx *dns;
	struct ms_sts *sts;
};

static void *route_sts_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct sts_shared *sh = t->shared;
	conc_wait_start(t);
	for (unsigned i = 0; i < 2; i++) {
		struct ms_rtls_route *r[2] = { 0 };
		int done[2] = { 0 };
		for (int k = 0; k < 2; k++)
			CONC_CHECK(t, ms_rtls_route_start(NULL, sh->dns, sh->sts, "example.test",
							  MS_RTLS_REQ_DEFAULT, NULL, route_done,
							  &done[k], &r[k], NULL, 0) == MS_OK,
				   "op %u start", i);
		for (int pending = 1, guard = 0; pending && guard < 100000; guard++) {
			pending = 0;
			struct pollfd p[2];
			int np = 0, tmo = 50;
			for (int k = 0; k < 2; k++) {
				int tk = 0;
				if (r[k] && ms_rtls_route_step(r[k], &tk) == MS_RTLS_ROUTE_PENDING) {
					pending = 1;
					p[np].fd = ms_rtls_route_fd(r[k]);
					p[np++].events = POLLIN;
					tmo = tk < tmo ? tk : tmo;
				}
			}
			if (pending && i == 1 && r[0] && guard == 3) {
				ms_rtls_route_free(r[0]);   /* cancelled mid-build */
				r[0] = NULL;
			}
			if (pending)
				poll(p, (nfds_t)np, tmo);
		}
		for (int k = 0; k < 2; k++) {
			if (r[k] == NULL)
				continue;
			CONC_CHECK(t, done[k] == 1 && ms_rtls_route_status(r[k], NULL, 0) == MS_OK &&
				      (ms_rtls_route_flags(r[k]) & MS_RTLS_ROUTE_STS_POLICY) &&
				      ms_rtls_route_engine_domain(r[k])->sts_mode ==
					      MS_RTLS_STS_ENFORCE,
				   "op %u route %d: done %d, sts %s", i, k, done[k],
				   ms_rtls_route_sts_note(r[k]));
			ms_rtls_route_free(r[k]);
		}
		t->ops++;
	}
	return NULL;
}

START_TEST(route_sts_shared)
{
	struct policy_host host;
	policy_host_start(&host);
	char connect_to[64];
	snprintf(connect_to, sizeof(connect_to), ":::%d", host.port);
	struct sts_shared sh;
	sh.dns = mstest_world_resolver(NULL, mstest_scale_ms(20000), 0);
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = world_path("pki/mtasts/ca.pem");
	cfg.fetch.connect_to = connect_to;
	cfg.fetch.timeout_ms = mstest_scale_ms(20000);
	char why[300] = "";
	ck_assert_msg(ms_sts_new(NULL, &cfg, sh.dns, NULL, &sh.sts, why, sizeof(why)) == MS_OK,
		      "%s", why);
	conc_run(route_sts_worker, &sh, 2);
	ck_assert_uint_eq(ms_dns_pending(sh.dns), 0);
	ms_sts_free(sh.sts);
	ms_dns_ctx_free(sh.dns);
	policy_host_stop(&host);
}
END_TEST

/*
 * Deliveries in 8 threads (issue 15), each thread an event loop: two send
 * handles (good.test, daneta.test) stepped and polled together, over real
 * STARTTLS with DANE against the demo peers, sharing one DNS context, one
 * SSL_CTX and one recipient-domain memory.  Every message is delivered
 * with DANE verified.
 */
struct send_shared {
	struct ms_dns_ctx *dns;
	SSL_CTX *tls;
	struct ms_rtls_store *mem;
	char ca[600];
	int port;
};

static const uint8_t SEND_MSG[] = "From: alice@example.test\r\nSubject: t\r\n\r\nhello\r\n";

static void *send_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct send_shared *sh = t->shared;
	const char *to[2][1] = { { "bob@good.test" }, { "carol@daneta.test" } };
	conc_wait_start(t);
	for (unsigned i = 0; i < 2; i++) {
		struct ms_rtls_send *h[2] = { 0 };
		for (int k = 0; k < 2; k++) {
			struct ms_rtls_envelope m = { .from = "alice@example.test", .rcpt = to[k],
						      .nrcpt = 1, .msg = SEND_MSG,
						      .msglen = sizeof(SEND_MSG) - 1 };
			struct ms_rtls_send_opts o = { .version = MS_RTLS_SEND_OPTS_VERSION };
			o.deliver = (struct ms_rtls_deliver_opts){
				.version = MS_RTLS_DELIVER_OPTS_VERSION, .helo = "client.test",
				.port = (uint16_t)sh->port, .tls = sh->tls, .ca_file = sh->ca,
				.memory = sh->mem, .timeout_ms = mstest_scale_ms(20000) };
			char why[256] = "";
			CONC_CHECK(t, ms_rtls_send_new(NULL, sh->dns, NULL, MS_RTLS_REQ_DEFAULT, &m, &o,
						       &h[k], why, sizeof(why)) == MS_OK,
				   "op %u send_new: %s", i, why);
		}
		for (int guard = 0; guard < 200000 && h[0] && h[1] &&
				    (!ms_rtls_send_done(h[0]) || !ms_rtls_send_done(h[1]));
		     guard++) {
			struct pollfd p[2];
			int np = 0, tmo = -1;
			for (int k = 0; k < 2; k++) {
				if (ms_rtls_send_done(h[k]))
					continue;
				char why[256] = "";
				ms_status st = ms_rtls_send_step(h[k], why, sizeof(why));
				CONC_CHECK(t, st == MS_OK, "op %u step: %s", i, why);
				if (st != MS_OK || ms_rtls_send_done(h[k]))
					continue;
				int fd = ms_rtls_send_fd(h[k]), tk = ms_rtls_send_timeout_ms(h[k]);
				if (fd >= 0)
					p[np++] = (struct pollfd){ .fd = fd,
								   .events = (short)ms_rtls_send_events(h[k]) };
				if (tmo < 0 || tk < tmo)
					tmo = tk;
			}
			if (tmo > 0)
				poll(p, (nfds_t)np, tmo < 50 ? tmo : 50);
		}
		for (int k = 0; k < 2; k++) {
			const struct ms_rtls_attempt *a =
				ms_rtls_deliver_success(ms_rtls_send_delivery(h[k], 0));
			CONC_CHECK(t, ms_rtls_send_delivered(h[k]) == 1 && a &&
				      a->mode == MS_RTLS_MODE_DANE && a->o.dane == MS_RTLS_STEP_OK,
				   "op %u handle %d: delivered %d", i, k,
				   ms_rtls_send_delivered(h[k]));
			ms_rtls_send_free(h[k]);
		}
		t->ops++;
	}
	return NULL;
}

static int free_port(const char *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, addr, &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(send_event_loops)
{
	signal(SIGPIPE, SIG_IGN);
	const char *tmpdir = getenv("TMPDIR");
	char tmp[300], peers[400], pki[600], cmd[2048];
	snprintf(tmp, sizeof(tmp), "%s/conc-send-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(peers, sizeof(peers), "%s/peers", tmp);
	ck_assert_int_eq(mkdir(peers, 0700), 0);
	mstest_world_path(pki, sizeof(pki), "pki");
	snprintf(cmd, sizeof(cmd), "%s/pki", peers);
	ck_assert_int_eq(symlink(pki, cmd), 0);
	struct send_shared sh = { .port = free_port("127.0.1.1") };
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/world/peers/start-peers.sh' '%s' %d %d",
		 getenv("MS_SOURCE_ROOT"), peers, sh.port, free_port("127.0.1.10"));
	FILE *f = popen(cmd, "r");
	int pid = 0;
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(fscanf(f, "%d", &pid) == 1, "demo peers did not start");
	pclose(f);
	mstest_world_path(sh.ca, sizeof(sh.ca), "pki/demo/ca.pem");
	sh.dns = mstest_world_resolver(NULL, mstest_scale_ms(20000), 0);
	sh.tls = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(sh.tls);
	SSL_CTX_set_min_proto_version(sh.tls, TLS1_2_VERSION);
	char path[400], why[256] = "";
	snprintf(path, sizeof(path), "%s/memory.sqlite", tmp);
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, path, &sh.mem, why, sizeof(why)), MS_OK);
	conc_run(send_worker, &sh, 2);
	ck_assert_uint_eq(ms_dns_pending(sh.dns), 0);
	ms_rtls_store_free(sh.mem);
	SSL_CTX_free(sh.tls);
	ms_dns_ctx_free(sh.dns);
	kill(pid, SIGTERM);
	for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
		usleep(100000);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency-requiretls");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, mstest_scale_ms(300000) / 1000.0);
	tcase_add_test(tc, shared_store);
	tcase_add_test(tc, route_shared_context);
	tcase_add_test(tc, route_sts_shared);
	tcase_add_test(tc, send_event_loops);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
