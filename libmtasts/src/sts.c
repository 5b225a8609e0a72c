/*
 * sts.c - policy discovery with the cache (RFC 8461 s3.3, s5.1) and the
 * maintenance calls (purge, refresh).
 *
 * One ms_sts_get_policy() call: look up the TXT record, read the cache
 * entry, and decide between the cached policy, a fetch, a back-off or no
 * policy.  Store failures never turn into "no policy" by themselves: they
 * are logged and the call continues as if nothing were cached.
 */
#include "result.h"
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define STS_DEFAULT_DROP (35u * 86400u)
#define STS_MAX_BACKOFF 3600u
#define STS_TOUCH_EVERY 3600 /* write last_used at most hourly per domain */
#define STS_TXT_MAX 65536

struct ms_sts {
	struct ms_env env;
	struct ms_sts_fetch_config fetch;
	char *ca_file, *ca_path, *connect_to, *proxy; /* owned copies */
	uint32_t backoff, drop_unused_after;
	struct ms_dns_ctx *dns;
	struct ms_sts_store *store;
};

static char *dup_opt(const struct ms_env *env, const char *s, int *fail)
{
	if (s == NULL)
		return NULL;
	char *d = ms_strdup(env, s);
	if (d == NULL)
		*fail = 1;
	return d;
}

ms_status ms_sts_new(const struct ms_env *env, const struct ms_sts_config *cfg,
		     struct ms_dns_ctx *dns, struct ms_sts_store *store,
		     struct ms_sts **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	*out = NULL;
	if (dns == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "a DNS context is required");
	if (cfg && cfg->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "config version not set");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_sts *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	s->dns = dns;
	s->store = store;
	s->backoff = MS_STS_MIN_BACKOFF;
	s->drop_unused_after = STS_DEFAULT_DROP;
	s->fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	if (cfg) {
		int fail = 0;
		s->ca_file = dup_opt(&e, cfg->fetch.ca_file, &fail);
		s->ca_path = dup_opt(&e, cfg->fetch.ca_path, &fail);
		s->connect_to = dup_opt(&e, cfg->fetch.connect_to, &fail);
		s->proxy = dup_opt(&e, cfg->fetch.proxy, &fail);
		s->fetch.ca_file = s->ca_file;
		s->fetch.ca_path = s->ca_path;
		s->fetch.connect_to = s->connect_to;
		s->fetch.proxy = s->proxy;
		s->fetch.timeout_ms = cfg->fetch.timeout_ms;
		s->fetch.fetch = cfg->fetch.fetch;
		s->fetch.fetch_user = cfg->fetch.fetch_user;
		if (cfg->backoff > s->backoff)
			s->backoff = cfg->backoff;
		if (cfg->drop_unused_after)
			s->drop_unused_after = cfg->drop_unused_after;
		if (fail) {
			ms_sts_free(s);
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		}
	}
	*out = s;
	return MS_OK;
}

void ms_sts_free(struct ms_sts *s)
{
	if (s == NULL)
		return;
	ms_free(&s->env, s->ca_file);
	ms_free(&s->env, s->ca_path);
	ms_free(&s->env, s->connect_to);
	ms_free(&s->env, s->proxy);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

static void count(const struct ms_sts *s, const char *metric, const char *result)
{
	struct ms_kv l = { "result", result };
	ms_metric(&s->env, MS_METRIC_COUNTER, metric, &l, 1, 1);
}

static void log_event(const struct ms_sts *s, enum ms_log_level lvl, const char *msg,
		      const char *domain, const char *k2, const char *v2)
{
	struct ms_kv kv[] = { { "domain", domain }, { k2, v2 } };
	ms_log(&s->env, lvl, STS_SUBSYS, msg, kv, k2 ? 2 : 1);
}

/*
 * Look up _mta-sts.DOMAIN and keep the one valid STS record (s3.1).
 * Returns 1 with `id` set, 0 with the reason in `note`, or -1 when memory
 * ran out (the record is unknown, not absent: never "no policy").  On 0,
 * *failed (may be NULL) says whether the lookup itself failed (timeout,
 * SERVFAIL, bogus): then whether the domain publishes MTA-STS is unknown,
 * which is not the same as "no record" (NXDOMAIN, NODATA, no STS string).
 */
int sts_txt_lookup(struct ms_sts *s, struct ms_dns_ctx *dns, const char *domain,
		   char id[MS_STS_ID_MAX + 1], char *note, size_t notelen, int *failed)
{
	char name[300], why[200] = "";
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	struct ms_dns_result *r = NULL;
	id[0] = '\0';
	if (failed)
		*failed = 0;
	ms_status st = ms_dns_lookup(dns, name, MS_DNS_T_TXT, &r, why, sizeof(why));
	if (st != MS_OK) {
		snprintf(note, notelen, "TXT lookup failed: %s", why[0] ? why : ms_status_str(st));
		if (failed)
			*failed = st != MS_ERR_NOMEM;
		return st == MS_ERR_NOMEM ? -1 : 0;
	}
	if (ms_dns_result_failed(r) && failed)
		*failed = 1;
	if (ms_dns_result_outcome(r) != MS_DNS_ANSWER) {
		snprintf(note, notelen, "no TXT record (%s, %s)",
			 ms_dns_outcome_str(ms_dns_result_outcome(r)),
			 ms_dns_security_str(ms_dns_result_security(r)));
		ms_dns_result_free(r);
		return 0;
	}
	char *buf = ms_malloc(&s->env, STS_TXT_MAX);
	if (buf == NULL) {
		ms_dns_result_free(r);
		snprintf(note, notelen, "out of memory");
		return -1;
	}
	size_t nsts = 0, idx = 0, n = ms_dns_result_count(r);
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		if (ms_dns_result_txt(r, i, buf, STS_TXT_MAX, &len) != MS_OK)
			continue;
		if (ms_sts_record_is_sts((const uint8_t *)buf, len)) {
			nsts++;
			idx = i;
		}
	}
	int ok = 0;
	if (nsts == 0) {
		snprintf(note, notelen, "no STS record among %zu TXT records", n);
	} else if (nsts > 1) {
		snprintf(note, notelen, "%zu STS records (exactly one is required)", nsts);
	} else {
		size_t len = 0;
		char pwhy[160] = "";
		ms_dns_result_txt(r, idx, buf, STS_TXT_MAX, &len);
		if (ms_sts_record_parse((const uint8_t *)buf, len, id, pwhy,
					sizeof(pwhy)) == MS_OK) {
			snprintf(note, notelen, "ok");
			ok = 1;
		} else {
			snprintf(note, notelen, "invalid STS record: %s", pwhy);
		}
	}
	ms_free(&s->env, buf);
	ms_dns_result_free(r);
	return ok;
}

/* Make the result carry the policy of a cache entry or a fresh fetch. */
static ms_status set_policy(struct ms_sts_result *res, const uint8_t *text, size_t len,
			    const char *id, int64_t expires, enum ms_sts_source src)
{
	char pwhy[160] = "";
	struct ms_sts_policy *p = NULL;
	ms_status st = ms_sts_policy_parse(&res->env, text, len, &p, pwhy, sizeof(pwhy));
	if (st != MS_OK)
		return st;
	res->policy_text = ms_strndup(&res->env, (const char *)text, len);
	if (res->policy_text == NULL) {
		ms_sts_policy_free(p);
		return MS_ERR_NOMEM;
	}
	res->policy = p;
	snprintf(res->policy_id, sizeof(res->policy_id), "%s", id);
	res->expires = expires;
	res->state = MS_STS_POLICY;
	res->source = src;
	return MS_OK;
}

static uint32_t backoff_for(const struct ms_sts *s, uint32_t failures)
{
	uint64_t d = s->backoff;
	for (uint32_t i = 1; i < failures && d < STS_MAX_BACKOFF; i++)
		d *= 2;
	if (d > STS_MAX_BACKOFF && s->backoff <= STS_MAX_BACKOFF)
		d = STS_MAX_BACKOFF;
	if (d < MS_STS_MIN_BACKOFF)
		d = MS_STS_MIN_BACKOFF;
	return (uint32_t)d;
}

static ms_status after_fetch(struct ms_sts *s, ms_status st, size_t len, const char *domain,
			     const char *id, struct ms_sts_entry *e, int found, int64_t now,
			     int64_t used_at, uint8_t *polbuf, size_t *pollen, uint32_t *max_age,
			     enum ms_tlsrpt_result *failure, char *detail, size_t dlen);

/*
 * Fetch and validate the policy of `domain` for record `id`; on success
 * store it (last_used: `used_at`, or the entry's own when 0) and return MS_OK with the text in polbuf;
 * on failure record the back-off in the store and return the error with
 * *failure and `detail` set.  `e`/`found` are the current entry.
 */
static ms_status fetch_and_store(struct ms_sts *s, const char *domain, const char *id,
				 struct ms_sts_entry *e, int found, int64_t now,
				 int64_t used_at, uint8_t *polbuf, size_t *pollen, uint32_t *max_age,
				 enum ms_tlsrpt_result *failure, char *detail, size_t dlen)
{
	size_t len = 0;
	ms_status st = ms_sts_fetch_dns(&s->env, &s->fetch, s->dns, domain, polbuf,
					MS_STS_POLICY_MAX, &len, failure, detail, dlen);
	return after_fetch(s, st, len, domain, id, e, found, now, used_at, polbuf, pollen, max_age,
			   failure, detail, dlen);
}

/* The second half of fetch_and_store: judge, store, back off. */
static ms_status after_fetch(struct ms_sts *s, ms_status st, size_t len, const char *domain,
			     const char *id, struct ms_sts_entry *e, int found, int64_t now,
			     int64_t used_at, uint8_t *polbuf, size_t *pollen, uint32_t *max_age,
			     enum ms_tlsrpt_result *failure, char *detail, size_t dlen)
{
	struct ms_sts_policy *p = NULL;
	if (st == MS_OK) {
		char pwhy[200] = "";
		st = ms_sts_policy_parse(&s->env, polbuf, len, &p, pwhy, sizeof(pwhy));
		if (st == MS_ERR_NOMEM)
			return st;
		if (st != MS_OK) {
			*failure = MS_TLSRPT_STS_POLICY_INVALID;
			snprintf(detail, dlen, "%s", pwhy);
		}
	}
	if (st == MS_OK) {
		*max_age = ms_sts_policy_max_age(p);
		ms_sts_policy_free(p);
		count(s, "mtasts_fetch_total", "ok");
		struct ms_sts_entry n;
		memset(&n, 0, sizeof(n));
		n.version = MS_STS_ENTRY_VERSION;
		snprintf(n.domain, sizeof(n.domain), "%s", domain);
		snprintf(n.id, sizeof(n.id), "%s", id);
		n.policy = polbuf;
		n.policy_len = len;
		n.fetched_at = now;
		/* The policy's own max_age, never more (and no minimum either). */
		n.expires_at = now + (int64_t)*max_age;
		n.last_used = used_at ? used_at : (found ? e->last_used : now);
		if (s->store && ms_sts_store_put(s->store, &n) != MS_OK)
			log_event(s, MS_LOG_WARNING, "cannot store policy", domain, NULL, NULL);
		*pollen = len;
		log_event(s, MS_LOG_INFO, "policy fetched", domain, "id", id);
		return MS_OK;
	}
	count(s, "mtasts_fetch_total", ms_tlsrpt_result_name(*failure));
	uint32_t failures = (found && strcmp(e->backoff_id, id) == 0) ? e->failures + 1 : 1;
	uint32_t delay = backoff_for(s, failures);
	if (s->store) {
		struct ms_sts_entry n;
		if (found) {
			n = *e; /* keep the cached policy, it still applies until expiry */
			if (used_at)
				n.last_used = used_at;
		} else {
			memset(&n, 0, sizeof(n));
			n.version = MS_STS_ENTRY_VERSION;
			snprintf(n.domain, sizeof(n.domain), "%s", domain);
			n.last_used = now;
		}
		snprintf(n.backoff_id, sizeof(n.backoff_id), "%s", id);
		n.backoff_until = now + delay;
		n.failures = failures;
		n.last_failure = (uint32_t)*failure;
		if (ms_sts_store_put(s->store, &n) != MS_OK)
			log_event(s, MS_LOG_WARNING, "cannot store back-off", domain, NULL, NULL);
	}
	struct ms_kv kv[] = {
		{ "domain", domain }, { "id", id },
		{ "failure", ms_tlsrpt_result_name(*failure) }, { "why", detail },
	};
	ms_log(&s->env, MS_LOG_WARNING, STS_SUBSYS, "policy fetch failed", kv, 4);
	return st;
}

/*
 * The first half of a discovery: the TXT record (through `dns`), the cache,
 * and the decision.  MS_OK with d->need_fetch set when the policy must be
 * fetched (then sts_disc_fetched), else the result is decided (then
 * sts_disc_done).  An error: sts_disc_done with it.
 */
ms_status sts_disc_begin(struct ms_sts *s, struct ms_dns_ctx *dns, const char *dom,
			 struct sts_disc *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dom, sizeof(d->dom), "%s", dom);
	d->res = ms_calloc(&s->env, 1, sizeof(*d->res));
	if (d->res == NULL)
		return MS_ERR_NOMEM;
	d->res->env = s->env;   /* before anything can fail: the free uses it */
	d->polbuf = ms_malloc(&s->env, MS_STS_POLICY_MAX);
	if (d->polbuf == NULL)
		return MS_ERR_NOMEM;
	struct ms_sts_result *res = d->res;
	int64_t now = d->now = ms_now(&s->env);

	char *id = d->id;
	int txt_failed = 0;
	int valid = sts_txt_lookup(s, dns, dom, id, res->record_note, sizeof(res->record_note),
				   &txt_failed);
	if (valid < 0)
		return MS_ERR_NOMEM;
	snprintf(res->record_id, sizeof(res->record_id), "%s", valid ? id : "");

	struct ms_sts_entry *e = &d->e;
	int found = 0;
	if (s->store && sts_store_get_full(s->store, dom, e, d->polbuf, MS_STS_POLICY_MAX,
					 &found) != MS_OK) {
		log_event(s, MS_LOG_WARNING, "cannot read the policy cache", dom, NULL, NULL);
		found = 0;
		/* Not "nothing cached": an enforce policy may be in it (issue 19) */
		d->store_down = 1;
	}
	d->found = found;
	int fresh = found && e->policy_len > 0 && now < e->expires_at;
	/* A cached policy that no longer parses (a store written by another
	 * version, or tampered with) is as good as none. */
	if (fresh) {
		struct ms_sts_policy *chk = NULL;
		if (ms_sts_policy_parse(&s->env, e->policy, e->policy_len, &chk, NULL, 0) != MS_OK)
			fresh = 0;
		ms_sts_policy_free(chk);
	}
	d->fresh = fresh;

	if (!valid || (fresh && strcmp(e->id, id) == 0)) {
		if (fresh) {
			/* s5.1: an unexpired cached policy applies even when the
			 * record is gone or unreadable. */
			count(s, "mtasts_cache_total", valid ? "hit" : "hit_no_record");
			ms_status st = set_policy(res, e->policy, e->policy_len, e->id,
						  e->expires_at, MS_STS_SRC_CACHE);
			if (st == MS_OK && s->store && now - e->last_used >= STS_TOUCH_EVERY) {
				e->last_used = now;
				ms_sts_store_put(s->store, e);
			}
			return st;
		}
		count(s, "mtasts_cache_total", found && e->policy_len ? "expired" : "miss");
		if (txt_failed) {
			/* Fail closed: a failed lookup is not "no record".  With
			 * no unexpired policy cached, whether an enforce policy
			 * applies is unknown: defer, as for an unreadable cache. */
			res->state = MS_STS_UNKNOWN;
			res->failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
			snprintf(res->failure_detail, sizeof(res->failure_detail),
				 "the _mta-sts TXT lookup failed (%s)", res->record_note);
			log_event(s, MS_LOG_WARNING, "policy unknown: TXT lookup failed", dom,
				  "note", res->record_note);
		}
		return MS_OK;
	}

	/* A valid record with a new id, or nothing (fresh) cached: fetch,
	 * unless this id is backing off after a failed fetch. */
	if (found && strcmp(e->backoff_id, id) == 0 && now < e->backoff_until) {
		count(s, "mtasts_cache_total", "backoff");
		res->backoff = 1;
		res->failure = e->last_failure ? (enum ms_tlsrpt_result)e->last_failure
					       : MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		snprintf(res->failure_detail, sizeof(res->failure_detail),
			 "fetch for id %s failed %u time(s); next attempt in %lld s", id,
			 e->failures, (long long)(e->backoff_until - now));
		if (fresh)
			return set_policy(res, e->policy, e->policy_len, e->id, e->expires_at,
					  MS_STS_SRC_CACHE);
		return MS_OK;
	}
	count(s, "mtasts_cache_total", fresh ? "id_changed" : (found && e->policy_len ? "expired" : "miss"));

	/* Keep the old entry's policy: the fetch reuses polbuf. */
	if (found && e->policy_len) {
		d->oldpol = ms_malloc(&s->env, e->policy_len);
		if (d->oldpol == NULL)
			return MS_ERR_NOMEM;
		memcpy(d->oldpol, e->policy, e->policy_len);
		e->policy = d->oldpol;
	}
	d->need_fetch = 1;
	return MS_OK;
}

/* The second half, after the fetch (its status, body length in polbuf,
 * failure and detail in d->res->failure_detail). */
ms_status sts_disc_fetched(struct ms_sts *s, struct sts_disc *d, ms_status fst, size_t len,
			   enum ms_tlsrpt_result failure)
{
	struct ms_sts_result *res = d->res;
	uint32_t max_age = 0;
	size_t pollen = 0;
	ms_status st = after_fetch(s, fst, len, d->dom, d->id, &d->e, d->found, d->now, d->now,
				   d->polbuf, &pollen, &max_age, &failure, res->failure_detail,
				   sizeof(res->failure_detail));
	if (st == MS_OK) {
		st = set_policy(res, d->polbuf, pollen, d->id, d->now + (int64_t)max_age,
				MS_STS_SRC_FETCHED);
	} else if (st != MS_ERR_NOMEM) {
		res->failure = failure;
		res->backoff = 1;
		st = MS_OK;
		if (d->fresh)
			st = set_policy(res, d->e.policy, d->e.policy_len, d->e.id, d->e.expires_at,
					MS_STS_SRC_CACHE);
		else if (d->store_down) {
			/* The domain publishes MTA-STS, the policy cannot be
			 * fetched and the cache that may hold it cannot be
			 * read: not "no policy" (RFC 8461 s5.1 would let a
			 * cached enforce policy apply) but unknown: defer. */
			res->state = MS_STS_UNKNOWN;
			size_t l = strlen(res->failure_detail);
			snprintf(res->failure_detail + l, sizeof(res->failure_detail) - l,
				 "%s(policy cache unreachable)", l ? " " : "");
			log_event(s, MS_LOG_WARNING, "policy unknown: cache unreachable and fetch failed",
				  d->dom, "id", d->id);
		}
	}
	return st;
}

/* Hand out the result (MS_OK) or free everything and report `st`. */
ms_status sts_disc_done(struct ms_sts *s, struct sts_disc *d, ms_status st,
			struct ms_sts_result **out, char *why, size_t whylen)
{
	ms_free(&s->env, d->oldpol);
	ms_free(&s->env, d->polbuf);
	d->oldpol = NULL;
	d->polbuf = NULL;
	if (st != MS_OK) {
		ms_sts_result_free(d->res);
		d->res = NULL;
		return ms_why(why, whylen, st, "%s", ms_status_str(st));
	}
	*out = d->res;
	d->res = NULL;
	return MS_OK;
}

const struct ms_env *sts_env(const struct ms_sts *s)
{
	return &s->env;
}

const struct ms_sts_fetch_config *sts_fetch_config(const struct ms_sts *s)
{
	return &s->fetch;
}

struct ms_dns_ctx *sts_dns(const struct ms_sts *s)
{
	return s->dns;
}

/* 1 when a discovery with record id `id` would fetch now (no side effects:
 * the async discovery asks this in its DNS rounds to look up the policy
 * host's addresses beside the TXT record's). */
int sts_would_fetch(struct ms_sts *s, const char *dom, const char *id)
{
	if (s->store == NULL)
		return 1;
	uint8_t *buf = ms_malloc(&s->env, MS_STS_POLICY_MAX);
	if (buf == NULL)
		return 1;
	struct ms_sts_entry e;
	int found = 0;
	memset(&e, 0, sizeof(e));
	int64_t now = ms_now(&s->env);
	int fetch = 1;
	if (sts_store_get_full(s->store, dom, &e, buf, MS_STS_POLICY_MAX, &found) == MS_OK && found) {
		struct ms_sts_policy *chk = NULL;
		if (e.policy_len > 0 && now < e.expires_at && strcmp(e.id, id) == 0 &&
		    ms_sts_policy_parse(&s->env, e.policy, e.policy_len, &chk, NULL, 0) == MS_OK)
			fetch = 0;
		ms_sts_policy_free(chk);
		if (strcmp(e.backoff_id, id) == 0 && now < e.backoff_until)
			fetch = 0;
	}
	ms_free(&s->env, buf);
	return fetch;
}

ms_status ms_sts_get_policy(struct ms_sts *s, const char *domain,
			    struct ms_sts_result **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	*out = NULL;
	if (s == NULL || domain == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	char dom[256];
	ms_status vst = sts_domain_normalize(domain, dom, sizeof(dom), why, whylen);
	if (vst != MS_OK)
		return vst; /* before any lookup: the domain is not a host name */
	struct sts_disc d;
	ms_status st = sts_disc_begin(s, s->dns, dom, &d);
	if (st == MS_OK && d.need_fetch) {
		size_t len = 0;
		enum ms_tlsrpt_result failure = MS_TLSRPT_SUCCESS;
		ms_status fst = ms_sts_fetch_dns(&s->env, &s->fetch, s->dns, dom, d.polbuf,
						 MS_STS_POLICY_MAX, &len, &failure,
						 d.res->failure_detail,
						 sizeof(d.res->failure_detail));
		st = sts_disc_fetched(s, &d, fst, len, failure);
	}
	return sts_disc_done(s, &d, st, out, why, whylen);
}

ms_status ms_sts_purge(struct ms_sts *s, const char *domain)
{
	if (s == NULL)
		return MS_ERR_INVALID;
	if (s->store == NULL)
		return MS_OK;
	if (domain == NULL)
		return sts_store_del(s->store, NULL);
	char dom[256];
	if (sts_domain_normalize(domain, dom, sizeof(dom), NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	return sts_store_del(s->store, dom);
}

/* The entries to visit, collected first: the store's list callback must
 * not call back into the store. */
struct todo {
	struct ms_sts *s;
	char (*domains)[254];
	size_t n, cap;
	int nomem;
};

static void collect(void *user, const struct ms_sts_entry *e)
{
	struct todo *t = user;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void *nd = ms_realloc(&t->s->env, t->domains, cap * sizeof(*t->domains));
		if (nd == NULL) {
			t->nomem = 1;
			return;
		}
		t->domains = nd;
		t->cap = cap;
	}
	memcpy(t->domains[t->n++], e->domain, sizeof(e->domain));
}

ms_status ms_sts_refresh(struct ms_sts *s, size_t *refreshed, size_t *failed,
			 size_t *dropped)
{
	size_t nref = 0, nfail = 0, ndrop = 0;
	if (s == NULL)
		return MS_ERR_INVALID;
	if (s->store == NULL)
		goto out;
	struct todo t = { s, NULL, 0, 0, 0 };
	ms_status st = sts_store_list(s->store, collect, &t);
	uint8_t *polbuf = ms_malloc(&s->env, MS_STS_POLICY_MAX);
	uint8_t *newbuf = ms_malloc(&s->env, MS_STS_POLICY_MAX);
	if (st == MS_OK && (t.nomem || polbuf == NULL || newbuf == NULL))
		st = MS_ERR_NOMEM;
	int64_t now = ms_now(&s->env);
	for (size_t i = 0; st == MS_OK && i < t.n; i++) {
		const char *dom = t.domains[i];
		struct ms_sts_entry e;
		int found = 0;
		char norm[256];
		/* A shared store may hold what this library never wrote: an entry
		 * whose key is not a normalised host name is never fetched for. */
		if (sts_domain_normalize(dom, norm, sizeof(norm), NULL, 0) != MS_OK ||
		    strcmp(norm, dom) != 0) {
			if (sts_store_del(s->store, dom) == MS_OK)
				ndrop++;
			continue;
		}
		if (sts_store_get_full(s->store, dom, &e, polbuf, MS_STS_POLICY_MAX, &found) != MS_OK ||
		    !found)
			continue;
		int unused = now - e.last_used > (int64_t)s->drop_unused_after;
		int dead = e.policy_len == 0 && now >= e.backoff_until;
		if (unused || dead) {
			if (sts_store_del(s->store, dom) == MS_OK)
				ndrop++;
			continue;
		}
		if (e.policy_len == 0)
			continue; /* only back-off state: nothing in use to refresh */
		char id[MS_STS_ID_MAX + 1], note[192];
		if (sts_txt_lookup(s, s->dns, dom, id, note, sizeof(note), NULL) != 1)
			continue; /* keep the cached policy until it expires */
		if (strcmp(e.backoff_id, id) == 0 && now < e.backoff_until)
			continue;
		size_t len = 0;
		uint32_t max_age = 0;
		enum ms_tlsrpt_result failure;
		char detail[320];
		ms_status fs = fetch_and_store(s, dom, id, &e, 1, now, 0, newbuf, &len, &max_age,
					       &failure, detail, sizeof(detail));
		if (fs == MS_OK)
			nref++;
		else if (fs == MS_ERR_NOMEM)
			st = fs;
		else
			nfail++;
	}
	ms_free(&s->env, t.domains);
	ms_free(&s->env, polbuf);
	ms_free(&s->env, newbuf);
	if (st != MS_OK)
		return st;
out:
	if (refreshed)
		*refreshed = nref;
	if (failed)
		*failed = nfail;
	if (dropped)
		*dropped = ndrop;
	return MS_OK;
}

uint32_t ms_sts_refresh_delay(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)ms_monotonic_ns();
	return 86400u - 3600u + r % 7201u;
}
