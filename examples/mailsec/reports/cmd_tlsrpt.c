/*
 * cmd_tlsrpt.c - `mailsec tlsrpt record|report|send|parse` (usage: the
 * table below): SMTP TLS reporting (RFC 8460), one libreports call per
 * verb.  Exit 0 done, 1 a destination did not take the report / not
 * delivered / not a report, 2 usage, 3 the work could not run.
 */
#include "../requiretls/route_cli.h"

#include <mailsec/dkim.h>
#include <mailsec/tlsrpt.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (12u * 1024 * 1024) /* a parsed report, before gunzip */
/* Options of report and send (cli_opt tables below). */
struct ropts {
	const char *db, *domain, *day, *org, *contact, *submitter, *out, *from, *helo, *https_to;
	const char *dkim_key, *dkim_selector, *dkim_domain, *ca_file, *connect_to, *cache;
	long long port;
};
#define REPORT_OPTS(o) OPT_STR("--db", &(o)->db), OPT_STR("--domain", &(o)->domain), \
	OPT_STR("--day", &(o)->day), OPT_STR("--org", &(o)->org), \
	OPT_STR("--contact", &(o)->contact), OPT_STR("--submitter", &(o)->submitter)

/* Parse, then build the report of --day (default: the UTC day of --now or
 * today, the library's); -1 to go on, else the exit code. */
static int build(struct cli *cli, int argc, char **argv, const struct cli_opt *opts,
		 struct ropts *o, int sending, struct ms_tlsrpt_store **st,
		 struct ms_tlsrpt_report **rep)
{
	char why[300] = "";
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc >= 0 || !o->db || !o->domain || !o->org || !o->contact || !o->submitter ||
	    (sending && !o->from))
		return rc >= 0 ? rc : cli_usage(cli);
	if (ms_tlsrpt_store_open(&cli->env, o->db, st, why, sizeof(why)) != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "--db %s: %s", o->db, why);
	struct ms_tlsrpt_report_opts ro = {
		.version = MS_TLSRPT_REPORT_OPTS_VERSION, .org_name = o->org, .contact = o->contact,
		.submitter = o->submitter, .day = o->day, .policy_domain = o->domain };
	ms_status s = ms_tlsrpt_report_build(&cli->env, *st, &ro, rep, why, sizeof(why));
	if (s == MS_OK && o->out)
		s = ms_tlsrpt_report_write(*rep, o->out, why, sizeof(why));
	return s == MS_OK ? -1 : s == MS_ERR_INVALID ? cli_usage_error(cli, "%s", why)
		: cli_error(cli, CLI_EXIT_ERROR, "report: %s", why);
}

static int do_record(struct cli *cli, int argc, char **argv)
{
	/* --db is ours; the rest is `mailsec send`'s (its own table, --help) */
	const char *db = NULL;
	int n = 0;
	for (int i = 0; i < argc; i++)
		if (i > 0 && strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else
			argv[n++] = argv[i];
	char why[300] = "";
	struct ms_tlsrpt_store *st = NULL;
	struct ms_tlsrpt_recorder *rec = NULL;
	if (db == NULL)
		return cli_usage(cli);
	if (ms_tlsrpt_store_open(&cli->env, db, &st, why, sizeof(why)) != MS_OK ||
	    ms_tlsrpt_recorder_new(&cli->env, st, NULL, &rec, why, sizeof(why)) != MS_OK) {
		ms_tlsrpt_store_free(st);
		return cli_error(cli, CLI_EXIT_ERROR, "--db %s: %s", db, why);
	}
	send_observer = ms_tlsrpt_recorder_observe;
	send_observer_arg = rec;
	int rc = cmd_send(cli, n, argv);
	send_observer = NULL;
	if (ms_tlsrpt_recorder_flush(rec, why, sizeof(why)) != MS_OK)
		rc = cli_error(cli, CLI_EXIT_ERROR, "--db %s: %s", db, why);
	ms_tlsrpt_recorder_free(rec);
	ms_tlsrpt_store_free(st);
	return rc;
}

static int do_report(struct cli *cli, int argc, char **argv)
{
	struct ropts o = { 0 };
	const struct cli_opt opts[] = { REPORT_OPTS(&o), OPT_STR("--out", &o.out), OPT_END };
	struct ms_tlsrpt_store *st = NULL;
	struct ms_tlsrpt_report *rep = NULL;
	int rc = build(cli, argc, argv, opts, &o, 0, &st, &rep);
	if (rc < 0)
		printf("%s\n", rep->json);
	ms_tlsrpt_report_free(rep);
	ms_tlsrpt_store_free(st);
	return rc < 0 ? CLI_EXIT_OK : rc;
}

static int do_send(struct cli *cli, int argc, char **argv)
{
	struct ropts o = { 0 };
	const struct cli_opt opts[] = {
		REPORT_OPTS(&o), OPT_STR("--from", &o.from), OPT_NUM("--port", &o.port, 1, 65535),
		OPT_STR("--helo", &o.helo), OPT_STR("--https-connect-to", &o.https_to),
		OPT_STR("--dkim-key", &o.dkim_key), OPT_STR("--dkim-selector", &o.dkim_selector),
		OPT_STR("--dkim-domain", &o.dkim_domain), OPT_STR("--ca-file", &o.ca_file),
		OPT_STR("--connect-to", &o.connect_to), OPT_STR("--cache", &o.cache), OPT_END };
	struct ms_tlsrpt_store *st = NULL;
	struct ms_tlsrpt_report *rep = NULL;
	struct ms_dkim_key *key = NULL;
	struct cli_sts rctx = { 0 };
	struct ms_tlsrpt_send_result res;
	char why[300] = "", *text = NULL;
	uint8_t *pem = NULL;
	size_t len = 0;
	int rc = build(cli, argc, argv, opts, &o, 1, &st, &rep);
	if (rc < 0 && !!o.dkim_key != !!o.dkim_selector)
		rc = cli_usage_error(cli, "--dkim-key and --dkim-selector go together");
	if (rc < 0 && o.dkim_key && (pem = cli_read_file(o.dkim_key, 65536, &len)) == NULL)
		rc = cli_usage_error(cli, "cannot read --dkim-key %s", o.dkim_key);
	if (rc < 0 && pem && ms_dkim_key_load_pem(&cli->env, pem, len, &key, why, sizeof(why)) != MS_OK)
		rc = cli_usage_error(cli, "--dkim-key %s: %s", o.dkim_key, why);
	if (rc < 0)
		rc = cli_sts_open(cli, o.ca_file, o.connect_to, o.cache, 20000, &rctx);
	if (rc != CLI_EXIT_OK)
		goto out;
	struct ms_rtls_deliver_opts d = { .version = MS_RTLS_DELIVER_OPTS_VERSION,
					  .helo = o.helo ? o.helo : o.submitter,
					  .port = (uint16_t)o.port, .ca_file = o.ca_file, .now = cli_now(cli),
					  .timeout_ms = cli->timeout_ms ? cli->timeout_ms : 30000 };
	const char *at = strchr(o.from, '@');
	struct ms_tlsrpt_send_opts so = {
		.version = MS_TLSRPT_SEND_OPTS_VERSION, .ca_file = o.ca_file,
		.timeout_ms = cli->timeout_ms, .https_connect_to = o.https_to, .from = o.from,
		.deliver = &d, .dkim_key = key, .dkim_selector = o.dkim_selector, .now = cli_now(cli),
		.dkim_domain = o.dkim_domain ? o.dkim_domain : at ? at + 1 : o.submitter };
	signal(SIGPIPE, SIG_IGN);
	ms_status s = ms_tlsrpt_send(&cli->env, rctx.dns, rctx.sts, rep, &so, &res, why, sizeof(why));
	if (s == MS_ERR_TIMEOUT || s == MS_ERR_INVALID ||
	    (s != MS_OK && res.n == 0 && s != MS_ERR_STATE))
		rc = cli_error(cli, CLI_EXIT_ERROR, "%s", why);
	else if ((rc = cli_put(cli, ms_tlsrpt_send_render(rep, &res, why, cli_format(cli), &text,
							  NULL), &text, "send")) == CLI_EXIT_OK)
		rc = s == MS_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	cli_sts_close(&rctx);
	ms_tlsrpt_report_free(rep);
	ms_tlsrpt_store_free(st);
	ms_dkim_key_free(key);
	free(pem);
	return rc;
}

static int do_parse(struct cli *cli, int argc, char **argv)
{
	const char *f[1];
	struct cli_list pos = CLI_LIST_OF(f);
	const struct cli_opt opts[] = { OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	size_t len = 0;
	uint8_t *buf = cli_read_file(f[0], MAX_INPUT, &len);
	if (buf == NULL)
		return cli_usage_error(cli, "cannot read %s (or over %u bytes)", f[0], MAX_INPUT);
	struct ms_tlsrpt_parsed *p = NULL;
	char why[300] = "", *view = NULL;
	ms_status st = ms_tlsrpt_parse(&cli->env, buf, len, &p, why, sizeof(why));
	free(buf);
	if (st == MS_ERR_PARSE || st == MS_ERR_LIMIT)
		return cli_error(cli, CLI_EXIT_FAIL, "not a TLS report: %s", why);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "%s", why);
	st = ms_tlsrpt_parsed_render(p, cli_format(cli), &view, NULL);
	ms_tlsrpt_parsed_free(p);
	return cli_put(cli, st, &view, "parse");
}

const struct cli_cmd cli_tlsrpt_cmds[] = {
	{ "record", do_record, "--db FILE (mailsec send options) MESSAGE",
	  "mailsec send, every delivery attempt counted in the store", NULL },
	{ "report", do_report, "--db FILE --domain DOMAIN [--day YYYY-MM-DD] --org NAME "
	  "--contact URI --submitter HOST [--out DIR]",
	  "the RFC 8460 JSON report of one UTC day (gzip into DIR)", NULL },
	{ "send", do_send, "--db FILE --domain DOMAIN [--day YYYY-MM-DD] --org NAME "
	  "--contact URI --submitter HOST --from ADDR [--port N] [--helo NAME] [--ca-file F] "
	  "[--connect-to H:P:A:P] [--cache FILE] [--https-connect-to H:P:A:P] "
	  "[--dkim-key PEM --dkim-selector S [--dkim-domain D]]",
	  "the report to the domain's own _smtp._tls destinations; exit 0 all took it, 1 not",
	  NULL },
	{ "parse", do_parse, "FILE", "a received report (JSON, .json.gz or the report mail; "
	  "\"-\": stdin); exit 1 not a TLS report", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};
