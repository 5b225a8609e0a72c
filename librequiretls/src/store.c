/*
 * store.c - the recipient-domain memory front end: argument checks, name
 * normalisation, the clock, and the REQUIRETLS support query.  The storage
 * itself is behind struct ms_rtls_store_ops (store_sqlite.c is the default).
 */
#include "mailsec/requiretls_store.h"
#include "rtls_internal.h"

#include <string.h>

struct ms_rtls_store {
	struct ms_env env;
	struct ms_rtls_store_ops ops;
	void *impl;
};

ms_status ms_rtls_store_new(const struct ms_env *env,
			    const struct ms_rtls_store_ops *ops, void *impl,
			    struct ms_rtls_store **out, char *why, size_t whylen)
{
	if (out != NULL)
		*out = NULL;
	if (ops == NULL || out == NULL || ops->version < 1 ||
	    ops->record == NULL || ops->get == NULL) {
		if (ops != NULL && ops->close != NULL)
			ops->close(impl);
		return ms_why(why, whylen, MS_ERR_INVALID, "incomplete store ops");
	}
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_store *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL) {
		if (ops->close)
			ops->close(impl);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	s->env = e;
	s->ops = *ops;
	s->impl = impl;
	*out = s;
	return MS_OK;
}

void ms_rtls_store_free(struct ms_rtls_store *store)
{
	if (store == NULL)
		return;
	if (store->ops.close)
		store->ops.close(store->impl);
	struct ms_env e = store->env;
	ms_free(&e, store);
}

/* Lower-case, drop one final dot, refuse what cannot be a domain name. */
static ms_status norm_domain(const char *in, char out[MS_RTLS_MAX_DOMAIN + 2])
{
	if (in == NULL)
		return MS_ERR_INVALID;
	size_t n = strlen(in);
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > MS_RTLS_MAX_DOMAIN)
		return MS_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		/* A-labels only: the caller converts U-labels (IDNA2008) */
		if (!(rtls_is_alnum(c) || c == '-' || c == '.' || c == '_'))
			return MS_ERR_INVALID;
		if (c == '.' && (i == 0 || in[i - 1] == '.'))
			return MS_ERR_INVALID;
		out[i] = (char)ms_ascii_lower(c);
	}
	out[n] = '\0';
	return MS_OK;
}

static int valid_account(const char *a)
{
	if (a == NULL || strlen(a) > MS_RTLS_MAX_ACCOUNT)
		return 0;
	for (; *a; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f)
			return 0;
	return 1;
}

ms_status ms_rtls_store_record(struct ms_rtls_store *store, const char *account,
			       const char *domain, int starttls, int requiretls,
			       char *why, size_t whylen)
{
	char dom[MS_RTLS_MAX_DOMAIN + 2];
	if (store == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "null store");
	if (!valid_account(account))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad account");
	if (norm_domain(domain, dom) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad domain name");
	/* REQUIRETLS is only ever advertised after STARTTLS (RFC 8689 s2). */
	requiretls = requiretls && starttls;
	return store->ops.record(store->impl, account, dom, starttls ? 1 : 0,
				 requiretls ? 1 : 0, ms_now(&store->env), why,
				 whylen);
}

ms_status ms_rtls_store_get(struct ms_rtls_store *store, const char *account,
			    const char *domain, struct ms_rtls_capability *out,
			    int *found, char *why, size_t whylen)
{
	char dom[MS_RTLS_MAX_DOMAIN + 2];
	if (store == NULL || out == NULL || found == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	memset(out, 0, sizeof(*out));
	*found = 0;
	if (!valid_account(account))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad account");
	if (norm_domain(domain, dom) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad domain name");
	return store->ops.get(store->impl, account, dom, out, found, why, whylen);
}

ms_status ms_rtls_store_query(struct ms_rtls_store *store, const char *account,
			      const char *const *domains, size_t n,
			      int64_t max_age, enum ms_rtls_support *each,
			      int *all_supported, char *why, size_t whylen)
{
	if (store == NULL || all_supported == NULL || (domains == NULL && n > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	if (n > MS_RTLS_MAX_QUERY)
		return ms_why(why, whylen, MS_ERR_LIMIT, "more than %d domains",
			      MS_RTLS_MAX_QUERY);
	*all_supported = 0;
	int all = 1;
	int64_t now = ms_now(&store->env);
	for (size_t i = 0; i < n; i++) {
		struct ms_rtls_capability c;
		int found = 0;
		ms_status st = ms_rtls_store_get(store, account, domains[i], &c,
						 &found, why, whylen);
		if (st != MS_OK)
			return st;
		enum ms_rtls_support s = MS_RTLS_SUPPORT_UNKNOWN;
		if (found && (max_age <= 0 || now - c.updated <= max_age))
			s = c.requiretls ? MS_RTLS_SUPPORT_YES : MS_RTLS_SUPPORT_NO;
		if (each)
			each[i] = s;
		if (s != MS_RTLS_SUPPORT_YES)
			all = 0;
	}
	*all_supported = all;
	return MS_OK;
}
