/*
 * test_spf_suite.c - runs a converted openspf test suite (RFC 7208 or the
 * RFC 4408 cases that RFC 7208 did not change) against ms_spf, serving each
 * scenario's zone data through an injected resolver.
 * usage: test-spf-suite FILE LABEL EXPECTED_CASES [XFAIL_ID...]
 * Prints "LABEL: N passed, M failed, K expected failures" and every
 * failure.  An XFAIL case still runs: it is reported, it does not count as
 * passed, and it fails the test if it unexpectedly passes (so the list
 * shrinks when the blocker is fixed).
 */
#include "fakedns.h"

#include <check.h>
#include <mailsec/spf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *suite_file, *suite_label;
static int expected_cases;
static char **xfail_ids;
static int nxfail;

static int is_xfail(const char *id)
{
	for (int i = 0; i < nxfail; i++)
		if (strcmp(xfail_ids[i], id) == 0)
			return 1;
	return 0;
}

/* "x" + hex -> bytes (NUL-terminated); returns length. */
static size_t unhex(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	if (in[0] != 'x')
		return 0;
	for (const char *p = in + 1; p[0] && p[1] && n + 1 < cap; p += 2) {
		unsigned v;
		sscanf(p, "%2x", &v);
		out[n++] = (char)v;
	}
	out[n] = '\0';
	return n;
}

static int result_in(const char *list, const char *res)
{
	size_t rl = strlen(res);
	for (const char *p = list; *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == rl && strncmp(p, res, l) == 0)
			return 1;
		p += l + (c ? 1 : 0);
	}
	return 0;
}

START_TEST(test_suite)
{
	FILE *f = fopen(suite_file, "r");
	ck_assert_msg(f != NULL, "cannot open %s", suite_file);
	struct fakedns *z = fakedns_new();
	struct ms_dns_ctx *ctx = fakedns_ctx(z);
	struct ms_spf *spf = NULL;
	ck_assert_int_eq(ms_spf_new(NULL, ctx, &spf), MS_OK);
	ck_assert_int_eq(ms_spf_set_default_explanation(spf, "DEFAULT"), MS_OK);
	static char line[1 << 16];
	int passed = 0, failed = 0, xfailed = 0, xpassed = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *tok[64];
		size_t nt = 0;
		for (char *s = strtok(line, " "); s && nt < 64; s = strtok(NULL, " "))
			tok[nt++] = s;
		if (nt == 0 || tok[0][0] == '#')
			continue;
		if (strcmp(tok[0], "S") == 0) {
			fakedns_clear(z);
			/* "+cache" suites run with the evaluator's answer cache,
			 * emptied for each scenario's zone. */
			ck_assert_int_eq(ms_spf_set_cache(spf, strstr(suite_label, "+cache") ? 256 : 0),
					 MS_OK);
			continue;
		}
		if (strcmp(tok[0], "Z") == 0 && nt >= 3) {
			char name[1024], v[4096];
			unhex(tok[1], name, sizeof(name));
			const char *t = tok[2];
			if (strcmp(t, "TIMEOUT") == 0) {
				fakedns_add_timeout(z, name, 0);
			} else if (strstr(t, "-TIMEOUT")) {
				char tn[16];
				snprintf(tn, sizeof(tn), "%.*s", (int)(strstr(t, "-TIMEOUT") - t), t);
				fakedns_add_timeout(z, name, ms_dns_type_from_str(tn));
			} else if (strcmp(t, "NONE") == 0) {
				fakedns_add_exists(z, name);
			} else if (strcmp(t, "A") == 0 || strcmp(t, "AAAA") == 0) {
				fakedns_add(z, name, t, tok[3]);
			} else if (strcmp(t, "MX") == 0) {
				char host[1024];
				unhex(tok[4], host, sizeof(host));
				snprintf(v, sizeof(v), "%s %s", tok[3], host);
				fakedns_add(z, name, "MX", v);
			} else if (strcmp(t, "PTR") == 0 || strcmp(t, "CNAME") == 0) {
				unhex(tok[3], v, sizeof(v));
				fakedns_add(z, name, t, v);
			} else if (strcmp(t, "TXT") == 0) {
				static char bufs[16][4096];
				const char *strs[16];
				size_t lens[16], n = 0;
				for (size_t i = 3; i < nt && n < 16; i++, n++) {
					lens[n] = unhex(tok[i], bufs[n], sizeof(bufs[n]));
					strs[n] = bufs[n];
				}
				fakedns_add_txt(z, name, strs, lens, n);
			}
			continue;
		}
		if (strcmp(tok[0], "T") != 0 || nt < 7)
			continue;
		char helo[1024], from[1024], exp[4096];
		unhex(tok[3], helo, sizeof(helo));
		unhex(tok[4], from, sizeof(from));
		int want_exp = strcmp(tok[6], "-") != 0;
		if (want_exp)
			unhex(tok[6], exp, sizeof(exp));
		struct ms_spf_verdict *v = NULL;
		char why[256] = "";
		ms_status st = ms_spf_check_mailfrom(spf, tok[2], helo, from, &v, why, sizeof(why));
		const char *res = st == MS_OK ? ms_spf_result_str(ms_spf_verdict_result(v)) : "(error)";
		const char *got_exp = v ? ms_spf_verdict_explanation(v) : NULL;
		int ok = st == MS_OK && result_in(tok[5], res);
		if (ok && want_exp && (got_exp == NULL || strcmp(got_exp, exp) != 0))
			ok = 0;
		if (ok && is_xfail(tok[1])) {
			xpassed++;
			printf("UNEXPECTED PASS %s (remove it from the xfail list)\n", tok[1]);
		} else if (ok) {
			passed++;
		} else {
			if (is_xfail(tok[1]))
				xfailed++;
			else
				failed++;
			printf("%s %s: want %s%s%s got %s (%s) exp=%s mech=%s\n",
			       is_xfail(tok[1]) ? "XFAIL" : "FAIL", tok[1], tok[5],
			       want_exp ? " exp=" : "", want_exp ? exp : "", res,
			       v && ms_spf_verdict_problem(v) ? ms_spf_verdict_problem(v) : why,
			       got_exp ? got_exp : "-",
			       v && ms_spf_verdict_mechanism(v) ? ms_spf_verdict_mechanism(v) : "-");
		}
		ms_spf_verdict_free(v);
	}
	fclose(f);
	printf("%s: %d passed, %d failed, %d expected failures (of %d cases)\n", suite_label,
	       passed, failed, xfailed, expected_cases);
	fflush(stdout);
	ms_spf_free(spf);
	ms_dns_ctx_free(ctx);
	fakedns_free(z);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(xpassed, 0);
	ck_assert_int_eq(passed + xfailed, expected_cases);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s FILE LABEL EXPECTED_CASES [XFAIL_ID...]\n", argv[0]);
		return 2;
	}
	suite_file = argv[1];
	suite_label = argv[2];
	expected_cases = atoi(argv[3]);
	xfail_ids = argv + 4;
	nxfail = argc - 4;
	Suite *s = suite_create("spf-suite");
	TCase *tc = tcase_create("suite");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_suite);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
