/* fuzz_spf_macro.c - the SPF macro expander (internal API) on arbitrary
 * macro-strings, in both domain-spec and explanation modes, with a small
 * output bound so the limit path is exercised too. */
#include "spf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *ptr(void *user)
{
	(void)user;
	return "mail.example.com";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_macro_vars v = {
		.sender = "a-b.c+d@sub.example.com", .local = "a-b.c+d",
		.sender_domain = "sub.example.com", .domain = "sub.example.com",
		.ip_i = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
		.ip_c = "2001:db8::1", .v = "ip6", .helo = "helo.example",
		.receiver = "mx.example", .now = 1, .ptr = ptr,
	};
	for (int exp = 0; exp < 2; exp++) {
		if (spf_macro_check((const char *)data, size, exp, NULL, 0) != MS_OK)
			continue;
		struct ms_buf b;
		ms_buf_init(&b, NULL, exp ? 4096 : 1024);
		if (spf_macro_expand((const char *)data, size, exp, &v, &b) == MS_OK && b.data &&
		    !exp)
			spf_domain_truncate((char *)b.data);
		ms_buf_free(&b);
	}
	return 0;
}
