/*
 * fuzz_dmarc_report.c - a received DMARC aggregate report (XML, gzip or
 * zip) parsed with a small output cap, then every view of the result:
 * the rows, the JSON view, and the XML written back (which must parse).
 */
#include <stdlib.h>

#include <mailsec/dmarc_report.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_dmarcrep_report *r = NULL;
	char why[256];
	if (ms_dmarcrep_parse(NULL, data, size, 1u << 20, &r, why, sizeof(why)) != MS_OK)
		return 0;
	volatile uint64_t sink = ms_dmarcrep_report_messages(r);
	for (size_t i = 0; i < ms_dmarcrep_report_row_count(r); i++)
		sink += (uint64_t)ms_dmarcrep_report_row(r, i)->source_ip[0];
	char *json = NULL;
	if (ms_dmarcrep_report_json(r, &json, why, sizeof(why)) == MS_OK)
		sink += (uint64_t)json[0];
	ms_dmarcrep_buf_free(json);
	uint8_t *xml = NULL;
	size_t len = 0;
	if (ms_dmarcrep_report_xml(r, &xml, &len, why, sizeof(why)) == MS_OK) {
		/* what we write from what we read must read back */
		struct ms_dmarcrep_report *again = NULL;
		if (ms_dmarcrep_parse(NULL, xml, len, 0, &again, why, sizeof(why)) != MS_OK ||
		    ms_dmarcrep_report_messages(again) != ms_dmarcrep_report_messages(r))
			abort();
		ms_dmarcrep_report_free(again);
	}
	ms_dmarcrep_buf_free(xml);
	(void)sink;
	ms_dmarcrep_report_free(r);
	return 0;
}
