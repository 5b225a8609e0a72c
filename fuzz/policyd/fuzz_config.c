/* fuzz_config.c - mailsec-policyd's key = value configuration parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	struct policyd_config c;
	policyd_config_defaults(&c);
	char why[256];
	policyd_config_parse(buf, size, &c, why, sizeof(why));
	/* every string stays terminated within its field */
	if (memchr(c.listen_unix, '\0', sizeof(c.listen_unix)) == NULL ||
	    memchr(c.map_name, '\0', sizeof(c.map_name)) == NULL || c.workers == 0 ||
	    c.max_connections == 0)
		abort();
	free(buf);
	return 0;
}
