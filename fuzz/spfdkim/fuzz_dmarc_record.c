/* fuzz_dmarc_record.c - DMARC record parsing and every getter. */
#include <mailsec/dmarc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_dmarc_record *r = NULL;
	char why[128];
	if (ms_dmarc_record_parse(NULL, data, size, &r, why, sizeof(why)) != MS_OK)
		return 0;
	volatile size_t sink = 0;
	for (size_t i = 0; i < ms_dmarc_record_rua_count(r); i++)
		sink += ms_dmarc_record_rua(r, i)[0];
	for (size_t i = 0; i < ms_dmarc_record_ruf_count(r); i++)
		sink += ms_dmarc_record_ruf(r, i)[0];
	const char *w = ms_dmarc_record_warnings(r);
	sink += w ? (size_t)w[0] : 0;
	sink += (size_t)ms_dmarc_record_p(r) + ms_dmarc_record_pct(r);
	(void)sink;
	ms_dmarc_record_free(r);
	return 0;
}
