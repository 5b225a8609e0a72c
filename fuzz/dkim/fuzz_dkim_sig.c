/* fuzz_dkim_sig.c - the DKIM-Signature tag list and field parser
 * (RFC 6376 s3.2, s3.5) on untrusted bytes. */
#include "dkim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_taglist tl;
	char why[128];
	dkim_taglist_parse(data, size, &tl, why, sizeof(why));
	static struct dkim_sigparams sp;
	dkim_sig_parse(data, size, &sp, why, sizeof(why));
	return 0;
}
