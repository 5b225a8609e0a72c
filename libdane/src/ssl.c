/*
 * ssl.c - the adapter for callers holding an OpenSSL SSL* after the
 * handshake: the peer chain goes through the core as DER (for the record
 * matching and the name walk, i2d of a decoded certificate is a copy of
 * its cached encoding) together with the X509 objects libssl decoded, so
 * no certificate is decoded a second time.
 */
#include "dane_internal.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Encode leaf + others (skipping copies of the leaf) and verify. */
static ms_status verify_x509(const struct ms_dane_ctx *ctx, X509 *leaf, STACK_OF(X509) *sk,
			     const struct ms_dane_input *in, struct ms_dane_result *res,
			     char *why, size_t whylen)
{
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	unsigned char *der[MS_DANE_MAX_CHAIN] = { 0 };
	X509 *decoded[MS_DANE_MAX_CHAIN];
	size_t n = 0;
	ms_status st = MS_OK;
	int total = sk ? sk_X509_num(sk) : 0;
	for (int i = -1; i < total; i++) {
		X509 *x = i < 0 ? leaf : sk_X509_value(sk, i);
		if (i >= 0 && X509_cmp(x, leaf) == 0)
			continue;
		if (n == MS_DANE_MAX_CHAIN) {
			st = ms_why(why, whylen, MS_ERR_LIMIT, "peer chain longer than %d",
				    MS_DANE_MAX_CHAIN);
			goto out;
		}
		int len = i2d_X509(x, &der[n]);
		if (len <= 0) {
			st = ms_why(why, whylen, MS_ERR_NOMEM, "cannot encode certificate %zu", n);
			goto out;
		}
		chain[n].der = der[n];
		chain[n].len = (size_t)len;
		decoded[n] = x;
		n++;
	}
	struct ms_dane_input copy = *in;
	copy.chain = chain;
	copy.nchain = n;
	st = ms_dane_verify_decoded(ctx, &copy, decoded, res, why, whylen);
out:
	for (size_t i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	return st;
}

ms_status ms_dane_verify_store_ctx(const struct ms_dane_ctx *ctx,
				   struct x509_store_ctx_st *sctx,
				   const struct ms_dane_input *in,
				   struct ms_dane_result *res, char *why, size_t whylen)
{
	if (ctx == NULL || sctx == NULL || in == NULL || res == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	if (leaf == NULL)
		return ms_why(why, whylen, MS_ERR_STATE, "no certificate to verify");
	return verify_x509(ctx, leaf, X509_STORE_CTX_get0_untrusted(sctx), in, res, why, whylen);
}

ms_status ms_dane_verify_ssl(const struct ms_dane_ctx *ctx,
			     const struct ssl_st *ssl,
			     const struct ms_dane_input *in,
			     struct ms_dane_result *res, char *why, size_t whylen)
{
	if (ctx == NULL || ssl == NULL || in == NULL || res == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	/* On the client side the peer chain includes the leaf first. */
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
	int n = sk ? sk_X509_num(sk) : 0;
	if (n <= 0)
		return ms_why(why, whylen, MS_ERR_STATE, "the peer sent no certificate");
	if (n > MS_DANE_MAX_CHAIN)
		return ms_why(why, whylen, MS_ERR_LIMIT, "peer chain longer than %d",
			      MS_DANE_MAX_CHAIN);
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	unsigned char *der[MS_DANE_MAX_CHAIN] = { 0 };
	X509 *decoded[MS_DANE_MAX_CHAIN];
	ms_status st = MS_OK;
	for (int i = 0; i < n; i++) {
		decoded[i] = sk_X509_value(sk, i);
		int len = i2d_X509(decoded[i], &der[i]);
		if (len <= 0) {
			st = ms_why(why, whylen, MS_ERR_NOMEM, "cannot encode certificate %d", i);
			goto out;
		}
		chain[i].der = der[i];
		chain[i].len = (size_t)len;
	}
	struct ms_dane_input copy = *in;
	copy.chain = chain;
	copy.nchain = (size_t)n;
	st = ms_dane_verify_decoded(ctx, &copy, decoded, res, why, whylen);
out:
	for (int i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	return st;
}
