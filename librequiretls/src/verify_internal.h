/* verify_internal.h - shared by verify*.c and the delivery (not installed). */
#ifndef RTLS_VERIFY_INTERNAL_H
#define RTLS_VERIFY_INTERNAL_H

#include "rtls_internal.h"

#include <mailsec/requiretls_verify.h>

/* PKIX of `chain` (DER, decoded here) for `host` at `now`; fills
 * out->pkix, pkix_error, pkix_detail. */
void rtls_verify_pkix(const struct ms_dane_cert *chain, size_t n, const char *host,
		      const struct ms_rtls_verify_opts *o, int64_t now, struct ms_rtls_peer *out);
/* The same on the first `n` X509 objects of `sk` (leaf first, a
 * handshake's; up-referenced for the call, never decoded again). */
void rtls_verify_pkix_x509(STACK_OF(X509) *sk, size_t n, const char *host,
			   const struct ms_rtls_verify_opts *o, int64_t now,
			   struct ms_rtls_peer *out);
/* A new PKIX trust store: ca_file (PEM bundle) and/or ca_path (hashed
 * directory), else OpenSSL's default paths.  1 with *out set (the
 * caller's to free), 0 when it cannot be loaded. */
int rtls_pkix_store_load(X509_STORE **out, const char *ca_file, const char *ca_path);

#endif
