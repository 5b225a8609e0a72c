/* fuzz_from_header.c - the From header address-list parser, and the same
 * input as a whole message (ms_dmarc_from_message: field names, folding). */
#include <mailsec/dmarc.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ms_dmarc_from_outcome o;
	char dom[256], why[128];
	size_t n;
	if (ms_dmarc_from_parse(data, size, &o, dom, sizeof(dom), &n, why, sizeof(why)) == MS_OK &&
	    o == MS_DMARC_FROM_OK && strlen(dom) > 253)
		__builtin_trap();   /* a normalised domain never exceeds 253 octets */
	if (ms_dmarc_from_message(data, size, &o, dom, sizeof(dom), why, sizeof(why)) != MS_OK ||
	    (o == MS_DMARC_FROM_OK && strlen(dom) > 253))
		__builtin_trap();
	return 0;
}
