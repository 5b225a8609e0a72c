/* fuzz_policy.c - the policy file parser (RFC 8461 s3.2) and matching. */
#include <stdint.h>
#include <stdio.h>

#include <mailsec/mtasts.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_sts_policy *p = NULL;
	char why[160];
	if (ms_sts_policy_parse(NULL, data, size, &p, why, sizeof(why)) != MS_OK)
		return 0;
	if (ms_sts_policy_max_age(p) > MS_STS_MAX_AGE_MAX)
		__builtin_trap();
	if (ms_sts_policy_mode(p) != MS_STS_MODE_NONE && ms_sts_policy_mx_count(p) == 0)
		__builtin_trap();
	for (size_t i = 0; i < ms_sts_policy_mx_count(p); i++) {
		/* every pattern matches a host built from it */
		const char *pat = ms_sts_policy_mx(p, i);
		char host[300];
		if (pat[0] == '*')
			snprintf(host, sizeof(host), "x%s", pat + 1);
		else
			snprintf(host, sizeof(host), "%s", pat);
		if (!ms_sts_policy_match(p, host))
			__builtin_trap();
	}
	ms_sts_policy_free(p);
	return 0;
}
