/*
 * fuzz_tlsa.c - the TLSA parsers and the usability rules: the input is
 * read both as wire rdata and as presentation text, and every record that
 * parses is classified, printed and run through a verification against a
 * fixed one-certificate chain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/dane.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ms_dane_ctx *ctx;
	if (ctx == NULL && ms_dane_ctx_new(NULL, &ctx) != MS_OK)
		abort();
	struct ms_dane_tlsa t[2];
	size_t n = 0;
	if (ms_dane_tlsa_parse_rdata(data, size, &t[n]) == MS_OK)
		n++;
	static uint8_t buf[4096];
	char why[128], text[9000];
	if (ms_dane_tlsa_parse_text((const char *)data, size, &t[n], buf, sizeof(buf), why,
				    sizeof(why)) == MS_OK)
		n++;
	for (size_t i = 0; i < n; i++) {
		(void)ms_dane_tlsa_usable(&t[i]);
		(void)ms_dane_tlsa_to_text(&t[i], text, sizeof(text));
	}
	/* The input doubles as a certificate for the verifier. */
	struct ms_dane_cert c = { data, size };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = &c,
				    .nchain = size <= MS_DANE_MAX_CERT ? 1 : 0, .tlsa = t,
				    .ntlsa = n, .authentic = 1, .now = 1700000000 };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	(void)ms_dane_verify(ctx, &in, &res, why, sizeof(why));
	return 0;
}
