/* answer.h - the smtp_tls_policy_maps answer for one domain. */
#ifndef SOCKETMAP_ANSWER_H
#define SOCKETMAP_ANSWER_H

#include <stddef.h>

#include <mailsec/dns.h>
#include <mailsec/mtasts.h>

struct answer_ctx {
	struct ms_dns_ctx *dns;
	struct ms_sts *sts;
	int strict_testing;  /* answer testing-mode policies like enforce */
};

/* Write the socketmap reply ("OK dane", "OK secure match=...",
 * "NOTFOUND ", "TEMP ...") for `domain` into `out`. */
void answer_domain(const struct answer_ctx *a, const char *domain, char *out,
		   size_t outlen);

#endif
