/*
 * auto_requirement.c - raise a message's requirement to REQUIRETLS from the
 * recipient-domain memory.
 *
 * RFC 8689 s4.3 lets a sender choose REQUIRETLS where every next hop is
 * known to support it; mox pre-selects it that way.  Raising only ever
 * strengthens a message, so a memory that cannot be read leaves the
 * requirement as it was (the delivery goes on; `why` says so), and an
 * explicit TLS-Required: No is never overridden: the sender opted out.
 */
#include "mailsec/requiretls_store.h"
#include "rtls_internal.h"

ms_status ms_rtls_auto_requirement(struct ms_rtls_store *store, const char *account,
				   const char *const *domains, size_t n, int64_t max_age,
				   enum ms_rtls_requirement asked, int allow_raise,
				   enum ms_rtls_requirement *out, char *why, size_t whylen)
{
	if (out == NULL || (domains == NULL && n > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = asked;
	if (asked != MS_RTLS_REQ_DEFAULT || !allow_raise || store == NULL || n == 0)
		return MS_OK;
	int all = 0;
	char qwhy[200] = "";
	ms_status st = ms_rtls_store_query(store, account ? account : "", domains, n, max_age,
					   NULL, &all, qwhy, sizeof(qwhy));
	if (st != MS_OK) {
		/* not raised: the message keeps the requirement it asked for */
		ms_why(why, whylen, st, "recipient-domain memory not read (%s); requirement kept",
		       qwhy);
		return MS_OK;
	}
	if (all)
		*out = MS_RTLS_REQ_REQUIRED;
	return MS_OK;
}
