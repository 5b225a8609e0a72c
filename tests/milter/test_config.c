/*
 * test_config.c - mailsec-milter.conf parsing (daemons/mailsec-milter/
 * config.c): every directive, the defaults, the errors with their line
 * numbers, and the signing table built from it through the library.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static ms_status parse(const char *text, struct mm_config *c, char *why, size_t len)
{
	return mm_config_parse((const uint8_t *)text, strlen(text), c, why, len);
}

START_TEST(test_full)
{
	const char *t =
		"# comment\n"
		"  \n"
		"AuthservID mx.example.net\r\n"
		"socket\tinet:8893@127.0.0.1\n"
		"DNSForward 127.0.0.53\n"
		"DNSForward 192.0.2.1@5353\n"
		"TrustAnchorFile /etc/anchor\n"
		"DNSTimeout 3000\n"
		"AuthDeadline 15000\n"
		"Mode v\n"
		"DMARCAction quarantine\n"
		"RejectBadFrom yes\n"
		"OnError accept\n"
		"InternalHosts 10.0.0.0/8, 192.0.2.0/24  2001:db8::/32\n"
		"InternalHosts 127.0.0.1\n"
		"KeyTable k1   example.net:sel1:/keys/a b.pem\n"
		"KeyTable k2 example.net:sel2:/keys/ed.pem\n"
		"SigningTable *@example.net k1,k2\n"
		"SigningTable * k1\n"
		"AddReceived no\n"
		"LogLevel debug   \n";
	struct mm_config c;
	char why[256] = "";
	ck_assert_msg(parse(t, &c, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_str_eq(c.authserv_id, "mx.example.net");
	ck_assert_str_eq(c.socket, "inet:8893@127.0.0.1");
	ck_assert_uint_eq(c.nforwarders, 2);
	ck_assert_str_eq(c.forwarders[1], "192.0.2.1@5353");
	ck_assert_str_eq(c.trust_anchor, "/etc/anchor");
	ck_assert_uint_eq(c.dns_timeout_ms, 3000);
	ck_assert_uint_eq(c.deadline_ms, 15000);
	ck_assert_int_eq(c.verify, 1);
	ck_assert_int_eq(c.sign, 0);
	ck_assert_int_eq(c.dmarc, MM_DMARC_QUARANTINE);
	ck_assert_int_eq(c.reject_bad_from, 1);
	ck_assert_int_eq(c.on_error, MM_ERROR_ACCEPT);
	ck_assert_uint_eq(c.nnetworks, 4);
	ck_assert_str_eq(c.networks[2], "2001:db8::/32");
	ck_assert_uint_eq(c.nkeys, 2);
	ck_assert_str_eq(c.keys[0].name, "k1");
	ck_assert_str_eq(c.keys[0].domain, "example.net");
	ck_assert_str_eq(c.keys[0].selector, "sel1");
	ck_assert_str_eq(c.keys[0].path, "/keys/a b.pem"); /* a path may hold spaces */
	ck_assert_uint_eq(c.nrules, 2);
	ck_assert_str_eq(c.rules[0].pattern, "*@example.net");
	ck_assert_str_eq(c.rules[0].keys, "k1,k2");
	ck_assert_int_eq(c.received_requiretls, 0);
	ck_assert_str_eq(c.log_level, "debug");
	mm_config_free(&c);
}
END_TEST

START_TEST(test_defaults)
{
	struct mm_config c;
	char why[256] = "";
	ck_assert_int_eq(parse("AuthservID a.example\nSocket unix:/run/m.sock", &c, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(c.verify, 1);
	ck_assert_int_eq(c.sign, 1);
	ck_assert_int_eq(c.dmarc, MM_DMARC_NONE);
	ck_assert_int_eq(c.on_error, MM_ERROR_TEMPFAIL);
	ck_assert_int_eq(c.received_requiretls, 1);
	/* OpenDKIM's default InternalHosts */
	ck_assert_uint_eq(c.nnetworks, 2);
	ck_assert_str_eq(c.networks[0], "127.0.0.1");
	ck_assert_str_eq(c.networks[1], "::1");
	mm_config_free(&c);
}
END_TEST

static void bad(const char *text, const char *expect)
{
	struct mm_config c;
	char why[256] = "";
	ms_status st = parse(text, &c, why, sizeof(why));
	ck_assert_msg(st != MS_OK, "accepted: %s", text);
	ck_assert_msg(strstr(why, expect) != NULL, "'%s' for %s, expected '%s'", why, text, expect);
}

#define BASE "AuthservID mx.example\nSocket inet:1@127.0.0.1\n"

START_TEST(test_errors)
{
	bad("Socket inet:1@127.0.0.1\n", "AuthservID is required");
	bad("AuthservID mx.example\n", "Socket is required");
	bad(BASE "Nonsense 1\n", "line 3: unknown directive 'Nonsense'");
	bad(BASE "AuthservID other\n", "line 3: AuthservID given twice");
	bad("AuthservID a b\nSocket inet:1@127.0.0.1\n", "line 1: AuthservID: one token");
	bad("AuthservID a;b\nSocket inet:1@127.0.0.1\n", "one token");
	bad(BASE "Socket tcp:1\n", "Socket: inet:PORT@ADDR");
	bad(BASE "Mode x\n", "Mode: s, v or sv");
	bad(BASE "DMARCAction always\n", "DMARCAction: none");
	bad(BASE "RejectBadFrom maybe\n", "yes or no");
	bad(BASE "OnError ignore\n", "OnError: tempfail or accept");
	bad(BASE "DNSTimeout 12x\n", "not a number");
	bad(BASE "DNSTimeout 99999999999\n", "more than");
	bad(BASE "DNSTimeout\n", "a value is needed");
	bad(BASE "LogLevel chatty\n", "LogLevel");
	bad(BASE "DNSConfig /a\nDNSForward 127.0.0.1\n", "no DNSForward");
	bad(BASE "KeyTable k1\n", "KeyTable: NAME DOMAIN:SELECTOR:KEYFILE");
	bad(BASE "KeyTable k1 example.net:sel\n", "KeyTable: NAME DOMAIN:SELECTOR:KEYFILE");
	bad(BASE "KeyTable k1 example.net:sel:\n", "KeyTable: NAME DOMAIN:SELECTOR:KEYFILE");
	bad(BASE "KeyTable k1 :sel:/k\n", "KeyTable: NAME DOMAIN:SELECTOR:KEYFILE");
	bad(BASE "KeyTable k1 example.net::/k\n", "KeyTable: NAME DOMAIN:SELECTOR:KEYFILE");
	bad(BASE "SigningTable example.net\n", "SigningTable: PATTERN");
	bad(BASE "AuthservID\x01x\n", "line 3: control or non-ASCII");
	bad(BASE "InternalHosts 10.0.0.0/8\xc3\xa9\n", "control or non-ASCII");
	/* a NUL inside a line is not a line end */
	struct mm_config c;
	char why[256] = "";
	const char nul[] = BASE "Mode s\0v\n";
	ck_assert_int_eq(mm_config_parse((const uint8_t *)nul, sizeof(nul) - 1, &c, why, sizeof(why)), MS_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(why, "line 3"));
}
END_TEST

START_TEST(test_limits)
{
	struct mm_config c;
	char why[256] = "";
	size_t n = MM_MAX_LINE + 100;
	char *t = malloc(n + sizeof(BASE) + 16);
	strcpy(t, BASE "Mode ");
	size_t o = strlen(t);
	memset(t + o, 'v', MM_MAX_LINE);
	t[o + MM_MAX_LINE] = '\0';
	ck_assert_int_eq(parse(t, &c, why, sizeof(why)), MS_ERR_LIMIT);
	ck_assert_ptr_nonnull(strstr(why, "line 3"));
	free(t);
	ck_assert_int_eq(mm_config_parse((const uint8_t *)"", MM_MAX_CONFIG + 1, &c, why, sizeof(why)), MS_ERR_LIMIT);
	/* too many forwarders */
	char buf[2048];
	strcpy(buf, BASE);
	for (unsigned i = 0; i <= MM_MAX_FORWARDERS; i++)
		strcat(buf, "DNSForward 127.0.0.1\n");
	ck_assert_int_eq(parse(buf, &c, why, sizeof(why)), MS_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(why, "at most"));
}
END_TEST

/* Keys for mm_config_signtab without files: generated per name. */
static ms_status gen_key(void *user, const char *path, struct ms_dkim_key **out, char *why, size_t len)
{
	int *calls = user;
	(*calls)++;
	if (strcmp(path, "/missing") == 0) {
		snprintf(why, len, "%s: no such file", path);
		return MS_ERR_IO;
	}
	return ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, out, why, len);
}

START_TEST(test_signtab)
{
	struct mm_config c;
	char why[256] = "";
	ck_assert_int_eq(parse(BASE "InternalHosts 10.0.0.0/8\n"
			       "KeyTable a example.net:s1:/a\nKeyTable b example.net:s2:/b\n"
			       "SigningTable .example.net a\nSigningTable example.net a,b\n",
			       &c, why, sizeof(why)), MS_OK);
	int calls = 0;
	struct ms_dkim_signtab *t = NULL;
	ck_assert_msg(mm_config_signtab(&c, gen_key, &calls, &t, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "10.2.3.4", 0), 1);
	ck_assert_int_eq(ms_dkim_signtab_outgoing(t, "127.0.0.1", 0), 0); /* the default is replaced */
	const uint8_t *v[1] = {(const uint8_t *)" x@example.net"};
	size_t l[1] = {14}, nk = 0;
	enum ms_dkim_signtab_decision d;
	ck_assert_int_eq(ms_dkim_signtab_decide(t, "10.2.3.4", 0, v, l, 1, &d, &nk, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(d, MS_DKIM_SIGNTAB_SIGN);
	ck_assert_uint_eq(nk, 2);
	ms_dkim_signtab_free(t);
	mm_config_free(&c);

	/* the library's refusals come back with the directive named */
	const char *cases[][2] = {
		{BASE "KeyTable a example.net:s1:/missing\n", "KeyTable a: /missing: no such file"},
		{BASE "KeyTable a exa_mple net:s1:/a\n", "KeyTable: white space"},
		{BASE "KeyTable a example.net:s1:/a\nKeyTable a example.net:s2:/b\n", "used twice"},
		{BASE "KeyTable a example.net:s1:/a\nSigningTable example.net b\n", "SigningTable: pattern 'example.net': no key named 'b'"},
		{BASE "InternalHosts 10.0.0.0/40\n", "InternalHosts: '10.0.0.0/40'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		ms_status st = parse(cases[i][0], &c, why, sizeof(why));
		if (st == MS_OK) {
			st = mm_config_signtab(&c, gen_key, &calls, &t, why, sizeof(why));
			mm_config_free(&c);
		}
		ck_assert_msg(st != MS_OK, "accepted: %s", cases[i][0]);
		ck_assert_msg(strstr(why, cases[i][1]) != NULL, "'%s', expected '%s'", why, cases[i][1]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("milter-config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_signtab);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
