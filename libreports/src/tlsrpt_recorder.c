/*
 * tlsrpt_recorder.c - the attempt observer of librequiretls's delivery
 * (ms_rtls_deliver_opts.observer) turned into store rows.  The delivery
 * path only pays for a key, a hash and a table probe: attempts with the
 * same key (day, policy, host, address, result, reason) increment one
 * buffered row, and the buffer goes to the store in one batch (one
 * transaction) when it is full or old, on flush, and on free.
 */
#include "tlsrpt_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t hash;
	char *blob; /* NUL-separated: domain, strings, mx, host, addr, reason */
	size_t bloblen;
	struct ms_tlsrpt_row row;
};

struct ms_tlsrpt_recorder {
	struct ms_env env;
	struct ms_tlsrpt_store *store;
	size_t max_rows, cap; /* cap: table slots, a power of two >= 2 * max_rows */
	unsigned flush_seconds;
	pthread_mutex_t mu;
	struct entry *table;
	size_t used;
	int64_t oldest;
	uint64_t observed;
};

ms_status ms_tlsrpt_recorder_new(const struct ms_env *env, struct ms_tlsrpt_store *store,
				 const struct ms_tlsrpt_recorder_opts *opts,
				 struct ms_tlsrpt_recorder **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (store == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	if (opts && (opts->version != MS_TLSRPT_RECORDER_OPTS_VERSION || opts->batch_rows > 65536))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad recorder options");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_tlsrpt_recorder *r = ms_calloc(&e, 1, sizeof(*r));
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	r->env = e;
	r->store = store;
	r->max_rows = opts && opts->batch_rows ? opts->batch_rows : 256;
	r->flush_seconds = opts && opts->flush_seconds ? opts->flush_seconds : 60;
	r->cap = 16;
	while (r->cap < 2 * r->max_rows)
		r->cap *= 2;
	r->table = ms_calloc(&e, r->cap, sizeof(*r->table));
	if (r->table == NULL) {
		ms_free(&e, r);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&r->mu, NULL);
	*out = r;
	return MS_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* FNV-1a over the key bytes. */
static uint64_t fnv(const char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Append `s` (at most `max` bytes of it) and a NUL to the key. */
static size_t put(char *key, size_t at, size_t cap, const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max) : 0;
	if (at + n + 1 > cap)
		n = at + 1 < cap ? cap - at - 1 : 0;
	memcpy(key + at, s ? s : "", n);
	key[at + n] = '\0';
	return at + n + 1;
}

static size_t join(char *key, size_t at, size_t cap, const char *const *v, size_t n)
{
	size_t start = at;
	for (size_t i = 0; i < n && i < MS_TLSRPT_MAX_STRINGS; i++) {
		if (i > 0 && at > start)
			key[at - 1] = '\n'; /* replace the previous NUL */
		at = put(key, at, cap, v[i], MS_TLSRPT_MAX_STRING - 1);
	}
	if (at == start)
		at = put(key, at, cap, "", 0);
	return at;
}

/* Write every buffered row in one batch; on success empty the table.
 * Called with the mutex held. */
static ms_status flush_locked(struct ms_tlsrpt_recorder *r, char *why, size_t whylen)
{
	if (r->used == 0)
		return MS_OK;
	struct ms_tlsrpt_row *rows = ms_malloc(&r->env, r->used * sizeof(*rows));
	if (rows == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < r->cap; i++)
		if (r->table[i].blob)
			rows[n++] = r->table[i].row;
	ms_status st = ms_tlsrpt_store_batch(r->store, rows, n, why, whylen);
	ms_free(&r->env, rows);
	if (st != MS_OK)
		return st;
	for (size_t i = 0; i < r->cap; i++) {
		ms_free(&r->env, r->table[i].blob);
		r->table[i].blob = NULL;
	}
	r->used = 0;
	return MS_OK;
}

static void report_failure(struct ms_tlsrpt_recorder *r, const char *why)
{
	struct ms_kv kv[] = { { "why", why } };
	ms_log(&r->env, MS_LOG_WARNING, "tlsrpt", "tlsrpt rows not written", kv, 1);
	ms_metric(&r->env, MS_METRIC_COUNTER, "tlsrpt_record_failed_total", NULL, 0, 1);
}

void ms_tlsrpt_recorder_observe(void *recorder, const struct ms_rtls_tlsrpt_event *ev)
{
	struct ms_tlsrpt_recorder *r = recorder;
	if (r == NULL || ev == NULL || ev->policy_domain == NULL || ev->mx_host == NULL ||
	    (unsigned)ev->result > MS_TLSRPT_RESULT_MAX ||
	    (unsigned)ev->policy_type > MS_TLSRPT_POLICY_STS)
		return;
	int64_t now = ms_now(&r->env);
	size_t np = ev->policy_strings ? ev->npolicy_strings : 0;
	size_t nm = ev->mx_patterns ? ev->nmx_patterns : 0;
	/* the key on the stack, or on the heap for long policy strings (a TLSA
	 * record with a whole certificate is kilobytes) */
	size_t need = 11 + 254 + 254 + 64 + MS_TLSRPT_MAX_FIELD + 2;
	for (size_t i = 0; i < np && i < MS_TLSRPT_MAX_STRINGS; i++)
		need += (ev->policy_strings[i] ? strnlen(ev->policy_strings[i], MS_TLSRPT_MAX_STRING)
					      : 0) + 1;
	for (size_t i = 0; i < nm && i < MS_TLSRPT_MAX_STRINGS; i++)
		need += (ev->mx_patterns[i] ? strnlen(ev->mx_patterns[i], MS_TLSRPT_MAX_STRING) : 0) + 1;
	char stack_key[4096];
	char *key = need <= sizeof(stack_key) ? stack_key : ms_malloc(&r->env, need);
	if (key == NULL) {
		report_failure(r, "out of memory");
		return;
	}
	const size_t keycap = need <= sizeof(stack_key) ? sizeof(stack_key) : need;
	size_t at = 0;
	tlsrpt_day_of(now, key);
	at = 11;
	at = put(key, at, keycap, ev->policy_domain, 253);
	size_t o_strings = at;
	/* A TLSA RRset is a set: the resolver hands it out in any order, and
	 * one policy must not become several rows (and report policies). */
	const char *sorted[MS_TLSRPT_MAX_STRINGS];
	size_t ns = np < MS_TLSRPT_MAX_STRINGS ? np : MS_TLSRPT_MAX_STRINGS;
	for (size_t i = 0; i < ns; i++)
		sorted[i] = ev->policy_strings[i] ? ev->policy_strings[i] : "";
	if (ev->policy_type == MS_TLSRPT_POLICY_TLSA)
		qsort(sorted, ns, sizeof(sorted[0]), cmp_str);
	at = join(key, at, keycap, sorted, ns);
	size_t o_mx = at;
	at = join(key, at, keycap, ev->mx_patterns, nm);
	size_t o_host = at;
	at = put(key, at, keycap, ev->mx_host, 253);
	size_t o_addr = at;
	at = put(key, at, keycap, ev->addr, 63);
	size_t o_reason = at;
	at = put(key, at, keycap,
		 ev->result == MS_TLSRPT_SUCCESS ? "" : ev->reason, MS_TLSRPT_MAX_FIELD - 1);
	uint64_t h = fnv(key, at, 0xcbf29ce484222325ULL);
	h = fnv((const char *)&ev->result, sizeof(ev->result), h);
	h = fnv((const char *)&ev->policy_type, sizeof(ev->policy_type), h);

	pthread_mutex_lock(&r->mu);
	r->observed++;
	if (r->used > 0 && now - r->oldest >= (int64_t)r->flush_seconds) {
		char why[256] = "";
		if (flush_locked(r, why, sizeof(why)) != MS_OK)
			report_failure(r, why);
	}
	size_t mask = r->cap - 1, i = (size_t)h & mask;
	for (;; i = (i + 1) & mask) {
		struct entry *e = &r->table[i];
		if (e->blob == NULL)
			break;
		if (e->hash == h && e->bloblen == at && e->row.result == ev->result &&
		    e->row.policy_type == ev->policy_type && memcmp(e->blob, key, at) == 0) {
			e->row.count++;
			pthread_mutex_unlock(&r->mu);
			goto out;
		}
	}
	if (r->used >= r->max_rows) {
		char why[256] = "";
		if (flush_locked(r, why, sizeof(why)) != MS_OK) {
			/* the buffer stays: this attempt is dropped, counted */
			report_failure(r, why);
			pthread_mutex_unlock(&r->mu);
			goto out;
		}
		for (i = (size_t)h & mask; r->table[i].blob; i = (i + 1) & mask)
			;
	}
	struct entry *e = &r->table[i];
	e->blob = ms_malloc(&r->env, at);
	if (e->blob == NULL) {
		pthread_mutex_unlock(&r->mu);
		report_failure(r, "out of memory");
		goto out;
	}
	memcpy(e->blob, key, at);
	e->bloblen = at;
	e->hash = h;
	memset(&e->row, 0, sizeof(e->row));
	memcpy(e->row.day, key, 11);
	e->row.policy_domain = e->blob + 11;
	e->row.policy_type = ev->policy_type;
	e->row.policy_strings = e->blob + o_strings;
	e->row.mx_patterns = e->blob + o_mx;
	e->row.mx_host = e->blob + o_host;
	e->row.addr = e->blob + o_addr;
	e->row.result = ev->result;
	e->row.reason = e->blob + o_reason;
	e->row.count = 1;
	if (r->used++ == 0)
		r->oldest = now;
	pthread_mutex_unlock(&r->mu);
out:
	if (key != stack_key)
		ms_free(&r->env, key);
}

ms_status ms_tlsrpt_recorder_flush(struct ms_tlsrpt_recorder *r, char *why, size_t whylen)
{
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL recorder");
	pthread_mutex_lock(&r->mu);
	ms_status st = flush_locked(r, why, whylen);
	pthread_mutex_unlock(&r->mu);
	return st;
}

/* Snapshots, read under the lock: another thread may be observing. */
uint64_t ms_tlsrpt_recorder_observed(const struct ms_tlsrpt_recorder *r)
{
	if (r == NULL)
		return 0;
	struct ms_tlsrpt_recorder *m = (struct ms_tlsrpt_recorder *)(uintptr_t)r;
	pthread_mutex_lock(&m->mu);
	uint64_t n = r->observed;
	pthread_mutex_unlock(&m->mu);
	return n;
}

size_t ms_tlsrpt_recorder_pending(const struct ms_tlsrpt_recorder *r)
{
	if (r == NULL)
		return 0;
	struct ms_tlsrpt_recorder *m = (struct ms_tlsrpt_recorder *)(uintptr_t)r;
	pthread_mutex_lock(&m->mu);
	size_t n = r->used;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void ms_tlsrpt_recorder_free(struct ms_tlsrpt_recorder *r)
{
	if (r == NULL)
		return;
	char why[256] = "";
	if (ms_tlsrpt_recorder_flush(r, why, sizeof(why)) != MS_OK)
		report_failure(r, why);
	for (size_t i = 0; i < r->cap; i++)
		ms_free(&r->env, r->table[i].blob);
	ms_free(&r->env, r->table);
	pthread_mutex_destroy(&r->mu);
	struct ms_env e = r->env;
	ms_free(&e, r);
}
