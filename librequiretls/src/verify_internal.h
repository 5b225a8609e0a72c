/* verify_internal.h - shared by verify*.c (not installed). */
#ifndef RTLS_VERIFY_INTERNAL_H
#define RTLS_VERIFY_INTERNAL_H

#include "rtls_internal.h"

#include <mailsec/requiretls_verify.h>

/* PKIX of `chain` for `host` at `now`; fills out->pkix, pkix_error, pkix_detail. */
void rtls_verify_pkix(const struct ms_dane_cert *chain, size_t n, const char *host,
		      const struct ms_rtls_verify_opts *o, int64_t now, struct ms_rtls_peer *out);

#endif
