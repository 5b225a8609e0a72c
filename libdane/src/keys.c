/*
 * keys.c - the receiving side: TLSA records for a certificate or a key,
 * stable key generation and CSRs from the stable key, so that a published
 * "3 1 1" survives certificate renewal (RFC 7671 s8.1, RFC 7672 s3.1.1:
 * any ACME client that accepts a CSR renews without changing the key).
 */
#include "dane_internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* Copy a memory BIO's content into a string from the env allocator (the
 * caller frees it with ms_dane_string_free and the same env). */
static ms_status bio_string(const struct ms_env *env, BIO *b, char **out)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	if (n < 0)
		return MS_ERR_INTERNAL;
	char *s = ms_malloc(env, (size_t)n + 1);
	if (s == NULL)
		return MS_ERR_NOMEM;
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	*out = s;
	return MS_OK;
}

ms_status ms_dane_tlsa_from_pem(const uint8_t *pem, size_t len, uint8_t usage,
				uint8_t selector, uint8_t mtype, char *buf,
				size_t buflen, char *why, size_t whylen)
{
	if (pem == NULL || buf == NULL || len > (1u << 20) || selector > 1 || mtype > 2)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "bad arguments (selector 0-1, matching type 0-2)");
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL) {
		b = BIO_new_mem_buf(pem, (int)len);
		if (b)
			k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (x == NULL && k == NULL) {
		b = BIO_new_mem_buf(pem, (int)len);
		if (b)
			k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	ERR_clear_error();
	if (x == NULL && k == NULL)
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "no certificate, public key or private key in the PEM input");
	if (x == NULL && selector == MS_DANE_SEL_CERT) {
		EVP_PKEY_free(k);
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "selector 0 needs a certificate, not a key");
	}
	unsigned char *der = NULL;
	int n;
	if (selector == MS_DANE_SEL_CERT)
		n = i2d_X509(x, &der);
	else if (x)
		n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	else
		n = i2d_PUBKEY(k, &der); /* the public half of a private key too */
	X509_free(x);
	EVP_PKEY_free(k);
	if (n <= 0)
		return ms_why(why, whylen, MS_ERR_INTERNAL, "cannot encode DER");
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	struct ms_dane_tlsa t = { usage, selector, mtype, der, (size_t)n };
	if (mtype != MS_DANE_MT_FULL) {
		if (!EVP_Digest(der, (size_t)n, d, &dl,
				mtype == MS_DANE_MT_SHA256 ? EVP_sha256() : EVP_sha512(), NULL)) {
			OPENSSL_free(der);
			return ms_why(why, whylen, MS_ERR_INTERNAL, "digest failed");
		}
		t.data = d;
		t.datalen = dl;
	}
	ms_status st = ms_dane_tlsa_to_text(&t, buf, buflen);
	OPENSSL_free(der);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "output buffer too small");
	return MS_OK;
}

void ms_dane_string_free(const struct ms_env *env, char *s)
{
	if (s == NULL)
		return;
	/* a keygen result is a private key: wipe it before the memory goes */
	OPENSSL_cleanse(s, strlen(s));
	ms_free(env, s);
}

ms_status ms_dane_keygen(const char *alg, char **pem, char *why, size_t whylen)
{
	return ms_dane_keygen_env(NULL, alg, pem, why, whylen);
}

ms_status ms_dane_keygen_env(const struct ms_env *env, const char *alg, char **pem,
			     char *why, size_t whylen)
{
	if (alg == NULL || pem == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*pem = NULL;
	EVP_PKEY *k = NULL;
	if (strcmp(alg, "rsa2048") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(alg, "rsa4096") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	else if (strcmp(alg, "p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(alg, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
			      "unknown key type '%s' (rsa2048, rsa4096, p256, p384, ed25519)", alg);
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_INTERNAL, "key generation failed");
	BIO *b = BIO_new(BIO_s_mem());
	ms_status st = MS_ERR_INTERNAL;
	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		st = bio_string(env, b, pem);
	BIO_free(b);
	EVP_PKEY_free(k);
	return st == MS_OK ? st : ms_why(why, whylen, st, "cannot write the key");
}

ms_status ms_dane_csr(const uint8_t *key_pem, size_t len,
		      const char *const *names, size_t nnames, char **pem,
		      char *why, size_t whylen)
{
	return ms_dane_csr_env(NULL, key_pem, len, names, nnames, pem, why, whylen);
}

ms_status ms_dane_csr_env(const struct ms_env *env, const uint8_t *key_pem, size_t len,
			  const char *const *names, size_t nnames, char **pem,
			  char *why, size_t whylen)
{
	if (key_pem == NULL || pem == NULL || names == NULL || nnames == 0 ||
	    nnames > MS_DANE_MAX_NAMES || len > (1u << 20))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*pem = NULL;
	BIO *b = BIO_new_mem_buf(key_pem, (int)len);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_PARSE, "no private key in the PEM input");
	ms_status st = MS_ERR_INTERNAL;
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	BIO *out = BIO_new(BIO_s_mem());
	if (req == NULL || exts == NULL || gens == NULL || out == NULL)
		goto done;
	X509_REQ_set_version(req, 0);
	if (!X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
					(const unsigned char *)names[0], -1, -1, 0))
		goto done;
	for (size_t i = 0; i < nnames; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (g == NULL || s == NULL || !ASN1_STRING_set(s, names[i], -1)) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			goto done;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto done;
		}
	}
	X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
	if (ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		goto done;
	}
	if (!X509_REQ_add_extensions(req, exts) || !X509_REQ_set_pubkey(req, k))
		goto done;
	const EVP_MD *md = (EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 ||
			    EVP_PKEY_get_id(k) == EVP_PKEY_ED448) ? NULL : EVP_sha256();
	if (X509_REQ_sign(req, k, md) <= 0 || !PEM_write_bio_X509_REQ(out, req))
		goto done;
	st = bio_string(env, out, pem);
done:
	BIO_free(out);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return st == MS_OK ? st : ms_why(why, whylen, st, "cannot build the CSR");
}
