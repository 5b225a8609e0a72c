/*
 * hardening.h - plumbing shared by the hardening tests (issue 9): start a
 * scripted hostile peer (a Python program run by Debian's /usr/bin/python3)
 * that prints "key=value" lines and then "ready", look its values up, stop
 * it; a monotonic clock for hang checks.  Header only.  No ck_assert
 * here: these run from main(), outside any test.
 */
#ifndef MS_HARDENING_H
#define MS_HARDENING_H

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARD_PYTHON "/usr/bin/python3"
#define HARD_MAXKV 32

struct hard_peer {
	pid_t pid;
	char workdir[256];
	size_t n;
	char key[HARD_MAXKV][32];
	char val[HARD_MAXKV][256];
};

/* Start `script` with a fresh work folder as its argument and read its
 * key=value lines up to "ready".  Exits the test program (a set-up that
 * fails must never count as a pass). */
static inline void hard_peer_start(struct hard_peer *h, const char *script)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->workdir, sizeof(h->workdir), "/tmp/ms-hard-XXXXXX");
	if (mkdtemp(h->workdir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
	h->pid = fork();
	if (h->pid < 0) {
		perror("fork");
		exit(2);
	}
	if (h->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(HARD_PYTHON, HARD_PYTHON, script, h->workdir, (char *)NULL);
		perror(HARD_PYTHON);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	char line[512];
	int ready = 0;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "ready") == 0) {
			ready = 1;
			break;
		}
		char *eq = strchr(line, '=');
		if (eq && h->n < HARD_MAXKV) {
			*eq = '\0';
			snprintf(h->key[h->n], sizeof(h->key[0]), "%.31s", line);
			snprintf(h->val[h->n], sizeof(h->val[0]), "%.255s", eq + 1);
			h->n++;
		}
	}
	if (f)
		fclose(f);
	if (!ready) {
		fprintf(stderr, "peer %s did not start\n", script);
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		exit(2);
	}
}

static inline const char *hard_peer_get(const struct hard_peer *h, const char *key)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->key[i], key) == 0)
			return h->val[i];
	fprintf(stderr, "peer has no value '%s'\n", key);
	exit(2);
}

static inline void hard_peer_stop(struct hard_peer *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = 0;
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->workdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", h->workdir);
}

/* Deadlines scale under valgrind (meson test --setup valgrind sets
 * MS_UNDER_VALGRIND), as in tests/common/mstest.h. */
static inline unsigned hard_scale(unsigned x)
{
	return getenv("MS_UNDER_VALGRIND") ? x * 20 : x;
}

static inline double hard_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A path under tests/hardening/ in the source tree (meson sets
 * MS_SOURCE_ROOT); a static buffer. */
static inline const char *hard_path(const char *rel)
{
	static char p[1024];
	const char *d = getenv("MS_SOURCE_ROOT");
	if (d == NULL || *d == '\0') {
		fprintf(stderr, "MS_SOURCE_ROOT is not set (run through meson test)\n");
		exit(2);
	}
	snprintf(p, sizeof(p), "%s/tests/hardening/%s", d, rel);
	return p;
}

#endif
