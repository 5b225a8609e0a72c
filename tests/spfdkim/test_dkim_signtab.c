/*
 * test_dkim_signtab.c - the signing policy (mailsec/dkim_signtab.h): which
 * clients are outgoing, which author domain matches which SigningTable
 * pattern, the refusals of bad input, and signers with one signature per
 * key of the matching rule.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/dkim.h>
#include <mailsec/dkim_signtab.h>

static struct ms_dkim_key *genkey(enum ms_dkim_algorithm alg)
{
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dkim_key_generate(NULL, alg, 0, &k, why, sizeof(why)) == MS_OK, "%s", why);
	return k;
}

/* A table with keys "rsa" and "ed" for example.test and "sub" for
 * sub.example.test, networks 10/8 and 2001:db8::/32. */
static struct ms_dkim_signtab *table(void)
{
	struct ms_dkim_signtab *t = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_dkim_signtab_new(NULL, &t), MS_OK);
	struct ms_dkim_key *k = genkey(MS_DKIM_RSA_SHA256);
	ck_assert_msg(ms_dkim_signtab_add_key(t, "rsa", "Example.TEST", "rsa", k, why, sizeof(why)) == MS_OK, "%s", why);
	k = genkey(MS_DKIM_ED25519_SHA256);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "ed", "example.test", "ed", k, why, sizeof(why)), MS_OK);
	k = genkey(MS_DKIM_ED25519_SHA256);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "sub", "sub.example.test", "s1", k, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signtab_add_network(t, "10.0.0.0/8", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signtab_add_network(t, "2001:db8::/32", why, sizeof(why)), MS_OK);
	return t;
}

static enum ms_dkim_signtab_decision decide1(const struct ms_dkim_signtab *t, const char *ip,
					     int auth, const char *from, size_t *nkeys)
{
	const uint8_t *v[1] = {(const uint8_t *)from};
	size_t l[1] = {from ? strlen(from) : 0};
	enum ms_dkim_signtab_decision d = (enum ms_dkim_signtab_decision)99;
	char why[256] = "";
	ck_assert_msg(ms_dkim_signtab_decide(t, ip, auth, v, l, from ? 1 : 0, &d, nkeys, why,
					     sizeof(why)) == MS_OK, "%s", why);
	return d;
}

START_TEST(test_outgoing)
{
	struct ms_dkim_signtab *t = table();
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "10.1.2.3", 0), 1);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "::ffff:10.1.2.3", 0), 1);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "11.1.2.3", 0), 0);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "2001:db8:1::5", 0), 1);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "2001:db9::5", 0), 0);
	/* an authenticated client is outgoing from anywhere */
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "192.0.2.1", 1), 1);
	/* no or garbage address: never internal */
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, NULL, 0), 0);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "10.1.2.3x", 0), 0);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "unknown", 0), 0);
	ms_dkim_signtab_free(t);
}
END_TEST

START_TEST(test_network_errors)
{
	struct ms_dkim_signtab *t = NULL;
	char why[256];
	ck_assert_int_eq(ms_dkim_signtab_new(NULL, &t), MS_OK);
	const char *bad[] = {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "10.0.0/8",
			     "2001:db8::/129", "host.example", "/8", "10.0.0.0/-1",
			     "::ffff:10.0.0.0/95"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(ms_dkim_signtab_add_network(t, bad[i], why, sizeof(why)) == MS_ERR_INVALID,
			      "%s accepted", bad[i]);
		ck_assert_msg(why[0] != '\0', "no reason for %s", bad[i]);
	}
	/* a single address is a /32; the mapped spelling names an IPv4 net */
	ck_assert_int_eq(ms_dkim_signtab_add_network(t, "192.0.2.7", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signtab_add_network(t, "::ffff:198.51.100.0/120", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "192.0.2.7", 0), 1);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "192.0.2.8", 0), 0);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "198.51.100.9", 0), 1);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "198.51.101.9", 0), 0);
	for (unsigned i = 2; i < MS_DKIM_SIGNTAB_MAX_NETWORKS; i++)
		ck_assert_int_eq(ms_dkim_signtab_add_network(t, "10.0.0.0/8", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signtab_add_network(t, "10.0.0.0/8", why, sizeof(why)), MS_ERR_LIMIT);
	ms_dkim_signtab_free(t);
}
END_TEST

START_TEST(test_key_errors)
{
	struct ms_dkim_signtab *t = table();
	char why[256];
	struct ms_dkim_key *k = genkey(MS_DKIM_ED25519_SHA256);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "rsa", "example.test", "x", k, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "twice"));
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "bad name", "example.test", "x", k, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "x", "exa mple.test", "x", k, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "x", "example..test", "x", k, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "x", "example.test", "", k, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "x", "example.test", "a;b", k, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_key(t, "x", "example.test", "x", NULL, why, sizeof(why)), MS_ERR_INVALID);
	/* failures leave the key with the caller */
	ms_dkim_key_free(k);
	ms_dkim_signtab_free(t);
}
END_TEST

START_TEST(test_rule_errors)
{
	struct ms_dkim_signtab *t = table();
	char why[256];
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "example.test", "nokey", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "nokey"));
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "joe@example.test", "rsa", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "local-part"));
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "*.", "rsa", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "ex ample", "rsa", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "example.test", "", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "example.test", "rsa,", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "example.test", "rsa ed", why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "example.test", "rsa,ed,rsa,ed,rsa", why, sizeof(why)), MS_ERR_LIMIT);
	/* nothing was added: no rule matches */
	size_t nk = 9;
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " a@example.test", &nk), MS_DKIM_SIGNTAB_NO_RULE);
	ck_assert_uint_eq(nk, 0);
	ms_dkim_signtab_free(t);
}
END_TEST

START_TEST(test_decide)
{
	struct ms_dkim_signtab *t = table();
	char why[256];
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "*.example.test", "sub", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "*@EXAMPLE.test", "rsa, ed", why, sizeof(why)), MS_OK);
	size_t nk = 0;
	/* outgoing, author domain example.test: the second rule, two keys */
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " Joe <joe@Example.Test>", &nk), MS_DKIM_SIGNTAB_SIGN);
	ck_assert_uint_eq(nk, 2);
	/* a subdomain: the first rule, one key */
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " x@a.sub.example.test", &nk), MS_DKIM_SIGNTAB_SIGN);
	ck_assert_uint_eq(nk, 1);
	/* another domain: no rule; a look-alike is not a subdomain */
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " x@example.org", &nk), MS_DKIM_SIGNTAB_NO_RULE);
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " x@badexample.test", &nk), MS_DKIM_SIGNTAB_NO_RULE);
	/* inbound from outside: never signed, whatever the From says */
	ck_assert_int_eq(decide1(t, "192.0.2.1", 0, " joe@example.test", &nk), MS_DKIM_SIGNTAB_NOT_OUTGOING);
	ck_assert_uint_eq(nk, 0);
	ck_assert_int_eq(decide1(t, "192.0.2.1", 1, " joe@example.test", &nk), MS_DKIM_SIGNTAB_SIGN);
	/* no single author domain */
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, NULL, &nk), MS_DKIM_SIGNTAB_BAD_FROM);
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " a@example.test, b@example.org", &nk),
			 MS_DKIM_SIGNTAB_BAD_FROM);
	const uint8_t *v[2] = {(const uint8_t *)" a@example.test", (const uint8_t *)" a@example.test"};
	size_t l[2] = {15, 15};
	enum ms_dkim_signtab_decision d;
	ck_assert_int_eq(ms_dkim_signtab_decide(t, "10.0.0.1", 0, v, l, 2, &d, &nk, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(d, MS_DKIM_SIGNTAB_BAD_FROM);
	/* "*" catches the rest, after the earlier rules */
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "*", "ed", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " x@example.org", &nk), MS_DKIM_SIGNTAB_SIGN);
	ck_assert_uint_eq(nk, 1);
	ck_assert_int_eq(decide1(t, "10.0.0.1", 0, " Joe <joe@Example.Test>", &nk), MS_DKIM_SIGNTAB_SIGN);
	ck_assert_uint_eq(nk, 2);
	ck_assert_str_eq(ms_dkim_signtab_decision_str(MS_DKIM_SIGNTAB_NOT_OUTGOING), "not-outgoing");
	ms_dkim_signtab_free(t);
}
END_TEST

START_TEST(test_signer)
{
	struct ms_dkim_signtab *t = table();
	char why[256] = "";
	ck_assert_int_eq(ms_dkim_signtab_add_rule(t, "example.test", "rsa,ed", why, sizeof(why)), MS_OK);
	const char *from = " joe@example.test";
	const uint8_t *v[1] = {(const uint8_t *)from};
	size_t l[1] = {strlen(from)};
	enum ms_dkim_signtab_decision d;
	struct ms_dkim_signer *s = (struct ms_dkim_signer *)1;
	/* not outgoing: no signer */
	ck_assert_int_eq(ms_dkim_signtab_signer(t, "192.0.2.1", 0, v, l, 1, &d, &s, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(d, MS_DKIM_SIGNTAB_NOT_OUTGOING);
	ck_assert_ptr_null(s);
	ck_assert_msg(ms_dkim_signtab_signer(t, "10.9.9.9", 0, v, l, 1, &d, &s, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(d, MS_DKIM_SIGNTAB_SIGN);
	ck_assert_ptr_nonnull(s);
	const char *msg = "From: joe@example.test\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)msg, strlen(msg), why, sizeof(why)), MS_OK);
	ck_assert_msg(ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, "%s", why);
	const char *h = ms_dkim_signer_headers(s);
	ck_assert_ptr_nonnull(h);
	/* RSA first, then Ed25519, both relaxed/relaxed for example.test */
	const char *r = strstr(h, "a=rsa-sha256"), *e = strstr(h, "a=ed25519-sha256");
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(e);
	ck_assert(r < e);
	ck_assert_ptr_nonnull(strstr(h, "s=rsa"));
	ck_assert_ptr_nonnull(strstr(h, "s=ed"));
	ck_assert_ptr_nonnull(strstr(h, "c=relaxed/relaxed"));
	ck_assert_ptr_nonnull(strstr(h, "d=example.test"));
	ck_assert_ptr_nonnull(strstr(strstr(h, "DKIM-Signature:") + 1, "DKIM-Signature:"));
	ms_dkim_signer_free(s);
	ms_dkim_signtab_free(t);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("dkim-signtab");
	TCase *tc = tcase_create("signtab");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_outgoing);
	tcase_add_test(tc, test_network_errors);
	tcase_add_test(tc, test_key_errors);
	tcase_add_test(tc, test_rule_errors);
	tcase_add_test(tc, test_decide);
	tcase_add_test(tc, test_signer);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
