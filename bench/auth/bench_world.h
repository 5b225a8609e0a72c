/*
 * bench_world.h - what bench-auth and bench-inbound share: one table of
 * answers (the SPF, DMARC, iprev and DKIM key records of bench.test), a
 * message signed BENCH_NSIG times against it, the resolver that answers
 * from the table in memory, and the timing helpers.
 */
#ifndef BENCH_WORLD_H
#define BENCH_WORLD_H

#include <mailsec/auth.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* 8 signatures: 8 selectors in 8 domains under bench.test, one key */
#define BENCH_NSIG 8

/* The client (PTR and forward A agree), its HELO name and the MAIL FROM
 * whose SPF record has 3 includes (the last one matches). */
static const char CLIENT[] = "192.0.2.10", HELO[] = "mx.bench.test",
		  MAILFROM[] = "alice@bench.test", PTRNAME[] = "10.2.0.192.in-addr.arpa";

struct bench_rr {
	char name[128];
	uint16_t type;
	char value[1024];
};
extern struct bench_rr bench_zone[32];
extern size_t bench_nzone;

/* The program's name, for check's message. */
extern const char *bench_prog;

/* Unless `ok`: "<bench_prog>: <what>" on stderr, exit 1. */
static inline void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: %s\n", bench_prog, what);
		exit(1);
	}
}

/* Add a record to the table. */
void bench_add(const char *name, uint16_t type, const char *value);

/* The table's records of `name` and `type` into hits (8 at most):
 * 0: answer, 1: nodata, 3: nxdomain. */
int bench_lookup(const char *name, uint16_t type, const struct bench_rr **hits, size_t *n);

/* The wire rdata of r (TXT, A, PTR) into out (bench_zone's value size plus
 * one length byte per 255). */
size_t bench_rdata(const struct bench_rr *r, uint8_t *out);

/* A resolver for ms_dns_ctx_new_custom answering from the table (insecure,
 * TTL 300), as a cache would hand the answers out. */
ms_status bench_mem_resolve(void *user, const char *name, uint16_t type,
			    struct ms_dns_result **out);

/* Fill the table and write into msg (msglen bytes) `body` with BENCH_NSIG
 * relaxed/relaxed signatures by one key of `alg` (`bits`: RSA size). */
void bench_build_world(enum ms_dkim_algorithm alg, unsigned bits, const char *body, char *msg,
		       size_t msglen);

/* Process CPU time in nanoseconds. */
uint64_t bench_cpu_ns(void);

/* qsort comparison of uint64_t. */
int bench_cmp_u64(const void *a, const void *b);

#endif /* BENCH_WORLD_H */
