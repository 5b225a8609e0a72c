/* fuzz_authres.c - the Authentication-Results parser, and a re-write of
 * what it parsed through the writer (which must stay well formed). */
#include <mailsec/authres.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_ar_parsed *p = NULL;
	char why[128];
	ms_ar_should_remove(data, size, "mx.example.org");
	if (ms_ar_parse(NULL, data, size, &p, why, sizeof(why)) != MS_OK)
		return 0;
	struct ms_ar *ar = NULL;
	if (ms_ar_new(NULL, "mx.example.org", &ar) == MS_OK) {
		for (size_t i = 0; i < ms_ar_parsed_count(p); i++) {
			if (ms_ar_add(ar, ms_ar_parsed_method(p, i), ms_ar_parsed_result(p, i),
				      ms_ar_parsed_reason(p, i), MS_DNS_INSECURE) != MS_OK)
				continue;
			for (size_t j = 0; j < ms_ar_parsed_prop_count(p, i); j++) {
				const char *t, *k, *v;
				ms_ar_parsed_prop(p, i, j, &t, &k, &v);
				ms_ar_add_prop(ar, t, k, v);
			}
		}
		static char out[65536];
		if (ms_ar_write(ar, out, sizeof(out)) == MS_OK) {
			struct ms_ar_parsed *again = NULL;
			if (ms_ar_parse(NULL, (const uint8_t *)out, strlen(out), &again, NULL, 0) != MS_OK)
				__builtin_trap();   /* our own output must parse */
			ms_ar_parsed_free(again);
		}
		ms_ar_free(ar);
	}
	ms_ar_parsed_free(p);
	return 0;
}
