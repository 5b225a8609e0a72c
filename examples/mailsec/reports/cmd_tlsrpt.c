/*
 * cmd_tlsrpt.c - `mailsec tlsrpt record | report | send | parse`: SMTP TLS
 * reporting (RFC 8460) with libreports (mailsec/tlsrpt.h).  Each
 * subcommand is one library call around option parsing:
 *   record --db F [send options] MESSAGE   `mailsec send` with the
 *        library's recorder as the delivery's attempt observer
 *   report --db F --domain D [--day YYYY-MM-DD] --org O --contact C
 *        --submitter HOST [--out DIR]      ms_tlsrpt_report_build: the
 *        RFC 8460 JSON on stdout, the .json.gz file into DIR
 *   send   (report's options) --from ADDR [--port N] [--helo H]
 *        [--ca-file F] [--connect-to E] [--cache F] [--https-connect-to E]
 *        [--dkim-key PEM --dkim-selector S [--dkim-domain D]]
 *                                          ms_tlsrpt_send to the domain's
 *        own _smtp._tls destinations (there is no option to name another)
 *   parse  FILE                            ms_tlsrpt_parse, table or --json
 * Exit codes: 0 done, 1 a destination did not take the report / the
 * message was not delivered / the input is not a report, 2 usage, 3 the
 * work could not run (store, DNS lookup failed).
 */
#include "../requiretls/send.h"

#include <mailsec/dkim.h>
#include <mailsec/tlsrpt.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INPUT (12u * 1024 * 1024)

/* Options of report and send (cli_opt tables below). */
struct ropts {
	const char *db, *domain, *day, *org, *contact, *submitter, *out;
	const char *from, *helo, *https_connect_to;
	const char *dkim_key, *dkim_selector, *dkim_domain;
	const char *ca_file, *connect_to, *cache;
	long long port;
};
#define REPORT_OPTS(o) OPT_STR("--db", &(o)->db), OPT_STR("--domain", &(o)->domain), \
	OPT_STR("--day", &(o)->day), OPT_STR("--org", &(o)->org), \
	OPT_STR("--contact", &(o)->contact), OPT_STR("--submitter", &(o)->submitter)

static int ropts_check(struct cli *cli, const struct ropts *o, int sending)
{
	if (!o->db || !o->domain || !o->org || !o->contact || !o->submitter || (sending && !o->from))
		return cli_usage(cli);
	return -1;
}

/* Build the report of --day (default: the UTC day of --now or today). */
static int build(struct cli *cli, const struct ropts *o, struct ms_tlsrpt_store **st,
		 struct ms_tlsrpt_report **rep)
{
	char why[300] = "", today[16];
	int64_t now = cli_now(cli);
	struct tm tm;
	time_t t = (time_t)now;
	gmtime_r(&t, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (ms_tlsrpt_store_open_sqlite(&cli->env, o->db, st, why, sizeof(why)) != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "--db %s: %s", o->db, why);
	struct ms_tlsrpt_report_opts ro = { .version = MS_TLSRPT_REPORT_OPTS_VERSION,
					    .org_name = o->org, .contact = o->contact,
					    .submitter = o->submitter,
					    .day = o->day ? o->day : today,
					    .policy_domain = o->domain };
	ms_status s = ms_tlsrpt_report_build(&cli->env, *st, &ro, rep, why, sizeof(why));
	if (s == MS_ERR_INVALID)
		return cli_usage_error(cli, "%s", why);
	if (s != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "report: %s", why);
	return CLI_EXIT_OK;
}

static int do_record(struct cli *cli, int argc, char **argv)
{
	/* --db is ours; everything else is `mailsec send`'s (cmd_send parses
	 * it with its own table, --help included). */
	const char *db = NULL;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0;
	if (rest == NULL)
		return cli_error(cli, CLI_EXIT_ERROR, "out of memory");
	rest[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else
			rest[n++] = argv[i];
	}
	if (db == NULL) {
		free(rest);
		return cli_usage(cli);
	}
	char why[300] = "";
	struct ms_tlsrpt_store *st = NULL;
	struct ms_tlsrpt_recorder *rec = NULL;
	if (ms_tlsrpt_store_open_sqlite(&cli->env, db, &st, why, sizeof(why)) != MS_OK ||
	    ms_tlsrpt_recorder_new(&cli->env, st, NULL, &rec, why, sizeof(why)) != MS_OK) {
		ms_tlsrpt_store_free(st);
		free(rest);
		return cli_error(cli, CLI_EXIT_ERROR, "--db %s: %s", db, why);
	}
	send_observer = ms_tlsrpt_recorder_observe;
	send_observer_arg = rec;
	int rc = cmd_send(cli, n, rest);
	send_observer = NULL;
	send_observer_arg = NULL;
	if (ms_tlsrpt_recorder_flush(rec, why, sizeof(why)) != MS_OK)
		rc = cli_error(cli, CLI_EXIT_ERROR, "--db %s: %s", db, why);
	ms_tlsrpt_recorder_free(rec);
	ms_tlsrpt_store_free(st);
	free(rest);
	return rc;
}

static int do_report(struct cli *cli, int argc, char **argv)
{
	struct ropts o = { 0 };
	const struct cli_opt opts[] = { REPORT_OPTS(&o), OPT_STR("--out", &o.out), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc < 0)
		rc = ropts_check(cli, &o, 0);
	if (rc >= 0)
		return rc;
	struct ms_tlsrpt_store *st = NULL;
	struct ms_tlsrpt_report *rep = NULL;
	rc = build(cli, &o, &st, &rep);
	if (rc == CLI_EXIT_OK && o.out) {
		size_t pl = strlen(o.out) + strlen(rep->filename) + 2;
		char *path = malloc(pl);
		FILE *f = path ? (snprintf(path, pl, "%s/%s", o.out, rep->filename), fopen(path, "wb"))
			       : NULL;
		if (f == NULL || fwrite(rep->gz, 1, rep->gz_len, f) != rep->gz_len)
			rc = cli_error(cli, CLI_EXIT_ERROR, "cannot write %s/%s", o.out, rep->filename);
		if (f && fclose(f) != 0)
			rc = cli_error(cli, CLI_EXIT_ERROR, "cannot write %s", path);
		free(path);
	}
	if (rc == CLI_EXIT_OK)
		printf("%s\n", rep->json);
	ms_tlsrpt_report_free(rep);
	ms_tlsrpt_store_free(st);
	return rc;
}

static struct ms_dkim_key *load_key(struct cli *cli, const char *path, int *rc)
{
	size_t len = 0;
	uint8_t *pem = cli_read_file(path, 65536, &len);
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	if (pem == NULL)
		*rc = cli_usage_error(cli, "cannot read --dkim-key %s", path);
	else if (ms_dkim_key_load_pem(&cli->env, pem, len, &k, why, sizeof(why)) != MS_OK)
		*rc = cli_usage_error(cli, "--dkim-key %s: %s", path, why);
	free(pem);
	return k;
}

static int do_send(struct cli *cli, int argc, char **argv)
{
	struct ropts o = { 0 };
	const struct cli_opt opts[] = {
		REPORT_OPTS(&o), OPT_STR("--from", &o.from), OPT_NUM("--port", &o.port, 1, 65535),
		OPT_STR("--helo", &o.helo), OPT_STR("--https-connect-to", &o.https_connect_to),
		OPT_STR("--dkim-key", &o.dkim_key), OPT_STR("--dkim-selector", &o.dkim_selector),
		OPT_STR("--dkim-domain", &o.dkim_domain), OPT_STR("--ca-file", &o.ca_file),
		OPT_STR("--connect-to", &o.connect_to), OPT_STR("--cache", &o.cache), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc < 0)
		rc = ropts_check(cli, &o, 1);
	if (rc >= 0)
		return rc;
	rc = CLI_EXIT_OK;
	if (!!o.dkim_key != !!o.dkim_selector)
		return cli_usage_error(cli, "--dkim-key and --dkim-selector go together");
	struct ms_rtls_deliver_opts d = { .version = MS_RTLS_DELIVER_OPTS_VERSION,
					  .helo = o.helo ? o.helo : o.submitter,
					  .port = (uint16_t)o.port, .ca_file = o.ca_file, .now = cli_now(cli),
					  .timeout_ms = cli->timeout_ms ? cli->timeout_ms : 30000 };
	struct ms_dkim_key *key = o.dkim_key ? load_key(cli, o.dkim_key, &rc) : NULL;
	if (rc != CLI_EXIT_OK)
		return rc;
	const char *at = strchr(o.from, '@');
	struct ms_tlsrpt_send_opts so = { .version = MS_TLSRPT_SEND_OPTS_VERSION,
					  .ca_file = o.ca_file,
					  .timeout_ms = cli->timeout_ms,
					  .https_connect_to = o.https_connect_to,
					  .from = o.from, .deliver = &d, .dkim_key = key,
					  .dkim_domain = o.dkim_domain ? o.dkim_domain
								       : at ? at + 1 : o.submitter,
					  .dkim_selector = o.dkim_selector,
					  .now = cli_now(cli) };
	struct ms_tlsrpt_store *st = NULL;
	struct ms_tlsrpt_report *rep = NULL;
	struct cli_sts rctx = { 0 };
	struct ms_tlsrpt_send_result res;
	char why[300] = "";
	rc = build(cli, &o, &st, &rep);
	if (rc == CLI_EXIT_OK)
		rc = cli_sts_open(cli, o.ca_file, o.connect_to, o.cache, 20000, &rctx);
	if (rc != CLI_EXIT_OK)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	ms_status s = ms_tlsrpt_send(&cli->env, rctx.dns, rctx.sts, rep, &so, &res, why, sizeof(why));
	if (s == MS_ERR_TIMEOUT || s == MS_ERR_INVALID || (s != MS_OK && res.n == 0 && s != MS_ERR_STATE)) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "%s", why);
		goto out;
	}
	rc = s == MS_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "domain", rep->policy_domain);
		json_string(&j, "report_id", rep->report_id);
		json_string(&j, "filename", rep->filename);
		json_int(&j, "sessions", (long long)rep->sessions);
		json_string(&j, "rua_note", res.rua_note[0] ? res.rua_note : NULL);
		json_array_begin(&j, "destinations");
		for (size_t i = 0; i < res.n; i++) {
			json_object_begin(&j, NULL);
			json_string(&j, "uri", res.dest[i].uri);
			json_bool(&j, "ok", res.dest[i].status == MS_OK);
			json_string(&j, "detail", res.dest[i].detail);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("report %s (%llu sessions) for %s\n", rep->filename,
		       (unsigned long long)rep->sessions, rep->policy_domain);
		if (res.n == 0)
			printf("  not sent: %s\n", why);
		for (size_t i = 0; i < res.n; i++)
			printf("  %-40s %s: %s\n", res.dest[i].uri,
			       res.dest[i].status == MS_OK ? "sent" : "FAILED", res.dest[i].detail);
	}
out:
	cli_sts_close(&rctx);
	ms_tlsrpt_report_free(rep);
	ms_tlsrpt_store_free(st);
	ms_dkim_key_free(key);
	return rc;
}

static int do_parse(struct cli *cli, int argc, char **argv)
{
	const char *f[1];
	struct cli_list pos = CLI_LIST_OF(f);
	const struct cli_opt opts[] = { OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc < 0 && pos.n != 1)
		rc = cli_usage(cli);
	if (rc >= 0)
		return rc;
	size_t len = 0;
	uint8_t *buf = cli_read_file(f[0], MAX_INPUT, &len);
	if (buf == NULL)
		return cli_usage_error(cli, "cannot read %s (or larger than %u bytes)", f[0],
				       MAX_INPUT);
	struct ms_tlsrpt_parsed *p = NULL;
	char why[300] = "", *view = NULL;
	ms_status st = ms_tlsrpt_parse(&cli->env, buf, len, &p, why, sizeof(why));
	free(buf);
	if (st == MS_ERR_PARSE || st == MS_ERR_LIMIT)
		return cli_error(cli, CLI_EXIT_FAIL, "not a TLS report: %s", why);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "%s", why);
	st = ms_tlsrpt_parsed_view(p, cli->json, &view);
	ms_tlsrpt_parsed_free(p);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "out of memory");
	fputs(view, stdout);
	if (view[0] && view[strlen(view) - 1] != '\n')
		fputc('\n', stdout);
	ms_tlsrpt_free(view);
	return CLI_EXIT_OK;
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
