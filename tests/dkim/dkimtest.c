/* dkimtest.c - see dkimtest.h. */
#include "dkimtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX 64

struct fz_rec {
	char name[256];
	uint8_t rdata[4096];
	size_t len;
	int is_outcome;
	enum ms_dns_outcome outcome;
	enum ms_dns_security security;
};

struct fz {
	struct fz_rec rec[FZ_MAX];
	size_t n;
	enum ms_dns_security security;
	uint32_t ttl;
	unsigned queries;
	struct ms_dns_ctx *ctx;
};

static ms_status resolve(void *user, const char *name, uint16_t type,
			 struct ms_dns_result **out)
{
	struct fz *z = user;
	z->queries++;
	struct ms_dns_result *r = NULL;
	for (size_t i = 0; i < z->n; i++) {
		struct fz_rec *rc = &z->rec[i];
		if (strcmp(rc->name, name) == 0 && rc->is_outcome) {
			ms_dns_result_create(NULL, name, type, rc->outcome, rc->security, &r);
			*out = r;
			return MS_OK;
		}
	}
	for (size_t i = 0; i < z->n; i++) {
		struct fz_rec *rc = &z->rec[i];
		if (strcmp(rc->name, name) != 0 || type != MS_DNS_T_TXT)
			continue;
		if (r == NULL)
			ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, z->security, &r);
		ms_dns_result_add(r, MS_DNS_T_TXT, rc->rdata, rc->len);
	}
	if (r == NULL)
		ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, z->security, &r);
	ms_dns_result_set_meta(r, z->ttl, NULL, -1, -1, NULL);
	*out = r;
	return MS_OK;
}

struct fz *fz_new(void)
{
	struct fz *z = calloc(1, sizeof(*z));
	z->security = MS_DNS_INSECURE;
	z->ttl = 3600;
	ms_dns_ctx_new_custom(NULL, resolve, z, &z->ctx);
	return z;
}

void fz_free(struct fz *z)
{
	if (z) {
		ms_dns_ctx_free(z->ctx);
		free(z);
	}
}

void fz_clear(struct fz *z)
{
	z->n = 0;
	z->queries = 0;
	z->security = MS_DNS_INSECURE;
	z->ttl = 3600;
}

void fz_txt(struct fz *z, const char *name, const char *txt, size_t split)
{
	if (z->n >= FZ_MAX)
		abort();
	struct fz_rec *r = &z->rec[z->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (split == 0 || split > 255)
		split = 255;
	size_t n = strlen(txt), o = 0;
	do {
		size_t take = n < split ? n : split;
		r->rdata[o++] = (uint8_t)take;
		memcpy(r->rdata + o, txt, take);
		o += take;
		txt += take;
		n -= take;
	} while (n > 0);
	r->len = o;
}

void fz_outcome(struct fz *z, const char *name, enum ms_dns_outcome o,
		enum ms_dns_security s)
{
	struct fz_rec *r = &z->rec[z->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->is_outcome = 1;
	r->outcome = o;
	r->security = s;
}

void fz_set_security(struct fz *z, enum ms_dns_security s) { z->security = s; }
void fz_set_ttl(struct fz *z, uint32_t ttl) { z->ttl = ttl; }
unsigned fz_queries(const struct fz *z) { return z->queries; }
struct ms_dns_ctx *fz_ctx(struct fz *z) { return z->ctx; }

int64_t test_clock = 1700000000;

static int64_t clock_now(void *user)
{
	(void)user;
	return test_clock;
}

struct ms_env test_env_with_clock(void)
{
	struct ms_env e;
	memset(&e, 0, sizeof(e));
	e.version = MS_ENV_VERSION;
	e.now = clock_now;
	return e;
}

char *test_sign(const char *msg, size_t len, const struct ms_dkim_sign_opts *const *opts,
		size_t nopts, size_t *outlen)
{
	struct ms_env e = test_env_with_clock();
	struct ms_dkim_signer *s = NULL;
	char why[256] = "";
	if (ms_dkim_signer_new(&e, &s) != MS_OK)
		return NULL;
	for (size_t i = 0; i < nopts; i++)
		if (ms_dkim_signer_add(s, opts[i], why, sizeof(why)) != MS_OK) {
			fprintf(stderr, "signer_add: %s\n", why);
			ms_dkim_signer_free(s);
			return NULL;
		}
	if (ms_dkim_signer_feed(s, (const uint8_t *)msg, len, why, sizeof(why)) != MS_OK ||
	    ms_dkim_signer_finish(s, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "sign: %s\n", why);
		ms_dkim_signer_free(s);
		return NULL;
	}
	const char *h = ms_dkim_signer_headers(s);
	size_t hl = strlen(h);
	char *out = malloc(hl + len + 1);
	memcpy(out, h, hl);
	memcpy(out + hl, msg, len);
	out[hl + len] = '\0';
	if (outlen)
		*outlen = hl + len;
	ms_dkim_signer_free(s);
	return out;
}

struct ms_dkim_verify *test_verify(struct ms_dkim_verifier *v, const char *msg, size_t len,
				   size_t chunk)
{
	struct ms_dkim_verify *vf = NULL;
	char why[256] = "";
	if (ms_dkim_verify_new(v, &vf) != MS_OK)
		return NULL;
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t o = 0; o < len; o += chunk) {
		size_t n = len - o < chunk ? len - o : chunk;
		if (ms_dkim_verify_feed(vf, (const uint8_t *)msg + o, n, why, sizeof(why)) != MS_OK) {
			fprintf(stderr, "feed: %s\n", why);
			ms_dkim_verify_free(vf);
			return NULL;
		}
	}
	if (ms_dkim_verify_finish(vf, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "finish: %s\n", why);
		ms_dkim_verify_free(vf);
		return NULL;
	}
	return vf;
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0, r;
	char *b = malloc(cap);
	while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

char *test_txt(const struct ms_dkim_key *k)
{
	char *t = NULL;
	if (ms_dkim_key_txt_record(k, &t) != MS_OK)
		return NULL;
	char *c = strdup(t);
	ms_dkim_string_free(t);
	return c;
}
