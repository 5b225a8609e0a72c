/* fuzz_tlsrpt_record.c - the TLSRPT policy record (RFC 8460 s3). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <mailsec/tlsrpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_tlsrpt_rua r;
	char why[200];
	if (ms_tlsrpt_record_parse(data, size, &r, why, sizeof(why)) != MS_OK)
		return 0;
	/* accepted: 1..MS_TLSRPT_MAX_RUA destinations, each mailto: or https:,
	 * never one with a space or an angle bracket */
	if (r.n == 0 || r.n > MS_TLSRPT_MAX_RUA)
		__builtin_trap();
	for (size_t i = 0; i < r.n; i++) {
		if (strncasecmp(r.uri[i], "mailto:", 7) != 0 && strncasecmp(r.uri[i], "https://", 8) != 0)
			__builtin_trap();
		if (strpbrk(r.uri[i], " <>\r\n\t") != NULL)
			__builtin_trap();
	}
	return 0;
}
