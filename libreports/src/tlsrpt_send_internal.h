/* tlsrpt_send_internal.h - the two ways a report goes out (tlsrpt_post.c,
 * tlsrpt_send.c).  Not installed. */
#ifndef REPORTS_TLSRPT_SEND_INTERNAL_H
#define REPORTS_TLSRPT_SEND_INTERNAL_H

#include "mailsec/tlsrpt.h"

/* POST `rep` to the https: `uri`; the result sentence in `detail`. */
ms_status tlsrpt_post(struct ms_dns_ctx *dns, const char *uri, const struct ms_tlsrpt_report *rep,
		      const struct ms_tlsrpt_send_opts *o, char *detail, size_t dlen);

#endif
