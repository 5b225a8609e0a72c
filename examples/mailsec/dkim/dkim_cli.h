/* dkim_cli.h - what `mailsec dkim` and `mailsec auth` share: streaming a
 * message file into a library handle. */
#ifndef MAILSEC_DKIM_CLI_H
#define MAILSEC_DKIM_CLI_H

#include "cli.h"

#include <mailsec/dkim.h>

/* Feed FILE (NULL or "-": stdin) to `feed` in chunks: CLI_EXIT_OK, or the
 * exit code after printing the reason. */
int dkim_stream(const struct cli *cli, const char *file,
		ms_status (*feed)(void *h, const uint8_t *buf, size_t len, char *why, size_t wl),
		void *h, char *why, size_t whylen);

#endif
