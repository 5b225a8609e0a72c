/*
 * server.h - mailsec-policyd's event loop: the listeners (unix and TCP),
 * every client connection in one epoll set, the bounded netstring reads
 * with their deadlines, and a pool of worker threads running the lookups.
 */
#ifndef POLICYD_SERVER_H
#define POLICYD_SERVER_H

#include "config.h"
#include "engine.h"

struct policyd_server;

/*
 * Bind the configured listeners (a stale unix socket file is replaced) and
 * start the workers.  *tcp_port gets the bound TCP port (for port 0).
 * Returns NULL with `why` on failure.
 */
struct policyd_server *policyd_server_new(const struct policyd_config *cfg,
					  const struct policyd_engine *engine, int *tcp_port,
					  char *why, size_t whylen);
/* Run until SIGTERM or SIGINT; returns 0 on a clean stop. */
int policyd_server_run(struct policyd_server *s);
/* Stop the workers, close everything, remove the unix socket file. */
void policyd_server_free(struct policyd_server *s);

#endif
