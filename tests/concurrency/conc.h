/*
 * conc.h - shared scaffolding of the concurrency tests: run 8 threads over
 * one shared handle, collect failures per thread (ck_assert from a worker
 * thread would exit the whole test process from under the others, so
 * workers record their first failure and the main thread asserts), and a
 * fixed in-memory zone served through ms_dns_ctx_new_custom().
 *
 * The zone is immutable once built and each lookup only builds a fresh
 * result, so one resolver context may be shared by every thread.
 */
#ifndef CONC_H
#define CONC_H

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mstest.h"
#include <mailsec/dns.h>

#define CONC_THREADS 8

struct conc_thread {
	int id;
	void *shared;
	pthread_barrier_t *start;
	unsigned ops;      /* operations completed, each with its results checked */
	unsigned fails;
	char first[512];   /* the first failure, for the main thread's message */
};

/* printf-checked, so every CONC_CHECK message is type-checked too */
static inline void conc_fail(struct conc_thread *t, const char *file, int line,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline void conc_fail(struct conc_thread *t, const char *file, int line,
			     const char *fmt, ...)
{
	if (t->fails++ > 0)
		return;
	int n = snprintf(t->first, sizeof(t->first), "thread %d, %s:%d: ", t->id,
			 file, line);
	if (n < 0 || (size_t)n >= sizeof(t->first))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->first + n, sizeof(t->first) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* A check inside a worker: records the failure and goes on (the thread's
 * remaining operations still exercise the shared handle). */
#define CONC_CHECK(t, cond, ...)                                               \
	do {                                                                   \
		if (!(cond))                                                   \
			conc_fail((t), __FILE__, __LINE__, __VA_ARGS__);      \
	} while (0)

/* Each worker waits on the barrier first so all 8 really overlap. */
static inline void conc_wait_start(struct conc_thread *t)
{
	pthread_barrier_wait(t->start);
}

/* Run `fn` on CONC_THREADS threads sharing `shared`; asserts that every
 * thread completed `ops_each` operations without a failure. */
static inline void conc_run(void *(*fn)(void *), void *shared, unsigned ops_each)
{
	pthread_t th[CONC_THREADS];
	struct conc_thread ts[CONC_THREADS];
	pthread_barrier_t start;
	ck_assert_int_eq(pthread_barrier_init(&start, NULL, CONC_THREADS), 0);
	for (int i = 0; i < CONC_THREADS; i++) {
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].id = i;
		ts[i].shared = shared;
		ts[i].start = &start;
		ck_assert_int_eq(pthread_create(&th[i], NULL, fn, &ts[i]), 0);
	}
	for (int i = 0; i < CONC_THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < CONC_THREADS; i++) {
		ck_assert_msg(ts[i].fails == 0, "%u failures, first: %s",
			      ts[i].fails, ts[i].first);
		ck_assert_uint_eq(ts[i].ops, ops_each);
	}
}

/* A fresh private folder under $TMPDIR (default /tmp) for a test's
 * SQLite files; `buf` receives its path. */
static inline void conc_mkdtemp(char *buf, size_t cap, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, cap, "%s/ms-conc-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	ck_assert_msg(n > 0 && (size_t)n < cap, "TMPDIR too long");
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp %s failed", buf);
}

/* Remove the database at `db`, its WAL side files and the folder. */
static inline void conc_rm_db(const char *dir, const char *db)
{
	const char *sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
	ck_assert_msg(rmdir(dir) == 0, "rmdir %s failed", dir);
}

/* ---- a fixed zone -------------------------------------------------------- */

/* One record in text form: TXT the string (split into 255-byte
 * character-strings), A/AAAA the address, MX "PREF HOST". */
struct conc_rr {
	const char *name;
	uint16_t type;
	const char *value;
};

struct conc_zone {
	const struct conc_rr *rrs;
	size_t n;
	enum ms_dns_security security;
	atomic_uint queries;
};

static inline int conc_name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static inline size_t conc_wire_name(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || o + l + 2 > cap)
			return 0;
		out[o++] = (uint8_t)l;
		memcpy(out + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	return o;
}

static inline ms_status conc_add_rr(struct ms_dns_result *r, const struct conc_rr *rr)
{
	uint8_t buf[4096];
	size_t len = 0;
	switch (rr->type) {
	case MS_DNS_T_TXT: {
		size_t sl = strlen(rr->value), off = 0;
		do {
			size_t chunk = sl - off > 255 ? 255 : sl - off;
			if (len + 1 + chunk > sizeof(buf))
				return MS_ERR_LIMIT;
			buf[len++] = (uint8_t)chunk;
			memcpy(buf + len, rr->value + off, chunk);
			len += chunk;
			off += chunk;
		} while (off < sl);
		break;
	}
	case MS_DNS_T_A:
		if (inet_pton(AF_INET, rr->value, buf) != 1)
			return MS_ERR_INVALID;
		len = 4;
		break;
	case MS_DNS_T_AAAA:
		if (inet_pton(AF_INET6, rr->value, buf) != 1)
			return MS_ERR_INVALID;
		len = 16;
		break;
	case MS_DNS_T_MX: {
		unsigned pref;
		char host[256];
		if (sscanf(rr->value, "%u %255s", &pref, host) != 2)
			return MS_ERR_INVALID;
		buf[0] = (uint8_t)(pref >> 8);
		buf[1] = (uint8_t)pref;
		size_t nl = conc_wire_name(host, buf + 2, sizeof(buf) - 2);
		if (nl == 0)
			return MS_ERR_INVALID;
		len = 2 + nl;
		break;
	}
	case MS_DNS_T_PTR:
		if ((len = conc_wire_name(rr->value, buf, sizeof(buf))) == 0)
			return MS_ERR_INVALID;
		break;
	default:
		return MS_ERR_INVALID;
	}
	return ms_dns_result_add(r, rr->type, buf, len);
}

static inline ms_status conc_resolve(void *user, const char *name, uint16_t type,
				     struct ms_dns_result **out)
{
	struct conc_zone *z = user;
	atomic_fetch_add(&z->queries, 1);
	int exists = 0, have = 0;
	for (size_t i = 0; i < z->n; i++) {
		if (!conc_name_eq(z->rrs[i].name, name))
			continue;
		exists = 1;
		if (z->rrs[i].type == type)
			have = 1;
	}
	enum ms_dns_outcome o = have ? MS_DNS_ANSWER : exists ? MS_DNS_NODATA : MS_DNS_NXDOMAIN;
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_result_create(NULL, name, type, o, z->security, &r);
	/* a TTL, so the caches that keep answers for their TTL (DKIM keys,
	 * the SPF evaluator's) keep these */
	if (st == MS_OK && (st = ms_dns_result_set_meta(r, 300, NULL, -1, -1, NULL)) != MS_OK)
		ms_dns_result_free(r);
	if (st != MS_OK)
		return st;
	for (size_t i = 0; have && i < z->n; i++) {
		if (conc_name_eq(z->rrs[i].name, name) && z->rrs[i].type == type &&
		    (st = conc_add_rr(r, &z->rrs[i])) != MS_OK) {
			ms_dns_result_free(r);
			return st;
		}
	}
	*out = r;
	return MS_OK;
}

static inline struct ms_dns_ctx *conc_zone_ctx(struct conc_zone *z)
{
	struct ms_dns_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, conc_resolve, z, &ctx), MS_OK);
	return ctx;
}

#endif
