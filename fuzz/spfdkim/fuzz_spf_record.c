/* fuzz_spf_record.c - the SPF record syntax checker on arbitrary bytes,
 * then a full evaluation of the record against an empty injected zone. */
#include <mailsec/spf.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ms_status nx(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	(void)user;
	return ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, MS_DNS_SECURE, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[128];
	ms_spf_record_check(data, size, why, sizeof(why));
	struct ms_dns_ctx *dns = NULL;
	struct ms_spf *spf = NULL;
	if (ms_dns_ctx_new_custom(NULL, nx, NULL, &dns) != MS_OK)
		return 0;
	if (ms_spf_new(NULL, dns, &spf) == MS_OK) {
		struct ms_spf_verdict *v = NULL;
		if (ms_spf_check_record(spf, "2001:db8::1", "example.com", "a.b@example.com",
					"helo.example", data, size, &v, NULL, 0) == MS_OK) {
			char h[2048];
			ms_spf_received_header(v, "mx.example", h, sizeof(h));
		}
		ms_spf_verdict_free(v);
	}
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	return 0;
}
