/**
 * @file
 * mailsec/dkim.h - DomainKeys Identified Mail (RFC 6376) signing and
 * verification, with RFC 8301 (crypto updates) and RFC 8463 (Ed25519).
 *
 * Verification: a struct ms_dkim_verifier holds the caller's hooks, a
 * borrowed resolver context (libdnssec-stub), the policy and a cache of
 * parsed public keys.  For each message, create a struct ms_dkim_verify,
 * feed the message (header and body, in chunks of any size), then call
 * ms_dkim_verify_finish(): every DKIM-Signature field gets its own result
 * (pass, fail, neutral, policy, temperror, permerror) with a reason and the
 * DNSSEC status of its key record.  Memory stays constant however large the
 * body is: only the header block is kept (bounded by MS_DKIM_MAX_HEADER).
 *
 * Signing: load a private key (ms_dkim_key_load_pem or ms_dkim_key_generate),
 * create a struct ms_dkim_signer, add one or more signatures (for example
 * RSA and Ed25519), feed the message and finish; each resulting
 * DKIM-Signature field is to be prepended to the message.
 *
 * Line ends: a message is expected with CRLF line ends (SMTP form); a bare
 * LF is accepted as a line end too (as if it were CRLF), so that files with
 * Unix line ends can be signed and verified.  A CR not followed by LF is
 * message content.
 *
 * Protocol verdicts are results, not errors: a verification that reached
 * results returns MS_OK, whatever they are.
 *
 * Thread safety: a verifier may be shared by threads (its key cache is
 * locked) once its policy is set (the ms_dkim_verifier_set_* calls are not
 * synchronised); a struct ms_dkim_verify or ms_dkim_signer is used by one
 * thread at a time.  A struct ms_dkim_key is immutable once created and may be
 * shared.
 */
#ifndef MAILSEC_DKIM_H
#define MAILSEC_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/status.h>
#include <mailsec/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The shared export macro (mailsec/export.h). */
#define MS_DKIM_API MS_API

/** Hard bounds (untrusted input). */
#define MS_DKIM_MAX_HEADER (1024u * 1024u) /**< bytes in the header block */
#define MS_DKIM_MAX_FIELDS 1000u           /**< header fields */
#define MS_DKIM_MAX_SIGNATURES 32u         /**< DKIM-Signature fields evaluated */

/** Per-signature results (RFC 8601 s2.7.1). */
enum ms_dkim_result {
	MS_DKIM_PASS = 0,
	MS_DKIM_FAIL = 1,      /**< body hash or signature did not verify */
	MS_DKIM_NEUTRAL = 2,   /**< failed, but the key is in testing mode (t=y) */
	MS_DKIM_POLICY = 3,    /**< valid syntax, refused by the verifier's policy
				* (rsa-sha1, weak key, l= with unsigned content,
				* unsigned extra From fields) */
	MS_DKIM_TEMPERROR = 4, /**< key lookup failed temporarily */
	MS_DKIM_PERMERROR = 5  /**< syntax error, no key, revoked key, expired... */
};

enum ms_dkim_algorithm {
	MS_DKIM_ALG_UNKNOWN = 0,
	MS_DKIM_RSA_SHA256 = 1,
	MS_DKIM_ED25519_SHA256 = 2,
	MS_DKIM_RSA_SHA1 = 3
};

enum ms_dkim_canon {
	MS_DKIM_CANON_SIMPLE = 0,
	MS_DKIM_CANON_RELAXED = 1
};

/** Verifier policy flags (ms_dkim_verifier_set_flags). */
#define MS_DKIM_ALLOW_SHA1        0x01u /**< accept rsa-sha1 (RFC 8301 says no) */
#define MS_DKIM_ALLOW_BODY_LENGTH 0x02u /**< pass a signature whose l= leaves
					 * content unsigned (default: policy) */

/** Static lower-case names: "pass", "rsa-sha256", "relaxed"... */
MS_DKIM_API const char *ms_dkim_result_str(enum ms_dkim_result r);
MS_DKIM_API const char *ms_dkim_algorithm_str(enum ms_dkim_algorithm a);
MS_DKIM_API const char *ms_dkim_canon_str(enum ms_dkim_canon c);
/** Parse "rsa-sha256" / "ed25519-sha256" / "rsa-sha1" (also "rsa", "ed25519");
 * MS_DKIM_ALG_UNKNOWN otherwise. */
MS_DKIM_API enum ms_dkim_algorithm ms_dkim_algorithm_from_str(const char *s);

/* ---- verification ---------------------------------------------------- */

struct ms_dkim_verifier;
struct ms_dkim_verify;
struct ms_dkim_sig;

/**
 * Create a verifier.  `env` may be NULL.  `dns` is borrowed and must outlive
 * the verifier.  Defaults: rsa-sha1 refused, RSA keys of at least 1024 bits,
 * l= leaving content unsigned is "policy", 300 s of clock skew allowed for
 * t=, key cache of 512 entries kept for the key record's TTL.
 * Caller frees *out with ms_dkim_verifier_free().
 */
MS_DKIM_API ms_status ms_dkim_verifier_new(const struct ms_env *env,
					   struct ms_dns_ctx *dns,
					   struct ms_dkim_verifier **out);
/** NULL-safe. */
MS_DKIM_API void ms_dkim_verifier_free(struct ms_dkim_verifier *v);
/** Replace the policy flags (MS_DKIM_ALLOW_*). */
MS_DKIM_API void ms_dkim_verifier_set_flags(struct ms_dkim_verifier *v,
					    unsigned flags);
/** Minimum RSA key size in bits; values under 1024 are raised to 1024
 * (RFC 8301 s3.2). */
MS_DKIM_API void ms_dkim_verifier_set_min_rsa_bits(struct ms_dkim_verifier *v,
						   unsigned bits);
/** Allowed clock skew in seconds for a t= in the future (default 300). */
MS_DKIM_API void ms_dkim_verifier_set_clock_skew(struct ms_dkim_verifier *v,
						 unsigned seconds);
/** Drop every cached key. */
MS_DKIM_API void ms_dkim_verifier_flush_cache(struct ms_dkim_verifier *v);

/**
 * Start verifying one message.  The verifier must outlive the handle.
 * Caller frees *out with ms_dkim_verify_free().
 */
MS_DKIM_API ms_status ms_dkim_verify_new(struct ms_dkim_verifier *v,
					 struct ms_dkim_verify **out);
/** NULL-safe. */
MS_DKIM_API void ms_dkim_verify_free(struct ms_dkim_verify *vf);
/**
 * Feed the next `len` bytes of the message (header fields, the empty line,
 * the body).  Chunks may split lines anywhere.  A header block over
 * MS_DKIM_MAX_HEADER bytes or MS_DKIM_MAX_FIELDS fields is not an error:
 * the rest is ignored (MS_OK) and finish gives every signature permerror
 * (see ms_dkim_verify_limit), so that the caller's SPF, DMARC and iprev
 * checks still run and a padded message cannot trade a verdict for no
 * answer.  MS_ERR_NOMEM, MS_ERR_STATE after finish.
 */
MS_DKIM_API ms_status ms_dkim_verify_feed(struct ms_dkim_verify *vf,
					  const uint8_t *buf, size_t len,
					  char *why, size_t whylen);
/**
 * End of message: look up the keys (through the verifier's resolver and
 * cache) and verify every signature.  MS_OK once results exist (a message
 * without a header/body separator is taken as all header).  MS_ERR_NOMEM
 * or MS_ERR_STATE (called twice) otherwise.
 */
MS_DKIM_API ms_status ms_dkim_verify_finish(struct ms_dkim_verify *vf,
					    char *why, size_t whylen);
/** Number of DKIM-Signature fields evaluated (0: the message is unsigned,
 * "none" in Authentication-Results terms).  After a header bound (below)
 * at least 1: every DKIM-Signature seen before the bound, or one entry
 * without d= and s= when none was, all permerror. */
MS_DKIM_API size_t ms_dkim_verify_count(const struct ms_dkim_verify *vf);
/** Why the header block could not be verified ("more than 1000 header
 * fields", "header block larger than ... bytes"), borrowed; NULL when no
 * bound was hit (or before finish).  Every result is then permerror. */
MS_DKIM_API const char *ms_dkim_verify_limit(const struct ms_dkim_verify *vf);
/** Number of DKIM-Signature fields beyond MS_DKIM_MAX_SIGNATURES, ignored. */
MS_DKIM_API size_t ms_dkim_verify_ignored(const struct ms_dkim_verify *vf);
/** Signature i in header order (top first); borrowed, valid until the
 * handle is freed.  NULL for a bad index or before finish. */
MS_DKIM_API const struct ms_dkim_sig *ms_dkim_verify_sig(const struct ms_dkim_verify *vf,
							 size_t i);

/* ---- one signature's result: borrowed strings valid with the handle ---- */
MS_DKIM_API enum ms_dkim_result ms_dkim_sig_result(const struct ms_dkim_sig *s);
/** Why the result is what it is ("body hash mismatch", "key revoked", ...);
 * for a pass, "" or a note (testing mode, unsigned bytes allowed by l=). */
MS_DKIM_API const char *ms_dkim_sig_reason(const struct ms_dkim_sig *s);
/** d=, s=, i= (default "@d"), as written; NULL if absent or unparsable. */
MS_DKIM_API const char *ms_dkim_sig_domain(const struct ms_dkim_sig *s);
MS_DKIM_API const char *ms_dkim_sig_selector(const struct ms_dkim_sig *s);
MS_DKIM_API const char *ms_dkim_sig_identity(const struct ms_dkim_sig *s);
MS_DKIM_API enum ms_dkim_algorithm ms_dkim_sig_algorithm(const struct ms_dkim_sig *s);
MS_DKIM_API enum ms_dkim_canon ms_dkim_sig_header_canon(const struct ms_dkim_sig *s);
MS_DKIM_API enum ms_dkim_canon ms_dkim_sig_body_canon(const struct ms_dkim_sig *s);
/** DNSSEC status of the key record (MS_DNS_INDETERMINATE if no lookup was
 * made, e.g. the signature did not parse). */
MS_DKIM_API enum ms_dns_security ms_dkim_sig_dnssec(const struct ms_dkim_sig *s);
/** 1 if the key record has t=y (testing mode, RFC 6376 s3.6.1). */
MS_DKIM_API int ms_dkim_sig_testing(const struct ms_dkim_sig *s);
/** Key size in bits (RSA) or 256 (Ed25519); 0 if no key was obtained. */
MS_DKIM_API unsigned ms_dkim_sig_key_bits(const struct ms_dkim_sig *s);
/** t= and x= (-1 if absent). */
MS_DKIM_API int64_t ms_dkim_sig_timestamp(const struct ms_dkim_sig *s);
MS_DKIM_API int64_t ms_dkim_sig_expiration(const struct ms_dkim_sig *s);
/** l= (-1 if absent), and the canonicalized body bytes after l=, which the
 * signature does not cover (0 without l=). */
MS_DKIM_API int64_t ms_dkim_sig_body_length(const struct ms_dkim_sig *s);
MS_DKIM_API uint64_t ms_dkim_sig_unsigned_bytes(const struct ms_dkim_sig *s);
/** The Authentication-Results "header.b" value: the first 8 characters
 * of b= (RFC 6008), or "" */
MS_DKIM_API const char *ms_dkim_sig_b_prefix(const struct ms_dkim_sig *s);

/* ---- keys ------------------------------------------------------------- */

struct ms_dkim_key;

/**
 * Load a private key from PEM (PKCS#8 or traditional RSA).  Ed25519 keys
 * and RSA keys of at least 2048 bits are accepted for signing (RFC 8301
 * s3.2 allows 1024, but keys that small are refused here);
 * MS_ERR_PARSE for text that is not a PEM private key, MS_ERR_UNSUPPORTED
 * for another key type, MS_ERR_LIMIT for a weak RSA key, with `why`.
 * Caller frees *out with ms_dkim_key_free().
 */
MS_DKIM_API ms_status ms_dkim_key_load_pem(const struct ms_env *env,
					   const uint8_t *pem, size_t len,
					   struct ms_dkim_key **out,
					   char *why, size_t whylen);
/** Generate a fresh key: MS_DKIM_RSA_SHA256 (bits: 0 means 2048, minimum
 * 2048) or MS_DKIM_ED25519_SHA256 (bits ignored). */
MS_DKIM_API ms_status ms_dkim_key_generate(const struct ms_env *env,
					   enum ms_dkim_algorithm alg,
					   unsigned bits,
					   struct ms_dkim_key **out,
					   char *why, size_t whylen);
/** NULL-safe. */
MS_DKIM_API void ms_dkim_key_free(struct ms_dkim_key *k);
/** The signing algorithm of the key (rsa-sha256 or ed25519-sha256). */
MS_DKIM_API enum ms_dkim_algorithm ms_dkim_key_algorithm(const struct ms_dkim_key *k);
MS_DKIM_API unsigned ms_dkim_key_bits(const struct ms_dkim_key *k);
/** The private key as PKCS#8 PEM; caller frees *out with ms_dkim_string_free. */
MS_DKIM_API ms_status ms_dkim_key_private_pem(const struct ms_dkim_key *k,
					      char **out);
/** The key record to publish at SELECTOR._domainkey.DOMAIN
 * ("v=DKIM1; k=rsa; p=..."; RSA in SubjectPublicKeyInfo form, Ed25519 as
 * the raw 32 bytes of RFC 8463 s4.2); caller frees with ms_dkim_string_free. */
MS_DKIM_API ms_status ms_dkim_key_txt_record(const struct ms_dkim_key *k,
					     char **out);
/** Free a string returned by this library (the PEM, the key record):
 * through the allocator of the env its key was made with, the memory wiped
 * first (a PEM is a private key); NULL-safe. */
MS_DKIM_API void ms_dkim_string_free(char *s);

/* ---- signing ---------------------------------------------------------- */

#define MS_DKIM_SIGN_OPTS_VERSION 1

/**
 * One signature to make.  Zero-initialise, set `version`, fill in.
 * Strings are copied; `key` is referenced (it may be freed after the call).
 */
struct ms_dkim_sign_opts {
	unsigned version;               /**< MS_DKIM_SIGN_OPTS_VERSION */
	const struct ms_dkim_key *key;  /**< required */
	const char *domain;             /**< d=, required */
	const char *selector;           /**< s=, required */
	const char *identity;           /**< i=, NULL: none (means "@d") */
	enum ms_dkim_canon header_canon;/**< default simple (0): set relaxed */
	enum ms_dkim_canon body_canon;
	/** Colon-separated names to sign, each as often as it occurs in the
	 * message; NULL: the usual set (From, To, Cc, Subject, Date,
	 * Message-ID, Reply-To, In-Reply-To, References, MIME-Version,
	 * Content-Type, Content-Transfer-Encoding, List-* ...). */
	const char *headers;
	/** Colon-separated names signed once more than they occur, so that an
	 * added field breaks the signature (RFC 6376 s8.15); NULL: From, To,
	 * Cc, Subject, Date, Reply-To, Message-ID, MIME-Version, Content-Type,
	 * Content-Transfer-Encoding; "" for none. */
	const char *oversign;
	uint64_t expire_after;          /**< x= = t= + this many seconds; 0: no x= */
};

struct ms_dkim_signer;

/** Create a signer for one message; `env` may be NULL. */
MS_DKIM_API ms_status ms_dkim_signer_new(const struct ms_env *env,
					 struct ms_dkim_signer **out);
/** NULL-safe. */
MS_DKIM_API void ms_dkim_signer_free(struct ms_dkim_signer *s);
/** Add a signature to make (before the first feed).  MS_ERR_INVALID with
 * `why` for a missing key, bad domain or selector; MS_ERR_LIMIT beyond
 * MS_DKIM_MAX_SIGNATURES. */
MS_DKIM_API ms_status ms_dkim_signer_add(struct ms_dkim_signer *s,
					 const struct ms_dkim_sign_opts *opts,
					 char *why, size_t whylen);
/** Feed the message, as for ms_dkim_verify_feed. */
MS_DKIM_API ms_status ms_dkim_signer_feed(struct ms_dkim_signer *s,
					  const uint8_t *buf, size_t len,
					  char *why, size_t whylen);
/** Compute the signatures.  MS_ERR_INVALID if the message has no From. */
MS_DKIM_API ms_status ms_dkim_signer_finish(struct ms_dkim_signer *s,
					    char *why, size_t whylen);
/**
 * All signature fields, in the order added, each "DKIM-Signature: ...\r\n"
 * (folded with CRLF TAB), to be prepended to the message in this order.
 * Borrowed, valid until the signer is freed; NULL before finish.
 */
MS_DKIM_API const char *ms_dkim_signer_headers(const struct ms_dkim_signer *s);

/* ---- renderings (what `mailsec dkim` prints) ----------------------------- */
/*
 * Each writes one result as human-readable text or one JSON object on one
 * line (MS_RENDER_JSON, newline-terminated) into *out,
 * NUL-terminated (free it with ms_render_free), *len its length (may be NULL unless noted);
 * at most 16 MiB (MS_ERR_LIMIT).  MS_ERR_INVALID for bad arguments,
 * MS_ERR_NOMEM.
 */
/** A finished verification: one line per signature "RESULT d= s= a=
 * dnssec= [reason=]" ("none (no DKIM-Signature)" when there is none);
 * JSON keys signatures[] ({result, domain, selector, algorithm, dnssec,
 * reason, identity, testing, key_bits}) and ignored. */
MS_DKIM_API ms_status ms_dkim_verify_render(const struct ms_dkim_verify *vf,
					    enum ms_render_format fmt, char **out, size_t *len);
/** A key and its record: the PKCS#8 PEM and the zone-file TXT record at
 * SELECTOR._domainkey.DOMAIN. (NULL: the words SELECTOR, DOMAIN) in
 * character-strings of at most 255 bytes; JSON keys algorithm, bits,
 * private_key, name, txt. */
MS_DKIM_API ms_status ms_dkim_key_render(const struct ms_dkim_key *k, const char *selector,
					 const char *domain, enum ms_render_format fmt,
					 char **out, size_t *len);
/** A finished signer over msg: the DKIM-Signature fields then the message,
 * the fields with LF line ends when the message's first line ends in a
 * bare LF; JSON keys signatures (the fields) and message (both).  len is
 * required (the message may hold NUL bytes). */
MS_DKIM_API ms_status ms_dkim_signer_render(const struct ms_dkim_signer *s, const uint8_t *msg,
					    size_t msglen, enum ms_render_format fmt, char **out,
					    size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_DKIM_H */
