/*
 * verify_pkix.c - WebPKI validation of an SMTP server's chain for the
 * MTA-STS certificate rule (RFC 8461 s4.2): the chain leads to a CA of the
 * store, the leaf is fit for a TLS server and names the MX host (RFC 6125
 * s6.4.3 wildcards).  Moved from the CLI (issue 14) so that every MTA gets
 * the same rules.  Two entries: a DER chain (decoded here) and the X509
 * objects of a handshake (used as they are: decoding costs more than the
 * verification itself, issue 20).
 */
#include "verify_internal.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <time.h>

int rtls_pkix_store_load(X509_STORE **out, const char *ca_file, const char *ca_path)
{
	*out = NULL;
	X509_STORE *s = X509_STORE_new();
	if (s == NULL)
		return 0;
	int ok = 1;
	if (ca_file || ca_path) {
		if (ca_file && X509_STORE_load_file(s, ca_file) != 1)
			ok = 0;
		if (ca_path && X509_STORE_load_path(s, ca_path) != 1)
			ok = 0;
	} else if (X509_STORE_set_default_paths(s) != 1) {
		ok = 0;
	}
	ERR_clear_error();
	if (!ok) {
		X509_STORE_free(s);
		return 0;
	}
	*out = s;
	return 1;
}

static int load_store(X509_STORE **out, const struct ms_rtls_verify_opts *o)
{
	if (o && o->ca_store) {
		if (X509_STORE_up_ref(o->ca_store) != 1)
			return 0;
		*out = o->ca_store;
		return 1;
	}
	return rtls_pkix_store_load(out, o ? o->ca_file : NULL, o ? o->ca_path : NULL);
}

/* The verification proper, with the store loaded and the leaf at hand. */
static void pkix_verify(X509_STORE_CTX *ctx, X509_STORE *store, X509 *leaf,
			STACK_OF(X509) *untrusted, const char *host, int64_t now,
			struct ms_rtls_peer *out)
{
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		return;
	/* The purpose and trust of a TLS server (what `openssl verify -purpose
	 * sslserver` checks, and what SSL_connect sets on a client): without
	 * it OpenSSL checks no EKU at all, and a certificate issued only for
	 * TLS clients (EKU clientAuth) would pass for an MX (RFC 5280
	 * s4.2.1.12; RFC 8461 s4.2 wants the server's certificate). */
	if (X509_STORE_CTX_set_default(ctx, "ssl_server") != 1)
		return;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	/* RFC 6125 s6.4.3 as RFC 8461 s4.2 asks: "*" only as the whole
	 * left-most label; OpenSSL would otherwise accept "m*.example.com". */
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
		return;
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_USE_CHECK_TIME);
	X509_VERIFY_PARAM_set_time(param, (time_t)now);
	if (X509_verify_cert(ctx) == 1) {
		out->pkix = MS_RTLS_STEP_OK;
		out->pkix_error = 0;
		snprintf(out->pkix_detail, sizeof(out->pkix_detail), "valid for %.200s", host);
	} else {
		out->pkix_error = X509_STORE_CTX_get_error(ctx);
		snprintf(out->pkix_detail, sizeof(out->pkix_detail), "%s",
			 X509_verify_cert_error_string(out->pkix_error));
	}
}

/* The certificates of either source: `der` (decoded here) or `sk` (the
 * handshake's, up-referenced), the first n, leaf first. */
static void pkix_of(const struct ms_dane_cert *der, STACK_OF(X509) *sk, size_t n,
		    const char *host, const struct ms_rtls_verify_opts *o, int64_t now,
		    struct ms_rtls_peer *out)
{
	X509_STORE *store = NULL;
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	out->pkix = MS_RTLS_STEP_FAILED;
	snprintf(out->pkix_detail, sizeof(out->pkix_detail), "no certificate");
	if (untrusted == NULL || ctx == NULL) {
		snprintf(out->pkix_detail, sizeof(out->pkix_detail), "out of memory");
		goto out;
	}
	if (n == 0)
		goto out;
	if (!load_store(&store, o)) {
		snprintf(out->pkix_detail, sizeof(out->pkix_detail), "cannot load the CA store");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		X509 *x = NULL;
		if (der) {
			const unsigned char *p = der[i].der;
			x = d2i_X509(NULL, &p, (long)der[i].len);
		} else {
			x = sk_X509_value(sk, (int)i);
			if (x != NULL && X509_up_ref(x) != 1)
				x = NULL;
		}
		if (x == NULL)
			continue;
		if (i == 0)
			leaf = x;
		else if (sk_X509_push(untrusted, x) <= 0)
			X509_free(x);
	}
	if (leaf == NULL) {
		snprintf(out->pkix_detail, sizeof(out->pkix_detail), "unparsable leaf certificate");
		goto out;
	}
	pkix_verify(ctx, store, leaf, untrusted, host, now, out);
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(store);
	ERR_clear_error();
}

void rtls_verify_pkix(const struct ms_dane_cert *chain, size_t n, const char *host,
		      const struct ms_rtls_verify_opts *o, int64_t now, struct ms_rtls_peer *out)
{
	pkix_of(chain, NULL, chain ? n : 0, host, o, now, out);
}

void rtls_verify_pkix_x509(STACK_OF(X509) *sk, size_t n, const char *host,
			   const struct ms_rtls_verify_opts *o, int64_t now,
			   struct ms_rtls_peer *out)
{
	pkix_of(NULL, sk, sk ? n : 0, host, o, now, out);
}
