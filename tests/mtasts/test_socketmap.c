/*
 * test_socketmap.c - mailsec-policyd's MTA-STS answers end to end: the daemon on a
 * kernel-chosen loopback port, queried by Postfix's own
 * `postmap -q DOMAIN socketmap:inet:127.0.0.1:PORT:NAME`, over the offline
 * DNSSEC world and the loopback policy host.  Plus the raw protocol.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static struct policy_host host;

struct daemon {
	pid_t pid;
	int port;
};

static void daemon_start(struct daemon *d, int strict)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	char exe[1024], dns[1100], ca[1100], conn[200];
	snprintf(exe, sizeof(exe), "%s", build_path("daemons/mailsec-policyd/mailsec-policyd"));
	snprintf(dns, sizeof(dns), "dns_config=%s", world_path("auth.conf"));
	snprintf(ca, sizeof(ca), "ca_file=%s", world_path("pki/mtasts/ca.pem"));
	snprintf(conn, sizeof(conn), "connect_to=%s", host.connect_to);
	d->pid = fork();
	ck_assert_int_ge(d->pid, 0);
	if (d->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(exe, exe, "-c", "/dev/null", "--print-port", "-o", "listen_tcp=127.0.0.1:0",
		      "-o", dns, "-o", ca, "-o", conn, "-o", "map_name=mtasts", "-o",
		      strict ? "testing_as_enforce=yes" : "testing_as_enforce=no", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &d->port), 1);
	fclose(f);
}

static void daemon_stop(struct daemon *d)
{
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
}

/*
 * postmap's own configuration directory.  Without -c postmap reads
 * /etc/postfix/main.cf, which does not exist when Postfix was installed with
 * "No configuration" (the CI image, a fresh Debian 12): the test would then
 * depend on the machine's mail setup.  A socketmap query needs nothing from
 * main.cf; compatibility_level only keeps postmap from warning about legacy
 * defaults.  meta_directory (dynamicmaps.cf) keeps its built-in default.
 */
static const char *postmap_config_dir(void)
{
	static char dir[] = "/tmp/mailsec-postmap-XXXXXX";
	static int made;
	if (!made) {
		ck_assert_ptr_nonnull(mkdtemp(dir));
		char path[sizeof(dir) + 16];
		snprintf(path, sizeof(path), "%s/main.cf", dir);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs("compatibility_level = 2\n", f);
		ck_assert_int_eq(fclose(f), 0);
		made = 1;
	}
	return dir;
}

static void postmap_config_remove(void)
{
	const char *dir = postmap_config_dir();
	char path[256];
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	unlink(path);
	rmdir(dir);
}

/* postmap -q; returns its exit code, output (without newline) in out. */
static int postmap(const struct daemon *d, const char *name, const char *domain, char *out,
		   size_t outlen)
{
	char map[128];
	snprintf(map, sizeof(map), "socketmap:inet:127.0.0.1:%d:%s", d->port, name);
	const char *conf = postmap_config_dir();
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("postmap", "postmap", "-c", conf, "-q", domain, map, (char *)NULL);
		execl("/usr/sbin/postmap", "postmap", "-c", conf, "-q", domain, map,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t k;
	while (len + 1 < outlen && (k = read(fds[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)k;
	out[len] = '\0';
	if (len && out[len - 1] == '\n')
		out[len - 1] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) != 127, "postmap not found (install postfix)");
	return WEXITSTATUS(status);
}

START_TEST(test_postmap)
{
	struct daemon d;
	daemon_start(&d, 0);
	char out[4096];
	/* enforce over an unsigned domain: secure with the policy's MX list */
	ck_assert_int_eq(postmap(&d, "mtasts", "stsplain.example.test", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "secure match=mx1.stsplain.example.test:.backup.stsplain.example.test"
			      " servername=hostname");
	/* signed domain whose MX has secure TLSA: DANE wins over MTA-STS */
	ck_assert_int_eq(postmap(&d, "mtasts", "example.test", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "dane-only");
	/* testing and none: nothing (main.cf defaults apply) */
	ck_assert_int_eq(postmap(&d, "mtasts", "testing.stsplain.example.test", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(postmap(&d, "mtasts", "none.stsplain.example.test", out, sizeof(out)), 1);
	/* no policy: two records, no record, unknown domain */
	ck_assert_int_eq(postmap(&d, "mtasts", "twice.stsplain.example.test", out, sizeof(out)), 1);
	ck_assert_int_eq(postmap(&d, "mtasts", "www.example.test", out, sizeof(out)), 1);
	ck_assert_int_eq(postmap(&d, "mtasts", "nosuch.test", out, sizeof(out)), 1);
	daemon_stop(&d);
	/* asked to: testing treated like enforce */
	daemon_start(&d, 1);
	ck_assert_int_eq(postmap(&d, "mtasts", "testing.stsplain.example.test", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "secure match=mx1.stsplain.example.test servername=hostname");
	daemon_stop(&d);
	postmap_config_remove();
}
END_TEST

static int dial(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return s;
}

static void xfer(int s, const char *req, char *out, size_t outlen)
{
	ck_assert_int_eq(write(s, req, strlen(req)), (ssize_t)strlen(req));
	ssize_t n = read(s, out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
}

START_TEST(test_raw_protocol)
{
	struct daemon d;
	daemon_start(&d, 0);
	char out[4096];
	int s = dial(d.port);
	/* several requests on one connection, as Postfix's proxymap does */
	xfer(s, "22:mtasts nostarttls.test,", out, sizeof(out));
	ck_assert_str_eq(out, "9:NOTFOUND ,");
	/* a lookup the resolver refuses is not "no policy": Postfix defers
	 * (issue 13.2) */
	xfer(s, "12:mtasts x.com,", out, sizeof(out));
	const char *colon = strchr(out, ':');
	ck_assert_msg(colon && strncmp(colon, ":TEMP MX lookup for x.com failed", 32) == 0, "%s", out);
	xfer(s, "18:other example.test,", out, sizeof(out));
	ck_assert_str_eq(out, "21:PERM unknown map name,");
	xfer(s, "19:mtasts example.test,", out, sizeof(out));
	ck_assert_str_eq(out, "12:OK dane-only,");
	/* malformed framing: the connection is dropped */
	xfer(s, "99999999999:x,", out, sizeof(out));
	ck_assert_str_eq(out, "");
	close(s);
	daemon_stop(&d);
}
END_TEST

int main(void)
{
	policy_host_start(&host);
	Suite *s = suite_create("mtasts-socketmap");
	TCase *tc = tcase_create("socketmap");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_postmap);
	tcase_add_test(tc, test_raw_protocol);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	policy_host_stop(&host);
	return failed ? 1 : 0;
}
