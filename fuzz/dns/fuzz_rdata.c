/*
 * fuzz_rdata.c - the rdata parsers of libdnssec-stub (TLSA, MX, TXT, names,
 * presentation format) on arbitrary bytes.  The first byte picks the RR
 * type interpretation for the presentation-format writer.
 */
#include <stdint.h>
#include <string.h>

#include <mailsec/dns.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { 1, 2, 5, 6, 12, 15, 16, 28, 43, 52, 999 };
	struct ms_dns_tlsa t;
	char buf[1024];
	size_t len;
	uint16_t pref;

	if (ms_dns_parse_tlsa(data, size, &t) == MS_OK && t.datalen != size - 3)
		__builtin_trap();
	ms_dns_parse_mx(data, size, &pref, buf, sizeof(buf));
	ms_dns_parse_name(data, size, buf, sizeof(buf));
	if (ms_dns_parse_txt(data, size, buf, sizeof(buf), &len) == MS_OK && len > size)
		__builtin_trap();
	if (size > 0) {
		uint16_t type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
		ms_dns_rdata_to_text(type, data + 1, size - 1, buf, sizeof(buf));
		/* a small buffer must truncate cleanly */
		ms_dns_rdata_to_text(type, data + 1, size - 1, buf, 7);
		if (memchr(buf, '\0', 7) == NULL)
			__builtin_trap();
	}
	/* names: the input as a NUL-terminated string */
	char name[300];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	ms_dns_name_normalize(name, buf, 256, NULL, 0);
	ms_dns_type_from_str(name);
	return 0;
}
