/*
 * milter.h - mailsec-milter's process state and its libmilter callbacks.
 * One resolver context and one DKIM verifier (both thread-safe) serve
 * every libmilter thread; each connection has its own state.
 */
#ifndef MAILSEC_MILTER_MILTER_H
#define MAILSEC_MILTER_MILTER_H

#include <libmilter/mfapi.h>

#include <mailsec/dkim.h>
#include <mailsec/dkim_signtab.h>
#include <mailsec/dns.h>
#include <mailsec/env.h>

#include "config.h"

struct mm_global {
	struct mm_config cfg;
	struct ms_env env;                 /* logfmt to stderr */
	struct ms_dns_ctx *dns;            /* shared by every thread */
	struct ms_dkim_verifier *verifier; /* shared: its key cache is locked */
	struct ms_dkim_signtab *signtab;   /* read-only once built */
};

/* The process state the callbacks use (set before smfi_main). */
extern struct mm_global *mm_g;

/* The callbacks, flags and name for smfi_register. */
extern struct smfiDesc mm_desc;

/* Daemon log line (logfmt through the env hook): msg plus key/value pairs,
 * NULL-terminated (key, value, key, value, ..., NULL). */
void mm_log(enum ms_log_level level, const char *msg, ...);

/* Split ms_dkim_signer_headers output / ms_auth_header into the value
 * libmilter wants: the text after "Name:", CRLF turned into LF (the MTA
 * adds its own line ends), a leading space kept only when `leadspc` (the
 * MTA passes values verbatim, SMFIP_HDR_LEADSPC).  Returns a malloc'd
 * string or NULL. */
char *mm_header_value(const char *field, size_t len, int leadspc);

#endif
