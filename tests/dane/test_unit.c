/*
 * test_unit.c - the parsers and helpers: TLSA presentation and wire form,
 * the DER walker (against OpenSSL's own SPKI encoding, and on truncated or
 * mangled input), record usability, TLSA from PEM (certificate, public key,
 * private key), key generation and CSRs from the stable key.
 */
#include "pki.h"

START_TEST(tlsa_text)
{
	struct ms_dane_tlsa t;
	uint8_t buf[64];
	char why[128], out[256];
	ck_assert_int_eq(ms_dane_tlsa_parse_text("3 1 1 0A0b 0c", 13, &t, buf, sizeof(buf), why,
						 sizeof(why)), MS_OK);
	ck_assert_uint_eq(t.usage, 3);
	ck_assert_uint_eq(t.datalen, 3);
	ck_assert_int_eq(ms_dane_tlsa_to_text(&t, out, sizeof(out)), MS_OK);
	ck_assert_str_eq(out, "3 1 1 0a0b0c");
	ck_assert_int_eq(ms_dane_tlsa_to_text(&t, out, 10), MS_ERR_LIMIT);
	static const char *bad[] = { "", "3 1", "3 1 1", "3 1 1 0", "3 1 1 zz", "256 1 1 00",
				     "3 1 1x 00", "-1 1 1 00", "3  1 1 0g" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ms_dane_tlsa_parse_text(bad[i], strlen(bad[i]), &t, buf, sizeof(buf),
						      why, sizeof(why)) == MS_ERR_PARSE, "%s", bad[i]);
	/* Not NUL-terminated: the length bounds the parse. */
	ck_assert_int_eq(ms_dane_tlsa_parse_text("2 0 1 ffjunk", 8, &t, buf, sizeof(buf), why,
						 sizeof(why)), MS_OK);
	ck_assert_uint_eq(t.datalen, 1);
	/* Output bound. */
	ck_assert_int_eq(ms_dane_tlsa_parse_text("3 1 1 00112233", 14, &t, buf, 3, why,
						 sizeof(why)), MS_ERR_LIMIT);
}
END_TEST

START_TEST(tlsa_rdata)
{
	struct ms_dane_tlsa t;
	uint8_t rd[5] = { 3, 1, 1, 0xaa, 0xbb };
	ck_assert_int_eq(ms_dane_tlsa_parse_rdata(rd, 5, &t), MS_OK);
	ck_assert_uint_eq(t.datalen, 2);
	ck_assert_ptr_eq(t.data, rd + 3);
	ck_assert_int_eq(ms_dane_tlsa_parse_rdata(rd, 3, &t), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dane_tlsa_parse_rdata(NULL, 3, &t), MS_ERR_INVALID);
}
END_TEST

START_TEST(usable)
{
	uint8_t d[64] = { 0 };
	struct ms_dane_tlsa t = { 3, 1, 1, d, 32 };
	ck_assert_int_eq(ms_dane_tlsa_usable(&t), 1);
	t.datalen = 31;
	ck_assert_int_eq(ms_dane_tlsa_usable(&t), 0);
	t = (struct ms_dane_tlsa){ 2, 0, 2, d, 64 };
	ck_assert_int_eq(ms_dane_tlsa_usable(&t), 1);
	t.usage = 1;
	ck_assert_int_eq(ms_dane_tlsa_usable(&t), 0);
	/* Full data that is not a certificate or key. */
	t = (struct ms_dane_tlsa){ 3, 0, 0, d, 40 };
	ck_assert_int_eq(ms_dane_tlsa_usable(&t), 0);
	t.selector = 1;
	ck_assert_int_eq(ms_dane_tlsa_usable(&t), 0);
	ck_assert_int_eq(ms_dane_tlsa_usable(NULL), 0);
}
END_TEST

static void check_walker(X509 *x)
{
	unsigned char *der = NULL, *spki = NULL;
	int len = i2d_X509(x, &der);
	int slen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	size_t off, n;
	ck_assert_int_eq(ms_dane_cert_spki(der, (size_t)len, &off, &n), MS_OK);
	ck_assert_uint_eq(n, (size_t)slen);
	ck_assert_int_eq(memcmp(der + off, spki, n), 0);
	/* Every truncation fails cleanly. */
	for (int cut = 0; cut < len; cut += (cut < 64 ? 1 : 37))
		ck_assert_int_eq(ms_dane_cert_spki(der, (size_t)cut, &off, &n), MS_ERR_PARSE);
	/* Trailing bytes after the certificate are refused. */
	unsigned char *longer = OPENSSL_malloc((size_t)len + 1);
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	ck_assert_int_eq(ms_dane_cert_spki(longer, (size_t)len + 1, &off, &n), MS_ERR_PARSE);
	/* An indefinite length is not DER. */
	longer[1] = 0x80;
	ck_assert_int_eq(ms_dane_cert_spki(longer, (size_t)len, &off, &n), MS_ERR_PARSE);
	OPENSSL_free(longer);
	OPENSSL_free(der);
	OPENSSL_free(spki);
}

START_TEST(der_walker)
{
	int64_t now = (int64_t)time(NULL);
	for (int a = 0; a < ALG_COUNT; a++) {
		if (a == ALG_RSA4096)
			continue;
		EVP_PKEY *k = pki_key(a);
		X509 *x = pki_cert(k, "walker", NULL, NULL, 0, "DNS:w.example.test", now, -10, 10, 1);
		check_walker(x);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	/* A v1 certificate (no [0] version field). */
	EVP_PKEY *k = pki_key(ALG_P256);
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)"v1", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 100);
	X509_set_pubkey(x, k);
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	check_walker(x);
	X509_free(x);
	EVP_PKEY_free(k);
	size_t off, n;
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	ck_assert_int_eq(ms_dane_cert_spki(junk, sizeof(junk), &off, &n), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dane_cert_spki(NULL, 0, &off, &n), MS_ERR_INVALID);
}
END_TEST

START_TEST(from_pem_keygen_csr)
{
	char *key = NULL, why[200] = "", a[256], b[256], c[256];
	ck_assert_int_eq(ms_dane_keygen("p256", &key, why, sizeof(why)), MS_OK);
	ck_assert_ptr_nonnull(strstr(key, "BEGIN PRIVATE KEY"));
	free(key);
	ck_assert_int_eq(ms_dane_keygen("dsa512", &key, why, sizeof(why)), MS_ERR_UNSUPPORTED);
	ck_assert_ptr_null(key);
	ck_assert_int_eq(ms_dane_keygen("ed25519", &key, why, sizeof(why)), MS_OK);
	size_t klen = strlen(key);
	/* 3 1 1 from the private key ... */
	ck_assert_int_eq(ms_dane_tlsa_from_pem((uint8_t *)key, klen, 3, 1, 1, a, sizeof(a), why,
					       sizeof(why)), MS_OK);
	ck_assert_int_eq(strncmp(a, "3 1 1 ", 6), 0);
	ck_assert_uint_eq(strlen(a), 6 + 64);
	/* ... equals 3 1 1 from a CSR-issued certificate with the same key. */
	const char *names[] = { "mx.example.test", "mail.example.test" };
	char *csr = NULL;
	ck_assert_int_eq(ms_dane_csr((uint8_t *)key, klen, names, 2, &csr, why, sizeof(why)), MS_OK);
	BIO *bio = BIO_new_mem_buf(csr, -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ck_assert_ptr_nonnull(req);
	EVP_PKEY *pub = X509_REQ_get_pubkey(req);
	ck_assert_int_eq(X509_REQ_verify(req, pub), 1);
	/* The public key PEM gives the same record. */
	BIO *pb = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(pb, pub);
	char *pp;
	long pl = BIO_get_mem_data(pb, &pp);
	ck_assert_int_eq(ms_dane_tlsa_from_pem((uint8_t *)pp, (size_t)pl, 3, 1, 1, b, sizeof(b),
					       why, sizeof(why)), MS_OK);
	ck_assert_str_eq(a, b);
	/* Self-sign the request into a certificate: 3 1 1 still the same. */
	X509 *x = X509_new();
	X509_set_version(x, 2);
	X509_set_subject_name(x, X509_REQ_get_subject_name(req));
	X509_set_issuer_name(x, X509_REQ_get_subject_name(req));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 1000);
	X509_set_pubkey(x, pub);
	BIO *kb = BIO_new_mem_buf(key, -1);
	EVP_PKEY *priv = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	BIO_free(kb);
	ck_assert_int_gt(X509_sign(x, priv, NULL), 0);
	BIO *cb = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(cb, x);
	char *cp;
	long cl = BIO_get_mem_data(cb, &cp);
	ck_assert_int_eq(ms_dane_tlsa_from_pem((uint8_t *)cp, (size_t)cl, 3, 1, 1, c, sizeof(c),
					       why, sizeof(why)), MS_OK);
	ck_assert_str_eq(a, c);
	/* Selector 0 needs a certificate; garbage is refused. */
	ck_assert_int_eq(ms_dane_tlsa_from_pem((uint8_t *)key, klen, 3, 0, 1, b, sizeof(b), why,
					       sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dane_tlsa_from_pem((uint8_t *)"nothing", 7, 3, 1, 1, b, sizeof(b), why,
					       sizeof(why)), MS_ERR_PARSE);
	ck_assert_int_eq(ms_dane_tlsa_from_pem((uint8_t *)cp, (size_t)cl, 3, 0, 0, b, 16, why,
					       sizeof(why)), MS_ERR_LIMIT);
	BIO_free(cb);
	BIO_free(pb);
	X509_free(x);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	free(csr);
	free(key);
}
END_TEST

START_TEST(strings_and_ctx)
{
	ck_assert_str_eq(ms_dane_verdict_str(MS_DANE_ALL_UNUSABLE), "all-unusable");
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_CERTIFICATE_HOST_MISMATCH), "certificate-host-mismatch");
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_SUCCESS), "");
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_mtype_rank(ctx, 0, 1), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dane_ctx_set_mtype_rank(ctx, 3, 1), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dane_ctx_set_mtype_rank(ctx, 2, 0), MS_OK);
	/* With SHA-512 disabled, a lone 3 1 2 record is unusable. */
	uint8_t d[64] = { 0 };
	struct ms_dane_tlsa t = { 3, 1, 2, d, 64 };
	uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct ms_dane_cert c = { der, 4 };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = &c, .nchain = 1,
				    .tlsa = &t, .ntlsa = 1, .authentic = 1 };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	ck_assert_int_eq(ms_dane_verify(ctx, &in, &res, NULL, 0), MS_OK);
	ck_assert_int_eq(res.verdict, MS_DANE_ALL_UNUSABLE);
	ms_dane_ctx_free(ctx);
	ms_dane_ctx_free(NULL);
	ms_dane_lookup_free(NULL);
}
END_TEST

struct seen {
	int metrics, logs;
	char verdict[32];
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct seen *s = user;
	if (strcmp(ev->name, "dane_verifications_total") == 0 && ev->nlabels == 1) {
		s->metrics++;
		snprintf(s->verdict, sizeof(s->verdict), "%s", ev->labels[0].value);
	}
}

static void on_log(void *user, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv)
{
	struct seen *s = user;
	if (strcmp(subsystem, "dane") == 0 && level == MS_LOG_DEBUG && nkv == 4)
		s->logs++;
}

/* The env hooks see one counter and one debug line per verification. */
START_TEST(env_hooks)
{
	struct seen seen = { 0, 0, "" };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &seen, .log = on_log,
			      .log_level = MS_LOG_DEBUG, .metric = on_metric };
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(&env, &ctx), MS_OK);
	uint8_t d[32] = { 0 };
	struct ms_dane_tlsa t = { 1, 1, 1, d, 32 };
	uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct ms_dane_cert c = { der, 4 };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = &c, .nchain = 1,
				    .tlsa = &t, .ntlsa = 1, .authentic = 1 };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	ck_assert_int_eq(ms_dane_verify(ctx, &in, &res, NULL, 0), MS_OK);
	ck_assert_int_eq(seen.metrics, 1);
	ck_assert_int_eq(seen.logs, 1);
	ck_assert_str_eq(seen.verdict, "all-unusable");
	ms_dane_ctx_free(ctx);
}
END_TEST

/* Version 2 of struct ms_env: the log and the metric callbacks each get
 * their own user pointer; NULL ones, and a version-1 struct (whose members
 * past `now` the library must not read), fall back to `user`. */
static int verify_once(const struct ms_env *env)
{
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(env, &ctx), MS_OK);
	uint8_t d[32] = { 0 };
	struct ms_dane_tlsa t = { 1, 1, 1, d, 32 };
	uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct ms_dane_cert c = { der, 4 };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = &c, .nchain = 1,
				    .tlsa = &t, .ntlsa = 1, .authentic = 1 };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	ms_status st = ms_dane_verify(ctx, &in, &res, NULL, 0);
	ms_dane_ctx_free(ctx);
	return st;
}

START_TEST(env_separate_users)
{
	struct seen shared = { 0, 0, "" }, logs = { 0, 0, "" }, metrics = { 0, 0, "" };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &shared, .log = on_log,
			      .log_level = MS_LOG_DEBUG, .metric = on_metric,
			      .log_user = &logs, .metric_user = &metrics };
	ck_assert_int_eq(verify_once(&env), MS_OK);
	ck_assert_int_eq(logs.logs, 1);
	ck_assert_int_eq(logs.metrics, 0);
	ck_assert_int_eq(metrics.metrics, 1);
	ck_assert_int_eq(metrics.logs, 0);
	ck_assert_int_eq(shared.logs + shared.metrics, 0);
	/* only the log one set: metrics go to `user` */
	env.metric_user = NULL;
	ck_assert_int_eq(verify_once(&env), MS_OK);
	ck_assert_int_eq(logs.logs, 2);
	ck_assert_int_eq(shared.metrics, 1);
	ck_assert_int_eq(shared.logs, 0);
	/* a version-1 caller: log_user is past its struct, never read */
	env.version = 1;
	env.metric_user = &metrics;
	ck_assert_int_eq(verify_once(&env), MS_OK);
	ck_assert_int_eq(shared.logs, 1);
	ck_assert_int_eq(shared.metrics, 2);
	ck_assert_int_eq(logs.logs, 2);
	ck_assert_int_eq(metrics.metrics, 1);
}
END_TEST

/* The caller owns ms_dane_result's version: 0 is refused, the library
 * never rewrites it, and a newer caller's version gets what this library
 * has (the members past it are left alone). */
START_TEST(result_version_caller_set)
{
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	uint8_t d[32] = { 0 };
	struct ms_dane_tlsa t = { 1, 1, 1, d, 32 };
	uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct ms_dane_cert c = { der, 4 };
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION, .chain = &c, .nchain = 1,
				    .tlsa = &t, .ntlsa = 1, .authentic = 1 };
	struct {
		struct ms_dane_result r;
		unsigned char canary[16];
	} big;
	char why[200] = "";
	memset(&big, 0xA5, sizeof(big));
	big.r.version = 0;
	ck_assert_int_eq(ms_dane_verify(ctx, &in, &big.r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "MS_DANE_RESULT_VERSION"));
	ck_assert_int_eq(big.r.version, 0);
	ck_assert_int_eq(big.r.matched, (int)0xA5A5A5A5); /* nothing written */
	big.r.version = MS_DANE_RESULT_VERSION + 7;
	ck_assert_int_eq(ms_dane_verify(ctx, &in, &big.r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(big.r.version, MS_DANE_RESULT_VERSION + 7);
	ck_assert_int_eq(big.r.verdict, MS_DANE_ALL_UNUSABLE);
	for (size_t i = 0; i < sizeof(big.canary); i++)
		ck_assert_int_eq(big.canary[i], 0xA5);
	ms_dane_ctx_free(ctx);
}
END_TEST

/* Strings libdane returns come from the env allocator and go back to it
 * through ms_dane_string_free: every block allocated is freed by the hook. */
struct str_alloc {
	int allocs, frees;
};

static void *sa_alloc(void *user, size_t n)
{
	((struct str_alloc *)user)->allocs++;
	return malloc(n);
}

static void *sa_realloc(void *user, void *p, size_t n)
{
	if (p == NULL)
		((struct str_alloc *)user)->allocs++;
	return realloc(p, n);
}

static void sa_free(void *user, void *p)
{
	if (p != NULL)
		((struct str_alloc *)user)->frees++;
	free(p);
}

START_TEST(strings_env_allocator)
{
	struct str_alloc sa = { 0, 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &sa, .alloc = sa_alloc,
			      .realloc = sa_realloc, .free = sa_free };
	char *key = NULL, *csr = NULL, why[200] = "";
	ck_assert_int_eq(ms_dane_keygen_env(&env, "p256", &key, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(sa.allocs, 1);
	const char *names[] = { "mx.example.test" };
	ck_assert_int_eq(ms_dane_csr_env(&env, (const uint8_t *)key, strlen(key), names, 1, &csr,
					 why, sizeof(why)), MS_OK);
	ck_assert_ptr_nonnull(strstr(csr, "BEGIN CERTIFICATE REQUEST"));
	ck_assert_int_eq(sa.allocs, 2);
	ck_assert_int_eq(sa.frees, 0);
	ms_dane_string_free(&env, csr);
	ms_dane_string_free(&env, key);
	ck_assert_int_eq(sa.frees, 2);
	ms_dane_string_free(&env, NULL);
	ck_assert_int_eq(sa.frees, 2);
	/* a failure allocates nothing and leaves *pem NULL */
	ck_assert_int_eq(ms_dane_keygen_env(&env, "dsa512", &key, why, sizeof(why)),
			 MS_ERR_UNSUPPORTED);
	ck_assert_ptr_null(key);
	ck_assert_int_eq(sa.allocs, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dane-unit");
	TCase *tc = tcase_create("unit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tlsa_text);
	tcase_add_test(tc, tlsa_rdata);
	tcase_add_test(tc, usable);
	tcase_add_test(tc, der_walker);
	tcase_add_test(tc, from_pem_keygen_csr);
	tcase_add_test(tc, strings_env_allocator);
	tcase_add_test(tc, strings_and_ctx);
	tcase_add_test(tc, env_hooks);
	tcase_add_test(tc, result_version_caller_set);
	tcase_add_test(tc, env_separate_users);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
