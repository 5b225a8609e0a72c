/*
 * test_cache.c - discovery with the policy cache (RFC 8461 s3.3, s5.1):
 * an injected resolver plays the TXT record, a fetch callback the policy
 * host, env.now the clock, so each rule is exercised exactly:
 * id change, TXT vanished with cache, back-off after failure, expiry,
 * never lengthening max_age, restart with the SQLite file intact, two
 * processes sharing one cache file, a crash mid-write, purge and refresh,
 * metrics and the report event.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mailsec/mtasts.h>

#include "helpers.h"

/* ---- the fake world --------------------------------------------------- */

static struct {
	int64_t now;
	enum ms_dns_outcome outcome;   /* of the TXT lookup */
	const char *txt[4];            /* TXT records when ANSWER */
	const char *policy;            /* body served; NULL: fetch fails */
	enum ms_tlsrpt_result fail_as;
	int fetches;
	int warnings;                  /* "policy fetch failed" log events */
	int metric_fetch_err, metric_fetch_ok, metric_hits;
	char dbpath[1024];
} w;

static ms_status fake_resolve(void *user, const char *name, uint16_t type,
			      struct ms_dns_result **out)
{
	(void)user;
	ms_status st = ms_dns_result_create(NULL, name, type, w.outcome,
					    w.outcome == MS_DNS_SERVFAIL ? MS_DNS_INDETERMINATE
									 : MS_DNS_INSECURE, out);
	if (st != MS_OK || w.outcome != MS_DNS_ANSWER)
		return st;
	for (size_t i = 0; i < 4 && w.txt[i]; i++) {
		uint8_t rd[300];
		size_t n = strlen(w.txt[i]);
		rd[0] = (uint8_t)n;
		memcpy(rd + 1, w.txt[i], n);
		ms_dns_result_add(*out, MS_DNS_T_TXT, rd, n + 1);
	}
	return MS_OK;
}

static ms_status fake_fetch(void *user, const char *url, uint8_t *buf, size_t bufsize,
			    size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)user;
	(void)url;
	__atomic_fetch_add(&w.fetches, 1, __ATOMIC_RELAXED); /* threads test */
	if (w.policy == NULL) {
		*failure = w.fail_as;
		snprintf(why, whylen, "connection refused (fake)");
		return MS_ERR_NETWORK;
	}
	*len = strlen(w.policy);
	ck_assert_uint_le(*len, bufsize);
	memcpy(buf, w.policy, *len);
	return MS_OK;
}

static int64_t fake_now(void *user)
{
	(void)user;
	return w.now;
}

static void on_log(void *user, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv)
{
	(void)user;
	(void)kv;
	(void)nkv;
	if (strcmp(subsystem, "mtasts") != 0)
		return; /* the DNS layer logs too */
	if (level == MS_LOG_WARNING && strcmp(msg, "policy fetch failed") == 0)
		w.warnings++;
}

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	(void)user;
	if (strcmp(ev->name, "mtasts_fetch_total") == 0) {
		ck_assert_uint_eq(ev->nlabels, 1);
		ck_assert_str_eq(ev->labels[0].key, "result");
		if (strcmp(ev->labels[0].value, "ok") == 0)
			w.metric_fetch_ok++;
		else if (strcmp(ev->labels[0].value, "sts-policy-fetch-error") == 0)
			w.metric_fetch_err++;
	} else if (strcmp(ev->name, "mtasts_cache_total") == 0) {
		if (strncmp(ev->labels[0].value, "hit", 3) == 0)
			w.metric_hits++;
	}
}

static const char *POL_A = "version: STSv1\nmode: enforce\nmx: mx.a.example\nmax_age: 600\n";
static const char *POL_B = "version: STSv1\nmode: enforce\nmx: mx.b.example\nmax_age: 86400\n";
static const char *POL_T = "version: STSv1\nmode: testing\nmx: mx.a.example\nmax_age: 600\n";

struct rig {
	struct ms_env env;
	struct ms_dns_ctx *dns;
	struct ms_sts_store *store;
	struct ms_sts *sts;
};

static void rig_open(struct rig *r, const char *db)
{
	memset(r, 0, sizeof(*r));
	r->env.version = MS_ENV_VERSION;
	r->env.now = fake_now;
	r->env.log = on_log;
	r->env.log_level = MS_LOG_DEBUG;
	r->env.metric = on_metric;
	ck_assert_int_eq(ms_dns_ctx_new_custom(&r->env, fake_resolve, NULL, &r->dns), MS_OK);
	char why[256] = "";
	ck_assert_msg(ms_sts_store_new_sqlite(&r->env, db ? db : w.dbpath, &r->store, why,
					      sizeof(why)) == MS_OK, "%s", why);
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.fetch = fake_fetch;
	cfg.drop_unused_after = 10 * 86400;
	ck_assert_int_eq(ms_sts_new(&r->env, &cfg, r->dns, r->store, &r->sts, why, sizeof(why)),
			 MS_OK);
}

static void rig_close(struct rig *r)
{
	ms_sts_free(r->sts);
	ms_sts_store_free(r->store);
	ms_dns_ctx_free(r->dns);
}

static struct ms_sts_result *get(struct rig *r, const char *domain)
{
	struct ms_sts_result *res = NULL;
	char why[256] = "";
	ck_assert_msg(ms_sts_get_policy(r->sts, domain, &res, why, sizeof(why)) == MS_OK,
		      "%s", why);
	ck_assert_ptr_nonnull(res);
	return res;
}

static void setup(void)
{
	memset(&w, 0, sizeof(w));
	w.now = 1800000000;
	w.outcome = MS_DNS_ANSWER;
	w.txt[0] = "v=STSv1; id=one;";
	w.policy = POL_A;
	w.fail_as = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
	snprintf(w.dbpath, sizeof(w.dbpath), "%s", build_path("tests/mtasts/cache-XXXXXX"));
	int fd = mkstemp(w.dbpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	char p[1100];
	unlink(w.dbpath);
	snprintf(p, sizeof(p), "%s-wal", w.dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", w.dbpath);
	unlink(p);
}

/* ---- the tests ------------------------------------------------------ */

START_TEST(test_fetch_then_cache)
{
	struct rig r;
	rig_open(&r, NULL);
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_POLICY);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_FETCHED);
	ck_assert_str_eq(ms_sts_result_policy_id(res), "one");
	ck_assert_str_eq(ms_sts_result_record_id(res), "one");
	ck_assert_str_eq(ms_sts_result_policy_text(res), POL_A);
	/* never lengthen max_age: expiry is exactly fetch time + max_age */
	ck_assert_int_eq(ms_sts_result_expires(res), w.now + 600);
	ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_SUCCESS);
	ms_sts_result_free(res);
	w.now += 100;
	res = get(&r, "A.Example.");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ck_assert_int_eq(ms_sts_result_expires(res), w.now - 100 + 600);
	ms_sts_result_free(res);
	ck_assert_int_eq(w.fetches, 1);
	ck_assert_int_eq(w.metric_fetch_ok, 1);
	ck_assert_int_eq(w.metric_hits, 1);
	rig_close(&r);
}
END_TEST

START_TEST(test_id_change_refetches)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	w.txt[0] = "v=STSv1; id=two;";
	w.policy = POL_B;
	w.now += 10;
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(w.fetches, 2);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_FETCHED);
	ck_assert_str_eq(ms_sts_result_policy_id(res), "two");
	ck_assert_int_eq(ms_sts_result_check_mx(res, "mx.b.example", NULL), MS_STS_PASS);
	ck_assert_int_eq(ms_sts_result_check_mx(res, "mx.a.example", NULL), MS_STS_FAIL);
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_txt_vanished_uses_cache)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	enum ms_dns_outcome gone[] = { MS_DNS_NXDOMAIN, MS_DNS_NODATA, MS_DNS_SERVFAIL };
	for (size_t i = 0; i < 3; i++) {
		w.outcome = gone[i];
		struct ms_sts_result *res = get(&r, "a.example");
		ck_assert_int_eq(ms_sts_result_state(res), MS_STS_POLICY);
		ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
		ck_assert_str_eq(ms_sts_result_record_id(res), "");
		ms_sts_result_free(res);
	}
	/* a TXT set without any STS record, and one with two, count as none */
	w.outcome = MS_DNS_ANSWER;
	w.txt[0] = "v=spf1 -all";
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ms_sts_result_free(res);
	w.txt[0] = "v=STSv1; id=x;";
	w.txt[1] = "v=STSv1; id=y;";
	res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ck_assert_ptr_nonnull(strstr(ms_sts_result_record_note(res), "2 STS records"));
	ms_sts_result_free(res);
	ck_assert_int_eq(w.fetches, 1);
	/* once expired, nothing applies */
	w.outcome = MS_DNS_NXDOMAIN;
	w.now += 600;
	res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_NO_POLICY);
	ck_assert_int_eq(ms_sts_result_check_mx(res, "anything.example", NULL), MS_STS_PASS);
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_backoff_after_failure)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	/* new id, the host is down: the cached policy keeps applying */
	w.txt[0] = "v=STSv1; id=two;";
	w.policy = NULL;
	w.now += 10;
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(w.fetches, 2);
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_POLICY);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ck_assert_str_eq(ms_sts_result_policy_id(res), "one");
	ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_STS_POLICY_FETCH_ERROR);
	ck_assert_int_eq(ms_sts_result_backoff(res), 1);
	ms_sts_result_free(res);
	/* within 5 minutes: no new attempt for that id */
	for (int i = 0; i < 3; i++) {
		w.now += 60;
		res = get(&r, "a.example");
		ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
		ck_assert_int_eq(ms_sts_result_backoff(res), 1);
		ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_STS_POLICY_FETCH_ERROR);
		ms_sts_result_free(res);
	}
	ck_assert_int_eq(w.fetches, 2);
	/* after the back-off, the next call tries again and succeeds */
	w.now += 300;
	w.policy = POL_B;
	res = get(&r, "a.example");
	ck_assert_int_eq(w.fetches, 3);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_FETCHED);
	ck_assert_str_eq(ms_sts_result_policy_id(res), "two");
	ck_assert_int_eq(ms_sts_result_backoff(res), 0);
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_failed_fetch_nothing_cached)
{
	struct rig r;
	rig_open(&r, NULL);
	w.policy = NULL;
	w.fail_as = MS_TLSRPT_STS_WEBPKI_INVALID;
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_NO_POLICY);
	ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_STS_WEBPKI_INVALID);
	ck_assert_str_eq(ms_tlsrpt_result_name(ms_sts_result_failure(res)), "sts-webpki-invalid");
	ck_assert_ptr_nonnull(strstr(ms_sts_result_failure_detail(res), "fake"));
	ck_assert_int_eq(w.warnings, 1); /* the report event */
	ms_sts_result_free(res);
	/* the back-off remembers the failure type */
	w.now += 30;
	res = get(&r, "a.example");
	ck_assert_int_eq(w.fetches, 1);
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_NO_POLICY);
	ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_STS_WEBPKI_INVALID);
	ms_sts_result_free(res);
	/* an invalid policy body */
	w.txt[0] = "v=STSv1; id=three;";
	w.policy = "version: STSv1\nmode: enforce\nmax_age: 5\n";
	res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_NO_POLICY);
	ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_STS_POLICY_INVALID);
	ck_assert_ptr_nonnull(strstr(ms_sts_result_failure_detail(res), "no mx"));
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_expiry_injected_clock)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	w.now += 599;
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ms_sts_result_free(res);
	ck_assert_int_eq(w.fetches, 1);
	w.now += 1; /* exactly max_age later: expired, same id is refetched */
	res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_FETCHED);
	ck_assert_int_eq(ms_sts_result_expires(res), w.now + 600);
	ms_sts_result_free(res);
	ck_assert_int_eq(w.fetches, 2);
	/* expired and the refetch fails: no policy (the stale one is not used) */
	w.now += 600;
	w.policy = NULL;
	res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_NO_POLICY);
	ck_assert_int_eq(ms_sts_result_failure(res), MS_TLSRPT_STS_POLICY_FETCH_ERROR);
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_testing_mode_would_fail)
{
	struct rig r;
	rig_open(&r, NULL);
	w.policy = POL_T;
	struct ms_sts_result *res = get(&r, "a.example");
	enum ms_tlsrpt_result f;
	ck_assert_int_eq(ms_sts_result_check_mx(res, "mx.a.example", &f), MS_STS_PASS);
	ck_assert_int_eq(f, MS_TLSRPT_SUCCESS);
	ck_assert_int_eq(ms_sts_result_check_mx(res, "evil.example", &f), MS_STS_WOULD_FAIL);
	ck_assert_int_eq(f, MS_TLSRPT_VALIDATION_FAILURE);
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_restart_keeps_cache)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	rig_close(&r);
	/* a new process would open the same file: the host is down now */
	w.policy = NULL;
	w.fetches = 0;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rig r2;
		rig_open(&r2, NULL);
		struct ms_sts_result *res = get(&r2, "a.example");
		int ok = ms_sts_result_source(res) == MS_STS_SRC_CACHE &&
			 strcmp(ms_sts_result_policy_text(res), POL_A) == 0 && w.fetches == 0;
		ms_sts_result_free(res);
		rig_close(&r2);
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_two_processes_share_file)
{
	/* Both processes write different domains at the same time; every
	 * write must land (WAL + busy timeout) and each sees the other's. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	const char *me = pid == 0 ? "child" : "parent";
	struct rig r;
	rig_open(&r, NULL);
	int ok = 1;
	for (int i = 0; i < 40; i++) {
		char dom[64];
		snprintf(dom, sizeof(dom), "d%d.%s.example", i, me);
		struct ms_sts_result *res = NULL;
		if (ms_sts_get_policy(r.sts, dom, &res, NULL, 0) != MS_OK ||
		    ms_sts_result_source(res) != MS_STS_SRC_FETCHED)
			ok = 0;
		ms_sts_result_free(res);
	}
	if (pid == 0) {
		rig_close(&r);
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(ok);
	w.policy = NULL; /* everything must now come from the shared file */
	for (int i = 0; i < 40; i++) {
		char dom[64];
		snprintf(dom, sizeof(dom), "d%d.child.example", i);
		struct ms_sts_result *res = get(&r, dom);
		ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
		ms_sts_result_free(res);
	}
	rig_close(&r);
}
END_TEST

START_TEST(test_crash_mid_write)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	rig_close(&r);
	/* A writer dies inside its transaction (after writing half a policy). */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		sqlite3 *db = NULL;
		sqlite3_open(w.dbpath, &db);
		sqlite3_exec(db, "BEGIN; UPDATE mtasts_policy SET policy = 'version: STS'"
				 " WHERE domain = 'a.example';", NULL, NULL, NULL);
		_exit(0); /* no COMMIT, no close */
	}
	waitpid(pid, NULL, 0);
	w.policy = NULL;
	rig_open(&r, NULL);
	struct ms_sts_result *res = get(&r, "a.example");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ck_assert_str_eq(ms_sts_result_policy_text(res), POL_A);
	ms_sts_result_free(res);
	rig_close(&r);
}
END_TEST

START_TEST(test_purge)
{
	struct rig r;
	rig_open(&r, NULL);
	ms_sts_result_free(get(&r, "a.example"));
	ms_sts_result_free(get(&r, "b.example"));
	ck_assert_int_eq(ms_sts_purge(r.sts, "A.example"), MS_OK);
	ms_sts_result_free(get(&r, "a.example"));
	ms_sts_result_free(get(&r, "b.example"));
	ck_assert_int_eq(w.fetches, 3);
	ck_assert_int_eq(ms_sts_purge(r.sts, NULL), MS_OK);
	ms_sts_result_free(get(&r, "b.example"));
	ck_assert_int_eq(w.fetches, 4);
	rig_close(&r);
}
END_TEST

START_TEST(test_refresh)
{
	struct rig r;
	rig_open(&r, NULL);
	w.policy = POL_B;
	ms_sts_result_free(get(&r, "used.example"));
	ms_sts_result_free(get(&r, "idle.example"));
	/* nine days on, only used.example is used again */
	w.now += 9 * 86400 - 100;
	w.fetches = 0;
	ms_sts_result_free(get(&r, "used.example")); /* expired (max_age 1 day): refetch */
	ck_assert_int_eq(w.fetches, 1);
	w.now += 2 * 86400; /* idle for 11 days > 10 */
	size_t refreshed = 9, failed = 9, dropped = 9;
	w.fetches = 0;
	ck_assert_int_eq(ms_sts_refresh(r.sts, &refreshed, &failed, &dropped), MS_OK);
	ck_assert_uint_eq(refreshed, 1);
	ck_assert_uint_eq(failed, 0);
	ck_assert_uint_eq(dropped, 1);
	ck_assert_int_eq(w.fetches, 1);
	/* the refreshed policy is served from the cache with a new expiry */
	struct ms_sts_result *res = get(&r, "used.example");
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ck_assert_int_eq(ms_sts_result_expires(res), w.now + 86400);
	ms_sts_result_free(res);
	/* a failing refresh keeps the cached policy */
	w.policy = NULL;
	ck_assert_int_eq(ms_sts_refresh(r.sts, &refreshed, &failed, &dropped), MS_OK);
	ck_assert_uint_eq(refreshed, 0);
	ck_assert_uint_eq(failed, 1);
	res = get(&r, "used.example");
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_POLICY);
	ms_sts_result_free(res);
	uint32_t d = ms_sts_refresh_delay();
	ck_assert_uint_ge(d, 82800);
	ck_assert_uint_le(d, 90000);
	rig_close(&r);
}
END_TEST

START_TEST(test_no_store_and_args)
{
	struct ms_dns_ctx *dns = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake_resolve, NULL, &dns), MS_OK);
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.fetch = fake_fetch;
	struct ms_sts *sts = NULL;
	ck_assert_int_eq(ms_sts_new(NULL, &cfg, NULL, NULL, &sts, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_sts_new(NULL, &cfg, dns, NULL, &sts, NULL, 0), MS_OK);
	struct ms_sts_result *res = NULL;
	ck_assert_int_eq(ms_sts_get_policy(sts, "a.example", &res, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_FETCHED);
	ms_sts_result_free(res);
	ck_assert_int_eq(ms_sts_get_policy(sts, "bad..example", &res, NULL, 0), MS_ERR_INVALID);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(ms_sts_purge(sts, NULL), MS_OK);
	ms_sts_free(sts);
	ms_sts_free(NULL);
	ms_sts_result_free(NULL);
	ms_sts_store_free(NULL);
	ms_dns_ctx_free(dns);
}
END_TEST

/* ---- a caller's own store (the plug-in interface) ---------------------- */

struct mem_store {
	struct ms_sts_entry e[8];
	uint8_t pol[8][512];
	int used[8];
	int puts, closed;
};

static int mem_find(struct mem_store *m, const char *domain)
{
	for (int i = 0; i < 8; i++)
		if (m->used[i] && strcmp(m->e[i].domain, domain) == 0)
			return i;
	return -1;
}

static ms_status mem_get(void *self, const char *domain, struct ms_sts_entry *e,
			 uint8_t *polbuf, size_t polbufsize, int *found)
{
	struct mem_store *m = self;
	int i = mem_find(m, domain);
	*found = i >= 0;
	if (i < 0)
		return MS_OK;
	ck_assert_uint_le(m->e[i].policy_len, polbufsize);
	*e = m->e[i];
	memcpy(polbuf, m->pol[i], e->policy_len);
	e->policy = polbuf;
	return MS_OK;
}

static ms_status mem_put(void *self, const struct ms_sts_entry *e)
{
	struct mem_store *m = self;
	int i = mem_find(m, e->domain);
	for (int k = 0; i < 0 && k < 8; k++)
		if (!m->used[k])
			i = k;
	if (i < 0 || e->policy_len > sizeof(m->pol[i]))
		return MS_ERR_LIMIT;
	m->e[i] = *e;
	memcpy(m->pol[i], e->policy, e->policy_len);
	m->e[i].policy = m->pol[i];
	m->used[i] = 1;
	m->puts++;
	return MS_OK;
}

static ms_status mem_del(void *self, const char *domain)
{
	struct mem_store *m = self;
	for (int i = 0; i < 8; i++)
		if (m->used[i] && (domain == NULL || strcmp(m->e[i].domain, domain) == 0))
			m->used[i] = 0;
	return MS_OK;
}

static ms_status mem_list(void *self, void (*cb)(void *, const struct ms_sts_entry *),
			  void *user)
{
	struct mem_store *m = self;
	for (int i = 0; i < 8; i++)
		if (m->used[i])
			cb(user, &m->e[i]);
	return MS_OK;
}

static void mem_close(void *self)
{
	((struct mem_store *)self)->closed = 1;
}

START_TEST(test_custom_store)
{
	static struct mem_store m;
	memset(&m, 0, sizeof(m));
	const struct ms_sts_store_ops ops = {
		MS_STS_STORE_VERSION, mem_get, mem_put, mem_del, mem_list, mem_close,
	};
	struct ms_sts_store *store = NULL;
	ck_assert_int_eq(ms_sts_store_new_custom(NULL, &ops, &m, &store), MS_OK);
	struct ms_dns_ctx *dns = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake_resolve, NULL, &dns), MS_OK);
	struct ms_env env = { .version = MS_ENV_VERSION, .now = fake_now };
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.fetch = fake_fetch;
	struct ms_sts *sts = NULL;
	ck_assert_int_eq(ms_sts_new(&env, &cfg, dns, store, &sts, NULL, 0), MS_OK);
	struct ms_sts_result *res = NULL;
	ck_assert_int_eq(ms_sts_get_policy(sts, "a.example", &res, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_FETCHED);
	ms_sts_result_free(res);
	ck_assert_int_eq(m.puts, 1);
	ck_assert_str_eq(m.e[0].id, "one");
	ck_assert_int_eq(m.e[0].expires_at, w.now + 600);
	w.policy = NULL;
	ck_assert_int_eq(ms_sts_get_policy(sts, "a.example", &res, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_sts_result_source(res), MS_STS_SRC_CACHE);
	ms_sts_result_free(res);
	/* a tampered cache entry that does not parse is not used */
	memcpy(m.pol[0], "garbage", 7);
	m.e[0].policy_len = 7;
	ck_assert_int_eq(ms_sts_get_policy(sts, "a.example", &res, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_sts_result_state(res), MS_STS_NO_POLICY);
	ms_sts_result_free(res);
	ck_assert_int_eq(ms_sts_purge(sts, NULL), MS_OK);
	ck_assert_int_eq(m.used[0], 0);
	ms_sts_free(sts);
	ms_sts_store_free(store);
	ck_assert_int_eq(m.closed, 1);
	ms_dns_ctx_free(dns);
	/* an incomplete vtable is refused */
	struct ms_sts_store_ops bad = ops;
	bad.put = NULL;
	ck_assert_int_eq(ms_sts_store_new_custom(NULL, &bad, &m, &store), MS_ERR_INVALID);
	ck_assert_ptr_null(store);
}
END_TEST

/* ---- one handle and one SQLite store shared by threads -------------------- */

#include <pthread.h>

static struct rig *shared_rig;

static void *worker(void *arg)
{
	intptr_t k = (intptr_t)arg;
	intptr_t bad = 0;
	for (int i = 0; i < 50; i++) {
		char dom[64];
		snprintf(dom, sizeof(dom), "d%d.example", (int)((i + k) % 10));
		struct ms_sts_result *res = NULL;
		if (ms_sts_get_policy(shared_rig->sts, dom, &res, NULL, 0) != MS_OK ||
		    ms_sts_result_state(res) != MS_STS_POLICY ||
		    strcmp(ms_sts_result_policy_text(res), POL_A) != 0)
			bad++;
		ms_sts_result_free(res);
	}
	return (void *)bad;
}

START_TEST(test_threads_share_handle)
{
	struct rig r;
	rig_open(&r, NULL);
	shared_rig = &r;
	pthread_t t[4];
	for (intptr_t k = 0; k < 4; k++)
		ck_assert_int_eq(pthread_create(&t[k], NULL, worker, (void *)k), 0);
	for (int k = 0; k < 4; k++) {
		void *bad = NULL;
		pthread_join(t[k], &bad);
		ck_assert_ptr_null(bad);
	}
	/* ten domains: a few concurrent first fetches may overlap, no more */
	ck_assert_int_ge(w.fetches, 10);
	ck_assert_int_le(w.fetches, 40);
	rig_close(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mtasts-cache");
	TCase *tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fetch_then_cache);
	tcase_add_test(tc, test_id_change_refetches);
	tcase_add_test(tc, test_txt_vanished_uses_cache);
	tcase_add_test(tc, test_backoff_after_failure);
	tcase_add_test(tc, test_failed_fetch_nothing_cached);
	tcase_add_test(tc, test_expiry_injected_clock);
	tcase_add_test(tc, test_testing_mode_would_fail);
	tcase_add_test(tc, test_restart_keeps_cache);
	tcase_add_test(tc, test_two_processes_share_file);
	tcase_add_test(tc, test_crash_mid_write);
	tcase_add_test(tc, test_purge);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_no_store_and_args);
	tcase_add_test(tc, test_custom_store);
	tcase_add_test(tc, test_threads_share_handle);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
