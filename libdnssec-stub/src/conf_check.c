/*
 * conf_check.c - load an unbound.conf-format file into a libunbound context
 * without libunbound printing anything.
 *
 * libunbound's configuration parser reports syntax errors with fprintf to
 * stderr (util/config_file.c, ub_c_error), not through its log, so neither
 * ub_ctx_debugout nor "use-syslog" can route them, and a library must not
 * print (env.h).  So the file is first parsed in a short-lived child process
 * whose stderr is a pipe: the child only runs ub_ctx_config on its copy of
 * the not yet finalised context and exits.  If it reports errors, the parent
 * turns them into MS_ERR_CONFIG with the first line in `why` and every line
 * in the env log, and never parses the file itself; if it parses cleanly,
 * the parent loads it (then nothing is printed, unless the file changed in
 * between).  The parser also keeps its state in process globals, so the
 * parent's parses are serialised here.
 *
 * If the child cannot be started, or has not finished within
 * CHECK_DEADLINE_MS (it could block on a lock another thread held at fork
 * time), the file is parsed in process as before: a correct file still
 * loads, only a malformed one could then print.
 */
#include "dns_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#define CHECK_DEADLINE_MS 10000
#define CHECK_OUTPUT_MAX 4096

/* libunbound keeps process-wide state (its log destination, the config
 * parser, module and config globals touched when a context is created,
 * finalised or deleted) without a lock of its own: every such call in this
 * library holds this one lock.  It is taken only when contexts come and go. */
pthread_mutex_t ms_dns_ub_global_lock = PTHREAD_MUTEX_INITIALIZER;

/* The child: its stderr is `errfd`; one status byte ('0' parsed, '1' not)
 * goes to `stfd` so the parent does not depend on waitpid (the caller may
 * reap children itself or ignore SIGCHLD). */
static void child(struct ub_ctx *ub, const char *path, int errfd, int stfd)
{
	if (errfd != 2) {
		dup2(errfd, 2);
		close(errfd);
	}
	ms_dns_ub_log_child();
	/* A fresh stream on fd 2: the inherited one's lock may be held by a
	 * thread that does not exist in this process. */
	FILE *f = fdopen(2, "w");
	if (f) {
		setvbuf(f, NULL, _IONBF, 0);
		stderr = f;
	}
	char st = ub_ctx_config(ub, path) == 0 ? '0' : '1';
	ssize_t w = write(stfd, &st, 1);
	(void)w;
	_exit(0);
}

static int64_t ms_left(uint64_t deadline_ns)
{
	uint64_t now = ms_monotonic_ns();
	return now >= deadline_ns ? 0 : (int64_t)((deadline_ns - now) / 1000000u) + 1;
}

/*
 * Read the child's stderr until its status byte has arrived and its stderr
 * is drained (the child writes the status last), or both pipes closed, or
 * the deadline.  Not waiting for EOF alone: a process another thread forks
 * meanwhile may hold copies of the write ends.
 */
static int collect(int errfd, int stfd, char *out, size_t outlen, char *status)
{
	size_t len = 0;
	uint64_t deadline = ms_monotonic_ns() + (uint64_t)CHECK_DEADLINE_MS * 1000000u;
	struct pollfd p[2] = { { errfd, POLLIN, 0 }, { stfd, POLLIN, 0 } };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int64_t left = *status ? 0 : ms_left(deadline);
		if (left == 0 && !*status)
			return -1;
		int n = poll(p, 2, (int)left);
		if (n == 0 && *status)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			char buf[512];
			ssize_t k = read(p[i].fd, buf, sizeof(buf));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				p[i].fd = -1;
				continue;
			}
			if (i == 1) {
				*status = buf[0];
			} else if (len + 1 < outlen) {
				size_t take = (size_t)k < outlen - 1 - len ? (size_t)k : outlen - 1 - len;
				memcpy(out + len, buf, take);
				len += take;
			}
		}
	}
	out[len] = '\0';
	return 0;
}

/* 1: parsed cleanly, 0: errors (in `out`), -1: the check could not run. */
static int check_in_child(struct ub_ctx *ub, const char *path, char *out, size_t outlen)
{
	int errp[2], stp[2];
	if (pipe2(errp, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(stp, O_CLOEXEC) != 0) {
		close(errp[0]);
		close(errp[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(errp[0]);
		close(stp[0]);
		child(ub, path, errp[1], stp[1]);
	}
	close(errp[1]);
	close(stp[1]);
	char status = 0;
	int rc = pid < 0 ? -1 : collect(errp[0], stp[0], out, outlen, &status);
	close(errp[0]);
	close(stp[0]);
	if (pid > 0) {
		if (rc != 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (rc != 0 || (status != '0' && status != '1'))
		return -1;
	return status == '0';
}

/* Every line of the child's output to the log; the first one into `first`. */
static void report(struct ms_dns_ctx *ctx, char *text, char *first, size_t firstlen)
{
	first[0] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (first[0] == '\0')
			snprintf(first, firstlen, "%s", line);
		ms_dns_ub_log_line(ctx, MS_LOG_WARNING, 0, line);
	}
}

ms_status ms_dns_conf_load(struct ms_dns_ctx *ctx, const char *path, char *why, size_t whylen)
{
	pthread_mutex_lock(&ms_dns_ub_global_lock);
	char out[CHECK_OUTPUT_MAX];
	int ok = check_in_child(ctx->ub, path, out, sizeof(out));
	if (ok == 0) {
		pthread_mutex_unlock(&ms_dns_ub_global_lock);
		char first[512];
		report(ctx, out, first, sizeof(first));
		/* "PATH:LINE: error: ..." for the file itself reads "line LINE: ...". */
		size_t plen = strlen(path);
		if (strncmp(first, path, plen) == 0 && first[plen] == ':')
			return ms_why(why, whylen, MS_ERR_CONFIG, "resolver configuration %s: line %s",
				      path, first + plen + 1);
		return ms_why(why, whylen, MS_ERR_CONFIG, "resolver configuration %s: %s", path,
			      first[0] ? first : "syntax error");
	}
	if (ok < 0)
		ms_log(&ctx->env, MS_LOG_WARNING, "dns",
		       "could not check the resolver configuration in a child process; "
		       "parsing it here", NULL, 0);
	int rc = ub_ctx_config(ctx->ub, path);
	pthread_mutex_unlock(&ms_dns_ub_global_lock);
	if (rc != 0)
		return ms_why(why, whylen, MS_ERR_CONFIG, "resolver configuration %s: %s", path,
			      ub_strerror(rc));
	return MS_OK;
}
