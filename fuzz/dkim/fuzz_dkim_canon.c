/* fuzz_dkim_canon.c - header canonicalization (both algorithms) of one
 * field, and body canonicalization fed in chunks whose size the first
 * byte picks; simple and relaxed must each give the same output however
 * the input is split (a whole buffer takes the vector paths, chunks of 17
 * bytes or less only the byte-at-a-time state machine; the scalar scan,
 * which CPUs without AVX2 run, is checked on the whole buffer too), and
 * the same output as a line-by-line model written from RFC 6376
 * s3.4.3/s3.4.4. */
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

/* The model: the body as lines (ended by CRLF or a bare LF; a CR not
 * before LF is content), relaxed turning each WSP run into one SP and
 * dropping it at line end, trailing empty lines removed, every kept line
 * ended by CRLF; an empty body is "" (relaxed) or CRLF (simple).  out has
 * room for 2n+2 bytes. */
static size_t model_body(enum ms_dkim_canon c, const uint8_t *p, size_t n, uint8_t *out)
{
	size_t o = 0, kept = 0, i = 0;
	while (i < n) {
		size_t e = i, next = n;
		for (; e < n; e++) {
			if (p[e] == '\n') {
				next = e + 1;
				break;
			}
			if (p[e] == '\r' && e + 1 < n && p[e + 1] == '\n') {
				next = e + 2;
				break;
			}
		}
		size_t start = o;
		int wsp = 0;
		for (size_t k = i; k < e; k++) {
			int is_wsp = p[k] == ' ' || p[k] == '\t';
			if (c == MS_DKIM_CANON_RELAXED && is_wsp) {
				wsp = 1;
				continue;
			}
			if (wsp)
				out[o++] = ' ';
			wsp = 0;
			out[o++] = p[k];
		}
		int empty = o == start;
		out[o++] = '\r';
		out[o++] = '\n';
		if (!empty)
			kept = o; /* empty lines count only when content follows */
		i = next;
	}
	if (kept == 0 && c == MS_DKIM_CANON_SIMPLE) {
		out[0] = '\r';
		out[1] = '\n';
		kept = 2;
	}
	return kept;
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
		dkim_bodycanon_vector(0);
		body((enum ms_dkim_canon)c, data, size, size ? size : 1, d2);
		dkim_bodycanon_vector(1);
		if (memcmp(d1, d2, 32) != 0)
			abort(); /* the vector and scalar paths disagree */
		uint8_t *m = malloc(2 * size + 2), d3[32];
		size_t ml = model_body((enum ms_dkim_canon)c, data, size, m);
		unsigned dl;
		EVP_Digest(m, ml, d3, &dl, EVP_sha256(), NULL);
		free(m);
		if (memcmp(d1, d3, 32) != 0)
			abort(); /* the streaming canonicalizer disagrees with the model */
	}
	return 0;
}
