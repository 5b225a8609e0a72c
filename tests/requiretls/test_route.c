/*
 * test_route.c - librequiretls's route and peer verification (issue 14)
 * through the library calls, over the offline signed test world:
 *   - ms_rtls_route_new: a DANE domain (good.test), an MTA-STS enforce
 *     domain with a host not in its policy (stsgap.test, the policy served
 *     by a fetch callback), a null MX, NXDOMAIN, a bogus MX (bogus.test),
 *     an implicit MX, twelve MX records ordered and cut (route.test);
 *   - ms_rtls_verify_peer: a real TLS handshake on loopback with the
 *     world's demo PKI: DANE match and mismatch, PKIX match, a wrong name,
 *     the RFC 6125 wildcard rules, a clientAuth-only certificate.
 */
#include "cache_metric.h"
#include "pki.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mailsec/mtasts.h>
#include <mailsec/requiretls_route.h>
#include <mailsec/requiretls_verify.h>

/* ---- routes --------------------------------------------------------- */

static struct ms_rtls_route *route_sts(const char *domain, enum ms_rtls_requirement req,
				       size_t max_mx, struct ms_sts *sts)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_rtls_route_opts o = { .version = MS_RTLS_ROUTE_OPTS_VERSION, .max_mx = max_mx };
	struct ms_rtls_route *r = NULL;
	char why[256] = "";
	ms_status st = ms_rtls_route_new(NULL, dns, sts, domain, req, &o, &r, why, sizeof(why));
	ck_assert_msg(st == MS_OK, "%s: %s", domain, why);
	/* dns is only lent for the call */
	ms_dns_ctx_free(dns);
	return r;
}

static struct ms_rtls_route *route(const char *domain, enum ms_rtls_requirement req)
{
	return route_sts(domain, req, 0, NULL);
}

START_TEST(route_dane_domain)
{
	struct ms_rtls_route *r = route("Good.Test.", MS_RTLS_REQ_REQUIRED);
	ck_assert_str_eq(ms_rtls_route_domain(r), "good.test");
	ck_assert_int_eq(ms_rtls_route_engine_domain(r)->mx_security, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_rtls_route_flags(r), 0);
	ck_assert_uint_eq(ms_rtls_route_count(r), 2);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	ck_assert_str_eq(ms_rtls_route_host_name(h), "mx1.good.test");
	ck_assert_uint_eq(ms_rtls_route_host_preference(h), 10);
	ck_assert_uint_eq(ms_rtls_route_host_addr_count(h), 1);
	ck_assert_str_eq(ms_rtls_route_host_addr(h, 0), "127.0.1.1");
	ck_assert_ptr_null(ms_rtls_route_host_addr(h, 1));
	ck_assert_int_eq(ms_rtls_route_host_engine(h)->addr_security, MS_DNS_SECURE);
	ck_assert_int_eq(ms_rtls_route_host_engine(h)->dane, MS_RTLS_DANE_USABLE);
	ck_assert_int_eq(ms_dane_lookup_state(ms_rtls_route_host_dane(h)), MS_DANE_DNS_SECURE);
	ck_assert_str_eq(ms_rtls_route_host_sni(h), "mx1.good.test");
	const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
	ck_assert_int_eq(p->mode, MS_RTLS_MODE_DANE);
	ck_assert(p->verify_dane && p->need_requiretls);
	/* the reasons `mailsec plan` prints come from the library */
	ck_assert_uint_ge(ms_rtls_route_host_reason_count(h), 4);
	ck_assert_str_eq(ms_rtls_route_host_reason(h, 0), "MX RRset secure, host addresses secure");
	ck_assert(strncmp(ms_rtls_route_host_reason(h, 1), "DANE usable: ", 13) == 0);
	ck_assert_ptr_null(ms_rtls_route_host_reason(h, MS_RTLS_ROUTE_MAX_REASONS));
	ck_assert_str_eq(ms_rtls_route_host_name(ms_rtls_route_host(r, 1)), "mx2.good.test");
	ck_assert_ptr_null(ms_rtls_route_host(r, 2));
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_route_undeliverable(r, &o), 0);
	ms_rtls_route_free(r);
}
END_TEST

/* The MTA-STS policy of stsgap.test as its HTTPS host serves it. */
static ms_status gap_policy(void *user, const char *url, uint8_t *buf, size_t bufsize,
			    size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)user;
	(void)failure;
	(void)why;
	(void)whylen;
	ck_assert_str_eq(url, "https://mta-sts.stsgap.test/.well-known/mta-sts.txt");
	static const char body[] = "version: STSv1\r\nmode: enforce\r\nmx: mx1.stsgap.test\r\n"
				   "max_age: 86400\r\n";
	ck_assert_uint_gt(bufsize, sizeof(body));
	memcpy(buf, body, sizeof(body) - 1);
	*len = sizeof(body) - 1;
	return MS_OK;
}

static struct ms_sts *gap_sts(struct ms_dns_ctx **dns)
{
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.fetch = gap_policy;
	*dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_sts *sts = NULL;
	char why[256] = "";
	ck_assert_msg(ms_sts_new(NULL, &cfg, *dns, NULL, &sts, why, sizeof(why)) == MS_OK, "%s", why);
	return sts;
}

START_TEST(route_sts_gap)
{
	struct ms_dns_ctx *dns;
	struct ms_sts *sts = gap_sts(&dns);
	struct ms_rtls_route *r = route_sts("stsgap.test", MS_RTLS_REQ_DEFAULT, 0, sts);
	ck_assert_int_eq(ms_rtls_route_engine_domain(r)->sts_mode, MS_RTLS_STS_ENFORCE);
	ck_assert(ms_rtls_route_flags(r) & MS_RTLS_ROUTE_STS_POLICY);
	ck_assert_str_eq(ms_rtls_route_sts_policy_id(r), "gap1");
	ck_assert_str_eq(ms_rtls_route_sts_note(r), "MTA-STS policy id gap1, mode enforce");
	ck_assert_ptr_nonnull(ms_rtls_route_sts_result(r));
	ck_assert_uint_eq(ms_rtls_route_count(r), 2);
	const struct ms_rtls_route_host *h1 = ms_rtls_route_host(r, 0), *h2 = ms_rtls_route_host(r, 1);
	ck_assert_str_eq(ms_rtls_route_host_name(h1), "mx1.stsgap.test");
	ck_assert_int_eq(ms_rtls_route_host_plan(h1)->mode, MS_RTLS_MODE_PKIX);
	ck_assert_int_eq(ms_rtls_route_host_sts_verdict(h1), MS_STS_PASS);
	/* RFC 8461 s4.1: a host not in the enforced policy is not used */
	ck_assert_str_eq(ms_rtls_route_host_name(h2), "mx2.stsgap.test");
	ck_assert_int_eq(ms_rtls_route_host_plan(h2)->mode, MS_RTLS_MODE_SKIP);
	ck_assert_int_eq(ms_rtls_route_host_plan(h2)->reason, MS_RTLS_R_STS_MX_MISMATCH);
	ck_assert_int_eq(ms_rtls_route_host_sts_verdict(h2), MS_STS_FAIL);
	ck_assert_str_eq(ms_rtls_route_host_reason(h2, 2), "MTA-STS enforce: host is not listed in the policy");
	ms_rtls_route_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
}
END_TEST

static void expect_no_host(const char *domain, unsigned flag, enum ms_rtls_verdict v,
			   const char *status)
{
	struct ms_rtls_route *r = route(domain, MS_RTLS_REQ_DEFAULT);
	ck_assert_msg(ms_rtls_route_flags(r) & flag, "%s: flags %#x", domain, ms_rtls_route_flags(r));
	ck_assert_uint_eq(ms_rtls_route_count(r), 0);
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION },
			       u = { .version = MS_RTLS_OUTCOME_VERSION };
	ms_rtls_route_no_host_outcome(r, &o);
	ck_assert_msg(o.verdict == v, "%s: %s", domain, ms_rtls_verdict_str(o.verdict));
	ck_assert_str_eq(o.enhanced, status);
	ck_assert_int_eq(ms_rtls_route_undeliverable(r, &u), 1);
	ck_assert_str_eq(u.enhanced, o.enhanced);
	ms_rtls_route_free(r);
}

START_TEST(route_null_mx)
{
	/* RFC 7505 s3 */
	expect_no_host("nullmx.example.test", MS_RTLS_ROUTE_NULL_MX, MS_RTLS_PERMFAIL, "5.1.10");
}
END_TEST

START_TEST(route_nxdomain)
{
	/* a validly denied name: RFC 3463 X.1.2 */
	expect_no_host("nosuch.good.test", MS_RTLS_ROUTE_NXDOMAIN, MS_RTLS_PERMFAIL, "5.1.2");
}
END_TEST

START_TEST(route_bogus_mx)
{
	/* RFC 7672 s2.1.1: bogus is never "no MX" nor "NXDOMAIN": defer */
	expect_no_host("bogus.test", MS_RTLS_ROUTE_MX_FAILED, MS_RTLS_TEMPFAIL, "4.4.3");
	struct ms_rtls_route *r = route("bogus.test", MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_route_engine_domain(r)->mx_security, MS_DNS_BOGUS);
	ck_assert(!(ms_rtls_route_flags(r) & (MS_RTLS_ROUTE_NXDOMAIN | MS_RTLS_ROUTE_IMPLICIT_MX)));
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(route_implicit_mx)
{
	/* RFC 5321 s5.1: no MX (secure NODATA), the name itself is the host */
	struct ms_rtls_route *r = route("mx1.good.test", MS_RTLS_REQ_DEFAULT);
	ck_assert(ms_rtls_route_flags(r) & MS_RTLS_ROUTE_IMPLICIT_MX);
	ck_assert_uint_eq(ms_rtls_route_count(r), 1);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	ck_assert_str_eq(ms_rtls_route_host_name(h), "mx1.good.test");
	ck_assert_str_eq(ms_rtls_route_host_addr(h, 0), "127.0.1.1");
	ck_assert_int_eq(ms_rtls_route_host_plan(h)->mode, MS_RTLS_MODE_DANE);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(route_many_mx)
{
	/* twelve records; the default keeps the ten most preferred */
	for (int round = 0; round < 5; round++) {
		struct ms_rtls_route *r = route("route.test", MS_RTLS_REQ_DEFAULT);
		ck_assert(ms_rtls_route_flags(r) & MS_RTLS_ROUTE_TRUNCATED);
		ck_assert_uint_eq(ms_rtls_route_mx_total(r), 12);
		ck_assert_uint_eq(ms_rtls_route_count(r), 10);
		uint16_t last = 0;
		for (size_t i = 0; i < 10; i++) {
			const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
			uint16_t p = ms_rtls_route_host_preference(h);
			ck_assert_msg(p >= last, "host %zu: preference %u after %u", i, p, last);
			last = p;
			ck_assert_uint_eq(ms_rtls_route_host_addr_count(h), 1);
		}
		ck_assert_uint_eq(last, 100); /* 110 and 120 were cut */
		ck_assert_str_eq(ms_rtls_route_host_name(ms_rtls_route_host(r, 0)), "mx1.route.test");
		ms_rtls_route_free(r);
	}
	/* a caller-set limit: the three best, in order */
	struct ms_rtls_route *r = route_sts("route.test", MS_RTLS_REQ_DEFAULT, 3, NULL);
	ck_assert_uint_eq(ms_rtls_route_count(r), 3);
	ck_assert_str_eq(ms_rtls_route_host_name(ms_rtls_route_host(r, 2)), "mx3.route.test");
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(route_bad_input)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_rtls_route *r = (struct ms_rtls_route *)1;
	char why[256] = "";
	ck_assert_int_eq(ms_rtls_route_new(NULL, dns, NULL, "a b.test", MS_RTLS_REQ_DEFAULT, NULL,
					   &r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(r);
	ck_assert(strncmp(why, "bad domain", 10) == 0);
	ck_assert_int_eq(ms_rtls_route_new(NULL, NULL, NULL, "good.test", MS_RTLS_REQ_DEFAULT, NULL,
					   &r, NULL, 0), MS_ERR_INVALID);
	struct ms_rtls_route_opts o = { .version = 99 };
	ck_assert_int_eq(ms_rtls_route_new(NULL, dns, NULL, "good.test", MS_RTLS_REQ_DEFAULT, &o,
					   &r, NULL, 0), MS_ERR_INVALID);
	ms_rtls_route_free(NULL);
	ms_dns_ctx_free(dns);
}
END_TEST

/* ---- peer verification over a real handshake ------------------------ */

static X509 *load_cert(const char *rel)
{
	char path[4096];
	mstest_world_path(path, sizeof(path), rel);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	return x;
}

static EVP_PKEY *load_key(const char *rel)
{
	char path[4096];
	mstest_world_path(path, sizeof(path), rel);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* What the loopback server presents: leaf, key and the issuing CA. */
struct server {
	X509 *leaf, *issuer;
	EVP_PKEY *key;
	int listen_fd;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, s->leaf);
	SSL_CTX_use_PrivateKey(ctx, s->key);
	if (s->issuer) {
		X509_up_ref(s->issuer);
		SSL_CTX_add1_chain_cert(ctx, s->issuer);
		X509_free(s->issuer);
	}
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		char b[16];
		while (SSL_read(ssl, b, sizeof(b)) > 0)
			;
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return NULL;
}

/* Handshake with `s` on loopback, then ms_rtls_verify_peer for `h`. */
static void handshake_verify_opts(struct server *s, const struct ms_rtls_route_host *h,
				  const struct ms_rtls_verify_opts *opts, struct ms_rtls_peer *p);
static void handshake_verify(struct server *s, const struct ms_rtls_route_host *h,
			     struct ms_rtls_peer *p)
{
	handshake_verify_opts(s, h, NULL, p);
}

/* The same with `opts` (NULL: the world's demo CA as ca_file). */
static void handshake_verify_opts(struct server *s, const struct ms_rtls_route_host *h,
				  const struct ms_rtls_verify_opts *opts, struct ms_rtls_peer *p)
{
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->listen_fd, 1), 0);
	ck_assert_int_eq(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, serve, s), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	/* the caller's own stack: it never verifies in the handshake */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, ms_rtls_route_host_sni(h));
	/* before the handshake there is nothing to verify */
	char why[256] = "";
	ck_assert_int_eq(ms_rtls_verify_peer(NULL, ssl, h, NULL, p, why, sizeof(why)), MS_ERR_STATE);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	char ca[4096];
	mstest_world_path(ca, sizeof(ca), "pki/demo/ca.pem");
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION, .ca_file = ca };
	ck_assert_msg(ms_rtls_verify_peer(NULL, ssl, h, opts ? opts : &o, p, why, sizeof(why)) ==
			      MS_OK, "%s", why);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	pthread_join(th, NULL);
	close(s->listen_fd);
}

static void serve_world_opts(const char *name, const struct ms_rtls_route_host *h,
			     const struct ms_rtls_verify_opts *opts, struct ms_rtls_peer *p);
/* Serve the world's certificate `name` (pki/demo/NAME.pem, .key). */
static void serve_world(const char *name, const struct ms_rtls_route_host *h,
			struct ms_rtls_peer *p)
{
	serve_world_opts(name, h, NULL, p);
}

static void serve_world_opts(const char *name, const struct ms_rtls_route_host *h,
			     const struct ms_rtls_verify_opts *opts, struct ms_rtls_peer *p)
{
	char rel[256];
	struct server s = { 0 };
	snprintf(rel, sizeof(rel), "pki/demo/%s.pem", name);
	s.leaf = load_cert(rel);
	snprintf(rel, sizeof(rel), "pki/demo/%s.key", name);
	s.key = load_key(rel);
	s.issuer = load_cert("pki/demo/issuer.pem");
	handshake_verify_opts(&s, h, opts, p);
	X509_free(s.leaf);
	X509_free(s.issuer);
	EVP_PKEY_free(s.key);
}

START_TEST(verify_dane_and_pkix_match)
{
	struct ms_rtls_route *r = route("good.test", MS_RTLS_REQ_REQUIRED);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	serve_world("mx1.good.test", h, &p);
	ck_assert_msg(p.dane == MS_RTLS_STEP_OK, "%s", p.dane_detail);
	ck_assert_int_eq(p.dane_verdict, MS_DANE_VERIFIED);
	ck_assert_int_eq(p.dane_depth, 0);
	ck_assert_int_ge(p.dane_matched, 0);
	ck_assert_msg(p.pkix == MS_RTLS_STEP_OK, "%s", p.pkix_detail);
	ck_assert_str_eq(p.pkix_detail, "valid for mx1.good.test");
	ck_assert_uint_eq(p.chain_len, 2);
	/* the facts go to the engine as they are */
	struct ms_rtls_observed obs = { .connected = 1, .starttls_offered = 1,
					.handshake = MS_RTLS_STEP_OK, .requiretls_offered = 1 };
	ms_rtls_peer_observe(&p, &obs);
	struct ms_rtls_outcome out = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_judge(ms_rtls_route_engine_domain(r), ms_rtls_route_host_engine(h),
				       ms_rtls_route_host_plan(h), &obs, &out), MS_OK);
	ck_assert_int_eq(out.verdict, MS_RTLS_DELIVER);
	ck_assert(out.mail_requiretls);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(verify_dane_mismatch_wrong_name)
{
	/* mx1.good.test serving another host's certificate: the TLSA 3 1 1
	 * records do not match its key, and the name is not mx1.good.test */
	struct ms_rtls_route *r = route("good.test", MS_RTLS_REQ_DEFAULT);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	serve_world("mx1.stsgap.test", h, &p);
	ck_assert_int_eq(p.dane, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(p.dane_verdict, MS_DANE_NO_MATCH);
	ck_assert_int_eq(p.pkix, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(p.pkix_error, X509_V_ERR_HOSTNAME_MISMATCH);
	struct ms_rtls_observed obs = { .connected = 1, .starttls_offered = 1,
					.handshake = MS_RTLS_STEP_OK };
	ms_rtls_peer_observe(&p, &obs);
	struct ms_rtls_outcome out = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_judge(ms_rtls_route_engine_domain(r), ms_rtls_route_host_engine(h),
				       ms_rtls_route_host_plan(h), &obs, &out), MS_OK);
	ck_assert_int_eq(out.verdict, MS_RTLS_TRY_NEXT);
	ck_assert_int_eq(out.reason, MS_RTLS_R_DANE_VERIFY);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(verify_pkix_only)
{
	/* stsgap.test has no TLSA records: no DANE check, PKIX for MTA-STS */
	struct ms_dns_ctx *dns;
	struct ms_sts *sts = gap_sts(&dns);
	struct ms_rtls_route *r = route_sts("stsgap.test", MS_RTLS_REQ_DEFAULT, 0, sts);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	serve_world("mx1.stsgap.test", h, &p);
	ck_assert_int_eq(p.dane, MS_RTLS_STEP_NOT_DONE);
	ck_assert_str_eq(p.dane_detail, "");
	ck_assert_msg(p.pkix == MS_RTLS_STEP_OK, "%s", p.pkix_detail);
	ms_rtls_route_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
}
END_TEST

/* A leaf for the key of mx1.good.test, issued now by the world's demo
 * issuing CA, with `san` and `eku`. */
static X509 *issue(EVP_PKEY *key, const char *san, const char *eku)
{
	X509 *issuer = load_cert("pki/demo/issuer.pem");
	EVP_PKEY *ikey = load_key("pki/demo/issuer.key");
	X509 *x = pki_cert(key, "route test leaf", issuer, ikey, 0, san, (int64_t)time(NULL),
			   -3600L, 86400L, 4242);
	if (eku) {
		int i = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);
		ck_assert_int_ge(i, 0);
		X509_EXTENSION_free(X509_delete_ext(x, i));
		pki_ext(x, issuer, NID_ext_key_usage, eku);
		ck_assert_int_gt(X509_sign(x, ikey, EVP_sha256()), 0);
	}
	X509_free(issuer);
	EVP_PKEY_free(ikey);
	return x;
}

static void serve_issued(const char *san, const char *eku, const struct ms_rtls_route_host *h,
			 struct ms_rtls_peer *p)
{
	struct server s = { 0 };
	s.key = load_key("pki/demo/mx1.good.test.key");
	s.leaf = issue(s.key, san, eku);
	s.issuer = load_cert("pki/demo/issuer.pem");
	handshake_verify(&s, h, p);
	X509_free(s.leaf);
	X509_free(s.issuer);
	EVP_PKEY_free(s.key);
}

START_TEST(verify_wildcards)
{
	struct ms_rtls_route *r = route("good.test", MS_RTLS_REQ_DEFAULT);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0); /* mx1.good.test */
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	/* RFC 6125 s6.4.3: "*" as the whole left-most label, one label */
	serve_issued("DNS:*.good.test", NULL, h, &p);
	ck_assert_msg(p.pkix == MS_RTLS_STEP_OK, "*.good.test: %s", p.pkix_detail);
	/* a partial wildcard never matches (OpenSSL's default would) */
	serve_issued("DNS:mx*.good.test", NULL, h, &p);
	ck_assert_msg(p.pkix == MS_RTLS_STEP_FAILED, "mx*.good.test: %s", p.pkix_detail);
	ck_assert_int_eq(p.pkix_error, X509_V_ERR_HOSTNAME_MISMATCH);
	/* one label only: *.test names neither good.test's hosts ... */
	serve_issued("DNS:*.test", NULL, h, &p);
	ck_assert_msg(p.pkix == MS_RTLS_STEP_FAILED, "*.test: %s", p.pkix_detail);
	/* ... and *.good.test names neither good.test nor a.mx1.good.test
	 * (ms_rtls_verify_chain: the same checks on a held chain) */
	EVP_PKEY *key = load_key("pki/demo/mx1.good.test.key");
	X509 *leaf = issue(key, "DNS:*.good.test", NULL), *issuer = load_cert("pki/demo/issuer.pem");
	unsigned char *der[2] = { NULL, NULL };
	struct ms_dane_cert chain[2];
	X509 *xs[2] = { leaf, issuer };
	for (int i = 0; i < 2; i++) {
		int n = i2d_X509(xs[i], &der[i]);
		ck_assert_int_gt(n, 0);
		chain[i].der = der[i];
		chain[i].len = (size_t)n;
	}
	char ca[4096];
	mstest_world_path(ca, sizeof(ca), "pki/demo/ca.pem");
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION, .ca_file = ca };
	const char *names[] = { "mx9.good.test", "good.test", "a.mx1.good.test" };
	const int ok[] = { 1, 0, 0 };
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ms_rtls_verify_chain(NULL, chain, 2, names[i], NULL, &o, &p, NULL, 0),
				 MS_OK);
		ck_assert_msg((p.pkix == MS_RTLS_STEP_OK) == ok[i], "%s: %s", names[i], p.pkix_detail);
		ck_assert_int_eq(p.dane, MS_RTLS_STEP_NOT_DONE);
	}
	/* a store the caller holds (borrowed) works the same */
	X509_STORE *store = X509_STORE_new();
	ck_assert_int_eq(X509_STORE_load_file(store, ca), 1);
	struct ms_rtls_verify_opts o2 = { .version = MS_RTLS_VERIFY_OPTS_VERSION, .ca_store = store };
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, chain, 2, "mx9.good.test", NULL, &o2, &p, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(p.pkix, MS_RTLS_STEP_OK);
	X509_STORE_free(store);
	for (int i = 0; i < 2; i++)
		OPENSSL_free(der[i]);
	X509_free(leaf);
	X509_free(issuer);
	EVP_PKEY_free(key);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(verify_client_auth_only)
{
	/* RFC 5280 s4.2.1.12: a TLS client's certificate is no MX's, even for
	 * the right name and CA; DANE-EE(3) ignores the contents by design
	 * (RFC 7671 s5.1), so the 3 1 1 record of the same key still matches */
	struct ms_rtls_route *r = route("good.test", MS_RTLS_REQ_DEFAULT);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	serve_issued("DNS:mx1.good.test", "clientAuth", h, &p);
	ck_assert_int_eq(p.pkix, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(p.pkix_error, X509_V_ERR_INVALID_PURPOSE);
	ck_assert_msg(p.dane == MS_RTLS_STEP_OK, "%s", p.dane_detail);
	serve_issued("DNS:mx1.good.test", "serverAuth", h, &p);
	ck_assert_msg(p.pkix == MS_RTLS_STEP_OK, "%s", p.pkix_detail);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(verify_expired_leaf)
{
	/* a leaf whose notAfter has passed fails PKIX (X509_V_ERR_CERT_HAS_EXPIRED)
	 * for the right name and CA; DANE-EE(3) ignores dates (RFC 7671 s5.1) */
	struct ms_rtls_route *r = route("good.test", MS_RTLS_REQ_DEFAULT);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	struct server s = { 0 };
	s.key = load_key("pki/demo/mx1.good.test.key");
	X509 *issuer = load_cert("pki/demo/issuer.pem");
	EVP_PKEY *ikey = load_key("pki/demo/issuer.key");
	s.leaf = pki_cert(s.key, "expired leaf", issuer, ikey, 0, "DNS:mx1.good.test",
			  (int64_t)time(NULL), -86400L * 30, -86400L, 4343);
	s.issuer = issuer;
	handshake_verify(&s, h, &p);
	ck_assert_int_eq(p.pkix, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(p.pkix_error, X509_V_ERR_CERT_HAS_EXPIRED);
	ck_assert_msg(p.dane == MS_RTLS_STEP_OK, "%s", p.dane_detail);
	X509_free(s.leaf);
	X509_free(issuer);
	EVP_PKEY_free(ikey);
	EVP_PKEY_free(s.key);
	ms_rtls_route_free(r);
}
END_TEST

/* The same fields, whether the context and store are kept or not. */
static void assert_same_peer(const struct ms_rtls_peer *a, const struct ms_rtls_peer *b)
{
	ck_assert_int_eq(a->dane, b->dane);
	ck_assert_int_eq(a->pkix, b->pkix);
	ck_assert_int_eq(a->dane_status, b->dane_status);
	ck_assert_int_eq(a->dane_verdict, b->dane_verdict);
	ck_assert_int_eq(a->dane_tlsrpt, b->dane_tlsrpt);
	ck_assert_int_eq(a->dane_depth, b->dane_depth);
	ck_assert_int_eq(a->dane_matched, b->dane_matched);
	ck_assert_int_eq(a->pkix_error, b->pkix_error);
	ck_assert_uint_eq(a->chain_len, b->chain_len);
	ck_assert_str_eq(a->dane_reason, b->dane_reason);
	ck_assert_str_eq(a->dane_detail, b->dane_detail);
	ck_assert_str_eq(a->pkix_detail, b->pkix_detail);
}

START_TEST(verify_kept_ctx_and_store)
{
	/* mx2.good.test: TLSA 2 1 1 on the issuing CA (DANE-TA at depth 1)
	 * and PKIX to the demo root.  A DANE context with the certificate
	 * cache and a loaded store, kept for several connections (opts
	 * version 2), give the same facts as a fresh context and ca_file; the
	 * second connection takes the issuing CA from the cache. */
	struct ms_rtls_route *r = route("good.test", MS_RTLS_REQ_DEFAULT);
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 1);
	ck_assert_str_eq(ms_rtls_route_host_name(h), "mx2.good.test");
	struct ms_rtls_peer want = { .version = MS_RTLS_PEER_VERSION };
	serve_world("mx2.good.test", h, &want);
	ck_assert_msg(want.dane == MS_RTLS_STEP_OK, "%s", want.dane_detail);
	ck_assert_int_eq(want.dane_depth, 1);
	ck_assert_msg(want.pkix == MS_RTLS_STEP_OK, "%s", want.pkix_detail);

	struct cache_counts cc = { 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .metric = cache_metric, .user = &cc };
	struct ms_dane_ctx *dctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(&env, &dctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(dctx, 16), MS_OK);
	char ca[4096];
	mstest_world_path(ca, sizeof(ca), "pki/demo/ca.pem");
	X509_STORE *store = X509_STORE_new();
	ck_assert_int_eq(X509_STORE_load_file(store, ca), 1);
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION, .ca_store = store,
					 .dane_ctx = dctx };
	for (int i = 0; i < 2; i++) {
		struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
		serve_world_opts("mx2.good.test", h, &o, &p);
		assert_same_peer(&p, &want);
		/* first connection: decoded and cached; second: from the cache */
		ck_assert_int_eq(cc.miss, 1);
		ck_assert_int_eq(cc.hit, i);
		ck_assert_uint_eq(ms_dane_ctx_cert_cache_count(dctx), 1);
	}
	/* the store is borrowed: still ours, still usable */
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	serve_world_opts("mx1.stsgap.test", h, &o, &p);
	ck_assert_int_eq(p.pkix, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(p.pkix_error, X509_V_ERR_HOSTNAME_MISMATCH);
	ck_assert_int_eq(p.dane, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(cc.hit, 2); /* the same issuing CA */

	/* a version-1 caller's struct ends before dane_ctx: never read (here
	 * a poison pointer behind version 1), a fresh context per call */
	struct ms_rtls_verify_opts v1 = { .version = 1, .ca_file = ca,
					  .dane_ctx = (const struct ms_dane_ctx *)(uintptr_t)1 };
	serve_world_opts("mx2.good.test", h, &v1, &p);
	assert_same_peer(&p, &want);
	ck_assert_int_eq(cc.hit, 2);
	ck_assert_int_eq(cc.miss, 1);
	X509_STORE_free(store);
	ms_dane_ctx_free(dctx);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(verify_bad_input)
{
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	ck_assert_int_eq(ms_rtls_verify_peer(NULL, NULL, NULL, NULL, &p, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, NULL, 0, NULL, NULL, NULL, &p, NULL, 0),
			 MS_ERR_INVALID);
	struct ms_rtls_verify_opts o = { .version = 7 };
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, NULL, 0, "mx.test", NULL, &o, &p, NULL, 0),
			 MS_ERR_INVALID);
	/* no certificate at all: PKIX fails, nothing crashes */
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, NULL, 0, "mx.test", NULL, NULL, &p, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(p.pkix, MS_RTLS_STEP_FAILED);
	ck_assert_str_eq(p.pkix_detail, "no certificate");
}
END_TEST

int main(void)
{
	/* a peer that closes first must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("requiretls-route");
	TCase *t = tcase_create("route");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, route_dane_domain);
	tcase_add_test(t, route_sts_gap);
	tcase_add_test(t, route_null_mx);
	tcase_add_test(t, route_nxdomain);
	tcase_add_test(t, route_bogus_mx);
	tcase_add_test(t, route_implicit_mx);
	tcase_add_test(t, route_many_mx);
	tcase_add_test(t, route_bad_input);
	suite_add_tcase(s, t);
	t = tcase_create("verify");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, verify_dane_and_pkix_match);
	tcase_add_test(t, verify_dane_mismatch_wrong_name);
	tcase_add_test(t, verify_pkix_only);
	tcase_add_test(t, verify_wildcards);
	tcase_add_test(t, verify_client_auth_only);
	tcase_add_test(t, verify_expired_leaf);
	tcase_add_test(t, verify_kept_ctx_and_store);
	tcase_add_test(t, verify_bad_input);
	suite_add_tcase(s, t);
	return mstest_run(s);
}
