/* helpers.h - test plumbing shared by the libmtasts tests: the loopback
 * policy host, the test world paths, an injected clock. */
#ifndef MTASTS_TEST_HELPERS_H
#define MTASTS_TEST_HELPERS_H

#include <stdint.h>
#include <sys/types.h>

struct policy_host {
	pid_t pid;
	int port;
	char connect_to[64];   /* "::127.0.0.1:PORT" for CURLOPT_CONNECT_TO */
};

/* Start tests/mtasts/policy_server.py on a kernel-chosen port; aborts the
 * test run if it cannot (a test that cannot set up must not pass). */
void policy_host_start(struct policy_host *h);
/* The same with another certificate of pki/mtasts ("policy-clientauth"). */
void policy_host_start_cert(struct policy_host *h, const char *cert);
void policy_host_stop(struct policy_host *h);

/* $MS_TEST_WORLD/rel, or $MS_SOURCE_ROOT/rel, in a static buffer. */
const char *world_path(const char *rel);
const char *source_path(const char *rel);
const char *build_path(const char *rel);

#endif
