/*
 * bench_spf.c - `bench-spf`: SPF evaluation time, ours against libspf2, on
 * the same records served from memory on both sides (our injected
 * resolver, libspf2's zone layer), so the DNS cost is a warm cache.  Each
 * case asserts that both reach the same verdict, then prints
 *   bench <case>/libspf2 ours_ns=<median> libspf2_ns=<median> ratio=<libspf2/ours>
 * "Warm" for us means the evaluator's answer cache (ms_spf_set_cache);
 * the <case>-uncached lines show ours without it, every answer coming
 * through libdnssec-stub's injected-resolver path.
 * Usage: bench-spf [ITERATIONS_PER_BATCH [CASE]]
 */
#include "fakedns.h"

#include <mailsec/spf.h>

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCHES 41

struct rr {
	const char *name, *type, *value;
};

struct bcase {
	const char *name, *ip, *sender;
	const struct rr *rrs;
};

static const struct rr ip4_direct[] = {
	{ "d0.bench.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all" },
	{ NULL, NULL, NULL } };
static const struct rr include_chain[] = {
	{ "c0.bench.example", "TXT", "v=spf1 include:c1.bench.example -all" },
	{ "c1.bench.example", "TXT", "v=spf1 include:c2.bench.example -all" },
	{ "c2.bench.example", "TXT", "v=spf1 include:c3.bench.example -all" },
	{ "c3.bench.example", "TXT", "v=spf1 include:c4.bench.example -all" },
	{ "c4.bench.example", "TXT", "v=spf1 include:c5.bench.example -all" },
	{ "c5.bench.example", "TXT", "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.0/24 -all" },
	{ NULL, NULL, NULL } };
static const struct rr mx_a[] = {
	{ "m.bench.example", "TXT", "v=spf1 mx a:web.bench.example -all" },
	{ "m.bench.example", "MX", "10 mx1.bench.example" },
	{ "m.bench.example", "MX", "20 mx2.bench.example" },
	{ "mx1.bench.example", "A", "198.51.100.1" },
	{ "mx2.bench.example", "A", "198.51.100.2" },
	{ "web.bench.example", "A", "192.0.2.10" },
	{ NULL, NULL, NULL } };
static const struct rr macro_exists[] = {
	{ "x.bench.example", "TXT", "v=spf1 exists:%{ir}.%{l1r-}.e.bench.example -all" },
	{ "10.2.0.192.first.e.bench.example", "A", "127.0.0.2" },
	{ NULL, NULL, NULL } };

static const struct bcase cases[] = {
	{ "ip4-direct", "192.0.2.10", "user@d0.bench.example", ip4_direct },
	{ "include-chain-5", "192.0.2.10", "user@c0.bench.example", include_chain },
	{ "mx-a-mixed", "192.0.2.10", "user@m.bench.example", mx_a },
	{ "macro-exists", "192.0.2.10", "first-user@x.bench.example", macro_exists },
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- ours ---- */
static struct fakedns *ours_zone;
static struct ms_spf *ours, *ours_uncached, *cur;

static const char *ours_once(const struct bcase *c)
{
	struct ms_spf_verdict *v = NULL;
	if (ms_spf_check_mailfrom(cur, c->ip, "helo.bench.example", c->sender, &v, NULL, 0) != MS_OK)
		return "error";
	const char *r = ms_spf_result_str(ms_spf_verdict_result(v));
	ms_spf_verdict_free(v);
	return r;
}

/* ---- libspf2 ---- */
static SPF_server_t *peer;

static const char *peer_once(const struct bcase *c)
{
	SPF_request_t *req = SPF_request_new(peer);
	SPF_response_t *resp = NULL;
	SPF_request_set_ipv4_str(req, c->ip);
	SPF_request_set_helo_dom(req, "helo.bench.example");
	SPF_request_set_env_from(req, c->sender);
	SPF_request_query_mailfrom(req, &resp);
	const char *r = resp ? SPF_strresult(SPF_response_result(resp)) : "error";
	SPF_response_free(resp);
	SPF_request_free(req);
	return r;
}

/* Batches of ours and the peer alternate, so load from other processes on
 * a shared machine hits both sides alike; each side's median batch counts. */
static void measure(const struct bcase *c, unsigned iters, uint64_t *ours_ns, uint64_t *peer_ns)
{
	uint64_t o[BATCHES], p[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		uint64_t s = now_ns();
		for (unsigned i = 0; i < iters; i++)
			ours_once(c);
		uint64_t m = now_ns();
		for (unsigned i = 0; i < iters; i++)
			peer_once(c);
		o[b] = (m - s) / iters;
		p[b] = (now_ns() - m) / iters;
	}
	qsort(o, BATCHES, sizeof(o[0]), cmp_u64);
	qsort(p, BATCHES, sizeof(p[0]), cmp_u64);
	*ours_ns = o[BATCHES / 2];
	*peer_ns = p[BATCHES / 2];
}

int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
	if (iters == 0)
		iters = 1;
	ours_zone = fakedns_new();
	struct ms_dns_ctx *dns = fakedns_ctx(ours_zone);
	SPF_dns_server_t *pz = SPF_dns_zone_new(NULL, "bench", 0);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		for (const struct rr *r = cases[k].rrs; r->name; r++) {
			fakedns_add(ours_zone, r->name, r->type, r->value);
			if (strcmp(r->type, "TXT") == 0)
				SPF_dns_zone_add_str(pz, r->name, ns_t_txt, NETDB_SUCCESS, r->value);
			else if (strcmp(r->type, "A") == 0)
				SPF_dns_zone_add_str(pz, r->name, ns_t_a, NETDB_SUCCESS, r->value);
			else if (strcmp(r->type, "MX") == 0)
				SPF_dns_zone_add_str(pz, r->name, ns_t_mx, NETDB_SUCCESS,
						     strchr(r->value, ' ') + 1);
		}
	if (dns == NULL || ms_spf_new(NULL, dns, &ours) != MS_OK ||
	    ms_spf_set_cache(ours, 1024) != MS_OK || ms_spf_new(NULL, dns, &ours_uncached) != MS_OK)
		return 1;
	peer = SPF_server_new_dns(pz, 0);
	int rc = 0;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct bcase *c = &cases[k];
		if (argc > 2 && strcmp(argv[2], c->name) != 0)
			continue;
		cur = ours;
		const char *a = ours_once(c), *b = peer_once(c);
		if (strcmp(a, b) != 0 || strcmp(a, "pass") != 0) {
			fprintf(stderr, "bench-spf: %s: verdicts differ: ours=%s libspf2=%s\n",
				c->name, a, b);
			rc = 1;
			continue;
		}
		for (int uncached = 0; uncached < 2; uncached++) {
			uint64_t o, p;
			cur = uncached ? ours_uncached : ours;
			measure(c, iters, &o, &p);
			printf("bench %s%s/libspf2 ours_ns=%llu libspf2_ns=%llu ratio=%.2f\n", c->name,
			       uncached ? "-uncached" : "", (unsigned long long)o,
			       (unsigned long long)p, o ? (double)p / (double)o : 0.0);
			fflush(stdout);
		}
	}
	SPF_server_free(peer);
	ms_spf_free(ours);
	ms_spf_free(ours_uncached);
	ms_dns_ctx_free(dns);
	fakedns_free(ours_zone);
	return rc;
}
