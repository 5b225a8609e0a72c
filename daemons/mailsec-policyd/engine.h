/*
 * engine.h - the lookup side of mailsec-policyd: a request payload in, the
 * socketmap reply out.  The decision is librequiretls's
 * (ms_rtls_route_new + ms_rtls_route_postfix_policy); this file only
 * frames it.  Thread-safe: the resolver and the MTA-STS handle are shared
 * by the worker threads.
 */
#ifndef POLICYD_ENGINE_H
#define POLICYD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/requiretls_route.h>

#include "log.h"

struct policyd_engine {
	const struct ms_env *env;
	struct policyd_log *log;
	struct ms_dns_ctx *dns;
	struct ms_sts *sts;        /* NULL: MTA-STS off */
	const char *map_name;
	unsigned flags;            /* MS_RTLS_POSTFIX_* */
};

/* Static label of a reply for metrics: "ok", "notfound", "temp", "perm". */
const char *policyd_reply_label(const char *reply);

/* The socketmap reply for one domain (a request's key, see request.h);
 * reply holds MS_RTLS_POSTFIX_REPLY_MAX bytes. */
void policyd_answer_domain(const struct policyd_engine *e, const char *domain, char *reply,
			   size_t replylen);

#endif
