/*
 * spf_internal.h - shared pieces of the SPF code: the parsed record, the
 * macro expander and the evaluator/verdict layouts.  Never installed.
 */
#ifndef MS_SPF_INTERNAL_H
#define MS_SPF_INTERNAL_H

#include "ms_common.h"
#include "mailsec/spf.h"

#include <stdint.h>
#include <string.h>

/* Bounds: a record (joined TXT strings), one macro value, an expansion. */
#define SPF_RECORD_MAX 16384
#define SPF_VALUE_MAX 512
#define SPF_EXPAND_MAX 65536
#define SPF_MAX_TERMS 512
#define SPF_MAX_DEPTH 20

enum spf_kind {
	SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6, SPF_EXISTS
};

/* One directive; spans point into the record text. */
struct spf_term {
	enum spf_kind kind;
	char qual;                 /* '+', '-', '~', '?' */
	const char *text;          /* the whole term as written */
	size_t textlen;
	const char *spec;          /* domain-spec, NULL if absent */
	size_t speclen;
	int cidr4, cidr6;          /* prefix lengths (32/128 if absent) */
	uint8_t addr[16];          /* ip4 (first 4 bytes) / ip6 */
};

#define SPF_INLINE_TERMS 16

struct spf_record {
	struct spf_term *terms;    /* == inline_terms for short records */
	struct spf_term inline_terms[SPF_INLINE_TERMS];
	size_t nterms;
	const char *redirect;      /* domain-spec of redirect=, or NULL */
	size_t redirectlen;
	const char *exp;
	size_t explen;
};

/* Parse `rec` (not NUL-terminated; spans point into it) into `out`; the
 * caller releases it with spf_record_release().  MS_ERR_PARSE
 * with a reason on any syntax error (s4.6: the whole record is checked
 * before anything is evaluated). */
ms_status spf_record_parse(const struct ms_env *env, const char *rec, size_t len,
			   struct spf_record *out, char *why, size_t whylen);

void spf_record_release(const struct ms_env *env, struct spf_record *r);

/* Copy a NUL-terminated string into a bounded buffer (truncating). */
static inline void spf_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (cap == 0)
		return;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Validate macro-string syntax (s7.1); `exp` allows c, r, t. */
ms_status spf_macro_check(const char *s, size_t len, int exp,
			  char *why, size_t whylen);

/* Values the macros expand to (s7.3).  Strings are NUL-terminated. */
struct spf_macro_vars {
	const char *sender;        /* s */
	const char *local;         /* l */
	const char *sender_domain; /* o */
	const char *domain;        /* d */
	const char *ip_i;          /* i: dotted quad / dot-separated nibbles */
	const char *ip_c;          /* c: readable form */
	const char *v;             /* "in-addr" or "ip6" */
	const char *helo;          /* h */
	const char *receiver;      /* r */
	int64_t now;               /* t, unless clock_env is set */
	const struct ms_env *clock_env; /* t: ms_now(clock_env), read only if used */
	/* p: computed on demand (it costs DNS lookups); NULL -> "unknown". */
	const char *(*ptr)(void *user);
	void *ptr_user;
};

/*
 * Expand a macro-string into `out` (an ms_buf with its own bound).  `exp`
 * selects explanation-string rules (c, r, t allowed; text kept verbatim).
 * MS_ERR_PARSE on bad syntax, MS_ERR_LIMIT when the bound is reached.
 */
ms_status spf_macro_expand(const char *s, size_t len, int exp,
			   const struct spf_macro_vars *vars, struct ms_buf *out);

/* Truncate an expanded domain to 253 octets by dropping left-hand labels
 * (s7.3), in place; also strips one trailing dot. */
void spf_domain_truncate(char *name);

/* IP helpers (spf_ip.c). */
struct spf_ip {
	int v4;                    /* 1: IPv4 (also for IPv4-mapped IPv6) */
	uint8_t b[16];             /* v4: first 4 bytes */
	int upper;                 /* IPv6 written with upper-case hex digits */
};
int spf_ip_parse(const char *text, struct spf_ip *ip);
int spf_ip_match(const struct spf_ip *ip, const uint8_t *net, int v4, int bits);
/* A name from wire rdata (MX: skip 2), printable octets kept as they are
 * (the DNS layer's text form escapes them, but SPF looks names up again). */
ms_status spf_wire_name(const uint8_t *p, size_t len, char *buf, size_t buflen);
/* %{i} and %{c} renderings. */
void spf_ip_format_i(const struct spf_ip *ip, char *buf, size_t buflen);
void spf_ip_format_c(const struct spf_ip *ip, char *buf, size_t buflen);

struct spf_cache_entry;

struct ms_spf {
	struct ms_env env;
	struct ms_dns_ctx *dns;
	char *receiver;
	char *default_exp;
	/* optional answer cache (spf_cache.c) */
	struct spf_cache_entry *cache;
	size_t cache_cap, cache_max, cache_n;
	int64_t cache_swept;
};

/* The answer cache: get returns a borrowed result (valid until the next
 * spf_cache_maintain), put takes ownership when it returns 1. */
struct ms_dns_result *spf_cache_get(struct ms_spf *spf, const char *name, uint16_t type);
int spf_cache_put(struct ms_spf *spf, struct ms_dns_result *r);
int spf_cache_owns(const struct ms_spf *spf, const struct ms_dns_result *r);
void spf_cache_maintain(struct ms_spf *spf);
void spf_cache_free(struct ms_spf *spf);

struct ms_spf_verdict {
	struct ms_env env;
	enum ms_spf_result result;
	enum ms_spf_identity identity;
	char *strings;             /* one block holding the next six */
	char *domain, *sender, *ip, *helo;
	char *mechanism, *problem;
	char *explanation;         /* own allocation */
	unsigned dns_lookups, void_lookups;
	int any_lookup;
	enum ms_dns_security dnssec;
};

#endif
