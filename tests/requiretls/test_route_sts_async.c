/*
 * test_route_sts_async.c - the route's MTA-STS discovery runs beside its
 * lookups without blocking, and the route's deadline (issue 15):
 *   - a policy host that stalls (mta-sts.slow.test of the loopback
 *     policy_server.py trickles its body for ~25 s) never blocks
 *     ms_rtls_route_step: every step returns at once, the caller polls the
 *     route's one descriptor;
 *   - at the route's deadline the pending discovery makes the build fail
 *     with MS_ERR_TIMEOUT (temporary: defer), never "no policy"; the
 *     completion callback runs once with it; ms_rtls_route_new agrees;
 *   - a route whose policy arrives in time is unaffected by the deadline
 *     (the policy applies).
 * DNS is injected (tests/common/sts_peer.h: every name NXDOMAIN except the
 * MTA-STS TXT records and the policy hosts' A 127.0.0.1), so the route's
 * lookups are immediate.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailsec/mtasts.h>
#include <mailsec/requiretls_deliver.h>
#include <mailsec/requiretls_route.h>

#include "mstest.h"
#include "sts_peer.h"

/* A route deadline for the stalled fetch: it scales under valgrind, but it
 * must still fall well before mta-sts.slow.test's body has trickled in
 * (65 bytes, one per 0.5 s: ~32 s), or the fetch would complete instead. */
static unsigned stall_deadline(unsigned ms)
{
	unsigned d = mstest_scale_ms(ms);
	return d > 20000 ? 20000 : d;
}

static struct sts_peer peer;
static struct ms_dns_ctx *dns;
static struct ms_sts *sts;

static void setup(void)
{
	sts_peer_start(&peer, NULL);
	dns = peer.dns;
	sts = peer.sts;
}

static void teardown(void)
{
	sts_peer_stop(&peer);
}

static void on_done(void *user, struct ms_rtls_route *r, ms_status st)
{
	(void)r;
	int *calls = user;
	calls[0]++;
	calls[1] = (int)st;
}

/* Step a route from a poll loop on its descriptor; returns the longest
 * step (ms) and the time to completion in *took (or the limit). */
static int drive(struct ms_rtls_route *r, const int *calls, unsigned limit_ms, uint64_t *took)
{
	uint64_t t0 = mstest_now_ms();
	int longest = 0;
	while (mstest_now_ms() - t0 < limit_ms) {
		int t = -1;
		uint64_t s0 = mstest_now_ms();
		enum ms_rtls_route_state st = ms_rtls_route_step(r, &t);
		int d = (int)(mstest_now_ms() - s0);
		longest = d > longest ? d : longest;
		if (st == MS_RTLS_ROUTE_DONE || calls[0])
			break;
		ck_assert_int_ge(t, 0);
		struct pollfd p = { .fd = ms_rtls_route_fd(r), .events = POLLIN };
		ck_assert_int_ge(p.fd, 0);
		poll(&p, 1, t);
	}
	*took = mstest_now_ms() - t0;
	return longest;
}

START_TEST(stalled_policy_fetch_never_blocks_and_the_deadline_defers)
{
	struct ms_rtls_route_opts o = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					.deadline_ms = stall_deadline(1500) };
	struct ms_rtls_route *r = NULL;
	char why[300] = "";
	int calls[2] = { 0, 0 };
	ck_assert_msg(ms_rtls_route_start(NULL, dns, sts, "slow.test", MS_RTLS_REQ_DEFAULT, &o,
					  on_done, calls, &r, why, sizeof(why)) == MS_OK, "%s",
		      why);
	uint64_t took = 0;
	int longest = drive(r, calls, mstest_scale_ms(10000), &took);
	ck_assert_msg(longest < (int)mstest_scale_ms(200), "a step took %d ms while the fetch was pending", longest);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], MS_ERR_TIMEOUT);
	/* the deadline counts from ms_rtls_route_start, `took` from its return */
	ck_assert_msg(took + mstest_scale_ms(100) >= o.deadline_ms &&
		      took < o.deadline_ms + mstest_scale_ms(2500),
		      "completed after %llu ms", (unsigned long long)took);
	ck_assert_int_eq(ms_rtls_route_status(r, why, sizeof(why)), MS_ERR_TIMEOUT);
	ck_assert_msg(strstr(why, "MTA-STS") != NULL, "%s", why);
	ck_assert(ms_status_is_temporary(MS_ERR_TIMEOUT));
	ms_rtls_route_free(r);

	/* the synchronous wrapper: the same temporary failure, no route */
	r = NULL;
	uint64_t t0 = mstest_now_ms();
	ck_assert_int_eq(ms_rtls_route_new(NULL, dns, sts, "slow.test", MS_RTLS_REQ_DEFAULT, &o,
					   &r, why, sizeof(why)), MS_ERR_TIMEOUT);
	ck_assert_ptr_null(r);
	ck_assert_uint_lt(mstest_now_ms() - t0, o.deadline_ms + mstest_scale_ms(2500));
}
END_TEST

START_TEST(policy_in_time_applies_under_a_deadline)
{
	struct ms_rtls_route_opts o = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					.deadline_ms = mstest_scale_ms(8000) };
	struct ms_rtls_route *r = NULL;
	char why[300] = "";
	int calls[2] = { 0, 0 };
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, sts, "example.test", MS_RTLS_REQ_DEFAULT,
					     &o, on_done, calls, &r, why, sizeof(why)), MS_OK);
	uint64_t took = 0;
	drive(r, calls, mstest_scale_ms(10000), &took);
	ck_assert_int_eq(calls[0], 1);
	ck_assert_int_eq(calls[1], MS_OK);
	ck_assert_msg(ms_rtls_route_flags(r) & MS_RTLS_ROUTE_STS_POLICY, "%s",
		      ms_rtls_route_sts_note(r));
	ck_assert_int_eq(ms_rtls_route_engine_domain(r)->sts_mode, MS_RTLS_STS_ENFORCE);
	ms_rtls_route_free(r);
	/* version 1 options (no deadline field) are still accepted */
	struct ms_rtls_route_opts v1 = { .version = 1 };
	ck_assert_int_eq(ms_rtls_route_new(NULL, dns, NULL, "example.test", MS_RTLS_REQ_DEFAULT,
					   &v1, &r, why, sizeof(why)), MS_OK);
	ms_rtls_route_free(r);
}
END_TEST

START_TEST(free_while_fetch_pending_cancels)
{
	struct ms_rtls_route *r = NULL;
	char why[300] = "";
	int calls[2] = { 0, 0 };
	ck_assert_int_eq(ms_rtls_route_start(NULL, dns, sts, "slow.test", MS_RTLS_REQ_DEFAULT,
					     NULL, on_done, calls, &r, why, sizeof(why)), MS_OK);
	uint64_t took = 0;
	drive(r, calls, 700, &took);
	ck_assert_int_eq(calls[0], 0);   /* no deadline: still pending */
	uint64_t t0 = mstest_now_ms();
	ms_rtls_route_free(r);
	ck_assert_uint_lt(mstest_now_ms() - t0, mstest_scale_ms(200));
	ck_assert_int_eq(calls[0], 0);
}
END_TEST

/* Planning never blocks a send handle's step: the route of slow.test
 * (its policy fetch stalled) is stepped from ms_rtls_send_step, each step
 * returns at once with the route's descriptor to poll, and the route's
 * deadline ends it with the route's temporary failure. */
START_TEST(send_step_never_blocks_on_planning)
{
	static const uint8_t msg[] = "From: a@example.test\r\nTo: b@slow.test\r\n\r\nhi\r\n";
	const char *to[] = { "b@slow.test" };
	struct ms_rtls_envelope m = { .from = "a@example.test", .rcpt = to, .nrcpt = 1,
				      .msg = msg, .msglen = sizeof(msg) - 1 };
	struct ms_rtls_route_opts ro = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					 .deadline_ms = stall_deadline(1200) };
	struct ms_rtls_send_opts o = { .version = MS_RTLS_SEND_OPTS_VERSION, .route = &ro };
	o.deliver = (struct ms_rtls_deliver_opts){ .version = MS_RTLS_DELIVER_OPTS_VERSION,
						   .helo = "client.test", .timeout_ms = 2000 };
	struct ms_rtls_send *s = NULL;
	char why[300] = "";
	ck_assert_msg(ms_rtls_send_new(NULL, dns, sts, MS_RTLS_REQ_DEFAULT, &m, &o, &s, why,
				       sizeof(why)) == MS_OK, "%s", why);
	uint64_t t0 = mstest_now_ms();
	int longest = 0, steps = 0, polled = 0;
	ms_status st = MS_OK;
	while (!ms_rtls_send_done(s) && mstest_now_ms() - t0 < mstest_scale_ms(10000)) {
		uint64_t s0 = mstest_now_ms();
		st = ms_rtls_send_step(s, why, sizeof(why));
		int d = (int)(mstest_now_ms() - s0);
		longest = d > longest ? d : longest;
		steps++;
		if (st != MS_OK)
			break;
		int fd = ms_rtls_send_fd(s), t = ms_rtls_send_timeout_ms(s);
		if (fd >= 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			poll(&p, 1, t);
			polled++;
		}
	}
	ck_assert_int_eq(st, MS_ERR_TIMEOUT);   /* the route's deadline: defer */
	ck_assert_msg(strstr(why, "MTA-STS") != NULL, "%s", why);
	ck_assert_msg(longest < (int)mstest_scale_ms(200), "a send step took %d ms while planning", longest);
	ck_assert_int_ge(polled, 1);
	ck_assert_int_ge(steps, 2);
	ck_assert_ptr_null(ms_rtls_send_delivery(s, 0));
	ms_rtls_send_free(s);
}
END_TEST

/* The send handle copies its options' strings (helo, ca_file, account):
 * a caller may build them in a buffer it reuses once ms_rtls_send_new has
 * returned (the envelope is documented as borrowed; the options are not).
 * The delivery is made in a later step, from the handle's own copies: a
 * helo buffer overwritten after ms_rtls_send_new must not reach it (here
 * it would be refused as "bad EHLO name"; under valgrind, a stack buffer
 * that went out of scope was read). */
START_TEST(send_copies_its_option_strings)
{
	static const uint8_t msg[] = "From: a@example.test\r\nTo: b@example.test\r\n\r\nhi\r\n";
	const char *to[] = { "b@example.test" };
	struct ms_rtls_envelope m = { .from = "a@example.test", .rcpt = to, .nrcpt = 1,
				      .msg = msg, .msglen = sizeof(msg) - 1 };
	char helo[64] = "client.test", ca[64] = "/nonexistent/ca.pem", account[64] = "a@example.test";
	struct ms_rtls_send_opts o = { .version = MS_RTLS_SEND_OPTS_VERSION };
	o.deliver = (struct ms_rtls_deliver_opts){ .version = MS_RTLS_DELIVER_OPTS_VERSION,
						   .helo = helo, .ca_file = ca, .account = account,
						   .timeout_ms = 2000 };
	struct ms_rtls_send *s = NULL;
	char why[300] = "";
	ck_assert_msg(ms_rtls_send_new(NULL, dns, NULL, MS_RTLS_REQ_DEFAULT, &m, &o, &s, why,
				       sizeof(why)) == MS_OK, "%s", why);
	/* the caller reuses its buffers */
	memset(helo, 0, sizeof(helo));
	strcpy(helo, "not a name <>");
	memset(ca, 'x', sizeof(ca) - 1);
	memset(account, 'y', sizeof(account) - 1);
	ms_status st = MS_OK;
	uint64_t t0 = mstest_now_ms();
	while (ms_rtls_send_delivery(s, 0) == NULL &&
	       mstest_now_ms() - t0 < mstest_scale_ms(5000)) {
		st = ms_rtls_send_step(s, why, sizeof(why));
		if (st != MS_OK)
			break;
	}
	ck_assert_msg(st == MS_OK, "%s", why);
	ck_assert_ptr_nonnull(ms_rtls_send_delivery(s, 0));
	ms_rtls_send_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("requiretls-route-sts-async");
	TCase *tc = tcase_create("sts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stalled_policy_fetch_never_blocks_and_the_deadline_defers);
	tcase_add_test(tc, policy_in_time_applies_under_a_deadline);
	tcase_add_test(tc, free_while_fetch_pending_cancels);
	tcase_add_test(tc, send_step_never_blocks_on_planning);
	tcase_add_test(tc, send_copies_its_option_strings);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
