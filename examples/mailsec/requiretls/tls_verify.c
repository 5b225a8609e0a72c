/*
 * tls_verify.c - DANE and PKIX checks of a peer chain (see tls_verify.h).
 * The PKIX check is the one `mailsec check` uses (dane/pkix_verify.c).
 */
#include "tls_verify.h"
#include "dane/pkix_verify.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

void peer_chain_get(SSL *ssl, struct peer_chain *c)
{
	memset(c, 0, sizeof(*c));
	/* On the client side the stack holds the leaf too (SSL_get_peer_cert_chain(3)). */
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
	for (int i = 0; sk && i < sk_X509_num(sk) && c->n < sizeof(c->certs) / sizeof(c->certs[0]); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(sk, i), &der);
		if (len <= 0)
			break;
		c->certs[c->n].der = der;
		c->certs[c->n].len = (size_t)len;
		c->n++;
	}
	ERR_clear_error();
}

void peer_chain_free(struct peer_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		OPENSSL_free((void *)c->certs[i].der);
	c->n = 0;
}

int verify_dane(struct cli *cli, const struct ms_dane_lookup *l, const struct peer_chain *c,
		char *detail, size_t len)
{
	struct ms_dane_ctx *ctx = NULL;
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION };
	struct ms_dane_result res;
	char why[256] = "";
	memset(&res, 0, sizeof(res));
	if (l == NULL || ms_dane_lookup_state(l) != MS_DANE_DNS_SECURE) {
		snprintf(detail, len, "no secure TLSA records");
		return 0;
	}
	ms_dane_lookup_input(l, &in);
	in.chain = c->certs;
	in.nchain = c->n;
	in.now = cli_now(cli);
	int ok = 0;
	if (ms_dane_ctx_new(&cli->env, &ctx) != MS_OK ||
	    ms_dane_verify(ctx, &in, &res, why, sizeof(why)) != MS_OK) {
		snprintf(detail, len, "verification impossible: %s", why);
	} else {
		ok = res.verdict == MS_DANE_VERIFIED;
		snprintf(detail, len, "%s at depth %d: %s", ms_dane_verdict_str(res.verdict),
			 res.depth, res.reason);
	}
	ms_dane_ctx_free(ctx);
	return ok;
}

int verify_pkix(struct cli *cli, const char *ca_file, const char *host,
		const struct peer_chain *c, char *detail, size_t len)
{
	return cli_pkix_verify(cli, ca_file, host, c->certs, c->n, detail, len);
}
