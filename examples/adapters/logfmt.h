/*
 * logfmt.h - an ms_env log hook that writes logfmt lines to a FILE.
 *
 *   ts=2026-11-28T13:00:00Z level=debug subsystem=dns msg=lookup type=A ...
 *
 * An example adapter: mailsec libraries never depend on it; a caller sets
 * env.log = ms_logfmt_log and env.user = a struct ms_logfmt (or calls it
 * from its own hook).  Thread-safe: each line is written with one locked
 * stdio call sequence.
 */
#ifndef MAILSEC_EXAMPLE_LOGFMT_H
#define MAILSEC_EXAMPLE_LOGFMT_H

#include <stdio.h>

#include <mailsec/env.h>

struct ms_logfmt {
	FILE *out;
};

void ms_logfmt_log(void *logfmt, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv);

#endif
