/* dkim_cli.h - what `mailsec dkim` and `mailsec auth` print alike. */
#ifndef MAILSEC_DKIM_CLI_H
#define MAILSEC_DKIM_CLI_H

#include "cli.h"

#include <mailsec/dkim.h>

/* Open a JSON object for signature s with its result, domain, selector,
 * algorithm, dnssec and reason (the caller closes it), or print the
 * human line "[LABEL: ]RESULT d= s= a= dnssec= [reason=]". */
void dkim_sig_out(struct cli_out *o, const struct ms_dkim_sig *s, const char *label);
/* Feed FILE (NULL or "-": stdin) to `feed` in chunks: CLI_EXIT_OK, or the
 * exit code after printing the reason. */
int dkim_stream(const struct cli *cli, const char *file,
		ms_status (*feed)(void *h, const uint8_t *buf, size_t len, char *why, size_t wl),
		void *h, char *why, size_t whylen);

#endif
