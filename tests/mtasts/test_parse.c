/*
 * test_parse.c - table tests of the RFC 8461 parsers: the TXT record
 * (s3.1), the policy file (s3.2) and MX pattern matching (s4.1).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/mtasts.h>

/* ---- TXT record ----------------------------------------------------- */

struct rec_case {
	const char *txt;
	int is_sts;       /* kept by the s3.1 filter */
	int valid;        /* parses */
	const char *id;   /* expected id when valid */
};

static const struct rec_case rec_cases[] = {
	{ "v=STSv1; id=20160831085700Z;", 1, 1, "20160831085700Z" },
	{ "v=STSv1; id=20160831085700Z", 1, 1, "20160831085700Z" },
	{ "v=STSv1;id=abc", 1, 1, "abc" },
	{ "v=STSv1;\tid=abc\t;\t", 1, 1, "abc" },
	{ "v=STSv1; id=abc ;  ", 1, 1, "abc" },
	{ "v=STSv1; id=a", 1, 1, "a" },
	{ "v=STSv1; id=12345678901234567890123456789012", 1, 1,
	  "12345678901234567890123456789012" },
	{ "v=STSv1; id=123456789012345678901234567890123", 1, 0, NULL },
	{ "v=STSv1; id=", 1, 0, NULL },
	{ "v=STSv1; id=abc-def", 1, 0, NULL },
	{ "v=STSv1; id=abc_def", 1, 0, NULL },
	{ "v=STSv1; id=abc def", 1, 0, NULL },
	{ "v=STSv1; id=abc; ext=val", 1, 1, "abc" },
	{ "v=STSv1; ext=val; id=abc;", 1, 1, "abc" },
	{ "v=STSv1; a.b-c_d=x!y; id=abc", 1, 1, "abc" },
	{ "v=STSv1; id=abc; id=def", 1, 1, "abc" },
	{ "v=STSv1; ext=; id=abc", 1, 0, NULL },
	{ "v=STSv1; ext=a=b; id=abc", 1, 0, NULL },
	{ "v=STSv1; -ext=1; id=abc", 1, 0, NULL },
	{ "v=STSv1; ext; id=abc", 1, 0, NULL },
	{ "v=STSv1;", 1, 0, NULL },
	{ "v=STSv1; ;", 1, 0, NULL },
	{ "v=STSv1; ext=1", 1, 0, NULL },
	{ "v=STSv1;; id=abc", 1, 0, NULL },
	{ "v=STSv1; ID=abc", 1, 0, NULL },
	{ "v=STSv10; id=abc", 0, 0, NULL },
	{ "v=STSv1 ; id=abc", 0, 1, "abc" },
	{ "v=stsv1; id=abc", 0, 0, NULL },
	{ " v=STSv1; id=abc", 0, 0, NULL },
	{ "v=spf1 -all", 0, 0, NULL },
	{ "", 0, 0, NULL },
	{ "v=STSv1", 0, 0, NULL },
};

START_TEST(test_record_table)
{
	const struct rec_case *c = &rec_cases[_i];
	size_t len = strlen(c->txt);
	char id[MS_STS_ID_MAX + 1], why[200] = "";
	ck_assert_msg(ms_sts_record_is_sts((const uint8_t *)c->txt, len) == c->is_sts,
		      "is_sts '%s'", c->txt);
	ms_status st = ms_sts_record_parse((const uint8_t *)c->txt, len, id, why, sizeof(why));
	if (c->valid) {
		ck_assert_msg(st == MS_OK, "'%s' should parse: %s", c->txt, why);
		ck_assert_str_eq(id, c->id);
	} else {
		ck_assert_msg(st == MS_ERR_PARSE, "'%s' should not parse", c->txt);
		ck_assert_msg(why[0] != '\0', "reason for '%s'", c->txt);
	}
}
END_TEST

START_TEST(test_record_not_nul_terminated)
{
	/* The parser must stop at len: the byte after is not part of it. */
	const char *s = "v=STSv1; id=abcX";
	char id[MS_STS_ID_MAX + 1];
	ck_assert_int_eq(ms_sts_record_parse((const uint8_t *)s, strlen(s) - 1, id, NULL, 0),
			 MS_OK);
	ck_assert_str_eq(id, "abc");
}
END_TEST

/* ---- policy file ------------------------------------------------------ */

struct pol_case {
	const char *text;
	int valid;
	enum ms_sts_mode mode;
	uint32_t max_age;
	const char *mx; /* comma-separated expected patterns */
	const char *err; /* substring of the reason */
};

static const struct pol_case pol_cases[] = {
	{ "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n",
	  1, MS_STS_MODE_ENFORCE, 86400, "mx1.example.com", NULL },
	{ "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n",
	  1, MS_STS_MODE_ENFORCE, 86400, "mx1.example.com", NULL },
	{ "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: *.backup.example.com\nmax_age: 86400",
	  1, MS_STS_MODE_TESTING, 86400, "mx1.example.com,*.backup.example.com", NULL },
	{ "version: STSv1\r\nmode: none\r\nmax_age: 0", 1, MS_STS_MODE_NONE, 0, "", NULL },
	{ "max_age: 31557600\nmx: A.Example.COM.\nmode: enforce\nversion: STSv1\n",
	  1, MS_STS_MODE_ENFORCE, 31557600, "a.example.com", NULL },
	{ "version:STSv1\nmode:\tenforce \t\nmx:mx.example.com\nmax_age:  10\t\n",
	  1, MS_STS_MODE_ENFORCE, 10, "mx.example.com", NULL },
	/* first occurrence wins for single-valued keys */
	{ "version: STSv1\nmode: testing\nmode: enforce\nmx: m.example\nmax_age: 5\nmax_age: 9\n",
	  1, MS_STS_MODE_TESTING, 5, "m.example", NULL },
	{ "version: STSv1\nmode: enforce\nmode: bogus\nmx: m.example\nmax_age: 5\n",
	  1, MS_STS_MODE_ENFORCE, 5, "m.example", NULL },
	/* unknown keys ignored, also ones looking like case variants */
	{ "version: STSv1\nmode: enforce\nfoo: bar baz\nMode: none\nmx: m.example\nmax_age: 5\n",
	  1, MS_STS_MODE_ENFORCE, 5, "m.example", NULL },
	/* blank lines are skipped */
	{ "version: STSv1\n\nmode: enforce\r\n\r\nmx: m.example\nmax_age: 5\n\n\n",
	  1, MS_STS_MODE_ENFORCE, 5, "m.example", NULL },
	{ "version: STSv1\nmode: enforce\nmx: xn--bcher-kva.example\nmax_age: 5\n",
	  1, MS_STS_MODE_ENFORCE, 5, "xn--bcher-kva.example", NULL },
	/* errors */
	{ "mode: enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL, "no version" },
	{ "version: STSv1\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL, "no mode" },
	{ "version: STSv1\nmode: enforce\nmx: m.example\n", 0, 0, 0, NULL, "no max_age" },
	{ "version: STSv1\nmode: enforce\nmax_age: 5\n", 0, 0, 0, NULL, "no mx" },
	{ "version: STSv1\nmode: testing\nmax_age: 5\n", 0, 0, 0, NULL, "no mx" },
	{ "version: STSv2\nmode: enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 1: version" },
	{ "version: STSv1\nmode: Enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 2: mode" },
	{ "version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 31557601\n", 0, 0, 0, NULL,
	  "line 4: max_age" },
	{ "version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 12345678901\n", 0, 0, 0, NULL,
	  "line 4: max_age" },
	{ "version: STSv1\nmode: enforce\nmx: m.example\nmax_age: -1\n", 0, 0, 0, NULL,
	  "line 4: max_age" },
	{ "version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 1d\n", 0, 0, 0, NULL,
	  "line 4: max_age" },
	{ "version: STSv1\nmode: enforce\nmx: m.example\nmax_age:\n", 0, 0, 0, NULL,
	  "line 4: max_age" },
	{ "version: STSv1\nmode: enforce\nmx: bücher.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: invalid character" },
	{ "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: mx" },
	{ "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: mx" },
	{ "version: STSv1\nmode: enforce\nmx: mx*.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: mx" },
	{ "version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: mx" },
	{ "version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: mx" },
	{ "version: STSv1\nmode: enforce\nmx:\nmax_age: 5\n", 0, 0, 0, NULL, "line 3: mx" },
	{ "version: STSv1\nmode: enforce\nmx: a.example b.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 3: mx" },
	{ "version: STSv1\nmode enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 2: expected ':'" },
	{ "version: STSv1\nmode : enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 2" },
	{ "version: STSv1\n mode: enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 2: bad key" },
	{ "version: STSv1\rmode: enforce\nmx: m.example\nmax_age: 5\n", 0, 0, 0, NULL,
	  "line 1" },
	{ "", 0, 0, 0, NULL, "no version" },
};

static void check_mx(const struct ms_sts_policy *p, const char *list)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", list);
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save), n++) {
		ck_assert_ptr_nonnull(ms_sts_policy_mx(p, n));
		ck_assert_str_eq(ms_sts_policy_mx(p, n), t);
	}
	ck_assert_uint_eq(ms_sts_policy_mx_count(p), n);
	ck_assert_ptr_null(ms_sts_policy_mx(p, n));
}

START_TEST(test_policy_table)
{
	const struct pol_case *c = &pol_cases[_i];
	struct ms_sts_policy *p = NULL;
	char why[256] = "";
	ms_status st = ms_sts_policy_parse(NULL, (const uint8_t *)c->text, strlen(c->text),
					   &p, why, sizeof(why));
	if (c->valid) {
		ck_assert_msg(st == MS_OK, "case %d should parse: %s", _i, why);
		ck_assert_int_eq(ms_sts_policy_mode(p), c->mode);
		ck_assert_uint_eq(ms_sts_policy_max_age(p), c->max_age);
		check_mx(p, c->mx);
	} else {
		ck_assert_msg(st == MS_ERR_PARSE, "case %d should fail (got %d)", _i, st);
		ck_assert_ptr_null(p);
		ck_assert_msg(strstr(why, c->err) != NULL, "case %d: reason '%s' lacks '%s'",
			      _i, why, c->err);
	}
	ms_sts_policy_free(p);
}
END_TEST

START_TEST(test_policy_limits)
{
	/* over 64 KiB is refused before parsing */
	size_t n = MS_STS_POLICY_MAX + 1;
	uint8_t *big = malloc(n);
	memset(big, 'x', n);
	struct ms_sts_policy *p = NULL;
	ck_assert_int_eq(ms_sts_policy_parse(NULL, big, n, &p, NULL, 0), MS_ERR_LIMIT);
	free(big);
	/* no final newline, and the buffer is not NUL-terminated */
	const char *t = "version: STSv1\nmode: enforce\nmx: m.example\nmax_age: 50";
	char *copy = malloc(strlen(t));
	memcpy(copy, t, strlen(t));
	ck_assert_int_eq(ms_sts_policy_parse(NULL, (uint8_t *)copy, strlen(t) - 1, &p, NULL, 0),
			 MS_OK);
	ck_assert_uint_eq(ms_sts_policy_max_age(p), 5);
	ms_sts_policy_free(p);
	free(copy);
	ms_sts_policy_free(NULL);
	ck_assert_int_eq(ms_sts_policy_parse(NULL, NULL, 0, NULL, NULL, 0), MS_ERR_INVALID);
}
END_TEST

/* ---- MX matching ------------------------------------------------------ */

struct match_case {
	const char *pattern, *host;
	int match;
};

static const struct match_case match_cases[] = {
	{ "mx.example.com", "mx.example.com", 1 },
	{ "mx.example.com", "MX.Example.COM", 1 },
	{ "MX.EXAMPLE.COM", "mx.example.com", 1 },
	{ "mx.example.com", "mx.example.com.", 1 },
	{ "mx.example.com.", "mx.example.com", 1 },
	{ "mx.example.com", "mx2.example.com", 0 },
	{ "mx.example.com", "x.example.com", 0 },
	{ "mx.example.com", "a.mx.example.com", 0 },
	{ "mx.example.com", "example.com", 0 },
	{ "*.example.com", "mx.example.com", 1 },
	{ "*.example.com", "MX.EXAMPLE.COM.", 1 },
	{ "*.example.com", "example.com", 0 },
	{ "*.example.com", "a.b.example.com", 0 },
	{ "*.example.com", ".example.com", 0 },
	{ "*.example.com", "mxexample.com", 0 },
	{ "*.example.com", "mx.example.org", 0 },
	{ "*.example.com", "mx.notexample.com", 0 },
	{ "*.example.com", "", 0 },
	{ "", "mx.example.com", 0 },
};

START_TEST(test_match_table)
{
	const struct match_case *c = &match_cases[_i];
	ck_assert_msg(ms_sts_mx_pattern_match(c->pattern, c->host) == c->match,
		      "'%s' vs '%s'", c->pattern, c->host);
}
END_TEST

START_TEST(test_match_policy_implicit_mx)
{
	const char *t = "version: STSv1\nmode: enforce\nmx: example.com\nmx: *.example.net\n"
			"max_age: 600\n";
	struct ms_sts_policy *p = NULL;
	ck_assert_int_eq(ms_sts_policy_parse(NULL, (const uint8_t *)t, strlen(t), &p, NULL, 0),
			 MS_OK);
	/* implicit MX: the domain itself must match its own name */
	ck_assert_int_eq(ms_sts_policy_match(p, "example.com"), 1);
	ck_assert_int_eq(ms_sts_policy_match(p, "Example.Com."), 1);
	ck_assert_int_eq(ms_sts_policy_match(p, "example.net"), 0);
	ck_assert_int_eq(ms_sts_policy_match(p, "mx.example.net"), 1);
	ck_assert_int_eq(ms_sts_policy_match(p, "mx.example.com"), 0);
	ck_assert_int_eq(ms_sts_policy_match(NULL, "example.com"), 0);
	ms_sts_policy_free(p);
}
END_TEST

START_TEST(test_verdicts)
{
	ck_assert_int_eq(ms_sts_verdict_for(MS_STS_MODE_ENFORCE, 1), MS_STS_FAIL);
	ck_assert_int_eq(ms_sts_verdict_for(MS_STS_MODE_TESTING, 1), MS_STS_WOULD_FAIL);
	ck_assert_int_eq(ms_sts_verdict_for(MS_STS_MODE_NONE, 1), MS_STS_PASS);
	ck_assert_int_eq(ms_sts_verdict_for(MS_STS_MODE_ENFORCE, 0), MS_STS_PASS);
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_STS_POLICY_FETCH_ERROR), "sts-policy-fetch-error");
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_STS_POLICY_INVALID), "sts-policy-invalid");
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_STS_WEBPKI_INVALID), "sts-webpki-invalid");
	ck_assert_str_eq(ms_sts_mode_str(MS_STS_MODE_TESTING), "testing");
}
END_TEST

/* ---- allocation failures ----------------------------------------------- */

static int alloc_budget; /* allocations left before failing; -1: unlimited */
static int alloc_live;

static void *fail_alloc(void *user, size_t n)
{
	(void)user;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	alloc_live++;
	return malloc(n);
}

static void *fail_realloc(void *user, void *p, size_t n)
{
	(void)user;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	if (p == NULL)
		alloc_live++;
	return realloc(p, n);
}

static void fail_free(void *user, void *p)
{
	(void)user;
	if (p)
		alloc_live--;
	free(p);
}

START_TEST(test_policy_alloc_failures)
{
	/* Fail the 1st, 2nd, ... allocation: each run ends in MS_ERR_NOMEM
	 * without leaking, until the budget suffices and the parse succeeds. */
	struct ms_env env;
	memset(&env, 0, sizeof(env));
	env.version = MS_ENV_VERSION;
	env.alloc = fail_alloc;
	env.realloc = fail_realloc;
	env.free = fail_free;
	const char *t = "version: STSv1\nmode: enforce\nmx: a.example\nmx: b.example\n"
			"mx: c.example\nmx: d.example\nmx: *.e.example\nmax_age: 9\n";
	int ok = 0;
	for (int budget = 0; budget < 64 && !ok; budget++) {
		alloc_budget = budget;
		alloc_live = 0;
		struct ms_sts_policy *p = NULL;
		char why[128] = "";
		ms_status st = ms_sts_policy_parse(&env, (const uint8_t *)t, strlen(t), &p, why,
						   sizeof(why));
		if (st == MS_OK) {
			ck_assert_uint_eq(ms_sts_policy_mx_count(p), 5);
			ok = 1;
		} else {
			ck_assert_int_eq(st, MS_ERR_NOMEM);
			ck_assert_ptr_null(p);
		}
		ms_sts_policy_free(p);
		ck_assert_int_eq(alloc_live, 0);
	}
	ck_assert(ok);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
	Suite *s = suite_create("mtasts-parse");
	TCase *tc = tcase_create("record");
	tcase_add_loop_test(tc, test_record_table, 0, N(rec_cases));
	tcase_add_test(tc, test_record_not_nul_terminated);
	suite_add_tcase(s, tc);
	tc = tcase_create("policy");
	tcase_add_loop_test(tc, test_policy_table, 0, N(pol_cases));
	tcase_add_test(tc, test_policy_limits);
	tcase_add_test(tc, test_policy_alloc_failures);
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match_table, 0, N(match_cases));
	tcase_add_test(tc, test_match_policy_implicit_mx);
	tcase_add_test(tc, test_verdicts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
