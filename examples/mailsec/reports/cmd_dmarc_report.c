/*
 * cmd_dmarc_report.c - `mailsec dmarc-report record|report|send|parse`
 * (usage: the table below): thin wrappers of libreports's DMARC aggregate
 * reports (mailsec/dmarc_report.h).  Every decision (what is a row, which
 * destination is authorised, the size limit, the default period: the UTC
 * day before --now) is the library's.
 */
#include "cli.h"

#include <mailsec/auth.h>
#include <mailsec/dmarc_report.h>
#include <mailsec/requiretls_deliver.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUA 16

struct args {
	const char *db, *domain, *org, *email, *from, *receiver, *out, *file, *ca_file;
	const char *ip, *helo, *sender;
	const char *rua[MAX_RUA];
	size_t nrua;
	long long begin, end, port;
	int no_policy;
	struct ms_dmarcrep_store *store;
};

/* The options every verb takes, FILE, and the store (--db; not for
 * parse): -1 to go on, else the exit code. */
static int open_args(struct cli *cli, int argc, char **argv, struct args *a, int need_db)
{
	const char *p[1];
	struct cli_list pos = CLI_LIST_OF(p), rl = CLI_LIST_OF(a->rua);
	const struct cli_opt opts[] = {
		OPT_STR("--db", &a->db), OPT_STR("--domain", &a->domain),
		OPT_STR("--org-name", &a->org), OPT_STR("--email", &a->email),
		OPT_STR("--from", &a->from), OPT_STR("--receiver", &a->receiver),
		OPT_STR("--out", &a->out), OPT_STR("--ca-file", &a->ca_file),
		OPT_STR("--ip", &a->ip), OPT_STR("--helo", &a->helo),
		OPT_STR("--sender", &a->sender), OPT_FLAG("--no-policy", &a->no_policy),
		OPT_NUM("--begin", &a->begin, 0, INT64_MAX), OPT_NUM("--end", &a->end, 0, INT64_MAX),
		OPT_NUM("--port", &a->port, 0, 65535), OPT_LIST("--rua", &rl), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0)
		return rc;
	a->file = pos.n ? p[0] : NULL;
	a->nrua = rl.n;
	if (!need_db)
		return -1;
	if (a->db == NULL)
		return cli_usage_error(cli, "%s: --db FILE needed", cli->path);
	char why[300] = "";
	if (ms_dmarcrep_store_open(&cli->env, NULL, a->db, &a->store, why, sizeof(why)) != MS_OK)
		return cli_error(cli, CLI_EXIT_USAGE, "dmarc-report: %s", why);
	return -1;
}

static int do_record(struct cli *cli, int argc, char **argv)
{
	struct args a0 = { 0 }, *a = &a0;
	int rc = open_args(cli, argc, argv, a, 1);
	if (rc >= 0)
		return rc;
	struct ms_dmarcrep_store *store = a->store;
	size_t len = 0;
	uint8_t *msg = NULL;
	if (!a->ip || !a->helo || !a->sender)
		rc = cli_usage_error(cli, "dmarc-report record: --ip, --helo and --sender needed");
	else if ((msg = cli_read_file(a->file ? a->file : "-", 64u << 20, &len)) == NULL)
		rc = cli_error(cli, CLI_EXIT_USAGE, "dmarc-report: cannot read the message");
	if (msg == NULL) {
		ms_dmarcrep_store_free(store);
		return rc;
	}
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = cli_dns_ctx(cli),
				  .authserv_id = "localhost", .client_ip = a->ip, .helo = a->helo,
				  .mail_from = a->sender,
				  .flags = a->no_policy ? 0 : MS_AUTH_APPLY_POLICY };
	char why[300] = "";
	struct ms_auth *au = NULL;
	struct ms_dmarcrep_recorder *rec = NULL;
	int recorded = 0;
	rc = CLI_EXIT_ERROR;
	if (o.dns == NULL) {
		free(msg);
		ms_dmarcrep_store_free(store);
		return CLI_EXIT_USAGE;
	}
	if (ms_auth_run(&cli->env, &o, msg, len, &au, why, sizeof(why)) == MS_OK &&
	    ms_dmarcrep_recorder_new(&cli->env, store, 1, &rec, why, sizeof(why)) == MS_OK &&
	    ms_dmarcrep_record_auth(rec, au, cli_now(cli), &recorded, why, sizeof(why)) == MS_OK &&
	    ms_dmarcrep_flush(rec, why, sizeof(why)) == MS_OK) {
		rc = CLI_EXIT_OK;
		printf(cli->json ? "{\"recorded\":%s,\"dmarc\":\"%s\",\"disposition\":\"%s\"}\n"
				 : "recorded: %s (dmarc=%s, disposition %s)\n",
		       recorded ? (cli->json ? "true" : "yes") : (cli->json ? "false" : "no"),
		       ms_dmarc_result_str(ms_auth_dmarc_result(au)),
		       ms_auth_disposition_str(ms_auth_disposition(au)));
	} else {
		cli_error(cli, CLI_EXIT_ERROR, "dmarc-report record: %s", why);
	}
	ms_dmarcrep_recorder_free(rec);
	ms_auth_free(au);
	ms_dns_ctx_free(o.dns);
	ms_dmarcrep_store_free(store);
	free(msg);
	return rc;
}

static int do_parse(struct cli *cli, int argc, char **argv)
{
	struct args a = { 0 };
	int rc = open_args(cli, argc, argv, &a, 0);
	if (rc >= 0)
		return rc;
	size_t len = 0;
	uint8_t *buf = a.file ? cli_read_file(a.file, 64u << 20, &len) : NULL;
	if (buf == NULL)
		return cli_usage_error(cli, "dmarc-report parse: FILE needed (readable, <= 64 MiB)");
	struct ms_dmarcrep_report *r = NULL;
	char why[300] = "", *text = NULL;
	ms_status st = ms_dmarcrep_parse(&cli->env, buf, len, 0, &r, why, sizeof(why));
	free(buf);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_FAIL, "dmarc-report parse: %s", why);
	st = cli->json ? ms_dmarcrep_report_json(r, &text, why, sizeof(why))
		       : ms_dmarcrep_report_text(r, &text, why, sizeof(why));
	if (st == MS_OK)
		printf("%s%s", text, cli->json ? "\n" : "");
	ms_render_free(text);
	ms_dmarcrep_report_free(r);
	return st == MS_OK ? CLI_EXIT_OK : cli_fail(cli, st, "dmarc-report parse", why);
}

/* report and send: the report of --domain for the period from the store. */
static int build(struct cli *cli, int argc, char **argv, struct args *a,
		 struct ms_dmarcrep_report **r)
{
	int rc = open_args(cli, argc, argv, a, 1);
	if (rc >= 0)
		return rc;
	struct ms_dmarcrep_store *store = a->store;
	if (!a->domain || !a->org || !a->email) {
		ms_dmarcrep_store_free(store);
		return cli_usage_error(cli, "dmarc-report: --domain, --org-name and --email needed");
	}
	struct ms_dmarcrep_meta m = { .version = MS_DMARCREP_META_VERSION };
	if (a->begin == 0 && a->end == 0)
		ms_dmarcrep_default_period(cli_now(cli), &m.begin, &m.end);
	else
		m.begin = a->begin, m.end = a->end;
	snprintf(m.org_name, sizeof(m.org_name), "%s", a->org);
	snprintf(m.email, sizeof(m.email), "%s", a->email);
	snprintf(m.domain, sizeof(m.domain), "%s", a->domain);
	char why[300] = "";
	ms_status st = ms_dmarcrep_report_from_store(&cli->env, store, &m, r, why, sizeof(why));
	ms_dmarcrep_store_free(store);
	return st == MS_OK ? -1 : cli_error(cli, CLI_EXIT_ERROR, "dmarc-report: %s", why);
}

static int do_report(struct cli *cli, int argc, char **argv)
{
	struct args a0 = { 0 }, *a = &a0;
	struct ms_dmarcrep_report *r = NULL;
	int rc = build(cli, argc, argv, a, &r);
	if (rc >= 0)
		return rc;
	uint8_t *xml = NULL, *gz = NULL;
	size_t len = 0, glen = 0;
	char why[300] = "";
	int gzip = a->out && strlen(a->out) > 3 && strcmp(a->out + strlen(a->out) - 3, ".gz") == 0;
	if (ms_dmarcrep_report_xml(r, &xml, &len, why, sizeof(why)) != MS_OK ||
	    (gzip && ms_dmarcrep_gzip(xml, len, &gz, &glen, why, sizeof(why)) != MS_OK)) {
		ms_dmarcrep_buf_free(xml);
		ms_dmarcrep_report_free(r);
		return cli_error(cli, CLI_EXIT_ERROR, "dmarc-report report: %s", why);
	}
	FILE *f = a->out ? fopen(a->out, "wb") : stdout;
	int ok = f && fwrite(gz ? gz : xml, 1, gz ? glen : len, f) == (gz ? glen : len);
	if (f && f != stdout)
		ok &= fclose(f) == 0;
	if (a->out && ok)
		printf("%s: %zu row(s), %llu message(s)\n", a->out, ms_dmarcrep_report_row_count(r),
		       (unsigned long long)ms_dmarcrep_report_messages(r));
	ms_dmarcrep_buf_free(xml);
	ms_dmarcrep_buf_free(gz);
	ms_dmarcrep_report_free(r);
	return ok ? CLI_EXIT_OK : cli_error(cli, CLI_EXIT_ERROR, "dmarc-report: cannot write");
}

static int do_send(struct cli *cli, int argc, char **argv)
{
	struct args a0 = { 0 }, *a = &a0;
	struct ms_dmarcrep_report *r = NULL;
	int rc = build(cli, argc, argv, a, &r);
	if (rc >= 0)
		return rc;
	if (!a->from || !a->receiver || ms_dmarcrep_report_row_count(r) == 0) {
		rc = a->from && a->receiver ? CLI_EXIT_OK :
		     cli_usage_error(cli, "dmarc-report send: --from and --receiver needed");
		if (rc == CLI_EXIT_OK)
			printf("nothing to send: no rows for %s in the period\n", a->domain);
		ms_dmarcrep_report_free(r);
		return rc;
	}
	struct ms_rtls_send_opts so = { .version = MS_RTLS_SEND_OPTS_VERSION };
	so.deliver.version = MS_RTLS_DELIVER_OPTS_VERSION;
	so.deliver.port = (uint16_t)a->port;
	so.deliver.ca_file = a->ca_file;
	so.deliver.helo = a->receiver;
	so.deliver.timeout_ms = cli->timeout_ms ? cli->timeout_ms : 30000;
	struct ms_dmarcrep_send_opts o = { .version = MS_DMARCREP_SEND_OPTS_VERSION,
					   .dns = cli_dns_ctx(cli), .from = a->from,
					   .receiver = a->receiver, .send = &so,
					   .rua = a->nrua ? a->rua : NULL, .nrua = a->nrua,
					   .now = cli->now };
	if (o.dns == NULL) {
		ms_dmarcrep_report_free(r);
		return CLI_EXIT_USAGE;
	}
	struct ms_dmarcrep_dest d[MAX_RUA];
	size_t nd = 0;
	char why[300] = "";
	ms_status st = ms_dmarcrep_send(&cli->env, r, &o, d, MAX_RUA, &nd, why, sizeof(why));
	for (size_t i = 0; i < nd; i++)
		printf("%s %s (%zu bytes): %s\n", d[i].uri, ms_dmarcrep_dest_status_str(d[i].status),
		       d[i].size, d[i].detail);
	ms_dns_ctx_free(o.dns);
	ms_dmarcrep_report_free(r);
	if (st != MS_OK)
		return cli_error(cli, st == MS_ERR_NETWORK ? CLI_EXIT_FAIL : CLI_EXIT_ERROR,
				 "dmarc-report send: %s", why);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_dmarc_report_cmds[] = {
	{ "record", do_record, "--db FILE --ip IP --helo NAME --sender ADDR [--no-policy] [FILE]",
	  "record the verdict of a message", NULL },
	{ "report", do_report, "--db FILE --domain D --org-name N --email E [--begin T --end T] "
	  "[--out FILE]", "the aggregate report of a period (XML; .gz: gzip)", NULL },
	{ "send", do_send, "--db FILE --domain D --org-name N --email E --from ADDR --receiver "
	  "DOMAIN [--begin T --end T] [--port N] [--ca-file F] [--rua URI]...",
	  "mail the report to its verified rua destinations", NULL },
	{ "parse", do_parse, "FILE", "read a received report (XML, gzip or zip)", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};
