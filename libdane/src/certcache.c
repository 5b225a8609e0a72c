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
	struct cc_entry *prev, *next; /* LRU list, most recent first */
	X509 *x;
	uint8_t key[32];
	/* The SHA-256 of the DER of an issuer certificate whose key verified
	 * this certificate's signature (sig_known: set). */
	uint8_t sig_issuer[32];
	int sig_known;
	size_t len;
	uint8_t der[];                /* the DER bytes, compared on a hit */
};

struct ms_dane_certcache {
	const struct ms_env *env;
	pthread_mutex_t mu;
	size_t max, n;
	size_t nbuckets;              /* a power of two */
	struct cc_entry **buckets;
	struct cc_entry *head, *tail;
};

static size_t bucket_of(const struct ms_dane_certcache *c, const uint8_t key[32])
{
	uint64_t h;
	memcpy(&h, key, sizeof(h)); /* a SHA-256 is uniform already */
	return (size_t)h & (c->nbuckets - 1);
}

ms_status ms_dane_certcache_new(const struct ms_env *env, size_t max,
				struct ms_dane_certcache **out)
{
	*out = NULL;
	struct ms_dane_certcache *c = ms_calloc(env, 1, sizeof(*c));
	if (c == NULL)
		return MS_ERR_NOMEM;
	c->env = env;
	c->max = max;
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

static void lru_unlink(struct ms_dane_certcache *c, struct cc_entry *e)
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

static void lru_push_front(struct ms_dane_certcache *c, struct cc_entry *e)
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
	struct cc_entry *e = c->head;
	while (e) {
		struct cc_entry *next = e->next;
		X509_free(e->x);
		ms_free(c->env, e);
		e = next;
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
			if (c->head != e) {
				lru_unlink(c, e);
				lru_push_front(c, e);
			}
		}
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return x;
}

int ms_dane_certcache_put(struct ms_dane_certcache *c, const uint8_t key[32],
			  const uint8_t *der, size_t len, X509 *x)
{
	if (c->max == 0)
		return -1;
	/* Allocated outside the lock; a failure only means no caching. */
	struct cc_entry *e = ms_malloc(c->env, sizeof(*e) + len);
	if (e == NULL)
		return -1;
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, 32);
	memcpy(e->der, der, len);
	e->len = len;
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
		lru_push_front(c, e);
		if (++c->n > c->max) {
			evicted = c->tail;
			lru_unlink(c, evicted);
			hash_unlink(c, evicted);
			c->n--;
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

size_t ms_dane_certcache_count(struct ms_dane_certcache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}
