/*
 * Fuzz target: MAIL FROM parsing (the whole command, and the parameters
 * alone), then a format/parse round trip that must reproduce the list.
 */
#include <stdint.h>
#include <string.h>

#include <mailsec/requiretls.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(struct ms_rtls_mail *m)
{
	char out[4096], envid[MS_RTLS_MAX_ENVID + 1];
	uint64_t sz;
	size_t n;
	(void)ms_rtls_mail_size(m, &sz);
	(void)ms_rtls_mail_envid(m, envid, sizeof(envid), &n);
	(void)ms_rtls_mail_body(m);
	(void)ms_rtls_mail_ret(m);
	if (ms_rtls_mail_format(m, out, sizeof(out), &n) != MS_OK)
		return;
	struct ms_rtls_mail *m2 = NULL;
	if (ms_rtls_mail_new(NULL, &m2) != MS_OK)
		return;
	if (ms_rtls_mail_parse_params(m2, (const uint8_t *)out, n, NULL, 0) != MS_OK ||
	    ms_rtls_mail_count(m2) != ms_rtls_mail_count(m))
		__builtin_trap();
	ms_rtls_mail_free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_rtls_mail *m = NULL;
	char why[128];
	if (ms_rtls_mail_new(NULL, &m) != MS_OK)
		return 0;
	if (ms_rtls_mail_parse_command(m, data, size, why, sizeof(why)) == MS_OK)
		roundtrip(m);
	if (ms_rtls_mail_parse_params(m, data, size, why, sizeof(why)) == MS_OK)
		roundtrip(m);
	ms_rtls_mail_free(m);
	return 0;
}
