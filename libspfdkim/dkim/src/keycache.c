/*
 * keycache.c - DKIM key lookup through libdnssec-stub and the parsed-key
 * cache.  Decoding an RSA key costs about as much as checking a signature
 * with it, so a busy verifier keeps keys for the record's TTL.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "keycache.h"

void dkim_keycache_init(struct dkim_keycache *c, const struct ms_env *env, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->env = env;
	c->cap = cap;
	pthread_mutex_init(&c->lock, NULL);
}

void dkim_keycache_flush(struct dkim_keycache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		EVP_PKEY_free(c->e[i].ki.pkey);
	c->n = 0;
	pthread_mutex_unlock(&c->lock);
}

void dkim_keycache_free(struct dkim_keycache *c)
{
	dkim_keycache_flush(c);
	ms_free(c->env, c->e);
	pthread_mutex_destroy(&c->lock);
}

static int cache_get(struct dkim_keycache *c, const char *name, int64_t now,
		     struct dkim_keyinfo *ki)
{
	int hit = 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->e[i].name, name) != 0)
			continue;
		if (c->e[i].expires > now) {
			*ki = c->e[i].ki;
			EVP_PKEY_up_ref(ki->pkey);
			c->e[i].used = ++c->tick;
			hit = 1;
		} else {
			EVP_PKEY_free(c->e[i].ki.pkey);
			c->e[i] = c->e[--c->n];
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void cache_put(struct dkim_keycache *c, const char *name, int64_t expires,
		      const struct dkim_keyinfo *ki)
{
	if (c->cap == 0)
		return;
	pthread_mutex_lock(&c->lock);
	struct dkim_keyentry *slot = NULL;
	for (size_t i = 0; i < c->n && !slot; i++)
		if (strcmp(c->e[i].name, name) == 0) {
			EVP_PKEY_free(c->e[i].ki.pkey);
			slot = &c->e[i];
		}
	if (!slot && c->e == NULL) {
		c->e = ms_calloc(c->env, c->cap, sizeof(*c->e));
	}
	if (!slot && c->e) {
		if (c->n < c->cap) {
			slot = &c->e[c->n++];
		} else { /* evict the least recently used */
			size_t lru = 0;
			for (size_t i = 1; i < c->n; i++)
				if (c->e[i].used < c->e[lru].used)
					lru = i;
			EVP_PKEY_free(c->e[lru].ki.pkey);
			slot = &c->e[lru];
		}
	}
	if (slot) {
		snprintf(slot->name, sizeof(slot->name), "%s", name);
		slot->ki = *ki;
		EVP_PKEY_up_ref(ki->pkey);
		slot->expires = expires;
		slot->used = ++c->tick;
	}
	pthread_mutex_unlock(&c->lock);
}

enum dkim_keyfetch dkim_key_fetch(struct ms_dkim_verifier *v, const char *selector,
				  const char *domain, int64_t now,
				  struct dkim_keyinfo *ki, char *why, size_t whylen)
{
	memset(ki, 0, sizeof(*ki));
	ki->security = MS_DNS_INDETERMINATE;
	char name[512];
	int n = snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		ms_why(why, whylen, MS_ERR_PARSE, "key name too long");
		return DKIM_KEY_PERM;
	}
	for (char *p = name; *p; p++)
		*p = (char)ms_ascii_lower((unsigned char)*p);
	if (cache_get(&v->cache, name, now, ki))
		return DKIM_KEY_OK;
	if (v->dns == NULL) {
		ms_why(why, whylen, MS_ERR_CONFIG, "no resolver for key lookups");
		return DKIM_KEY_TEMP;
	}

	struct ms_dns_result *r = NULL;
	char dwhy[128] = "";
	ms_status st = ms_dns_lookup(v->dns, name, MS_DNS_T_TXT, &r, dwhy, sizeof(dwhy));
	if (st != MS_OK) {
		ms_why(why, whylen, st, "key lookup for %s failed: %s", name,
		       dwhy[0] ? dwhy : ms_status_str(st));
		return ms_status_is_temporary(st) || st == MS_ERR_INTERNAL ? DKIM_KEY_TEMP
									: DKIM_KEY_PERM;
	}
	ki->security = ms_dns_result_security(r);
	enum dkim_keyfetch res = DKIM_KEY_PERM;
	switch (ms_dns_result_outcome(r)) {
	case MS_DNS_ANSWER:
		break;
	case MS_DNS_NXDOMAIN:
	case MS_DNS_NODATA:
		ms_why(why, whylen, MS_ERR_PARSE, "no key record at %s", name);
		goto out;
	default:
		if (ki->security == MS_DNS_BOGUS)
			ms_why(why, whylen, MS_ERR_NETWORK,
			       "key record at %s is DNSSEC-bogus", name);
		else
			ms_why(why, whylen, MS_ERR_NETWORK,
			       "key lookup for %s failed temporarily", name);
		res = DKIM_KEY_TEMP;
		goto out;
	}

	/* The first TXT record that is a valid key record wins (RFC 6376
	 * s3.6.2.2 leaves the choice to the verifier); the strings of one
	 * record are joined without separators (s3.6.2.2). */
	char kwhy[160] = "no TXT record";
	size_t nrec = ms_dns_result_count(r);
	for (size_t i = 0; i < nrec; i++) {
		char buf[8192];
		size_t len = 0;
		if (ms_dns_result_txt(r, i, buf, sizeof(buf), &len) != MS_OK) {
			snprintf(kwhy, sizeof(kwhy), "key record too long or malformed");
			continue;
		}
		struct dkim_keyrec kr;
		if (dkim_keyrec_parse((const uint8_t *)buf, len, &kr, kwhy, sizeof(kwhy)) != MS_OK)
			continue;
		ki->ed25519 = kr.k_ed25519;
		ki->h_sha1 = kr.h_sha1;
		ki->h_sha256 = kr.h_sha256;
		ki->testing = kr.testing;
		ki->strict = kr.strict;
		ki->revoked = kr.revoked;
		if (kr.revoked) {
			res = DKIM_KEY_OK;
			goto out;
		}
		ki->pkey = dkim_pubkey_decode(&kr, kwhy, sizeof(kwhy));
		ERR_clear_error();
		if (ki->pkey == NULL)
			continue;
		ki->bits = ki->ed25519 ? 256 : (unsigned)EVP_PKEY_get_bits(ki->pkey);
		cache_put(&v->cache, name, now + (int64_t)ms_dns_result_ttl(r), ki);
		res = DKIM_KEY_OK;
		goto out;
	}
	ms_why(why, whylen, MS_ERR_PARSE, "%s (at %s)", kwhy, name);
out:
	ms_dns_result_free(r);
	return res;
}
