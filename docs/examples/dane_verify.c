/*
 * dane_verify.c - the minimal libdane program from docs/dane.md: verify a
 * server's certificate chain against TLSA records under RFC 7672 rules.
 *
 *   dane_verify CHAIN.pem HOST "U S M HEX" ["U S M HEX"...]
 *
 * The records are taken as DNSSEC-secure (an MTA gets that flag from
 * libdnssec-stub, see ms_dane_lookup()).  Exit 0 verified, 1 not.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/dane.h>

#define MAX_CERTS 16
#define MAX_RECS 16

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: dane_verify CHAIN.pem HOST \"U S M HEX\"...\n");
		return 2;
	}
	/* the chain as the server sent it: DER, leaf first */
	FILE *f = fopen(argv[1], "r");
	if (f == NULL) {
		perror(argv[1]);
		return 2;
	}
	struct ms_dane_cert chain[MAX_CERTS];
	unsigned char *der[MAX_CERTS];
	size_t n = 0;
	X509 *x;
	while (n < MAX_CERTS && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		der[n] = NULL;
		int len = i2d_X509(x, &der[n]);
		X509_free(x);
		if (len <= 0)
			break;
		chain[n].der = der[n];
		chain[n].len = (size_t)len;
		n++;
	}
	fclose(f);

	struct ms_dane_tlsa recs[MAX_RECS];
	uint8_t data[MAX_RECS][256];
	size_t nrecs = 0;
	for (int i = 3; i < argc && nrecs < MAX_RECS; i++) {
		char why[128];
		if (ms_dane_tlsa_parse_text(argv[i], strlen(argv[i]), &recs[nrecs], data[nrecs],
					    sizeof(data[0]), why, sizeof(why)) != MS_OK) {
			fprintf(stderr, "bad record '%s': %s\n", argv[i], why);
			return 2;
		}
		nrecs++;
	}

	const char *names[] = { argv[2] };
	struct ms_dane_input in = {
		.version = MS_DANE_INPUT_VERSION,
		.chain = chain, .nchain = n,
		.tlsa = recs, .ntlsa = nrecs,
		.authentic = 1,
		.names = names, .nnames = 1,
	};
	struct ms_dane_ctx *ctx = NULL;
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[256] = "";
	if (ms_dane_ctx_new(NULL, &ctx) != MS_OK ||
	    ms_dane_verify(ctx, &in, &res, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "verification could not run: %s\n", why);
		return 2;
	}
	printf("%s: %s (depth %d)\n", ms_dane_verdict_str(res.verdict), res.reason, res.depth);
	ms_dane_ctx_free(ctx);
	for (size_t i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	return res.verdict == MS_DANE_VERIFIED ? 0 : 1;
}
