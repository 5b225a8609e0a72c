/*
 * cmd_send.c - `mailsec send --from ADDR --to ADDR [--requiretls]
 *   [--tls-required-no] [--port N] [--ca-file F] [--connect-to H:P:A:P]
 *   [--cache FILE] [--helo NAME] [--memory FILE] FILE`
 *
 * A minimal outbound client, an example of the libraries together, not a
 * queue: look up MX, DANE and MTA-STS, plan with librequiretls, try the
 * hosts in MX order, and deliver or print the DSN the engine says would be
 * sent.  Exit 0 delivered, 1 not delivered, 2 usage, 3 internal.
 */
#include "send.h"

#include <openssl/err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (10u * 1024 * 1024)
#define MAX_ATTEMPTS (2 * ROUTE_MAX_MX)

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *buf = malloc(MAX_MESSAGE + 1);
	size_t n = buf ? fread(buf, 1, MAX_MESSAGE + 1, f) : 0;
	int bad = buf == NULL || ferror(f) || n > MAX_MESSAGE;
	if (f != stdin)
		fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Whether an address can stand in <...> of MAIL/RCPT without injecting
 * anything: printable ASCII, no brackets or spaces, one '@'. */
static int plain_address(const char *a, int allow_empty)
{
	if (*a == '\0')
		return allow_empty;
	const char *at = strchr(a, '@');
	if (at == NULL || strchr(at + 1, '@') || at == a || at[1] == '\0' || strlen(a) > 254)
		return 0;
	for (const char *p = a; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '<' || *p == '>')
			return 0;
	return 1;
}

static void record_memory(struct send *s, struct ms_rtls_store *mem, const char *domain,
			  const struct attempt *a)
{
	char why[256] = "";
	/* Only a connection that saw the first EHLO tells anything, and only
	 * a TLS one can show REQUIRETLS (RFC 8689 s4.2.1). */
	if (mem == NULL || !a->greeted || a->o.plaintext)
		return;
	if (ms_rtls_store_record(mem, s->from, domain, a->o.starttls_offered,
				 a->o.handshake == MS_RTLS_STEP_OK && a->o.requiretls_offered, why,
				 sizeof(why)) != MS_OK)
		fprintf(stderr, "mailsec send: --memory: %s\n", why);
}

static const char *step_str(enum ms_rtls_step st)
{
	return st == MS_RTLS_STEP_OK ? "ok" : st == MS_RTLS_STEP_FAILED ? "failed" : "not-done";
}

static void json_attempt(struct json *j, const struct attempt *a, const struct ms_rtls_plan *p)
{
	json_object_begin(j, NULL);
	json_string(j, "host", ms_rtls_route_host_name(a->host));
	json_string(j, "address", a->addr[0] ? a->addr : NULL);
	json_string(j, "mode", ms_rtls_mode_str(p->mode));
	json_bool(j, "plaintext_retry", a->o.plaintext);
	json_bool(j, "connected", a->o.connected);
	json_bool(j, "starttls", a->o.starttls_offered);
	json_string(j, "handshake", step_str(a->o.handshake));
	json_string(j, "tls", a->tls[0] ? a->tls : NULL);
	json_string(j, "dane", step_str(a->o.dane));
	json_string(j, "dane_detail", a->dane[0] ? a->dane : NULL);
	json_string(j, "pkix", step_str(a->o.pkix));
	json_string(j, "pkix_detail", a->pkix[0] ? a->pkix : NULL);
	json_bool(j, "requiretls_offered", a->o.requiretls_offered);
	json_string(j, "verdict", a->delivered ? "delivered" : ms_rtls_verdict_str(a->out.verdict));
	json_string(j, "reason", ms_rtls_reason_str(a->out.reason));
	json_string(j, "ignored", a->out.ignored ? ms_rtls_reason_str(a->out.ignored) : NULL);
	json_string(j, "status", a->out.enhanced[0] ? a->out.enhanced : NULL);
	json_string(j, "text", a->out.text[0] ? a->out.text : NULL);
	json_string(j, "mail_params", a->out.verdict == MS_RTLS_DELIVER ? a->mail_params : NULL);
	json_string(j, "reply", a->reply[0] ? a->reply : NULL);
	json_string(j, "error", a->error[0] ? a->error : NULL);
	json_object_end(j);
}

static void human_attempt(const struct attempt *a, const struct ms_rtls_plan *p)
{
	printf("%s [%s] mode %s%s:", ms_rtls_route_host_name(a->host), a->addr[0] ? a->addr : "-",
	       ms_rtls_mode_str(p->mode), a->o.plaintext ? " (plaintext retry)" : "");
	if (p->mode == MS_RTLS_MODE_SKIP) {
		printf(" skipped, %s %s\n", a->out.enhanced, a->out.text);
		return;
	}
	printf(" %s, STARTTLS %s, TLS %s", a->o.connected ? "connected" : "not connected",
	       a->o.starttls_offered ? "offered" : "not offered", a->tls[0] ? a->tls : "no");
	if (a->dane[0])
		printf(", DANE %s", a->dane);
	if (a->pkix[0])
		printf(", PKIX %s", a->pkix);
	if (a->o.handshake == MS_RTLS_STEP_OK)
		printf(", REQUIRETLS %s", a->o.requiretls_offered ? "offered" : "not offered");
	if (a->delivered)
		printf("\n  delivered: %s\n", a->reply);
	else
		printf("\n  %s%s%s%s%s\n", ms_rtls_verdict_str(a->out.verdict),
		       a->out.enhanced[0] ? " " : "", a->out.enhanced, a->out.text[0] ? " " : "",
		       a->out.text);
	if (a->out.ignored)
		printf("  TLS-Required: No let this through: %s\n", ms_rtls_reason_str(a->out.ignored));
	if (a->error[0])
		printf("  (%s)\n", a->error);
}

struct run {
	struct attempt attempts[MAX_ATTEMPTS];
	const struct ms_rtls_plan *plans[MAX_ATTEMPTS];
	size_t n;
	const struct attempt *delivered;
	struct ms_rtls_outcome final;
};

/* Try the hosts in MX order (RFC 5321 s5.1) as the engine says. */
static void deliver(struct send *s, struct ms_rtls_store *mem, enum ms_rtls_requirement req,
		    struct run *run)
{
	struct ms_rtls_outcome fails[MAX_ATTEMPTS];
	size_t nf = 0;
	const struct ms_rtls_route *r = s->route;
	for (size_t i = 0; i < ms_rtls_route_count(r) && run->n + 2 <= MAX_ATTEMPTS; i++) {
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
		const struct ms_rtls_plan *plan = ms_rtls_route_host_plan(h);
		struct attempt *a = &run->attempts[run->n];
		run->plans[run->n++] = plan;
		if (plan->mode == MS_RTLS_MODE_SKIP) {
			memset(a, 0, sizeof(*a));
			a->host = h;
			ms_rtls_outcome_from_plan(plan, &a->out);
			ms_rtls_outcome_count(&s->cli->env, req, &a->out);
			fails[nf++] = a->out;
			continue;
		}
		attempt_run(s, h, 0, NULL, a);
		ms_rtls_outcome_count(&s->cli->env, req, &a->out);
		record_memory(s, mem, ms_rtls_route_domain(r), a);
		if (a->out.verdict == MS_RTLS_RETRY_PLAINTEXT) {
			/* RFC 8689 s4.2.2: TLS-Required: No allows plaintext after
			 * a failed handshake, on the same host. */
			const struct ms_rtls_observed prev = a->o;
			a = &run->attempts[run->n];
			run->plans[run->n++] = plan;
			attempt_run(s, h, 1, &prev, a);
			ms_rtls_outcome_count(&s->cli->env, req, &a->out);
		}
		if (a->delivered) {
			run->delivered = a;
			return;
		}
		if (a->out.verdict == MS_RTLS_PERMFAIL) {
			/* The server refused the message for good: no other MX
			 * will think differently (RFC 5321 s4.2.1). */
			run->final = a->out;
			return;
		}
		if (a->out.verdict == MS_RTLS_DELIVER || a->out.verdict == MS_RTLS_RETRY_PLAINTEXT) {
			/* Cannot happen with a consistent engine; never treat it
			 * as delivered. */
			a->out.verdict = MS_RTLS_TRY_NEXT;
			a->out.temporary = 1;
			snprintf(a->out.enhanced, sizeof(a->out.enhanced), "4.3.0");
			snprintf(a->out.bounce_enhanced, sizeof(a->out.bounce_enhanced), "5.3.0");
			snprintf(a->out.text, sizeof(a->out.text), "delivery to %.100s failed: %.120s",
				 ms_rtls_route_host_name(h), a->error);
		}
		fails[nf++] = a->out;
	}
	if (nf == 0)
		ms_rtls_route_no_host_outcome(r, &run->final);
	else
		ms_rtls_conclude(fails, nf, &run->final);
}

static void report(struct send *s, enum ms_rtls_requirement req, enum ms_rtls_tlsreq hdr,
		   const struct run *run)
{
	const struct attempt *d = run->delivered;
	const struct ms_rtls_outcome *f = &run->final;
	/* RFC 3464 s2.3.3: a temporary failure gives a "delayed" DSN while
	 * the message stays queued; a permanent one a "failed" DSN. */
	const char *action = f->verdict == MS_RTLS_PERMFAIL ? "failed" : "delayed";
	if (s->cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_bool(&j, "delivered", d != NULL);
		json_string(&j, "domain", ms_rtls_route_domain(s->route));
		json_string(&j, "requirement", ms_rtls_requirement_str(req));
		json_string(&j, "tls_required_header", ms_rtls_tlsreq_str(hdr));
		json_string(&j, "host", d ? ms_rtls_route_host_name(d->host) : NULL);
		json_string(&j, "address", d ? d->addr : NULL);
		json_string(&j, "tls", d && d->tls[0] ? d->tls : NULL);
		json_bool(&j, "requiretls", d && d->out.mail_requiretls);
		json_string(&j, "mail_params", d ? d->mail_params : NULL);
		json_string(&j, "verdict", d ? "delivered" : ms_rtls_verdict_str(f->verdict));
		json_string(&j, "status", d ? "2.0.0" : f->enhanced);
		json_string(&j, "bounce_status", d ? NULL : f->bounce_enhanced);
		json_string(&j, "action", d ? NULL : action);
		json_string(&j, "dsn", d ? NULL : f->text);
		json_string(&j, "reply", d ? d->reply : NULL);
		json_array_begin(&j, "attempts");
		for (size_t i = 0; i < run->n; i++)
			json_attempt(&j, &run->attempts[i], run->plans[i]);
		json_array_end(&j);
		json_object_end(&j);
		json_finish(&j);
		return;
	}
	printf("mailsec send %s -> %s (requirement %s, TLS-Required header %s)\n", s->from, s->to,
	       ms_rtls_requirement_str(req), ms_rtls_tlsreq_str(hdr));
	for (size_t i = 0; i < run->n; i++)
		human_attempt(&run->attempts[i], run->plans[i]);
	if (d) {
		printf("delivered to %s [%s] %s%s%s\n", ms_rtls_route_host_name(d->host), d->addr,
		       d->tls[0] ? "over " : "in plaintext", d->tls,
		       d->out.mail_requiretls ? " with REQUIRETLS" : "");
		return;
	}
	printf("not delivered; the DSN that would be sent (RFC 3464):\n"
	       "  Final-Recipient: rfc822;%s\n  Action: %s\n  Status: %s\n"
	       "  Diagnostic-Code: smtp; %s\n",
	       s->to, action, f->verdict == MS_RTLS_PERMFAIL ? f->bounce_enhanced : f->enhanced,
	       f->text);
	if (f->verdict != MS_RTLS_PERMFAIL)
		printf("  (when the retries run out: Status %s)\n", f->bounce_enhanced);
}

int cmd_send(struct cli *cli, int argc, char **argv)
{
	static const char usage[] =
		"usage: mailsec send --from ADDR --to ADDR [--requiretls] [--tls-required-no] "
		"[--port N] [--ca-file F] [--connect-to H:P:A:P] [--cache FILE] [--helo NAME] "
		"[--memory FILE] FILE";
	struct send s;
	memset(&s, 0, sizeof(s));
	s.cli = cli;
	s.port = 25;
	s.helo = "mailsec-send.invalid";
	struct route_opts ro = { 0 };
	const char *file = NULL, *port = NULL, *memory = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = strcmp(a, "--from") == 0 ? &s.from :
				   strcmp(a, "--to") == 0 ? &s.to :
				   strcmp(a, "--helo") == 0 ? &s.helo :
				   strcmp(a, "--port") == 0 ? &port :
				   strcmp(a, "--memory") == 0 ? &memory : NULL;
		int took = route_opts_arg(&ro, a, v);
		if (took) {
			i += took - 1;
		} else if (dst && v) {
			*dst = v;
			i++;
		} else if ((a[0] != '-' || strcmp(a, "-") == 0) && file == NULL) {
			file = a;
		} else {
			return cli_usage_error(cli, "%s", usage);
		}
	}
	if (s.from == NULL || s.to == NULL || file == NULL)
		return cli_usage_error(cli, "%s", usage);
	int req = ro.requiretls, no = ro.tls_required_no;
	if (req && no)
		return cli_usage_error(cli, "--requiretls and --tls-required-no exclude each other");
	if (!plain_address(s.from, 1) || !plain_address(s.to, 0))
		return cli_usage_error(cli, "--from/--to: a plain ADDR@DOMAIN is needed");
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (*end || p < 1 || p > 65535)
			return cli_usage_error(cli, "bad --port '%s'", port);
		s.port = (uint16_t)p;
	}
	if (strlen(s.helo) > 255 || strpbrk(s.helo, " \r\n\t<>") || s.helo[0] == '\0')
		return cli_usage_error(cli, "bad --helo '%s'", s.helo);
	s.ca_file = ro.ca_file;
	uint8_t *msg = read_file(file, &s.msglen);
	if (msg == NULL)
		return cli_usage_error(cli, "cannot read %s (or larger than %u bytes)", file, MAX_MESSAGE);
	s.msg = msg;

	/* The message requirement: the option, or the message's own
	 * TLS-Required: No header (RFC 8689 s3), which REQUIRETLS overrides. */
	enum ms_rtls_tlsreq hdr = ms_rtls_tlsreq_scan(msg, s.msglen, req);
	enum ms_rtls_requirement requirement =
		no ? MS_RTLS_REQ_NOT_REQUIRED : ms_rtls_requirement_of(req, hdr);

	int rc = CLI_EXIT_ERROR;
	struct ms_rtls_store *mem = NULL;
	char why[256] = "";
	struct run *run = calloc(1, sizeof(*run));
	if (run == NULL)
		goto out;
	if (memory && ms_rtls_store_open_sqlite(&cli->env, memory, &mem, why, sizeof(why)) != MS_OK) {
		rc = cli_usage_error(cli, "--memory %s: %s", memory, why);
		goto out;
	}
	rc = route_open(cli, strchr(s.to, '@') + 1, &ro, requirement, &s.route);
	if (rc != CLI_EXIT_OK)
		goto out;
	s.tls = SSL_CTX_new(TLS_client_method());
	if (s.tls == NULL || SSL_CTX_set_min_proto_version(s.tls, TLS1_2_VERSION) != 1) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "TLS context set-up failed");
		goto out;
	}
	/* Verification is ours, after the handshake (ms_rtls_verify_peer). */
	SSL_CTX_set_verify(s.tls, SSL_VERIFY_NONE, NULL);
	signal(SIGPIPE, SIG_IGN);

	deliver(&s, mem, requirement, run);
	report(&s, requirement, hdr, run);
	rc = run->delivered ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	SSL_CTX_free(s.tls);
	ERR_clear_error();
	ms_rtls_route_free(s.route);
	ms_rtls_store_free(mem);
	free(run);
	free(msg);
	return rc;
}
