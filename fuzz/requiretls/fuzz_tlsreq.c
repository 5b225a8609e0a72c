/* Fuzz target: TLS-Required header scanning and value judging. */
#include <stdint.h>

#include <mailsec/requiretls.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ms_rtls_tlsreq a = ms_rtls_tlsreq_scan(data, size, 0);
	enum ms_rtls_tlsreq b = ms_rtls_tlsreq_scan(data, size, 1);
	/* the parameter only ever turns a present field into OVERRIDDEN */
	if ((a == MS_RTLS_TLSREQ_ABSENT) != (b == MS_RTLS_TLSREQ_ABSENT))
		__builtin_trap();
	(void)ms_rtls_tlsreq_value(data, size);
	enum ms_rtls_requirement r;
	(void)ms_rtls_requirement_parse(data, size, &r);
	return 0;
}
