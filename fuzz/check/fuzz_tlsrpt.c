/* fuzz_tlsrpt.c - the TLSRPT record grammar of the report (RFC 8460 s3). */
#include <stdint.h>
#include <string.h>

#include "check_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char bad[64];
	memset(bad, 'x', sizeof(bad));
	int ok = check_tlsrpt_parse(data, size, bad, sizeof(bad));
	/* a verdict, and a reason (NUL-terminated within the buffer) for a refusal */
	if (ok != 0 && ok != 1)
		__builtin_trap();
	if (ok == 0 && (memchr(bad, '\0', sizeof(bad)) == NULL || bad[0] == '\0'))
		__builtin_trap();
	/* a valid record starts with the version field */
	if (ok == 1 && (size < 10 || memmem(data, size, "v=TLSRPTv1", 10) == NULL))
		__builtin_trap();
	return 0;
}
