/*
 * test_route_async.c - the route's async shape (issue 15) over the offline
 * signed test world: several routes started at once on one DNS context and
 * stepped from one poll loop end with the same plans and reasons as
 * ms_rtls_route_new (good.test DANE, stsgap.test MTA-STS enforce with a gap,
 * bogus.test bogus MX, nostarttls.test); the hosts' lookups go out in
 * parallel; each completion callback runs once; ms_rtls_route_free of a
 * pending route cancels it (no callback, no use after free under ASan).
 */
#include "mstest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/mtasts.h>
#include <mailsec/requiretls_route.h>

static const char *const domains[] = { "good.test", "stsgap.test", "bogus.test",
				       "nostarttls.test" };
#define NDOM (sizeof(domains) / sizeof(domains[0]))

/* The MTA-STS policy of stsgap.test as its HTTPS host serves it. */
static ms_status gap_policy(void *user, const char *url, uint8_t *buf, size_t bufsize,
			    size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)user;
	(void)failure;
	(void)why;
	(void)whylen;
	static const char body[] = "version: STSv1\r\nmode: enforce\r\nmx: mx1.stsgap.test\r\n"
				   "max_age: 86400\r\n";
	if (strcmp(url, "https://mta-sts.stsgap.test/.well-known/mta-sts.txt") != 0 ||
	    bufsize <= sizeof(body))
		return MS_ERR_IO;
	memcpy(buf, body, sizeof(body) - 1);
	*len = sizeof(body) - 1;
	return MS_OK;
}

static struct ms_sts *new_sts(struct ms_dns_ctx *dns)
{
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.fetch = gap_policy;
	struct ms_sts *sts = NULL;
	char why[256] = "";
	ck_assert_msg(ms_sts_new(NULL, &cfg, dns, NULL, &sts, why, sizeof(why)) == MS_OK, "%s", why);
	return sts;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything a caller reads from a route, hosts sorted by name (the order
 * within one preference is random, RFC 5321 s5.1). */
static void fingerprint(const struct ms_rtls_route *r, char *out, size_t outlen)
{
	const struct ms_rtls_domain *d = ms_rtls_route_engine_domain(r);
	size_t n = ms_rtls_route_count(r);
	int k = snprintf(out, outlen, "%s flags=%#x mxsec=%d sts=%d total=%zu mx=[%s] sts=[%s] n=%zu\n",
			 ms_rtls_route_domain(r), ms_rtls_route_flags(r), (int)d->mx_security,
			 (int)d->sts_mode, ms_rtls_route_mx_total(r), ms_rtls_route_mx_note(r),
			 ms_rtls_route_sts_note(r), n);
	char *hosts[MS_RTLS_ROUTE_MAX_MX];
	for (size_t i = 0; i < n; i++) {
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
		const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
		hosts[i] = calloc(1, 8192);
		ck_assert_ptr_nonnull(hosts[i]);
		int failed = 0;
		int m = snprintf(hosts[i], 8192,
				 "%s pref=%u addrsec=%d dane=%d addr=%d/%d [%s] [%s] sni=%s mode=%d "
				 "skip=%d dane=%d pkix=%d req=%d [%s %s]",
				 ms_rtls_route_host_name(h), ms_rtls_route_host_preference(h),
				 (int)ms_rtls_route_host_engine(h)->addr_security,
				 (int)ms_rtls_route_host_engine(h)->dane,
				 (int)ms_rtls_route_host_addr_outcome(h, &failed), failed,
				 ms_rtls_route_host_addr_note(h), ms_rtls_route_host_dane_note(h),
				 ms_rtls_route_host_sni(h), (int)p->mode, (int)p->skip_verdict,
				 (int)p->verify_dane, (int)p->verify_pkix, p->need_requiretls,
				 p->enhanced, p->text);
		for (size_t a = 0; a < ms_rtls_route_host_addr_count(h); a++)
			m += snprintf(hosts[i] + m, 8192 - (size_t)m, " %s",
				      ms_rtls_route_host_addr(h, a));
		for (size_t a = 0; a < ms_rtls_route_host_reason_count(h); a++)
			m += snprintf(hosts[i] + m, 8192 - (size_t)m, "\n  %s",
				      ms_rtls_route_host_reason(h, a));
	}
	qsort(hosts, n, sizeof(hosts[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		k += snprintf(out + k, outlen - (size_t)k, "%s\n", hosts[i]);
		free(hosts[i]);
	}
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	int u = ms_rtls_route_undeliverable(r, &o);
	snprintf(out + k, outlen - (size_t)k, "undeliverable=%d verdict=%d", u, (int)o.verdict);
}

static void sync_fingerprint(const char *domain, char *out, size_t outlen)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_sts *sts = new_sts(dns);
	struct ms_rtls_route *r = NULL;
	char why[256] = "";
	ck_assert_msg(ms_rtls_route_new(NULL, dns, sts, domain, MS_RTLS_REQ_DEFAULT, NULL, &r, why,
					sizeof(why)) == MS_OK, "%s: %s", domain, why);
	fingerprint(r, out, outlen);
	ms_rtls_route_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
}

struct slot {
	struct ms_rtls_route *r;
	int calls;
	ms_status st;
};

static void on_done(void *user, struct ms_rtls_route *r, ms_status st)
{
	struct slot *s = user;
	ck_assert_ptr_eq(s->r, r);
	s->calls++;
	s->st = st;
}

START_TEST(routes_in_one_loop)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_dns_ctx *stsdns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_sts *sts = new_sts(stsdns);
	struct slot s[NDOM];
	memset(s, 0, sizeof(s));
	char why[256] = "";
	for (size_t i = 0; i < NDOM; i++)
		ck_assert_msg(ms_rtls_route_start(NULL, dns, sts, domains[i], MS_RTLS_REQ_DEFAULT,
						  NULL, on_done, &s[i], &s[i].r, why,
						  sizeof(why)) == MS_OK, "%s: %s", domains[i], why);
	size_t left = NDOM, maxpending = 0;
	while (left > 0) {
		int t = 1000;
		struct pollfd p[NDOM];
		left = 0;
		for (size_t i = 0; i < NDOM; i++) {
			int ti = 0;
			if (s[i].calls == 0 &&
			    ms_rtls_route_step(s[i].r, &ti) == MS_RTLS_ROUTE_PENDING) {
				t = ti < t ? ti : t;
				/* with an MTA-STS handle each route has its own
				 * descriptor (an epoll set holding the DNS
				 * context's and the discovery's) */
				p[left].fd = ms_rtls_route_fd(s[i].r);
				p[left].events = POLLIN;
				ck_assert_int_ge(p[left].fd, 0);
				ck_assert_int_ne(p[left].fd, ms_dns_fd(dns));
				left++;
			}
		}
		size_t pend = ms_dns_pending(dns);
		maxpending = pend > maxpending ? pend : maxpending;
		if (left)
			poll(p, left, t);
	}
	/* every MX host's A, AAAA (and later TLSA) go out together */
	ck_assert_uint_ge(maxpending, 4);
	for (size_t i = 0; i < NDOM; i++) {
		ck_assert_int_eq(s[i].calls, 1);
		ck_assert_int_eq(s[i].st, MS_OK);
		ck_assert_int_eq(ms_rtls_route_status(s[i].r, why, sizeof(why)), MS_OK);
		/* stepping a finished route is harmless and calls nobody */
		int t = -1;
		ck_assert_int_eq(ms_rtls_route_step(s[i].r, &t), MS_RTLS_ROUTE_DONE);
		ck_assert_int_eq(s[i].calls, 1);
		static char a[1 << 16], b[1 << 16];
		fingerprint(s[i].r, a, sizeof(a));
		sync_fingerprint(domains[i], b, sizeof(b));
		ck_assert_str_eq(a, b);
		ms_rtls_route_free(s[i].r);
	}
	ms_sts_free(sts);
	ms_dns_ctx_free(stsdns);
	ms_dns_ctx_free(dns);
}
END_TEST

/* The plans the lookups give (the sync test checks them in detail). */
START_TEST(routes_expected_plans)
{
	char a[1 << 14];
	sync_fingerprint("bogus.test", a, sizeof(a));
	ck_assert_msg(strstr(a, "n=0") != NULL, "%s", a);
	sync_fingerprint("good.test", a, sizeof(a));
	ck_assert_msg(strstr(a, "DANE usable") != NULL, "%s", a);
}
END_TEST

START_TEST(free_while_pending_cancels)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct slot s = { 0 }, other = { 0 };
	char why[256] = "";
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, NULL, "good.test", MS_RTLS_REQ_DEFAULT,
					     NULL, on_done, &s, &s.r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, NULL, "good.test", MS_RTLS_REQ_DEFAULT,
					     NULL, on_done, &other, &other.r, why, sizeof(why)),
			 MS_OK);
	ck_assert_uint_ge(ms_dns_pending(dns), 2);
	ck_assert_int_eq(ms_rtls_route_status(s.r, why, sizeof(why)), MS_ERR_STATE);
	/* cancel the first one before any answer arrived */
	ms_rtls_route_free(s.r);
	ck_assert_uint_eq(ms_dns_pending(dns), 1);
	/* the other one still completes; the cancelled one is never called */
	int t = 0;
	while (ms_rtls_route_step(other.r, &t) == MS_RTLS_ROUTE_PENDING) {
		struct pollfd p = { .fd = ms_rtls_route_fd(other.r), .events = POLLIN };
		poll(&p, 1, t);
	}
	ck_assert_int_eq(s.calls, 0);
	ck_assert_int_eq(other.calls, 1);
	ck_assert_uint_eq(ms_rtls_route_count(other.r), 2);
	/* cancel one mid-way (hosts in flight) */
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, NULL, "good.test", MS_RTLS_REQ_DEFAULT,
					     NULL, on_done, &s, &s.r, why, sizeof(why)), MS_OK);
	while (ms_dns_pending(dns) < 2 &&
	       ms_rtls_route_step(s.r, &t) == MS_RTLS_ROUTE_PENDING) {
		struct pollfd p = { .fd = ms_rtls_route_fd(s.r), .events = POLLIN };
		poll(&p, 1, t);
	}
	ms_rtls_route_free(s.r);
	ck_assert_uint_eq(ms_dns_pending(dns), 0);
	ck_assert_int_eq(s.calls, 0);
	ms_rtls_route_free(other.r);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(start_bad_arguments)
{
	struct ms_rtls_route *r = (void *)1;
	char why[256] = "";
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, NULL, "bad..domain", MS_RTLS_REQ_DEFAULT,
					     NULL, NULL, NULL, &r, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(ms_rtls_route_start(NULL, NULL, NULL, "good.test", MS_RTLS_REQ_DEFAULT,
					     NULL, NULL, NULL, &r, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_route_fd(NULL), -1);
	ck_assert_int_eq(ms_rtls_route_step(NULL, NULL), MS_RTLS_ROUTE_DONE);
	ms_dns_ctx_free(dns);
}
END_TEST

/* The route's deadline over a lookup that never ends: the world plus a
 * zone hang.test whose server never answers (a loopback UDP socket nobody
 * reads, reached through a stub-zone).  At the deadline the MX lookup
 * reads as failed (timeout): the route completes (MS_OK) with
 * MS_RTLS_ROUTE_MX_FAILED and a temporary verdict, in deadline time, not
 * the context's 8 s lookup timeout; never "no MX" (which would mean the
 * domain's own address, RFC 5321 s5.1) nor a permanent failure. */
START_TEST(deadline_defers_a_pending_lookup)
{
	int hole = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(hole, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(hole, (struct sockaddr *)&sa, &sl), 0);
	char src[4096], conf[4096], buf[8192];
	mstest_world_path(src, sizeof(src), "auth.conf");
	snprintf(conf, sizeof(conf), "%s/route-hang-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	FILE *in = fopen(src, "r"), *out = fdopen(fd, "w");
	ck_assert_ptr_nonnull(in);
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fprintf(out, "server:\n    local-zone: \"hang.test.\" transparent\n"
		     "    domain-insecure: \"hang.test\"\n"
		     "stub-zone:\n    name: \"hang.test\"\n    stub-addr: 127.0.0.1@%u\n",
		(unsigned)ntohs(sa.sin_port));
	fclose(out);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = conf,
				     .timeout_ms = 8000 };
	struct ms_dns_ctx *dns = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_rtls_route_opts o = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					.deadline_ms = mstest_scale_ms(700) };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct ms_rtls_route *r = NULL;
	ck_assert_msg(ms_rtls_route_new(NULL, dns, NULL, "mx.hang.test", MS_RTLS_REQ_REQUIRED, &o,
					&r, why, sizeof(why)) == MS_OK, "%s", why);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 650 && ms < (long)mstest_scale_ms(3000), "took %ld ms", ms);
	ck_assert_msg(ms_rtls_route_flags(r) & MS_RTLS_ROUTE_MX_FAILED, "flags %#x, %s",
		      ms_rtls_route_flags(r), ms_rtls_route_mx_note(r));
	ck_assert(!(ms_rtls_route_flags(r) & (MS_RTLS_ROUTE_IMPLICIT_MX | MS_RTLS_ROUTE_NXDOMAIN)));
	ck_assert_uint_eq(ms_rtls_route_count(r), 0);
	struct ms_rtls_outcome oc = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_route_undeliverable(r, &oc), 1);
	ck_assert_int_eq(oc.verdict, MS_RTLS_TEMPFAIL);
	ms_rtls_route_free(r);
	ck_assert_uint_eq(ms_dns_pending(dns), 0);   /* the MX lookup was cancelled */
	ms_dns_ctx_free(dns);
	close(hole);
	unlink(conf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("requiretls-route-async");
	TCase *tc = tcase_create("async");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, routes_in_one_loop);
	tcase_add_test(tc, routes_expected_plans);
	tcase_add_test(tc, free_while_pending_cancels);
	tcase_add_test(tc, start_bad_arguments);
	tcase_add_test(tc, deadline_defers_a_pending_lookup);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
