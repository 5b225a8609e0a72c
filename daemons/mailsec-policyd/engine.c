/* engine.c - see engine.h. */
#include "engine.h"

#include <stdio.h>
#include <string.h>


const char *policyd_reply_label(const char *reply)
{
	switch (reply[0]) {
	case 'O': return "ok";
	case 'N': return "notfound";
	case 'T': return "temp";
	default: return "perm";
	}
}

void policyd_answer_domain(const struct policyd_engine *e, const char *domain, char *reply,
			   size_t replylen)
{
	char why[256] = "";
	struct ms_rtls_route *r = NULL;
	ms_status st = ms_rtls_route_new(e->env, e->dns, e->sts, domain, MS_RTLS_REQ_DEFAULT, NULL,
					 &r, why, sizeof(why));
	if (st == MS_ERR_INVALID) {
		/* not a host name: nothing to look up, no policy of ours */
		snprintf(reply, replylen, "NOTFOUND ");
	} else if (st != MS_OK) {
		snprintf(reply, replylen, "TEMP %.200s", why); /* out of memory */
	} else {
		ms_rtls_route_postfix_policy(r, e->flags, NULL, reply, replylen);
	}
	struct ms_kv kv[2] = {{"domain", domain}, {"answer", reply}};
	policyd_logf(e->log, MS_LOG_DEBUG, kv, 2, "answered");
	ms_rtls_route_free(r);
}
