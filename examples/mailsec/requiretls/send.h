/*
 * send.h - `mailsec send`: one message to one recipient, host by host in
 * MX order, every step judged by librequiretls's engine.  deliver.c runs
 * one attempt on one host; cmd_send.c parses the options, loops over the
 * hosts, records the recipient domain's capabilities and reports.
 */
#ifndef MAILSEC_RTLS_SEND_H
#define MAILSEC_RTLS_SEND_H

#include "route_cli.h"

#include <openssl/ssl.h>

#include <mailsec/requiretls_store.h>

struct send {
	struct cli *cli;
	struct ms_rtls_route *route;
	const char *from, *to, *helo, *ca_file;
	uint16_t port;
	const uint8_t *msg;
	size_t msglen;
	SSL_CTX *tls;
};

struct attempt {
	const struct ms_rtls_route_host *host;
	char addr[64];               /* the address connected to ("" if none) */
	struct ms_rtls_observed o;
	int greeted;                 /* 220 greeting and EHLO answered */
	char tls[96];                /* protocol and cipher when TLS was up */
	char dane[300];              /* DANE check detail ("" when not run) */
	char pkix[300];              /* PKIX check detail ("" when not run) */
	char error[300];             /* the transport/protocol step that failed */
	struct ms_rtls_outcome out;  /* the engine's judgement */
	int delivered;               /* the final "." got a 2xx */
	int rejected;                /* the server refused MAIL/RCPT/DATA */
	char mail_params[128];       /* what MAIL FROM carried */
	char reply[300];             /* the server's last reply */
};

/*
 * One attempt on `h` (never skipped by its plan).  `plaintext`: the
 * reconnect without STARTTLS that the engine allows after a failed
 * handshake (RFC 8689 s4.2.2), with `prev` the TLS attempt's observations.
 * Sends MAIL/RCPT/DATA only when the engine says DELIVER.
 */
void attempt_run(struct send *s, const struct ms_rtls_route_host *h, int plaintext,
		 const struct ms_rtls_observed *prev, struct attempt *a);

#endif
