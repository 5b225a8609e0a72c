/* fuzz_spf_eval.c - a whole SPF evaluation where every TXT query answers
 * with the fuzz input (so include/redirect recurse into it), A/AAAA/MX/PTR
 * queries get fixed answers, and names starting with "t" time out:
 * exercises the limits, macros, exp= and the cache. */
#include <mailsec/spf.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *in;
static size_t inlen;

static ms_status resolve(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	(void)user;
	if (name[0] == 't')
		return ms_dns_result_create(NULL, name, type, MS_DNS_TIMEOUT, MS_DNS_INDETERMINATE, out);
	ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER,
					    name[0] == 'i' ? MS_DNS_INSECURE : MS_DNS_SECURE, out);
	if (st != MS_OK)
		return st;
	static const uint8_t a[4] = { 192, 0, 2, 1 };
	static const uint8_t aaaa[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t mx[] = { 0, 10, 2, 'm', 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	static const uint8_t ptr[] = { 2, 'm', 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	uint8_t txt[1100];
	size_t o = 0, n = inlen > 1000 ? 1000 : inlen;
	for (size_t i = 0; i < n;) {   /* split into 255-octet strings */
		size_t l = n - i > 255 ? 255 : n - i;
		txt[o++] = (uint8_t)l;
		memcpy(txt + o, in + i, l);
		o += l;
		i += l;
	}
	switch (type) {
	case MS_DNS_T_A: ms_dns_result_add(*out, type, a, 4); break;
	case MS_DNS_T_AAAA: ms_dns_result_add(*out, type, aaaa, 16); break;
	case MS_DNS_T_MX: ms_dns_result_add(*out, type, mx, sizeof(mx)); break;
	case MS_DNS_T_PTR: ms_dns_result_add(*out, type, ptr, sizeof(ptr)); break;
	case MS_DNS_T_TXT: if (o) ms_dns_result_add(*out, type, txt, o); break;
	default: break;
	}
	ms_dns_result_set_meta(*out, 60, NULL, -1, -1, NULL);
	return MS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in = data;
	inlen = size;
	struct ms_dns_ctx *dns = NULL;
	struct ms_spf *spf = NULL;
	if (ms_dns_ctx_new_custom(NULL, resolve, NULL, &dns) != MS_OK)
		return 0;
	if (ms_spf_new(NULL, dns, &spf) == MS_OK && ms_spf_set_cache(spf, 8) == MS_OK) {
		static const char *ips[] = { "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" };
		for (int k = 0; k < 3; k++) {
			struct ms_spf_verdict *v = NULL;
			if (ms_spf_check_mailfrom(spf, ips[k], "helo.example", k == 2 ? "" : "a-b.c@example.com",
						  &v, NULL, 0) == MS_OK) {
				char h[2048];
				ms_spf_received_header(v, "mx.example", h, sizeof(h));
				if (ms_spf_verdict_dns_lookups(v) > 11 || ms_spf_verdict_void_lookups(v) > 3)
					__builtin_trap();   /* limits must hold */
			}
			ms_spf_verdict_free(v);
		}
	}
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	return 0;
}
