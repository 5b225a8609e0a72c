/*
 * bench_policyd.c - mailsec-policyd against postfix-mta-sts-resolver's
 * mta-sts-daemon (Debian package postfix-mta-sts-resolver), both answering
 * Postfix socketmap queries over a unix socket for the same 1,000 MTA-STS
 * enforce domains from a warm cache, at 1, 16 and 256 concurrent clients.
 *
 * usage: bench-policyd MAILSEC_POLICYD [SECONDS_PER_RUN]
 *        bench-policyd MAILSEC_POLICYD --soak SECONDS
 *
 * --soak: only our daemon without its memo (every answer a full route, the
 * path that allocates), 16 clients for SECONDS; its resident set size is
 * sampled every 10 s and printed as
 *   soak t=<s> answers=<n> rss_kb=<kB>
 * ending with "soak rss_first_kb=.. rss_last_kb=.. growth=..%" (after a
 * first minute of warm-up, the RSS should stay flat within 10 %).
 *
 * Set-up (in a temporary directory): an unsigned zone bench.test with
 * d0..d999.bench.test (MX, A, _mta-sts TXT id=1) that libunbound serves to
 * our daemon as an auth-zone; both caches pre-filled with the same policy
 * per domain ("mx: mx.dN.bench.test", enforce): ours through libmtasts's
 * store API (ms_sts_store_put, the daemon's SQLite file), theirs in its
 * SQLite schema with a cache_grace longer than the run, so it answers from
 * the cache alone.  Ours still makes its per-answer DNS lookups (MX, A,
 * AAAA, the _mta-sts TXT) through libunbound's cache, as in production.
 * A warm-up pass asks both for every domain and requires identical answers
 * (else the bench is void and exits 1).
 *
 * The load: one epoll client thread, N connections, each with one request
 * in flight (as Postfix's proxymap/smtp clients do), domains in rotation,
 * for SECONDS_PER_RUN (default 3) per daemon and level.  Output:
 *   bench answers-cN/mta-sts-daemon ours_ns=<ns per answer> mta-sts-daemon_ns=.. ratio=..
 *   bench p99-cN/mta-sts-daemon ours_ns=<p99 latency> mta-sts-daemon_ns=.. ratio=..
 * with answers/s and p99 in microseconds appended for reading; a ratio
 * above 1 means ours is faster.  The "-nomemo" cases run a second
 * mailsec-policyd with answer_cache_ttl=0: every answer is then a full
 * route (its DNS from libunbound's cache, the policy from SQLite), the
 * cost of a domain whose memo entry has just expired.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/mtasts.h>

#define NDOMAINS 1000
#define MAXCONN 256

static char dir[64];

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-policyd: %s\n", what);
	exit(1);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

static void policy_text(int i, char *out, size_t n)
{
	snprintf(out, n, "version: STSv1\r\nmode: enforce\r\nmx: mx.d%d.bench.test\r\nmax_age: 604800\r\n",
		 i);
}

/* ---- the shared world ------------------------------------------------- */

static void make_zone(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/bench.test.zone", dir);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		die("zone");
	fprintf(f, "$ORIGIN bench.test.\n$TTL 86400\n"
		   "@ IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 900 604800 86400\n"
		   "@ IN NS ns1.bench.test.\nns1 IN A 127.0.0.1\n");
	for (int i = 0; i < NDOMAINS; i++)
		fprintf(f, "d%d IN MX 10 mx.d%d.bench.test.\nmx.d%d IN A 127.0.0.1\n"
			   "_mta-sts.d%d IN TXT \"v=STSv1; id=1;\"\n", i, i, i, i);
	if (fclose(f) != 0)
		die("zone");
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "server:\n    module-config: \"iterator\"\n    local-zone: \"bench.test.\" transparent\n"
		 "    local-zone: \".\" refuse\n    do-not-query-localhost: no\n"
		 "    use-syslog: no\n    verbosity: 0\n"
		 "auth-zone:\n    name: \"bench.test\"\n    zonefile: \"%s\"\n"
		 "    for-upstream: yes\n    for-downstream: no\n    fallback-enabled: no\n",
		 path);
	snprintf(path, sizeof(path), "%s/unbound.conf", dir);
	write_file(path, conf);
}

static void fill_our_cache(void)
{
	char path[128], why[256] = "";
	snprintf(path, sizeof(path), "%s/ours.sqlite", dir);
	struct ms_sts_store *st = NULL;
	if (ms_sts_store_new_sqlite(NULL, path, &st, why, sizeof(why)) != MS_OK)
		die(why);
	int64_t t = time(NULL);
	for (int i = 0; i < NDOMAINS; i++) {
		char pol[256];
		policy_text(i, pol, sizeof(pol));
		struct ms_sts_entry e;
		memset(&e, 0, sizeof(e));
		e.version = MS_STS_ENTRY_VERSION;
		snprintf(e.domain, sizeof(e.domain), "d%d.bench.test", i);
		snprintf(e.id, sizeof(e.id), "1");
		e.policy = (const uint8_t *)pol;
		e.policy_len = strlen(pol);
		e.fetched_at = t;
		e.expires_at = t + 604800;
		e.last_used = t;
		if (ms_sts_store_put(st, &e) != MS_OK)
			die("ms_sts_store_put");
	}
	ms_sts_store_free(st);
}

static void fill_their_cache(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/theirs.sqlite", dir);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite");
	const char *schema =
		"PRAGMA journal_mode=WAL;"
		"create table if not exists proactive_fetch_ts (id integer primary key, last_fetch_ts integer);"
		"create table if not exists sts_policy_cache (domain text, ts integer, pol_id text, pol_body text);"
		"create unique index if not exists sts_policy_domain on sts_policy_cache (domain);"
		"create index if not exists sts_policy_domain_ts on sts_policy_cache (domain, ts);"
		"begin;";
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	long t = (long)time(NULL);
	for (int i = 0; i < NDOMAINS; i++) {
		char sql[512];
		snprintf(sql, sizeof(sql),
			 "insert into sts_policy_cache values ('d%d.bench.test', %ld, '1', "
			 "'{\"version\": \"STSv1\", \"mode\": \"enforce\", \"mx\": [\"mx.d%d.bench.test\"], "
			 "\"max_age\": 604800}');",
			 i, t, i);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			die(sqlite3_errmsg(db));
	}
	if (sqlite3_exec(db, "commit;", NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	sqlite3_close(db);
	char yml[1024];
	snprintf(yml, sizeof(yml),
		 "path: \"%s/theirs.sock\"\nmode: 0666\ncache_grace: 100000000\n"
		 "cache:\n  type: sqlite\n  options:\n    filename: \"%s/theirs.sqlite\"\n"
		 "default_zone:\n  strict_testing: false\n  timeout: 4\n",
		 dir, dir);
	snprintf(path, sizeof(path), "%s/theirs.yml", dir);
	write_file(path, yml);
}

/* ---- daemons ------------------------------------------------------------ */

static pid_t spawn(char *const argv[], const char *sock)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char log[128];
		snprintf(log, sizeof(log), "%s/%d.log", dir, (int)getpid());
		FILE *f = freopen(log, "w", stderr);
		(void)f;
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) { /* up to 30 s: python start-up */
		struct stat st;
		if (stat(sock, &st) == 0)
			return pid;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			die("a daemon exited at start-up (its log is in the temporary directory)");
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	die("a daemon did not create its socket");
	return -1;
}

static int dial(const char *sock)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("connect");
	return fd;
}

/* One blocking query (warm-up and the identity check). */
static void ask(int fd, const char *name, int i, char *out, size_t outlen)
{
	char req[128], q[96];
	int ql = snprintf(q, sizeof(q), "%s d%d.bench.test", name, i);
	int n = snprintf(req, sizeof(req), "%d:%s,", ql, q);
	if (write(fd, req, (size_t)n) != n)
		die("write");
	size_t len = 0;
	char buf[4096];
	for (;;) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0)
			die("read");
		len += (size_t)k;
		buf[len] = '\0';
		char *colon = strchr(buf, ':');
		if (colon && len >= (size_t)(colon - buf) + 2 + (size_t)atoi(buf))
			break;
	}
	char *colon = strchr(buf, ':');
	snprintf(out, outlen, "%.*s", atoi(buf), colon + 1);
}

/* ---- the load ------------------------------------------------------------ */

struct lconn {
	int fd;
	int64_t sent;
	size_t len;
	char buf[512];
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void send_req(struct lconn *c, const char *name, int *next)
{
	char req[128], q[96];
	int ql = snprintf(q, sizeof(q), "%s d%d.bench.test", name, *next);
	*next = (*next + 1) % NDOMAINS;
	int n = snprintf(req, sizeof(req), "%d:%s,", ql, q);
	c->sent = now_ns();
	if (write(c->fd, req, (size_t)n) != n)
		die("write (load)");
}

/* Run `nconn` clients for `secs`; *aps answers per second, *p99 ns. */
static void load(const char *sock, const char *name, int nconn, double secs, double *aps,
		 double *p99)
{
	static struct lconn conns[MAXCONN];
	size_t cap = 1 << 20, nlat = 0;
	int64_t *lat = malloc(cap * sizeof(*lat));
	int ep = epoll_create1(0);
	int next = 0;
	if (lat == NULL || ep < 0)
		die("load set-up");
	for (int i = 0; i < nconn; i++) {
		conns[i].fd = dial(sock);
		conns[i].len = 0;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	int64_t t0 = now_ns(), end = t0 + (int64_t)(secs * 1e9);
	for (int i = 0; i < nconn; i++)
		send_req(&conns[i], name, &next);
	int64_t t = t0;
	while (t < end) {
		struct epoll_event evs[MAXCONN];
		int n = epoll_wait(ep, evs, MAXCONN, 1000);
		t = now_ns();
		for (int e = 0; e < n; e++) {
			struct lconn *c = &conns[evs[e].data.u32];
			ssize_t k = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
			if (k <= 0)
				die("a daemon closed a client connection");
			c->len += (size_t)k;
			c->buf[c->len] = '\0';
			char *colon = strchr(c->buf, ':');
			if (colon == NULL || c->len < (size_t)(colon - c->buf) + 2 + (size_t)atoi(c->buf))
				continue;
			if (nlat < cap)
				lat[nlat++] = t - c->sent;
			c->len = 0;
			if (t < end)
				send_req(c, name, &next);
		}
	}
	int64_t elapsed = now_ns() - t0;
	for (int i = 0; i < nconn; i++)
		close(conns[i].fd);
	close(ep);
	if (nlat == 0)
		die("no answers");
	qsort(lat, nlat, sizeof(*lat), cmp_i64);
	*aps = (double)nlat / ((double)elapsed / 1e9);
	*p99 = (double)lat[(nlat * 99) / 100];
	free(lat);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* The soak: 10 s loads back to back, RSS after each. */
static int soak(const char *sock, pid_t pid, double secs)
{
	long first = -1, last = -1;
	double total = 0;
	for (double t = 0; t < secs; t += 10) {
		double aps, p99;
		load(sock, "postfix", 16, 10, &aps, &p99);
		total += aps * 10;
		last = rss_kb(pid);
		if (t + 10 >= 60 && first < 0)
			first = last; /* after a minute of warm-up */
		printf("soak t=%.0f answers=%.0f rss_kb=%ld p99_us=%.0f\n", t + 10, total, last,
		       p99 / 1e3);
		fflush(stdout);
	}
	if (first <= 0)
		first = last;
	printf("soak rss_first_kb=%ld rss_last_kb=%ld growth=%.1f%%\n", first, last,
	       100.0 * (double)(last - first) / (double)first);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-policyd MAILSEC_POLICYD [SECONDS_PER_RUN]\n");
		return 2;
	}
	int soaking = argc > 3 && strcmp(argv[2], "--soak") == 0;
	double secs = soaking ? atof(argv[3]) : argc > 2 ? atof(argv[2]) : 3.0;
	if (!soaking && access("/usr/bin/mta-sts-daemon", X_OK) != 0)
		die("mta-sts-daemon missing (Debian package postfix-mta-sts-resolver)");
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/bench-policyd-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	make_zone();
	fill_our_cache();
	fill_their_cache();

	char ours_sock[128], theirs_sock[128], o1[160], o2[160], o3[160], yml[128];
	snprintf(ours_sock, sizeof(ours_sock), "%s/ours.sock", dir);
	snprintf(theirs_sock, sizeof(theirs_sock), "%s/theirs.sock", dir);
	snprintf(o1, sizeof(o1), "listen_unix=%s", ours_sock);
	snprintf(o2, sizeof(o2), "dns_config=%s/unbound.conf", dir);
	snprintf(o3, sizeof(o3), "cache=%s/ours.sqlite", dir);
	snprintf(yml, sizeof(yml), "%s/theirs.yml", dir);
	char *ours_argv[] = {argv[1], "-c", "/dev/null", "-o", o1, "-o", o2, "-o", o3,
			     "-o", "refresh=no", "-o", "log_level=warning", "-o", "map_name=postfix",
			     "-o", "max_connections=1024", NULL};
	char *theirs_argv[] = {"/usr/bin/mta-sts-daemon", "-c", yml, "-v", "warn", NULL};
	if (soaking) {
		char s_sock[128], s1[160];
		snprintf(s_sock, sizeof(s_sock), "%s/soak.sock", dir);
		snprintf(s1, sizeof(s1), "listen_unix=%s", s_sock);
		char *soak_argv[] = {argv[1], "-c", "/dev/null", "-o", s1, "-o", o2, "-o", o3,
				     "-o", "refresh=no", "-o", "log_level=warning",
				     "-o", "map_name=postfix", "-o", "answer_cache_ttl=0", NULL};
		pid_t sp = spawn(soak_argv, s_sock);
		int rc = soak(s_sock, sp, secs);
		kill(sp, SIGTERM);
		waitpid(sp, NULL, 0);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		return rc;
	}
	pid_t ours = spawn(ours_argv, ours_sock);
	/* the same daemon without its answer memo: every answer a full route
	 * (DNS from libunbound's cache, the policy from SQLite) */
	char nomemo_sock[128], o4[160];
	snprintf(nomemo_sock, sizeof(nomemo_sock), "%s/nomemo.sock", dir);
	snprintf(o4, sizeof(o4), "listen_unix=%s", nomemo_sock);
	char *nomemo_argv[] = {argv[1], "-c", "/dev/null", "-o", o4, "-o", o2, "-o", o3,
			       "-o", "refresh=no", "-o", "log_level=warning", "-o", "map_name=postfix",
			       "-o", "max_connections=1024", "-o", "answer_cache_ttl=0", NULL};
	pid_t nomemo = spawn(nomemo_argv, nomemo_sock);
	pid_t theirs = spawn(theirs_argv, theirs_sock);

	/* warm-up, and both must say the same thing for every domain */
	int fo = dial(ours_sock), ft = dial(theirs_sock), fn = dial(nomemo_sock);
	for (int i = 0; i < NDOMAINS; i++) {
		char a[512], b[512], c[512], want[256];
		ask(fo, "postfix", i, a, sizeof(a));
		ask(ft, "postfix", i, b, sizeof(b));
		ask(fn, "postfix", i, c, sizeof(c));
		snprintf(want, sizeof(want), "OK secure match=mx.d%d.bench.test servername=hostname", i);
		if (strcmp(a, want) != 0 || strcmp(b, want) != 0 || strcmp(c, want) != 0) {
			fprintf(stderr, "bench-policyd: answers differ for d%d: ours '%s', theirs '%s', "
				"ours without memo '%s'\n", i, a, b, c);
			kill(ours, SIGTERM);
			kill(theirs, SIGTERM);
			kill(nomemo, SIGTERM);
			return 1;
		}
	}
	close(fo);
	close(ft);
	close(fn);

	static const int levels[] = {1, 16, 256};
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		double oa, op, ta, tp, na, np;
		load(ours_sock, "postfix", levels[l], secs, &oa, &op);
		load(theirs_sock, "postfix", levels[l], secs, &ta, &tp);
		load(nomemo_sock, "postfix", levels[l], secs, &na, &np);
		printf("bench answers-c%d/mta-sts-daemon ours_ns=%.0f mta-sts-daemon_ns=%.0f ratio=%.2f"
		       " ours_per_s=%.0f mta-sts-daemon_per_s=%.0f\n",
		       levels[l], 1e9 / oa, 1e9 / ta, oa / ta, oa, ta);
		printf("bench p99-c%d/mta-sts-daemon ours_ns=%.0f mta-sts-daemon_ns=%.0f ratio=%.2f"
		       " ours_p99_us=%.0f mta-sts-daemon_p99_us=%.0f\n",
		       levels[l], op, tp, tp / op, op / 1e3, tp / 1e3);
		printf("bench answers-nomemo-c%d/mta-sts-daemon ours_ns=%.0f mta-sts-daemon_ns=%.0f "
		       "ratio=%.2f ours_per_s=%.0f mta-sts-daemon_per_s=%.0f\n",
		       levels[l], 1e9 / na, 1e9 / ta, na / ta, na, ta);
		printf("bench p99-nomemo-c%d/mta-sts-daemon ours_ns=%.0f mta-sts-daemon_ns=%.0f ratio=%.2f"
		       " ours_p99_us=%.0f mta-sts-daemon_p99_us=%.0f\n",
		       levels[l], np, tp, tp / np, np / 1e3, tp / 1e3);
		fflush(stdout);
	}
	kill(nomemo, SIGTERM);
	waitpid(nomemo, NULL, 0);
	kill(ours, SIGTERM);
	kill(theirs, SIGTERM);
	waitpid(ours, NULL, 0);
	waitpid(theirs, NULL, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}
