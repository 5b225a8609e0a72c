/*
 * test_dns_config.c - a resolver configuration that cannot be loaded is
 * MS_ERR_CONFIG from ms_dns_ctx_new with libunbound's reason in `why`, the
 * reason also reaches the env log, and nothing reaches stderr (env.h: no
 * library prints).  Covers a malformed trust anchor file (libunbound reads
 * anchors lazily, at its first resolve), a malformed unbound.conf (whose
 * parser writes to stderr itself), and a config file naming a bad anchor.
 */
#include "mstest.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <mailsec/env.h>

static char dir[] = "/tmp/ms-dnsconf-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, 512, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return p;
}

static void setup(void)
{
	/* a fresh template each time: without fork (CK_FORK=no, valgrind)
	 * the fixture runs again in one process */
	snprintf(dir, sizeof(dir), "/tmp/ms-dnsconf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* fd 2 goes to a file between capture_start and capture_end; text is what
 * was written there. */
struct stderr_capture {
	int saved, fd;
	char text[4096];
};

static void capture_start(struct stderr_capture *c)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/stderr", dir);
	c->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(c->fd, 0);
	fflush(stderr);
	c->saved = dup(2);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(c->fd, 2), 2);
}

static void capture_end(struct stderr_capture *c)
{
	fflush(stderr);
	ck_assert_int_eq(dup2(c->saved, 2), 2);
	close(c->saved);
	ssize_t n = pread(c->fd, c->text, sizeof(c->text) - 1, 0);
	c->text[n > 0 ? n : 0] = '\0';
	close(c->fd);
}

struct logs {
	int lines;
	char all[4096];
};

static void on_log(void *user, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv)
{
	(void)level;
	(void)kv;
	(void)nkv;
	struct logs *l = user;
	l->lines++;
	size_t n = strlen(l->all);
	snprintf(l->all + n, sizeof(l->all) - n, "%s: %s\n", subsystem, msg);
}

/* ms_dns_ctx_new must fail with MS_ERR_CONFIG, why naming `file` and
 * containing `reason`, the log carrying `reason`, stderr untouched. */
static void expect_config_error(const struct ms_dns_config *cfg, const char *file,
				const char *reason)
{
	struct logs l = { 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &l, .log = on_log,
			      .log_level = MS_LOG_DEBUG };
	struct ms_dns_ctx *c = (void *)1;
	char why[512] = "";
	struct stderr_capture cap;
	capture_start(&cap);
	ms_status st = ms_dns_ctx_new(&env, cfg, &c, why, sizeof(why));
	capture_end(&cap);
	ms_dns_ctx_free(st == MS_OK ? c : NULL);
	ck_assert_msg(cap.text[0] == '\0', "stderr got: %s", cap.text);
	ck_assert_msg(st == MS_ERR_CONFIG, "ms_dns_ctx_new: %s (%s), want config-error",
		      ms_status_str(st), why);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(why, file) != NULL, "why does not name %s: %s", file, why);
	ck_assert_msg(strstr(why, reason) != NULL, "why lacks '%s': %s", reason, why);
	ck_assert_msg(strstr(l.all, reason) != NULL, "log lacks '%s': %s", reason, l.all);
}

START_TEST(malformed_trust_anchor_file)
{
	const char *ta = write_file("bad.key", "example.test. IN DS garbage here\n");
	char conf[4096];
	mstest_world_path(conf, sizeof(conf), "auth.conf");
	/* Over the world's configuration file... */
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf,
				     .trust_anchor_file = ta };
	expect_config_error(&cfg, ta, "parse error");
	/* ...and in forward mode (the root anchor plus this file). */
	const char *fwd[] = { "127.0.0.1@9" };
	struct ms_dns_config f = { .version = MS_DNS_CONFIG_VERSION,
				   .mode = MS_DNS_MODE_FORWARD,
				   .forwarders = fwd, .nforwarders = 1,
				   .trust_anchor_file = ta };
	expect_config_error(&f, ta, "parse error");
	/* An anchor given as a string fails the same way, at ms_dns_ctx_new. */
	const char *bad[] = { "example.test. IN DS garbage here" };
	struct ms_dns_config s = { .version = MS_DNS_CONFIG_VERSION,
				   .mode = MS_DNS_MODE_FORWARD,
				   .forwarders = fwd, .nforwarders = 1,
				   .trust_anchors = bad, .ntrust_anchors = 1 };
	expect_config_error(&s, "trust anchor: ", bad[0]);
}
END_TEST

START_TEST(malformed_config_file)
{
	const char *conf = write_file("bad.conf", "server:\n    bogus-option: yes\n");
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf };
	expect_config_error(&cfg, conf, "bogus-option");
}
END_TEST

START_TEST(config_file_names_a_bad_anchor)
{
	const char *ta = write_file("bad2.key", "example.test. IN DS 1 2 x\n");
	char text[1024];
	snprintf(text, sizeof(text), "server:\n    trust-anchor-file: \"%s\"\n", ta);
	const char *conf = write_file("anchor.conf", text);
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf };
	expect_config_error(&cfg, ta, ta);
}
END_TEST

/* A good configuration still loads, and loading it prints nothing. */
START_TEST(good_config_is_quiet)
{
	char conf[4096];
	mstest_world_path(conf, sizeof(conf), "auth.conf");
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = conf };
	struct ms_dns_ctx *c = NULL;
	char why[512] = "";
	struct stderr_capture cap;
	capture_start(&cap);
	ms_status st = ms_dns_ctx_new(NULL, &cfg, &c, why, sizeof(why));
	struct ms_dns_result *r = NULL;
	if (st == MS_OK)
		ck_assert_int_eq(ms_dns_lookup(c, "www.example.test", MS_DNS_T_A, &r, why,
					       sizeof(why)), MS_OK);
	capture_end(&cap);
	ck_assert_msg(st == MS_OK, "%s", why);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_SECURE);
	ck_assert_msg(cap.text[0] == '\0', "stderr got: %s", cap.text);
	ms_dns_result_free(r);
	ms_dns_ctx_free(c);
}
END_TEST

/*
 * Contexts created from several threads at once: the configuration check
 * forks from a multi-threaded process and libunbound's parser is shared, so
 * good files must still load and bad ones fail, each with its own reason.
 */
static void *create_many(void *arg)
{
	const char *bad = arg;
	char conf[4096];
	mstest_world_path(conf, sizeof(conf), "auth.conf");
	for (int i = 0; i < 3; i++) {
		struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
					     .mode = MS_DNS_MODE_CONFIG_FILE,
					     .config_file = i == 1 ? bad : conf };
		struct ms_dns_ctx *c = NULL;
		char why[512] = "";
		ms_status st = ms_dns_ctx_new(NULL, &cfg, &c, why, sizeof(why));
		if (i == 1) {
			if (st != MS_ERR_CONFIG || strstr(why, "bogus-option") == NULL)
				return (void *)"bad file not reported";
		} else {
			if (st != MS_OK)
				return (void *)"good file did not load";
			struct ms_dns_result *r = NULL;
			if (ms_dns_lookup(c, "www.example.test", MS_DNS_T_A, &r, NULL, 0) != MS_OK ||
			    ms_dns_result_security(r) != MS_DNS_SECURE)
				return (void *)"lookup failed";
			ms_dns_result_free(r);
		}
		ms_dns_ctx_free(c);
	}
	return NULL;
}

START_TEST(contexts_created_concurrently)
{
	const char *bad = write_file("bad.conf", "server:\n    bogus-option: yes\n");
	pthread_t t[4];
	struct stderr_capture cap;
	capture_start(&cap);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, create_many, (void *)bad), 0);
	const char *fail[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], (void **)&fail[i]), 0);
	capture_end(&cap);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(fail[i] == NULL, "thread %d: %s", i, fail[i]);
	ck_assert_msg(cap.text[0] == '\0', "stderr got: %s", cap.text);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns-config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, malformed_trust_anchor_file);
	tcase_add_test(tc, malformed_config_file);
	tcase_add_test(tc, config_file_names_a_bad_anchor);
	tcase_add_test(tc, good_config_is_quiet);
	tcase_add_test(tc, contexts_created_concurrently);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mstest_run(suite());
}
