/*
 * One struct ms_sts shared by 8 threads, over the SQLite store on a temp
 * file, a fetch callback serving a fixed enforce policy per domain and an
 * injected resolver answering the _mta-sts TXT records.  Threads ask for
 * the policy of several domains (the first calls race to fetch and store;
 * mtasts.h allows both to fetch, the last writer wins, and the policy is
 * the same either way) and check MX hosts against each result.
 */
#include <stdlib.h>
#include <unistd.h>

#include "conc.h"
#include <mailsec/mtasts.h>

#define OPS 200
#define NDOM 4

static const struct conc_rr zone_rrs[] = {
	{"_mta-sts.d0.test", MS_DNS_T_TXT, "v=STSv1; id=pol0"},
	{"_mta-sts.d1.test", MS_DNS_T_TXT, "v=STSv1; id=pol1"},
	{"_mta-sts.d2.test", MS_DNS_T_TXT, "v=STSv1; id=pol2"},
	{"_mta-sts.d3.test", MS_DNS_T_TXT, "v=STSv1; id=pol3"},
	/* another TXT at the name is discarded before counting (s3.1) */
	{"_mta-sts.d3.test", MS_DNS_T_TXT, "v=spf1 -all"},
};

struct sts_shared {
	struct ms_sts *sts;
	atomic_uint fetches[NDOM];
	atomic_uint bad_urls;
};

static ms_status fetch_cb(void *user, const char *url, uint8_t *buf, size_t bufsize,
			  size_t *len, enum ms_tlsrpt_result *failure, char *why,
			  size_t whylen)
{
	struct sts_shared *s = user;
	unsigned d;
	char tail[64] = "";
	if (sscanf(url, "https://mta-sts.d%u.test%63s", &d, tail) != 2 || d >= NDOM ||
	    strcmp(tail, "/.well-known/mta-sts.txt") != 0) {
		atomic_fetch_add(&s->bad_urls, 1);
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		snprintf(why, whylen, "unexpected url %s", url);
		return MS_ERR_PROTOCOL;
	}
	atomic_fetch_add(&s->fetches[d], 1);
	int n = snprintf((char *)buf, bufsize,
			 "version: STSv1\r\nmode: enforce\r\nmx: mx.d%u.test\r\n"
			 "mx: *.backup.d%u.test\r\nmax_age: 86400\r\n", d, d);
	if (n < 0 || (size_t)n >= bufsize)
		return MS_ERR_LIMIT;
	*len = (size_t)n;
	return MS_OK;
}

static void *worker(void *arg)
{
	struct conc_thread *t = arg;
	struct sts_shared *s = t->shared;
	conc_wait_start(t);
	for (unsigned i = 0; i < OPS; i++) {
		unsigned d = (i + (unsigned)t->id) % NDOM;
		char dom[32], id[16], mx[64], wild[64], foreign[64];
		snprintf(dom, sizeof(dom), "d%u.test", d);
		snprintf(id, sizeof(id), "pol%u", d);
		snprintf(mx, sizeof(mx), "mx.d%u.test", d);
		snprintf(wild, sizeof(wild), "t%d.backup.d%u.test", t->id, d);
		snprintf(foreign, sizeof(foreign), "mx.d%u.test", (d + 1) % NDOM);
		struct ms_sts_result *r = NULL;
		char why[256] = "";
		ms_status st = ms_sts_get_policy(s->sts, dom, &r, why, sizeof(why));
		CONC_CHECK(t, st == MS_OK && r != NULL, "op %u %s: status %d: %s", i, dom, st, why);
		if (st != MS_OK || r == NULL)
			continue;
		CONC_CHECK(t, ms_sts_result_state(r) == MS_STS_POLICY, "op %u %s: no policy (%s)",
			   i, dom, ms_sts_result_failure_detail(r));
		enum ms_sts_source src = ms_sts_result_source(r);
		CONC_CHECK(t, src == MS_STS_SRC_FETCHED || src == MS_STS_SRC_CACHE,
			   "op %u %s: source %d", i, dom, (int)src);
		CONC_CHECK(t, ms_sts_result_failure(r) == MS_TLSRPT_SUCCESS,
			   "op %u %s: failure %s", i, dom,
			   ms_tlsrpt_result_name(ms_sts_result_failure(r)));
		const char *pid = ms_sts_result_policy_id(r);
		CONC_CHECK(t, pid != NULL && strcmp(pid, id) == 0, "op %u %s: policy id %s",
			   i, dom, pid ? pid : "(null)");
		CONC_CHECK(t, strcmp(ms_sts_result_record_id(r), id) == 0,
			   "op %u %s: record id %s", i, dom, ms_sts_result_record_id(r));
		const struct ms_sts_policy *p = ms_sts_result_policy(r);
		CONC_CHECK(t, p != NULL && ms_sts_policy_mode(p) == MS_STS_MODE_ENFORCE &&
			   ms_sts_policy_max_age(p) == 86400 && ms_sts_policy_mx_count(p) == 2,
			   "op %u %s: wrong policy", i, dom);
		enum ms_tlsrpt_result f = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		CONC_CHECK(t, ms_sts_result_check_mx(r, mx, &f) == MS_STS_PASS,
			   "op %u: %s refused", i, mx);
		f = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		CONC_CHECK(t, ms_sts_result_check_mx(r, wild, &f) == MS_STS_PASS,
			   "op %u: %s refused", i, wild);
		f = MS_TLSRPT_SUCCESS;
		CONC_CHECK(t, ms_sts_result_check_mx(r, foreign, &f) == MS_STS_FAIL &&
			   f == MS_TLSRPT_VALIDATION_FAILURE, "op %u: %s under %s not refused", i, foreign, dom);
		ms_sts_result_free(r);
		t->ops++;
	}
	return NULL;
}

START_TEST(shared_sts)
{
	char dir[4096];
	conc_mkdtemp(dir, sizeof(dir), "sts");
	char db[4200];
	snprintf(db, sizeof(db), "%s/sts.sqlite", dir);

	static struct conc_zone zone = {zone_rrs, sizeof(zone_rrs) / sizeof(zone_rrs[0]),
					MS_DNS_SECURE, 0};
	struct ms_dns_ctx *dns = conc_zone_ctx(&zone);
	struct sts_shared s;
	memset(&s, 0, sizeof(s));
	struct ms_sts_store *store = NULL;
	char why[256] = "";
	ck_assert_msg(ms_sts_store_new_sqlite(NULL, db, &store, why, sizeof(why)) == MS_OK,
		      "store: %s", why);
	struct ms_sts_config cfg = {
		.version = MS_STS_CONFIG_VERSION,
		.fetch = {.version = MS_STS_FETCH_CONFIG_VERSION, .fetch = fetch_cb,
			  .fetch_user = &s},
	};
	ck_assert_msg(ms_sts_new(NULL, &cfg, dns, store, &s.sts, why, sizeof(why)) == MS_OK,
		      "sts: %s", why);

	conc_run(worker, &s, OPS);

	ck_assert_uint_eq(atomic_load(&s.bad_urls), 0);
	/* Every domain was fetched, and at most once per thread (only the
	 * calls racing on an empty cache fetch). */
	for (unsigned d = 0; d < NDOM; d++) {
		unsigned n = atomic_load(&s.fetches[d]);
		ck_assert_msg(n >= 1 && n <= CONC_THREADS, "d%u fetched %u times", d, n);
	}
	/* The store holds each policy: a sequential call is served from it. */
	for (unsigned d = 0; d < NDOM; d++) {
		char dom[32], id[16];
		snprintf(dom, sizeof(dom), "d%u.test", d);
		snprintf(id, sizeof(id), "pol%u", d);
		struct ms_sts_result *r = NULL;
		ck_assert_int_eq(ms_sts_get_policy(s.sts, dom, &r, why, sizeof(why)), MS_OK);
		ck_assert_int_eq(ms_sts_result_source(r), MS_STS_SRC_CACHE);
		ck_assert_str_eq(ms_sts_result_policy_id(r), id);
		ms_sts_result_free(r);
		struct ms_sts_entry e = { .version = MS_STS_ENTRY_VERSION };
		static uint8_t pol[MS_STS_POLICY_MAX];
		int found = 0;
		ck_assert_int_eq(ms_sts_store_get(store, dom, &e, pol, sizeof(pol), &found), MS_OK);
		ck_assert_int_eq(found, 1);
		ck_assert_str_eq(e.id, id);
		ck_assert_uint_eq(e.failures, 0);
	}
	ms_sts_free(s.sts);
	ms_sts_store_free(store);
	ms_dns_ctx_free(dns);

	conc_rm_db(dir, db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency-mtasts");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, mstest_scale_ms(300000) / 1000.0);
	tcase_add_test(tc, shared_sts);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
