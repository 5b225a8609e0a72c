/* helpers.c - see helpers.h. */
#include "helpers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *env_path(const char *var, const char *rel, char *buf, size_t len)
{
	const char *root = getenv(var);
	if (root == NULL) {
		fprintf(stderr, "%s is not set (run through meson test)\n", var);
		abort();
	}
	snprintf(buf, len, "%s/%s", root, rel);
	return buf;
}

const char *world_path(const char *rel)
{
	static char buf[4][1024];
	static int k;
	k = (k + 1) % 4;
	return env_path("MS_TEST_WORLD", rel, buf[k], sizeof(buf[k]));
}

const char *source_path(const char *rel)
{
	static char buf[4][1024];
	static int k;
	k = (k + 1) % 4;
	return env_path("MS_SOURCE_ROOT", rel, buf[k], sizeof(buf[k]));
}

const char *build_path(const char *rel)
{
	static char buf[4][1024];
	static int k;
	k = (k + 1) % 4;
	return env_path("MS_BUILD_ROOT", rel, buf[k], sizeof(buf[k]));
}

void policy_host_start(struct policy_host *h)
{
	policy_host_start_cert(h, "policy");
}

void policy_host_start_cert(struct policy_host *h, const char *cert)
{
	int fds[2];
	memset(h, 0, sizeof(*h));
	if (pipe(fds) != 0)
		abort();
	char script[1024], pki[1024];
	snprintf(script, sizeof(script), "%s", source_path("tests/mtasts/policy_server.py"));
	snprintf(pki, sizeof(pki), "%s", world_path("pki/mtasts"));
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, pki, cert, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	if (f == NULL || fscanf(f, "%d", &h->port) != 1 || h->port <= 0) {
		fprintf(stderr, "policy server did not start\n");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		abort();
	}
	fclose(f);
	h->pid = pid;
	snprintf(h->connect_to, sizeof(h->connect_to), "::127.0.0.1:%d", h->port);
}

void policy_host_stop(struct policy_host *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		waitpid(h->pid, NULL, 0);
		h->pid = 0;
	}
}
