/* fuzz_dkim_canon.c - header canonicalization (both algorithms) of one
 * field, and body canonicalization fed in chunks whose size the first
 * byte picks; simple and relaxed must each give the same output however
 * the input is split. */
#include <stdlib.h>
#include <string.h>

#include "dkim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
	EVP_MD_CTX *md;
	size_t n;
};

static void sink(void *u, const uint8_t *p, size_t n)
{
	struct acc *a = u;
	EVP_DigestUpdate(a->md, p, n);
	a->n += n;
}

static void body(enum ms_dkim_canon c, const uint8_t *p, size_t n, size_t chunk,
		 uint8_t *digest)
{
	struct dkim_bodycanon *bc = malloc(sizeof(*bc));
	struct acc a = { EVP_MD_CTX_new(), 0 };
	EVP_DigestInit_ex(a.md, EVP_sha256(), NULL);
	dkim_bodycanon_init(bc, c, sink, &a);
	for (size_t o = 0; o < n; o += chunk)
		dkim_bodycanon_update(bc, p + o, n - o < chunk ? n - o : chunk);
	dkim_bodycanon_final(bc);
	unsigned dl;
	EVP_DigestFinal_ex(a.md, digest, &dl);
	EVP_MD_CTX_free(a.md);
	free(bc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	for (int c = 0; c < 2; c++) {
		struct ms_buf b;
		ms_buf_init(&b, NULL, 1 << 20);
		dkim_headercanon((enum ms_dkim_canon)c, data, size, 1, &b);
		ms_buf_free(&b);
		uint8_t d1[32], d2[32];
		body((enum ms_dkim_canon)c, data, size, size ? size : 1, d1);
		body((enum ms_dkim_canon)c, data, size, chunk, d2);
		if (memcmp(d1, d2, 32) != 0)
			abort(); /* chunking changed the canonical form */
	}
	return 0;
}
