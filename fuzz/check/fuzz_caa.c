/* fuzz_caa.c - CAA rdata (RFC 8659 s4.1) as the report reads it. */
#include <stdint.h>
#include <string.h>

#include "check_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char v[16];
	int r = check_caa_issue(data, size, v, sizeof(v));
	if (r < -1 || r > 1 || memchr(v, '\0', sizeof(v)) == NULL)
		__builtin_trap();
	/* only printable bytes reach the report */
	for (size_t i = 0; v[i]; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			__builtin_trap();
	if (r == 1 && (size < 7 || data[1] != 5))
		__builtin_trap();
	return 0;
}
