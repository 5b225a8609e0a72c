/*
 * keyrec.c - DKIM key records (RFC 6376 s3.6.1, RFC 8463 s4) and the
 * decoding of the public key they carry.  Keys are decoded with the cheap
 * OpenSSL entry points (d2i_PUBKEY, d2i_RSAPublicKey, raw Ed25519), not the
 * generic OSSL_DECODER, whose set-up costs more than the signature check.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* d2i_RSAPublicKey: the cheap path */
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim_internal.h"

static int val_is(const struct dkim_tag *t, const char *s)
{
	size_t n = strlen(s);
	return t->vallen == n && ms_ascii_ncasecmp((const char *)t->val, s, n) == 0;
}

/* Iterate over a colon-separated list inside a tag value, FWS trimmed. */
static int list_next(const struct dkim_tag *t, size_t *pos, const uint8_t **item,
		     size_t *ilen)
{
	size_t i = *pos;
	if (i > t->vallen)
		return 0;
	size_t s = i;
	while (i < t->vallen && t->val[i] != ':')
		i++;
	size_t e = i;
	while (s < e && (t->val[s] <= ' '))
		s++;
	while (e > s && (t->val[e - 1] <= ' '))
		e--;
	*item = t->val + s;
	*ilen = e - s;
	*pos = i + 1;
	return 1;
}

static int item_is(const uint8_t *it, size_t n, const char *s)
{
	return strlen(s) == n && ms_ascii_ncasecmp((const char *)it, s, n) == 0;
}

ms_status dkim_keyrec_parse(const uint8_t *buf, size_t len, struct dkim_keyrec *kr,
			    char *why, size_t whylen)
{
	struct dkim_taglist tl;
	memset(kr, 0, sizeof(*kr));
	ms_status st = dkim_taglist_parse(buf, len, &tl, why, whylen);
	if (st != MS_OK)
		return st;
	const struct dkim_tag *v = dkim_tag_get(&tl, "v");
	if (v && (v != &tl.tag[0] || !val_is(v, "DKIM1")))
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "key record: v= must come first and be DKIM1");
	const struct dkim_tag *k = dkim_tag_get(&tl, "k");
	if (k && val_is(k, "ed25519"))
		kr->k_ed25519 = 1;
	else if (k && !val_is(k, "rsa"))
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "key record: unknown k=%.*s",
			      (int)(k->vallen > 32 ? 32 : k->vallen), (const char *)k->val);
	const struct dkim_tag *h = dkim_tag_get(&tl, "h");
	if (h) {
		size_t pos = 0, n;
		const uint8_t *it;
		while (list_next(h, &pos, &it, &n)) {
			if (item_is(it, n, "sha1"))
				kr->h_sha1 = 1;
			else if (item_is(it, n, "sha256"))
				kr->h_sha256 = 1;
			/* unknown hashes are ignored (s3.6.1) */
		}
	} else {
		kr->h_sha1 = kr->h_sha256 = 1;
	}
	const struct dkim_tag *s = dkim_tag_get(&tl, "s");
	if (s) {
		size_t pos = 0, n;
		const uint8_t *it;
		int ok = 0;
		while (list_next(s, &pos, &it, &n))
			if (item_is(it, n, "*") || item_is(it, n, "email"))
				ok = 1;
		if (!ok)
			return ms_why(why, whylen, MS_ERR_UNSUPPORTED,
				      "key record: service type s= excludes email");
	}
	const struct dkim_tag *t = dkim_tag_get(&tl, "t");
	if (t) {
		size_t pos = 0, n;
		const uint8_t *it;
		while (list_next(t, &pos, &it, &n)) {
			if (item_is(it, n, "y"))
				kr->testing = 1;
			else if (item_is(it, n, "s"))
				kr->strict = 1;
		}
	}
	const struct dkim_tag *p = dkim_tag_get(&tl, "p");
	if (p == NULL)
		return ms_why(why, whylen, MS_ERR_PARSE, "key record: p= missing");
	kr->p = p->val;
	kr->plen = p->vallen;
	kr->revoked = p->vallen == 0;
	return MS_OK;
}

/* One DER length (minimal definite form, at most 2 bytes: DKIM keys are a
 * few hundred bytes) at d[*o]; -1 when it is not one. */
static long der_len(const uint8_t *d, size_t n, size_t *o)
{
	if (*o >= n)
		return -1;
	uint8_t b = d[(*o)++];
	if (b < 0x80)
		return b;
	if (b == 0x81 && *o < n && d[*o] >= 0x80)
		return d[(*o)++];
	if (b == 0x82 && *o + 1 < n && d[*o] != 0) {
		long l = (long)d[*o] << 8 | d[*o + 1];
		*o += 2;
		return l >= 0x100 ? l : -1;
	}
	return -1;
}

/*
 * The RSAPublicKey inside an rsaEncryption SubjectPublicKeyInfo (RFC 5280
 * s4.1, RFC 3279 s2.3.1), as DKIM key records carry it, found by a bounded
 * DER walk: SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING {0
 * unused bits, RSAPublicKey} } filling the input exactly.  Decoding the SPKI
 * through d2i_PUBKEY goes through OpenSSL 3's decoder framework, which costs
 * about 1.4 M instructions per key (callgrind: two thirds of a whole
 * 8-signature inbound verdict); the RSAPublicKey alone is what that path
 * decodes in the end.  Anything else (other parameters, BER, trailing data)
 * returns NULL and takes the d2i_PUBKEY path as before, so this only ever
 * accepts what d2i_PUBKEY accepts.
 */
static const uint8_t *spki_rsa_inner(const uint8_t *d, size_t n, size_t *inner_len)
{
	static const uint8_t alg[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				       0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00 };
	size_t o = 0;
	if (n < 2 || d[o++] != 0x30)
		return NULL;
	long l = der_len(d, n, &o);
	if (l < 0 || o + (size_t)l != n)
		return NULL;
	if (n - o < sizeof(alg) || memcmp(d + o, alg, sizeof(alg)) != 0)
		return NULL;
	o += sizeof(alg);
	if (o >= n || d[o++] != 0x03)
		return NULL;
	l = der_len(d, n, &o);
	if (l < 2 || o + (size_t)l != n || d[o] != 0x00)
		return NULL;
	*inner_len = (size_t)l - 1;
	return d + o + 1;
}

/* d2i_RSAPublicKey over exactly `len` bytes into an EVP_PKEY, or NULL. */
static EVP_PKEY *rsa_pkcs1_key(const uint8_t *d, size_t len)
{
	const unsigned char *q = d;
	RSA *rsa = d2i_RSAPublicKey(NULL, &q, (long)len);
	EVP_PKEY *pk = NULL;
	if (rsa && q == d + len) {
		pk = EVP_PKEY_new();
		if (pk && EVP_PKEY_assign_RSA(pk, rsa) == 1)
			rsa = NULL;
		else {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	RSA_free(rsa);
	return pk;
}

EVP_PKEY *dkim_pubkey_decode(const struct dkim_keyrec *kr, char *why, size_t whylen)
{
	uint8_t der[2048];
	long n = dkim_b64_decode(kr->p, kr->plen, der, sizeof(der));
	if (n <= 0) {
		ms_why(why, whylen, MS_ERR_PARSE, "key record: bad base64 in p=");
		return NULL;
	}
	EVP_PKEY *pk = NULL;
	if (kr->k_ed25519) {
		if (n == 32)
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
		else {
			const unsigned char *q = der;
			pk = d2i_PUBKEY(NULL, &q, n);
			if (pk && (q != der + n || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519)) {
				EVP_PKEY_free(pk);
				pk = NULL;
			}
		}
		if (pk == NULL)
			ms_why(why, whylen, MS_ERR_PARSE,
			       "key record: p= is not an Ed25519 public key");
		return pk;
	}
	size_t ilen = 0;
	const uint8_t *inner = spki_rsa_inner(der, (size_t)n, &ilen);
	if (inner)
		pk = rsa_pkcs1_key(inner, ilen);
	if (pk == NULL) {
		const unsigned char *q = der;
		pk = d2i_PUBKEY(NULL, &q, n);
		if (pk && (q != der + n || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	if (pk == NULL) /* Bare PKCS#1 RSAPublicKey, as some signers publish. */
		pk = rsa_pkcs1_key(der, (size_t)n);
	if (pk == NULL)
		ms_why(why, whylen, MS_ERR_PARSE, "key record: p= is not an RSA public key");
	return pk;
}
