/*
 * bench_common.h - pieces several benchmarks build their inputs with: a
 * DNS name in wire form for the in-memory resolvers, and a test PKI with a
 * real TLS handshake over a BIO pair (the chain the client's libssl
 * decoded, as an MTA has it after STARTTLS).  Static inline: each bench is
 * one program, nothing here is part of a library.  Errors end the program
 * (a bench on broken inputs measures nothing).
 */
#ifndef MS_BENCH_COMMON_H
#define MS_BENCH_COMMON_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void bench_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

/* `name` (dotted, no trailing dot) in DNS wire form; returns its length.
 * `out` must hold strlen(name) + 2 bytes. */
static inline size_t bench_wire_name(const char *name, uint8_t *out)
{
	size_t o = 0;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		out[o++] = (uint8_t)l;
		memcpy(out + o, p, l);
		o += l;
		p += l + (dot != NULL);
	}
	out[o++] = 0;
	return o;
}

static inline void bench_x509_ext(X509 *x, X509 *iss, int nid, const char *v)
{
	X509V3_CTX c;
	X509V3_set_ctx_nodb(&c);
	X509V3_set_ctx(&c, iss, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &c, nid, v);
	if (e == NULL || !X509_add_ext(x, e, -1))
		bench_die("bench", "cannot add a certificate extension");
	X509_EXTENSION_free(e);
}

/* A certificate for key `k` named `cn`, issued by `iss` with key `ik` (both
 * NULL: self-signed), valid from an hour ago for a year.  A CA gets
 * basicConstraints CA:TRUE (and keyUsage keyCertSign/cRLSign when
 * `ca_key_usage`), a leaf CA:FALSE, serverAuth and the SAN `leaf_san`
 * ("DNS:host"). */
static inline X509 *bench_x509_cert(EVP_PKEY *k, const char *cn, X509 *iss, EVP_PKEY *ik,
				    int ca, int ca_key_usage, const char *leaf_san, long serial)
{
	X509 *x = X509_new();
	if (x == NULL)
		bench_die("bench", "out of memory");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, iss ? X509_get_subject_name(iss) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, k);
	X509 *is = iss ? iss : x;
	bench_x509_ext(x, is, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	bench_x509_ext(x, is, NID_subject_key_identifier, "hash");
	bench_x509_ext(x, is, NID_authority_key_identifier, "keyid:always");
	if (ca && ca_key_usage) {
		bench_x509_ext(x, is, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else if (!ca) {
		bench_x509_ext(x, is, NID_subject_alt_name, leaf_san);
		bench_x509_ext(x, is, NID_ext_key_usage, "serverAuth");
	}
	if (!X509_sign(x, iss ? ik : k, EVP_sha256()))
		bench_die("bench", "cannot sign a certificate");
	return x;
}

/* A finished TLS handshake over a BIO pair: the server sends chain[0]
 * (key `leafkey`) and chain[1..nsent-1]; the client does not verify (the
 * benchmarks do, after) and asks for `sni` (NULL: none).  The four objects
 * are the caller's to free. */
static inline void bench_handshake(X509 *const *chain, int nsent, EVP_PKEY *leafkey,
				   const char *sni, SSL **cl, SSL **sv, SSL_CTX **cctx,
				   SSL_CTX **sctx)
{
	*sctx = SSL_CTX_new(TLS_server_method());
	*cctx = SSL_CTX_new(TLS_client_method());
	if (*sctx == NULL || *cctx == NULL || SSL_CTX_use_certificate(*sctx, chain[0]) != 1 ||
	    SSL_CTX_use_PrivateKey(*sctx, leafkey) != 1)
		bench_die("bench", "handshake setup");
	for (int i = 1; i < nsent; i++)
		if (SSL_CTX_add1_chain_cert(*sctx, chain[i]) != 1)
			bench_die("bench", "chain certificate");
	SSL_CTX_set_verify(*cctx, SSL_VERIFY_NONE, NULL);
	*sv = SSL_new(*sctx);
	*cl = SSL_new(*cctx);
	BIO *b1, *b2;
	if (*sv == NULL || *cl == NULL || BIO_new_bio_pair(&b1, 0, &b2, 0) != 1)
		bench_die("bench", "handshake setup");
	SSL_set_bio(*sv, b1, b1);
	SSL_set_bio(*cl, b2, b2);
	if (sni != NULL)
		SSL_set_tlsext_host_name(*cl, sni);
	SSL_set_accept_state(*sv);
	SSL_set_connect_state(*cl);
	for (int i = 0; i < 100; i++) {
		/* both sides every round: each waits for the other's flight */
		int a = SSL_do_handshake(*cl), b = SSL_do_handshake(*sv);
		if (a == 1 && b == 1)
			break;
	}
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(*cl);
	if (!SSL_is_init_finished(*cl) || sk == NULL || sk_X509_num(sk) != nsent)
		bench_die("bench", "the handshake did not finish with the chain sent");
}

#endif
