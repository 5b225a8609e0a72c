/*
 * send.h - `mailsec send`: options in cmd_send.c, the delivery is
 * librequiretls's (ms_rtls_send_*, requiretls_deliver.h), the report
 * (human or JSON) in send_report.c.  No decision is taken here.
 */
#ifndef MAILSEC_RTLS_SEND_H
#define MAILSEC_RTLS_SEND_H

#include "route_cli.h"

#include <mailsec/requiretls_deliver.h>

struct send_report {
	struct cli *cli;
	const char *from;
	const char *const *to;
	size_t nto;
	enum ms_rtls_tlsreq header;      /* the message's TLS-Required */
	int auto_requiretls;             /* --auto-requiretls given */
	const struct ms_rtls_send *send;
};

/* Print the result of a finished send (JSON with --json). */
void send_report(const struct send_report *r);

/* `mailsec tlsrpt record` runs `send` with this attempt observer (the
 * TLSRPT recorder of libreports); NULL for a plain send. */
extern ms_rtls_attempt_observer_fn send_observer;
extern void *send_observer_arg;

#endif
