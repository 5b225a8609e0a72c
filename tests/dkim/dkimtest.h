/* dkimtest.h - helpers for the DKIM tests: an in-memory key-record zone
 * served through ms_dns_ctx_new_custom(), a settable clock, and sign/verify
 * shortcuts that feed messages in chunks of a chosen size. */
#ifndef DKIMTEST_H
#define DKIMTEST_H

#include <mailsec/dkim.h>
#include <mailsec/dns.h>

struct fz;

struct fz *fz_new(void);
void fz_free(struct fz *z);
/* A TXT record for `name`: `txt` split into strings of at most `split`
 * bytes (0: 255). */
void fz_txt(struct fz *z, const char *name, const char *txt, size_t split);
/* Answer every query for `name` with this outcome and security. */
void fz_outcome(struct fz *z, const char *name, enum ms_dns_outcome o,
		enum ms_dns_security s);
/* Security and TTL of answers. */
void fz_set_security(struct fz *z, enum ms_dns_security s);
void fz_set_ttl(struct fz *z, uint32_t ttl);
void fz_clear(struct fz *z);
unsigned fz_queries(const struct fz *z);
struct ms_dns_ctx *fz_ctx(struct fz *z);

/* A test clock: env.now returns *clock_now. */
extern int64_t test_clock;
struct ms_env test_env_with_clock(void);

/* Sign `msg` with the given key; returns malloc'd signature fields +
 * message. */
char *test_sign(const char *msg, size_t len, const struct ms_dkim_sign_opts *const *opts,
		size_t nopts, size_t *outlen);
/* Verify, feeding `chunk` bytes at a time (0: all at once). */
struct ms_dkim_verify *test_verify(struct ms_dkim_verifier *v, const char *msg, size_t len,
				   size_t chunk);
/* Read a whole file (malloc'd, NUL-terminated); NULL if unreadable. */
char *test_read_file(const char *path, size_t *len);
/* Public key record for a key ("v=DKIM1; k=...; p=..."), malloc'd. */
char *test_txt(const struct ms_dkim_key *k);

#endif
