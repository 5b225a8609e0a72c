/*
 * dane_internal.h - what the libdane sources share; never installed.
 */
#ifndef MS_DANE_INTERNAL_H
#define MS_DANE_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mailsec/dane.h"
#include "ms_common.h"

struct ms_dane_ctx {
	struct ms_env env;
	/* RFC 7671 s9 rank per matching type (index 1, 2); 0 disables. */
	unsigned mtype_rank[3];
	/* Digests fetched once: implicit fetches cost a lock per call. */
	EVP_MD *sha256;
	EVP_MD *sha512;
	/* Decoded certificates by SHA-256 of their DER; NULL: off (both
	 * bounds 0).  The bounds as last set, so either setter keeps the
	 * other's. */
	struct ms_dane_certcache *cache;
	size_t cache_max_ca, cache_max_leaf;
};

/* ---- the decoded-certificate cache (certcache.c) ---- */
struct ms_dane_certcache;
/* The two partitions, each an LRU with its own bound: a leaf is only ever
 * evicted by another leaf, a CA certificate by another CA certificate. */
enum { MS_DANE_CC_CA = 0, MS_DANE_CC_LEAF = 1 };
/* A cache of at most `max_ca` CA and `max_leaf` leaf certificates, our
 * memory from `env` (borrowed: the context's copy, which outlives the
 * cache). */
ms_status ms_dane_certcache_new(const struct ms_env *env, size_t max_ca, size_t max_leaf,
				struct ms_dane_certcache **out);
void ms_dane_certcache_free(struct ms_dane_certcache *c);
/* The X509 whose DER is exactly der/len (key: its SHA-256), with a
 * reference for the caller, from either partition; NULL when not cached. */
X509 *ms_dane_certcache_get(struct ms_dane_certcache *c, const uint8_t key[32],
			    const uint8_t *der, size_t len);
/* Remember `x` (decoded from exactly der/len; a reference is taken) in
 * partition `part`, evicting that partition's least recently used entry
 * past its limit.  A partition of bound 0 or out of memory only means the
 * certificate is not cached (-1; 0: cached, or already held). */
int ms_dane_certcache_put(struct ms_dane_certcache *c, int part, const uint8_t key[32],
			  const uint8_t *der, size_t len, X509 *x);
size_t ms_dane_certcache_count(struct ms_dane_certcache *c, int part);
size_t ms_dane_certcache_max(const struct ms_dane_certcache *c, int part);
/*
 * The signature memo.  A certificate's signature is a fixed function of
 * its exact DER and its issuer's key, and the issuer's exact DER fixes its
 * key: so once X509_verify() succeeded for the cached certificate `subject`
 * (SHA-256 of its DER; its DER bytes were compared when it was served)
 * with the key of the certificate whose DER hashes to `issuer`, the same
 * pair verifies again.  `x` must be the very X509 the entry holds (the one
 * decoded from the byte-compared DER).  Only successes are noted; one
 * issuer per entry.
 */
int ms_dane_certcache_sig_known(struct ms_dane_certcache *c, const X509 *x,
				const uint8_t subject[32], const uint8_t issuer[32]);
void ms_dane_certcache_sig_note(struct ms_dane_certcache *c, const X509 *x,
				const uint8_t subject[32], const uint8_t issuer[32]);

/* The digest for matching type 1 or 2, NULL for others. */
const EVP_MD *ms_dane_md(const struct ms_dane_ctx *ctx, uint8_t mtype);

/* Whether record `t` matches the DER bytes `data` (a cert or an SPKI). */
int ms_dane_match_data(const struct ms_dane_ctx *ctx,
		       const struct ms_dane_tlsa *t,
		       const uint8_t *data, size_t len);

/*
 * Apply RFC 7671 s9 digest agility to the usable records: sets keep[i]=1
 * for each record still in play (usable, and for digests the best-ranked
 * matching type present for its usage and selector).  Returns the number
 * of usable records.
 */
size_t ms_dane_select(const struct ms_dane_ctx *ctx,
		      const struct ms_dane_tlsa *t, size_t n,
		      unsigned char *keep);

/* The issuer ([0]) and subject ([1]) Name TLVs of a DER certificate as
 * (offset, length), by the bounded DER walker; -1 if it does not parse. */
int ms_dane_cert_names(const uint8_t *der, size_t len, size_t names[2][2]);

/*
 * ms_dane_verify with the chain already decoded: decoded[i] (may be NULL)
 * is in->chain[i] as an X509 the caller holds, whose DER in->chain[i] was
 * encoded from it (ssl.c; the pair must be the same certificate, so this
 * stays internal).  Used instead of decoding the DER again, which is most
 * of a cold DANE-TA verification in OpenSSL 3.  Borrowed, up-referenced
 * where kept.
 */
ms_status ms_dane_verify_decoded(const struct ms_dane_ctx *ctx,
				 const struct ms_dane_input *in, X509 *const *decoded,
				 struct ms_dane_result *out, char *why, size_t whylen);

/* Fill a result with a verdict and a reason. */
void ms_dane_set(struct ms_dane_result *res, enum ms_dane_verdict v,
		 enum ms_tlsrpt_result rpt, const char *fmt, ...) MS_PRINTF(4, 5);

#endif
