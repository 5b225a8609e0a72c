/*
 * bench_world.c - the answers and the signed message bench-auth and
 * bench-inbound measure on (bench_world.h).
 */
#include "bench_world.h"
#include "../common/bench_common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct bench_rr bench_zone[32];
size_t bench_nzone;
const char *bench_prog = "bench";

void bench_add(const char *name, uint16_t type, const char *value)
{
	check(bench_nzone < sizeof(bench_zone) / sizeof(bench_zone[0]), "zone full");
	struct bench_rr *r = &bench_zone[bench_nzone++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->type = type;
	snprintf(r->value, sizeof(r->value), "%s", value);
}

size_t bench_rdata(const struct bench_rr *r, uint8_t *out)
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
		return bench_wire_name(r->value, out);
	}
	return 0;
}

int bench_lookup(const char *name, uint16_t type, const struct bench_rr **hits, size_t *n)
{
	int exists = 0;
	*n = 0;
	for (size_t i = 0; i < bench_nzone; i++)
		if (strcasecmp(bench_zone[i].name, name) == 0) {
			exists = 1;
			if (bench_zone[i].type == type)
				hits[(*n)++] = &bench_zone[i];
		}
	return *n ? 0 : exists ? 1 : 3;
}

ms_status bench_mem_resolve(void *user, const char *name, uint16_t type,
			    struct ms_dns_result **out)
{
	(void)user;
	const struct bench_rr *hits[8];
	size_t n;
	int rc = bench_lookup(name, type, hits, &n);
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_result_create(NULL, name, type,
					    rc == 0 ? MS_DNS_ANSWER : rc == 1 ? MS_DNS_NODATA
									  : MS_DNS_NXDOMAIN,
					    MS_DNS_INSECURE, &r);
	for (size_t i = 0; st == MS_OK && i < n; i++) {
		uint8_t buf[1200];
		size_t len = bench_rdata(hits[i], buf);
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

void bench_build_world(enum ms_dkim_algorithm alg, unsigned bits, const char *body, char *msg,
		       size_t msglen)
{
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	check(ms_dkim_key_generate(NULL, alg, bits, &k, why, sizeof(why)) == MS_OK, why);
	char *rec = NULL;
	check(ms_dkim_key_txt_record(k, &rec) == MS_OK, "key record");
	bench_add("bench.test", MS_DNS_T_TXT,
		  "v=spf1 include:i1.bench.test include:i2.bench.test include:i3.bench.test -all");
	bench_add("i1.bench.test", MS_DNS_T_TXT, "v=spf1 ip4:198.51.100.1 -all");
	bench_add("i2.bench.test", MS_DNS_T_TXT, "v=spf1 ip4:198.51.100.2 -all");
	bench_add("i3.bench.test", MS_DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 -all");
	bench_add("_dmarc.bench.test", MS_DNS_T_TXT, "v=DMARC1; p=reject");
	bench_add(PTRNAME, MS_DNS_T_PTR, "mx.bench.test");
	bench_add("mx.bench.test", MS_DNS_T_A, CLIENT);
	struct ms_dkim_signer *s = NULL;
	check(ms_dkim_signer_new(NULL, &s) == MS_OK, "signer");
	for (int i = 1; i <= BENCH_NSIG; i++) {
		char name[128], dom[64], sel[16];
		snprintf(dom, sizeof(dom), "d%d.bench.test", i);
		snprintf(sel, sizeof(sel), "s%d", i);
		snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
		bench_add(name, MS_DNS_T_TXT, rec);
		struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = k,
					       .domain = dom, .selector = sel,
					       .header_canon = MS_DKIM_CANON_RELAXED,
					       .body_canon = MS_DKIM_CANON_RELAXED };
		check(ms_dkim_signer_add(s, &o, why, sizeof(why)) == MS_OK, why);
	}
	check(ms_dkim_signer_feed(s, (const uint8_t *)body, strlen(body), why, sizeof(why)) ==
	      MS_OK && ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, why);
	snprintf(msg, msglen, "%s%s", ms_dkim_signer_headers(s), body);
	ms_dkim_signer_free(s);
	ms_dkim_string_free(rec);
	ms_dkim_key_free(k);
}

uint64_t bench_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}
