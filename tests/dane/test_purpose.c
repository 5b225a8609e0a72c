/*
 * test_purpose.c - which certificate purposes the two verifiers of a
 * peer's chain accept (issue 13, point 5):
 *   - the WebPKI check of `mailsec send`/`check` (librequiretls's
 *     ms_rtls_verify_chain since issue 14, the MTA-STS certificate rule
 *     of RFC 8461 s4.2): a TLS server's only, so
 *     a leaf whose EKU allows clientAuth alone fails;
 *   - libdane: DANE-TA(2) chains are checked as a TLS server's too (as
 *     OpenSSL's own DANE does on an SSL client), DANE-EE(3) ignores the
 *     certificate's contents by design (RFC 7671 s5.1), EKU included.
 * No EKU at all means any purpose (RFC 5280 s4.2.1.12) and passes.
 */
#include "pki.h"

#include <mailsec/requiretls_verify.h>

#include <openssl/pem.h>
#include <unistd.h>

#define NOW 1764000000 /* 2025-11-24 */
#define HOST "mx.purpose.test"

struct chain {
	EVP_PKEY *rkey, *lkey;
	X509 *root, *leaf;
	unsigned char *der[2];
	struct ms_dane_cert certs[2];
};

/* root -> leaf for HOST; `eku` NULL: no extendedKeyUsage extension. */
static void make_chain(struct chain *c, const char *eku)
{
	memset(c, 0, sizeof(*c));
	c->rkey = pki_key(ALG_P256);
	c->lkey = pki_key(ALG_P256);
	c->root = pki_cert(c->rkey, "Purpose Root", NULL, NULL, 1, NULL, NOW, -86400L,
			   86400L * 365, 1);
	c->leaf = pki_cert(c->lkey, HOST, c->root, c->rkey, 0, "DNS:" HOST, NOW, -86400L,
			   86400L * 30, 2);
	/* pki_cert gives a leaf serverAuth: replace it, then sign again. */
	int i = X509_get_ext_by_NID(c->leaf, NID_ext_key_usage, -1);
	ck_assert_int_ge(i, 0);
	X509_EXTENSION_free(X509_delete_ext(c->leaf, i));
	if (eku)
		pki_ext(c->leaf, c->root, NID_ext_key_usage, eku);
	ck_assert_int_gt(X509_sign(c->leaf, c->rkey, EVP_sha256()), 0);
	X509 *x[2] = { c->leaf, c->root };
	for (int k = 0; k < 2; k++) {
		int n = i2d_X509(x[k], &c->der[k]);
		ck_assert_int_gt(n, 0);
		c->certs[k].der = c->der[k];
		c->certs[k].len = (size_t)n;
	}
}

static void free_chain(struct chain *c)
{
	for (int k = 0; k < 2; k++)
		OPENSSL_free(c->der[k]);
	X509_free(c->leaf);
	X509_free(c->root);
	EVP_PKEY_free(c->lkey);
	EVP_PKEY_free(c->rkey);
}

/* The PKIX check with the chain's root as the whole CA store. */
static int pkix(const struct chain *c, char *detail, size_t len)
{
	char path[] = "/tmp/mailsec-purpose-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, c->root), 1);
	fclose(f);
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION, .ca_file = path,
					 .now = NOW };
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, c->certs, 2, HOST, NULL, &o, &p, NULL, 0), MS_OK);
	snprintf(detail, len, "%.150s", p.pkix_detail);
	unlink(path);
	return p.pkix == MS_RTLS_STEP_OK;
}

/* libdane with one record `usage` 1 1 on the root (2) or the leaf (3). */
static enum ms_dane_verdict dane(const struct chain *c, int usage)
{
	uint8_t data[64];
	struct ms_dane_tlsa t = { .usage = (uint8_t)usage, .selector = 1, .mtype = 1, .data = data };
	t.datalen = pki_tlsa_data(usage == 2 ? c->root : c->leaf, 1, 1, data, sizeof(data));
	const char *names[] = { HOST };
	struct ms_dane_input in = {
		.version = MS_DANE_INPUT_VERSION, .chain = c->certs, .nchain = 2, .tlsa = &t,
		.ntlsa = 1, .authentic = 1, .names = names, .nnames = 1, .now = NOW,
	};
	struct ms_dane_ctx *ctx = NULL;
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[160];
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	ck_assert_int_eq(ms_dane_verify(ctx, &in, &res, why, sizeof(why)), MS_OK);
	ms_dane_ctx_free(ctx);
	return res.verdict;
}

static const struct {
	const char *eku;
	int server; /* 1: a TLS server may use it */
} cases[] = {
	{ "serverAuth", 1 },
	{ "clientAuth", 0 },
	{ "serverAuth,clientAuth", 1 },
	{ "emailProtection", 0 },
	{ NULL, 1 },
};

START_TEST(pkix_purpose)
{
	struct chain c;
	char detail[160] = "";
	make_chain(&c, cases[_i].eku);
	int ok = pkix(&c, detail, sizeof(detail));
	ck_assert_msg(ok == cases[_i].server, "EKU %s: PKIX %s (%s)",
		      cases[_i].eku ? cases[_i].eku : "(none)", ok ? "valid" : "invalid", detail);
	if (!ok)
		ck_assert_msg(strstr(detail, "purpose") != NULL, "%s", detail);
	free_chain(&c);
}
END_TEST

START_TEST(dane_ta_purpose)
{
	struct chain c;
	make_chain(&c, cases[_i].eku);
	enum ms_dane_verdict v = dane(&c, 2);
	ck_assert_msg((v == MS_DANE_VERIFIED) == cases[_i].server, "EKU %s: DANE-TA %s",
		      cases[_i].eku ? cases[_i].eku : "(none)", ms_dane_verdict_str(v));
	/* DANE-EE binds the key alone (RFC 7671 s5.1): EKU is not looked at. */
	ck_assert_int_eq(dane(&c, 3), MS_DANE_VERIFIED);
	free_chain(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dane-purpose");
	TCase *tc = tcase_create("purpose");
	int n = (int)(sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, pkix_purpose, 0, n);
	tcase_add_loop_test(tc, dane_ta_purpose, 0, n);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
