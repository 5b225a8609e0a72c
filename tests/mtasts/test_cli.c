/*
 * test_cli.c - `mailsec mtasts` end to end: the binary, the offline DNSSEC
 * world (signed example.test, unsigned stsplain.example.test) and the
 * loopback HTTPS policy host; exit codes and --json keys of the contract.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static struct policy_host host;
static char out[65536];

/* Run mailsec with NULL-terminated args; stdout into `out`. */
static int run(const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = build_path("examples/mailsec/mailsec");
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t k;
	while ((k = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)k;
	out[len] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static const char *write_tmp(const char *name, const char *text)
{
	static char path[4][1024];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s", build_path(name));
	FILE *f = fopen(path[k], "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path[k];
}

#define HAS(s) ck_assert_msg(strstr(out, s) != NULL, "missing %s in: %s", s, out)

START_TEST(test_parse_and_match)
{
	const char *good = write_tmp("tests/mtasts/cli-good.txt",
				     "version: STSv1\r\nmode: testing\r\nmx: mx.a.test\r\n"
				     "mx: *.b.test\r\nmax_age: 3600\r\n");
	const char *bad = write_tmp("tests/mtasts/cli-bad.txt",
				    "version: STSv1\nmode: strict\nmx: mx.a.test\nmax_age: 3600\n");
	ck_assert_int_eq(run((const char *[]){ "mtasts", "parse", good, NULL }), 0);
	HAS("valid policy");
	ck_assert_int_eq(run((const char *[]){ "--json", "mtasts", "parse", good, NULL }), 0);
	HAS("\"valid\":true");
	HAS("\"error\":null");
	HAS("\"mode\":\"testing\"");
	HAS("\"max_age\":3600");
	HAS("\"mx\":[\"mx.a.test\",\"*.b.test\"]");
	ck_assert_int_eq(run((const char *[]){ "mtasts", "parse", bad, NULL }), 1);
	HAS("line 2: mode");
	ck_assert_int_eq(run((const char *[]){ "mtasts", "parse", "--json", bad, NULL }), 1);
	HAS("\"valid\":false");
	HAS("\"error\":\"line 2: mode");
	ck_assert_int_eq(run((const char *[]){ "mtasts", "match", good, "x.b.test.", NULL }), 0);
	ck_assert_int_eq(run((const char *[]){ "--json", "mtasts", "match", good, "MX.A.TEST",
					       NULL }), 0);
	HAS("\"match\":true");
	ck_assert_int_eq(run((const char *[]){ "--json", "mtasts", "match", good, "b.test",
					       NULL }), 1);
	HAS("\"match\":false");
	HAS("\"verdict\":\"would-fail\"");
	/* usage errors */
	ck_assert_int_eq(run((const char *[]){ "mtasts", "match", good, NULL }), 2);
	ck_assert_int_eq(run((const char *[]){ "mtasts", "match", bad, "mx.a.test", NULL }), 2);
	ck_assert_int_eq(run((const char *[]){ "mtasts", "parse", "no/such/file", NULL }), 2);
	ck_assert_int_eq(run((const char *[]){ "mtasts", "frobnicate", NULL }), 2);
}
END_TEST

START_TEST(test_fetch_world)
{
	const char *auth = world_path("auth.conf");
	const char *ca = world_path("pki/mtasts/ca.pem");
	char cache[1024];
	snprintf(cache, sizeof(cache), "%s", build_path("tests/mtasts/cli-cache-XXXXXX"));
	int fd = mkstemp(cache);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* unsigned domain, record split in two strings next to another TXT */
	ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "--json", "mtasts", "fetch",
					       "stsplain.example.test", "--ca-file", ca,
					       "--connect-to", host.connect_to, "--cache", cache,
					       NULL }), 0);
	HAS("\"record_id\":\"plain2026\"");
	HAS("\"policy\":true");
	HAS("\"source\":\"fetched\"");
	HAS("\"mode\":\"enforce\"");
	HAS("\"mx\":[\"mx1.stsplain.example.test\",\"*.backup.stsplain.example.test\"]");
	/* second run: from the cache file, without reaching the host */
	ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "--json", "mtasts", "fetch",
					       "stsplain.example.test", "--cache", cache, NULL }), 0);
	HAS("\"source\":\"cache\"");
	/* purge, then it is gone (no CA: the fetch now fails) */
	ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "mtasts", "purge",
					       "--cache", cache, NULL }), 0);
	ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "--json", "mtasts", "fetch",
					       "stsplain.example.test", "--cache", cache,
					       "--connect-to", host.connect_to, NULL }), 0);
	HAS("\"policy\":false");
	HAS("\"failure\":\"sts-webpki-invalid\"");
	/* the TXT record reached through a CNAME; the policy host stays
	 * mta-sts.<the policy domain> */
	ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "--json", "mtasts", "fetch",
					       "alias.stsplain.example.test", "--ca-file", ca,
					       "--connect-to", host.connect_to, NULL }), 0);
	HAS("\"record_id\":\"plain2026\"");
	HAS("\"source\":\"fetched\"");
	/* signed domain */
	ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "--json", "mtasts", "fetch",
					       "example.test", "--ca-file", ca,
					       "--connect-to", host.connect_to, NULL }), 0);
	HAS("\"record_id\":\"signed2026\"");
	HAS("\"mx\":[\"mx.example.test\"]");
	/* two STS records, v=STSv10, no record at all: no policy, no fetch */
	const char *none[] = { "twice.stsplain.example.test", "v10.stsplain.example.test",
			       "www.example.test" };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(run((const char *[]){ "--dns-config", auth, "--json", "mtasts",
						       "fetch", none[i], "--ca-file", ca,
						       "--connect-to", host.connect_to, NULL }), 0);
		HAS("\"policy\":false");
		HAS("\"record_id\":null");
		HAS("\"failure\":null");
	}
	char p[1100];
	unlink(cache);
	snprintf(p, sizeof(p), "%s-wal", cache);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", cache);
	unlink(p);
}
END_TEST

/* A listener on 127.0.2.77 (kernel-chosen port): what a URL-rewriting
 * domain would make libcurl connect to. */
static int attacker_listen(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.2.77", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

START_TEST(test_fetch_crafted_domain)
{
	/* issue 13: the domain becomes the URL's authority; one that is not a
	 * host name is a usage error (exit 2), and nothing is connected to. */
	int port;
	int fd = attacker_listen(&port);
	char d1[96], d2[96];
	snprintf(d1, sizeof(d1), "x@127.0.2.77:%d#.example.test", port);
	snprintf(d2, sizeof(d2), "127.0.2.77:%d", port);
	const char *bad[] = { d1, d2, "a_b.example.test", "-x.example.test" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(run((const char *[]){ "--dns-config", world_path("auth.conf"),
						    "--timeout", "3", "mtasts", "fetch", bad[i],
						    "--ca-file", world_path("pki/mtasts/ca.pem"),
						    NULL }) == 2, "%s: not a usage error", bad[i]);
	}
	ck_assert_msg(accept(fd, NULL, NULL) < 0, "a crafted domain made a connection");
	close(fd);
}
END_TEST

START_TEST(test_fetch_address_from_world)
{
	/* issue 13: mta-sts.example.test exists only in the test world
	 * (127.0.0.1); the override moves the port alone, so the address must
	 * come from --dns-config, not from the system resolver. */
	char port_only[32];
	snprintf(port_only, sizeof(port_only), ":::%d", host.port);
	ck_assert_int_eq(run((const char *[]){ "--dns-config", world_path("auth.conf"), "--json",
					       "mtasts", "fetch", "example.test", "--ca-file",
					       world_path("pki/mtasts/ca.pem"), "--connect-to",
					       port_only, NULL }), 0);
	HAS("\"policy\":true");
	HAS("\"source\":\"fetched\"");
	HAS("\"failure\":null");
}
END_TEST

int main(void)
{
	policy_host_start(&host);
	Suite *s = suite_create("mtasts-cli");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parse_and_match);
	tcase_add_test(tc, test_fetch_world);
	tcase_add_test(tc, test_fetch_crafted_domain);
	tcase_add_test(tc, test_fetch_address_from_world);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	policy_host_stop(&host);
	return failed ? 1 : 0;
}
