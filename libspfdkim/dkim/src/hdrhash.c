/*
 * hdrhash.c - the header hash (RFC 6376 s3.7): the fields selected by h=,
 * canonicalized, then the DKIM-Signature field itself with the value of
 * b= deleted and without its final CRLF; and the signature check over that
 * digest (RSASSA-PKCS1-v1_5, RFC 8301; Ed25519 over the SHA-256 digest,
 * RFC 8463 s3).
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "dkim_internal.h"

ms_status dkim_header_digest(const struct dkim_msg *m, const struct dkim_sigparams *sp,
			     const EVP_MD *md, const uint8_t *sigfield, size_t siglen,
			     size_t del_off, size_t del_len,
			     uint8_t *digest, unsigned *dlen, char *why, size_t whylen)
{
	size_t idx[DKIM_MAX_H];
	struct ms_buf out;
	ms_status st = MS_OK;
	ms_buf_init(&out, m->env, 2 * (size_t)MS_DKIM_MAX_HEADER + 65536);
	/* Canonical fields are never longer than the header block (plus a
	 * CRLF each) and the signature field: one allocation. */
	if (ms_buf_reserve(&out, m->hdr.len + 2 * sp->nh + siglen + 2) == MS_ERR_NOMEM)
		return ms_why(why, whylen, MS_ERR_NOMEM, "header hash: out of memory");
	dkim_select_fields(m, sp->h, sp->hlen, sp->nh, idx);
	for (size_t k = 0; k < sp->nh && st == MS_OK; k++) {
		if (idx[k] == SIZE_MAX)
			continue;
		const struct dkim_field *f = &m->fields[idx[k]];
		st = dkim_headercanon(sp->hcanon, m->hdr.data + f->off, f->len, 1, &out);
	}
	if (st == MS_OK) {
		/* The signature field with b='s value cut out. */
		uint8_t *tmp = ms_malloc(m->env, siglen + 1);
		if (tmp == NULL) {
			st = MS_ERR_NOMEM;
		} else {
			memcpy(tmp, sigfield, del_off);
			memcpy(tmp + del_off, sigfield + del_off + del_len,
			       siglen - del_off - del_len);
			st = dkim_headercanon(sp->hcanon, tmp, siglen - del_len, 0, &out);
			ms_free(m->env, tmp);
		}
	}
	if (st == MS_OK &&
	    EVP_Digest(out.data, out.len, digest, dlen, md, NULL) != 1)
		st = MS_ERR_INTERNAL;
	ms_buf_free(&out);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "header hash: %s", ms_status_str(st));
	return MS_OK;
}

int dkim_verify_digest(EVP_PKEY *key, enum ms_dkim_algorithm alg, const EVP_MD *md,
		       const uint8_t *digest, size_t dlen,
		       const uint8_t *sig, size_t siglen)
{
	int ok = 0;
	if (alg == MS_DKIM_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
			ok = EVP_DigestVerify(ctx, sig, siglen, digest, dlen) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
		if (ctx && EVP_PKEY_verify_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(ctx, md) == 1)
			ok = EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
	return ok;
}
