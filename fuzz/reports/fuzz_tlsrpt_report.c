/* fuzz_tlsrpt_report.c - a received TLSRPT report (RFC 8460): the JSON,
 * its gzip, or the multipart/report mail, into structures and both views. */
#include <stdint.h>
#include <string.h>

#include <mailsec/tlsrpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_tlsrpt_parsed *p = NULL;
	char why[256];
	if (ms_tlsrpt_parse(NULL, data, size, &p, why, sizeof(why)) != MS_OK) {
		if (p != NULL)
			__builtin_trap(); /* nothing is handed out on failure */
		return 0;
	}
	/* what was accepted stays inside the bounds */
	if (p->npolicies > MS_TLSRPT_MAX_POLICIES || p->end_time < p->start_time)
		__builtin_trap();
	for (size_t i = 0; i < p->npolicies; i++)
		if (p->policies[i].ndetails > MS_TLSRPT_MAX_DETAILS ||
		    p->policies[i].nstrings > MS_TLSRPT_MAX_STRINGS)
			__builtin_trap();
	char *v = NULL;
	for (int json = 0; json < 2; json++) {
		if (ms_tlsrpt_parsed_view(p, json, &v) == MS_OK)
			ms_tlsrpt_free(v);
	}
	ms_tlsrpt_parsed_free(p);
	return 0;
}
