/* fuzz_milter_config.c - the mailsec-milter configuration parser, and the
 * signing table (KeyTable, SigningTable, InternalHosts: the library's
 * mailsec/dkim_signtab.h checks) built from what it parsed, then one
 * signing decision through it.  Keys are generated, no file is read. */
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ms_status gen_key(void *user, const char *path, struct ms_dkim_key **out, char *why,
			 size_t whylen)
{
	(void)user;
	(void)path;
	return ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, out, why, whylen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_config c;
	char why[256];
	if (mm_config_parse(data, size, &c, why, sizeof(why)) != MS_OK)
		return 0;
	/* key generation is the slow part: enough keys to reach every rule path */
	if (c.nkeys <= 16) {
		struct ms_dkim_signtab *t = NULL;
		if (mm_config_signtab(&c, gen_key, NULL, &t, why, sizeof(why)) == MS_OK) {
			static const char *const from[] = {" a@example.net", " b@sub.example.net",
							   " c@example.org"};
			for (size_t i = 0; i < 3; i++) {
				const uint8_t *v[1] = {(const uint8_t *)from[i]};
				size_t l[1] = {strlen(from[i])};
				enum ms_dkim_signtab_decision d;
				struct ms_dkim_signer *s = NULL;
				if (ms_dkim_signtab_signer(t, "10.1.2.3", 0, v, l, 1, &d, &s, why,
							   sizeof(why)) == MS_OK)
					ms_dkim_signer_free(s);
				ms_dkim_signtab_outgoing(t, "2001:db8::1", 0);
			}
			ms_dkim_signtab_free(t);
		}
	}
	mm_config_free(&c);
	return 0;
}
