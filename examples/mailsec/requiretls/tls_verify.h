/*
 * tls_verify.h - judging the peer chain of a finished TLS handshake: DANE
 * with libdane (RFC 7672 s3) and PKIX with the MX name (RFC 8461 s4.2).
 * The handshake itself never verifies, so that opportunistic modes can
 * still use an unverified session; these checks feed the engine.
 */
#ifndef MAILSEC_RTLS_TLS_VERIFY_H
#define MAILSEC_RTLS_TLS_VERIFY_H

#include "cli.h"

#include <openssl/ssl.h>

#include <mailsec/dane.h>

struct peer_chain {
	struct ms_dane_cert certs[16]; /* [0] the leaf; DER owned here */
	size_t n;
};

/* The chain the server sent (leaf first); 0 certificates when none. */
void peer_chain_get(SSL *ssl, struct peer_chain *c);
void peer_chain_free(struct peer_chain *c);

/* DANE verification against a SECURE lookup's records: 1 verified, 0 not
 * (detail says why, e.g. "no-match: ..."). */
int verify_dane(struct cli *cli, const struct ms_dane_lookup *l, const struct peer_chain *c,
		char *detail, size_t len);

/* PKIX: the chain to a CA of `ca_file` (NULL: the system store) and the
 * certificate naming `host`: 1 valid, 0 not (detail says why). */
int verify_pkix(struct cli *cli, const char *ca_file, const char *host,
		const struct peer_chain *c, char *detail, size_t len);

#endif
