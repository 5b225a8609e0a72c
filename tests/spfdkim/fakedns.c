/* fakedns.c - see fakedns.h.  Lookups are case-insensitive and follow
 * CNAMEs (up to 8), like a resolver would. */
#include "fakedns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FD_BUCKETS 256

struct rec {
	int next;            /* next record in the same hash bucket, -1 at end */
	char *name;
	uint16_t type;       /* 0 with timeout: all types; 0 without: exists */
	int timeout;
	uint8_t *rdata;
	size_t len;
};

struct sec_rule {
	char *suffix;
	enum ms_dns_security sec;
};

struct fakedns {
	struct rec *r;
	size_t n, cap;
	int head[FD_BUCKETS];
	struct sec_rule rules[16];
	size_t nrules;
	enum ms_dns_security sec;
	unsigned queries;
};

static char *lower_dup(const char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '.')
		n--;
	char *d = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		d[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	d[n] = '\0';
	return d;
}

static unsigned bucket(const char *name)
{
	unsigned h = 2166136261u;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % FD_BUCKETS;
}

struct fakedns *fakedns_new(void)
{
	struct fakedns *z = calloc(1, sizeof(*z));
	z->sec = MS_DNS_INSECURE;
	for (int i = 0; i < FD_BUCKETS; i++)
		z->head[i] = -1;
	return z;
}

void fakedns_clear(struct fakedns *z)
{
	for (size_t i = 0; i < z->n; i++) {
		free(z->r[i].name);
		free(z->r[i].rdata);
	}
	z->n = 0;
	for (int i = 0; i < FD_BUCKETS; i++)
		z->head[i] = -1;
	for (size_t i = 0; i < z->nrules; i++)
		free(z->rules[i].suffix);
	z->nrules = 0;
	z->sec = MS_DNS_INSECURE;
	z->queries = 0;
}

void fakedns_free(struct fakedns *z)
{
	if (!z)
		return;
	fakedns_clear(z);
	free(z->r);
	free(z);
}

void fakedns_set_security(struct fakedns *z, enum ms_dns_security s)
{
	z->sec = s;
}

void fakedns_set_security_below(struct fakedns *z, const char *suffix, enum ms_dns_security s)
{
	if (z->nrules < 16) {
		z->rules[z->nrules].suffix = lower_dup(suffix);
		z->rules[z->nrules++].sec = s;
	}
}

static void push(struct fakedns *z, const char *name, uint16_t type, int timeout,
		 const uint8_t *rd, size_t len)
{
	if (z->n == z->cap) {
		z->cap = z->cap ? z->cap * 2 : 32;
		z->r = realloc(z->r, z->cap * sizeof(*z->r));
	}
	struct rec *r = &z->r[z->n];
	r->name = lower_dup(name);
	unsigned b = bucket(r->name);
	r->next = z->head[b];
	z->head[b] = (int)z->n++;
	r->type = type;
	r->timeout = timeout;
	r->rdata = malloc(len ? len : 1);
	if (len)
		memcpy(r->rdata, rd, len);
	r->len = len;
}

/* Text name to uncompressed wire form; 0 if it cannot be encoded. */
static size_t to_wire(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l > 63 || o + l + 2 > cap)
			return 0;
		if (l) {
			out[o++] = (uint8_t)l;
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	return o;
}

void fakedns_add(struct fakedns *z, const char *name, const char *type, const char *value)
{
	uint8_t rd[300];
	size_t len = 0;
	if (strcasecmp(type, "A") == 0) {
		if (inet_pton(AF_INET, value, rd) == 1)
			push(z, name, MS_DNS_T_A, 0, rd, 4);
	} else if (strcasecmp(type, "AAAA") == 0) {
		if (inet_pton(AF_INET6, value, rd) == 1)
			push(z, name, MS_DNS_T_AAAA, 0, rd, 16);
	} else if (strcasecmp(type, "MX") == 0) {
		unsigned pref = (unsigned)strtoul(value, NULL, 10);
		const char *host = strchr(value, ' ');
		host = host ? host + 1 : "";
		rd[0] = (uint8_t)(pref >> 8);
		rd[1] = (uint8_t)pref;
		len = to_wire(host, rd + 2, sizeof(rd) - 2);
		if (len)
			push(z, name, MS_DNS_T_MX, 0, rd, len + 2);
	} else if (strcasecmp(type, "PTR") == 0 || strcasecmp(type, "CNAME") == 0) {
		len = to_wire(value, rd, sizeof(rd));
		if (len)
			push(z, name, strcasecmp(type, "PTR") == 0 ? MS_DNS_T_PTR : MS_DNS_T_CNAME,
			     0, rd, len);
	} else if (strcasecmp(type, "TXT") == 0) {
		const char *s[1] = { value };
		size_t l[1] = { strlen(value) };
		fakedns_add_txt(z, name, s, l, 1);
	}
}

void fakedns_add_txt(struct fakedns *z, const char *name, const char *const *strs,
		     const size_t *lens, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i] + lens[i] / 255 + 1;
	uint8_t *rd = malloc(total + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		size_t off = 0;
		do {   /* split long strings into 255-octet character-strings */
			size_t l = lens[i] - off > 255 ? 255 : lens[i] - off;
			rd[o++] = (uint8_t)l;
			memcpy(rd + o, strs[i] + off, l);
			o += l;
			off += l;
		} while (off < lens[i]);
	}
	push(z, name, MS_DNS_T_TXT, 0, rd, o);
	free(rd);
}

void fakedns_add_exists(struct fakedns *z, const char *name)
{
	push(z, name, 0, 0, NULL, 0);
}

void fakedns_add_timeout(struct fakedns *z, const char *name, uint16_t type)
{
	push(z, name, type, 1, NULL, 0);
}

unsigned fakedns_queries(const struct fakedns *z)
{
	return z->queries;
}

static enum ms_dns_security sec_for(const struct fakedns *z, const char *name)
{
	enum ms_dns_security s = z->sec;
	size_t n = strlen(name);
	for (size_t i = 0; i < z->nrules; i++) {
		size_t l = strlen(z->rules[i].suffix);
		if ((n == l && strcmp(name, z->rules[i].suffix) == 0) ||
		    (n > l && name[n - l - 1] == '.' && strcmp(name + n - l, z->rules[i].suffix) == 0))
			s = z->rules[i].sec;
	}
	return s;
}

static ms_status resolve(void *user, const char *qname, uint16_t type, struct ms_dns_result **out)
{
	struct fakedns *z = user;
	z->queries++;
	/* qname arrives normalised (lower case, no trailing dot). */
	char namebuf[256];
	char *name = namebuf;
	size_t ql = strlen(qname);
	if (ql >= sizeof(namebuf))
		ql = sizeof(namebuf) - 1;
	memcpy(namebuf, qname, ql);
	namebuf[ql] = '\0';
	enum ms_dns_security sec = sec_for(z, name);
	for (int hop = 0; hop < 8; hop++) {
		int exists = 0, cname = -1, timeout = 0, have = 0;
		unsigned b = bucket(name);
		for (int i = z->head[b]; i >= 0; i = z->r[i].next) {
			struct rec *r = &z->r[i];
			if (strcmp(r->name, name) != 0)
				continue;
			exists = 1;
			if (r->timeout && (r->type == 0 || r->type == type))
				timeout = 1;
			else if (!r->timeout && r->type == type)
				have = 1;
			else if (!r->timeout && r->type == MS_DNS_T_CNAME)
				cname = i;
		}
		if (timeout && !have) {
			if (name != namebuf) free(name);
			return ms_dns_result_create(NULL, qname, type, MS_DNS_TIMEOUT,
						    MS_DNS_INDETERMINATE, out);
		}
		if (!have && cname >= 0 && type != MS_DNS_T_CNAME) {
			char target[256];
			if (ms_dns_parse_name(z->r[cname].rdata, z->r[cname].len, target,
					      sizeof(target)) != MS_OK)
				break;
			if (name != namebuf)
				free(name);
			name = lower_dup(target);
			sec = ms_dns_security_combine(sec, sec_for(z, name));
			continue;
		}
		ms_status st = ms_dns_result_create(NULL, qname, type,
			have ? MS_DNS_ANSWER : exists ? MS_DNS_NODATA : MS_DNS_NXDOMAIN, sec, out);
		if (st != MS_OK) {
			if (name != namebuf) free(name);
			return st;
		}
		/* Chains are newest-first: add in insertion order, as loaded. */
		int idx[64];
		int ni = 0;
		for (int i = z->head[b]; have && i >= 0 && ni < 64; i = z->r[i].next)
			if (!z->r[i].timeout && z->r[i].type == type && strcmp(z->r[i].name, name) == 0)
				idx[ni++] = i;
		while (ni > 0) {
			ni--;
			ms_dns_result_add(*out, type, z->r[idx[ni]].rdata, z->r[idx[ni]].len);
		}
		/* A TTL, so evaluators with a cache (ms_spf_set_cache) keep it. */
		ms_dns_result_set_meta(*out, 300, hop > 0 ? name : NULL,
				       hop > 0 ? sec == MS_DNS_SECURE : -1, -1, NULL);
		if (name != namebuf) free(name);
		return MS_OK;
	}
	if (name != namebuf) free(name);
	return ms_dns_result_create(NULL, qname, type, MS_DNS_SERVFAIL, MS_DNS_INDETERMINATE, out);
}

struct ms_dns_ctx *fakedns_ctx(struct fakedns *z)
{
	struct ms_dns_ctx *ctx = NULL;
	if (ms_dns_ctx_new_custom(NULL, resolve, z, &ctx) != MS_OK)
		return NULL;
	return ctx;
}
