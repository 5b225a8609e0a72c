/*
 * bench_auth.c - `bench-auth`: the inbound verdict (mailsec/auth.h) with
 * its lookups in parallel against the sequential path (today's
 * composition before issue 15: SPF, iprev, DKIM, DMARC one after another,
 * each lookup waiting for the previous), on a message with 8 signatures
 * (8 selectors in 8 domains), SPF with 3 includes, DMARC and iprev.
 *
 * The zone is served by a small loopback DNS responder in this process
 * that delays every answer by DELAY_MS (default 50), behind libunbound
 * (CONFIG_FILE mode: iterator only, stub-zones to the responder, nothing
 * cached, so every verdict pays its round trips).  Prints
 *   bench auth-8sig/sequential ours_ns=<median> sequential_ns=<median> ratio=<seq/ours>
 *   (and the round trips of wall time each took, at DELAY_MS per trip)
 * then the CPU cost per message with every answer in memory (injected
 * resolver, no delay):
 *   bench auth-8sig-cached/sequential ours_ns=... sequential_ns=... ratio=...
 * Usage: bench-auth [ITERATIONS [DELAY_MS]]
 */
#include "bench_world.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the delaying loopback responder ----------------------------------- */
struct reply {
	uint64_t due;
	struct sockaddr_in to;
	size_t len;
	uint8_t buf[1500];
};
static int srv_fd = -1;
static unsigned delay_ms = 50;
static volatile int srv_stop;
static unsigned long srv_queries;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t answer(const uint8_t *q, size_t qlen, uint8_t *out)
{
	if (qlen < 17)
		return 0;
	char name[256];
	size_t o = 12, k = 0;
	while (o < qlen && q[o] != 0) {
		size_t l = q[o++];
		if (o + l > qlen || k + l + 1 >= sizeof(name))
			return 0;
		if (k)
			name[k++] = '.';
		memcpy(name + k, q + o, l);
		k += l;
		o += l;
	}
	name[k] = '\0';
	if (o + 5 > qlen)
		return 0;
	size_t qend = o + 5;
	uint16_t type = (uint16_t)(q[o + 1] << 8 | q[o + 2]);
	const struct bench_rr *hits[8];
	size_t n;
	int rc = bench_lookup(name, type, hits, &n);
	memcpy(out, q, qend);
	out[2] = (uint8_t)(0x84 | (q[2] & 0x01));   /* QR, AA, RD copied */
	out[3] = (uint8_t)rc;
	out[4] = 0, out[5] = 1;
	out[6] = 0, out[7] = (uint8_t)n;
	memset(out + 8, 0, 4);
	size_t w = qend;
	for (size_t i = 0; i < n; i++) {
		out[w++] = 0xc0, out[w++] = 12;
		out[w++] = (uint8_t)(type >> 8), out[w++] = (uint8_t)type;
		out[w++] = 0, out[w++] = 1;                        /* IN */
		out[w++] = 0, out[w++] = 0, out[w++] = 0x0e, out[w++] = 0x10;  /* 3600 */
		size_t len = bench_rdata(hits[i], out + w + 2);
		out[w++] = (uint8_t)(len >> 8), out[w++] = (uint8_t)len;
		w += len;
	}
	return w;
}

static void *serve(void *arg)
{
	(void)arg;
	static struct reply q[256];
	size_t nq = 0;
	while (!srv_stop) {
		uint64_t now = mono_ns();
		int wait = 20;
		for (size_t i = 0; i < nq;) {
			if (q[i].due <= now) {
				sendto(srv_fd, q[i].buf, q[i].len, 0, (struct sockaddr *)&q[i].to,
				       sizeof(q[i].to));
				q[i] = q[--nq];
				continue;
			}
			int w = (int)((q[i].due - now) / 1000000u);
			if (w < wait)
				wait = w;
			i++;
		}
		struct pollfd p = { .fd = srv_fd, .events = POLLIN };
		if (poll(&p, 1, wait) <= 0)
			continue;
		uint8_t buf[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t got = recvfrom(srv_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (got <= 0 || nq == sizeof(q) / sizeof(q[0]))
			continue;
		struct reply *r = &q[nq];
		r->len = answer(buf, (size_t)got, r->buf);
		if (r->len == 0)
			continue;
		r->to = from;
		r->due = mono_ns() + (uint64_t)delay_ms * 1000000u;
		__atomic_add_fetch(&srv_queries, 1, __ATOMIC_RELAXED);
		nq++;
	}
	return NULL;
}

/* ---- the two paths ----------------------------------------------------- */
static char msg[16384];

/* ms_auth: the parallel call. */
static void ours(struct ms_dns_ctx *dns, int verify)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = CLIENT,
				  .helo = HELO, .mail_from = MAILFROM, .deadline_ms = 20000 };
	struct ms_auth *a = NULL;
	char why[256] = "";
	check(ms_auth_run(NULL, &o, (const uint8_t *)msg, strlen(msg), &a, why, sizeof(why)) ==
	      MS_OK, why);
	if (verify) {
		check(ms_auth_spf_result(a) == MS_SPF_PASS, "ours: spf");
		check(ms_auth_dkim_count(a) == BENCH_NSIG, "ours: dkim count");
		for (size_t i = 0; i < BENCH_NSIG; i++)
			check(ms_auth_dkim_result(a, i) == MS_DMARC_DKIM_PASS, "ours: dkim");
		check(ms_auth_dmarc_result(a) == MS_DMARC_PASS, "ours: dmarc");
		check(ms_auth_iprev_result(a) == MS_IPREV_PASS, "ours: iprev");
	}
	ms_auth_free(a);
}

/* The sequential path: the evaluators straight on the context, one after
 * the other, as the inbound composition did before issue 15. */
static void sequential(struct ms_dns_ctx *dns, int verify)
{
	char why[256] = "";
	struct ms_spf *spf = NULL;
	struct ms_spf_verdict *sv = NULL;
	check(ms_spf_new(NULL, dns, &spf) == MS_OK, "spf new");
	check(ms_spf_check_mailfrom(spf, CLIENT, HELO, MAILFROM, &sv, why, sizeof(why)) == MS_OK,
	      why);
	struct ms_iprev_verdict *iv = NULL;
	check(ms_iprev_check(NULL, dns, CLIENT, 0, &iv, why, sizeof(why)) == MS_OK, why);
	struct ms_dkim_verifier *v = NULL;
	struct ms_dkim_verify *vf = NULL;
	check(ms_dkim_verifier_new(NULL, dns, &v) == MS_OK && ms_dkim_verify_new(v, &vf) == MS_OK,
	      "dkim new");
	check(ms_dkim_verify_feed(vf, (const uint8_t *)msg, strlen(msg), why, sizeof(why)) ==
	      MS_OK && ms_dkim_verify_finish(vf, why, sizeof(why)) == MS_OK, why);
	const char *dom[BENCH_NSIG], *sel[BENCH_NSIG];
	enum ms_dmarc_dkim_result res[BENCH_NSIG];
	for (size_t i = 0; i < BENCH_NSIG; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		dom[i] = ms_dkim_sig_domain(s);
		sel[i] = ms_dkim_sig_selector(s);
		res[i] = ms_auth_dkim_to_dmarc(ms_dkim_sig_result(s));
	}
	struct ms_dmarc *dm = NULL;
	struct ms_dmarc_verdict *mv = NULL;
	check(ms_dmarc_new(NULL, dns, &dm, why, sizeof(why)) == MS_OK, why);
	check(ms_dmarc_check(dm, "bench.test", ms_spf_verdict_result(sv),
			     ms_spf_verdict_domain(sv), dom, sel, res, BENCH_NSIG, &mv, why,
			     sizeof(why)) == MS_OK, why);
	if (verify) {
		check(ms_spf_verdict_result(sv) == MS_SPF_PASS, "seq: spf");
		for (size_t i = 0; i < BENCH_NSIG; i++)
			check(res[i] == MS_DMARC_DKIM_PASS, "seq: dkim");
		check(ms_dmarc_verdict_result(mv) == MS_DMARC_PASS, "seq: dmarc");
		check(ms_iprev_verdict_result(iv) == MS_IPREV_PASS, "seq: iprev");
	}
	ms_dmarc_verdict_free(mv);
	ms_dmarc_free(dm);
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_free(v);
	ms_iprev_verdict_free(iv);
	ms_spf_verdict_free(sv);
	ms_spf_free(spf);
}

/* median over `n` runs; `cpu`: process CPU time, else wall time */
static uint64_t median(void (*fn)(struct ms_dns_ctx *, int), struct ms_dns_ctx *dns, int n,
		       int cpu)
{
	uint64_t *t = calloc((size_t)n, sizeof(*t));
	check(t != NULL, "out of memory");
	fn(dns, 1);   /* warm-up, and the verdict checked */
	for (int i = 0; i < n; i++) {
		uint64_t t0 = cpu ? bench_cpu_ns() : mono_ns();
		fn(dns, 0);
		t[i] = (cpu ? bench_cpu_ns() : mono_ns()) - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), bench_cmp_u64);
	uint64_t m = t[n / 2];
	free(t);
	return m;
}

/* ---- setup ------------------------------------------------------------- */
static void build_world(void)
{
	static const char body[] = "From: Alice <alice@bench.test>\r\nTo: bob@example.net\r\n"
				   "Subject: eight signatures\r\n\r\nHello.\r\n";
	bench_build_world(MS_DKIM_ED25519_SHA256, 0, body, msg, sizeof(msg));
}

int main(int argc, char **argv)
{
	bench_prog = "bench-auth";
	int iters = argc > 1 ? atoi(argv[1]) : 15;
	if (argc > 2)
		delay_ms = (unsigned)atoi(argv[2]);
	if (iters < 1)
		iters = 1;
	build_world();

	srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	check(srv_fd >= 0 && bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	      getsockname(srv_fd, (struct sockaddr *)&sa, &sl) == 0, "responder socket");
	pthread_t th;
	check(pthread_create(&th, NULL, serve, NULL) == 0, "responder thread");

	char dir[] = "/tmp/bench-auth-XXXXXX", conf[64];
	check(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(conf, sizeof(conf), "%s/unbound.conf", dir);
	FILE *f = fopen(conf, "w");
	check(f != NULL, "config");
	unsigned port = ntohs(sa.sin_port);
	fprintf(f, "server:\n    module-config: \"iterator\"\n    do-not-query-localhost: no\n"
		   "    use-syslog: no\n    qname-minimisation: no\n    cache-max-ttl: 0\n"
		   "    cache-max-negative-ttl: 0\n    local-zone: \"test.\" transparent\n"
		   "    local-zone: \"2.0.192.in-addr.arpa.\" transparent\n"
		   "stub-zone:\n    name: \"bench.test\"\n    stub-addr: 127.0.0.1@%u\n"
		   "stub-zone:\n    name: \"2.0.192.in-addr.arpa\"\n    stub-addr: 127.0.0.1@%u\n",
		port, port);
	fclose(f);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = conf };
	struct ms_dns_ctx *dns = NULL;
	char why[256] = "";
	check(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, why);

	unsigned long q0 = srv_queries;
	ours(dns, 1);
	unsigned long q_ours = srv_queries - q0;
	q0 = srv_queries;
	sequential(dns, 1);
	unsigned long q_seq = srv_queries - q0;
	uint64_t o = median(ours, dns, iters, 0), s = median(sequential, dns, iters, 0);
	printf("bench auth-8sig/sequential ours_ns=%llu sequential_ns=%llu ratio=%.2f\n",
	       (unsigned long long)o, (unsigned long long)s, (double)s / (double)o);
	printf("# %u ms per answer: ours %.1f round trips (%lu queries), sequential %.1f "
	       "(%lu queries)\n", delay_ms, (double)o / 1e6 / delay_ms, q_ours,
	       (double)s / 1e6 / delay_ms, q_seq);
	ms_dns_ctx_free(dns);
	srv_stop = 1;
	pthread_join(th, NULL);
	close(srv_fd);
	unlink(conf);
	rmdir(dir);

	/* CPU per message, every answer in memory */
	check(ms_dns_ctx_new_custom(NULL, bench_mem_resolve, NULL, &dns) == MS_OK, "custom ctx");
	int n = iters * 20;
	o = median(ours, dns, n, 1);
	s = median(sequential, dns, n, 1);
	printf("bench auth-8sig-cached/sequential ours_ns=%llu sequential_ns=%llu ratio=%.2f\n",
	       (unsigned long long)o, (unsigned long long)s, (double)s / (double)o);
	ms_dns_ctx_free(dns);
	return 0;
}
