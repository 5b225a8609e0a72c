/*
 * ms_pg_store.h - what every library's PostgreSQL store backend has in
 * common (issue 19), for the libraries that link libmailsec-dns (header
 * only: common/ does not).
 *
 * A backend is its schema (struct ms_pg_schema: migrations and prepared
 * statements) and its row mapping; the handle, its open and close, and a
 * batch as one transaction are the same for all of them, so they are here.
 * The handle keeps the caller's env for the backend's own allocations.
 */
#ifndef MS_PG_STORE_H
#define MS_PG_STORE_H

#include <mailsec/store.h>
#include <inttypes.h>
#include <stdio.h>

#include "ms_common.h"

/* A backend's schema from its two arrays, counted here. */
#define MS_PG_SCHEMA(component, migrations, statements)                                     \
	{ (component), (migrations), sizeof(migrations) / sizeof((migrations)[0]),         \
	  (statements), sizeof(statements) / sizeof((statements)[0]) }

struct ms_pg_store {
	struct ms_env env;
	struct ms_pg *pg;
};

/* Open (create or migrate) `schema` at `location` into *impl (a struct
 * ms_pg_store); the errors of ms_pg_open. */
static inline ms_status ms_pg_store_open(const struct ms_env *env, const char *location,
					 const struct ms_pg_schema *schema, void **impl,
					 char *why, size_t whylen)
{
	struct ms_pg_store *s = ms_calloc(env, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	ms_env_init(&s->env, env);
	ms_status st = ms_pg_open(&s->env, location, schema, &s->pg, why, whylen);
	if (st != MS_OK) {
		ms_free(&s->env, s);
		return st;
	}
	*impl = s;
	return MS_OK;
}

/* Close every connection and free (NULL-safe). */
static inline void ms_pg_store_close(void *impl)
{
	struct ms_pg_store *s = impl;
	if (s == NULL)
		return;
	ms_pg_close(s->pg);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

/* One record's write, as a backend's batch repeats it. */
typedef ms_status (*ms_pg_store_put_fn)(struct ms_pg_store *s, const void *rec, char *why,
					size_t whylen);

/* `n` records of `size` bytes each written by `put` in one transaction:
 * all of them or none. */
static inline ms_status ms_pg_store_batch(struct ms_pg_store *s, const void *recs, size_t n,
					  size_t size, ms_pg_store_put_fn put, char *why,
					  size_t whylen)
{
	ms_status st = ms_pg_begin(s->pg, why, whylen);
	for (size_t i = 0; st == MS_OK && i < n; i++)
		st = put(s, (const char *)recs + i * size, why, whylen);
	if (st == MS_OK)
		return ms_pg_commit(s->pg, why, whylen);
	ms_pg_rollback(s->pg);
	return st;
}

/* Run `stmt`, whose one parameter is the number `before` (an expiry:
 * rows older than it go). */
static inline ms_status ms_pg_store_expire(struct ms_pg_store *s, size_t stmt, int64_t before,
					   char *why, size_t whylen)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRId64, before);
	const char *p[] = { b };
	return ms_pg_exec(s->pg, stmt, 1, p, NULL, NULL, NULL, why, whylen);
}

#endif /* MS_PG_STORE_H */
