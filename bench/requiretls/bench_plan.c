/*
 * bench_plan.c - `bench-plan`: the CPU cost of planning one delivery
 * (ms_rtls_route_new: MX, the hosts' addresses, DANE TLSA, MTA-STS, and the
 * plan of every host) for one recipient domain with warm caches, against a
 * fixed target of 50 us per domain (issue 20).  There is no peer library
 * that plans a delivery; the target is printed in the peer's column:
 *   bench plan-domain/target ours_ns=<median> target_ns=50000 ratio=<target/ours>
 *
 * The domain: two MX hosts, each with an A, an AAAA and a TLSA 3 1 1
 * record, every answer DNSSEC-secure, and an MTA-STS policy in enforce
 * mode naming both hosts.  "Warm caches": the answers come from memory
 * (ms_dns_ctx_new_custom, a resolver that builds each answer from a table,
 * as a validated cache would hand it out: secure, with a TTL) and the
 * MTA-STS policy is in the policy store (SQLite ":memory:", put once), its
 * _mta-sts TXT id unchanged, so no fetch happens.  Each route is checked:
 * 2 hosts, MTA-STS policy applied, both hosts planned DANE.
 * Usage: bench-plan [ROUTES_PER_ROUND]
 */
#include "../common/bench_common.h"

#include <mailsec/requiretls_route.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ROUNDS 11
#define TARGET_NS 50000u

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench-plan: %s\n", what);
		exit(1);
	}
}

struct rr {
	const char *name;
	uint16_t type;
	uint8_t data[64];
	size_t len;
};
static struct rr zone[16];
static size_t nzone;

static void add(const char *name, uint16_t type, const uint8_t *d, size_t len)
{
	check(nzone < sizeof(zone) / sizeof(zone[0]) && len <= sizeof(zone[0].data), "zone");
	zone[nzone].name = name;
	zone[nzone].type = type;
	memcpy(zone[nzone].data, d, len);
	zone[nzone++].len = len;
}

static void add_mx(const char *owner, uint16_t pref, const char *host)
{
	uint8_t b[64];
	b[0] = (uint8_t)(pref >> 8), b[1] = (uint8_t)pref;
	add(owner, MS_DNS_T_MX, b, 2 + bench_wire_name(host, b + 2));
}

static void add_addr(const char *owner, const char *ip)
{
	uint8_t b[16];
	int v6 = strchr(ip, ':') != NULL;
	check(inet_pton(v6 ? AF_INET6 : AF_INET, ip, b) == 1, "address");
	add(owner, v6 ? MS_DNS_T_AAAA : MS_DNS_T_A, b, v6 ? 16 : 4);
}

static void add_tlsa(const char *owner, uint8_t seed)
{
	uint8_t b[35] = { 3, 1, 1 };
	for (int i = 0; i < 32; i++)
		b[3 + i] = (uint8_t)(seed * 31 + i);
	add(owner, MS_DNS_T_TLSA, b, sizeof(b));
}

static void add_txt(const char *owner, const char *text)
{
	uint8_t b[64];
	size_t l = strlen(text);
	check(l < 63, "txt");
	b[0] = (uint8_t)l;
	memcpy(b + 1, text, l);
	add(owner, MS_DNS_T_TXT, b, l + 1);
}

static ms_status mem_resolve(void *user, const char *name, uint16_t type,
			     struct ms_dns_result **out)
{
	(void)user;
	int exists = 0;
	size_t hits[8], n = 0;
	for (size_t i = 0; i < nzone; i++)
		if (strcasecmp(zone[i].name, name) == 0) {
			exists = 1;
			if (zone[i].type == type && n < 8)
				hits[n++] = i;
		}
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_result_create(NULL, name, type,
					    n ? MS_DNS_ANSWER : exists ? MS_DNS_NODATA
								 : MS_DNS_NXDOMAIN,
					    MS_DNS_SECURE, &r);
	for (size_t i = 0; st == MS_OK && i < n; i++)
		st = ms_dns_result_add(r, type, zone[hits[i]].data, zone[hits[i]].len);
	if (st == MS_OK)
		st = ms_dns_result_set_meta(r, 3600, NULL, -1, -1, NULL);
	if (st != MS_OK) {
		ms_dns_result_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

static const char DOMAIN[] = "plan.test";

static void build_world(void)
{
	add_mx(DOMAIN, 10, "mx1.plan.test");
	add_mx(DOMAIN, 20, "mx2.plan.test");
	add_addr("mx1.plan.test", "192.0.2.25");
	add_addr("mx1.plan.test", "2001:db8::25");
	add_addr("mx2.plan.test", "192.0.2.26");
	add_addr("mx2.plan.test", "2001:db8::26");
	add_tlsa("_25._tcp.mx1.plan.test", 1);
	add_tlsa("_25._tcp.mx2.plan.test", 2);
	add_txt("_mta-sts.plan.test", "v=STSv1; id=20261203T000000;");
}

static struct ms_dns_ctx *dns;
static struct ms_sts *sts;

static void plan(int verify)
{
	struct ms_rtls_route *r = NULL;
	char why[256] = "";
	check(ms_rtls_route_new(NULL, dns, sts, DOMAIN, MS_RTLS_REQ_DEFAULT, NULL, &r, why,
				sizeof(why)) == MS_OK, why);
	if (verify) {
		check(ms_rtls_route_count(r) == 2, "not 2 hosts");
		check((ms_rtls_route_flags(r) & MS_RTLS_ROUTE_STS_POLICY) != 0,
		      "MTA-STS policy not applied");
		for (size_t i = 0; i < 2; i++) {
			const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
			check(ms_rtls_route_host_addr_count(h) == 2, "not 2 addresses");
			check(ms_rtls_route_host_plan(h)->mode == MS_RTLS_MODE_DANE,
			      "host not planned DANE");
		}
	}
	ms_rtls_route_free(r);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int per = argc > 1 ? atoi(argv[1]) : 2000;
	if (per < 1)
		per = 1;
	build_world();
	char why[256] = "";
	check(ms_dns_ctx_new_custom(NULL, mem_resolve, NULL, &dns) == MS_OK, "custom ctx");
	struct ms_sts_store *store = NULL;
	check(ms_sts_store_new_sqlite(NULL, ":memory:", &store, why, sizeof(why)) == MS_OK, why);
	static const char pol[] = "version: STSv1\nmode: enforce\nmx: mx1.plan.test\n"
				  "mx: mx2.plan.test\nmax_age: 604800\n";
	struct ms_sts_entry e;
	memset(&e, 0, sizeof(e));
	e.version = MS_STS_ENTRY_VERSION;
	snprintf(e.domain, sizeof(e.domain), "%s", DOMAIN);
	snprintf(e.id, sizeof(e.id), "20261203T000000");
	e.policy = (const uint8_t *)pol;
	e.policy_len = strlen(pol);
	e.fetched_at = e.last_used = time(NULL);
	e.expires_at = e.fetched_at + 604800;
	check(ms_sts_store_put(store, &e) == MS_OK, "ms_sts_store_put");
	check(ms_sts_new(NULL, NULL, dns, store, &sts, why, sizeof(why)) == MS_OK, why);

	plan(1);
	uint64_t t[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = cpu_ns();
		for (int i = 0; i < per; i++)
			plan(0);
		t[r] = (cpu_ns() - t0) / (uint64_t)per;
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp);
	uint64_t m = t[ROUNDS / 2];
	printf("bench plan-domain/target ours_ns=%llu target_ns=%u ratio=%.2f\n",
	       (unsigned long long)m, TARGET_NS, (double)TARGET_NS / (double)m);
	ms_sts_free(sts);
	ms_sts_store_free(store);
	ms_dns_ctx_free(dns);
	return 0;
}
