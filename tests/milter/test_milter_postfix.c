/*
 * test_milter_postfix.c - mailsec-milter end to end behind a real Postfix
 * (Debian's, its own configuration directory, `postfix -c DIR start`) on
 * loopback.  smtpd hands every message to the milter (smtpd_milters =
 * inet:127.0.0.1:PORT); accepted mail is delivered by Postfix's pipe(8)
 * into a file per queue id.  The milter resolves through the signed test
 * world (real DNSSEC validation through libunbound).
 *
 *   inbound (client 127.0.0.1): the delivered message carries our
 *     Authentication-Results with spf, dkim, dmarc and iprev, each with
 *     dnssec=; a forged A-R of our authserv-id is gone, a foreign one kept
 *   a spoofed From of good.test (p=reject): 550 5.7.1 at end of DATA
 *   outgoing (client 127.0.0.2, an InternalHosts address): signed with the
 *     world's RSA and Ed25519 keys of example.test, verified by dkimpy
 *   the milter killed: Postfix defers (4xx), nothing passes unchecked
 *
 * Needs root (Postfix's master): exits 77 (meson SKIP) otherwise.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/dkim.h>

static char dir[256];
static char world[512];
static int pfx_port, milter_port;
static pid_t milter_pid;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *b = malloc(1 << 20);
	size_t n = fread(b, 1, (1 << 20) - 1, f);
	fclose(f);
	b[n] = '\0';
	return b;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Connect from source address `src` (127.0.0.x: all of 127/8 is local). */
static int tcp_connect(const char *src, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in s = {.sin_family = AF_INET};
	inet_pton(AF_INET, src, &s.sin_addr);
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0) {
		close(fd);
		return -1;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {60, 0}; /* a hung server fails the test, not hangs it */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void wait_listening(int port, pid_t pid, const char *what)
{
	for (int i = 0; i < 600; i++) {
		int st;
		if (pid > 0)
			ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "%s exited early", what);
		int fd = tcp_connect("127.0.0.1", port);
		if (fd >= 0) {
			close(fd);
			return;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("%s did not start listening", what);
}

static int run_wait(char *const argv[])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- SMTP client ---- */

/* Read one (multi-line) reply; returns the code, the last line in `text`. */
static int smtp_reply(int fd, char *text, size_t len)
{
	char line[1024];
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = recv(fd, &ch, 1, 0);
		if (r != 1)
			return -1;
		if (ch == '\n') {
			line[n] = '\0';
			if (n > 0 && line[n - 1] == '\r')
				line[n - 1] = '\0';
			if (n >= 4 && line[3] == ' ') {
				snprintf(text, len, "%s", line);
				return atoi(line);
			}
			n = 0;
			continue;
		}
		if (n < sizeof(line) - 1)
			line[n++] = ch;
	}
}

static int smtp_cmd(int fd, char *text, size_t len, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	size_t n = strlen(buf);
	ck_assert_int_eq(send(fd, buf, n, 0), (ssize_t)n);
	return smtp_reply(fd, text, len);
}

/* Send one message from `src`; returns the code of the end-of-DATA reply
 * and its text (with the queue id of an accepted message). */
static int smtp_send(const char *src, const char *mail_from, const char *rcpt, const char *msg,
		     char *text, size_t len)
{
	int fd = tcp_connect(src, pfx_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(smtp_reply(fd, text, len), 220);
	ck_assert_int_eq(smtp_cmd(fd, text, len, "EHLO client.example.test\r\n"), 250);
	ck_assert_msg(smtp_cmd(fd, text, len, "MAIL FROM:<%s>\r\n", mail_from) == 250, "%s", text);
	ck_assert_msg(smtp_cmd(fd, text, len, "RCPT TO:<%s>\r\n", rcpt) == 250, "%s", text);
	ck_assert_int_eq(smtp_cmd(fd, text, len, "DATA\r\n"), 354);
	size_t n = strlen(msg);
	ck_assert_int_eq(send(fd, msg, n, 0), (ssize_t)n);
	int code = smtp_cmd(fd, text, len, ".\r\n");
	char q[256];
	smtp_cmd(fd, q, sizeof(q), "QUIT\r\n");
	close(fd);
	return code;
}

/* The delivered copy of an accepted message (its queue id from "queued as"). */
static char *delivered(const char *reply)
{
	const char *q = strstr(reply, "queued as ");
	ck_assert_msg(q != NULL, "no queue id in '%s'", reply);
	char path[512];
	snprintf(path, sizeof(path), "%s/out/%s", dir, q + 10);
	for (int i = 0; i < 1200; i++) { /* bounded: 60 s on a loaded machine */
		char *m = read_file(path);
		if (m != NULL && strstr(m, "\n\n") != NULL)
			return m;
		free(m);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("message %s was not delivered (see %s/pfx-maillog)", q + 10, dir);
	return NULL;
}

/* ---- fixture: world, milter, Postfix ---- */

static void setup(void)
{
	const char *w = getenv("MS_TEST_WORLD");
	const char *bin = getenv("MS_MILTER_BIN");
	ck_assert_msg(w && bin, "MS_TEST_WORLD and MS_MILTER_BIN must be set");
	snprintf(world, sizeof(world), "%s", w);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/milter-pfx-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0); /* Postfix daemons run as postfix */
	char path[512], buf[8192];

	/* the milter */
	milter_port = free_port();
	snprintf(buf, sizeof(buf),
		 "# written by test_milter_postfix.c\n"
		 "AuthservID mx1.example.test\n"
		 "Socket inet:%d@127.0.0.1\n"
		 "DNSConfig %s/auth.conf\n"
		 "DMARCAction reject\n"
		 "InternalHosts 127.0.0.2\n"
		 "KeyTable rsa example.test:rsa:%s/pki/dkim/rsa.pem\n"
		 "KeyTable ed example.test:ed:%s/pki/dkim/ed.pem\n"
		 "SigningTable *@example.test rsa,ed\n"
		 "LogLevel debug\n",
		 milter_port, world, world, world);
	snprintf(path, sizeof(path), "%s/milter.conf", dir);
	write_file(path, buf);
	char log[512];
	snprintf(log, sizeof(log), "%s/milter.log", dir);
	milter_pid = fork();
	ck_assert_int_ge(milter_pid, 0);
	if (milter_pid == 0) {
		if (freopen(log, "w", stderr) == NULL)
			_exit(126);
		execl(bin, bin, "-c", path, (char *)NULL);
		_exit(127);
	}
	wait_listening(milter_port, milter_pid, "mailsec-milter");

	/* Postfix */
	struct passwd *pw = getpwnam("postfix");
	ck_assert_msg(pw != NULL, "no postfix user");
	const char *sub[] = {"pfx-conf", "pfx-queue", "pfx-data", "out"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	snprintf(path, sizeof(path), "%s/pfx-data", dir);
	ck_assert_int_eq(chown(path, pw->pw_uid, pw->pw_gid), 0);
	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(chmod(path, 01777), 0); /* pipe(8) runs as nobody */
	snprintf(buf, sizeof(buf), "#!/bin/sh\ncat > \"$1/$2.tmp\" && mv \"$1/$2.tmp\" \"$1/$2\"\n");
	snprintf(path, sizeof(path), "%s/sink.sh", dir);
	write_file(path, buf);
	pfx_port = free_port();
	snprintf(buf, sizeof(buf),
		 "compatibility_level = 3.6\n"
		 "queue_directory = %s/pfx-queue\n"
		 "data_directory = %s/pfx-data\n"
		 "maillog_file = %s/pfx-maillog\n"
		 "maillog_file_prefixes = %s\n"
		 "mail_owner = postfix\nsetgid_group = postdrop\n"
		 "myhostname = mx1.example.test\nmydomain = example.test\n"
		 "mydestination =\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
		 "mynetworks = 127.0.0.0/8\nrelay_domains = example.org\n"
		 "transport_maps = inline:{example.org=sink:}\n"
		 "smtpd_peername_lookup = no\n"
		 "smtpd_milters = inet:127.0.0.1:%d\n"
		 "milter_default_action = tempfail\n"
		 "milter_protocol = 6\n"
		 "alias_maps =\nalias_database =\nlocal_recipient_maps =\nbiff = no\n",
		 dir, dir, dir, dir, milter_port);
	snprintf(path, sizeof(path), "%s/pfx-conf/main.cf", dir);
	write_file(path, buf);
	snprintf(buf, sizeof(buf),
		 "127.0.0.1:%d inet n - n - - smtpd\n"
		 "pickup unix n - n 60 1 pickup\n"
		 "cleanup unix n - n - 0 cleanup\n"
		 "qmgr unix n - n 300 1 qmgr\n"
		 "rewrite unix - - n - - trivial-rewrite\n"
		 "bounce unix - - n - 0 bounce\n"
		 "defer unix - - n - 0 bounce\n"
		 "trace unix - - n - 0 bounce\n"
		 "verify unix - - n - 1 verify\n"
		 "flush unix n - n 1000? 0 flush\n"
		 "proxymap unix - - n - - proxymap\n"
		 "showq unix n - n - - showq\n"
		 "error unix - - n - - error\n"
		 "retry unix - - n - - error\n"
		 "discard unix - - n - - discard\n"
		 "anvil unix - - n - 1 anvil\n"
		 "scache unix - - n - 1 scache\n"
		 "postlog unix-dgram n - n - 1 postlogd\n"
		 "sink unix - n n - - pipe user=nobody argv=/bin/sh %s/sink.sh %s/out ${queue_id}\n",
		 pfx_port, dir, dir);
	snprintf(path, sizeof(path), "%s/pfx-conf/master.cf", dir);
	write_file(path, buf);
	snprintf(path, sizeof(path), "%s/pfx-conf", dir);
	char *argv[] = {(char *)"/usr/sbin/postfix", (char *)"-c", path, (char *)"start", NULL};
	ck_assert_int_eq(run_wait(argv), 0);
	wait_listening(pfx_port, 0, "postfix");
}

static void teardown(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "/usr/sbin/postfix -c '%s/pfx-conf' stop >/dev/null 2>&1; true", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not stop the test postfix\n");
	if (milter_pid > 0) {
		kill(milter_pid, SIGTERM);
		waitpid(milter_pid, NULL, 0);
	}
	if (getenv("MS_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	} else {
		fprintf(stderr, "kept %s\n", dir);
	}
}

/* ---- helpers on the delivered message ---- */

/* The header section (up to the empty line), unfolded into one line per
 * field so that substring checks see a whole field. */
static char *header_lines(const char *m)
{
	size_t n = strlen(m);
	char *h = malloc(n + 1), *o = h;
	for (const char *p = m; *p; p++) {
		if (*p == '\n' && p[1] == '\n') {
			*o++ = '\n';
			break;
		}
		if (*p == '\n' && (p[1] == ' ' || p[1] == '\t'))
			continue; /* unfold */
		if (*p != '\r')
			*o++ = *p;
	}
	*o = '\0';
	return h;
}

/* The n-th (0-based) field whose line starts with `prefix`, or NULL. */
static char *field(const char *hdr, const char *prefix, int nth)
{
	size_t pl = strlen(prefix);
	for (const char *p = hdr; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= pl && strncasecmp(p, prefix, pl) == 0 && nth-- == 0)
			return strndup(p, l);
		p += l + (e ? 1 : 0);
	}
	return NULL;
}

static char *world_file(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", world, rel);
	char *t = read_file(path);
	ck_assert_msg(t != NULL, "%s", path);
	return t;
}

/* Sign `msg` as example.test with the world's RSA key (a sender's MTA). */
static char *sign_as_example_test(const char *msg)
{
	char *pem = world_file("pki/dkim/rsa.pem"), why[256] = "";
	struct ms_dkim_key *k = NULL;
	ck_assert_msg(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, strlen(pem), &k, why,
					   sizeof(why)) == MS_OK, "%s", why);
	free(pem);
	struct ms_dkim_signer *s = NULL;
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &s), MS_OK);
	struct ms_dkim_sign_opts o = {.version = MS_DKIM_SIGN_OPTS_VERSION, .key = k,
				      .domain = "example.test", .selector = "rsa",
				      .header_canon = MS_DKIM_CANON_RELAXED,
				      .body_canon = MS_DKIM_CANON_RELAXED};
	ck_assert_int_eq(ms_dkim_signer_add(s, &o, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)msg, strlen(msg), why, sizeof(why)), MS_OK);
	ck_assert_msg(ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, "%s", why);
	const char *h = ms_dkim_signer_headers(s);
	char *out = malloc(strlen(h) + strlen(msg) + 1);
	strcpy(out, h);
	strcat(out, msg);
	ms_dkim_signer_free(s);
	ms_dkim_key_free(k);
	return out;
}

/* ---- the tests ---- */

START_TEST(test_inbound_authentication_results)
{
	const char *body =
		"From: Alice <alice@example.test>\r\n"
		"To: bob@example.org\r\n"
		"Subject: inbound through the milter\r\n"
		"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
		"Message-ID: <inbound-1@example.test>\r\n"
		"\r\n"
		"Hello from a signed sender.\r\n";
	char *signed_msg = sign_as_example_test(body);
	/* the forged field claims our authserv-id; the foreign one does not */
	const char *forged = "Authentication-Results: mx1.example.test; dkim=pass header.d=forged.example\r\n";
	const char *foreign = "Authentication-Results: other.example.net; spf=pass smtp.mailfrom=kept.example\r\n";
	char *msg = malloc(strlen(signed_msg) + strlen(forged) + strlen(foreign) + 1);
	sprintf(msg, "%s%s%s", forged, foreign, signed_msg);
	char text[1024];
	int code = smtp_send("127.0.0.1", "alice@example.test", "bob@example.org", msg, text, sizeof(text));
	ck_assert_msg(code == 250, "end of data: %s", text);
	char *m = delivered(text);
	char *h = header_lines(m);
	char *ar = field(h, "Authentication-Results: mx1.example.test;", 0);
	ck_assert_msg(ar != NULL, "no A-R of ours in:\n%s", h);
	/* one of ours only: the forged one is gone */
	ck_assert_ptr_null(field(h, "Authentication-Results: mx1.example.test;", 1));
	ck_assert_ptr_null(strstr(h, "forged.example"));
	ck_assert_ptr_nonnull(strstr(h, "Authentication-Results: other.example.net; spf=pass smtp.mailfrom=kept.example"));
	/* every method with its DNSSEC status; the signed world gives pass */
	ck_assert_msg(strstr(ar, "spf=none (dnssec=secure)") != NULL, "%s", ar);
	ck_assert_msg(strstr(ar, "dkim=pass (dnssec=secure)") != NULL, "%s", ar);
	ck_assert_msg(strstr(ar, "header.d=example.test") != NULL, "%s", ar);
	ck_assert_msg(strstr(ar, "dmarc=pass (dnssec=secure)") != NULL, "%s", ar);
	ck_assert_msg(strstr(ar, "iprev=") != NULL && strstr(strstr(ar, "iprev="), "(dnssec=") != NULL, "%s", ar);
	ck_assert_msg(strstr(ar, "policy.iprev=127.0.0.1") != NULL, "%s", ar);
	/* inbound mail is not signed by us */
	ck_assert_ptr_null(strstr(h, "s=ed;"));
	free(ar);
	free(h);
	free(m);
	free(msg);
	free(signed_msg);
}
END_TEST

START_TEST(test_spoofed_from_rejected)
{
	/* good.test publishes p=reject; nothing here aligns with it */
	const char *msg =
		"From: CEO <ceo@good.test>\r\n"
		"To: bob@example.org\r\n"
		"Subject: urgent wire transfer\r\n"
		"Message-ID: <spoof-1@attacker.example>\r\n"
		"\r\n"
		"Please pay.\r\n";
	char text[1024];
	int code = smtp_send("127.0.0.1", "x@example.test", "bob@example.org", msg, text, sizeof(text));
	ck_assert_msg(code == 550, "end of data: %s", text);
	ck_assert_msg(strstr(text, "5.7.1") != NULL && strstr(text, "DMARC") != NULL &&
		      strstr(text, "good.test") != NULL, "%s", text);
}
END_TEST

START_TEST(test_outgoing_signed_dkimpy)
{
	const char *msg =
		"From: Bob <bob@example.test>\r\n"
		"To: carol@example.org\r\n"
		"Subject: outgoing, signed by the milter\r\n"
		"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
		"Message-ID: <out-1@example.test>\r\n"
		"\r\n"
		"Signed with RSA and Ed25519.\r\n"
		"  trailing   white space  \r\n";
	char text[1024];
	/* 127.0.0.2 is InternalHosts: outgoing */
	int code = smtp_send("127.0.0.2", "bob@example.test", "carol@example.org", msg, text, sizeof(text));
	ck_assert_msg(code == 250, "end of data: %s", text);
	char *m = delivered(text);
	char *h = header_lines(m);
	char *s0 = field(h, "DKIM-Signature:", 0), *s1 = field(h, "DKIM-Signature:", 1);
	ck_assert_msg(s0 && s1, "two signatures expected in:\n%s", h);
	ck_assert_msg(strstr(s0, "a=rsa-sha256") && strstr(s1, "a=ed25519-sha256"), "%s\n%s", s0, s1);
	/* outgoing mail gets no verdict of ours */
	ck_assert_ptr_null(field(h, "Authentication-Results: mx1.example.test;", 0));
	/* dkimpy, an independent implementation, verifies both */
	const char *py = getenv("MS_MILTER_PYTHON"), *script = getenv("MS_MILTER_VERIFY");
	ck_assert_msg(py && script, "MS_MILTER_PYTHON and MS_MILTER_VERIFY must be set");
	char path[512], vars[600];
	snprintf(path, sizeof(path), "%s/out/%s", dir, strstr(text, "queued as ") + 10);
	snprintf(vars, sizeof(vars), "%s/vars", world);
	char *argv[] = {(char *)py, (char *)script, path, vars, (char *)"2", NULL};
	ck_assert_msg(run_wait(argv) == 0, "dkimpy did not verify %s", path);
	free(s0);
	free(s1);
	free(h);
	free(m);
}
END_TEST

/* Every command of a transaction up to the end of DATA; returns the first
 * reply that is not a positive one (or the end-of-DATA reply). */
static int smtp_try(const char *src, const char *msg, char *text, size_t len)
{
	int fd = tcp_connect(src, pfx_port);
	ck_assert_int_ge(fd, 0);
	int code = smtp_reply(fd, text, len);
	if (code == 220)
		code = smtp_cmd(fd, text, len, "EHLO client.example.test\r\n");
	if (code == 250)
		code = smtp_cmd(fd, text, len, "MAIL FROM:<alice@example.test>\r\n");
	if (code == 250)
		code = smtp_cmd(fd, text, len, "RCPT TO:<bob@example.org>\r\n");
	if (code == 250)
		code = smtp_cmd(fd, text, len, "DATA\r\n");
	if (code == 354) {
		size_t n = strlen(msg);
		ck_assert_int_eq(send(fd, msg, n, 0), (ssize_t)n);
		code = smtp_cmd(fd, text, len, ".\r\n");
	}
	close(fd);
	return code;
}

/* Last: the milter is killed; Postfix (milter_default_action = tempfail)
 * must defer, never pass the message unchecked. */
START_TEST(test_milter_killed_postfix_defers)
{
	ck_assert_int_eq(kill(milter_pid, SIGKILL), 0);
	/* the parent's fixture reaps it; wait until its port is closed */
	for (int i = 0; i < 200; i++) {
		int fd = tcp_connect("127.0.0.1", milter_port);
		if (fd < 0)
			break;
		close(fd);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	const char *msg = "From: alice@example.test\r\nTo: bob@example.org\r\nSubject: x\r\n\r\nx\r\n";
	char text[1024];
	int code = smtp_try("127.0.0.1", msg, text, sizeof(text));
	ck_assert_msg(code >= 400 && code < 500, "with the milter down Postfix said: %s", text);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		/* exit status 77: meson reports SKIP, never a pass */
		fprintf(stderr, "the Postfix instance needs root\n");
		return 77;
	}
	Suite *s = suite_create("milter-postfix");
	TCase *tc = tcase_create("postfix");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_inbound_authentication_results);
	tcase_add_test(tc, test_spoofed_from_rejected);
	tcase_add_test(tc, test_outgoing_signed_dkimpy);
	tcase_add_test(tc, test_milter_killed_postfix_defers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
