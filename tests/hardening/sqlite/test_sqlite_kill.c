/*
 * test_sqlite_kill.c - crash consistency of the SQLite stores (issue 9):
 * the libmtasts policy cache and the librequiretls recipient-domain memory.
 *
 * For each store, ROUNDS times: fork a writer that opens the store and
 * updates it as fast as it can (a new key per update, and every other
 * update overwrites one of 16 "hot" keys with a higher version), reporting
 * every update the library acknowledged (MS_OK) through a pipe; SIGKILL it
 * after a random 2-60 ms; then check that the database opens, passes
 * PRAGMA integrity_check, opens through the library, and that every
 * acknowledged new key of the round is present and whole, and every hot key
 * holds at least its last acknowledged version.  At the end every key
 * acknowledged in any round is checked once more.
 *
 * The seed is printed; MS_HARD_SEED=N replays a run.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HARD_HAVE_MTASTS
#include <mailsec/mtasts.h>
#endif
#ifdef HARD_HAVE_RTLS
#include <mailsec/requiretls_store.h>
#endif

#define ROUNDS 50
#define HOT 16
#define MAX_ACKS (1 << 20)

struct ack {
	uint32_t kind; /* 0: new key, 1: hot key */
	uint32_t key;  /* new: the sequence number; hot: 0..HOT-1 */
	uint64_t seq;  /* the version written */
};

static unsigned seed;
static char dir[256];
static struct ack *acks; /* every acknowledged new key, all rounds */
static size_t nacks;
static uint64_t hot_acked[HOT];

struct store_kind {
	const char *name;
	/* the writer: open, then write seq, seq+1, ... reporting to fd */
	void (*writer)(const char *path, uint64_t seq, int fd);
	/* check one acknowledged update; returns 0 or prints why */
	int (*check)(void *h, const struct ack *a);
	void *(*open)(const char *path);
	void (*close)(void *h);
};

static void report(int fd, uint32_t kind, uint32_t key, uint64_t seq)
{
	struct ack a = { kind, key, seq };
	ssize_t w;
	do
		w = write(fd, &a, sizeof(a));
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(a))
		_exit(3);
}

static void integrity(const char *path)
{
	sqlite3 *db = NULL;
	ck_assert_msg(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK,
		      "open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	const char *r = (const char *)sqlite3_column_text(st, 0);
	ck_assert_msg(r && strcmp(r, "ok") == 0, "integrity_check: %s", r ? r : "(null)");
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void run_kind(const struct store_kind *k)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s.db", dir, k->name);
	nacks = 0;
	memset(hot_acked, 0, sizeof(hot_acked));
	uint64_t seq = 1;
	size_t total_round_acks = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			k->writer(path, seq, fds[1]);
			_exit(0);
		}
		close(fds[1]);
		/* the first round gets time to create the schema */
		unsigned ms = (round == 0 ? 150 : 2) + (unsigned)(rand() % 59);
		size_t round_start = nacks;
		/* drain while the writer runs, so it never blocks on the pipe */
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		char buf[sizeof(struct ack) * 512];
		size_t have = 0;
		for (;;) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long el = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
			if (el >= (long)ms)
				break;
			fd_set rs;
			FD_ZERO(&rs);
			FD_SET(fds[0], &rs);
			struct timeval tv = { 0, 1000 };
			if (select(fds[0] + 1, &rs, NULL, NULL, &tv) > 0) {
				ssize_t n = read(fds[0], buf + have, sizeof(buf) - have);
				if (n <= 0)
					break;
				have += (size_t)n;
				size_t whole = have / sizeof(struct ack) * sizeof(struct ack);
				for (size_t o = 0; o < whole; o += sizeof(struct ack)) {
					struct ack a;
					memcpy(&a, buf + o, sizeof(a));
					if (a.kind == 0) {
						ck_assert_uint_lt(nacks, MAX_ACKS);
						acks[nacks++] = a;
					} else if (a.seq > hot_acked[a.key]) {
						hot_acked[a.key] = a.seq;
					}
					if (a.seq >= seq)
						seq = a.seq + 1;
				}
				memmove(buf, buf + whole, have - whole);
				have -= whole;
			}
		}
		kill(pid, SIGKILL);
		int status = 0;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		/* what was acknowledged before the kill is still in the pipe */
		ssize_t n;
		while ((n = read(fds[0], buf + have, sizeof(buf) - have)) > 0) {
			have += (size_t)n;
			size_t whole = have / sizeof(struct ack) * sizeof(struct ack);
			for (size_t o = 0; o < whole; o += sizeof(struct ack)) {
				struct ack a;
				memcpy(&a, buf + o, sizeof(a));
				if (a.kind == 0) {
					ck_assert_uint_lt(nacks, MAX_ACKS);
					acks[nacks++] = a;
				} else if (a.seq > hot_acked[a.key]) {
					hot_acked[a.key] = a.seq;
				}
				if (a.seq >= seq)
					seq = a.seq + 1;
			}
			memmove(buf, buf + whole, have - whole);
			have -= whole;
		}
		close(fds[0]);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "%s round %d: the writer ended on its own (status %d)", k->name, round,
			      status);
		/* a killed writer may have written one more update than it
		 * reported: skip past it */
		seq += 2;

		integrity(path);
		void *h = k->open(path);
		ck_assert_msg(h != NULL, "%s round %d: the store does not open", k->name, round);
		for (size_t i = round_start; i < nacks; i++)
			ck_assert_msg(k->check(h, &acks[i]) == 0, "%s round %d: key %" PRIu64, k->name,
				      round, acks[i].seq);
		for (uint32_t i = 0; i < HOT; i++) {
			if (hot_acked[i] == 0)
				continue;
			struct ack a = { 1, i, hot_acked[i] };
			ck_assert_msg(k->check(h, &a) == 0, "%s round %d: hot key %u", k->name, round,
				      i);
		}
		k->close(h);
		total_round_acks += nacks - round_start;
	}
	/* everything acknowledged in any round, once more */
	integrity(path);
	void *h = k->open(path);
	ck_assert_ptr_nonnull(h);
	for (size_t i = 0; i < nacks; i++)
		ck_assert_msg(k->check(h, &acks[i]) == 0, "%s final: key %" PRIu64, k->name,
			      acks[i].seq);
	k->close(h);
	/* the test means something only if the writer got work done */
	ck_assert_msg(nacks >= ROUNDS, "%s: only %zu acknowledged updates", k->name, nacks);
	printf("%s: %d kills, %zu acknowledged new keys, all present and whole\n", k->name,
	       ROUNDS, nacks);
}

#ifdef HARD_HAVE_MTASTS
/* ---- the MTA-STS policy cache ------------------------------------------- */
static void sts_fill(struct ms_sts_entry *e, char *pol, size_t polsize, uint32_t kind,
		     uint32_t key, uint64_t seq)
{
	memset(e, 0, sizeof(*e));
	e->version = MS_STS_ENTRY_VERSION;
	if (kind == 0)
		snprintf(e->domain, sizeof(e->domain), "u%" PRIu64 ".kill.test", seq);
	else
		snprintf(e->domain, sizeof(e->domain), "hot%u.kill.test", key);
	snprintf(e->id, sizeof(e->id), "v%" PRIu64, seq);
	int n = snprintf(pol, polsize,
			 "version: STSv1\nmode: enforce\nmx: mx%" PRIu64 ".kill.test\n"
			 "mx: *.backup%" PRIu64 ".kill.test\nmax_age: %" PRIu64 "\n",
			 seq, seq, seq % 100000 + 1);
	e->policy = (const uint8_t *)pol;
	e->policy_len = (size_t)n;
	e->fetched_at = (int64_t)seq;
	e->expires_at = (int64_t)seq + 86400;
	e->last_used = (int64_t)seq;
}

static void sts_writer(const char *path, uint64_t seq, int fd)
{
	struct ms_sts_store *s = NULL;
	char why[200];
	if (ms_sts_store_new_sqlite(NULL, path, &s, why, sizeof(why)) != MS_OK)
		_exit(4);
	for (;; seq++) {
		struct ms_sts_entry e;
		char pol[256];
		uint32_t kind = seq % 2 ? 1 : 0, key = (uint32_t)(seq % HOT);
		sts_fill(&e, pol, sizeof(pol), kind, key, seq);
		ms_status st = ms_sts_store_put(s, &e);
		if (st == MS_OK)
			report(fd, kind, key, seq);
		else if (st != MS_ERR_IO)
			_exit(5);
	}
}

static void *sts_open(const char *path)
{
	struct ms_sts_store *s = NULL;
	char why[200] = "";
	if (ms_sts_store_new_sqlite(NULL, path, &s, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "open: %s\n", why);
		return NULL;
	}
	return s;
}

static void sts_close(void *h)
{
	ms_sts_store_free(h);
}

static int sts_check(void *h, const struct ack *a)
{
	static uint8_t polbuf[MS_STS_POLICY_MAX];
	struct ms_sts_entry want, got;
	char pol[256];
	sts_fill(&want, pol, sizeof(pol), a->kind, a->key, a->seq);
	int found = 0;
	memset(&got, 0, sizeof(got));
	got.version = MS_STS_ENTRY_VERSION;
	if (ms_sts_store_get(h, want.domain, &got, polbuf, sizeof(polbuf), &found) != MS_OK ||
	    !found) {
		fprintf(stderr, "%s: missing\n", want.domain);
		return 1;
	}
	if (a->kind == 1) {
		/* at least the acknowledged version; possibly a later one the
		 * writer committed but could not report */
		uint64_t v = strtoull(got.id + 1, NULL, 10);
		if (got.id[0] != 'v' || v < a->seq) {
			fprintf(stderr, "%s: id %s, acknowledged v%" PRIu64 "\n", want.domain, got.id,
				a->seq);
			return 1;
		}
		sts_fill(&want, pol, sizeof(pol), a->kind, a->key, v);
	}
	if (strcmp(got.id, want.id) != 0 || got.policy_len != want.policy_len ||
	    memcmp(got.policy, want.policy, want.policy_len) != 0 ||
	    got.fetched_at != want.fetched_at || got.expires_at != want.expires_at) {
		fprintf(stderr, "%s: entry not whole (id %s, %zu policy bytes)\n", want.domain,
			got.id, got.policy_len);
		return 1;
	}
	return 0;
}

START_TEST(mtasts_cache)
{
	static const struct store_kind k = { "mtasts", sts_writer, sts_check, sts_open, sts_close };
	run_kind(&k);
}
END_TEST
#endif

#ifdef HARD_HAVE_RTLS
/* ---- the REQUIRETLS recipient-domain memory ------------------------------ */
static int64_t clock_now(void *user)
{
	return (int64_t)*(uint64_t *)user;
}

static void rtls_writer(const char *path, uint64_t seq, int fd)
{
	uint64_t now = seq;
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &now, .now = clock_now };
	struct ms_rtls_store *s = NULL;
	char why[200];
	if (ms_rtls_store_open_sqlite(&env, path, &s, why, sizeof(why)) != MS_OK)
		_exit(4);
	for (;; seq++) {
		char dom[64];
		uint32_t kind = seq % 2 ? 1 : 0, key = (uint32_t)(seq % HOT);
		if (kind == 0)
			snprintf(dom, sizeof(dom), "u%" PRIu64 ".kill.test", seq);
		else
			snprintf(dom, sizeof(dom), "hot%u.kill.test", key);
		now = seq;
		ms_status st = ms_rtls_store_record(s, "sender@kill.test", dom, 1, (int)(seq & 1),
						    why, sizeof(why));
		if (st == MS_OK)
			report(fd, kind, key, seq);
		else if (st != MS_ERR_IO)
			_exit(5);
	}
}

static void *rtls_open(const char *path)
{
	struct ms_rtls_store *s = NULL;
	char why[200] = "";
	if (ms_rtls_store_open_sqlite(NULL, path, &s, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "open: %s\n", why);
		return NULL;
	}
	return s;
}

static void rtls_close(void *h)
{
	ms_rtls_store_free(h);
}

static int rtls_check(void *h, const struct ack *a)
{
	char dom[64], why[200] = "";
	if (a->kind == 0)
		snprintf(dom, sizeof(dom), "u%" PRIu64 ".kill.test", a->seq);
	else
		snprintf(dom, sizeof(dom), "hot%u.kill.test", a->key);
	struct ms_rtls_capability c;
	int found = 0;
	if (ms_rtls_store_get(h, "sender@kill.test", dom, &c, &found, why, sizeof(why)) != MS_OK ||
	    !found) {
		fprintf(stderr, "%s: missing %s\n", dom, why);
		return 1;
	}
	uint64_t v = (uint64_t)c.updated;
	if (a->kind == 0 ? v != a->seq : v < a->seq) {
		fprintf(stderr, "%s: updated %" PRIu64 ", acknowledged %" PRIu64 "\n", dom, v, a->seq);
		return 1;
	}
	/* whole: the flags belong to the version stored */
	if (c.starttls != 1 || c.requiretls != (int)(v & 1) ||
	    (c.requiretls && c.requiretls_last != c.updated)) {
		fprintf(stderr, "%s: record not whole (starttls %d requiretls %d at %" PRIu64 ")\n",
			dom, c.starttls, c.requiretls, v);
		return 1;
	}
	return 0;
}

START_TEST(requiretls_store)
{
	static const struct store_kind k = { "requiretls", rtls_writer, rtls_check, rtls_open,
					     rtls_close };
	run_kind(&k);
}
END_TEST
#endif

int main(void)
{
	const char *s = getenv("MS_HARD_SEED");
	seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
	srand(seed);
	printf("seed %u (MS_HARD_SEED to replay)\n", seed);
	fflush(stdout); /* before the forks */
	snprintf(dir, sizeof(dir), "/tmp/ms-hard-sqlite-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	acks = calloc(MAX_ACKS, sizeof(*acks));
	if (acks == NULL)
		return 2;
	Suite *su = suite_create("hardening-sqlite");
	TCase *tc = tcase_create("kill");
	tcase_set_timeout(tc, 240);
#ifdef HARD_HAVE_MTASTS
	tcase_add_test(tc, mtasts_cache);
#endif
#ifdef HARD_HAVE_RTLS
	tcase_add_test(tc, requiretls_store);
#endif
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(acks);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
