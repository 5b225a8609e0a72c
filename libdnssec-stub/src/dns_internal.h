/* dns_internal.h - private structures of libdnssec-stub. */
#ifndef MS_DNS_INTERNAL_H
#define MS_DNS_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "mailsec/dns.h"
#include "ms_common.h"

#define MS_DNS_NAME_MAX 254       /* 253 octets of text + NUL */
#define MS_DNS_DEFAULT_TIMEOUT_MS 5000
#define MS_DNS_MAX_CNAME_STEPS 16 /* bound on the CNAME-security walk */

struct ms_dns_rr {
	uint16_t type;
	uint16_t len;
	uint8_t *data;
};

struct ms_dns_result {
	struct ms_env env;        /* copy: results may outlive their context */
	char qname[MS_DNS_NAME_MAX];
	uint16_t qtype;
	enum ms_dns_outcome outcome;
	enum ms_dns_security security;
	int ede;                  /* RFC 8914 INFO-CODE or -1 */
	char *ede_text;
	uint32_t ttl;
	char canonical[MS_DNS_NAME_MAX];
	int cname_secure;         /* -1 no CNAME, 0 some step not secure, 1 all secure */
	uint32_t duration_ms;
	size_t n, cap;
	struct ms_dns_rr *rr;
	/* A result built from a libunbound answer is one allocation: the
	 * record array and the first n_inline records' data sit after the
	 * struct (ms_dns_result_alloc_packed).  Records added later, and a
	 * record array grown later, are separate blocks. */
	size_t n_inline;
	int rr_inline;
	/* The shared out-of-memory failure (ms_dns_oom_result): never freed,
	 * never written. */
	int is_static;
	/* ms_dns_lookup_addr only: how each family's lookup ended, so a
	 * failed half stays visible (nfamilies 0 for other results). */
	struct ms_dns_family {
		uint16_t type;
		enum ms_dns_outcome outcome;
		enum ms_dns_security security;
	} families[2];
	size_t nfamilies;
};

struct ub_ctx;
/* Serialises libunbound's process-wide state (conf_check.c). */
extern pthread_mutex_t ms_dns_ub_global_lock;
struct ub_result;
struct ms_dns_pending;
struct ms_dns_flight;

struct ms_dns_ctx {
	struct ms_env env;
	struct ub_ctx *ub;            /* NULL when a custom resolver is injected */
	ms_dns_resolve_fn custom;
	void *custom_user;
	FILE *ub_log;                 /* libunbound's log, routed to env->log */
	unsigned timeout_ms;

	pthread_mutex_t log_lock;     /* guards the two below (ub_log.c) */
	int ub_capture;               /* keep libunbound's first error line */
	char ub_error[256];           /* ... here, for ms_dns_ctx_new's `why` */
	int ub_finalised;             /* ub_ctx finalisation was attempted */

	pthread_mutex_t lock;         /* guards everything below */
	pthread_cond_t cond;          /* signalled after each ub_process round */
	int leader;                   /* a sync waiter is polling the ub fd */
	uint64_t next_id;
	/* async, in flight: doubly linked in submission order, so an answer
	 * leaves it in O(1) and, every lookup having the context's timeout,
	 * the oldest deadline is always at the head */
	struct ms_dns_pending *pending;
	struct ms_dns_pending *pending_tail;
	struct ms_dns_pending *done_head; /* async, finished, not yet delivered */
	struct ms_dns_pending *done_tail;
	/* async libunbound queries (flight.c): those a submit may join, by
	 * (name, type), and every one alive, for ms_dns_ctx_free */
	struct ms_dns_flight **ftab;
	size_t ftab_size;             /* 0 or a power of two */
	size_t fhashed;
	struct ms_dns_flight *flights;
};

/* ub_log.c: libunbound's log lines into the env log (see there). */
FILE *ms_dns_ub_log_open(struct ms_dns_ctx *ctx);
void ms_dns_ub_log_line(struct ms_dns_ctx *ctx, enum ms_log_level level, int is_error,
			const char *msg);
void ms_dns_ub_capture(struct ms_dns_ctx *ctx, int on);
void ms_dns_ub_first_error(struct ms_dns_ctx *ctx, char *buf, size_t len);
void ms_dns_ub_log_child(void);

/* conf_check.c: ub_ctx_config without libunbound's parser printing. */
ms_status ms_dns_conf_load(struct ms_dns_ctx *ctx, const char *path, char *why,
			   size_t whylen);

/* result.c */
struct ms_dns_result *ms_dns_result_alloc(const struct ms_env *env,
					  const char *qname, uint16_t qtype);
/* A result with room for `nrec` records of `datalen` bytes in all in the
 * same allocation (one malloc and one free per answer instead of 2 + nrec);
 * fill it with ms_dns_result_add_inline. */
struct ms_dns_result *ms_dns_result_alloc_packed(const struct ms_env *env,
						 const char *qname, uint16_t qtype,
						 size_t nrec, size_t datalen);
/* Append a record into the room made by ms_dns_result_alloc_packed; the
 * caller sized the room, so this cannot fail. */
void ms_dns_result_add_inline(struct ms_dns_result *r, uint16_t type,
			      const uint8_t *rdata, size_t len);
/*
 * The result handed to an asynchronous callback when its own result cannot
 * be allocated: SERVFAIL, INDETERMINATE, EDE 0 "out of memory", no
 * records.  One shared, read-only object (ms_dns_result_free leaves it, the
 * builders refuse it), so a lookup is answered even then: a caller waiting
 * for every callback must not wait forever, and a failure is never read as
 * an absent record.
 */
struct ms_dns_result *ms_dns_oom_result(void);
/* Drop every record (the combined address lookup, when A failed). */
void ms_dns_result_clear_records(struct ms_dns_result *r);
/* A copy of a result for another coalesced lookup: one allocation like
 * the answer's own, what ms_dns_result_dup makes with r's allocator. */
struct ms_dns_result *ms_dns_result_copy(const struct ms_dns_result *r);
/* Merge the records of `b` into `a` (used by the combined address lookup). */
ms_status ms_dns_result_absorb(struct ms_dns_result *a,
			       const struct ms_dns_result *b);

/* ede.c: map libunbound's why_bogus text to an RFC 8914 INFO-CODE. */
int ms_dns_ede_from_why_bogus(const char *why);

/* lookup.c: convert a libunbound result (NULL when err != 0). */
struct ms_dns_result *ms_dns_from_ub(struct ms_dns_ctx *ctx, const char *qname,
				     uint16_t qtype, int err,
				     struct ub_result *ub);
/* A result that says the lookup did not finish in time. */
struct ms_dns_result *ms_dns_timeout_result(const struct ms_env *env,
					    const char *qname, uint16_t qtype);
/* Second pass on a fresh result: CNAME security walk, logs and metrics. */
void ms_dns_finish(struct ms_dns_ctx *ctx, struct ms_dns_result *r,
		   uint64_t started_ns);
/* Its two halves: the CNAME security walk (once per answer, however many
 * coalesced lookups share it), and duration, log and metrics (per lookup). */
void ms_dns_finish_cname(struct ms_dns_ctx *ctx, struct ms_dns_result *r);
void ms_dns_report(struct ms_dns_ctx *ctx, struct ms_dns_result *r, uint64_t started_ns);

/* sync.c: one synchronous lookup of an already normalised name. */
ms_status ms_dns_sync_lookup(struct ms_dns_ctx *ctx, const char *name,
			     uint16_t type, int finish,
			     struct ms_dns_result **out);

#endif
