/*
 * bench_verify.c - `bench-verify`: the CPU cost of one ms_rtls_verify_peer
 * (DANE and PKIX of the server after STARTTLS) on a finished handshake,
 * against what OpenSSL's own code does for the same two checks on the same
 * SSL (issue 20):
 *   - ours: ms_rtls_verify_peer with the MTA's kept objects (opts version
 *     2): a DANE context with the certificate cache (dane_ctx) and a loaded
 *     trust store (ca_store), as requiretls_deliver.h's options hand them
 *     to every connection;
 *   - openssl: a fresh SSL with SSL_dane_enable + SSL_dane_tlsa_add and
 *     X509_verify_cert with X509_STORE_CTX_set0_dane on the handshake's
 *     X509 objects, then a PKIX X509_verify_cert (purpose ssl_server, the
 *     host name, no partial wildcards) on a kept store: both sides start
 *     from the certificates libssl decoded in the handshake.
 * The chain: leaf -> intermediate 2 -> intermediate 1 -> root (P-256); the
 * server sends leaf, intermediate 2 and intermediate 1; TLSA 2 0 1 on
 * intermediate 1 (DANE-TA at depth 2), the root in the PKIX store.  The
 * route host comes from ms_rtls_route_new over an in-memory resolver
 * (DNSSEC-secure answers: MX, A, TLSA).  The handshake is real TLS over a
 * BIO pair (in memory: no socket, nothing in the timed loop touches one).
 *
 * verify-peer-fresh: ours without the kept objects (opts version 1 with
 * ca_file: a fresh DANE context and the PEM file loaded into a new store
 * per call, what every connection of a delivery paid before issue 20),
 * against the same OpenSSL side.  Being version 1, this case also runs
 * against an older librequiretls (LD_LIBRARY_PATH), which measures the
 * old path that encoded and decoded every certificate again.
 *
 * Verdicts are asserted equal (DANE verified at the same depth, PKIX
 * valid) before timing.  CPU time (CLOCK_PROCESS_CPUTIME_ID), batches of
 * ~20 ms interleaved ours/OpenSSL, medians of ROUNDS:
 *   bench verify-peer/openssl ours_ns=<median> openssl_ns=<median> ratio=<openssl/ours>
 *   bench verify-peer-fresh/openssl ours_ns=... openssl_ns=... ratio=...
 * Usage: bench-verify [CASE]  (CASE: verify-peer or verify-peer-fresh; all by default)
 */
#include "../common/bench_common.h"

#include <mailsec/dane.h>
#include <mailsec/requiretls_route.h>
#include <mailsec/requiretls_verify.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 15
#define NCERT 4 /* leaf, inter2, inter1, root */
#define NSENT 3 /* the server sends all but the root */

static const char HOST[] = "mx.verify.test";
static const char DOMAIN[] = "verify.test";
static const char LEAF_SAN[] = "DNS:mx.verify.test"; /* HOST */

static void die(const char *m)
{
	fprintf(stderr, "bench-verify: %s\n", m);
	exit(1);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the PKI ---- */
static X509 *certs[NCERT]; /* 0 leaf .. 3 root */
static EVP_PKEY *leafkey;

static void mkpki(void)
{
	EVP_PKEY *k[NCERT];
	for (int i = 0; i < NCERT; i++)
		if ((k[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
			die("keygen");
	const char *cn[NCERT] = { HOST, "bench intermediate 2", "bench intermediate 1",
				  "bench root" };
	for (int i = NCERT - 1; i >= 0; i--)
		certs[i] = bench_x509_cert(k[i], cn[i], i == NCERT - 1 ? NULL : certs[i + 1],
					   i == NCERT - 1 ? NULL : k[i + 1], i > 0, 1, LEAF_SAN,
					   100 + i);
	leafkey = k[0];
	for (int i = 1; i < NCERT; i++)
		EVP_PKEY_free(k[i]);
}

/* ---- the handshake: real TLS over a BIO pair ---- */
static SSL *cl, *sv;
static SSL_CTX *cctx, *sctx;

/* ---- the route host, from an in-memory secure resolver ---- */
static uint8_t tlsa[3 + 32];

static ms_status mem_resolve(void *user, const char *name, uint16_t type,
			     struct ms_dns_result **out)
{
	(void)user;
	uint8_t b[64];
	size_t len = 0;
	int exists = 1;
	char tname[80];
	snprintf(tname, sizeof(tname), "_25._tcp.%s", HOST);
	if (strcasecmp(name, DOMAIN) == 0) {
		if (type == MS_DNS_T_MX) {
			b[0] = 0, b[1] = 10;
			len = 2 + bench_wire_name(HOST, b + 2);
		}
	} else if (strcasecmp(name, HOST) == 0) {
		if (type == MS_DNS_T_A) {
			inet_pton(AF_INET, "192.0.2.25", b);
			len = 4;
		}
	} else if (strcasecmp(name, tname) == 0) {
		if (type == MS_DNS_T_TLSA) {
			memcpy(b, tlsa, sizeof(tlsa));
			len = sizeof(tlsa);
		}
	} else {
		exists = 0;
	}
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_result_create(NULL, name, type,
					    len ? MS_DNS_ANSWER : exists ? MS_DNS_NODATA
									 : MS_DNS_NXDOMAIN,
					    MS_DNS_SECURE, &r);
	if (st == MS_OK && len)
		st = ms_dns_result_add(r, type, b, len);
	if (st == MS_OK)
		st = ms_dns_result_set_meta(r, 3600, NULL, -1, -1, NULL);
	if (st != MS_OK) {
		ms_dns_result_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

static struct ms_rtls_route *route;
static const struct ms_rtls_route_host *host;

static void mkroute(void)
{
	/* TLSA 2 0 1: SHA-256 of intermediate 1's whole certificate */
	unsigned char *der = NULL;
	int n = i2d_X509(certs[2], &der);
	unsigned int dl = 0;
	tlsa[0] = 2, tlsa[1] = 0, tlsa[2] = 1;
	if (n <= 0 || EVP_Digest(der, (size_t)n, tlsa + 3, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
		die("TLSA digest");
	OPENSSL_free(der);
	struct ms_dns_ctx *dns = NULL;
	char why[256] = "";
	if (ms_dns_ctx_new_custom(NULL, mem_resolve, NULL, &dns) != MS_OK)
		die("custom DNS context");
	if (ms_rtls_route_new(NULL, dns, NULL, DOMAIN, MS_RTLS_REQ_DEFAULT, NULL, &route, why,
			      sizeof(why)) != MS_OK)
		die(why);
	ms_dns_ctx_free(dns);
	if (ms_rtls_route_count(route) != 1)
		die("not one host");
	host = ms_rtls_route_host(route, 0);
	if (ms_rtls_route_host_plan(host)->mode != MS_RTLS_MODE_DANE)
		die("host not planned DANE");
}

/* ---- the two sides ---- */
static struct ms_dane_ctx *kept_dane;
static X509_STORE *kept_store; /* the root: ours' ca_store and OpenSSL's PKIX store */
static char ca_path[256];      /* the root as a PEM file: the fresh case's ca_file */

static int fresh; /* the case: 0 kept objects, 1 fresh per call */

static int ours(int *depth)
{
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION };
	if (fresh) {
		/* a version-1 caller's options: also what a library from before
		 * the kept objects takes (LD_LIBRARY_PATH: the old path) */
		o.version = 1;
		o.ca_file = ca_path;
	} else {
		o.ca_store = kept_store;
		o.dane_ctx = kept_dane;
	}
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	char why[200] = "";
	if (ms_rtls_verify_peer(NULL, cl, host, &o, &p, why, sizeof(why)) != MS_OK)
		die(why);
	*depth = p.dane_depth;
	if ((p.dane != MS_RTLS_STEP_OK || p.pkix != MS_RTLS_STEP_OK) && getenv("BENCH_VERIFY_VERBOSE"))
		fprintf(stderr, "bench-verify: ours: %s / %s\n", p.dane_detail, p.pkix_detail);
	return p.dane == MS_RTLS_STEP_OK && p.pkix == MS_RTLS_STEP_OK;
}

static SSL_CTX *dane_sctx; /* SSL_CTX_dane_enable'd, for the per-call SSL */

static int theirs(int *depth)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(cl);
	X509 *leaf = sk_X509_value(sk, 0);
	/* DANE: OpenSSL's own, as SSL_connect would run it */
	SSL *ssl = SSL_new(dane_sctx);
	if (ssl == NULL || SSL_dane_enable(ssl, HOST) <= 0 ||
	    SSL_dane_tlsa_add(ssl, tlsa[0], tlsa[1], tlsa[2], tlsa + 3, 32) <= 0)
		die("SSL_dane_enable");
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, SSL_CTX_get_cert_store(dane_sctx), leaf, sk);
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(ssl));
	X509_STORE_CTX_set0_dane(ctx, SSL_get0_dane(ssl));
	int dane_ok = X509_verify_cert(ctx) == 1;
	SSL_set_verify_result(ssl, X509_STORE_CTX_get_error(ctx));
	*depth = dane_ok ? SSL_get0_dane_authority(ssl, NULL, NULL) : -1;
	X509_STORE_CTX_free(ctx);
	SSL_free(ssl);
	/* PKIX on the kept store: the same rules as ours */
	ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, kept_store, leaf, sk);
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	X509_VERIFY_PARAM_set1_host(param, HOST, 0);
	int pkix_ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	return dane_ok && pkix_ok;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

typedef int (*verify_fn)(int *);

static int calibrate(verify_fn fn)
{
	int d, iters = 1;
	for (;;) {
		uint64_t t0 = cpu_ns();
		for (int i = 0; i < iters; i++)
			fn(&d);
		if (cpu_ns() - t0 > 20000000u || iters > (1 << 20))
			return iters;
		iters *= 2;
	}
}

static void medians(uint64_t *o, uint64_t *t)
{
	int io = calibrate(ours), it = calibrate(theirs), d;
	uint64_t ro[ROUNDS], rt[ROUNDS];
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = cpu_ns();
		for (int i = 0; i < io; i++)
			ours(&d);
		ro[k] = (cpu_ns() - t0) / (uint64_t)io;
		t0 = cpu_ns();
		for (int i = 0; i < it; i++)
			theirs(&d);
		rt[k] = (cpu_ns() - t0) / (uint64_t)it;
	}
	qsort(ro, ROUNDS, sizeof(ro[0]), cmp_u64);
	qsort(rt, ROUNDS, sizeof(rt[0]), cmp_u64);
	*o = ro[ROUNDS / 2];
	*t = rt[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	/* BENCH_VERIFY_ONCE=N: N more calls of each side after the verdict
	 * check, no timing (for valgrind --tool=callgrind: the inclusive
	 * instructions of ours() and theirs() over N + 1 calls) */
	const char *once = getenv("BENCH_VERIFY_ONCE");
	mkpki();
	bench_handshake(certs, NSENT, leafkey, HOST, &cl, &sv, &cctx, &sctx);
	mkroute();
	if (ms_dane_ctx_new(NULL, &kept_dane) != MS_OK ||
	    ms_dane_ctx_set_cert_cache(kept_dane, 64) != MS_OK)
		die("DANE context");
	kept_store = X509_STORE_new();
	if (kept_store == NULL || X509_STORE_add_cert(kept_store, certs[3]) != 1)
		die("store");
	const char *t = getenv("TMPDIR");
	snprintf(ca_path, sizeof(ca_path), "%s/bench-verify-XXXXXX", t && *t ? t : "/tmp");
	int fd = mkstemp(ca_path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL || PEM_write_X509(f, certs[3]) != 1 || fclose(f) != 0)
		die("CA file");
	dane_sctx = SSL_CTX_new(TLS_client_method());
	if (dane_sctx == NULL || SSL_CTX_dane_enable(dane_sctx) <= 0)
		die("SSL_CTX_dane_enable");
	static const char *const cases[] = { "verify-peer", "verify-peer-fresh" };
	for (int c = 0; c < 2; c++) {
		if (only && strcmp(only, cases[c]) != 0)
			continue;
		fresh = c;
		int od = -2, td = -2;
		int ov = ours(&od), tv = theirs(&td);
		if (!ov || !tv || od != td || od != 2) {
			fprintf(stderr, "bench-verify: %s: verdicts differ (ours %d depth %d, openssl %d depth %d)\n",
				cases[c], ov, od, tv, td);
			unlink(ca_path);
			return 1;
		}
		if (once) {
			for (int i = atoi(once); i > 0; i--) {
				ours(&od);
				theirs(&td);
			}
			continue;
		}
		uint64_t o, th;
		medians(&o, &th);
		printf("bench %s/openssl ours_ns=%llu openssl_ns=%llu ratio=%.2f\n", cases[c],
		       (unsigned long long)o, (unsigned long long)th, (double)th / (double)o);
		fflush(stdout);
	}
	unlink(ca_path);
	SSL_CTX_free(dane_sctx);
	X509_STORE_free(kept_store);
	ms_dane_ctx_free(kept_dane);
	ms_rtls_route_free(route);
	SSL_free(cl);
	SSL_free(sv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	for (int i = 0; i < NCERT; i++)
		X509_free(certs[i]);
	EVP_PKEY_free(leafkey);
	return 0;
}
