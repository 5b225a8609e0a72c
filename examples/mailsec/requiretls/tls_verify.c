/*
 * tls_verify.c - DANE and PKIX checks of a peer chain (see tls_verify.h).
 * The PKIX check follows `mailsec check` (examples/mailsec/check): an
 * X509_STORE from the CA file, the MX name as the reference identity, and
 * the --now clock.
 */
#include "tls_verify.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
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
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	int ok = 0;
	snprintf(detail, len, "no certificate");
	if (store == NULL || untrusted == NULL || ctx == NULL || c->n == 0)
		goto out;
	if (ca_file ? X509_STORE_load_file(store, ca_file) != 1
		    : X509_STORE_set_default_paths(store) != 1) {
		snprintf(detail, len, "cannot load the CA store");
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		const unsigned char *p = c->certs[i].der;
		X509 *x = d2i_X509(NULL, &p, (long)c->certs[i].len);
		if (x == NULL)
			continue;
		if (i == 0)
			leaf = x;
		else if (sk_X509_push(untrusted, x) <= 0)
			X509_free(x);
	}
	if (leaf == NULL) {
		snprintf(detail, len, "unparsable leaf certificate");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		goto out;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set1_host(param, host, 0);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_USE_CHECK_TIME);
	X509_VERIFY_PARAM_set_time(param, (time_t)cli_now(cli));
	if (X509_verify_cert(ctx) == 1) {
		ok = 1;
		snprintf(detail, len, "valid for %s", host);
	} else {
		snprintf(detail, len, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}
