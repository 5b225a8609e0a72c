/*
 * dtest.h - helpers shared by the libdane suites: DER/PEM plumbing and
 * OpenSSL's native DANE code (SSL_dane_enable, SSL_dane_tlsa_add,
 * X509_STORE_CTX_set0_dane) as the differential oracle.
 */
#ifndef DANE_TEST_H
#define DANE_TEST_H

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <mailsec/dane.h>

#include "mstest.h"

/* A chain as DER buffers, owning its memory. */
struct dchain {
	struct ms_dane_cert c[MS_DANE_MAX_CHAIN];
	unsigned char *der[MS_DANE_MAX_CHAIN];
	size_t n;
};

static inline void dchain_add(struct dchain *ch, X509 *x)
{
	ck_assert_uint_lt(ch->n, MS_DANE_MAX_CHAIN);
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	ck_assert_int_gt(len, 0);
	ch->der[ch->n] = der;
	ch->c[ch->n].der = der;
	ch->c[ch->n].len = (size_t)len;
	ch->n++;
}

static inline void dchain_free(struct dchain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		OPENSSL_free(ch->der[i]);
	ch->n = 0;
}

/* What OpenSSL's own DANE code concluded. */
struct oracle {
	int ok;      /* X509_verify_cert() == 1 */
	int err;     /* X509_V_ERR_* */
	int depth;   /* SSL_get0_dane_authority(), -1 */
};

/*
 * Run OpenSSL's native DANE verification on the same inputs: no PKIX trust
 * store, DANE-EE name checks off (RFC 7672 s3.1.1), only the records that
 * are usable under SMTP rules (the caller filters), the reference names as
 * SSL_dane_enable base domain + SSL_add1_host, the same digest ranks.
 */
static inline struct oracle oracle_verify(X509 *const *certs, size_t ncerts,
					  const struct ms_dane_tlsa *t, size_t nt,
					  const char *const *names, size_t nnames,
					  int64_t now, unsigned rank256, unsigned rank512)
{
	struct oracle o = { 0, 0, -1 };
	SSL_CTX *sctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(sctx);
	ck_assert_int_gt(SSL_CTX_dane_enable(sctx), 0);
	ck_assert_int_gt(SSL_CTX_dane_mtype_set(sctx, EVP_sha256(), 1, (uint8_t)rank256), 0);
	ck_assert_int_gt(SSL_CTX_dane_mtype_set(sctx, EVP_sha512(), 2, (uint8_t)rank512), 0);
	SSL *ssl = SSL_new(sctx);
	ck_assert_ptr_nonnull(ssl);
	const char *base = nnames ? names[0] : "no-name.invalid";
	ck_assert_int_gt(SSL_dane_enable(ssl, base), 0);
	for (size_t i = 1; i < nnames; i++)
		ck_assert_int_eq(SSL_add1_host(ssl, names[i]), 1);
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	if (nnames == 0)
		SSL_set_hostflags(ssl, 0);
	for (size_t i = 0; i < nt; i++)
		(void)SSL_dane_tlsa_add(ssl, t[i].usage, t[i].selector, t[i].mtype,
					t[i].data, t[i].datalen);
	ERR_clear_error();
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	for (size_t i = 0; i < ncerts; i++)
		sk_X509_push(untrusted, certs[i]);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, certs[0], untrusted), 1);
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(ssl));
	if (nnames == 0)
		X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), NULL, 0);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)now);
	X509_STORE_CTX_set0_dane(ctx, SSL_get0_dane(ssl));
	o.ok = X509_verify_cert(ctx) == 1;
	o.err = X509_STORE_CTX_get_error(ctx);
	SSL_set_verify_result(ssl, o.err);
	if (o.ok)
		o.depth = SSL_get0_dane_authority(ssl, NULL, NULL);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	SSL_free(ssl);
	SSL_CTX_free(sctx);
	ERR_clear_error();
	return o;
}

/* Keep only the records usable under SMTP rules (for the oracle). */
static inline size_t smtp_usable(const struct ms_dane_tlsa *t, size_t n,
				 struct ms_dane_tlsa *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (ms_dane_tlsa_usable(&t[i]))
			out[k++] = t[i];
	return k;
}

#endif
