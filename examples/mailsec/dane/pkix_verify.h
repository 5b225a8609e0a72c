/*
 * pkix_verify.h - WebPKI validation of a chain an SMTP server sent, for the
 * MTA-STS certificate rule (RFC 8461 s4.2): the chain must lead to a CA of
 * the store and the leaf must name the MX host.  Shared by `mailsec check`
 * and `mailsec send`.
 */
#ifndef MAILSEC_CLI_PKIX_VERIFY_H
#define MAILSEC_CLI_PKIX_VERIFY_H

#include "cli.h"

#include <mailsec/dane.h>

/* 1 valid, 0 not; `detail` says why (or "valid for HOST").  `ca_file` NULL:
 * the system store.  Validity dates are checked at cli_now(). */
int cli_pkix_verify(const struct cli *cli, const char *ca_file, const char *host,
		    const struct ms_dane_cert *chain, size_t n,
		    char *detail, size_t len);

#endif
