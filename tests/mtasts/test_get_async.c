/*
 * test_get_async.c - policy discovery without blocking (ms_sts_get_*,
 * issue 15) against the loopback HTTPS policy host (policy_server.py, the
 * test CA) with an injected resolver (tests/common/sts_peer.h):
 *   - the async discovery gives what ms_sts_get_policy gives (policy
 *     fetched, then served from the cache without any address lookup);
 *   - a policy host that stalls (mta-sts.slow.test trickles its body)
 *     never blocks a step: every step returns at once while the fetch is
 *     pending, the caller waits on the one descriptor, and a free cancels.
 */
#include <arpa/inet.h>
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailsec/mtasts.h>

#include "mstest.h"
#include "sts_peer.h"

static struct sts_peer peer;
static struct ms_sts_store *store;
static struct ms_sts *sts;

static void setup(void)
{
	char why[300] = "";
	ck_assert_msg(ms_sts_store_new_sqlite(NULL, ":memory:", &store, why, sizeof(why)) == MS_OK,
		      "%s", why);
	sts_peer_start(&peer, store);
	sts = peer.sts;
}

static void teardown(void)
{
	sts_peer_stop(&peer);
	ms_sts_store_free(store);
}

/* Step until done (at most `limit_ms`); returns the longest step in ms. */
static int run(struct ms_sts_get *g, unsigned limit_ms, int *done)
{
	uint64_t t0 = mstest_now_ms();
	int longest = 0;
	*done = 0;
	while (mstest_now_ms() - t0 < limit_ms) {
		int t = -1;
		uint64_t s0 = mstest_now_ms();
		enum ms_sts_get_state st = ms_sts_get_step(g, &t);
		int took = (int)(mstest_now_ms() - s0);
		longest = took > longest ? took : longest;
		if (st == MS_STS_GET_DONE) {
			*done = 1;
			break;
		}
		ck_assert_int_ge(t, 0);
		struct pollfd p = { .fd = ms_sts_get_fd(g), .events = POLLIN };
		ck_assert_int_ge(p.fd, 0);
		poll(&p, 1, t < 100 ? t : 100);
	}
	return longest;
}

START_TEST(async_discovery_fetches_then_uses_the_cache)
{
	struct ms_sts_get *g = NULL;
	char why[300] = "";
	peer.addr_queries = peer.txt_queries = 0;
	ck_assert_msg(ms_sts_get_start(sts, "example.test", &g, why, sizeof(why)) == MS_OK, "%s",
		      why);
	struct ms_sts_result *r = NULL;
	ck_assert_int_eq(ms_sts_get_result(g, &r, why, sizeof(why)), MS_ERR_STATE);
	int done = 0;
	run(g, mstest_scale_ms(10000), &done);
	ck_assert(done);
	ck_assert_msg(ms_sts_get_result(g, &r, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_sts_result *again = NULL;
	ck_assert_int_eq(ms_sts_get_result(g, &again, why, sizeof(why)), MS_ERR_STATE); /* taken */
	ck_assert_ptr_null(again);
	ms_sts_get_free(g);
	ck_assert_msg(ms_sts_result_state(r) == MS_STS_POLICY, "%s / %s / %s",
		      ms_sts_result_record_note(r), ms_sts_result_failure_detail(r),
		      ms_tlsrpt_result_name(ms_sts_result_failure(r)));
	ck_assert_int_eq(ms_sts_result_source(r), MS_STS_SRC_FETCHED);
	ck_assert_int_eq(ms_sts_policy_mode(ms_sts_result_policy(r)), MS_STS_MODE_ENFORCE);
	ck_assert_str_eq(ms_sts_result_policy_id(r), "r1");
	ms_sts_result_free(r);
	ck_assert_int_eq(peer.txt_queries, 1);
	ck_assert_int_eq(peer.addr_queries, 2);   /* A and AAAA, asked beside the TXT's round */

	/* the same id again: the cache, and no address lookup at all */
	peer.addr_queries = peer.txt_queries = 0;
	ck_assert_int_eq(ms_sts_get_start(sts, "example.test", &g, why, sizeof(why)), MS_OK);
	run(g, mstest_scale_ms(10000), &done);
	ck_assert(done);
	ck_assert_int_eq(ms_sts_get_result(g, &r, why, sizeof(why)), MS_OK);
	ms_sts_get_free(g);
	ck_assert_int_eq(ms_sts_result_source(r), MS_STS_SRC_CACHE);
	ck_assert_int_eq(peer.addr_queries, 0);
	ms_sts_result_free(r);
	/* the synchronous call agrees */
	ck_assert_int_eq(ms_sts_get_policy(sts, "example.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_sts_result_source(r), MS_STS_SRC_CACHE);
	ms_sts_result_free(r);
	ck_assert_int_eq(ms_sts_get_start(sts, "a_b.test", &g, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(g);
}
END_TEST

START_TEST(stalled_policy_host_never_blocks_a_step)
{
	struct ms_sts_get *g = NULL;
	char why[300] = "";
	ck_assert_int_eq(ms_sts_get_start(sts, "slow.test", &g, why, sizeof(why)), MS_OK);
	int done = 0;
	int longest = run(g, 1500, &done);
	/* the body trickles in for ~25 s: still pending, and no step waited
	 * for it (a blocking fetch would sit in one step until it ends) */
	ck_assert(!done);
	ck_assert_msg(longest < (int)mstest_scale_ms(200), "a step took %d ms", longest);
	struct ms_sts_result *r = NULL;
	ck_assert_int_eq(ms_sts_get_result(g, &r, why, sizeof(why)), MS_ERR_STATE);
	uint64_t t0 = mstest_now_ms();
	ms_sts_get_free(g);   /* cancel: the transfer is dropped */
	ck_assert_uint_lt(mstest_now_ms() - t0, mstest_scale_ms(200));
	/* nothing was cached for it */
	struct ms_sts_entry e = { .version = MS_STS_ENTRY_VERSION };
	static uint8_t buf[MS_STS_POLICY_MAX];
	int found = 1;
	ck_assert_int_eq(ms_sts_store_get(store, "slow.test", &e, buf, sizeof(buf), &found), MS_OK);
	ck_assert(!found || e.policy_len == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mtasts-get-async");
	TCase *tc = tcase_create("async");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, async_discovery_fetches_then_uses_the_cache);
	tcase_add_test(tc, stalled_policy_host_never_blocks_a_step);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
