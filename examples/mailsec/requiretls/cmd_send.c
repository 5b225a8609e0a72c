/*
 * cmd_send.c - `mailsec send --from ADDR --to ADDR [--to ADDR ...]
 *   [--requiretls] [--tls-required-no] [--auto-requiretls] [--port N]
 *   [--ca-file F] [--connect-to H:P:A:P] [--cache FILE] [--helo NAME]
 *   [--memory FILE] [--memory-max-age SECONDS] FILE`
 *
 * A minimal outbound client, an example of the libraries together, not a
 * queue: librequiretls's ms_rtls_send does the work (route per recipient
 * domain, hosts in MX order, the engine's verdicts, the memory); this file
 * only parses options and send_report.c prints.  Exit 0 when every
 * recipient was delivered, 1 when one was not, 2 usage, 3 internal.
 */
#include "send.h"

#include <openssl/err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

ms_rtls_attempt_observer_fn send_observer;
void *send_observer_arg;

#define MAX_MESSAGE (10u * 1024 * 1024)
/* A month: older memory records do not raise the requirement. */
#define DEFAULT_MEMORY_MAX_AGE (30 * 86400)

int cmd_send(struct cli *cli, int argc, char **argv)
{
	static const char usage[] =
		"usage: mailsec send --from ADDR --to ADDR [--to ADDR ...] [--requiretls] "
		"[--tls-required-no] [--auto-requiretls] [--port N] [--ca-file F] "
		"[--connect-to H:P:A:P] [--cache FILE] [--helo NAME] [--memory FILE] "
		"[--memory-max-age SECONDS] FILE";
	const char *from = NULL, *helo = "mailsec-send.invalid", *file = NULL, *port = NULL,
		   *memory = NULL, *max_age = NULL;
	int auto_rtls = 0;
	struct route_opts ro = { 0 };
	const char **to = calloc((size_t)argc + 1, sizeof(*to));
	size_t nto = 0;
	if (to == NULL)
		return cli_error(cli, CLI_EXIT_ERROR, "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = strcmp(a, "--from") == 0 ? &from :
				   strcmp(a, "--helo") == 0 ? &helo :
				   strcmp(a, "--port") == 0 ? &port :
				   strcmp(a, "--memory") == 0 ? &memory :
				   strcmp(a, "--memory-max-age") == 0 ? &max_age : NULL;
		int took = route_opts_arg(&ro, a, v);
		if (took) {
			i += took - 1;
		} else if (strcmp(a, "--to") == 0 && v) {
			/* repeatable: every --to is a recipient */
			to[nto++] = v;
			i++;
		} else if (strcmp(a, "--auto-requiretls") == 0) {
			auto_rtls = 1;
		} else if (dst && v) {
			*dst = v;
			i++;
		} else if ((a[0] != '-' || strcmp(a, "-") == 0) && file == NULL) {
			file = a;
		} else {
			free(to);
			return cli_usage_error(cli, "%s", usage);
		}
	}
	int rc = CLI_EXIT_USAGE;
	uint8_t *msg = NULL;
	struct ms_rtls_store *mem = NULL;
	struct route_ctx rctx = { 0 };
	struct ms_rtls_send *send = NULL;
	char why[256] = "";
	if (from == NULL || nto == 0 || file == NULL) {
		rc = cli_usage_error(cli, "%s", usage);
		goto out;
	}
	if (ro.requiretls && ro.tls_required_no) {
		rc = cli_usage_error(cli, "--requiretls and --tls-required-no exclude each other");
		goto out;
	}
	if (auto_rtls && memory == NULL) {
		rc = cli_usage_error(cli, "--auto-requiretls needs --memory FILE");
		goto out;
	}
	struct ms_rtls_send_opts so = { .version = MS_RTLS_SEND_OPTS_VERSION,
					.auto_requiretls = auto_rtls,
					.memory_max_age = DEFAULT_MEMORY_MAX_AGE };
	if (max_age) {
		char *end;
		long long v = strtoll(max_age, &end, 10);
		if (*end || v < 0) {
			rc = cli_usage_error(cli, "bad --memory-max-age '%s'", max_age);
			goto out;
		}
		so.memory_max_age = v;
	}
	struct ms_rtls_deliver_opts *d = &so.deliver;
	d->version = MS_RTLS_DELIVER_OPTS_VERSION;
	d->helo = helo;
	d->port = 25;
	d->ca_file = ro.ca_file;
	d->now = cli_now(cli);
	d->timeout_ms = cli->timeout_ms ? cli->timeout_ms : 30000;
	d->observer = send_observer;
	d->observer_arg = send_observer_arg;
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (*end || p < 1 || p > 65535) {
			rc = cli_usage_error(cli, "bad --port '%s'", port);
			goto out;
		}
		d->port = (uint16_t)p;
	}
	struct ms_rtls_route_opts rto = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					  .max_mx = ROUTE_MAX_MX };
	so.route = &rto;
	size_t msglen = 0;
	msg = cli_read_file(file, MAX_MESSAGE, &msglen);
	if (msg == NULL) {
		rc = cli_usage_error(cli, "cannot read %s (or larger than %u bytes)", file,
				     MAX_MESSAGE);
		goto out;
	}
	/* The message requirement: the option, or the message's own
	 * TLS-Required: No header (RFC 8689 s3), which REQUIRETLS overrides. */
	enum ms_rtls_tlsreq hdr = ms_rtls_tlsreq_scan(msg, msglen, ro.requiretls);
	enum ms_rtls_requirement requirement =
		ro.tls_required_no ? MS_RTLS_REQ_NOT_REQUIRED
				   : ms_rtls_requirement_of(ro.requiretls, hdr);
	if (memory && ms_rtls_store_open_sqlite(&cli->env, memory, &mem, why, sizeof(why)) != MS_OK) {
		rc = cli_usage_error(cli, "--memory %s: %s", memory, why);
		goto out;
	}
	d->memory = mem;
	struct ms_rtls_envelope env_msg = { .from = from, .rcpt = to, .nrcpt = nto,
					    .msg = msg, .msglen = msglen };
	/* Addresses and domains are checked before any set-up: a bad one is
	 * a usage error.  The resolver is made afterwards (send_new does no
	 * lookups, but needs the handle). */
	rc = route_ctx_open(cli, &ro, &rctx);
	if (rc != CLI_EXIT_OK)
		goto out;
	ms_status st = ms_rtls_send_new(&cli->env, rctx.dns, rctx.sts, requirement, &env_msg, &so,
					&send, why, sizeof(why));
	if (st == MS_ERR_INVALID) {
		rc = cli_usage_error(cli, "%s", why);
		goto out;
	}
	if (st != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "send: %s", why);
		goto out;
	}
	/* OpenSSL writes with write(2): a peer closing mid-write must not
	 * kill the process (requiretls_smtp.h). */
	signal(SIGPIPE, SIG_IGN);
	if (ms_rtls_send_run(send, why, sizeof(why)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "send: %s", why);
		goto out;
	}
	struct send_report r = { .cli = cli, .from = from, .to = to, .nto = nto,
				 .asked = requirement, .header = hdr, .auto_requiretls = auto_rtls,
				 .send = send };
	send_report(&r);
	rc = ms_rtls_send_delivered(send) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	ms_rtls_send_free(send);
	route_ctx_close(&rctx);
	ms_rtls_store_free(mem);
	ERR_clear_error();
	free(msg);
	free(to);
	return rc;
}
