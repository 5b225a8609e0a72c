/*
 * test_dkim_interop.c - interop with dkimpy (python3-dkim), both ways:
 * messages we sign verify with dkimpy, messages dkimpy signs verify with
 * us, over RSA and Ed25519, every canonicalization pair, and messages with
 * folded headers, an empty body, no final CRLF, whitespace-only lines,
 * "\r\r\n", 8-bit content, very long lines, Unix line ends and a 10 MiB
 * body.  Plus dkimpy signatures we must not pass: l= with appended text,
 * rsa-sha1 and a 512-bit RSA key.
 *
 * argv: PYTHON HELPER (tests/dkim/dkim_interop.py).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkimtest.h"

static const char *python, *helper;
static char dir[4096];
static struct ms_dkim_key *rsa_key, *ed_key;
static char rsa_pem[4200], ed_pem[4200], records[4200];
static struct fz *zone;
static struct ms_dkim_verifier *ver;

static void write_file(const char *path, const char *data, size_t len)
{
	/* plain checks: also called from main(), outside any test */
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len) {
		perror(path);
		abort();
	}
	fclose(f);
}

static int sh(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct msgcase {
	const char *name;
	char *text;
	size_t len;
};

static struct msgcase cases[9];
static size_t ncases;

static void add_case(const char *name, const char *text, size_t len)
{
	if (len == (size_t)-1)
		len = strlen(text);
	cases[ncases].name = name;
	cases[ncases].text = malloc(len + 1);
	memcpy(cases[ncases].text, text, len);
	cases[ncases].text[len] = '\0';
	cases[ncases].len = len;
	ncases++;
}

#define HDR "From: Joe <joe@example.test>\r\nTo: Suzie <suzie@example.net>\r\n" \
	    "Subject: test\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n" \
	    "Message-ID: <1@example.test>\r\n"

static void make_cases(void)
{
	add_case("folded",
		 "From: Joe\r\n <joe@example.test>\r\nTo: Suzie <suzie@example.net>,\r\n"
		 "\tother@example.net\r\nSubject:  a   folded\r\n    subject  \r\n"
		 "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\nbody\r\n", (size_t)-1);
	add_case("empty-body", HDR "\r\n", (size_t)-1);
	add_case("no-final-crlf", HDR "\r\nline one\r\nlast line", (size_t)-1);
	add_case("whitespace-lines", HDR "\r\na\r\n  \r\n\t\r\nb  \t \r\n   \r\n \t\r\n", (size_t)-1);
	add_case("cr-cr-lf", HDR "\r\na\r\r\nb\r\n\r\r\n", (size_t)-1);
	add_case("8bit", "From: J\xc3\xb6rg <j@example.test>\r\nSubject: \xe2\x82\xac 100\r\n"
		 "\r\nd\xc3\xa9j\xc3\xa0 vu \xff\xfe\r\n\xe9t\xe9\r\n", (size_t)-1);
	/* a 20000-byte line */
	size_t n = 20000;
	char *big = malloc(n + 256);
	int o = sprintf(big, HDR "\r\n");
	for (size_t i = 0; i < n; i++)
		big[o + (int)i] = (char)('a' + (i % 7 == 0 ? -('a' - ' ') : (int)(i % 26)));
	strcpy(big + o + n, "\r\nend\r\n");
	add_case("long-line", big, strlen(big));
	free(big);
	add_case("unix-line-ends", "From: joe@example.test\nSubject: lf\n\nline 1\n  \nline  2\n\n",
		 (size_t)-1);
}

static void setup(void)
{
	zone = fz_new();
	char *t = NULL;
	ms_dkim_key_txt_record(rsa_key, &t);
	fz_txt(zone, "rsa._domainkey.example.test", t, 0);
	ms_dkim_string_free(t);
	ms_dkim_key_txt_record(ed_key, &t);
	fz_txt(zone, "ed._domainkey.example.test", t, 0);
	ms_dkim_string_free(t);
	ck_assert_int_eq(ms_dkim_verifier_new(NULL, fz_ctx(zone), &ver), MS_OK);
}

static void teardown(void)
{
	ms_dkim_verifier_free(ver);
	fz_free(zone);
}

static const char *const canons[4][2] = {
	{ "simple", "simple" }, { "relaxed", "relaxed" },
	{ "relaxed", "simple" }, { "simple", "relaxed" } };

/* dkimpy signs `msg`; returns the signed message (malloc'd). */
static char *dkimpy_sign(const char *msg, size_t len, int ed, const char *hc, const char *bc,
			 const char *extra, size_t *outlen, const char *keyfile)
{
	char in[4200], out[4200], cmd[16384];
	snprintf(in, sizeof(in), "%s/in.eml", dir);
	snprintf(out, sizeof(out), "%s/out.eml", dir);
	write_file(in, msg, len);
	snprintf(cmd, sizeof(cmd), "'%s' '%s' sign '%s' example.test %s %s %s %s %s < '%s' > '%s'",
		 python, helper, keyfile ? keyfile : ed ? ed_pem : rsa_pem, ed ? "ed" : "rsa",
		 extra && strstr(extra, "sha1") ? "rsa-sha1"
						: ed ? "ed25519-sha256" : "rsa-sha256",
		 hc, bc, extra && strstr(extra, "length") ? "length" : "", in, out);
	ck_assert_msg(sh(cmd) == 0, "dkimpy sign failed: %s", cmd);
	char *s = test_read_file(out, outlen);
	ck_assert_ptr_nonnull(s);
	return s;
}

static int dkimpy_verify(const char *msg, size_t len, char *report, size_t replen)
{
	char in[4200], out[4200], cmd[16384];
	snprintf(in, sizeof(in), "%s/v.eml", dir);
	snprintf(out, sizeof(out), "%s/v.out", dir);
	write_file(in, msg, len);
	snprintf(cmd, sizeof(cmd), "'%s' '%s' verify '%s' < '%s' > '%s' 2>&1", python, helper,
		 records, in, out);
	int rc = sh(cmd);
	size_t n;
	char *r = test_read_file(out, &n);
	snprintf(report, replen, "%s", r ? r : "");
	free(r);
	return rc;
}

static void ours_verify(const char *msg, size_t len, size_t nsig, enum ms_dkim_result want,
			const char *what)
{
	struct ms_dkim_verify *vf = test_verify(ver, msg, len, 4093);
	ck_assert_ptr_nonnull(vf);
	ck_assert_uint_eq(ms_dkim_verify_count(vf), nsig);
	for (size_t i = 0; i < nsig; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		ck_assert_msg(ms_dkim_sig_result(s) == want, "%s: sig %zu %s (%s)", what, i,
			      ms_dkim_result_str(ms_dkim_sig_result(s)), ms_dkim_sig_reason(s));
	}
	ms_dkim_verify_free(vf);
}

START_TEST(we_sign_dkimpy_verifies)
{
	const struct msgcase *c = &cases[_i];
	for (int ed = 0; ed < 2; ed++)
		for (int k = 0; k < 4; k++) {
			struct ms_dkim_sign_opts o = {
				.version = MS_DKIM_SIGN_OPTS_VERSION, .key = ed ? ed_key : rsa_key,
				.domain = "example.test", .selector = ed ? "ed" : "rsa",
				.header_canon = k == 1 || k == 2 ? MS_DKIM_CANON_RELAXED
								 : MS_DKIM_CANON_SIMPLE,
				.body_canon = k == 1 || k == 3 ? MS_DKIM_CANON_RELAXED
							       : MS_DKIM_CANON_SIMPLE };
			const struct ms_dkim_sign_opts *list[1] = { &o };
			size_t slen;
			char *s = test_sign(c->text, c->len, list, 1, &slen);
			ck_assert_ptr_nonnull(s);
			char rep[512];
			ck_assert_msg(dkimpy_verify(s, slen, rep, sizeof(rep)) == 0,
				      "%s %s %s/%s: dkimpy says %s", c->name, ed ? "ed25519" : "rsa",
				      canons[k][0], canons[k][1], rep);
			free(s);
		}
}
END_TEST

START_TEST(dkimpy_signs_we_verify)
{
	const struct msgcase *c = &cases[_i];
	for (int ed = 0; ed < 2; ed++)
		for (int k = 0; k < 4; k++) {
			size_t slen;
			char *s = dkimpy_sign(c->text, c->len, ed, canons[k][0], canons[k][1], NULL,
					      &slen, NULL);
			char what[128];
			snprintf(what, sizeof(what), "%s %s %s/%s", c->name, ed ? "ed25519" : "rsa",
				 canons[k][0], canons[k][1]);
			ours_verify(s, slen, 1, MS_DKIM_PASS, what);
			free(s);
		}
}
END_TEST

START_TEST(both_signatures_both_ways)
{
	/* RSA + Ed25519 on one message, by us, checked by dkimpy; and dkimpy's
	 * two signatures stacked, checked by us. */
	const struct msgcase *c = &cases[0];
	struct ms_dkim_sign_opts a = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = rsa_key,
				       .domain = "example.test", .selector = "rsa",
				       .header_canon = MS_DKIM_CANON_RELAXED,
				       .body_canon = MS_DKIM_CANON_RELAXED };
	struct ms_dkim_sign_opts b = a;
	b.key = ed_key;
	b.selector = "ed";
	const struct ms_dkim_sign_opts *list[2] = { &a, &b };
	size_t slen;
	char *s = test_sign(c->text, c->len, list, 2, &slen);
	char rep[512];
	ck_assert_msg(dkimpy_verify(s, slen, rep, sizeof(rep)) == 0, "dkimpy: %s", rep);
	free(s);
	char *s1 = dkimpy_sign(c->text, c->len, 0, "relaxed", "relaxed", NULL, &slen, NULL);
	char *s2 = dkimpy_sign(s1, slen, 1, "relaxed", "simple", NULL, &slen, NULL);
	ours_verify(s2, slen, 2, MS_DKIM_PASS, "stacked dkimpy signatures");
	free(s1);
	free(s2);
}
END_TEST

START_TEST(ten_mib_body)
{
	size_t n = 10u << 20;
	char *m = malloc(n + 512);
	size_t o = (size_t)sprintf(m, HDR "\r\n");
	while (o < n)
		o += (size_t)sprintf(m + o, "%08zu  The quick\tbrown fox  \r\n", o);
	struct ms_dkim_sign_opts a = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = rsa_key,
				       .domain = "example.test", .selector = "rsa",
				       .header_canon = MS_DKIM_CANON_RELAXED,
				       .body_canon = MS_DKIM_CANON_RELAXED };
	const struct ms_dkim_sign_opts *list[1] = { &a };
	size_t slen;
	char *s = test_sign(m, o, list, 1, &slen);
	char rep[512];
	ck_assert_msg(dkimpy_verify(s, slen, rep, sizeof(rep)) == 0, "dkimpy: %s", rep);
	free(s);
	s = dkimpy_sign(m, o, 1, "simple", "simple", NULL, &slen, NULL);
	ours_verify(s, slen, 1, MS_DKIM_PASS, "10 MiB simple ed25519");
	free(s);
	free(m);
}
END_TEST

START_TEST(refused_dkimpy_signatures)
{
	const struct msgcase *c = &cases[0];
	size_t slen;
	/* l= with text appended after signing */
	char *s = dkimpy_sign(c->text, c->len, 0, "relaxed", "relaxed", "length", &slen, NULL);
	ck_assert_ptr_nonnull(strstr(s, "l="));
	ours_verify(s, slen, 1, MS_DKIM_PASS, "l= without appended text");
	char *t = malloc(slen + 64);
	memcpy(t, s, slen);
	memcpy(t + slen, "Click here: http://evil.example/\r\n", 34);
	ours_verify(t, slen + 34, 1, MS_DKIM_POLICY, "l= with appended text");
	struct ms_dkim_verify *vf = test_verify(ver, t, slen + 34, 0);
	ck_assert_uint_eq(ms_dkim_sig_unsigned_bytes(ms_dkim_verify_sig(vf, 0)), 34);
	ck_assert_ptr_nonnull(strstr(ms_dkim_sig_reason(ms_dkim_verify_sig(vf, 0)), "34"));
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_set_flags(ver, MS_DKIM_ALLOW_BODY_LENGTH);
	ours_verify(t, slen + 34, 1, MS_DKIM_PASS, "l= allowed by policy");
	ms_dkim_verifier_set_flags(ver, 0);
	free(t);
	free(s);
	/* rsa-sha1 (RFC 8301) */
	s = dkimpy_sign(c->text, c->len, 0, "relaxed", "relaxed", "sha1", &slen, NULL);
	ours_verify(s, slen, 1, MS_DKIM_POLICY, "rsa-sha1");
	ms_dkim_verifier_set_flags(ver, MS_DKIM_ALLOW_SHA1);
	ours_verify(s, slen, 1, MS_DKIM_PASS, "rsa-sha1 allowed");
	ms_dkim_verifier_set_flags(ver, 0);
	free(s);
	/* a 512-bit RSA key (RFC 8301 s3.2: < 1024 bits MUST NOT pass) */
	EVP_PKEY *weak = EVP_RSA_gen(512);
	ck_assert_ptr_nonnull(weak);
	char path[4200];
	snprintf(path, sizeof(path), "%s/weak.pem", dir);
	FILE *f = fopen(path, "w");
	PEM_write_PrivateKey(f, weak, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	unsigned char *der = NULL;
	int dl = i2d_PUBKEY(weak, &der);
	char rec[1024] = "v=DKIM1; k=rsa; p=";
	EVP_EncodeBlock((unsigned char *)rec + strlen(rec), der, dl);
	OPENSSL_free(der);
	EVP_PKEY_free(weak);
	fz_txt(zone, "weak._domainkey.example.test", rec, 0);
	char *in = NULL;
	s = dkimpy_sign(c->text, c->len, 0, "relaxed", "relaxed", NULL, &slen, path);
	/* dkimpy used the selector "rsa": point it at the weak key's record */
	char *sel = strstr(s, "s=rsa;");
	ck_assert_ptr_nonnull(sel);
	in = malloc(slen + 8);
	size_t pre = (size_t)(sel - s);
	memcpy(in, s, pre);
	memcpy(in + pre, "s=weak;", 7);
	memcpy(in + pre + 7, sel + 6, slen - pre - 6);
	ours_verify(in, slen + 1, 1, MS_DKIM_POLICY, "512-bit key");
	free(in);
	free(s);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PYTHON HELPER\n", argv[0]);
		return 2;
	}
	python = argv[1];
	helper = argv[2];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof(dir), "%s/dkim-interop-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	char why[256];
	if (ms_dkim_key_generate(NULL, MS_DKIM_RSA_SHA256, 2048, &rsa_key, why, sizeof(why)) ||
	    ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, &ed_key, why, sizeof(why)))
		return 1;
	snprintf(rsa_pem, sizeof(rsa_pem), "%s/rsa.pem", dir);
	snprintf(ed_pem, sizeof(ed_pem), "%s/ed.pem", dir);
	snprintf(records, sizeof(records), "%s/records", dir);
	char *p, *t1, *t2;
	ms_dkim_key_private_pem(rsa_key, &p);
	write_file(rsa_pem, p, strlen(p));
	ms_dkim_string_free(p);
	ms_dkim_key_private_pem(ed_key, &p);
	write_file(ed_pem, p, strlen(p));
	ms_dkim_string_free(p);
	ms_dkim_key_txt_record(rsa_key, &t1);
	ms_dkim_key_txt_record(ed_key, &t2);
	FILE *f = fopen(records, "w");
	fprintf(f, "rsa._domainkey.example.test %s\ned._domainkey.example.test %s\n", t1, t2);
	fclose(f);
	ms_dkim_string_free(t1);
	ms_dkim_string_free(t2);
	make_cases();

	Suite *s = suite_create("dkim-interop-dkimpy");
	TCase *t = tcase_create("dkimpy");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 300);
	tcase_add_loop_test(t, we_sign_dkimpy_verifies, 0, (int)ncases);
	tcase_add_loop_test(t, dkimpy_signs_we_verify, 0, (int)ncases);
	tcase_add_test(t, both_signatures_both_ways);
	tcase_add_test(t, ten_mib_body);
	tcase_add_test(t, refused_dkimpy_signatures);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	char cmd[4200 + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (!failed)
		sh(cmd);
	for (size_t i = 0; i < ncases; i++)
		free(cases[i].text);
	ms_dkim_key_free(rsa_key);
	ms_dkim_key_free(ed_key);
	return failed ? 1 : 0;
}
