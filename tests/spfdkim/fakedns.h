/* fakedns.h - an in-memory zone served through ms_dns_ctx_new_custom(), for
 * the SPF/DMARC/iprev unit tests and the RFC 7208 suite runner. */
#ifndef FAKEDNS_H
#define FAKEDNS_H

#include <mailsec/dns.h>

struct fakedns;

struct fakedns *fakedns_new(void);
void fakedns_free(struct fakedns *z);
void fakedns_clear(struct fakedns *z);
/* Security every answer gets (default MS_DNS_INSECURE). */
void fakedns_set_security(struct fakedns *z, enum ms_dns_security s);
/* Per-name security override (names at or below `suffix`). */
void fakedns_set_security_below(struct fakedns *z, const char *suffix,
				enum ms_dns_security s);
/* Records in text form: A/AAAA address, MX "pref host", PTR/CNAME name,
 * TXT one string (use fakedns_add_txt for several). */
void fakedns_add(struct fakedns *z, const char *name, const char *type, const char *value);
void fakedns_add_txt(struct fakedns *z, const char *name, const char *const *strs,
		     const size_t *lens, size_t n);
/* The name exists (NODATA for every type without records). */
void fakedns_add_exists(struct fakedns *z, const char *name);
/* Every query (type 0) or queries of `type` for `name` time out. */
void fakedns_add_timeout(struct fakedns *z, const char *name, uint16_t type);
/* Number of queries answered since the last clear. */
unsigned fakedns_queries(const struct fakedns *z);
/* A resolver context bound to the zone. */
struct ms_dns_ctx *fakedns_ctx(struct fakedns *z);

#endif
