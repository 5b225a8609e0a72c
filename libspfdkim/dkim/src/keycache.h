/*
 * keycache.h - key lookup (RFC 6376 s3.6.2) with a cache of parsed public
 * keys per (selector, domain), kept for the key record's TTL, and the
 * verifier handle that owns it.
 */
#ifndef DKIM_KEYCACHE_H
#define DKIM_KEYCACHE_H

#include <pthread.h>

#include "dkim_internal.h"

/* What a key record said, with the decoded key (a reference the caller
 * owns: EVP_PKEY_free it). */
struct dkim_keyinfo {
	EVP_PKEY *pkey;
	enum ms_dns_security security;
	unsigned bits;
	int ed25519, h_sha1, h_sha256, testing, strict, revoked;
};

struct dkim_keyentry {
	char name[512];              /* selector._domainkey.domain, lower-case */
	struct dkim_keyinfo ki;
	int64_t expires;
	uint64_t used;               /* LRU stamp */
};

struct dkim_keycache {
	const struct ms_env *env;
	pthread_mutex_t lock;
	struct dkim_keyentry *e;
	size_t n, cap;
	uint64_t tick;
};

struct ms_dkim_verifier {
	struct ms_env env;
	struct ms_dns_ctx *dns;
	unsigned flags;
	unsigned min_bits;
	unsigned skew;
	struct dkim_keycache cache;
	/* Digests fetched once: OpenSSL 3 would otherwise fetch (and lock) on
	 * every init with EVP_sha256(). */
	EVP_MD *sha256, *sha1;
};

void dkim_keycache_init(struct dkim_keycache *c, const struct ms_env *env, size_t cap);
void dkim_keycache_free(struct dkim_keycache *c);
void dkim_keycache_flush(struct dkim_keycache *c);

enum dkim_keyfetch { DKIM_KEY_OK, DKIM_KEY_TEMP, DKIM_KEY_PERM };

/* Fetch (from the cache or DNS) and decode the key for selector/domain.
 * On DKIM_KEY_OK, `ki` holds a key reference (unless ki->revoked); on
 * failure `why` says what went wrong and ki->security is set. */
enum dkim_keyfetch dkim_key_fetch(struct ms_dkim_verifier *v, const char *selector,
				  const char *domain, int64_t now,
				  struct dkim_keyinfo *ki, char *why, size_t whylen);

#endif
