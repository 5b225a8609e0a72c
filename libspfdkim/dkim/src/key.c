/*
 * key.c - private keys for signing: PEM loading with clear refusals of
 * wrong or weak keys, generation, and the key record to publish
 * (RFC 6376 s3.6.1; RFC 8463 s4.2 for the raw Ed25519 form).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim_internal.h"

static ms_status wrap(const struct ms_env *env, EVP_PKEY *pk, struct ms_dkim_key **out,
		      char *why, size_t whylen)
{
	struct ms_env e;
	ms_env_init(&e, env);
	enum ms_dkim_algorithm alg;
	unsigned bits;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		alg = MS_DKIM_RSA_SHA256;
		bits = (unsigned)EVP_PKEY_get_bits(pk);
		if (bits < 2048) {
			EVP_PKEY_free(pk);
			return ms_why(why, whylen, MS_ERR_LIMIT,
				      "RSA key of %u bits is too weak for signing (minimum 2048)",
				      bits);
		}
		break;
	case EVP_PKEY_ED25519:
		alg = MS_DKIM_ED25519_SHA256;
		bits = 256;
		break;
	default:
		EVP_PKEY_free(pk);
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
			      "key type is neither RSA nor Ed25519");
	}
	struct ms_dkim_key *k = ms_calloc(&e, 1, sizeof(*k));
	if (k == NULL) {
		EVP_PKEY_free(pk);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	k->env = e;
	k->envp = &k->env;
	k->pkey = pk;
	k->alg = alg;
	k->bits = bits;
	*out = k;
	return MS_OK;
}

ms_status ms_dkim_key_load_pem(const struct ms_env *env, const uint8_t *pem, size_t len,
			       struct ms_dkim_key **out, char *why, size_t whylen)
{
	if (out == NULL || (pem == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "no key text");
	*out = NULL;
	if (len > 1 << 20)
		return ms_why(why, whylen, MS_ERR_LIMIT, "key file too large");
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (b == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	/* No passphrase callback: encrypted keys are refused, not prompted. */
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
	BIO_free(b);
	if (pk == NULL) {
		int public = len && memmem(pem, len, "PUBLIC KEY-----", 15) != NULL;
		ERR_clear_error();
		return ms_why(why, whylen, MS_ERR_PARSE, "%s",
			      public ? "this is a public key; signing needs the private key"
				     : "not a PEM private key (or encrypted)");
	}
	return wrap(env, pk, out, why, whylen);
}

ms_status ms_dkim_key_generate(const struct ms_env *env, enum ms_dkim_algorithm alg,
			       unsigned bits, struct ms_dkim_key **out, char *why,
			       size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no output");
	*out = NULL;
	EVP_PKEY *pk = NULL;
	if (alg == MS_DKIM_RSA_SHA256) {
		if (bits == 0)
			bits = 2048;
		if (bits < 2048 || bits > 8192)
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "RSA key size must be 2048..8192 bits");
		pk = EVP_RSA_gen(bits);
	} else if (alg == MS_DKIM_ED25519_SHA256) {
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "cannot generate %s keys",
			      ms_dkim_algorithm_str(alg));
	}
	if (pk == NULL) {
		ERR_clear_error();
		return ms_why(why, whylen, MS_ERR_INTERNAL, "key generation failed");
	}
	return wrap(env, pk, out, why, whylen);
}

void ms_dkim_key_free(struct ms_dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	ms_free(&k->env, k);
}

enum ms_dkim_algorithm ms_dkim_key_algorithm(const struct ms_dkim_key *k)
{
	return k ? k->alg : MS_DKIM_ALG_UNKNOWN;
}

unsigned ms_dkim_key_bits(const struct ms_dkim_key *k) { return k ? k->bits : 0; }

/*
 * Strings handed to the caller (the PEM, the key record) come from the
 * key's env allocator.  ms_dkim_string_free() takes no env, so each string
 * carries a header in front of its text that remembers the free hook and
 * its user pointer (and the length, to wipe a private key).
 */
union dkim_str {
	struct {
		void (*free)(void *user, void *p);
		void *user;
		size_t len;
	} h;
	max_align_t align;
};

static char *str_new(const struct ms_env *env, size_t len)
{
	union dkim_str *u = ms_malloc(env, sizeof(*u) + len + 1);
	if (u == NULL)
		return NULL;
	u->h.free = env->alloc ? env->free : NULL;
	u->h.user = env->user;
	u->h.len = len;
	return (char *)(u + 1);
}

void ms_dkim_string_free(char *s)
{
	if (s == NULL)
		return;
	union dkim_str *u = (union dkim_str *)(void *)s - 1;
	OPENSSL_cleanse(s, u->h.len);
	if (u->h.free)
		u->h.free(u->h.user, u);
	else
		free(u);
}

ms_status ms_dkim_key_private_pem(const struct ms_dkim_key *k, char **out)
{
	if (k == NULL || out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		ERR_clear_error();
		return MS_ERR_INTERNAL;
	}
	char *data;
	long n = BIO_get_mem_data(b, &data);
	*out = str_new(&k->env, (size_t)n);
	if (*out) {
		memcpy(*out, data, (size_t)n);
		(*out)[n] = '\0';
	}
	BIO_free(b);
	return *out ? MS_OK : MS_ERR_NOMEM;
}

ms_status ms_dkim_key_txt_record(const struct ms_dkim_key *k, char **out)
{
	if (k == NULL || out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	uint8_t der[2048];
	size_t dlen = 0;
	if (k->alg == MS_DKIM_ED25519_SHA256) {
		dlen = 32;
		if (EVP_PKEY_get_raw_public_key(k->pkey, der, &dlen) != 1)
			return MS_ERR_INTERNAL;
	} else {
		int n = i2d_PUBKEY(k->pkey, NULL);
		if (n <= 0 || (size_t)n > sizeof(der))
			return MS_ERR_INTERNAL;
		unsigned char *p = der;
		i2d_PUBKEY(k->pkey, &p);
		dlen = (size_t)n;
	}
	size_t cap = 4 * ((dlen + 2) / 3) + 64;
	char *s = str_new(&k->env, cap);
	if (s == NULL)
		return MS_ERR_NOMEM;
	int o = snprintf(s, cap, "v=DKIM1; k=%s; p=",
			 k->alg == MS_DKIM_ED25519_SHA256 ? "ed25519" : "rsa");
	dkim_b64_encode(der, dlen, s + o);
	*out = s;
	return MS_OK;
}
