/*
 * dane_internal.h - what the libdane sources share; never installed.
 */
#ifndef MS_DANE_INTERNAL_H
#define MS_DANE_INTERNAL_H

#include <openssl/evp.h>

#include "mailsec/dane.h"
#include "ms_common.h"

struct ms_dane_ctx {
	struct ms_env env;
	/* RFC 7671 s9 rank per matching type (index 1, 2); 0 disables. */
	unsigned mtype_rank[3];
	/* Digests fetched once: implicit fetches cost a lock per call. */
	EVP_MD *sha256;
	EVP_MD *sha512;
};

/* The digest for matching type 1 or 2, NULL for others. */
const EVP_MD *ms_dane_md(const struct ms_dane_ctx *ctx, uint8_t mtype);

/* Whether record `t` matches the DER bytes `data` (a cert or an SPKI). */
int ms_dane_match_data(const struct ms_dane_ctx *ctx,
		       const struct ms_dane_tlsa *t,
		       const uint8_t *data, size_t len);

/*
 * Apply RFC 7671 s9 digest agility to the usable records: sets keep[i]=1
 * for each record still in play (usable, and for digests the best-ranked
 * matching type present for its usage and selector).  Returns the number
 * of usable records.
 */
size_t ms_dane_select(const struct ms_dane_ctx *ctx,
		      const struct ms_dane_tlsa *t, size_t n,
		      unsigned char *keep);

/* The issuer ([0]) and subject ([1]) Name TLVs of a DER certificate as
 * (offset, length), by the bounded DER walker; -1 if it does not parse. */
int ms_dane_cert_names(const uint8_t *der, size_t len, size_t names[2][2]);

/* Fill a result with a verdict and a reason. */
void ms_dane_set(struct ms_dane_result *res, enum ms_dane_verdict v,
		 enum ms_tlsrpt_result rpt, const char *fmt, ...) MS_PRINTF(4, 5);

#endif
