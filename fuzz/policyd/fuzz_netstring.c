/* fuzz_netstring.c - mailsec-policyd's incremental netstring parser
 * (every prefix of the input, as partial reads deliver it). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netstring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly `size` bytes, so ASan sees any over-read */
	uint8_t *buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	for (size_t n = 0; n <= size; n++) {
		const uint8_t *d;
		size_t dl, used;
		enum ns_result r = ns_parse(buf, n, 1024, &d, &dl, &used);
		if (r == NS_COMPLETE && (used > n || dl > 1024 || d + dl > buf + n))
			abort();
		if (r != NS_NEED_MORE)
			break;
	}
	char out[64];
	ns_format((const char *)buf, size < 40 ? size : 40, out, sizeof(out));
	free(buf);
	return 0;
}
