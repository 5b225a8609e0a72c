/*
 * bench_dane.c - ms_dane_verify against OpenSSL's native DANE code
 * (SSL_dane_enable, SSL_dane_tlsa_add, X509_STORE_CTX_set0_dane) on the same
 * DER chain and TLSA records; both start from DER, as a verifier does after
 * a handshake.  The OpenSSL side needs an SSL object for its DANE state, so
 * each of its operations includes SSL_new/SSL_free on a shared SSL_CTX.
 * Verdicts (and match depths) are asserted equal before timing.
 *
 * The -warm cases run ours on a context with the decoded-certificate cache
 * (ms_dane_ctx_set_cert_cache for CA certificates, ms_dane_ctx_set_leaf_cache
 * for the leaf: the same server seen again), primed by the verdict check:
 * no certificate is decoded again, everything else (dates, names, the
 * leaf's signature, the chain build, DANE matching) is done per call.
 * OpenSSL has no such cache, so its side is the same as in the cold cases.
 *
 * The -handshake cases start where an MTA is after STARTTLS: the chain the
 * client's libssl decoded in a real handshake (over a BIO pair), ours through
 * ms_dane_verify_ssl (no cache), OpenSSL's native DANE on the same X509
 * objects; neither side decodes a certificate.  The -handshake-warm cases
 * run ours on the cached context: the decoded objects of an earlier
 * handshake with the same server are in the cache, and the signatures
 * between its CA certificates in the memo.
 *
 * Output, one line per case and chain type (see docs/PERFORMANCE.md):
 *   bench <case>/openssl ours_ns=<median> openssl_ns=<median> ratio=<openssl/ours>
 */
#include "../common/bench_common.h"

#include <mailsec/dane.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEPTH 5
#define ROUNDS 15

static void die(const char *m)
{
	fprintf(stderr, "bench-dane: %s\n", m);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct chain {
	X509 *x[DEPTH];
	unsigned char *der[DEPTH];
	int len[DEPTH];
	SSL *cl, *sv;   /* a finished handshake: the server sent x[0..DEPTH-1] */
	SSL_CTX *cctx, *sctx;
};

static void mkchain(struct chain *c, int rsa)
{
	EVP_PKEY *k[DEPTH];
	for (int d = 0; d < DEPTH; d++) {
		k[d] = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
			     EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (k[d] == NULL)
			die("keygen");
	}
	char cn[32];
	for (int d = DEPTH - 1; d >= 0; d--) {
		snprintf(cn, sizeof(cn), d ? "CA %d" : "mx.example.test", d);
		c->x[d] = bench_x509_cert(k[d], cn, d == DEPTH - 1 ? NULL : c->x[d + 1],
					  d == DEPTH - 1 ? NULL : k[d + 1], d > 0, 0,
					  "DNS:mx.example.test", d + 1);
		c->der[d] = NULL;
		c->len[d] = i2d_X509(c->x[d], &c->der[d]);
	}
	/* the client's libssl decodes the chain, as after STARTTLS */
	bench_handshake(c->x, DEPTH, k[0], NULL, &c->cl, &c->sv, &c->cctx, &c->sctx);
	for (int d = 0; d < DEPTH; d++)
		EVP_PKEY_free(k[d]);
}

struct rec {
	uint8_t u, s, m;
	uint8_t data[64];
	size_t len;
};

static void mkrec(struct rec *r, const struct chain *c, int depth, uint8_t u, uint8_t s,
		  uint8_t m, int wrong)
{
	unsigned char *der = NULL;
	int n = s == 0 ? i2d_X509(c->x[depth], &der) :
			 i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->x[depth]), &der);
	unsigned int dl = 0;
	EVP_Digest(der, (size_t)n, r->data, &dl, m == 1 ? EVP_sha256() : EVP_sha512(), NULL);
	OPENSSL_free(der);
	r->u = u;
	r->s = s;
	r->m = m;
	r->len = dl;
	if (wrong)
		r->data[0] ^= 0xff;
}

struct bcase {
	const char *name;
	int ncerts;
	struct rec recs[5];
	int nrecs;
	int warm; /* ours with the certificate cache */
	int hs;   /* both sides on the handshake's decoded X509 objects */
};

static const char *const names[] = { "mx.example.test" };

/* ---- ours ---- */
static struct ms_dane_ctx *g_ctx, *g_ctx_warm;

static int ours(const struct chain *c, const struct bcase *b, int *depth)
{
	struct ms_dane_cert certs[DEPTH];
	struct ms_dane_tlsa t[5];
	for (int i = 0; i < b->ncerts; i++)
		certs[i] = (struct ms_dane_cert){ c->der[i], (size_t)c->len[i] };
	for (int i = 0; i < b->nrecs; i++)
		t[i] = (struct ms_dane_tlsa){ b->recs[i].u, b->recs[i].s, b->recs[i].m,
					      b->recs[i].data, b->recs[i].len };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = certs,
				    .nchain = (size_t)b->ncerts, .tlsa = t,
				    .ntlsa = (size_t)b->nrecs, .authentic = 1, .names = names,
				    .nnames = 1 };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	if (b->hs) {
		in.chain = NULL;
		in.nchain = 0;
		if (ms_dane_verify_ssl(b->warm ? g_ctx_warm : g_ctx, c->cl, &in, &res, NULL, 0) !=
		    MS_OK)
			die("ms_dane_verify_ssl");
	} else if (ms_dane_verify(b->warm ? g_ctx_warm : g_ctx, &in, &res, NULL, 0) != MS_OK) {
		die("ms_dane_verify");
	}
	*depth = res.depth;
	if (res.verdict != MS_DANE_VERIFIED && getenv("BENCH_DANE_VERBOSE"))
		fprintf(stderr, "bench-dane: ours: %s\n", res.reason);
	return res.verdict == MS_DANE_VERIFIED;
}

/* ---- OpenSSL native DANE, from DER ---- */
static SSL_CTX *g_sctx;

static int theirs(const struct chain *c, const struct bcase *b, int *depth)
{
	SSL *ssl = SSL_new(g_sctx);
	if (ssl == NULL || SSL_dane_enable(ssl, names[0]) <= 0)
		die("SSL_dane_enable");
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (int i = 0; i < b->nrecs; i++)
		SSL_dane_tlsa_add(ssl, b->recs[i].u, b->recs[i].s, b->recs[i].m, b->recs[i].data,
				  b->recs[i].len);
	STACK_OF(X509) *sk = b->hs ? SSL_get_peer_cert_chain(c->cl) : sk_X509_new_null();
	X509 *leaf = b->hs ? sk_X509_value(sk, 0) : NULL;
	for (int i = 0; !b->hs && i < b->ncerts; i++) {
		const unsigned char *p = c->der[i];
		X509 *x = d2i_X509(NULL, &p, c->len[i]);
		if (x == NULL)
			die("d2i_X509");
		sk_X509_push(sk, x);
		if (i == 0)
			leaf = x;
	}
	X509_STORE *store = SSL_CTX_get_cert_store(g_sctx);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, store, leaf, sk);
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(ssl));
	X509_STORE_CTX_set0_dane(ctx, SSL_get0_dane(ssl));
	int ok = X509_verify_cert(ctx) == 1;
	SSL_set_verify_result(ssl, X509_STORE_CTX_get_error(ctx));
	*depth = ok ? SSL_get0_dane_authority(ssl, NULL, NULL) : -1;
	X509_STORE_CTX_free(ctx);
	if (!b->hs)
		sk_X509_pop_free(sk, X509_free);
	SSL_free(ssl);
	return ok;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

typedef int (*verify_fn)(const struct chain *, const struct bcase *, int *);

static int calibrate(verify_fn fn, const struct chain *c, const struct bcase *b)
{
	int d, iters = 1;
	for (;;) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < iters; i++)
			fn(c, b, &d);
		if (now_ns() - t0 > 20000000u || iters > (1 << 20))
			return iters;
		iters *= 2;
	}
}

/* Batches of ~20 ms, ours and OpenSSL's interleaved round by round so that
 * load changes on a shared machine hit both alike; medians of ROUNDS. */
static void medians(const struct chain *c, const struct bcase *b, uint64_t *o, uint64_t *t)
{
	int io = calibrate(ours, c, b), it = calibrate(theirs, c, b), d;
	uint64_t ro[ROUNDS], rt[ROUNDS];
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < io; i++)
			ours(c, b, &d);
		ro[k] = (now_ns() - t0) / (uint64_t)io;
		t0 = now_ns();
		for (int i = 0; i < it; i++)
			theirs(c, b, &d);
		rt[k] = (now_ns() - t0) / (uint64_t)it;
	}
	qsort(ro, ROUNDS, sizeof(ro[0]), cmp_u64);
	qsort(rt, ROUNDS, sizeof(rt[0]), cmp_u64);
	*o = ro[ROUNDS / 2];
	*t = rt[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	if (ms_dane_ctx_new(NULL, &g_ctx) != MS_OK || ms_dane_ctx_new(NULL, &g_ctx_warm) != MS_OK ||
	    ms_dane_ctx_set_cert_cache(g_ctx_warm, 64) != MS_OK ||
	    ms_dane_ctx_set_leaf_cache(g_ctx_warm, 64) != MS_OK)
		die("ctx");
	g_sctx = SSL_CTX_new(TLS_client_method());
	if (g_sctx == NULL || SSL_CTX_dane_enable(g_sctx) <= 0)
		die("SSL_CTX_dane_enable");
	for (int rsa = 1; rsa >= 0; rsa--) {
		struct chain c;
		mkchain(&c, rsa);
		struct bcase cases[16];
		memset(cases, 0, sizeof(cases));
		cases[0] = (struct bcase){ .name = "ee-311-der", .ncerts = 2, .nrecs = 1 };
		mkrec(&cases[0].recs[0], &c, 0, 3, 1, 1, 0);
		cases[1] = (struct bcase){ .name = "ee-301-der", .ncerts = 2, .nrecs = 1 };
		mkrec(&cases[1].recs[0], &c, 0, 3, 0, 1, 0);
		const int tad[3] = { 1, 2, 4 };
		const char *tan[3] = { "ta-depth1", "ta-depth2", "ta-depth4" };
		for (int i = 0; i < 3; i++) {
			cases[2 + i] = (struct bcase){ .name = tan[i], .ncerts = DEPTH, .nrecs = 1 };
			mkrec(&cases[2 + i].recs[0], &c, tad[i], 2, 0, 1, 0);
		}
		cases[5] = (struct bcase){ .name = "nomatch", .ncerts = DEPTH, .nrecs = 2 };
		mkrec(&cases[5].recs[0], &c, 0, 3, 1, 1, 1);
		mkrec(&cases[5].recs[1], &c, 2, 2, 1, 1, 1);
		/* Five records; SHA-512 present, so the SHA-256 ones are skipped. */
		cases[6] = (struct bcase){ .name = "agility5", .ncerts = DEPTH, .nrecs = 5 };
		mkrec(&cases[6].recs[0], &c, 0, 3, 0, 1, 1);
		mkrec(&cases[6].recs[1], &c, 0, 3, 1, 1, 1);
		mkrec(&cases[6].recs[2], &c, 0, 3, 0, 2, 1);
		mkrec(&cases[6].recs[3], &c, 2, 2, 1, 2, 1);
		mkrec(&cases[6].recs[4], &c, 0, 3, 1, 2, 0);
		const char *taw[3] = { "ta-depth1-warm", "ta-depth2-warm", "ta-depth4-warm" };
		for (int i = 0; i < 3; i++) {
			cases[7 + i] = cases[2 + i];
			cases[7 + i].name = taw[i];
			cases[7 + i].warm = 1;
		}
		const char *tah[3] = { "ta-depth1-handshake", "ta-depth2-handshake",
				       "ta-depth4-handshake" };
		for (int i = 0; i < 3; i++) {
			cases[10 + i] = cases[2 + i];
			cases[10 + i].name = tah[i];
			cases[10 + i].hs = 1;
		}
		const char *tahw[3] = { "ta-depth1-handshake-warm", "ta-depth2-handshake-warm",
					"ta-depth4-handshake-warm" };
		for (int i = 0; i < 3; i++) {
			cases[13 + i] = cases[10 + i];
			cases[13 + i].name = tahw[i];
			cases[13 + i].warm = 1;
		}
		for (int i = 0; i < 16; i++) {
			char label[64];
			snprintf(label, sizeof(label), "%s-%s", cases[i].name, rsa ? "rsa2048" : "p256");
			if (only && strstr(label, only) == NULL)
				continue;
			int d1, d2;
			int v1 = ours(&c, &cases[i], &d1), v2 = theirs(&c, &cases[i], &d2);
			if (v1 != v2 || d1 != d2) {
				fprintf(stderr, "bench-dane: %s: verdicts differ (ours %d/%d, openssl %d/%d)\n",
					label, v1, d1, v2, d2);
				return 1;
			}
			uint64_t o, t;
			medians(&c, &cases[i], &o, &t);
			printf("bench %s/openssl ours_ns=%llu openssl_ns=%llu ratio=%.2f\n", label,
			       (unsigned long long)o, (unsigned long long)t, o ? (double)t / (double)o : 0.0);
			fflush(stdout);
		}
		for (int d = 0; d < DEPTH; d++) {
			X509_free(c.x[d]);
			OPENSSL_free(c.der[d]);
		}
		SSL_free(c.cl);
		SSL_free(c.sv);
		SSL_CTX_free(c.cctx);
		SSL_CTX_free(c.sctx);
	}
	SSL_CTX_free(g_sctx);
	ms_dane_ctx_free(g_ctx);
	ms_dane_ctx_free(g_ctx_warm);
	return 0;
}
