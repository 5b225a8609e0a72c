/* fuzz_txt.c - the _mta-sts TXT record parser (RFC 8461 s3.1). */
#include <stdint.h>
#include <string.h>

#include <mailsec/mtasts.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[MS_STS_ID_MAX + 1], why[128];
	int is = ms_sts_record_is_sts(data, size);
	if (ms_sts_record_parse(data, size, id, why, sizeof(why)) == MS_OK) {
		/* an accepted id is 1-32 letters and digits */
		size_t n = strlen(id);
		if (n == 0 || n > MS_STS_ID_MAX)
			__builtin_trap();
	}
	(void)is;
	return 0;
}
