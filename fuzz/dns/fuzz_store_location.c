/*
 * fuzz_store_location.c - the store location parser (mailsec/store.h) on
 * arbitrary bytes: a scheme is recognised or refused, never read past the
 * string, and an SQLite path always points inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/store.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	enum ms_store_backend b = 0;
	const char *path = NULL;
	char why[128];
	if (ms_store_parse_location(s, &b, &path, why, sizeof(why)) == MS_OK) {
		if (b != MS_STORE_SQLITE && b != MS_STORE_POSTGRESQL)
			__builtin_trap();
		if (path < s || path > s + strlen(s) || (b == MS_STORE_SQLITE && *path == '\0'))
			__builtin_trap();
	}
	free(s);
	return 0;
}
