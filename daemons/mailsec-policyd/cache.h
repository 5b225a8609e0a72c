/*
 * cache.h - a bounded memo of recent answers, owned by the event loop's
 * thread (no locking): a repeated lookup of a domain within ttl seconds is
 * answered without a worker round trip, as Postfix asks for the same
 * next-hop domains over and over.  Only OK and NOTFOUND answers are kept;
 * a TEMP answer is never cached, so a failed lookup is retried at once.
 * Direct-mapped: a colliding domain replaces the older entry.
 */
#ifndef POLICYD_CACHE_H
#define POLICYD_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct policyd_cache;

/* `slots` entries (rounded up to a power of two); NULL when slots is 0. */
struct policyd_cache *policyd_cache_new(size_t slots);
void policyd_cache_free(struct policyd_cache *c);
/* The reply cached for `domain` (lower case) at `now` (monotonic seconds),
 * NULL when absent or expired; valid until the next put. */
const char *policyd_cache_get(struct policyd_cache *c, const char *domain, int64_t now);
/* Keep `reply` for `domain` until `expires`. */
void policyd_cache_put(struct policyd_cache *c, const char *domain, const char *reply,
		       int64_t expires);

#endif
