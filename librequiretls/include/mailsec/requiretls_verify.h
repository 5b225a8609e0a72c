/**
 * @file
 * mailsec/requiretls_verify.h - verifying an SMTP server after the TLS
 * handshake: DANE (libdane, RFC 7672 s3) and PKIX with the MX host name
 * (RFC 8461 s4.2), giving the observed facts ms_rtls_judge() takes.
 *
 * The handshake itself should not verify (SSL_VERIFY_NONE): opportunistic
 * and TLS-Required: No deliveries may use an unverified session, and the
 * engine, not OpenSSL, decides what a failed check means.  These calls work
 * on any SSL* (the caller's own SMTP stack or mailsec's), and on a bare
 * chain for callers that hold only the DER certificates.
 *
 * PKIX follows RFC 8461 s4.2 and RFC 6125 s6.4.3: the chain must lead to a
 * CA of the store, the certificate must be fit for a TLS server (OpenSSL's
 * "ssl_server" purpose: an EKU without serverAuth fails, RFC 5280
 * s4.2.1.12), and a name must match the MX host: a wildcard only as the
 * whole left-most label, matching exactly one label ("*.example.com" names
 * "mx.example.com", neither "example.com" nor "a.b.example.com"; partial
 * wildcards such as "m*.example.com" never match).
 *
 * Thread-safety: the calls touch only their arguments; a borrowed
 * X509_STORE may be shared by threads (OpenSSL locks it; once loaded it is
 * safe for concurrent verification), and so may a borrowed struct
 * ms_dane_ctx (read-only after its setters; its certificate cache locks
 * itself, mailsec/dane.h).
 *
 * Cost (issue 20): ms_rtls_verify_peer works on the certificates the
 * handshake already decoded (DANE through ms_dane_verify_ssl, PKIX on the
 * SSL's own X509 objects, up-referenced), never decoding them again.  What
 * is left per call is building the PKIX trust store and the DANE context:
 * an MTA keeps one of each for all its connections (`ca_store`,
 * `dane_ctx`), so that neither the CA bundle is parsed nor a repeated CA
 * certificate decoded per connection.
 *
 * Async shape (issue 15): verification is CPU-only and short, so it stays a
 * plain call that the asynchronous transport calls from its step function.
 */
#ifndef MAILSEC_REQUIRETLS_VERIFY_H
#define MAILSEC_REQUIRETLS_VERIFY_H

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <mailsec/dane.h>
#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_route.h>

#ifdef __cplusplus
extern "C" {
#endif

/** 2: `dane_ctx` was added at the end; version 1 structs are still
 * accepted (their calls make a fresh DANE context each). */
#define MS_RTLS_VERIFY_OPTS_VERSION 2

struct ms_rtls_verify_opts {
	unsigned version;        /**< MS_RTLS_VERIFY_OPTS_VERSION (1 or 2) */
	/** The PKIX trust store, first that is set: `ca_store` (borrowed,
	 * up-referenced for the call), `ca_file` (PEM bundle) and/or `ca_path`
	 * (hashed directory), else OpenSSL's default paths. */
	X509_STORE *ca_store;
	const char *ca_file;
	const char *ca_path;
	/** Unix seconds for certificate dates; 0: the env clock. */
	int64_t now;
	/** Skip the PKIX check when the plan neither requires nor reports it
	 * (default 0: always run it, so that TLS-Required: No and reports can
	 * say what was let through). */
	int pkix_only_when_planned;
	/** Version 2: the DANE context to verify with (borrowed, must outlive
	 * the call; shared by any number of threads and calls), typically one
	 * the caller keeps for all its connections with the certificate cache
	 * on (ms_dane_ctx_set_cert_cache, ms_dane_ctx_set_leaf_cache), so that
	 * the CA certificates seen before are not decoded again.  NULL: a
	 * fresh context (no cache) per call, the env of the call. */
	const struct ms_dane_ctx *dane_ctx;
};

#define MS_RTLS_CHAIN_MAX 16

#define MS_RTLS_PEER_VERSION 1

/** What the checks found; caller-owned, filled by the library.  The caller
 * sets `version` to MS_RTLS_PEER_VERSION (later versions append members;
 * the library fills only those the caller's version has, never rewrites
 * `version`, and refuses 0 with MS_ERR_INVALID). */
struct ms_rtls_peer {
	unsigned version;            /**< MS_RTLS_PEER_VERSION, set by the caller */
	/** The facts ms_rtls_judge() takes: copy them into ms_rtls_observed
	 * (.dane, .pkix), or use ms_rtls_peer_observe(). */
	enum ms_rtls_step dane;      /**< NOT_DONE: no secure TLSA records */
	enum ms_rtls_step pkix;      /**< NOT_DONE: skipped by the options */
	/** DANE details (valid when dane != NOT_DONE): dane_status is MS_OK
	 * when libdane reached a verdict, else the error of ms_dane_verify
	 * (then dane is FAILED and dane_reason says why). */
	ms_status dane_status;
	enum ms_dane_verdict dane_verdict;
	enum ms_tlsrpt_result dane_tlsrpt;
	int dane_depth;              /* -1 when no match */
	int dane_matched;            /**< index into the lookup's records, -1 */
	/** PKIX details: X509_V_ERR_* (0 when valid or not run). */
	int pkix_error;
	size_t chain_len;            /**< certificates the server sent */
	char dane_reason[160];       /**< libdane's sentence (or the error) */
	char dane_detail[300];       /**< "verified at depth 0: ...", "" when not run */
	char pkix_detail[300];       /**< "valid for HOST" or the OpenSSL reason */
};

/**
 * Verify the server of a finished handshake on `ssl` for route host `h`:
 * DANE against h's TLSA records when the lookup is secure, PKIX against
 * h's MX name.  `opts` may be NULL (system CA store, env clock).  The
 * chain is the SSL's own (SSL_get_peer_cert_chain, leaf first): DANE
 * goes through ms_dane_verify_ssl() with opts->dane_ctx (or a fresh
 * context), PKIX verifies the same X509 objects; nothing is decoded
 * again, only the first MS_RTLS_CHAIN_MAX certificates are used.
 * MS_OK with *out filled (a failing check is a result, not an error);
 * MS_ERR_INVALID for NULL ssl/h/out or an unknown opts version,
 * MS_ERR_STATE when the handshake has not finished.  `ssl` is only read.
 */
MS_RTLS_API ms_status ms_rtls_verify_peer(const struct ms_env *env, SSL *ssl,
					  const struct ms_rtls_route_host *h,
					  const struct ms_rtls_verify_opts *opts,
					  struct ms_rtls_peer *out, char *why, size_t whylen);

/**
 * The same on a chain the caller holds (leaf first, DER, borrowed), for a
 * host that is not from a route: `mx_name` is the PKIX reference identity
 * (A-labels), `dane` the host's TLSA lookup (NULL: no DANE check).
 * Each certificate is decoded here (ms_dane_verify with opts->dane_ctx,
 * whose cache may spare the decoding, and d2i_X509 for PKIX).
 * MS_ERR_INVALID for NULL mx_name/out or an unknown opts version.
 */
MS_RTLS_API ms_status ms_rtls_verify_chain(const struct ms_env *env,
					   const struct ms_dane_cert *chain, size_t n,
					   const char *mx_name, const struct ms_dane_lookup *dane,
					   const struct ms_rtls_verify_opts *opts,
					   struct ms_rtls_peer *out, char *why, size_t whylen);

/** Copy the facts into the engine's observations (dane, pkix only). */
MS_RTLS_API void ms_rtls_peer_observe(const struct ms_rtls_peer *p, struct ms_rtls_observed *o);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_VERIFY_H */
