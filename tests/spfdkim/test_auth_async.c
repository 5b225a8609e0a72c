/*
 * test_auth_async.c - the inbound call's async shape and its one deadline,
 * on the signed test world (MS_TEST_WORLD) as in test_auth.c, plus a
 * zone slow.test whose server never answers (a loopback UDP socket nobody
 * reads, reached through a stub-zone): a DKIM key there is a lookup that
 * never finishes.
 */
#include <check.h>
#include <arpa/inet.h>
#include <mailsec/auth.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct ms_dns_ctx *dns;
static struct ms_dkim_key *ed;
static int hole = -1;
static char conf[4096];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void setup(void)
{
	const char *world = getenv("MS_TEST_WORLD");
	ck_assert_msg(world != NULL, "MS_TEST_WORLD not set");
	/* the black hole: bound, never read */
	hole = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(hole, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(hole, (struct sockaddr *)&sa, &sl), 0);
	/* the world's configuration, then slow.test */
	char src[4096];
	snprintf(src, sizeof(src), "%s/auth.conf", world);
	snprintf(conf, sizeof(conf), "%s/auth-async-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
										 : "/tmp");
	int fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	FILE *in = fopen(src, "r"), *out = fdopen(fd, "w");
	ck_assert_ptr_nonnull(in);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fprintf(out, "server:\n    local-zone: \"slow.test.\" transparent\n"
		     "    domain-insecure: \"slow.test\"\n"
		     "stub-zone:\n    name: \"slow.test\"\n    stub-addr: 127.0.0.1@%u\n",
		(unsigned)ntohs(sa.sin_port));
	fclose(out);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = conf,
				     .timeout_ms = 8000 };
	char why[256] = "";
	ck_assert_msg(ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) == MS_OK, "%s", why);
	snprintf(src, sizeof(src), "%s/pki/dkim/ed.pem", world);
	FILE *f = fopen(src, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_msg(ms_dkim_key_load_pem(NULL, (const uint8_t *)buf, n, &ed, why,
					   sizeof(why)) == MS_OK, "%s", why);
}

static void teardown(void)
{
	ms_dkim_key_free(ed);
	ms_dns_ctx_free(dns);
	close(hole);
	unlink(conf);
}

static const char GOOD[] = "From: Joe <joe@good.test>\r\nTo: suzie@example.net\r\n"
			   "Subject: inbound\r\n\r\nHello, world.\r\n";

/* GOOD signed by good.test (selector ed); with `slow`, a second signature
 * above it by slow.test (same bh=, any b=: its key never arrives). */
static char *message(int slow)
{
	struct ms_dkim_signer *s = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &s), MS_OK);
	struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = ed,
				       .domain = "good.test", .selector = "ed",
				       .header_canon = MS_DKIM_CANON_RELAXED,
				       .body_canon = MS_DKIM_CANON_RELAXED };
	ck_assert_msg(ms_dkim_signer_add(s, &o, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)GOOD, strlen(GOOD), why,
					     sizeof(why)), MS_OK);
	ck_assert_msg(ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, "%s", why);
	const char *h = ms_dkim_signer_headers(s);
	const char *bh = strstr(h, "bh=");
	ck_assert_ptr_nonnull(bh);
	size_t bhlen = strcspn(bh, ";");
	char *out = malloc(strlen(h) + strlen(GOOD) + 512);
	ck_assert_ptr_nonnull(out);
	out[0] = '\0';
	if (slow)
		sprintf(out, "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
			     "\td=slow.test; s=hang; h=from:to:subject; %.*s;\r\n"
			     "\tb=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			     "AAAAAAAAAAAAAAAAAAAAAAAAAA==\r\n", (int)bhlen, bh);
	strcat(out, h);
	strcat(out, GOOD);
	ms_dkim_signer_free(s);
	return out;
}

static struct ms_auth *start(const char *msg, unsigned deadline_ms, ms_auth_done_fn done,
			     void *user)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = "127.0.1.1",
				  .helo = "mx1.good.test", .mail_from = "joe@good.test",
				  .deadline_ms = deadline_ms };
	struct ms_auth *a = NULL;
	char why[256] = "";
	ck_assert_msg(ms_auth_new(NULL, &o, &a, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_auth_feed(a, (const uint8_t *)msg, strlen(msg), why, sizeof(why)),
			 MS_OK);
	ck_assert_msg(ms_auth_start(a, done, user, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_auth_start(a, done, user, why, sizeof(why)), MS_ERR_STATE);
	return a;
}

START_TEST(deadline_makes_only_the_late_method_temperror)
{
	char *m = message(1);
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = "127.0.1.1",
				  .helo = "mx1.good.test", .mail_from = "joe@good.test",
				  .deadline_ms = 700 };
	struct ms_auth *a = NULL;
	char why[256] = "";
	uint64_t t0 = now_ms();
	ck_assert_msg(ms_auth_run(NULL, &o, (const uint8_t *)m, strlen(m), &a, why,
				  sizeof(why)) == MS_OK, "%s", why);
	uint64_t took = now_ms() - t0;
	/* the deadline, not the context's 8 s lookup timeout */
	ck_assert_msg(took >= 600 && took < 3000, "took %llu ms", (unsigned long long)took);
	ck_assert_uint_eq(ms_auth_dkim_count(a), 2);
	const struct ms_dkim_sig *slow = ms_auth_dkim_sig(a, 0), *good = ms_auth_dkim_sig(a, 1);
	ck_assert_str_eq(ms_dkim_sig_domain(slow), "slow.test");
	ck_assert_msg(ms_dkim_sig_result(slow) == MS_DKIM_TEMPERROR, "slow: %s (%s)",
		      ms_dkim_result_str(ms_dkim_sig_result(slow)), ms_dkim_sig_reason(slow));
	ck_assert_msg(ms_dkim_sig_result(good) == MS_DKIM_PASS, "good: %s",
		      ms_dkim_sig_reason(good));
	ck_assert_int_eq(ms_auth_spf_result(a), MS_SPF_PASS);
	ck_assert_int_eq(ms_auth_dmarc_result(a), MS_DMARC_PASS);
	ck_assert_int_eq(ms_auth_iprev_result(a), MS_IPREV_PASS);
	const char *h = ms_auth_header(a);
	ck_assert_msg(strstr(h, "dkim=temperror") && strstr(h, "header.d=slow.test") &&
		      strstr(h, "spf=pass") && strstr(h, "dmarc=pass") && strstr(h, "iprev=pass"),
		      "%s", h);
	ms_auth_free(a);
	free(m);
}
END_TEST

struct done_rec {
	int calls;
	ms_status st;
};

static void on_done(void *user, struct ms_auth *a, ms_status st)
{
	struct done_rec *d = user;
	ck_assert_ptr_nonnull(a);
	d->calls++;
	d->st = st;
}

/* Several verdicts at once on one context, driven by one poll loop. */
START_TEST(concurrent_verdicts_one_loop)
{
	enum { N = 6 };
	char *m = message(0);
	struct ms_auth *a[N];
	struct done_rec d[N];
	memset(d, 0, sizeof(d));
	for (int i = 0; i < N; i++)
		a[i] = start(m, 5000, on_done, &d[i]);
	for (int left = N; left > 0;) {
		int t = 1000;
		left = 0;
		for (int i = 0; i < N; i++) {
			int ti = 0;
			if (ms_auth_step(a[i], &ti) == MS_AUTH_PENDING) {
				left++;
				if (ti < t)
					t = ti;
			}
		}
		if (left) {
			struct pollfd p = { .fd = ms_auth_fd(a[0]), .events = POLLIN };
			poll(&p, 1, t);
		}
	}
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(d[i].calls, 1);
		ck_assert_int_eq(d[i].st, MS_OK);
		ck_assert_int_eq(ms_auth_status(a[i], NULL, 0), MS_OK);
		ck_assert_int_eq(ms_auth_step(a[i], NULL), MS_AUTH_DONE);
		ck_assert_int_eq(d[i].calls, 1);   /* once */
		const char *h = ms_auth_header(a[i]);
		ck_assert_msg(strstr(h, "spf=pass") && strstr(h, "dkim=pass") &&
			      strstr(h, "dmarc=pass") && strstr(h, "iprev=pass"), "%s", h);
		ms_auth_free(a[i]);
	}
	free(m);
}
END_TEST

/* Free while lookups are pending is cancel: no callback, nothing leaks,
 * the context goes on serving others. */
START_TEST(free_while_pending_cancels)
{
	char *m = message(1);
	struct done_rec d = { 0 };
	struct ms_auth *a = start(m, 5000, on_done, &d);
	ck_assert_int_eq(ms_auth_status(a, NULL, 0), MS_ERR_STATE);
	int t = 0;
	ck_assert_int_eq(ms_auth_step(a, &t), MS_AUTH_PENDING);
	ck_assert_int_gt(t, 0);
	ms_auth_free(a);
	ck_assert_int_eq(d.calls, 0);
	ck_assert_uint_eq(ms_dns_pending(dns), 0);
	/* a fresh verdict on the same context still completes */
	struct done_rec d2 = { 0 };
	a = start(m, 700, on_done, &d2);
	while (ms_auth_step(a, &t) == MS_AUTH_PENDING) {
		struct pollfd p = { .fd = ms_auth_fd(a), .events = POLLIN };
		poll(&p, 1, t);
	}
	ck_assert_int_eq(d2.calls, 1);
	ck_assert_int_eq(ms_auth_dkim_result(a, 0), MS_DMARC_DKIM_TEMPERROR);
	ms_auth_free(a);
	free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth-async");
	TCase *t = tcase_create("world");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, deadline_makes_only_the_late_method_temperror);
	tcase_add_test(t, concurrent_verdicts_one_loop);
	tcase_add_test(t, free_while_pending_cancels);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
