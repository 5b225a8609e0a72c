/* fuzz_dkim_keyrec.c - DKIM key records (RFC 6376 s3.6.1) and the public
 * key decoding (SPKI, PKCS#1, raw Ed25519) on untrusted bytes. */
#include "dkim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_keyrec kr;
	char why[128];
	if (dkim_keyrec_parse(data, size, &kr, why, sizeof(why)) == MS_OK && !kr.revoked) {
		EVP_PKEY *pk = dkim_pubkey_decode(&kr, why, sizeof(why));
		EVP_PKEY_free(pk);
	}
	return 0;
}
