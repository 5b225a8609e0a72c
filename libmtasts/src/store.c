/* store.c - the store handle: a vtable and its `self`, plugged by callers
 * (a fleet-wide Redis/SQL store) or by the SQLite default. */
#include "store.h"

#include <stdio.h>
#include <mailsec/store.h>
#include <string.h>

ms_status ms_sts_store_new_custom(const struct ms_env *env,
				  const struct ms_sts_store_ops *ops, void *self,
				  struct ms_sts_store **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	if (ops == NULL || ops->version < 1 || !ops->get || !ops->put || !ops->del ||
	    !ops->list)
		return MS_ERR_INVALID;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_sts_store *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return MS_ERR_NOMEM;
	s->env = e;
	s->ops = *ops;
	s->self = self;
	*out = s;
	return MS_OK;
}

void ms_sts_store_free(struct ms_sts_store *s)
{
	if (s == NULL)
		return;
	if (s->ops.close)
		s->ops.close(s->self);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

ms_status sts_store_get_full(struct ms_sts_store *s, const char *domain,
			    struct ms_sts_entry *e, uint8_t *polbuf,
			    size_t polbufsize, int *found)
{
	if (s == NULL || domain == NULL || e == NULL || found == NULL)
		return MS_ERR_INVALID;
	*found = 0;
	memset(e, 0, sizeof(*e));
	e->version = MS_STS_ENTRY_VERSION;
	/* Keys are normalised host names, whoever calls (sts_domain_normalize). */
	char dom[256];
	if (sts_domain_normalize(domain, dom, sizeof(dom), NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	return s->ops.get(s->self, dom, e, polbuf, polbufsize, found);
}

/* The caller's entry carries the version the caller set: the store fills a
 * full entry of the library's, and the caller gets the members its version
 * has (later versions append members); 0 is refused. */
ms_status ms_sts_store_get(struct ms_sts_store *s, const char *domain,
			   struct ms_sts_entry *e, uint8_t *polbuf,
			   size_t polbufsize, int *found)
{
	if (found)
		*found = 0;
	if (e == NULL || e->version < 1)
		return MS_ERR_INVALID;
	struct ms_sts_entry full;
	ms_status st = sts_store_get_full(s, domain, &full, polbuf, polbufsize, found);
	unsigned v = e->version;
	memcpy(e, &full, sizeof(*e)); /* version 1 is the whole struct */
	e->version = v;
	return st;
}

ms_status ms_sts_store_put(struct ms_sts_store *s, const struct ms_sts_entry *e)
{
	if (s == NULL || e == NULL || e->domain[0] == '\0')
		return MS_ERR_INVALID;
	char dom[sizeof(e->domain)]; /* 253 octets and the NUL at most */
	if (memchr(e->domain, '\0', sizeof(e->domain)) == NULL ||
	    sts_domain_normalize(e->domain, dom, sizeof(dom), NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	if (strcmp(dom, e->domain) == 0)
		return s->ops.put(s->self, e);
	struct ms_sts_entry n = *e;
	snprintf(n.domain, sizeof(n.domain), "%s", dom);
	return s->ops.put(s->self, &n);
}

ms_status sts_store_del(struct ms_sts_store *s, const char *domain)
{
	return s->ops.del(s->self, domain);
}

ms_status sts_store_list(struct ms_sts_store *s,
			 void (*cb)(void *user, const struct ms_sts_entry *e),
			 void *user)
{
	return s->ops.list(s->self, cb, user);
}

/* ---- a store opened by location (mailsec/store.h) ----------------------
 * The generic handle behind the ms_sts_store_ops the library calls. */

static const struct ms_store_backends sts_backends = {
	MS_STORE_OPS_VERSION, &sts_store_sqlite_ops, &sts_store_pg_ops,
};

struct gen_get {
	struct ms_sts_entry *e;
	uint8_t *polbuf;
	size_t polbufsize;
	int found;
	int toolong;
};

static int gen_get_one(void *user, const void *rec)
{
	struct gen_get *g = user;
	const struct ms_sts_entry *e = rec;
	if (e->policy_len > g->polbufsize) {
		g->toolong = 1;
		return 1;
	}
	*g->e = *e;
	if (e->policy_len)
		memcpy(g->polbuf, e->policy, e->policy_len);
	g->e->policy = g->polbuf;
	g->found = 1;
	return 1;
}

struct gen {
	struct ms_env env;
	struct ms_store *g;
};

/* The ms_sts_store_ops carry no `why`: a failure of the store is logged. */
static ms_status gen_log(struct gen *g, ms_status st, const char *why)
{
	if (st != MS_OK) {
		struct ms_kv kv[] = { { "status", ms_status_str(st) }, { "why", why } };
		ms_log(&g->env, MS_LOG_WARNING, "mtasts", "policy store failed", kv, 2);
	}
	return st;
}

static ms_status gen_get(void *self, const char *domain, struct ms_sts_entry *e,
			 uint8_t *polbuf, size_t polbufsize, int *found)
{
	struct gen_get g = { e, polbuf, polbufsize, 0, 0 };
	char why[256] = "";
	ms_status st = ms_store_get(((struct gen *)self)->g, domain, gen_get_one, &g, why, sizeof(why));
	if (st == MS_OK && g.toolong)
		st = MS_ERR_LIMIT;
	*found = st == MS_OK && g.found;
	return gen_log(self, st, why);
}

static ms_status gen_put(void *self, const struct ms_sts_entry *e)
{
	char why[256] = "";
	return gen_log(self, ms_store_put(((struct gen *)self)->g, e, why, sizeof(why)), why);
}

static ms_status gen_del(void *self, const char *domain)
{
	char why[256] = "";
	return gen_log(self, ms_store_del(((struct gen *)self)->g, domain, why, sizeof(why)), why);
}

struct gen_list {
	void (*cb)(void *user, const struct ms_sts_entry *e);
	void *user;
};

static int gen_list_one(void *user, const void *rec)
{
	struct gen_list *l = user;
	l->cb(l->user, rec);
	return 0;
}

static ms_status gen_list(void *self, void (*cb)(void *user, const struct ms_sts_entry *e),
			  void *user)
{
	struct gen_list l = { cb, user };
	char why[256] = "";
	return gen_log(self, ms_store_get(((struct gen *)self)->g, NULL, gen_list_one, &l, why, sizeof(why)), why);
}

static void gen_close(void *self)
{
	struct gen *g = self;
	ms_store_free(g->g);
	struct ms_env e = g->env;
	ms_free(&e, g);
}

static const struct ms_sts_store_ops gen_ops = {
	MS_STS_STORE_VERSION, gen_get, gen_put, gen_del, gen_list, gen_close,
};

ms_status ms_sts_store_open(const struct ms_env *env, const char *location,
			    struct ms_sts_store **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct gen *g = ms_calloc(&e, 1, sizeof(*g));
	if (g == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	g->env = e;
	ms_status st = ms_store_open(&e, location, &sts_backends, &g->g, why, whylen);
	if (st == MS_OK && (st = ms_sts_store_new_custom(&e, &gen_ops, g, out)) != MS_OK)
		ms_why(why, whylen, st, "out of memory");
	if (st != MS_OK) {
		ms_store_free(g->g);
		ms_free(&e, g);
	}
	return st;
}
