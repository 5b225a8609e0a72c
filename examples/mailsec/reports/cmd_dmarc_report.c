/*
 * cmd_dmarc_report.c - `mailsec dmarc-report record|report|send|parse`:
 * thin wrappers of libreports's DMARC aggregate reports
 * (mailsec/dmarc_report.h).  Every decision (what is a row, which
 * destination is authorised, the size limit) is the library's.
 *   record --db FILE --ip IP --helo NAME --sender ADDR [--no-policy] [FILE]
 *   report --db FILE --domain D --org-name N --email E [--begin T --end T]
 *          [--out FILE]          (.gz: gzip; default: the XML on stdout)
 *   send   --db FILE --domain D --org-name N --email E --from ADDR
 *          --receiver DOMAIN [--begin T --end T] [--port N] [--ca-file F]
 *          [--rua URI]...
 *   parse  FILE                  (XML, gzip or zip)
 * The period defaults to the UTC day before --now.
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
	int64_t begin, end;
	unsigned port;
	int no_policy;
};

static int parse_args(struct cli *cli, int argc, char **argv, struct args *a)
{
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (o[0] != '-' || strcmp(o, "-") == 0) {
			if (a->file)
				return cli_usage_error(cli, "dmarc-report: one FILE only");
			a->file = o;
			continue;
		}
		if (strcmp(o, "--no-policy") == 0) {
			a->no_policy = 1;
			continue;
		}
		if (v == NULL)
			return cli_usage_error(cli, "dmarc-report: %s needs a value", o);
		i++;
		const char **s = strcmp(o, "--db") == 0 ? &a->db :
				 strcmp(o, "--domain") == 0 ? &a->domain :
				 strcmp(o, "--org-name") == 0 ? &a->org :
				 strcmp(o, "--email") == 0 ? &a->email :
				 strcmp(o, "--from") == 0 ? &a->from :
				 strcmp(o, "--receiver") == 0 ? &a->receiver :
				 strcmp(o, "--out") == 0 ? &a->out :
				 strcmp(o, "--ca-file") == 0 ? &a->ca_file :
				 strcmp(o, "--ip") == 0 ? &a->ip :
				 strcmp(o, "--helo") == 0 ? &a->helo :
				 strcmp(o, "--sender") == 0 ? &a->sender : NULL;
		if (s) {
			*s = v;
		} else if (strcmp(o, "--begin") == 0) {
			a->begin = strtoll(v, NULL, 10);
		} else if (strcmp(o, "--end") == 0) {
			a->end = strtoll(v, NULL, 10);
		} else if (strcmp(o, "--port") == 0) {
			a->port = (unsigned)strtoul(v, NULL, 10);
		} else if (strcmp(o, "--rua") == 0 && a->nrua < MAX_RUA) {
			a->rua[a->nrua++] = v;
		} else {
			return cli_usage_error(cli, "dmarc-report: unknown option '%s'", o);
		}
	}
	return 0;
}

static int record(struct cli *cli, struct args *a, struct ms_dmarcrep_store *store)
{
	if (!a->ip || !a->helo || !a->sender)
		return cli_usage_error(cli, "dmarc-report record: --ip, --helo and --sender needed");
	size_t len = 0;
	uint8_t *msg = cli_read_file(a->file ? a->file : "-", 64u << 20, &len);
	if (msg == NULL)
		return cli_error(cli, CLI_EXIT_USAGE, "dmarc-report: cannot read the message");
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = cli_dns_ctx(cli),
				  .authserv_id = "localhost", .client_ip = a->ip, .helo = a->helo,
				  .mail_from = a->sender,
				  .flags = a->no_policy ? 0 : MS_AUTH_APPLY_POLICY };
	char why[300] = "";
	struct ms_auth *au = NULL;
	struct ms_dmarcrep_recorder *rec = NULL;
	int recorded = 0, rc = CLI_EXIT_ERROR;
	if (o.dns == NULL) {
		free(msg);
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
	free(msg);
	return rc;
}

static void print_report(struct cli *cli, const struct ms_dmarcrep_report *r)
{
	char *json = NULL, why[200];
	if (cli->json && ms_dmarcrep_report_json(r, &json, why, sizeof(why)) == MS_OK) {
		printf("%s\n", json);
		ms_dmarcrep_buf_free(json);
		return;
	}
	const struct ms_dmarcrep_meta *m = ms_dmarcrep_report_meta(r);
	printf("org:      %s <%s>\nreport:   %s\nperiod:   %lld .. %lld\n"
	       "policy:   %s p=%s sp=%s adkim=%s aspf=%s pct=%u\nmessages: %llu\n",
	       m->org_name, m->email, m->report_id, (long long)m->begin, (long long)m->end,
	       m->domain, m->p, m->sp, m->adkim, m->aspf, m->pct,
	       (unsigned long long)ms_dmarcrep_report_messages(r));
	for (size_t i = 0; i < ms_dmarcrep_report_row_count(r); i++) {
		const struct ms_dmarcrep_row *w = ms_dmarcrep_report_row(r, i);
		printf("  %-39s count=%llu disposition=%s dkim=%s spf=%s%s%s from=%s\n",
		       w->source_ip, (unsigned long long)w->count, w->disposition, w->dkim_eval,
		       w->spf_eval, w->reason[0] ? " reason=" : "", w->reason, w->header_from);
	}
}

static int parse(struct cli *cli, struct args *a)
{
	size_t len = 0;
	uint8_t *buf = a->file ? cli_read_file(a->file, 64u << 20, &len) : NULL;
	if (buf == NULL)
		return cli_usage_error(cli, "dmarc-report parse: FILE needed (readable, <= 64 MiB)");
	struct ms_dmarcrep_report *r = NULL;
	char why[300] = "";
	ms_status st = ms_dmarcrep_parse(&cli->env, buf, len, 0, &r, why, sizeof(why));
	free(buf);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_FAIL, "dmarc-report parse: %s", why);
	print_report(cli, r);
	ms_dmarcrep_report_free(r);
	return CLI_EXIT_OK;
}

static int build(struct cli *cli, struct args *a, struct ms_dmarcrep_store *store,
		 struct ms_dmarcrep_report **r)
{
	if (!a->domain || !a->org || !a->email)
		return cli_usage_error(cli, "dmarc-report: --domain, --org-name and --email needed");
	struct ms_dmarcrep_meta m = { .version = MS_DMARCREP_META_VERSION };
	if (a->begin == 0 && a->end == 0) {
		a->end = cli_now(cli) / 86400 * 86400;
		a->begin = a->end - 86400;
	}
	m.begin = a->begin;
	m.end = a->end;
	snprintf(m.org_name, sizeof(m.org_name), "%s", a->org);
	snprintf(m.email, sizeof(m.email), "%s", a->email);
	snprintf(m.domain, sizeof(m.domain), "%s", a->domain);
	char why[300] = "";
	if (ms_dmarcrep_report_from_store(&cli->env, store, &m, r, why, sizeof(why)) != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "dmarc-report: %s", why);
	return CLI_EXIT_OK;
}

static int report(struct cli *cli, struct args *a, struct ms_dmarcrep_report *r)
{
	uint8_t *xml = NULL, *gz = NULL;
	size_t len = 0, glen = 0;
	char why[300] = "";
	int gzip = a->out && strlen(a->out) > 3 && strcmp(a->out + strlen(a->out) - 3, ".gz") == 0;
	if (ms_dmarcrep_report_xml(r, &xml, &len, why, sizeof(why)) != MS_OK ||
	    (gzip && ms_dmarcrep_gzip(xml, len, &gz, &glen, why, sizeof(why)) != MS_OK)) {
		ms_dmarcrep_buf_free(xml);
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
	return ok ? CLI_EXIT_OK : cli_error(cli, CLI_EXIT_ERROR, "dmarc-report: cannot write");
}

static int send_report(struct cli *cli, struct args *a, struct ms_dmarcrep_report *r)
{
	if (!a->from || !a->receiver)
		return cli_usage_error(cli, "dmarc-report send: --from and --receiver needed");
	if (ms_dmarcrep_report_row_count(r) == 0) {
		printf("nothing to send: no rows for %s in the period\n", a->domain);
		return CLI_EXIT_OK;
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
	if (o.dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dmarcrep_dest d[MAX_RUA];
	size_t nd = 0;
	char why[300] = "";
	ms_status st = ms_dmarcrep_send(&cli->env, r, &o, d, MAX_RUA, &nd, why, sizeof(why));
	for (size_t i = 0; i < nd; i++)
		printf("%s %s (%zu bytes): %s\n", d[i].uri, ms_dmarcrep_dest_status_str(d[i].status),
		       d[i].size, d[i].detail);
	ms_dns_ctx_free(o.dns);
	if (st != MS_OK)
		return cli_error(cli, st == MS_ERR_NETWORK ? CLI_EXIT_FAIL : CLI_EXIT_ERROR,
				 "dmarc-report send: %s", why);
	return CLI_EXIT_OK;
}

int cmd_dmarc_report(struct cli *cli, int argc, char **argv)
{
	static const char usage[] = "usage: dmarc-report record|report|send|parse ... "
				    "(see docs/cli.md)";
	if (argc < 2)
		return cli_usage_error(cli, "%s", usage);
	const char *verb = argv[1];
	struct args a = { 0 };
	int rc = parse_args(cli, argc, argv, &a);
	if (rc)
		return rc;
	if (strcmp(verb, "parse") == 0)
		return parse(cli, &a);
	if (strcmp(verb, "record") && strcmp(verb, "report") && strcmp(verb, "send"))
		return cli_usage_error(cli, "%s", usage);
	if (a.db == NULL)
		return cli_usage_error(cli, "dmarc-report %s: --db FILE needed", verb);
	struct ms_dmarcrep_store *store = NULL;
	char why[300] = "";
	if (ms_dmarcrep_store_open(&cli->env, NULL, a.db, &store, why, sizeof(why)) != MS_OK)
		return cli_error(cli, CLI_EXIT_USAGE, "dmarc-report: %s", why);
	struct ms_dmarcrep_report *r = NULL;
	if (strcmp(verb, "record") == 0)
		rc = record(cli, &a, store);
	else if ((rc = build(cli, &a, store, &r)) == CLI_EXIT_OK)
		rc = strcmp(verb, "report") == 0 ? report(cli, &a, r) : send_report(cli, &a, r);
	ms_dmarcrep_report_free(r);
	ms_dmarcrep_store_free(store);
	return rc;
}
