/*
 * store.c - the store handle every library's store is expressed in: the
 * location's scheme picks a backend (SQLite default, PostgreSQL shared),
 * the calls go through its ops.
 */
#include "mailsec/store.h"
#include "ms_common.h"

#include <string.h>

struct ms_store {
	struct ms_env env;
	struct ms_store_ops ops;
	enum ms_store_backend backend;
	void *impl;
};

ms_status ms_store_parse_location(const char *location, enum ms_store_backend *backend,
				  const char **path, char *why, size_t whylen)
{
	if (location == NULL || *location == '\0')
		return ms_why(why, whylen, MS_ERR_INVALID, "empty store location");
	enum ms_store_backend b;
	const char *p = location;
	if (strncmp(location, "postgresql://", 13) == 0 ||
	    strncmp(location, "postgres://", 11) == 0) {
		b = MS_STORE_POSTGRESQL;
	} else if (strncmp(location, "sqlite:", 7) == 0) {
		b = MS_STORE_SQLITE;
		p = location + 7;
		/* "sqlite:///abs/path": the URI form of "sqlite:/abs/path" */
		if (strncmp(p, "///", 3) == 0)
			p += 2;
		else if (strncmp(p, "//", 2) == 0)
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "sqlite: location with a host; use sqlite:/PATH");
		if (*p == '\0')
			return ms_why(why, whylen, MS_ERR_INVALID, "sqlite: location without a path");
	} else {
		/* a plain path; a scheme we do not know is refused, not taken
		 * for a file name ("redis://h" would create a directory) */
		const char *colon = strstr(location, "://");
		if (colon != NULL && strchr(location, '/') > colon)
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "unknown store scheme in '%.40s' (sqlite:, postgresql://)",
				      location);
		b = MS_STORE_SQLITE;
	}
	if (backend)
		*backend = b;
	if (path)
		*path = p;
	return MS_OK;
}

ms_status ms_store_open(const struct ms_env *env, const char *location,
			const struct ms_store_backends *bk, struct ms_store **out, char *why,
			size_t whylen)
{
	if (out == NULL || bk == NULL || bk->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	enum ms_store_backend b;
	const char *path = NULL;
	ms_status st = ms_store_parse_location(location, &b, &path, why, whylen);
	if (st != MS_OK)
		return st;
	const struct ms_store_ops *ops = b == MS_STORE_POSTGRESQL ? bk->postgresql : bk->sqlite;
	if (ops == NULL)
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "this store has no %s backend",
			      b == MS_STORE_POSTGRESQL ? "PostgreSQL" : "SQLite");
	if (b == MS_STORE_POSTGRESQL && !ms_store_have_postgresql())
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
			      "mailsec was built without libpq: no PostgreSQL stores");
	if (ops->version < 1 || !ops->open || !ops->get || !ops->put || !ops->batch ||
	    !ops->expire || !ops->close)
		return ms_why(why, whylen, MS_ERR_INVALID, "incomplete store ops");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_store *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	s->ops = *ops;
	s->backend = b;
	st = ops->open(&s->env, b == MS_STORE_SQLITE ? path : location, &s->impl, why, whylen);
	if (st != MS_OK) {
		ms_free(&e, s);
		return st;
	}
	*out = s;
	return MS_OK;
}

void ms_store_free(struct ms_store *s)
{
	if (s == NULL)
		return;
	s->ops.close(s->impl);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

enum ms_store_backend ms_store_backend_of(const struct ms_store *s)
{
	return s ? s->backend : MS_STORE_SQLITE;
}

ms_status ms_store_get(struct ms_store *s, const void *query, ms_store_rec_fn fn, void *user,
		       char *why, size_t whylen)
{
	if (s == NULL || fn == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	return s->ops.get(s->impl, query, fn, user, why, whylen);
}

ms_status ms_store_put(struct ms_store *s, const void *rec, char *why, size_t whylen)
{
	if (s == NULL || rec == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	return s->ops.put(s->impl, rec, why, whylen);
}

ms_status ms_store_batch(struct ms_store *s, const void *recs, size_t n, char *why,
			 size_t whylen)
{
	if (s == NULL || (recs == NULL && n > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (n == 0)
		return MS_OK;
	return s->ops.batch(s->impl, recs, n, why, whylen);
}

ms_status ms_store_expire(struct ms_store *s, int64_t before, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	return s->ops.expire(s->impl, before, why, whylen);
}

ms_status ms_store_del(struct ms_store *s, const void *query, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->ops.del == NULL)
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "this store cannot delete");
	return s->ops.del(s->impl, query, why, whylen);
}
