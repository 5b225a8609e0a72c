/*
 * spf_cache.c - an optional answer cache inside an SPF evaluator
 * (ms_spf_set_cache): MTAs check the same sender domains over and over,
 * and a hit costs a hash probe instead of a trip through the resolver.
 *
 * Cached results keep their DNSSEC security, so verdicts are unchanged.
 * Rules that keep borrowed pointers valid: during an evaluation entries are
 * only added, never removed; expired entries are skipped (and the fresh
 * answer is not cached); removal happens between evaluations, in
 * spf_cache_maintain(): everything when the cache is full, expired entries
 * at most once a second.  Only answers with a TTL are cached; failures
 * (SERVFAIL, timeout) never are.
 */
#include "spf_internal.h"

#include <string.h>

struct spf_cache_entry {
	struct ms_dns_result *r;   /* NULL: free slot */
	uint16_t type;
	int64_t expires;
	uint32_t hash;
	char name[256];
};

static uint32_t hash_of(const char *name, uint16_t type)
{
	uint32_t h = 2166136261u ^ type;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ (uint32_t)*p) * 16777619u;
	return h;
}

static void free_all(struct ms_spf *spf)
{
	for (size_t i = 0; i < spf->cache_cap; i++)
		if (spf->cache[i].r) {
			ms_dns_result_free(spf->cache[i].r);
			spf->cache[i].r = NULL;
		}
	spf->cache_n = 0;
}

ms_status ms_spf_set_cache(struct ms_spf *spf, size_t entries)
{
	if (spf == NULL || entries > 65536)
		return MS_ERR_INVALID;
	free_all(spf);
	ms_free(&spf->env, spf->cache);
	spf->cache = NULL;
	spf->cache_cap = spf->cache_max = 0;
	if (entries == 0)
		return MS_OK;
	/* Open addressing at most half full: capacity a power of two >= 2n. */
	size_t cap = 16;
	while (cap < entries * 2)
		cap *= 2;
	spf->cache = ms_calloc(&spf->env, cap, sizeof(*spf->cache));
	if (spf->cache == NULL)
		return MS_ERR_NOMEM;
	spf->cache_cap = cap;
	spf->cache_max = entries;
	return MS_OK;
}

void spf_cache_free(struct ms_spf *spf)
{
	free_all(spf);
	ms_free(&spf->env, spf->cache);
	spf->cache = NULL;
}

/* Between evaluations only: no result of the cache is borrowed now. */
void spf_cache_maintain(struct ms_spf *spf)
{
	if (spf->cache == NULL)
		return;
	if (spf->cache_n >= spf->cache_max) {
		free_all(spf);
		return;
	}
	int64_t now = ms_now(&spf->env);
	if (now == spf->cache_swept)
		return;
	spf->cache_swept = now;
	/* Drop expired entries and re-insert the rest (no tombstones). */
	size_t live = 0;
	for (size_t i = 0; i < spf->cache_cap; i++)
		if (spf->cache[i].r && spf->cache[i].expires <= now) {
			ms_dns_result_free(spf->cache[i].r);
			spf->cache[i].r = NULL;
		} else if (spf->cache[i].r) {
			live++;
		}
	if (live == spf->cache_n)
		return;
	spf->cache_n = live;
	for (size_t i = 0; i < spf->cache_cap; i++) {
		if (spf->cache[i].r == NULL)
			continue;
		struct spf_cache_entry tmp = spf->cache[i];
		spf->cache[i].r = NULL;
		size_t j = tmp.hash & (spf->cache_cap - 1);
		while (spf->cache[j].r)
			j = (j + 1) & (spf->cache_cap - 1);
		spf->cache[j] = tmp;
	}
}

/* Entries are keyed by the result's own (normalised) qname; a lookup name
 * differing only in case or a trailing dot finds them too. */
static struct spf_cache_entry *probe(const struct ms_spf *spf, const char *name, uint16_t type)
{
	char key[256];
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n >= sizeof(key))
		return NULL;
	for (size_t i = 0; i < n; i++)
		key[i] = (char)ms_ascii_lower((unsigned char)name[i]);
	key[n] = '\0';
	uint32_t h = hash_of(key, type);
	for (size_t j = h & (spf->cache_cap - 1); spf->cache[j].r; j = (j + 1) & (spf->cache_cap - 1)) {
		struct spf_cache_entry *c = &spf->cache[j];
		if (c->hash == h && c->type == type && strcmp(c->name, key) == 0)
			return c;
	}
	return NULL;
}

struct ms_dns_result *spf_cache_get(struct ms_spf *spf, const char *name, uint16_t type)
{
	if (spf->cache == NULL)
		return NULL;
	struct spf_cache_entry *c = probe(spf, name, type);
	return c && c->expires > ms_now(&spf->env) ? c->r : NULL;
}

int spf_cache_put(struct ms_spf *spf, struct ms_dns_result *r)
{
	if (spf->cache == NULL || spf->cache_n >= spf->cache_max)
		return 0;
	const char *name = ms_dns_result_qname(r);
	uint16_t type = ms_dns_result_qtype(r);
	if (strlen(name) > 255 || probe(spf, name, type) != NULL)
		return 0;   /* an expired twin may still be borrowed: leave it */
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	uint32_t ttl = ms_dns_result_ttl(r);
	if (ttl == 0 || !(o == MS_DNS_ANSWER || o == MS_DNS_NXDOMAIN || o == MS_DNS_NODATA))
		return 0;
	uint32_t h = hash_of(name, type);
	size_t j = h & (spf->cache_cap - 1);
	while (spf->cache[j].r)
		j = (j + 1) & (spf->cache_cap - 1);
	struct spf_cache_entry *c = &spf->cache[j];
	c->r = r;
	c->type = type;
	c->hash = h;
	c->expires = ms_now(&spf->env) + (int64_t)ttl;
	memcpy(c->name, name, strlen(name) + 1);
	spf->cache_n++;
	return 1;
}

int spf_cache_owns(const struct ms_spf *spf, const struct ms_dns_result *r)
{
	if (spf->cache == NULL || r == NULL)
		return 0;
	const struct spf_cache_entry *c = probe(spf, ms_dns_result_qname(r), ms_dns_result_qtype(r));
	return c != NULL && c->r == r;
}
