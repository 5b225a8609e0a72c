/*
 * pki.h - generate test PKIs in memory with OpenSSL: keys of each
 * algorithm, a chain root -> CA... -> leaf of any depth, validity relative
 * to a fixed "now", SAN names.
 */
#ifndef DANE_TEST_PKI_H
#define DANE_TEST_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dtest.h"

enum alg { ALG_RSA2048, ALG_RSA4096, ALG_P256, ALG_P384, ALG_ED25519, ALG_COUNT };

static const char *const alg_names[ALG_COUNT] = {
	"rsa2048", "rsa4096", "p256", "p384", "ed25519"
};

static inline EVP_PKEY *pki_key(enum alg a)
{
	EVP_PKEY *k = NULL;
	switch (a) {
	case ALG_RSA2048: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
	case ALG_RSA4096: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096); break;
	case ALG_P256: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
	case ALG_P384: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
	case ALG_ED25519: k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
	default: break;
	}
	ck_assert_ptr_nonnull(k);
	return k;
}

static inline void pki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for `key`, CN `cn`, signed by `ikey` as `issuer` (NULL:
 * self-signed).  Valid from now+nb to now+na seconds.  `san`: e.g.
 * "DNS:mx.example.test" or NULL.
 */
static inline X509 *pki_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
			     EVP_PKEY *ikey, int ca, const char *san,
			     int64_t now, long nb, long na, long serial)
{
	X509 *x = X509_new();
	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
				   -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, (time_t *)&now);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, na, (time_t *)&now);
	X509_set_pubkey(x, key);
	X509 *iss = issuer ? issuer : x;
	pki_ext(x, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	pki_ext(x, iss, NID_subject_key_identifier, "hash");
	pki_ext(x, iss, NID_authority_key_identifier, "keyid:always");
	if (ca) {
		pki_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		pki_ext(x, iss, NID_ext_key_usage, "serverAuth");
	}
	if (san)
		pki_ext(x, iss, NID_subject_alt_name, san);
	EVP_PKEY *sk = issuer ? ikey : key;
	const EVP_MD *md = EVP_PKEY_get_id(sk) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	ck_assert_int_gt(X509_sign(x, sk, md), 0);
	return x;
}

#define PKI_DEPTH 5 /* leaf, three intermediates, root */

struct pki {
	EVP_PKEY *key[PKI_DEPTH];
	X509 *cert[PKI_DEPTH]; /* [0] leaf ... [PKI_DEPTH-1] self-signed root */
};

/* A chain of one algorithm; keys reused from `keys` (PKI_DEPTH of them). */
static inline void pki_chain(struct pki *p, EVP_PKEY *const *keys, int64_t now,
			     const char *leaf_san, long leaf_nb, long leaf_na)
{
	char cn[32];
	for (int d = PKI_DEPTH - 1; d >= 0; d--) {
		p->key[d] = keys[d];
		EVP_PKEY_up_ref(keys[d]);
		if (d == PKI_DEPTH - 1)
			snprintf(cn, sizeof(cn), "Test Root");
		else if (d > 0)
			snprintf(cn, sizeof(cn), "Test CA %d", d);
		else
			snprintf(cn, sizeof(cn), "leaf");
		X509 *issuer = d == PKI_DEPTH - 1 ? NULL : p->cert[d + 1];
		EVP_PKEY *ikey = d == PKI_DEPTH - 1 ? NULL : p->key[d + 1];
		p->cert[d] = pki_cert(p->key[d], cn, issuer, ikey, d > 0,
				      d == 0 ? leaf_san : NULL, now,
				      d == 0 ? leaf_nb : -86400L,
				      d == 0 ? leaf_na : 86400L * 365, 100 + d);
	}
}

static inline void pki_free(struct pki *p)
{
	for (int d = 0; d < PKI_DEPTH; d++) {
		X509_free(p->cert[d]);
		EVP_PKEY_free(p->key[d]);
	}
}

/* TLSA data for a cert: selector 0/1, mtype 0/1/2, into buf. */
static inline size_t pki_tlsa_data(X509 *x, int selector, int mtype, uint8_t *buf,
				   size_t buflen)
{
	unsigned char *der = NULL;
	int len = selector == 0 ? i2d_X509(x, &der) :
				  i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	ck_assert_int_gt(len, 0);
	size_t n;
	if (mtype == 0) {
		ck_assert_uint_le((size_t)len, buflen);
		memcpy(buf, der, (size_t)len);
		n = (size_t)len;
	} else {
		unsigned int dl = 0;
		ck_assert_int_eq(EVP_Digest(der, (size_t)len, buf, &dl,
					    mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL), 1);
		n = dl;
	}
	OPENSSL_free(der);
	return n;
}

#endif
