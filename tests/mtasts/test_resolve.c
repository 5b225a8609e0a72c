/*
 * test_resolve.c - what a policy domain may be, and where the policy host's
 * address comes from (issue 13, point 6), at the library calls an MTA makes:
 *   - a domain that is not a host name (':', '@', '#', '/', '_', a hyphen at
 *     a label's edge) is MS_ERR_INVALID at every entry point taking one,
 *     before any DNS query and any connection (a listener at the address
 *     the crafted URL would name sees nothing);
 *   - with a resolver, mta-sts.DOMAIN is resolved through it (A and AAAA)
 *     and libcurl connects to those addresses; a failed lookup is a fetch
 *     failure naming the lookup, bogus data is never used, one family that
 *     answered is enough;
 *   - the fetch refuses a policy host certificate that is not a TLS
 *     server's (EKU clientAuth only).
 * The resolver is injected (ms_dns_ctx_new_custom); the policy host is the
 * loopback policy_server.py with the test CA.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mailsec/mtasts.h>

#include "helpers.h"

static struct policy_host host;
static uint8_t buf[MS_STS_POLICY_MAX];

/* The injected resolver's answers for A and AAAA of mta-sts.example.test;
 * TXT of any name is a valid STS record.  Queries are counted. */
struct answer {
	enum ms_dns_outcome outcome;
	enum ms_dns_security security;
	const char *addr; /* NULL: no record */
};
static struct {
	struct answer a, aaaa;
	int queries, addr_queries;
} w;

static ms_status fake_resolve(void *user, const char *name, uint16_t type,
			      struct ms_dns_result **out)
{
	(void)user;
	__atomic_fetch_add(&w.queries, 1, __ATOMIC_RELAXED);
	if (type == MS_DNS_T_TXT) {
		ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER,
						    MS_DNS_INSECURE, out);
		const char *txt = "v=STSv1; id=r1;";
		uint8_t rd[64];
		rd[0] = (uint8_t)strlen(txt);
		memcpy(rd + 1, txt, rd[0]);
		if (st == MS_OK)
			ms_dns_result_add(*out, MS_DNS_T_TXT, rd, rd[0] + 1u);
		return st;
	}
	const struct answer *a = NULL;
	if (strcmp(name, "mta-sts.example.test") == 0 && type == MS_DNS_T_A)
		a = &w.a;
	else if (strcmp(name, "mta-sts.example.test") == 0 && type == MS_DNS_T_AAAA)
		a = &w.aaaa;
	if (a == NULL)
		return ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, MS_DNS_INSECURE, out);
	w.addr_queries++;
	ms_status st = ms_dns_result_create(NULL, name, type, a->outcome, a->security, out);
	if (st == MS_OK && a->addr) {
		uint8_t rd[16];
		int v6 = type == MS_DNS_T_AAAA;
		ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, a->addr, rd), 1);
		ms_dns_result_add(*out, type, rd, v6 ? 16 : 4);
	}
	return st;
}

static struct ms_dns_ctx *fake_dns(void)
{
	struct ms_dns_ctx *dns = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake_resolve, NULL, &dns), MS_OK);
	return dns;
}

static void cfg_init(struct ms_sts_fetch_config *cfg, const char *connect_to)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = MS_STS_FETCH_CONFIG_VERSION;
	cfg->ca_file = world_path("pki/mtasts/ca.pem");
	cfg->connect_to = connect_to;
	cfg->timeout_ms = 3000;
}

/* A listener on 127.0.2.77 (kernel-chosen port): where a URL-rewriting
 * domain would send libcurl. */
static int attacker_listen(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.2.77", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

START_TEST(test_crafted_domains)
{
	int port;
	int fd = attacker_listen(&port);
	char d[6][96];
	snprintf(d[0], sizeof(d[0]), "x@127.0.2.77:%d#.rt.test", port);
	snprintf(d[1], sizeof(d[1]), "127.0.2.77:%d", port);
	snprintf(d[2], sizeof(d[2]), "127.0.2.77:%d/x.test", port);
	snprintf(d[3], sizeof(d[3]), "a?b=127.0.2.77:%d.test", port);
	snprintf(d[4], sizeof(d[4]), "u:p@127.0.2.77:%d", port);
	snprintf(d[5], sizeof(d[5]), "[::1]:%d", port);
	const char *more[] = { "a_b.test", "-a.test", "a-.test", "a b.test", "a%2f.test",
			       "a\\.test", "a..test" };
	const char *all[6 + sizeof(more) / sizeof(more[0])];
	size_t n = 0;
	for (int i = 0; i < 6; i++)
		all[n++] = d[i];
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		all[n++] = more[i];

	struct ms_dns_ctx *dns = fake_dns();
	struct ms_sts_store *store = NULL;
	char why[300];
	ck_assert_int_eq(ms_sts_store_new_sqlite(NULL, ":memory:", &store, why, sizeof(why)), MS_OK);
	struct ms_sts_config scfg;
	memset(&scfg, 0, sizeof(scfg));
	scfg.version = MS_STS_CONFIG_VERSION;
	cfg_init(&scfg.fetch, NULL);
	struct ms_sts *sts = NULL;
	ck_assert_int_eq(ms_sts_new(NULL, &scfg, dns, store, &sts, why, sizeof(why)), MS_OK);
	w.queries = 0;
	for (size_t i = 0; i < n; i++) {
		struct ms_sts_fetch_config cfg;
		cfg_init(&cfg, NULL);
		size_t len = 0;
		enum ms_tlsrpt_result f = MS_TLSRPT_SUCCESS;
		why[0] = '\0';
		ck_assert_msg(ms_sts_fetch(NULL, &cfg, all[i], buf, sizeof(buf), &len, &f, why,
					   sizeof(why)) == MS_ERR_INVALID,
			      "ms_sts_fetch accepted %s (%s)", all[i], why);
		ck_assert_msg(strncmp(why, "bad domain: ", 12) == 0, "%s: %s", all[i], why);
		ck_assert_int_eq(f, MS_TLSRPT_STS_POLICY_FETCH_ERROR);
		ck_assert_int_eq(ms_sts_fetch_dns(NULL, &cfg, dns, all[i], buf, sizeof(buf), &len,
						  &f, why, sizeof(why)), MS_ERR_INVALID);
		struct ms_sts_result *r = NULL;
		ck_assert_msg(ms_sts_get_policy(sts, all[i], &r, why, sizeof(why)) == MS_ERR_INVALID,
			      "ms_sts_get_policy accepted %s", all[i]);
		ck_assert_ptr_null(r);
		ck_assert_msg(strncmp(why, "bad domain: ", 12) == 0, "%s: %s", all[i], why);
		ck_assert_int_eq(ms_sts_purge(sts, all[i]), MS_ERR_INVALID);
		struct ms_sts_entry e = { .version = MS_STS_ENTRY_VERSION };
		int found = 1;
		ck_assert_int_eq(ms_sts_store_get(store, all[i], &e, buf, sizeof(buf), &found),
				 MS_ERR_INVALID);
		ck_assert_int_eq(found, 0);
		memset(&e, 0, sizeof(e));
		e.version = MS_STS_ENTRY_VERSION;
		snprintf(e.domain, sizeof(e.domain), "%s", all[i]);
		ck_assert_int_eq(ms_sts_store_put(store, &e), MS_ERR_INVALID);
	}
	/* the entry's version is the caller's: 0 is refused, nothing written */
	struct ms_sts_entry e0;
	int found0 = 1;
	memset(&e0, 0x5A, sizeof(e0));
	e0.version = 0;
	ck_assert_int_eq(ms_sts_store_get(store, "good.test", &e0, buf, sizeof(buf), &found0),
			 MS_ERR_INVALID);
	ck_assert_int_eq(found0, 0);
	ck_assert_int_eq(e0.version, 0);
	ck_assert_int_eq((unsigned char)e0.domain[0], 0x5A);
	ck_assert_int_eq(w.queries, 0); /* rejected before any DNS query */
	ck_assert_msg(accept(fd, NULL, NULL) < 0, "a crafted domain made a connection");
	close(fd);

	ms_sts_free(sts);
	ms_sts_store_free(store);
	ms_dns_ctx_free(dns);
}
END_TEST

static ms_status seen_fetch(void *user, const char *url, uint8_t *b, size_t bufsize,
			    size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)b, (void)bufsize, (void)failure, (void)why, (void)whylen;
	snprintf(user, 300, "%s", url);
	*len = 0;
	return MS_OK;
}

/* Host names stay accepted: case, a trailing dot and U-labels are
 * normalised (the callback sees the URL libcurl would get). */
START_TEST(test_host_names_accepted)
{
	const char *in[] = { "Example.TEST.", "xn--bcher-kva.test", "b\xc3\xbc" "cher.test",
			     "a-b.c9.test" };
	const char *url[] = { "https://mta-sts.example.test/.well-known/mta-sts.txt",
			      "https://mta-sts.xn--bcher-kva.test/.well-known/mta-sts.txt",
			      "https://mta-sts.xn--bcher-kva.test/.well-known/mta-sts.txt",
			      "https://mta-sts.a-b.c9.test/.well-known/mta-sts.txt" };
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char seen[300] = "", why[200] = "";
		struct ms_sts_fetch_config cfg;
		cfg_init(&cfg, NULL);
		cfg.fetch = seen_fetch;
		cfg.fetch_user = seen;
		size_t len;
		enum ms_tlsrpt_result f;
		ck_assert_msg(ms_sts_fetch(NULL, &cfg, in[i], buf, sizeof(buf), &len, &f, why,
					   sizeof(why)) == MS_OK, "%s: %s", in[i], why);
		ck_assert_str_eq(seen, url[i]);
	}
}
END_TEST

/* ms_sts_fetch_dns with the injected resolver, the policy host reached on
 * its port only ("HOST:PORT::CPORT" keeps the name, so the address must
 * come from the resolver). */
static ms_status fetch_dns(struct ms_dns_ctx *dns, const char *connect_to,
			   enum ms_tlsrpt_result *f, char *why, size_t whylen)
{
	struct ms_sts_fetch_config cfg;
	cfg_init(&cfg, connect_to);
	size_t len = 0;
	return ms_sts_fetch_dns(NULL, &cfg, dns, "example.test", buf, sizeof(buf), &len, f, why,
				whylen);
}

static char port_only[64];

START_TEST(test_address_from_resolver)
{
	struct ms_dns_ctx *dns = fake_dns();
	char why[300] = "";
	enum ms_tlsrpt_result f;
	/* A from the resolver, AAAA NODATA: fetched from 127.0.0.1 */
	w.a = (struct answer){ MS_DNS_ANSWER, MS_DNS_SECURE, "127.0.0.1" };
	w.aaaa = (struct answer){ MS_DNS_NODATA, MS_DNS_SECURE, NULL };
	w.addr_queries = 0;
	ck_assert_msg(fetch_dns(dns, port_only, &f, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(w.addr_queries, 2);
	/* one family failed, the other answered: the answer is used */
	w.aaaa = (struct answer){ MS_DNS_TIMEOUT, MS_DNS_INDETERMINATE, NULL };
	ck_assert_msg(fetch_dns(dns, port_only, &f, why, sizeof(why)) == MS_OK, "%s", why);
	/* the resolver's address is the one used: one where nothing listens */
	w.a = (struct answer){ MS_DNS_ANSWER, MS_DNS_INSECURE, "127.0.2.78" };
	ck_assert_int_eq(fetch_dns(dns, port_only, &f, why, sizeof(why)), MS_ERR_NETWORK);
	ck_assert_int_eq(f, MS_TLSRPT_STS_POLICY_FETCH_ERROR);
	/* an override naming the address: no address lookup at all */
	w.addr_queries = 0;
	ck_assert_msg(fetch_dns(dns, host.connect_to, &f, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(w.addr_queries, 0);
	ms_dns_ctx_free(dns);
}
END_TEST

static const struct {
	struct answer a, aaaa;
	ms_status st;
	const char *why;
} failed[] = {
	{ { MS_DNS_SERVFAIL, MS_DNS_INDETERMINATE, NULL },
	  { MS_DNS_TIMEOUT, MS_DNS_INDETERMINATE, NULL }, MS_ERR_TIMEOUT,
	  "address lookup of mta-sts.example.test failed (A: servfail" },
	{ { MS_DNS_SERVFAIL, MS_DNS_BOGUS, NULL }, { MS_DNS_NODATA, MS_DNS_SECURE, NULL },
	  MS_ERR_NETWORK, "address lookup of mta-sts.example.test failed (A: servfail, bogus" },
	/* bogus data is never used, even when it holds an address (the result
	 * reads as SERVFAIL, as libunbound gives it) */
	{ { MS_DNS_ANSWER, MS_DNS_BOGUS, "127.0.0.1" }, { MS_DNS_NODATA, MS_DNS_SECURE, NULL },
	  MS_ERR_NETWORK, "address lookup of mta-sts.example.test failed (A: servfail, bogus" },
	{ { MS_DNS_NXDOMAIN, MS_DNS_SECURE, NULL }, { MS_DNS_NXDOMAIN, MS_DNS_SECURE, NULL },
	  MS_ERR_NETWORK, "no address for mta-sts.example.test" },
	{ { MS_DNS_NODATA, MS_DNS_INSECURE, NULL }, { MS_DNS_NODATA, MS_DNS_INSECURE, NULL },
	  MS_ERR_NETWORK, "no address for mta-sts.example.test" },
};

START_TEST(test_address_lookup_failed)
{
	struct ms_dns_ctx *dns = fake_dns();
	char why[300] = "";
	enum ms_tlsrpt_result f = MS_TLSRPT_SUCCESS;
	w.a = failed[_i].a;
	w.aaaa = failed[_i].aaaa;
	ck_assert_int_eq(fetch_dns(dns, port_only, &f, why, sizeof(why)), failed[_i].st);
	ck_assert_int_eq(f, MS_TLSRPT_STS_POLICY_FETCH_ERROR);
	ck_assert_msg(strncmp(why, failed[_i].why, strlen(failed[_i].why)) == 0, "%s", why);

	/* through discovery: a fetch failure (sts-policy-fetch-error, backing
	 * off), not "no policy host" */
	struct ms_sts_config scfg;
	memset(&scfg, 0, sizeof(scfg));
	scfg.version = MS_STS_CONFIG_VERSION;
	cfg_init(&scfg.fetch, port_only);
	struct ms_sts *sts = NULL;
	struct ms_sts_result *r = NULL;
	ck_assert_int_eq(ms_sts_new(NULL, &scfg, dns, NULL, &sts, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_sts_get_policy(sts, "example.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_sts_result_failure(r), MS_TLSRPT_STS_POLICY_FETCH_ERROR);
	ck_assert_int_eq(ms_sts_result_backoff(r), 1);
	ck_assert_msg(strstr(ms_sts_result_failure_detail(r), "mta-sts.example.test") != NULL,
		      "%s", ms_sts_result_failure_detail(r));
	ms_sts_result_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_get_policy_uses_resolver)
{
	/* discovery fetches through the handle's resolver: the policy host
	 * exists only there */
	struct ms_dns_ctx *dns = fake_dns();
	w.a = (struct answer){ MS_DNS_ANSWER, MS_DNS_INSECURE, "127.0.0.1" };
	w.aaaa = (struct answer){ MS_DNS_NODATA, MS_DNS_INSECURE, NULL };
	struct ms_sts_config scfg;
	memset(&scfg, 0, sizeof(scfg));
	scfg.version = MS_STS_CONFIG_VERSION;
	cfg_init(&scfg.fetch, port_only);
	struct ms_sts *sts = NULL;
	struct ms_sts_result *r = NULL;
	char why[300] = "";
	ck_assert_int_eq(ms_sts_new(NULL, &scfg, dns, NULL, &sts, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_sts_get_policy(sts, "example.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_msg(ms_sts_result_state(r) == MS_STS_POLICY, "no policy: %s",
		      ms_sts_result_failure_detail(r));
	ck_assert_int_eq(ms_sts_result_source(r), MS_STS_SRC_FETCHED);
	ms_sts_result_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_fetch_needs_server_purpose)
{
	/* The policy host's certificate names it and chains to the CA, but its
	 * EKU is clientAuth only: libcurl's OpenSSL client checks the
	 * ssl_server purpose itself, so the fetch is sts-webpki-invalid. */
	struct policy_host ca_host;
	policy_host_start_cert(&ca_host, "policy-clientauth");
	struct ms_sts_fetch_config cfg;
	cfg_init(&cfg, ca_host.connect_to);
	size_t len = 0;
	enum ms_tlsrpt_result f = MS_TLSRPT_SUCCESS;
	char why[300] = "";
	ms_status st = ms_sts_fetch(NULL, &cfg, "example.test", buf, sizeof(buf), &len, &f, why,
				    sizeof(why));
	policy_host_stop(&ca_host);
	ck_assert_msg(st == MS_ERR_TLS && f == MS_TLSRPT_STS_WEBPKI_INVALID, "%s", why);
	ck_assert_msg(strstr(why, "purpose") != NULL, "%s", why);
}
END_TEST

int main(void)
{
	policy_host_start(&host);
	snprintf(port_only, sizeof(port_only), ":::%d", host.port);
	Suite *s = suite_create("mtasts-resolve");
	TCase *tc = tcase_create("resolve");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crafted_domains);
	tcase_add_test(tc, test_host_names_accepted);
	tcase_add_test(tc, test_address_from_resolver);
	tcase_add_loop_test(tc, test_address_lookup_failed, 0,
			    (int)(sizeof(failed) / sizeof(failed[0])));
	tcase_add_test(tc, test_get_policy_uses_resolver);
	tcase_add_test(tc, test_fetch_needs_server_purpose);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed_n = srunner_ntests_failed(sr);
	srunner_free(sr);
	policy_host_stop(&host);
	return failed_n ? 1 : 0;
}
