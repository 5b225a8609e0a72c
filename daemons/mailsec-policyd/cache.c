/* cache.c - see cache.h. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

struct slot {
	char *domain;
	char *reply;
	int64_t expires;
};

struct policyd_cache {
	size_t mask;
	struct slot *slots;
};

struct policyd_cache *policyd_cache_new(size_t slots)
{
	if (slots == 0)
		return NULL;
	size_t n = 1;
	while (n < slots)
		n <<= 1;
	struct policyd_cache *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->slots = calloc(n, sizeof(*c->slots))) == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

void policyd_cache_free(struct policyd_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i <= c->mask; i++) {
		free(c->slots[i].domain);
		free(c->slots[i].reply);
	}
	free(c->slots);
	free(c);
}

static struct slot *slot_of(struct policyd_cache *c, const char *domain)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)domain; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return &c->slots[h & c->mask];
}

const char *policyd_cache_get(struct policyd_cache *c, const char *domain, int64_t now)
{
	if (c == NULL)
		return NULL;
	struct slot *s = slot_of(c, domain);
	if (s->domain == NULL || s->expires <= now || strcmp(s->domain, domain) != 0)
		return NULL;
	return s->reply;
}

void policyd_cache_put(struct policyd_cache *c, const char *domain, const char *reply,
		       int64_t expires)
{
	if (c == NULL)
		return;
	struct slot *s = slot_of(c, domain);
	char *d = strdup(domain), *r = strdup(reply);
	if (d == NULL || r == NULL) {
		free(d);
		free(r);
		return;
	}
	free(s->domain);
	free(s->reply);
	s->domain = d;
	s->reply = r;
	s->expires = expires;
}
