/**
 * @file
 * mailsec/dane.h - libdane: DANE for SMTP (RFC 6698, RFC 7671, RFC 7672).
 *
 * The verification core needs neither DNS nor a TLS connection: the caller
 * hands it the certificate chain the server sent (DER, leaf first, the rest
 * in any order), the TLSA records with their DNSSEC status, the reference
 * names and the time, and gets a verdict, the record that matched, the depth
 * it matched at and the RFC 8460 (TLSRPT) result type of a failure.
 *
 * SMTP rules (RFC 7672 s3.1): only DANE-TA(2) and DANE-EE(3) records are
 * usable.  When no record is usable the verdict is MS_DANE_ALL_UNUSABLE: TLS
 * stays mandatory but the certificate is not checked (RFC 7672 s2.2), and
 * the core never falls back to PKIX.  DANE-EE ignores names and dates;
 * DANE-TA checks the chain below the anchor (dates, signatures) and the
 * names.  See docs/dane.md for the corner cases.
 *
 * Thread safety: a struct ms_dane_ctx is read-only after its setters and may
 * be shared by any number of threads; each call uses its own OpenSSL
 * objects (the optional certificate cache is locked internally and shares
 * decoded CA certificates read-only).  Verification results are plain caller-owned structs.
 */
#ifndef MAILSEC_DANE_H
#define MAILSEC_DANE_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/status.h>
#include <mailsec/export.h>
#include <mailsec/tlsrpt_result.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_DANE_API MS_API

struct ms_dane_ctx;
struct ms_dns_ctx;
struct ssl_st; /**< OpenSSL's SSL */
struct x509_store_ctx_st; /**< OpenSSL's X509_STORE_CTX */

/** TLSA certificate usages, selectors and matching types (RFC 6698 s7). */
enum { MS_DANE_PKIX_TA = 0, MS_DANE_PKIX_EE = 1, MS_DANE_DANE_TA = 2, MS_DANE_DANE_EE = 3 };
enum { MS_DANE_SEL_CERT = 0, MS_DANE_SEL_SPKI = 1 };
enum { MS_DANE_MT_FULL = 0, MS_DANE_MT_SHA256 = 1, MS_DANE_MT_SHA512 = 2 };

/** Hard bounds on untrusted input. */
#define MS_DANE_MAX_CHAIN 16       /**< certificates per chain */
#define MS_DANE_MAX_CERT 65536     /**< bytes per certificate */
#define MS_DANE_MAX_RECORDS 64     /**< TLSA records per RRset */
#define MS_DANE_MAX_NAMES 8        /**< reference names */

/**
 * One TLSA record (RFC 6698 s2.1); `data` is borrowed.  The suite has one
 * TLSA type, struct ms_dns_tlsa of the lowest library (mailsec/dns.h);
 * `struct ms_dane_tlsa` is the same type under its libdane name (a macro
 * alias of the struct tag), so records from ms_dns_result_tlsa() go to
 * ms_dane_verify() as they are.
 */
#define ms_dane_tlsa ms_dns_tlsa

/** One certificate in DER; `der` is borrowed. */
struct ms_dane_cert {
	const uint8_t *der;
	size_t len;
};

enum ms_dane_verdict {
	MS_DANE_VERIFIED = 0,      /**< a usable record matched and the checks passed */
	MS_DANE_INSECURE = 1,      /**< records not DNSSEC-secure: DANE does not apply */
	MS_DANE_NO_RECORDS = 2,    /**< no TLSA records: DANE does not apply */
	MS_DANE_ALL_UNUSABLE = 3,  /**< records exist, none usable: TLS required, cert not checked */
	MS_DANE_NO_MATCH = 4,      /**< no usable record matched the chain */
	MS_DANE_NAME_MISMATCH = 5, /**< DANE-TA matched, the leaf has none of the names */
	MS_DANE_CHAIN_INVALID = 6, /**< DANE-TA matched, the chain below it is invalid */
	MS_DANE_MALFORMED = 7      /**< the certificate chain could not be parsed */
};

/** RFC 8460 s4.3 result types: enum ms_tlsrpt_result of mailsec/tlsrpt_result.h
 * (libmailsec-dns), the one result type of the suite. */

#define MS_DANE_INPUT_VERSION 1

/** What to verify.  Zero-initialise, set `version`; pointers are borrowed. */
struct ms_dane_input {
	unsigned version;                    /**< MS_DANE_INPUT_VERSION */
	const struct ms_dane_cert *chain;    /**< [0] is the leaf */
	size_t nchain;
	const struct ms_dane_tlsa *tlsa;
	size_t ntlsa;
	int authentic;                       /**< the RRset was DNSSEC-secure */
	/** Reference names (RFC 7672 s3.2.2): the TLSA base domain and the MX
	 * host name, A-labels, no trailing dot.  Used for DANE-TA only. */
	const char *const *names;
	size_t nnames;
	int64_t now;                         /**< Unix seconds; 0: the env clock */
};

#define MS_DANE_RESULT_VERSION 1

/**
 * The outcome of a verification; caller-owned, filled by the library.  The
 * caller sets `version` to MS_DANE_RESULT_VERSION before the call (e.g.
 * `struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };`):
 * later versions append members, and the library fills only the members
 * the caller's version has, so an older caller's smaller struct is never
 * overrun.  The library never changes `version`; 0 gives MS_ERR_INVALID.
 */
struct ms_dane_result {
	unsigned version;                    /**< set by the caller */
	enum ms_dane_verdict verdict;
	enum ms_tlsrpt_result tlsrpt;
	int matched;         /**< index into input->tlsa of the matching record, -1 */
	int depth;           /**< depth the match is at (0 = leaf), -1 */
	int x509_error;      /**< OpenSSL X509_V_ERR_* behind CHAIN_INVALID/NAME_MISMATCH, 0 */
	size_t usable;       /**< number of usable records */
	char reason[160];    /**< one human sentence */
};

/* ---- context ---------------------------------------------------------- */

/** Create a verification context (env copied; NULL for defaults). */
MS_DANE_API ms_status ms_dane_ctx_new(const struct ms_env *env,
				      struct ms_dane_ctx **out);
/** NULL-safe. */
MS_DANE_API void ms_dane_ctx_free(struct ms_dane_ctx *ctx);
/**
 * Digest agility (RFC 7671 s9): the rank of a matching type, higher wins;
 * rank 0 disables the type.  Defaults: SHA-256 1, SHA-512 2.  Full(0) is no
 * digest and is always compared.  MS_ERR_INVALID for mtype 0 or > 2.
 */
MS_DANE_API ms_status ms_dane_ctx_set_mtype_rank(struct ms_dane_ctx *ctx,
						 uint8_t mtype, unsigned rank);

/** Upper bound for ms_dane_ctx_set_cert_cache() and ms_dane_ctx_set_leaf_cache(). */
#define MS_DANE_MAX_CERT_CACHE 100000

/**
 * Cache decoded CA certificates (DANE-TA): a bounded LRU keyed by the
 * SHA-256 of each certificate's DER, so a chain seen before is not decoded
 * again.  Only the decoding is reused: dates, names, key usage, signatures
 * and the chain build are checked on every verification, and a hit needs
 * the very same DER bytes (a copy is kept and compared), so a certificate
 * replaced under the same subject is always decoded afresh.  This bound
 * covers CA certificates only: the leaf is cached only when
 * ms_dane_ctx_set_leaf_cache() gives leaves their own bound, and leaves
 * never evict CA certificates.  Thread-safe (a mutex); entries and DER
 * copies come from the env allocator, at most `max_entries` certificates
 * of at most MS_DANE_MAX_CERT bytes each.  Off by default.  Call it before
 * the context is shared (like the other setters); a new call replaces the
 * cache (emptying both partitions; the leaf bound stays).
 * @param ctx         the context
 * @param max_entries 0 turns the cache off; at most MS_DANE_MAX_CERT_CACHE
 * @return MS_OK, MS_ERR_INVALID, MS_ERR_NOMEM (the previous cache stays)
 */
MS_DANE_API ms_status ms_dane_ctx_set_cert_cache(struct ms_dane_ctx *ctx,
						 size_t max_entries);
/**
 * How many CA certificates the cache holds now (0 when it is off).
 * @param ctx the context (NULL: 0)
 * @return the number of cached CA certificates (leaves not counted)
 */
MS_DANE_API size_t ms_dane_ctx_cert_cache_count(const struct ms_dane_ctx *ctx);
/**
 * Cache decoded leaf (end-entity, chain[0]) certificates too, in a
 * partition of their own: an LRU of at most `max_leaves` leaves beside the
 * CA partition of ms_dane_ctx_set_cert_cache(), so a stream of distinct
 * leaves only ever evicts other leaves, never a CA certificate.  Keyed and
 * checked exactly as CA certificates (SHA-256 of the DER, the DER bytes
 * compared on a hit), so a leaf replaced under the same name (renewed,
 * expired, another key, one bit changed) is decoded afresh.  Only the
 * decoding is reused: the leaf's dates, names, key usage, its signature by
 * its issuer, the chain build and the DANE matching all run on every
 * verification.  Memory from the env allocator as for CA certificates;
 * off (0) by default.  Call it before the context is shared; a new call
 * replaces the cache (emptying both partitions; the CA bound stays).
 * @param ctx        the context
 * @param max_leaves 0 turns leaf caching off; at most MS_DANE_MAX_CERT_CACHE
 * @return MS_OK, MS_ERR_INVALID, MS_ERR_NOMEM (the previous cache stays)
 */
MS_DANE_API ms_status ms_dane_ctx_set_leaf_cache(struct ms_dane_ctx *ctx,
						 size_t max_leaves);
/**
 * How many leaf certificates the cache holds now (0 when it is off).
 * @param ctx the context (NULL: 0)
 * @return the number of cached leaf certificates
 */
MS_DANE_API size_t ms_dane_ctx_leaf_cache_count(const struct ms_dane_ctx *ctx);

/* ---- verification core (no DNS, no TLS) --------------------------------- */

/**
 * Verify `in` under RFC 7672 rules.  Returns MS_OK with the verdict in *res
 * (protocol outcomes, including MALFORMED, are results), MS_ERR_INVALID for
 * bad arguments (also res->version 0), MS_ERR_LIMIT past the MS_DANE_MAX_* bounds, MS_ERR_NOMEM.
 */
MS_DANE_API ms_status ms_dane_verify(const struct ms_dane_ctx *ctx,
				     const struct ms_dane_input *in,
				     struct ms_dane_result *res,
				     char *why, size_t whylen);

/**
 * Adapter for OpenSSL callers: take the peer chain of a client `ssl` after
 * the handshake (SSL_get_peer_cert_chain), set it into a copy of `in`
 * (whose chain fields are ignored) and verify.  MS_ERR_STATE if the peer
 * sent no certificate.  Set SSL_VERIFY_NONE (or a callback accepting
 * everything) for the handshake: this call is the check.
 */
MS_DANE_API ms_status ms_dane_verify_ssl(const struct ms_dane_ctx *ctx,
					 const struct ssl_st *ssl,
					 const struct ms_dane_input *in,
					 struct ms_dane_result *res,
					 char *why, size_t whylen);

/**
 * The same from inside OpenSSL certificate verification, for callers that
 * install SSL_CTX_set_cert_verify_callback(): the leaf is
 * X509_STORE_CTX_get0_cert(), the rest X509_STORE_CTX_get0_untrusted() as
 * the server sent it.  The callback returns res->verdict ==
 * MS_DANE_VERIFIED (or applies its own policy for the other verdicts).
 */
MS_DANE_API ms_status ms_dane_verify_store_ctx(const struct ms_dane_ctx *ctx,
					       struct x509_store_ctx_st *sctx,
					       const struct ms_dane_input *in,
					       struct ms_dane_result *res,
					       char *why, size_t whylen);

/** 1 if the record is usable for SMTP (RFC 7672 s3.1; also checks digest
 * lengths and that full-data records parse), else 0. */
MS_DANE_API int ms_dane_tlsa_usable(const struct ms_dane_tlsa *t);

/**
 * Parse "U S M HEX" (presentation form, hex may hold spaces) into `t`,
 * writing the data into buf (at most buflen bytes).  MS_ERR_PARSE with a
 * reason in `why`, MS_ERR_LIMIT if buf is too small.
 */
MS_DANE_API ms_status ms_dane_tlsa_parse_text(const char *text, size_t len,
					      struct ms_dane_tlsa *t,
					      uint8_t *buf, size_t buflen,
					      char *why, size_t whylen);
/** Wire rdata (RFC 6698 s2.1) into `t`, borrowing from rdata: the same
 * parser as ms_dns_parse_tlsa() (this name calls it). */
MS_DANE_API ms_status ms_dane_tlsa_parse_rdata(const uint8_t *rdata, size_t len,
					       struct ms_dane_tlsa *t);
/** "U S M hex" (lower-case hex); MS_ERR_LIMIT if buf is too small. */
MS_DANE_API ms_status ms_dane_tlsa_to_text(const struct ms_dane_tlsa *t,
					   char *buf, size_t buflen);

/**
 * Find the SubjectPublicKeyInfo inside a DER certificate without a full
 * X.509 parse (bounded DER walk): *off and *len delimit the whole SPKI TLV.
 * MS_ERR_PARSE if the DER is not a certificate of the expected shape.
 */
MS_DANE_API ms_status ms_dane_cert_spki(const uint8_t *der, size_t len,
					size_t *off, size_t *spki_len);

/** Static names: "verified", "no-match", ...; the RFC 8460 string of
 * ms_dane_result.tlsrpt is ms_tlsrpt_result_name() (libmailsec-dns). */
MS_DANE_API const char *ms_dane_verdict_str(enum ms_dane_verdict v);

/**
 * A verification result as `mailsec dane verify` shows it (`tlsa`: the
 * ntlsa records verified, for the matched one's text).  MS_RENDER_TEXT:
 * lines verdict, matched, depth, tlsrpt, reason.  MS_RENDER_JSON: one
 * object, keys verdict, verified, matched (record text or null), depth
 * (null: none), tlsrpt_result (RFC 8460 result type or null),
 * usable_records, reason.  *out freed with ms_render_free, *len (may be NULL)
 * its length.  MS_ERR_INVALID (also for a matched index past ntlsa),
 * MS_ERR_NOMEM.
 */
MS_DANE_API ms_status ms_dane_result_render(const struct ms_dane_result *res,
					    const struct ms_dane_tlsa *tlsa, size_t ntlsa,
					    enum ms_render_format fmt, char **out, size_t *len);

/* ---- DNS side (RFC 7672 s2.2) ------------------------------------------ */

struct ms_dane_lookup;

/** How DANE stands for one MX host after the DNS lookups. */
enum ms_dane_dns_state {
	MS_DANE_DNS_SECURE = 0,   /**< secure TLSA records found: DANE applies */
	MS_DANE_DNS_NONE = 1,     /**< no DANE: insecure MX/address/TLSA, or no TLSA */
	MS_DANE_DNS_TEMPFAIL = 2  /**< bogus or failed lookup: do not use this host now */
};

/**
 * Look up DANE for MX host `mxhost` (as named by the MX record).  `mx_secure`
 * says whether the MX lookup itself was secure (for a host not reached
 * through MX, pass 1; a caller whose MX lookup failed must not call this
 * at all: the domain is deferred, RFC 7672 s2.1.1).  Follows a secure CNAME
 * of the host (TLSA at the expanded name first, then at the original) and
 * CNAMEs at _PORT._tcp.
 *
 * Fail closed (RFC 7672 s2.2): only a successful insecure answer gives
 * MS_DANE_DNS_NONE.  A failed (timeout, SERVFAIL, REFUSED) or bogus TLSA
 * lookup, or an address lookup that failed and left no address, gives
 * MS_DANE_DNS_TEMPFAIL.  When one address family failed and the other
 * answered securely, DANE goes on over that family's addresses (those
 * ms_dns_lookup_addr() keeps; the reason says so): the sender uses only
 * those addresses, with DANE.
 *
 * Returns MS_OK with *out set (free with ms_dane_lookup_free), or an error
 * when no lookup could be made.
 */
MS_DANE_API ms_status ms_dane_lookup(struct ms_dns_ctx *dns, const char *mxhost,
				     int mx_secure, uint16_t port,
				     struct ms_dane_lookup **out,
				     char *why, size_t whylen);
/** The same with the caller's hooks: `env` (may be NULL; copied) allocates
 * the result, and gets the counter dane_lookups_total{state} and a debug
 * log event per lookup. */
MS_DANE_API ms_status ms_dane_lookup_env(const struct ms_env *env, struct ms_dns_ctx *dns,
					 const char *mxhost, int mx_secure, uint16_t port,
					 struct ms_dane_lookup **out,
					 char *why, size_t whylen);
MS_DANE_API void ms_dane_lookup_free(struct ms_dane_lookup *l);
MS_DANE_API enum ms_dane_dns_state ms_dane_lookup_state(const struct ms_dane_lookup *l);
/** Human reason for the state (borrowed). */
MS_DANE_API const char *ms_dane_lookup_reason(const struct ms_dane_lookup *l);
/** Static name of a state: "secure", "none", "tempfail". */
MS_DANE_API const char *ms_dane_dns_state_str(enum ms_dane_dns_state s);
/** The TLSA base domain (borrowed; also the SNI name), or NULL when none. */
MS_DANE_API const char *ms_dane_lookup_base(const struct ms_dane_lookup *l);
/** The owner name where the TLSA RRset was found (after CNAMEs), or NULL. */
MS_DANE_API const char *ms_dane_lookup_tlsa_owner(const struct ms_dane_lookup *l);
/** Reference names: base domain first, then the MX host if different. */
MS_DANE_API size_t ms_dane_lookup_names(const struct ms_dane_lookup *l,
					const char *const **names);
/** The records (borrowed; data valid until ms_dane_lookup_free). */
MS_DANE_API size_t ms_dane_lookup_records(const struct ms_dane_lookup *l,
					  const struct ms_dane_tlsa **recs);
/** Fill `in` (names, records, authentic) from a SECURE lookup; chain and now
 * untouched. */
MS_DANE_API void ms_dane_lookup_input(const struct ms_dane_lookup *l,
				      struct ms_dane_input *in);

/* ---- receiving side: records and keys ----------------------------------- */

/**
 * TLSA data for usage/selector/mtype from PEM text holding a certificate,
 * a public key or a private key (selector 1 only for keys).  Writes "U S M
 * hex" into buf.  MS_ERR_PARSE if the PEM holds none of them.
 */
MS_DANE_API ms_status ms_dane_tlsa_from_pem(const uint8_t *pem, size_t len,
					    uint8_t usage, uint8_t selector,
					    uint8_t mtype, char *buf,
					    size_t buflen, char *why,
					    size_t whylen);
/** Generate a private key as PKCS#8 PEM ("rsa2048", "rsa4096", "p256",
 * "p384", "ed25519").  Same as ms_dane_keygen_env(NULL, ...): free *pem
 * with ms_dane_string_free(NULL, *pem). */
MS_DANE_API ms_status ms_dane_keygen(const char *alg, char **pem,
				     char *why, size_t whylen);
/** A PKCS#10 CSR (PEM) from a private key PEM, subject CN = names[0], SAN =
 * all names.  Same as ms_dane_csr_env(NULL, ...): free *pem with
 * ms_dane_string_free(NULL, *pem). */
MS_DANE_API ms_status ms_dane_csr(const uint8_t *key_pem, size_t len,
				  const char *const *names, size_t nnames,
				  char **pem, char *why, size_t whylen);
/**
 * ms_dane_keygen() with the caller's hooks.
 * @param env    allocator for *pem (NULL: malloc)
 * @param alg    "rsa2048", "rsa4096", "p256", "p384" or "ed25519"
 * @param pem    out: the PKCS#8 PEM, caller-owned; free it with
 *               ms_dane_string_free(env, *pem); NULL on failure
 * @param why    optional reason on failure
 * @param whylen size of why
 * @return MS_OK, MS_ERR_INVALID (NULL arguments), MS_ERR_UNSUPPORTED
 *         (unknown alg), MS_ERR_NOMEM or MS_ERR_INTERNAL
 */
MS_DANE_API ms_status ms_dane_keygen_env(const struct ms_env *env, const char *alg,
					 char **pem, char *why, size_t whylen);
/**
 * ms_dane_csr() with the caller's hooks.
 * @param env     allocator for *pem (NULL: malloc)
 * @param key_pem the private key (PEM), borrowed
 * @param len     bytes of key_pem (at most 1 MiB)
 * @param names   subject CN = names[0], SAN = all of them
 * @param nnames  1 .. MS_DANE_MAX_NAMES
 * @param pem     out: the CSR (PEM), caller-owned; free it with
 *                ms_dane_string_free(env, *pem); NULL on failure
 * @param why     optional reason on failure
 * @param whylen  size of why
 * @return MS_OK, MS_ERR_INVALID, MS_ERR_PARSE (no private key) or
 *         MS_ERR_INTERNAL
 */
MS_DANE_API ms_status ms_dane_csr_env(const struct ms_env *env, const uint8_t *key_pem,
				      size_t len, const char *const *names, size_t nnames,
				      char **pem, char *why, size_t whylen);
/**
 * Free a string libdane returned (keygen, csr).  The memory is wiped first:
 * a keygen result is a private key.
 * @param env the env the string was made with (NULL for the NULL-env calls
 *            ms_dane_keygen() and ms_dane_csr())
 * @param s   the string; NULL is allowed
 */
MS_DANE_API void ms_dane_string_free(const struct ms_env *env, char *s);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_DANE_H */
