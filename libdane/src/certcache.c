/*
 * certcache.c - a bounded LRU cache of decoded CA certificates.
 *
 * DANE-TA verification cost is dominated by decoding certificates
 * (d2i_X509 decodes the key and caches the extensions), and a sending MTA
 * sees the same few intermediates over and over.  The cache maps the
 * SHA-256 of a certificate's DER to the decoded X509.  It only saves the
 * decode: dates, names, key usage, signatures and the chain build are all
 * still done by X509_verify_cert() on every verification.
 *
 * Leaf (end-entity) certificates can be cached too, in a partition of
 * their own with its own bound and LRU list: a stream of distinct leaves
 * (every server has its own) evicts only other leaves, never the CA
 * certificates that repeat across servers.  Both partitions share one hash
 * table; a certificate is served from whichever partition holds it.
 *
 * A hit needs the same SHA-256 *and* the same DER bytes (a copy is kept and
 * compared), so a certificate replaced under the same subject, or a hash
 * collision, is never served: different DER is always decoded afresh.
 *
 * Our structures (entries, DER copies, buckets) come from the env
 * allocator; the X509 objects from OpenSSL's.  Shared X509 objects are
 * read-only for verification (OpenSSL shares trust-store certificates
 * between threads the same way); their extension cache is filled at decode
 * time, before an X509 enters the cache.  A mutex guards the table and the
 * LRU list; references are taken with X509_up_ref under it, so an evicted
 * certificate lives until its last user frees it.
 */
#include "dane_internal.h"

#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

struct cc_entry {
	struct cc_entry *hnext;       /* hash chain */
	struct cc_entry *prev, *next; /* its partition's LRU list, most recent first */
	X509 *x;
	int part;                     /* MS_DANE_CC_CA or MS_DANE_CC_LEAF */
	uint8_t key[32];
	/* The SHA-256 of the DER of an issuer certificate whose key verified
	 * this certificate's signature (sig_known: set). */
	uint8_t sig_issuer[32];
	int sig_known;
	size_t len;
	uint8_t der[];                /* the DER bytes, compared on a hit */
};

/* One LRU partition: its bound, its count, its list. */
struct cc_part {
	size_t max, n;
	struct cc_entry *head, *tail;
};

struct ms_dane_certcache {
	const struct ms_env *env;
	pthread_mutex_t mu;
	size_t nbuckets;              /* a power of two */
	struct cc_entry **buckets;
	struct cc_part part[2];       /* indexed by MS_DANE_CC_CA / MS_DANE_CC_LEAF */
};

static size_t bucket_of(const struct ms_dane_certcache *c, const uint8_t key[32])
{
	uint64_t h;
	memcpy(&h, key, sizeof(h)); /* a SHA-256 is uniform already */
	return (size_t)h & (c->nbuckets - 1);
}

ms_status ms_dane_certcache_new(const struct ms_env *env, size_t max_ca, size_t max_leaf,
				struct ms_dane_certcache **out)
{
	*out = NULL;
	struct ms_dane_certcache *c = ms_calloc(env, 1, sizeof(*c));
	if (c == NULL)
		return MS_ERR_NOMEM;
	c->env = env;
	c->part[MS_DANE_CC_CA].max = max_ca;
	c->part[MS_DANE_CC_LEAF].max = max_leaf;
	size_t max = max_ca + max_leaf; /* each at most MS_DANE_MAX_CERT_CACHE */
	c->nbuckets = 16;
	while (c->nbuckets < max && c->nbuckets < ((size_t)1 << 20))
		c->nbuckets <<= 1;
	c->buckets = ms_calloc(env, c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
		ms_free(env, c->buckets);
		ms_free(env, c);
		return MS_ERR_NOMEM;
	}
	*out = c;
	return MS_OK;
}

static void lru_unlink(struct cc_part *c, struct cc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct cc_part *c, struct cc_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

static void hash_unlink(struct ms_dane_certcache *c, struct cc_entry *e)
{
	struct cc_entry **pp = &c->buckets[bucket_of(c, e->key)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
}

void ms_dane_certcache_free(struct ms_dane_certcache *c)
{
	if (c == NULL)
		return;
	for (int p = 0; p < 2; p++) {
		struct cc_entry *e = c->part[p].head;
		while (e) {
			struct cc_entry *next = e->next;
			X509_free(e->x);
			ms_free(c->env, e);
			e = next;
		}
	}
	pthread_mutex_destroy(&c->mu);
	ms_free(c->env, c->buckets);
	ms_free(c->env, c);
}

X509 *ms_dane_certcache_get(struct ms_dane_certcache *c, const uint8_t key[32],
			    const uint8_t *der, size_t len)
{
	X509 *x = NULL;
	pthread_mutex_lock(&c->mu);
	for (struct cc_entry *e = c->buckets[bucket_of(c, key)]; e; e = e->hnext) {
		if (memcmp(e->key, key, 32) != 0 || e->len != len ||
		    memcmp(e->der, der, len) != 0)
			continue;
		if (X509_up_ref(e->x)) {
			x = e->x;
			struct cc_part *p = &c->part[e->part];
			if (p->head != e) {
				lru_unlink(p, e);
				lru_push_front(p, e);
			}
		}
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return x;
}

int ms_dane_certcache_put(struct ms_dane_certcache *c, int part, const uint8_t key[32],
			  const uint8_t *der, size_t len, X509 *x)
{
	struct cc_part *p = &c->part[part];
	if (p->max == 0)
		return -1;
	/* Allocated outside the lock; a failure only means no caching. */
	struct cc_entry *e = ms_malloc(c->env, sizeof(*e) + len);
	if (e == NULL)
		return -1;
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, 32);
	memcpy(e->der, der, len);
	e->len = len;
	e->part = part;
	if (!X509_up_ref(x)) {
		ms_free(c->env, e);
		return -1;
	}
	e->x = x;
	struct cc_entry *evicted = NULL, *dup = NULL;
	pthread_mutex_lock(&c->mu);
	size_t b = bucket_of(c, key);
	for (struct cc_entry *o = c->buckets[b]; o; o = o->hnext)
		if (memcmp(o->key, key, 32) == 0 && o->len == len && memcmp(o->der, der, len) == 0)
			dup = o; /* another thread cached it first */
	if (dup == NULL) {
		e->hnext = c->buckets[b];
		c->buckets[b] = e;
		lru_push_front(p, e);
		if (++p->n > p->max) { /* only this partition's own oldest */
			evicted = p->tail;
			lru_unlink(p, evicted);
			hash_unlink(c, evicted);
			p->n--;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (dup) {
		X509_free(e->x);
		ms_free(c->env, e);
	}
	if (evicted) {
		X509_free(evicted->x);
		ms_free(c->env, evicted);
	}
	/* a duplicate entry holds the same DER: the memo keys stay right */
	return 0;
}

/* The entry for exactly this key (the caller holds the lock). */
static struct cc_entry *find_key(struct ms_dane_certcache *c, const uint8_t key[32])
{
	for (struct cc_entry *e = c->buckets[bucket_of(c, key)]; e; e = e->hnext)
		if (memcmp(e->key, key, 32) == 0)
			return e;
	return NULL;
}

int ms_dane_certcache_sig_known(struct ms_dane_certcache *c, const X509 *x,
				const uint8_t subject[32], const uint8_t issuer[32])
{
	pthread_mutex_lock(&c->mu);
	struct cc_entry *e = find_key(c, subject);
	int known = e != NULL && e->x == x && e->sig_known &&
		    memcmp(e->sig_issuer, issuer, 32) == 0;
	pthread_mutex_unlock(&c->mu);
	return known;
}

void ms_dane_certcache_sig_note(struct ms_dane_certcache *c, const X509 *x,
				const uint8_t subject[32], const uint8_t issuer[32])
{
	pthread_mutex_lock(&c->mu);
	struct cc_entry *e = find_key(c, subject);
	if (e != NULL && e->x == x) {
		memcpy(e->sig_issuer, issuer, 32);
		e->sig_known = 1;
	}
	pthread_mutex_unlock(&c->mu);
}

size_t ms_dane_certcache_max(const struct ms_dane_certcache *c, int part)
{
	return c->part[part].max; /* fixed at creation: no lock */
}

size_t ms_dane_certcache_count(struct ms_dane_certcache *c, int part)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->part[part].n;
	pthread_mutex_unlock(&c->mu);
	return n;
}
