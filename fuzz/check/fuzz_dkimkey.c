/* fuzz_dkimkey.c - DKIM key records as the report reads them (RFC 6376 s3.6.1). */
#include <stdint.h>
#include <string.h>

#include "check_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check_dkim_key k;
	int ok = check_dkim_key_parse(data, size, &k);
	if (ok != 0 && ok != 1)
		__builtin_trap();
	if (memchr(k.problem, '\0', sizeof(k.problem)) == NULL || (ok == 0 && k.problem[0] == '\0'))
		__builtin_trap();
	/* a usable key has a size, except a revoked one; Ed25519 is 256 bits */
	if (ok == 1 && !k.revoked && k.bits == 0)
		__builtin_trap();
	if (ok == 1 && !k.revoked && k.alg == CHECK_DKIM_ED25519 && k.bits != 256)
		__builtin_trap();
	return 0;
}
