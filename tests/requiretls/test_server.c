/*
 * test_server.c - the receiving-side session (mailsec/requiretls_server.h):
 * what each listener kind advertises before and after TLS, the answers to
 * STARTTLS and MAIL FROM with and without REQUIRETLS, RFC 3207 s4.2 (the
 * state is forgotten at TLS start), the message requirement and the
 * Received field built from the session.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/requiretls_server.h>

#define B(s) (const uint8_t *)(s), strlen(s)

static int64_t fixed_now(void *user)
{
	(void)user;
	return 1795867200; /* 2026-11-28 12:00:00 UTC */
}

static struct ms_rtls_server *mk(enum ms_rtls_listener kind, int tls, int disable,
				 int plain_sub)
{
	static struct ms_env env;
	memset(&env, 0, sizeof(env));
	env.version = MS_ENV_VERSION;
	env.now = fixed_now;
	struct ms_rtls_server_config c = {0};
	c.version = MS_RTLS_SERVER_CONFIG_VERSION;
	c.kind = kind;
	c.hostname = "mx.example.org";
	c.tls_available = tls;
	c.disable_requiretls = disable;
	c.submission_plaintext = plain_sub;
	struct ms_rtls_server *s = NULL;
	char why[128] = "";
	ck_assert_msg(ms_rtls_server_new(&env, &c, "192.0.2.1", &s, why, sizeof(why)) == MS_OK,
		      "%s", why);
	return s;
}

/* Send a MAIL command and check the reply code and enhanced code. */
static void mail(struct ms_rtls_server *s, const char *line, int code, const char *enh)
{
	struct ms_rtls_reply r;
	ck_assert_int_eq(ms_rtls_server_mail(s, B(line), &r, NULL, 0), MS_OK);
	ck_assert_msg(r.code == code && strcmp(r.enhanced, enh) == 0,
		      "%s: got %d %s %s, want %d %s", line, r.code, r.enhanced, r.text,
		      code, enh);
	ck_assert_int_eq(r.accept, code == 250);
	ck_assert_int_eq(ms_rtls_server_in_transaction(s), code == 250);
}

static void starttls(struct ms_rtls_server *s, int code, const char *enh)
{
	struct ms_rtls_reply r;
	ck_assert_int_eq(ms_rtls_server_starttls(s, &r), MS_OK);
	ck_assert_msg(r.code == code && strcmp(r.enhanced, enh) == 0,
		      "STARTTLS: got %d %s, want %d %s", r.code, r.enhanced, code, enh);
}

START_TEST(test_new_errors)
{
	struct ms_rtls_server_config c = {0};
	struct ms_rtls_server *s = (struct ms_rtls_server *)1;
	char why[128];
	c.hostname = "mx.example.org";
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1", &s, why, sizeof(why)),
			 MS_ERR_INVALID); /* version not set */
	ck_assert_ptr_null(s);
	c.version = MS_RTLS_SERVER_CONFIG_VERSION;
	ck_assert_int_eq(ms_rtls_server_new(NULL, NULL, "192.0.2.1", &s, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, NULL, &s, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1", NULL, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1\r\nX: y", &s, NULL, 0),
			 MS_ERR_INVALID);
	c.kind = (enum ms_rtls_listener)7;
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1", &s, NULL, 0), MS_ERR_INVALID);
	c.kind = MS_RTLS_LISTEN_SMTP;
	c.hostname = "mx (evil)";
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1", &s, NULL, 0), MS_ERR_INVALID);
	c.hostname = NULL;
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1", &s, NULL, 0), MS_ERR_INVALID);
	/* RFC 8314 s3.3: implicit TLS without a certificate cannot work */
	c.hostname = "mx.example.org";
	c.kind = MS_RTLS_LISTEN_SUBMISSIONS;
	ck_assert_int_eq(ms_rtls_server_new(NULL, &c, "192.0.2.1", &s, why, sizeof(why)),
			 MS_ERR_CONFIG);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(ms_rtls_listener_str(MS_RTLS_LISTEN_SMTP), "smtp");
	ck_assert_str_eq(ms_rtls_listener_str(MS_RTLS_LISTEN_SUBMISSION), "submission");
	ck_assert_str_eq(ms_rtls_listener_str(MS_RTLS_LISTEN_SUBMISSIONS), "submissions");
	/* NULL-safe accessors */
	ck_assert_uint_eq(ms_rtls_server_caps(NULL), 0);
	ck_assert(!ms_rtls_server_tls_active(NULL));
	ck_assert(!ms_rtls_server_requiretls(NULL));
	ck_assert_ptr_null(ms_rtls_server_mail_params(NULL));
	ms_rtls_server_reset(NULL);
	ms_rtls_server_free(NULL);
}
END_TEST

/* Port 25 with a certificate: the whole REQUIRETLS path. */
START_TEST(test_smtp_requiretls_path)
{
	struct ms_rtls_server *s = mk(MS_RTLS_LISTEN_SMTP, 1, 0, 0);
	const char *kw[4];
	/* before TLS: STARTTLS only (RFC 8689 s2: REQUIRETLS only over TLS) */
	ck_assert_uint_eq(ms_rtls_server_caps(s), MS_RTLS_CAP_STARTTLS);
	ck_assert_uint_eq(ms_rtls_server_keywords(s, kw, 4), 1);
	ck_assert_str_eq(kw[0], "STARTTLS");
	mail(s, "MAIL FROM:<a@example.net>", 503, "5.5.1"); /* no EHLO yet */
	ck_assert_int_eq(ms_rtls_server_hello(s, "client.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 530, "5.7.10"); /* RFC 8689 s4.1 */
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS=YES", 501, "5.5.4");
	mail(s, "MAIL FROM:<a@example.net>", 250, "2.1.0"); /* port 25: plaintext OK */
	ck_assert(!ms_rtls_server_requiretls(s));
	starttls(s, 503, "5.5.1"); /* transaction open */
	ms_rtls_server_reset(s);
	ck_assert(!ms_rtls_server_in_transaction(s));
	starttls(s, 220, "2.0.0");
	ck_assert_int_eq(ms_rtls_server_tls_started(s, "TLSv1.3", "TLS_AES_256_GCM_SHA384"), MS_OK);
	ck_assert(ms_rtls_server_tls_active(s));
	/* after TLS: REQUIRETLS, never STARTTLS again */
	ck_assert_uint_eq(ms_rtls_server_caps(s), MS_RTLS_CAP_REQUIRETLS);
	ck_assert_uint_eq(ms_rtls_server_keywords(s, kw, 4), 1);
	ck_assert_str_eq(kw[0], "REQUIRETLS");
	starttls(s, 503, "5.5.1");
	ck_assert_int_eq(ms_rtls_server_tls_started(s, NULL, NULL), MS_ERR_STATE);
	/* RFC 3207 s4.2: the pre-TLS EHLO is forgotten */
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 503, "5.5.1");
	ck_assert_int_eq(ms_rtls_server_hello(s, "client.example", 1), MS_OK);
	mail(s, "mail from:<a@example.net> SIZE=100 requiretls", 250, "2.1.0");
	ck_assert(ms_rtls_server_requiretls(s));
	ck_assert_str_eq(ms_rtls_mail_path(ms_rtls_server_mail_params(s)), "a@example.net");
	struct ms_rtls_reply nested;
	ck_assert_int_eq(ms_rtls_server_mail(s, B("MAIL FROM:<b@example.net>"), &nested, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(nested.code, 503); /* nested MAIL (RFC 5321 s4.1.4) */
	ck_assert(ms_rtls_server_in_transaction(s));
	ck_assert(ms_rtls_server_requiretls(s)); /* the open transaction is kept */
	/* RFC 8689 s2: the parameter wins over TLS-Required: No */
	ck_assert_int_eq(ms_rtls_server_requirement(s, B("TLS-Required: No\r\n\r\nbody")),
			 MS_RTLS_REQ_REQUIRED);
	struct ms_rtls_lookup_status ls[] = {{"iprev", MS_DNS_SECURE}, {"spf", MS_DNS_BOGUS}};
	struct ms_rtls_received x = {0};
	x.version = MS_RTLS_RECEIVED_VERSION;
	x.id = "Q1";
	x.for_addr = "rcpt@example.org";
	x.lookups = ls;
	x.nlookups = 2;
	x.helo = "ignored.example"; /* the session's own values win */
	x.requiretls = 0;
	char out[512], why[128];
	size_t need = 0;
	ck_assert_int_eq(ms_rtls_server_received(s, &x, out, sizeof(out), &need, why, sizeof(why)),
			 MS_OK);
	ck_assert_str_eq(out,
		"Received: from client.example ([192.0.2.1])\r\n"
		"\tby mx.example.org with ESMTPS (requiretls)\r\n"
		"\t(TLSv1.3 TLS_AES_256_GCM_SHA384) (dnssec iprev=secure spf=bogus)\r\n"
		"\tid Q1 for <rcpt@example.org>; Sat, 28 Nov 2026 12:00:00 +0000");
	ck_assert_uint_eq(need, strlen(out));
	ck_assert_int_eq(ms_rtls_server_received(s, NULL, out, 10, NULL, NULL, 0), MS_ERR_LIMIT);
	/* RSET ends it; a new transaction without REQUIRETLS has no comment */
	ms_rtls_server_reset(s);
	ck_assert(!ms_rtls_server_requiretls(s));
	ck_assert_int_eq(ms_rtls_server_received(s, NULL, out, sizeof(out), NULL, NULL, 0),
			 MS_ERR_STATE);
	mail(s, "MAIL FROM:<> SMTPUTF8", 250, "2.1.0");
	ck_assert_int_eq(ms_rtls_server_received(s, NULL, out, sizeof(out), NULL, NULL, 0), MS_OK);
	ck_assert_ptr_null(strstr(out, "requiretls"));
	ck_assert_ptr_nonnull(strstr(out, " with UTF8SMTPS\r\n"));
	ck_assert_int_eq(ms_rtls_server_requirement(s, B("TLS-Required: No\r\n\r\n")),
			 MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_server_requirement(s, B("Subject: x\r\n\r\n")),
			 MS_RTLS_REQ_DEFAULT);
	/* EHLO again resets the transaction (RFC 5321 s4.1.4) */
	ck_assert_int_eq(ms_rtls_server_hello(s, "client.example", 1), MS_OK);
	ck_assert(!ms_rtls_server_in_transaction(s));
	/* a bad EHLO name leaves the session without a client name */
	ck_assert_int_eq(ms_rtls_server_hello(s, "a b", 1), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_server_hello(s, "", 1), MS_ERR_PARSE);
	mail(s, "MAIL FROM:<a@example.net>", 503, "5.5.1");
	ck_assert_int_eq(ms_rtls_server_tls_started(NULL, NULL, NULL), MS_ERR_INVALID);
	ms_rtls_server_free(s);
}
END_TEST

/* HELO has no extensions: REQUIRETLS after HELO is not recognised. */
START_TEST(test_helo_no_requiretls)
{
	struct ms_rtls_server *s = mk(MS_RTLS_LISTEN_SMTP, 1, 0, 0);
	starttls(s, 220, "2.0.0");
	ck_assert_int_eq(ms_rtls_server_tls_started(s, "TLSv1.2", NULL), MS_OK);
	ck_assert_int_eq(ms_rtls_server_hello(s, "client.example", 0), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 555, "5.5.4");
	mail(s, "MAIL FROM:<a@example.net>", 250, "2.1.0");
	ms_rtls_server_free(s);
}
END_TEST

/* The operator switch: REQUIRETLS neither advertised nor accepted. */
START_TEST(test_smtp_disabled)
{
	struct ms_rtls_server *s = mk(MS_RTLS_LISTEN_SMTP, 1, 1, 0);
	ck_assert_uint_eq(ms_rtls_server_caps(s), MS_RTLS_CAP_STARTTLS);
	starttls(s, 220, "2.0.0");
	ck_assert_int_eq(ms_rtls_server_tls_started(s, "TLSv1.3", "X"), MS_OK);
	ck_assert_uint_eq(ms_rtls_server_caps(s), 0);
	ck_assert_uint_eq(ms_rtls_server_keywords(s, NULL, 0), 0);
	ck_assert_int_eq(ms_rtls_server_hello(s, "client.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 555, "5.5.4"); /* RFC 5321 s4.1.1.11 */
	mail(s, "MAIL FROM:<a@example.net>", 250, "2.1.0");
	ms_rtls_server_free(s);
}
END_TEST

/* Port 25 without a certificate: plaintext only, REQUIRETLS refused. */
START_TEST(test_smtp_no_cert)
{
	struct ms_rtls_server *s = mk(MS_RTLS_LISTEN_SMTP, 0, 0, 0);
	ck_assert_uint_eq(ms_rtls_server_caps(s), 0);
	starttls(s, 502, "5.5.1");
	ck_assert_int_eq(ms_rtls_server_hello(s, "[192.0.2.1]", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 530, "5.7.10");
	mail(s, "MAIL FROM:<a@example.net>", 250, "2.1.0");
	char out[512];
	ck_assert_int_eq(ms_rtls_server_received(s, NULL, out, sizeof(out), NULL, NULL, 0), MS_OK);
	ck_assert_ptr_nonnull(strstr(out, "by mx.example.org with ESMTP\r\n"));
	ck_assert_ptr_null(strstr(out, "requiretls"));
	ms_rtls_server_free(s);
}
END_TEST

/* Port 587: the same REQUIRETLS rules (RFC 8689 s4.3), mail only over TLS. */
START_TEST(test_submission)
{
	struct ms_rtls_server *s = mk(MS_RTLS_LISTEN_SUBMISSION, 1, 0, 0);
	ck_assert_uint_eq(ms_rtls_server_caps(s), MS_RTLS_CAP_STARTTLS);
	ck_assert_int_eq(ms_rtls_server_hello(s, "laptop.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net>", 530, "5.7.0");  /* RFC 3207 s4 */
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 530, "5.7.10");
	starttls(s, 220, "2.0.0");
	ck_assert_int_eq(ms_rtls_server_tls_started(s, "TLSv1.3", NULL), MS_OK);
	ck_assert_uint_eq(ms_rtls_server_caps(s), MS_RTLS_CAP_REQUIRETLS);
	ck_assert_int_eq(ms_rtls_server_hello(s, "laptop.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 250, "2.1.0");
	ck_assert(ms_rtls_server_requiretls(s));
	ms_rtls_server_free(s);

	/* the operator may allow plaintext submission: REQUIRETLS still 530 */
	s = mk(MS_RTLS_LISTEN_SUBMISSION, 1, 0, 1);
	ck_assert_int_eq(ms_rtls_server_hello(s, "laptop.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 530, "5.7.10");
	mail(s, "MAIL FROM:<a@example.net>", 250, "2.1.0");
	ms_rtls_server_free(s);

	/* submission_plaintext means nothing on port 25 or 465 */
	s = mk(MS_RTLS_LISTEN_SUBMISSIONS, 1, 0, 1);
	ck_assert_int_eq(ms_rtls_server_hello(s, "laptop.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net>", 530, "5.7.0");
	ms_rtls_server_free(s);
}
END_TEST

/* Port 465: TLS from the first byte, STARTTLS never offered. */
START_TEST(test_submissions)
{
	struct ms_rtls_server *s = mk(MS_RTLS_LISTEN_SUBMISSIONS, 1, 0, 0);
	ck_assert_uint_eq(ms_rtls_server_caps(s), 0);
	starttls(s, 502, "5.5.1");
	/* an MTA that forgot to report the handshake gets no mail through */
	ck_assert_int_eq(ms_rtls_server_hello(s, "laptop.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net>", 530, "5.7.0");
	ck_assert_int_eq(ms_rtls_server_tls_started(s, "TLSv1.3", "TLS_AES_128_GCM_SHA256"), MS_OK);
	ck_assert_uint_eq(ms_rtls_server_caps(s), MS_RTLS_CAP_REQUIRETLS);
	starttls(s, 503, "5.5.1");
	ck_assert_int_eq(ms_rtls_server_hello(s, "laptop.example", 1), MS_OK);
	mail(s, "MAIL FROM:<a@example.net> REQUIRETLS", 250, "2.1.0");
	char out[512];
	struct ms_rtls_received x = {0};
	x.version = MS_RTLS_RECEIVED_VERSION;
	x.authenticated = 1;
	ck_assert_int_eq(ms_rtls_server_received(s, &x, out, sizeof(out), NULL, NULL, 0), MS_OK);
	ck_assert_ptr_nonnull(strstr(out, " with ESMTPSA (requiretls)\r\n"));
	ms_rtls_server_free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("requiretls-server");
	TCase *tc = tcase_create("server");
	tcase_add_test(tc, test_new_errors);
	tcase_add_test(tc, test_smtp_requiretls_path);
	tcase_add_test(tc, test_helo_no_requiretls);
	tcase_add_test(tc, test_smtp_disabled);
	tcase_add_test(tc, test_smtp_no_cert);
	tcase_add_test(tc, test_submission);
	tcase_add_test(tc, test_submissions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
