/**
 * @file
 * mailsec/dkim_signtab.h - which outgoing message to DKIM-sign, and with
 * which keys: the signing policy of an MTA or milter, in the shape of
 * OpenDKIM's KeyTable, SigningTable and InternalHosts (opendkim.conf(5)).
 *
 *   KeyTable      NAME -> DOMAIN, SELECTOR, private key (RSA or Ed25519)
 *   SigningTable  PATTERN -> one or more key NAMEs (e.g. an RSA and an
 *                 Ed25519 key, RFC 8463 s3: sign with both)
 *   networks      the internal networks whose clients submit outgoing mail
 *
 * A message is signed when it is outgoing (the SMTP client's address is in
 * one of the networks, or the client authenticated with SMTP AUTH) and the
 * author domain of its From field (RFC 5322 s3.6.2; the DMARC parser of
 * mailsec/dmarc.h, so a message with no From, two From fields or mailboxes
 * in two domains is never signed) matches a SigningTable pattern.  The
 * first matching pattern, in the order the rules were added, decides.
 *
 * Patterns (matched against the author domain, ASCII case-insensitively):
 *   example.com     exactly that domain
 *   *\@example.com   the same (OpenDKIM refile spelling)
 *   *.example.com   any subdomain of example.com, not example.com itself
 *   .example.com    the same
 *   *               any domain
 * Local-part patterns (user\@example.com) are refused: the decision is per
 * domain.
 *
 * The key files are read by the caller (a library never reads a config
 * path on its own): load them with ms_dkim_key_load_pem and hand them to
 * ms_dkim_signtab_add_key.
 *
 * Thread safety: build the table in one thread; once built it is only
 * read and may be shared by any number of threads (ms_dkim_signtab_decide
 * and ms_dkim_signtab_signer do not modify it).
 */
#ifndef MAILSEC_DKIM_SIGNTAB_H
#define MAILSEC_DKIM_SIGNTAB_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dkim.h>
#include <mailsec/env.h>
#include <mailsec/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MS_SPFDKIM_BUILDING) && defined(__GNUC__)
#define MS_SIGNTAB_API __attribute__((visibility("default")))
#else
#define MS_SIGNTAB_API
#endif

/** Hard bounds. */
#define MS_DKIM_SIGNTAB_MAX_KEYS 256u      /**< KeyTable entries */
#define MS_DKIM_SIGNTAB_MAX_RULES 1024u    /**< SigningTable entries */
#define MS_DKIM_SIGNTAB_MAX_NETWORKS 256u  /**< internal networks */
#define MS_DKIM_SIGNTAB_MAX_RULE_KEYS 4u   /**< keys named by one rule */
#define MS_DKIM_SIGNTAB_MAX_NAME 64u       /**< bytes in a key name */

/** The decision for one message. */
enum ms_dkim_signtab_decision {
	MS_DKIM_SIGNTAB_SIGN = 0,          /**< outgoing, a rule matched: sign */
	MS_DKIM_SIGNTAB_NOT_OUTGOING = 1,  /**< client neither internal nor authenticated */
	MS_DKIM_SIGNTAB_NO_RULE = 2,       /**< no pattern matches the author domain */
	MS_DKIM_SIGNTAB_BAD_FROM = 3       /**< no single author domain (RFC 7489 s6.6.1) */
};

struct ms_dkim_signtab;

/**
 * Create an empty table (signs nothing).
 * @param env hooks, may be NULL (copied)
 * @param out receives the table; caller frees with ms_dkim_signtab_free()
 * @return MS_OK, MS_ERR_INVALID, MS_ERR_NOMEM
 */
MS_SIGNTAB_API ms_status ms_dkim_signtab_new(const struct ms_env *env,
					     struct ms_dkim_signtab **out);
/** NULL-safe; frees the keys the table owns. */
MS_SIGNTAB_API void ms_dkim_signtab_free(struct ms_dkim_signtab *t);

/**
 * Add a KeyTable entry.
 * @param t the table
 * @param name key name: 1..MS_DKIM_SIGNTAB_MAX_NAME bytes of letters,
 *        digits, '.', '-', '_'; unique in the table
 * @param domain d= (RFC 6376 s3.5), a domain name
 * @param selector s= (RFC 6376 s3.1)
 * @param key on MS_OK the table takes ownership; on failure the caller
 *        keeps it
 * @param why optional buffer for the reason of a failure
 * @param whylen its size
 * @return MS_OK; MS_ERR_INVALID with `why` for a bad or duplicate name, a
 *         bad domain or selector, a NULL key; MS_ERR_LIMIT beyond
 *         MS_DKIM_SIGNTAB_MAX_KEYS; MS_ERR_NOMEM
 */
MS_SIGNTAB_API ms_status ms_dkim_signtab_add_key(struct ms_dkim_signtab *t, const char *name,
						 const char *domain, const char *selector,
						 struct ms_dkim_key *key,
						 char *why, size_t whylen);

/**
 * Add a SigningTable entry: `pattern` (see the file comment) signs with
 * the keys named in `keynames`, comma-separated (at most
 * MS_DKIM_SIGNTAB_MAX_RULE_KEYS), each already added.
 * @return MS_OK; MS_ERR_INVALID with `why` for a bad pattern or an unknown
 *         key name; MS_ERR_LIMIT beyond MS_DKIM_SIGNTAB_MAX_RULES; MS_ERR_NOMEM
 */
MS_SIGNTAB_API ms_status ms_dkim_signtab_add_rule(struct ms_dkim_signtab *t,
						  const char *pattern, const char *keynames,
						  char *why, size_t whylen);

/**
 * Add an internal network: "192.0.2.0/24", "2001:db8::/32" or a single
 * address.  IPv4-mapped IPv6 client addresses match IPv4 networks.
 * @return MS_OK; MS_ERR_INVALID with `why` for a malformed network or a
 *         prefix longer than the address; MS_ERR_LIMIT beyond
 *         MS_DKIM_SIGNTAB_MAX_NETWORKS
 */
MS_SIGNTAB_API ms_status ms_dkim_signtab_add_network(struct ms_dkim_signtab *t,
						     const char *network,
						     char *why, size_t whylen);

/**
 * Is mail from this client outgoing?
 * @param t the table
 * @param client_ip the SMTP client's address (text); NULL or unparsable
 *        is never internal
 * @param authenticated nonzero when the client authenticated (SMTP AUTH)
 * @return 1 outgoing, 0 not
 */
MS_SIGNTAB_API int ms_dkim_signtab_outgoing(const struct ms_dkim_signtab *t,
					    const char *client_ip, int authenticated);

/**
 * Decide for one message.
 * @param t the table
 * @param client_ip the SMTP client's address (text); NULL or unparsable
 *        is never internal
 * @param authenticated nonzero when the client authenticated (SMTP AUTH)
 * @param from_values the bodies of every From field (after the colon),
 *        n of them, from_lens[i] bytes each (not NUL-terminated)
 * @param from_lens the lengths of from_values
 * @param n how many From fields
 * @param decision receives the decision
 * @param nkeys receives the number of keys to sign with (0 unless SIGN)
 * @param why optional buffer for the reason of a failure
 * @param whylen its size
 * @return MS_OK once *decision is set; MS_ERR_INVALID for bad arguments
 */
MS_SIGNTAB_API ms_status ms_dkim_signtab_decide(const struct ms_dkim_signtab *t,
						const char *client_ip, int authenticated,
						const uint8_t *const *from_values,
						const size_t *from_lens, size_t n,
						enum ms_dkim_signtab_decision *decision,
						size_t *nkeys, char *why, size_t whylen);

/**
 * ms_dkim_signtab_decide, and on SIGN a signer with one signature per key
 * of the matching rule (relaxed/relaxed canonicalization, the default
 * signed and over-signed header sets of mailsec/dkim.h), ready for
 * ms_dkim_signer_feed.  *out is NULL for any other decision.
 * @param t the table
 * @param client_ip as for ms_dkim_signtab_decide
 * @param authenticated as for ms_dkim_signtab_decide
 * @param from_values as for ms_dkim_signtab_decide
 * @param from_lens as for ms_dkim_signtab_decide
 * @param n as for ms_dkim_signtab_decide
 * @param decision receives the decision
 * @param why optional buffer for the reason of a failure
 * @param whylen its size
 * @param out receives the signer; caller frees with ms_dkim_signer_free()
 * @return MS_OK once *decision is set; MS_ERR_INVALID, MS_ERR_NOMEM
 */
MS_SIGNTAB_API ms_status ms_dkim_signtab_signer(const struct ms_dkim_signtab *t,
						const char *client_ip, int authenticated,
						const uint8_t *const *from_values,
						const size_t *from_lens, size_t n,
						enum ms_dkim_signtab_decision *decision,
						struct ms_dkim_signer **out,
						char *why, size_t whylen);

/** "sign", "not-outgoing", "no-rule", "bad-from". */
MS_SIGNTAB_API const char *ms_dkim_signtab_decision_str(enum ms_dkim_signtab_decision d);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_DKIM_SIGNTAB_H */
