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
	const char *from = NULL, *helo = "mailsec-send.invalid", *memory = NULL, *p[1], *to[256];
	long long port = 25, max_age = DEFAULT_MEMORY_MAX_AGE;
	int auto_rtls = 0;
	struct route_opts ro = { 0 };
	struct cli_list pos = CLI_LIST_OF(p), tl = CLI_LIST_OF(to);
	const struct cli_opt opts[] = {
		ROUTE_OPTS(&ro), OPT_STR("--from", &from), OPT_LIST("--to", &tl),
		OPT_STR("--helo", &helo), OPT_NUM("--port", &port, 1, 65535),
		OPT_STR("--memory", &memory), OPT_NUM("--memory-max-age", &max_age, 0, INT64_MAX),
		OPT_FLAG("--auto-requiretls", &auto_rtls), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || from == NULL || tl.n == 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	if (ro.requiretls && ro.tls_required_no)
		return cli_usage_error(cli, "--requiretls and --tls-required-no exclude each other");
	if (auto_rtls && memory == NULL)
		return cli_usage_error(cli, "--auto-requiretls needs --memory FILE");
	uint8_t *msg = NULL;
	struct ms_rtls_store *mem = NULL;
	struct cli_sts rctx = { 0 };
	struct ms_rtls_send *send = NULL;
	char why[256] = "";
	struct ms_rtls_send_opts so = { .version = MS_RTLS_SEND_OPTS_VERSION,
					.auto_requiretls = auto_rtls, .memory_max_age = max_age };
	struct ms_rtls_deliver_opts *d = &so.deliver;
	d->version = MS_RTLS_DELIVER_OPTS_VERSION;
	d->helo = helo;
	d->port = (uint16_t)port;
	d->ca_file = ro.ca_file;
	d->now = cli_now(cli);
	d->timeout_ms = cli->timeout_ms ? cli->timeout_ms : 30000;
	/* `mailsec tlsrpt record`: the recorder observes every attempt */
	d->observer = send_observer;
	d->observer_arg = send_observer_arg;
	struct ms_rtls_route_opts rto = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					  .max_mx = ROUTE_MAX_MX };
	so.route = &rto;
	size_t msglen = 0;
	if ((msg = cli_read_file(p[0], MAX_MESSAGE, &msglen)) == NULL)
		return cli_usage_error(cli, "cannot read %s (or larger than %u bytes)", p[0],
				       MAX_MESSAGE);
	/* The message requirement: the option, or the message's own
	 * TLS-Required: No header (RFC 8689 s3), which REQUIRETLS overrides. */
	enum ms_rtls_tlsreq hdr = ms_rtls_tlsreq_scan(msg, msglen, ro.requiretls);
	enum ms_rtls_requirement requirement =
		ro.tls_required_no ? MS_RTLS_REQ_NOT_REQUIRED
				   : ms_rtls_requirement_of(ro.requiretls, hdr);
	struct ms_rtls_envelope env_msg = { .from = from, .rcpt = to, .nrcpt = tl.n,
					    .msg = msg, .msglen = msglen };
	if (memory && ms_rtls_store_open_sqlite(&cli->env, memory, &mem, why, sizeof(why)) != MS_OK) {
		rc = cli_usage_error(cli, "--memory %s: %s", memory, why);
		goto out;
	}
	d->memory = mem;
	/* Addresses and domains are checked before any lookup: a bad one is
	 * a usage error (send_new does no lookups, but needs the handles). */
	if ((rc = cli_sts_open(cli, ro.ca_file, ro.connect_to, ro.cache, 20000, &rctx)) != CLI_EXIT_OK)
		goto out;
	ms_status st = ms_rtls_send_new(&cli->env, rctx.dns, rctx.sts, requirement, &env_msg, &so,
					&send, why, sizeof(why));
	/* OpenSSL writes with write(2): a peer closing mid-write must not
	 * kill the process (requiretls_smtp.h). */
	signal(SIGPIPE, SIG_IGN);
	if (st == MS_OK)
		st = ms_rtls_send_run(send, why, sizeof(why));
	if (st != MS_OK) {
		rc = cli_fail(cli, st, "send", why);
		goto out;
	}
	struct send_report r = { .cli = cli, .from = from, .to = to, .nto = tl.n,
				 .header = hdr, .auto_requiretls = auto_rtls, .send = send };
	send_report(&r);
	rc = ms_rtls_send_delivered(send) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	ms_rtls_send_free(send);
	cli_sts_close(&rctx);
	ms_rtls_store_free(mem);
	ERR_clear_error();
	free(msg);
	return rc;
}
