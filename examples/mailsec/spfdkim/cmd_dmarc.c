/*
 * cmd_dmarc.c - `mailsec dmarc --from-header H --spf RESULT:DOMAIN
 * [--dkim RESULT:DOMAIN[:SELECTOR]]...`: DMARC (RFC 7489) from given
 * authentication results.  First stdout line: the DMARC result.  A From
 * header that cannot name one author domain (several headers, several
 * domains, malformed, none) is reported as permerror with disposition
 * reject, the outcome dmarc.h defines for it.
 */
#include "cli.h"

#include <mailsec/dmarc.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FROM 8
#define MAX_DKIM 16

/* "RESULT:DOMAIN[:SELECTOR]" split in place. */
static int split(char *arg, char **res, char **dom, char **sel)
{
	char *c = strchr(arg, ':');
	if (c == NULL || c == arg || c[1] == '\0')
		return -1;
	*c = '\0';
	*res = arg;
	*dom = c + 1;
	char *c2 = strchr(*dom, ':');
	if (sel)
		*sel = NULL;
	if (c2) {
		*c2 = '\0';
		if (sel)
			*sel = c2 + 1;
	}
	return 0;
}

int cmd_dmarc(struct cli *cli, int argc, char **argv)
{
	const uint8_t *from[MAX_FROM];
	size_t fromlen[MAX_FROM], nfrom = 0, ndkim = 0;
	const char *dkim_dom[MAX_DKIM], *dkim_sel[MAX_DKIM];
	enum ms_dmarc_dkim_result dkim_res[MAX_DKIM];
	enum ms_spf_result spf = MS_SPF_NONE;
	const char *spf_dom = NULL;
	int tree = 0, sample = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--tree-walk") == 0) {
			tree = 1;
			continue;
		}
		if (i + 1 >= argc)
			return cli_usage_error(cli, "dmarc: %s needs a value", a);
		char *val = argv[++i];
		char *res, *dom, *sel;
		if (strcmp(a, "--from-header") == 0) {
			if (nfrom == MAX_FROM)
				return cli_usage_error(cli, "dmarc: too many --from-header");
			from[nfrom] = (const uint8_t *)val;
			fromlen[nfrom++] = strlen(val);
		} else if (strcmp(a, "--spf") == 0) {
			int r;
			if (split(val, &res, &dom, NULL) != 0 ||
			    (r = ms_spf_result_from_str(res, strlen(res))) < 0)
				return cli_usage_error(cli, "dmarc: --spf wants RESULT:DOMAIN");
			spf = (enum ms_spf_result)r;
			spf_dom = dom;
		} else if (strcmp(a, "--dkim") == 0) {
			int r;
			if (ndkim == MAX_DKIM)
				return cli_usage_error(cli, "dmarc: too many --dkim");
			if (split(val, &res, &dom, &sel) != 0 ||
			    (r = ms_dmarc_dkim_result_from_str(res)) < 0)
				return cli_usage_error(cli, "dmarc: --dkim wants RESULT:DOMAIN[:SELECTOR]");
			dkim_res[ndkim] = (enum ms_dmarc_dkim_result)r;
			dkim_dom[ndkim] = dom;
			dkim_sel[ndkim++] = sel;
		} else if (strcmp(a, "--pct-sample") == 0) {
			sample = atoi(val);
			if (sample < 0 || sample > 99)
				return cli_usage_error(cli, "dmarc: --pct-sample wants 0-99");
		} else {
			return cli_usage_error(cli, "dmarc: unknown argument '%s'", a);
		}
	}
	if (nfrom == 0)
		return cli_usage_error(cli, "usage: dmarc --from-header H --spf RESULT:DOMAIN "
				       "[--dkim RESULT:DOMAIN[:SELECTOR]]... [--tree-walk] "
				       "[--pct-sample N]");
	enum ms_dmarc_from_outcome fo;
	char domain[256], fwhy[200] = "";
	ms_status st = ms_dmarc_from_headers(from, fromlen, nfrom, &fo, domain, sizeof(domain),
					     fwhy, sizeof(fwhy));
	if (st != MS_OK && st != MS_ERR_LIMIT)
		return cli_error(cli, CLI_EXIT_ERROR, "dmarc: %s", fwhy);
	if (st == MS_ERR_LIMIT)
		fo = MS_DMARC_FROM_MALFORMED;
	if (fo != MS_DMARC_FROM_OK) {
		if (cli->json) {
			struct json j;
			json_init(&j, stdout);
			json_object_begin(&j, NULL);
			json_string(&j, "result", "permerror");
			json_string(&j, "from_outcome", ms_dmarc_from_outcome_str(fo));
			json_null(&j, "policy");
			json_string(&j, "disposition", "reject");
			json_null(&j, "domain");
			json_null(&j, "org_domain");
			json_string(&j, "reason", fwhy);
			json_object_end(&j);
			json_finish(&j);
		} else {
			printf("permerror\n  from:        %s (%s)\n  disposition: reject\n",
			       ms_dmarc_from_outcome_str(fo), fwhy);
		}
		return CLI_EXIT_OK;
	}
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dmarc *d = NULL;
	char why[256] = "";
	if (ms_dmarc_new(&cli->env, dns, &d, why, sizeof(why)) != MS_OK) {
		ms_dns_ctx_free(dns);
		return cli_error(cli, CLI_EXIT_ERROR, "dmarc: %s", why);
	}
	ms_dmarc_set_tree_walk(d, tree);
	ms_dmarc_set_pct_sample(d, sample);
	struct ms_dmarc_verdict *v = NULL;
	st = ms_dmarc_check(d, domain, spf, spf_dom, dkim_dom, dkim_sel, dkim_res, ndkim, &v,
			    why, sizeof(why));
	int rc = CLI_EXIT_OK;
	if (st != MS_OK) {
		rc = cli_error(cli, st == MS_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
			       "dmarc: %s", why);
	} else {
		const struct ms_dmarc_record *rec = ms_dmarc_verdict_record(v);
		const char *pol = rec ? ms_dmarc_policy_str(ms_dmarc_verdict_policy(v)) : NULL;
		struct json j;
		if (cli->json) {
			json_init(&j, stdout);
			json_object_begin(&j, NULL);
			json_string(&j, "result", ms_dmarc_result_str(ms_dmarc_verdict_result(v)));
			json_string(&j, "from_outcome", "ok");
			json_string(&j, "policy", pol);
			json_string(&j, "policy_tag", ms_dmarc_verdict_policy_tag(v));
			json_string(&j, "disposition",
				    ms_dmarc_policy_str(ms_dmarc_verdict_disposition(v)));
			json_string(&j, "domain", ms_dmarc_verdict_domain(v));
			json_string(&j, "org_domain", ms_dmarc_verdict_org_domain(v));
			json_string(&j, "policy_domain", ms_dmarc_verdict_policy_domain(v));
			json_bool(&j, "spf_aligned", ms_dmarc_verdict_spf_aligned(v));
			json_bool(&j, "dkim_aligned", ms_dmarc_verdict_dkim_aligned(v));
			json_string(&j, "reason", ms_dmarc_verdict_reason(v));
			json_string(&j, "dnssec", ms_dns_security_str(ms_dmarc_verdict_dnssec(v)));
			json_array_begin(&j, "rua");
		} else {
			printf("%s\n", ms_dmarc_result_str(ms_dmarc_verdict_result(v)));
			printf("  domain:      %s (organizational: %s)\n", ms_dmarc_verdict_domain(v),
			       ms_dmarc_verdict_org_domain(v));
			if (rec)
				printf("  policy:      %s=%s from _dmarc.%s\n",
				       ms_dmarc_verdict_policy_tag(v), pol,
				       ms_dmarc_verdict_policy_domain(v));
			printf("  disposition: %s\n",
			       ms_dmarc_policy_str(ms_dmarc_verdict_disposition(v)));
			printf("  aligned:     spf=%s dkim=%s\n",
			       ms_dmarc_verdict_spf_aligned(v) ? "yes" : "no",
			       ms_dmarc_verdict_dkim_aligned(v) ? "yes" : "no");
			printf("  reason:      %s\n", ms_dmarc_verdict_reason(v));
			printf("  dnssec:      %s\n", ms_dns_security_str(ms_dmarc_verdict_dnssec(v)));
		}
		for (size_t i = 0; i < ms_dmarc_record_rua_count(rec); i++) {
			int ok = 0;
			const char *uri = ms_dmarc_record_rua(rec, i);
			ms_dmarc_report_dest_verify(d, ms_dmarc_verdict_policy_domain(v), uri, &ok,
						    NULL, NULL, 0);
			const char *auth = ok > 0 ? "authorized" : ok < 0 ? "temperror" : "unauthorized";
			if (cli->json) {
				json_object_begin(&j, NULL);
				json_string(&j, "uri", uri);
				json_string(&j, "destination", auth);
				json_object_end(&j);
			} else {
				printf("  rua:         %s (%s)\n", uri, auth);
			}
		}
		if (cli->json) {
			json_array_end(&j);
			json_object_end(&j);
			json_finish(&j);
		}
	}
	ms_dmarc_verdict_free(v);
	ms_dmarc_free(d);
	ms_dns_ctx_free(dns);
	return rc;
}
