/* Fuzz target: the client transport's SMTP reply parser
 * (ms_rtls_smtp_reply_parse, the parser the transport feeds byte by byte). */
#include <stdint.h>
#include <string.h>

#include <mailsec/requiretls_smtp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_rtls_smtp_reply r;
	size_t used = 0;
	char why[128];
	ms_status st = ms_rtls_smtp_reply_parse(data, size, &r, &used, why, sizeof(why));
	if (st == MS_OK) {
		/* a reply: a valid code, within the input, bounded text, NUL-terminated */
		if (r.code < 200 || r.code > 599 || used == 0 || used > size || r.lines == 0 ||
		    r.lines > MS_RTLS_SMTP_MAX_LINES || strlen(r.text) > MS_RTLS_MAX_LINE ||
		    strlen(r.enhanced) >= sizeof(r.enhanced) ||
		    (r.enhanced[0] && r.enhanced[0] != '0' + r.code / 100) ||
		    data[used - 1] != '\n')
			__builtin_trap();
	} else if (r.code != 0 || r.lines != 0) {
		__builtin_trap(); /* an error leaves nothing that passes for a reply */
	}
	return 0;
}
