/*
 * store_pg.c - the policy cache in PostgreSQL, shared by a fleet of MTAs
 * (issue 19), in the shape of mailsec/store.h:
 *   query: const char *domain (get, del; NULL: every entry)
 *   rec:   const struct ms_sts_entry * (get hands one to fn, its policy
 *          borrowed for the call)
 * Two MTAs updating the same domain keep the newer entry (RFC 8461 s5.1:
 * the policy fetched last wins; last use and back-off state merge), in one
 * INSERT ... ON CONFLICT statement, so a killed client leaves the old row
 * or the new one.
 */
#include "store.h"
#include "ms_pg_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_COLS "domain, id, encode(policy, 'hex'), fetched_at, expires_at, last_used," \
	" backoff_id, backoff_until, failures, last_failure"

static const char *const migrations[] = {
	"CREATE TABLE mtasts_policy ("
	" domain text PRIMARY KEY, id text NOT NULL, policy bytea NOT NULL,"
	" fetched_at bigint NOT NULL, expires_at bigint NOT NULL, last_used bigint NOT NULL,"
	" backoff_id text NOT NULL, backoff_until bigint NOT NULL,"
	" failures bigint NOT NULL, last_failure bigint NOT NULL)",
};

enum { Q_GET, Q_ALL, Q_PUT, Q_DEL, Q_DEL_ALL, Q_EXPIRE };

static const char *const statements[] = {
	[Q_GET] = "SELECT " PG_COLS " FROM mtasts_policy WHERE domain = $1",
	[Q_ALL] = "SELECT " PG_COLS " FROM mtasts_policy ORDER BY domain",
	/* newer wins: the policy columns come from the entry fetched last
	 * (ties: the incoming one); a back-off is kept unless the incoming
	 * entry carries a newer fetch or a back-off that lasts as long */
	[Q_PUT] = "INSERT INTO mtasts_policy AS p (domain, id, policy, fetched_at, expires_at,"
		  " last_used, backoff_id, backoff_until, failures, last_failure)"
		  " VALUES ($1, $2, decode($3, 'hex'), $4::bigint, $5::bigint, $6::bigint, $7,"
		  " $8::bigint, $9::bigint, $10::bigint)"
		  " ON CONFLICT (domain) DO UPDATE SET"
		  " id = CASE WHEN EXCLUDED.fetched_at >= p.fetched_at THEN EXCLUDED.id ELSE p.id END,"
		  " policy = CASE WHEN EXCLUDED.fetched_at >= p.fetched_at THEN EXCLUDED.policy"
		  "  ELSE p.policy END,"
		  " expires_at = CASE WHEN EXCLUDED.fetched_at >= p.fetched_at"
		  "  THEN EXCLUDED.expires_at ELSE p.expires_at END,"
		  " fetched_at = GREATEST(p.fetched_at, EXCLUDED.fetched_at),"
		  " last_used = GREATEST(p.last_used, EXCLUDED.last_used),"
		  " backoff_id = CASE WHEN EXCLUDED.fetched_at > p.fetched_at OR"
		  "  EXCLUDED.backoff_until >= p.backoff_until THEN EXCLUDED.backoff_id"
		  "  ELSE p.backoff_id END,"
		  " failures = CASE WHEN EXCLUDED.fetched_at > p.fetched_at OR"
		  "  EXCLUDED.backoff_until >= p.backoff_until THEN EXCLUDED.failures"
		  "  ELSE p.failures END,"
		  " last_failure = CASE WHEN EXCLUDED.fetched_at > p.fetched_at OR"
		  "  EXCLUDED.backoff_until >= p.backoff_until THEN EXCLUDED.last_failure"
		  "  ELSE p.last_failure END,"
		  " backoff_until = CASE WHEN EXCLUDED.fetched_at > p.fetched_at OR"
		  "  EXCLUDED.backoff_until >= p.backoff_until THEN EXCLUDED.backoff_until"
		  "  ELSE p.backoff_until END",
	[Q_DEL] = "DELETE FROM mtasts_policy WHERE domain = $1",
	[Q_DEL_ALL] = "DELETE FROM mtasts_policy",
	[Q_EXPIRE] = "DELETE FROM mtasts_policy WHERE last_used < $1::bigint",
};

static const struct ms_pg_schema schema = MS_PG_SCHEMA("mtasts", migrations, statements);

static ms_status pg_open(const struct ms_env *env, const char *location, void **impl,
			 char *why, size_t whylen)
{
	return ms_pg_store_open(env, location, &schema, impl, why, whylen);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

struct walk {
	struct ms_pg_store *s;
	ms_store_rec_fn fn;
	void *user;
	uint8_t *buf;
	int bad;
};

static int on_row(void *user, int ncols, const char *const *v)
{
	struct walk *w = user;
	if (ncols != 10 || v[0] == NULL || v[1] == NULL || v[2] == NULL) {
		w->bad = 1;
		return 1;
	}
	struct ms_sts_entry e;
	memset(&e, 0, sizeof(e));
	e.version = MS_STS_ENTRY_VERSION;
	size_t hl = strlen(v[2]);
	if (hl % 2 || hl / 2 > MS_STS_POLICY_MAX || strlen(v[0]) >= sizeof(e.domain) ||
	    strlen(v[1]) >= sizeof(e.id) || (v[6] && strlen(v[6]) >= sizeof(e.backoff_id))) {
		w->bad = 1;
		return 1;
	}
	for (size_t i = 0; i < hl / 2; i++) {
		int hi = hexval(v[2][2 * i]), lo = hexval(v[2][2 * i + 1]);
		if (hi < 0 || lo < 0) {
			w->bad = 1;
			return 1;
		}
		w->buf[i] = (uint8_t)(hi << 4 | lo);
	}
	snprintf(e.domain, sizeof(e.domain), "%s", v[0]);
	snprintf(e.id, sizeof(e.id), "%s", v[1]);
	e.policy = w->buf;
	e.policy_len = hl / 2;
	e.fetched_at = v[3] ? strtoll(v[3], NULL, 10) : 0;
	e.expires_at = v[4] ? strtoll(v[4], NULL, 10) : 0;
	e.last_used = v[5] ? strtoll(v[5], NULL, 10) : 0;
	snprintf(e.backoff_id, sizeof(e.backoff_id), "%s", v[6] ? v[6] : "");
	e.backoff_until = v[7] ? strtoll(v[7], NULL, 10) : 0;
	e.failures = v[8] ? (uint32_t)strtoul(v[8], NULL, 10) : 0;
	e.last_failure = v[9] ? (uint32_t)strtoul(v[9], NULL, 10) : 0;
	return w->fn(w->user, &e);
}

static ms_status pg_get(void *impl, const void *query, ms_store_rec_fn fn, void *user,
			char *why, size_t whylen)
{
	struct ms_pg_store *s = impl;
	const char *domain = query;
	struct walk w = { s, fn, user, ms_malloc(&s->env, MS_STS_POLICY_MAX), 0 };
	if (w.buf == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	const char *p[] = { domain };
	ms_status st = ms_pg_exec(s->pg, domain ? Q_GET : Q_ALL, domain ? 1 : 0, p, on_row, &w,
				  NULL, why, whylen);
	if (st == MS_OK && w.bad)
		st = ms_why(why, whylen, MS_ERR_IO, "postgresql: a stored policy is malformed");
	ms_free(&s->env, w.buf);
	return st;
}

static ms_status put_one(struct ms_pg_store *s, const void *rec, char *why, size_t whylen)
{
	const struct ms_sts_entry *e = rec;
	if (e->policy_len > MS_STS_POLICY_MAX)
		return ms_why(why, whylen, MS_ERR_LIMIT, "policy too large");
	char *hex = ms_malloc(&s->env, e->policy_len * 2 + 1);
	if (hex == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < e->policy_len; i++) {
		hex[2 * i] = digits[e->policy[i] >> 4];
		hex[2 * i + 1] = digits[e->policy[i] & 15];
	}
	hex[e->policy_len * 2] = '\0';
	char n[6][24];
	snprintf(n[0], sizeof(n[0]), "%" PRId64, e->fetched_at);
	snprintf(n[1], sizeof(n[1]), "%" PRId64, e->expires_at);
	snprintf(n[2], sizeof(n[2]), "%" PRId64, e->last_used);
	snprintf(n[3], sizeof(n[3]), "%" PRId64, e->backoff_until);
	snprintf(n[4], sizeof(n[4]), "%" PRIu32, e->failures);
	snprintf(n[5], sizeof(n[5]), "%" PRIu32, e->last_failure);
	const char *p[] = { e->domain, e->id, hex, n[0], n[1], n[2], e->backoff_id, n[3],
			    n[4], n[5] };
	ms_status st = ms_pg_exec(s->pg, Q_PUT, 10, p, NULL, NULL, NULL, why, whylen);
	ms_free(&s->env, hex);
	return st;
}

static ms_status pg_put(void *impl, const void *rec, char *why, size_t whylen)
{
	return put_one(impl, rec, why, whylen);
}

static ms_status pg_batch(void *impl, const void *recs, size_t n, char *why, size_t whylen)
{
	return ms_pg_store_batch(impl, recs, n, sizeof(struct ms_sts_entry), put_one, why, whylen);
}

static ms_status pg_expire(void *impl, int64_t before, char *why, size_t whylen)
{
	return ms_pg_store_expire(impl, Q_EXPIRE, before, why, whylen);
}

static ms_status pg_del(void *impl, const void *query, char *why, size_t whylen)
{
	struct ms_pg_store *s = impl;
	const char *p[] = { query };
	return ms_pg_exec(s->pg, query ? Q_DEL : Q_DEL_ALL, query ? 1 : 0, p, NULL, NULL, NULL,
			  why, whylen);
}

const struct ms_store_ops sts_store_pg_ops = {
	.version = MS_STORE_OPS_VERSION,
	.open = pg_open,
	.get = pg_get,
	.put = pg_put,
	.batch = pg_batch,
	.expire = pg_expire,
	.close = ms_pg_store_close,
	.del = pg_del,
};
