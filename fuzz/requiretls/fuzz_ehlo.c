/* Fuzz target: EHLO reply parsing (ms_rtls_ehlo_parse) and the accessors. */
#include <stdint.h>
#include <string.h>

#include <mailsec/requiretls.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_rtls_ehlo *s = NULL;
	char why[128];
	if (ms_rtls_ehlo_new(NULL, &s) != MS_OK)
		return 0;
	if (ms_rtls_ehlo_parse(s, data, size, 1, why, sizeof(why)) == MS_OK) {
		size_t total = strlen(ms_rtls_ehlo_greeting(s));
		for (size_t i = 0; i < ms_rtls_ehlo_count(s); i++) {
			total += strlen(ms_rtls_ehlo_keyword(s, i));
			total += strlen(ms_rtls_ehlo_params(s, i));
			if (!ms_rtls_ehlo_has(s, ms_rtls_ehlo_keyword(s, i)))
				__builtin_trap();
		}
		(void)total;
		(void)ms_rtls_ehlo_has(s, "REQUIRETLS");
	}
	ms_rtls_ehlo_discard(s);
	ms_rtls_ehlo_free(s);
	return 0;
}
