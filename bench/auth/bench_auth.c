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
#include <mailsec/auth.h>

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

#define NSIG 8

/* ---- the zone -------------------------------------------------------- */
struct rr {
	char name[128];
	uint16_t type;
	char value[512];
};
static struct rr zone[32];
static size_t nzone;

static void add(const char *name, uint16_t type, const char *value)
{
	struct rr *r = &zone[nzone++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->type = type;
	snprintf(r->value, sizeof(r->value), "%s", value);
}

static size_t wire_name(const char *name, uint8_t *out)
{
	size_t o = 0;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		out[o++] = (uint8_t)l;
		memcpy(out + o, p, l);
		o += l;
		p += l + (dot != NULL);
	}
	out[o++] = 0;
	return o;
}

/* rdata of zone record i */
static size_t rdata(const struct rr *r, uint8_t *out)
{
	switch (r->type) {
	case MS_DNS_T_TXT: {
		size_t sl = strlen(r->value), o = 0;
		for (size_t off = 0; off < sl; off += 255) {
			size_t c = sl - off > 255 ? 255 : sl - off;
			out[o++] = (uint8_t)c;
			memcpy(out + o, r->value + off, c);
			o += c;
		}
		return o;
	}
	case MS_DNS_T_A:
		inet_pton(AF_INET, r->value, out);
		return 4;
	case MS_DNS_T_PTR:
		return wire_name(r->value, out);
	}
	return 0;
}

/* 0: answer, 1: nodata, 3: nxdomain */
static int lookup(const char *name, uint16_t type, const struct rr **hits, size_t *n)
{
	int exists = 0;
	*n = 0;
	for (size_t i = 0; i < nzone; i++)
		if (strcasecmp(zone[i].name, name) == 0) {
			exists = 1;
			if (zone[i].type == type)
				hits[(*n)++] = &zone[i];
		}
	return *n ? 0 : exists ? 1 : 3;
}

/* ---- the injected resolver (the cached run) ---------------------------- */
static ms_status mem_resolve(void *user, const char *name, uint16_t type,
			     struct ms_dns_result **out)
{
	(void)user;
	const struct rr *hits[8];
	size_t n;
	int rc = lookup(name, type, hits, &n);
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_result_create(NULL, name, type,
					    rc == 0 ? MS_DNS_ANSWER : rc == 1 ? MS_DNS_NODATA
									  : MS_DNS_NXDOMAIN,
					    MS_DNS_INSECURE, &r);
	for (size_t i = 0; st == MS_OK && i < n; i++) {
		uint8_t buf[600];
		size_t len = rdata(hits[i], buf);
		st = ms_dns_result_add(r, type, buf, len);
	}
	if (st == MS_OK)
		st = ms_dns_result_set_meta(r, 300, NULL, -1, -1, NULL);
	if (st != MS_OK) {
		ms_dns_result_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

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
	const struct rr *hits[8];
	size_t n;
	int rc = lookup(name, type, hits, &n);
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
		size_t len = rdata(hits[i], out + w + 2);
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
static const char CLIENT[] = "192.0.2.10", HELO[] = "mx.bench.test",
		  MAILFROM[] = "alice@bench.test";

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench-auth: %s\n", what);
		exit(1);
	}
}

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
		check(ms_auth_dkim_count(a) == NSIG, "ours: dkim count");
		for (size_t i = 0; i < NSIG; i++)
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
	const char *dom[NSIG], *sel[NSIG];
	enum ms_dmarc_dkim_result res[NSIG];
	for (size_t i = 0; i < NSIG; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		dom[i] = ms_dkim_sig_domain(s);
		sel[i] = ms_dkim_sig_selector(s);
		res[i] = ms_auth_dkim_to_dmarc(ms_dkim_sig_result(s));
	}
	struct ms_dmarc *dm = NULL;
	struct ms_dmarc_verdict *mv = NULL;
	check(ms_dmarc_new(NULL, dns, &dm, why, sizeof(why)) == MS_OK, why);
	check(ms_dmarc_check(dm, "bench.test", ms_spf_verdict_result(sv),
			     ms_spf_verdict_domain(sv), dom, sel, res, NSIG, &mv, why,
			     sizeof(why)) == MS_OK, why);
	if (verify) {
		check(ms_spf_verdict_result(sv) == MS_SPF_PASS, "seq: spf");
		for (size_t i = 0; i < NSIG; i++)
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

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* median over `n` runs; `cpu`: process CPU time, else wall time */
static uint64_t median(void (*fn)(struct ms_dns_ctx *, int), struct ms_dns_ctx *dns, int n,
		       int cpu)
{
	uint64_t *t = calloc((size_t)n, sizeof(*t));
	check(t != NULL, "out of memory");
	fn(dns, 1);   /* warm-up, and the verdict checked */
	for (int i = 0; i < n; i++) {
		uint64_t t0 = cpu ? cpu_ns() : mono_ns();
		fn(dns, 0);
		t[i] = (cpu ? cpu_ns() : mono_ns()) - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	uint64_t m = t[n / 2];
	free(t);
	return m;
}

/* ---- setup ------------------------------------------------------------- */
static void build_world(void)
{
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	check(ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, &k, why, sizeof(why)) ==
	      MS_OK, why);
	char *rec = NULL;
	check(ms_dkim_key_txt_record(k, &rec) == MS_OK, "key record");
	add("bench.test", MS_DNS_T_TXT,
	    "v=spf1 include:i1.bench.test include:i2.bench.test include:i3.bench.test -all");
	add("i1.bench.test", MS_DNS_T_TXT, "v=spf1 ip4:198.51.100.1 -all");
	add("i2.bench.test", MS_DNS_T_TXT, "v=spf1 ip4:198.51.100.2 -all");
	add("i3.bench.test", MS_DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 -all");
	add("_dmarc.bench.test", MS_DNS_T_TXT, "v=DMARC1; p=reject");
	add("10.2.0.192.in-addr.arpa", MS_DNS_T_PTR, "mx.bench.test");
	add("mx.bench.test", MS_DNS_T_A, CLIENT);
	static const char body[] = "From: Alice <alice@bench.test>\r\nTo: bob@example.net\r\n"
				   "Subject: eight signatures\r\n\r\nHello.\r\n";
	struct ms_dkim_signer *s = NULL;
	check(ms_dkim_signer_new(NULL, &s) == MS_OK, "signer");
	for (int i = 1; i <= NSIG; i++) {
		char name[128], dom[64], sel[16];
		snprintf(dom, sizeof(dom), "d%d.bench.test", i);
		snprintf(sel, sizeof(sel), "s%d", i);
		snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
		add(name, MS_DNS_T_TXT, rec);
		struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = k,
					       .domain = dom, .selector = sel,
					       .header_canon = MS_DKIM_CANON_RELAXED,
					       .body_canon = MS_DKIM_CANON_RELAXED };
		check(ms_dkim_signer_add(s, &o, why, sizeof(why)) == MS_OK, why);
	}
	check(ms_dkim_signer_feed(s, (const uint8_t *)body, strlen(body), why, sizeof(why)) ==
	      MS_OK && ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, why);
	snprintf(msg, sizeof(msg), "%s%s", ms_dkim_signer_headers(s), body);
	ms_dkim_signer_free(s);
	ms_dkim_string_free(rec);
	ms_dkim_key_free(k);
}

int main(int argc, char **argv)
{
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
	check(ms_dns_ctx_new_custom(NULL, mem_resolve, NULL, &dns) == MS_OK, "custom ctx");
	int n = iters * 20;
	o = median(ours, dns, n, 1);
	s = median(sequential, dns, n, 1);
	printf("bench auth-8sig-cached/sequential ours_ns=%llu sequential_ns=%llu ratio=%.2f\n",
	       (unsigned long long)o, (unsigned long long)s, (double)s / (double)o);
	ms_dns_ctx_free(dns);
	return 0;
}
