/* pkix_verify.c - WebPKI validation of an SMTP server's chain (RFC 8461 s4.2). */
#include "pkix_verify.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <time.h>

int cli_pkix_verify(const struct cli *cli, const char *ca_file, const char *host,
		    const struct ms_dane_cert *chain, size_t n,
		    char *detail, size_t len)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	int ok = 0;
	snprintf(detail, len, "no certificate");
	if (store == NULL || untrusted == NULL || ctx == NULL || n == 0)
		goto out;
	if (ca_file ? X509_STORE_load_file(store, ca_file) != 1
		    : X509_STORE_set_default_paths(store) != 1) {
		snprintf(detail, len, "cannot load the CA store");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = chain[i].der;
		X509 *x = d2i_X509(NULL, &p, (long)chain[i].len);
		if (x == NULL)
			continue;
		if (i == 0)
			leaf = x;
		else if (sk_X509_push(untrusted, x) <= 0)
			X509_free(x);
	}
	if (leaf == NULL) {
		snprintf(detail, len, "unparsable leaf certificate");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		goto out;
	/* The purpose and trust of a TLS server (what `openssl verify -purpose
	 * sslserver` checks, and what SSL_connect sets on a client): without
	 * it OpenSSL checks no EKU at all, and a certificate issued only for
	 * TLS clients (EKU clientAuth) would pass for an MX (RFC 5280
	 * s4.2.1.12; RFC 8461 s4.2 wants the server's certificate). */
	if (X509_STORE_CTX_set_default(ctx, "ssl_server") != 1)
		goto out;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set1_host(param, host, 0);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_USE_CHECK_TIME);
	X509_VERIFY_PARAM_set_time(param, (time_t)cli_now(cli));
	if (X509_verify_cert(ctx) == 1) {
		ok = 1;
		snprintf(detail, len, "valid for %s", host);
	} else {
		snprintf(detail, len, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}
