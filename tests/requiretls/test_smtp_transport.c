/*
 * test_smtp_transport.c - librequiretls's SMTP/STARTTLS client transport
 * (mailsec/requiretls_smtp.h) against the scripted loopback peer of the
 * `send` hardening test (tests/hardening/send/send_peer.py, a self-signed
 * certificate made here): a delivery over STARTTLS with dot-stuffing,
 * STARTTLS injection refused, the capabilities reset after TLS (and MAIL
 * refused until EHLO is sent again), a refused STARTTLS leaving plaintext
 * usable, bounded replies, and the deadlines (a trickled reply, a silent
 * final reply, a peer draining the message slowly).  The reply parser
 * has its own table.
 */
#include <check.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/requiretls_smtp.h>

#define TIMEOUT_MS 1000

static char dir[256];
static char cert[300], key[300];

struct peer {
	pid_t pid;
	int port;
	char log[320];
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void peer_start(struct peer *p, const char *mode)
{
	const char *script = getenv("MS_SEND_PEER");
	ck_assert_msg(script != NULL, "MS_SEND_PEER must be set");
	snprintf(p->log, sizeof(p->log), "%s/%s.log", dir, mode);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", script, p->log, mode, cert, key, "127.0.0.1",
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	ck_assert_msg(f && fscanf(f, "%d", &p->port) == 1, "the peer did not start");
	fclose(f);
}

static void peer_stop(struct peer *p)
{
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
}

/* Whether the peer logged `what` (a whole line). */
static int peer_saw(const struct peer *p, const char *what)
{
	char line[200];
	int n = 0;
	FILE *f = fopen(p->log, "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		n += strcmp(line, what) == 0;
	}
	if (f)
		fclose(f);
	return n;
}

/* Connected, greeted and EHLO'd session with `mode`'s peer. */
static struct ms_rtls_smtp *session(struct peer *p, const char *mode)
{
	peer_start(p, mode);
	struct ms_rtls_smtp_opts o = { .version = MS_RTLS_SMTP_OPTS_VERSION,
				       .timeout_ms = TIMEOUT_MS };
	struct ms_rtls_smtp *s = NULL;
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_new(NULL, &o, &s), MS_OK);
	ck_assert_msg(ms_rtls_smtp_connect(s, "127.0.0.1", (uint16_t)p->port, why, sizeof(why)) ==
		      MS_OK, "%s", why);
	ck_assert_msg(ms_rtls_smtp_greeting(s, &r, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(r.code, 220);
	return s;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(c);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	return c;
}

START_TEST(delivery_over_starttls)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "rtlsgood");
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	ck_assert(ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "STARTTLS"));
	ck_assert(!ms_rtls_ehlo_over_tls(ms_rtls_smtp_caps(s)));
	ck_assert_ptr_null(ms_rtls_smtp_ssl(s));
	SSL_CTX *ctx = client_ctx();
	ck_assert_msg(ms_rtls_smtp_starttls(s, ctx, "mx.transport.test", &r, why, sizeof(why)) ==
		      MS_OK, "%s", why);
	ck_assert_ptr_nonnull(ms_rtls_smtp_ssl(s));
	ck_assert_ptr_eq(strstr(ms_rtls_smtp_tls(s), "TLS"), ms_rtls_smtp_tls(s));
	const struct ms_dane_cert *chain = NULL;
	ck_assert_uint_eq(ms_rtls_smtp_chain(s, &chain), 1);
	ck_assert_uint_gt(chain[0].len, 100);
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	ck_assert(ms_rtls_ehlo_over_tls(ms_rtls_smtp_caps(s)));
	ck_assert(ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "REQUIRETLS"));
	ck_assert_int_eq(ms_rtls_smtp_mail(s, "a@client.test", "REQUIRETLS", &r, why, sizeof(why)),
			 MS_OK);
	ck_assert_int_eq(r.code, 250);
	ck_assert_str_eq(r.enhanced, "2.0.0");
	ck_assert_str_eq(r.text, "2.0.0 ok");
	ck_assert_int_eq(ms_rtls_smtp_rcpt(s, "b@peer.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(r.code, 250);
	/* the message before DATA: refused, nothing written */
	static const char msg[] = "Subject: t\n\n.hidden\r\nline";
	ck_assert_int_eq(ms_rtls_smtp_message(s, (const uint8_t *)msg, strlen(msg), &r, why,
					      sizeof(why)), MS_ERR_STATE);
	ck_assert_int_eq(ms_rtls_smtp_data(s, &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(r.code, 354);
	ck_assert_int_eq(ms_rtls_smtp_message(s, (const uint8_t *)msg, strlen(msg), &r, why,
					      sizeof(why)), MS_OK);
	ck_assert_int_eq(r.code, 250);
	ck_assert_int_eq(ms_rtls_smtp_quit(s, &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(r.code, 221);
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
	peer_stop(&p);
	/* "Subject: t" "" "..hidden" "line": CRLF line ends, the dot stuffed,
	 * a line end added to the last line; everything after TLS */
	ck_assert_int_eq(peer_saw(&p, "MAIL-RECEIVED 30"), 1);
	ck_assert_int_eq(peer_saw(&p, "CMD MAIL-TLS"), 1);
	ck_assert_int_eq(peer_saw(&p, "CMD MAIL"), 0);
}
END_TEST

/* RFC 3207 s4.2: what was offered before TLS is forgotten, and no mail
 * command goes out over TLS before EHLO was sent again. */
START_TEST(capabilities_reset_after_starttls)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "rtlspre");
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	ck_assert(ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "REQUIRETLS"));
	SSL_CTX *ctx = client_ctx();
	ck_assert_msg(ms_rtls_smtp_starttls(s, ctx, NULL, &r, why, sizeof(why)) == MS_OK, "%s",
		      why);
	ck_assert_int_eq(ms_rtls_ehlo_code(ms_rtls_smtp_caps(s)), 0);
	ck_assert_uint_eq(ms_rtls_ehlo_count(ms_rtls_smtp_caps(s)), 0);
	ck_assert(!ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "REQUIRETLS"));
	ck_assert_int_eq(ms_rtls_smtp_mail(s, "a@client.test", NULL, &r, why, sizeof(why)),
			 MS_ERR_STATE);
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	ck_assert(!ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "REQUIRETLS"));
	ck_assert(!ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "STARTTLS"));
	ck_assert(ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "8BITMIME"));
	ck_assert_int_eq(ms_rtls_smtp_quit(s, &r, why, sizeof(why)), MS_OK);
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
	peer_stop(&p);
	ck_assert_int_eq(peer_saw(&p, "CMD MAIL-TLS"), 0);
	ck_assert_int_eq(peer_saw(&p, "CMD EHLO-TLS"), 1);
}
END_TEST

/* CVE-2011-0411 class: a forged reply riding on the STARTTLS 220. */
START_TEST(starttls_injection_refused)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "inject");
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	SSL_CTX *ctx = client_ctx();
	ck_assert_int_eq(ms_rtls_smtp_starttls(s, ctx, NULL, &r, why, sizeof(why)),
			 MS_ERR_PROTOCOL);
	ck_assert_msg(strstr(why, "plaintext received after the STARTTLS reply"), "%s", why);
	ck_assert_ptr_null(ms_rtls_smtp_ssl(s));
	ck_assert_uint_eq(ms_rtls_smtp_chain(s, NULL), 0);
	/* the session is over: nothing more is sent */
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_ERR_STATE);
	ck_assert_int_eq(ms_rtls_smtp_mail(s, "a@client.test", NULL, &r, why, sizeof(why)),
			 MS_ERR_STATE);
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
	peer_stop(&p);
	ck_assert_int_eq(peer_saw(&p, "CMD EHLO"), 1);
	ck_assert_int_eq(peer_saw(&p, "CMD MAIL"), 0);
}
END_TEST

/* A refusal is MS_ERR_STATE and leaves plaintext usable (the caller's
 * policy decides whether to use it). */
START_TEST(starttls_refused_keeps_plaintext)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "starttls454");
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	SSL_CTX *ctx = client_ctx();
	ck_assert_int_eq(ms_rtls_smtp_starttls(s, ctx, NULL, &r, why, sizeof(why)), MS_ERR_STATE);
	ck_assert_int_eq(r.code, 454);
	ck_assert_str_eq(r.enhanced, "4.7.0");
	ck_assert_msg(strstr(why, "STARTTLS refused: 454 4.7.0"), "%s", why);
	ck_assert(ms_rtls_ehlo_has(ms_rtls_smtp_caps(s), "STARTTLS"));
	ck_assert_int_eq(ms_rtls_smtp_command(s, "NOOP", &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(r.code, 250);
	ck_assert_int_eq(ms_rtls_smtp_quit(s, &r, why, sizeof(why)), MS_OK);
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
	peer_stop(&p);
}
END_TEST

START_TEST(bounded_reply)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "ehlo8m");
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	double t0 = now_s();
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_ERR_LIMIT);
	ck_assert_msg(strstr(why, "reply longer than 65536 bytes"), "%s", why);
	ck_assert_int_eq(r.code, 0); /* nothing of the partial reply passes for one */
	ck_assert_int_eq(ms_rtls_ehlo_count(ms_rtls_smtp_caps(s)), 0);
	ck_assert(now_s() - t0 < 5);
	ms_rtls_smtp_free(s);
	peer_stop(&p);
}
END_TEST

/* One deadline for a whole reply: one byte a second never completes it. */
START_TEST(deadline_trickled_reply)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "trickle");
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	double t0 = now_s();
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)),
			 MS_ERR_TIMEOUT);
	double took = now_s() - t0;
	ck_assert_msg(strstr(why, "read: timed out"), "%s", why);
	ck_assert_msg(took >= TIMEOUT_MS / 1000.0 - 0.05 && took < 4, "took %.2f s", took);
	ms_rtls_smtp_free(s);
	peer_stop(&p);
}
END_TEST

static void to_data(struct ms_rtls_smtp *s)
{
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "client.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_smtp_mail(s, "a@client.test", NULL, &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_smtp_rcpt(s, "b@peer.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_smtp_data(s, &r, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(r.code, 354);
}

START_TEST(deadline_silent_after_dot)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "dotsilent");
	to_data(s);
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	double t0 = now_s();
	ck_assert_int_eq(ms_rtls_smtp_message(s, (const uint8_t *)"x\r\n", 3, &r, why, sizeof(why)),
			 MS_ERR_TIMEOUT);
	ck_assert(now_s() - t0 < 4);
	ms_rtls_smtp_free(s);
	peer_stop(&p);
}
END_TEST

/* The write progress rule: a peer reading 10 KiB/s moves less than 64 KiB
 * per period and is cut off, during the writes or the SIOCOUTQ wait. */
START_TEST(deadline_slow_drain)
{
	struct peer p;
	struct ms_rtls_smtp *s = session(&p, "drain");
	to_data(s);
	size_t len = 4u << 20;
	uint8_t *msg = malloc(len);
	ck_assert_ptr_nonnull(msg);
	for (size_t i = 0; i < len; i++)
		msg[i] = i % 80 == 79 ? '\n' : 'x';
	struct ms_rtls_smtp_reply r;
	char why[300] = "";
	double t0 = now_s();
	ck_assert_int_eq(ms_rtls_smtp_message(s, msg, len, &r, why, sizeof(why)), MS_ERR_TIMEOUT);
	double took = now_s() - t0;
	ck_assert_msg(took < 8, "took %.1f s", took);
	free(msg);
	ms_rtls_smtp_free(s);
	peer_stop(&p);
	ck_assert_int_eq(peer_saw(&p, "MAIL-RECEIVED 4194304"), 0);
}
END_TEST

START_TEST(call_order_and_arguments)
{
	struct ms_rtls_smtp *s = NULL;
	struct ms_rtls_smtp_reply r;
	char why[200];
	ck_assert_int_eq(ms_rtls_smtp_new(NULL, NULL, &s), MS_OK);
	ck_assert_int_eq(ms_rtls_smtp_greeting(s, &r, why, sizeof(why)), MS_ERR_STATE);
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "x", &r, why, sizeof(why)), MS_ERR_STATE);
	ck_assert_int_eq(ms_rtls_smtp_connect(s, "mx.example", 25, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_smtp_ehlo(s, "bad name\r\nMAIL", &r, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_smtp_command(s, "NOOP\r\nQUIT", &r, why, sizeof(why)),
			 MS_ERR_STATE);
	ms_rtls_smtp_free(s);
	ms_rtls_smtp_free(NULL);
	struct ms_rtls_probe_opts po = { .version = MS_RTLS_PROBE_VERSION, .connect = "nohost" };
	struct ms_rtls_probe *pr = (struct ms_rtls_probe *)&r;
	ck_assert_int_eq(ms_rtls_probe_run(NULL, &po, &pr, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_null(pr);
	ms_rtls_probe_free(NULL);
}
END_TEST

/* ---- the reply parser ---- */

static const struct {
	const char *in;
	ms_status st;
	int code;
	const char *enhanced, *text;
	size_t lines;
} replies[] = {
	{ "220 mx ESMTP\r\n", MS_OK, 220, "", "mx ESMTP", 1 },
	{ "250-mx\r\n250-PIPELINING\r\n250 REQUIRETLS\r\n", MS_OK, 250, "", "REQUIRETLS", 3 },
	{ "250 2.1.0 ok\n", MS_OK, 250, "2.1.0", "2.1.0 ok", 1 },
	{ "550 5.7.1\r\n", MS_OK, 550, "5.7.1", "5.7.1", 1 },
	{ "250\r\n", MS_OK, 250, "", "", 1 },
	{ "451 5.7.1 wrong class\r\n", MS_OK, 451, "", "5.7.1 wrong class", 1 },
	{ "250 2.1.1000 too long a detail\r\n", MS_OK, 250, "", "2.1.1000 too long a detail", 1 },
	{ "250-a\r\n251 b\r\n", MS_ERR_PROTOCOL, 0, "", "", 0 },
	{ "25 x\r\n", MS_ERR_PROTOCOL, 0, "", "", 0 },
	{ "250x\r\n", MS_ERR_PROTOCOL, 0, "", "", 0 },
	{ "650 x\r\n", MS_ERR_PROTOCOL, 0, "", "", 0 },
	{ "250-a\r\n", MS_ERR_PARSE, 0, "", "", 0 },
	{ "", MS_ERR_PARSE, 0, "", "", 0 },
};

START_TEST(reply_parser_table)
{
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct ms_rtls_smtp_reply r;
		size_t used = 0;
		char why[200] = "";
		const char *in = replies[i].in;
		ms_status st = ms_rtls_smtp_reply_parse((const uint8_t *)in, strlen(in), &r, &used,
							why, sizeof(why));
		ck_assert_msg(st == replies[i].st, "%zu: %s (%s)", i, ms_status_str(st), why);
		ck_assert_int_eq(r.code, replies[i].code);
		ck_assert_str_eq(r.enhanced, replies[i].enhanced);
		ck_assert_str_eq(r.text, replies[i].text);
		ck_assert_uint_eq(r.lines, replies[i].lines);
		if (st == MS_OK)
			ck_assert_uint_eq(used, strlen(in));
	}
	/* bytes after the reply are left to the caller */
	struct ms_rtls_smtp_reply r;
	size_t used = 0;
	const char *two = "220 go ahead\r\n250 REQUIRETLS\r\n";
	ck_assert_int_eq(ms_rtls_smtp_reply_parse((const uint8_t *)two, strlen(two), &r, &used,
						  NULL, 0), MS_OK);
	ck_assert_uint_eq(used, 14);
}
END_TEST

START_TEST(reply_parser_bounds)
{
	char why[200] = "";
	struct ms_rtls_smtp_reply r;
	/* a line of 1001 bytes */
	char line[1100];
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	memcpy(line + 1001, "\r\n", 2);
	ck_assert_int_eq(ms_rtls_smtp_reply_parse((const uint8_t *)line, 1003, &r, NULL, why,
						  sizeof(why)), MS_ERR_LIMIT);
	ck_assert_msg(strstr(why, "reply line longer than 1000 bytes"), "%s", why);
	memcpy(line + 1000, "\r\n", 2); /* exactly 1000: fine */
	ck_assert_int_eq(ms_rtls_smtp_reply_parse((const uint8_t *)line, 1002, &r, NULL, why,
						  sizeof(why)), MS_OK);
	/* 1001 lines of 6 bytes: within the bytes, past the line count */
	size_t n = (MS_RTLS_SMTP_MAX_LINES + 1) * 6;
	uint8_t *many = malloc(n);
	for (size_t i = 0; i < n; i += 6)
		memcpy(many + i, i + 6 < n ? "250-\r\n" : "250 \r\n", 6);
	ck_assert_int_eq(ms_rtls_smtp_reply_parse(many, n, &r, NULL, why, sizeof(why)),
			 MS_ERR_LIMIT);
	ck_assert_msg(strstr(why, "more than 1000 lines"), "%s", why);
	ck_assert_int_eq(ms_rtls_smtp_reply_parse(many + 6, n - 6, &r, NULL, why, sizeof(why)),
			 MS_OK);
	ck_assert_uint_eq(r.lines, MS_RTLS_SMTP_MAX_LINES);
	free(many);
	/* 64 KiB + 1 in lines of 1000 */
	n = MS_RTLS_MAX_REPLY_BYTES + 1000;
	uint8_t *big = malloc(n);
	memset(big, 'x', n);
	for (size_t i = 0; i + 1000 <= n; i += 1000) {
		memcpy(big + i, "250-", 4);
		memcpy(big + i + 998, "\r\n", 2);
	}
	ck_assert_int_eq(ms_rtls_smtp_reply_parse(big, n, &r, NULL, why, sizeof(why)),
			 MS_ERR_LIMIT);
	ck_assert_msg(strstr(why, "reply longer than 65536 bytes"), "%s", why);
	free(big);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write(2) */
	snprintf(dir, sizeof(dir), "/tmp/ms-transport-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(cert, sizeof(cert), "%s/mx.pem", dir);
	snprintf(key, sizeof(key), "%s/mx.key", dir);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout '%s' -out '%s' -days 30 -subj /CN=mx.transport.test "
		 ">/dev/null 2>&1", key, cert);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl req failed\n");
		return 2;
	}
	Suite *s = suite_create("requiretls-smtp-transport");
	TCase *tp = tcase_create("parser");
	tcase_add_test(tp, reply_parser_table);
	tcase_add_test(tp, reply_parser_bounds);
	tcase_add_test(tp, call_order_and_arguments);
	suite_add_tcase(s, tp);
	TCase *tc = tcase_create("loopback");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, delivery_over_starttls);
	tcase_add_test(tc, capabilities_reset_after_starttls);
	tcase_add_test(tc, starttls_injection_refused);
	tcase_add_test(tc, starttls_refused_keeps_plaintext);
	tcase_add_test(tc, bounded_reply);
	tcase_add_test(tc, deadline_trickled_reply);
	tcase_add_test(tc, deadline_silent_after_dot);
	tcase_add_test(tc, deadline_slow_drain);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
	srunner_free(sr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
