/*
 * fuzz_der.c - the bounded DER walker that finds a certificate's
 * SubjectPublicKeyInfo: whatever it returns must lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include <mailsec/dane.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, len = 0;
	if (ms_dane_cert_spki(data, size, &off, &len) == MS_OK) {
		if (off > size || len > size - off || len < 2 || data[off] != 0x30)
			abort();
	}
	return 0;
}
