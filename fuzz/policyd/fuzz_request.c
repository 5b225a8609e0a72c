/* fuzz_request.c - mailsec-policyd's socketmap request split ("NAME KEY"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	char domain[256], why[128];
	if (policyd_request_parse(buf, size, "postfix", domain, sizeof(domain), why,
				  sizeof(why)) == REQ_DOMAIN &&
	    (memchr(domain, '\0', sizeof(domain)) == NULL || strchr(domain, ' ') != NULL))
		abort();
	free(buf);
	return 0;
}
