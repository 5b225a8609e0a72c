/*
 * test_dkim_data.c - dkimpy's test data (python3-dkim ships it in
 * dkim/tests/data; its directory is argv[1]): the RFC 8463 Appendix A
 * message with its Ed25519 and RSA signatures (rfc6376.signed.msg, keys
 * from RFC 8463 as in dkimpy's tests), a message signed by Exim, a Gmail
 * message with degenerate folding, dkimpy's broken key records, and
 * dkimpy's RSA keys (traditional and PKCS#8 PEM, SPKI and PKCS#1 records).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkimtest.h"

static const char *datadir;
static struct fz *zone;
static struct ms_dkim_verifier *ver;

/* RFC 8463 Appendix A.2 (also in dkimpy's test_dkim_ed25519.py). */
static const char BRISBANE[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
/* dkimpy's test_dkim.py dnsfunc, for test2.message. */
static const char GMAIL[] =
	"k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh"
	"+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQ"
	"s8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbb"
	"hzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5Oct"
	"MEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598H"
	"Y+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB";

static char *data(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	char *s = test_read_file(path, len);
	ck_assert_msg(s != NULL, "cannot read %s", path);
	return s;
}

/* A key record file, trailing newline removed. */
static char *record(const char *name)
{
	size_t n;
	char *s = data(name, &n);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void setup(void)
{
	zone = fz_new();
	ck_assert_int_eq(ms_dkim_verifier_new(NULL, fz_ctx(zone), &ver), MS_OK);
}

static void teardown(void)
{
	ms_dkim_verifier_free(ver);
	fz_free(zone);
}

static void check_msg(const char *msg, size_t len, size_t nsig, const enum ms_dkim_result *want)
{
	static const size_t chunks[] = { 0, 1, 13 };
	for (size_t c = 0; c < 3; c++) {
		ms_dkim_verifier_flush_cache(ver);
		struct ms_dkim_verify *vf = test_verify(ver, msg, len, chunks[c]);
		ck_assert_ptr_nonnull(vf);
		ck_assert_uint_eq(ms_dkim_verify_count(vf), nsig);
		for (size_t i = 0; i < nsig; i++) {
			const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
			ck_assert_msg(ms_dkim_sig_result(s) == want[i], "sig %zu (%s): %s (%s)", i,
				      ms_dkim_sig_selector(s),
				      ms_dkim_result_str(ms_dkim_sig_result(s)),
				      ms_dkim_sig_reason(s));
		}
		ms_dkim_verify_free(vf);
	}
}

START_TEST(rfc8463_example)
{
	char *rsa = record("test.txt");
	fz_txt(zone, "brisbane._domainkey.football.example.com", BRISBANE, 0);
	fz_txt(zone, "test._domainkey.football.example.com", rsa, 0);
	size_t len;
	char *m = data("rfc6376.signed.msg", &len);
	enum ms_dkim_result pp[2] = { MS_DKIM_PASS, MS_DKIM_PASS };
	check_msg(m, len, 2, pp);
	struct ms_dkim_verify *vf = test_verify(ver, m, len, 0);
	const struct ms_dkim_sig *s0 = ms_dkim_verify_sig(vf, 0), *s1 = ms_dkim_verify_sig(vf, 1);
	ck_assert_int_eq(ms_dkim_sig_algorithm(s0), MS_DKIM_ED25519_SHA256);
	ck_assert_int_eq(ms_dkim_sig_algorithm(s1), MS_DKIM_RSA_SHA256);
	ck_assert_uint_eq(ms_dkim_sig_key_bits(s1), 1024);
	ck_assert_str_eq(ms_dkim_sig_identity(s0), "@football.example.com");
	ck_assert_int_eq(ms_dkim_sig_timestamp(s0), 1518460054);
	ck_assert_str_eq(ms_dkim_sig_b_prefix(s0), "9/dsDChY");
	ms_dkim_verify_free(vf);
	/* tampered body: both fail */
	char *p = strstr(m, "We lost");
	ck_assert_ptr_nonnull(p);
	memcpy(p, "We won ", 7);
	enum ms_dkim_result ff[2] = { MS_DKIM_FAIL, MS_DKIM_FAIL };
	check_msg(m, len, 2, ff);
	free(m);
	m = data("rfc6376.signed.rsa.msg", &len);
	check_msg(m, len, 1, pp);
	free(m);
	free(rsa);
}
END_TEST

START_TEST(broken_key_records)
{
	size_t len;
	char *m = data("rfc6376.signed.rsa.msg", &len);
	static const char *files[] = { "badversion.txt", "badk.txt", "test_bad.txt" };
	for (size_t i = 0; i < 3; i++) {
		char *rec = record(files[i]);
		fz_clear(zone);
		fz_txt(zone, "test._domainkey.football.example.com", rec, 0);
		enum ms_dkim_result want = MS_DKIM_PERMERROR;
		check_msg(m, len, 1, &want);
		free(rec);
	}
	free(m);
}
END_TEST

START_TEST(exim_ed25519)
{
	char *rec = record("eximtest.dns");
	fz_txt(zone, "sed._domainkey.test.ex", rec, 0);
	size_t len;
	char *m = data("ed25519test2.msg", &len);
	enum ms_dkim_result want = MS_DKIM_PASS;
	check_msg(m, len, 1, &want);
	free(m);
	free(rec);
}
END_TEST

START_TEST(degenerate_folding)
{
	fz_txt(zone, "20120113._domainkey.gmail.com", GMAIL, 0);
	size_t len;
	char *m = data("test2.message", &len);
	enum ms_dkim_result want = MS_DKIM_PASS;
	check_msg(m, len, 1, &want);
	free(m);
}
END_TEST

START_TEST(dkimpy_keys)
{
	/* key file and its records: SPKI and bare PKCS#1 */
	static const char *keys[] = { "2048_testkey.key", "2048_testkey_PKCS8.key" };
	static const char *recs[2][2] = {
		{ "2048_testkey_wo_markers.pub.txt", "2048_testkey_wo_markers.pub.rsa.txt" },
		{ "2048_testkey_PKCS8.key.pub.txt", NULL } };
	size_t mlen;
	char *msg = data("test.message", &mlen);
	for (size_t k = 0; k < 2; k++) {
		size_t len;
		char *pem = data(keys[k], &len);
		struct ms_dkim_key *key = NULL;
		char why[256] = "";
		ck_assert_msg(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, len, &key, why,
						   sizeof(why)) == MS_OK, "%s: %s", keys[k], why);
		free(pem);
		struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = key,
					       .domain = "example.com", .selector = "test",
					       .header_canon = MS_DKIM_CANON_RELAXED,
					       .body_canon = (enum ms_dkim_canon)k };
		const struct ms_dkim_sign_opts *list[1] = { &o };
		size_t slen;
		char *s = test_sign(msg, mlen, list, 1, &slen);
		ck_assert_ptr_nonnull(s);
		for (size_t r = 0; r < 2 && recs[k][r]; r++) {
			char *rec = record(recs[k][r]);
			fz_clear(zone);
			fz_txt(zone, "test._domainkey.example.com", rec, 0);
			enum ms_dkim_result want = MS_DKIM_PASS;
			check_msg(s, slen, 1, &want);
			free(rec);
		}
		free(s);
		ms_dkim_key_free(key);
	}
	free(msg);
	/* dkimpy's 1024-bit key is too weak to sign with */
	size_t len;
	char *pem = data("1024_testkey.key", &len);
	struct ms_dkim_key *key = NULL;
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, len, &key, NULL, 0),
			 MS_ERR_LIMIT);
	free(pem);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DKIMPY-DATA-DIR\n", argv[0]);
		return 2;
	}
	datadir = argv[1];
	Suite *s = suite_create("dkim-dkimpy-data");
	TCase *t = tcase_create("data");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, rfc8463_example);
	tcase_add_test(t, broken_key_records);
	tcase_add_test(t, exim_ed25519);
	tcase_add_test(t, degenerate_folding);
	tcase_add_test(t, dkimpy_keys);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
