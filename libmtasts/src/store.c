/* store.c - the store handle: a vtable and its `self`, plugged by callers
 * (a fleet-wide Redis/SQL store) or by the SQLite default. */
#include "store.h"

#include <stdio.h>
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
