/*
 * cmd_iprev.c - `mailsec iprev IP`: PTR names of the address, each
 * forward-confirmed (RFC 8601 s3).  First line: the result keyword.
 */
#include "cli.h"

#include <mailsec/iprev.h>
#include <stdlib.h>
#include <string.h>

int cmd_iprev(struct cli *cli, int argc, char **argv)
{
	const char *ip = NULL;
	unsigned max = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--max-names") == 0 && i + 1 < argc) {
			max = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return cli_usage_error(cli, "iprev: unknown argument '%s'", argv[i]);
		} else if (ip == NULL) {
			ip = argv[i];
		} else {
			return cli_usage_error(cli, "iprev: one address only");
		}
	}
	if (ip == NULL)
		return cli_usage_error(cli, "usage: iprev IP [--max-names N]");
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_iprev_verdict *v = NULL;
	char why[256] = "";
	ms_status st = ms_iprev_check(&cli->env, dns, ip, max, &v, why, sizeof(why));
	int rc = CLI_EXIT_OK;
	if (st == MS_ERR_INVALID) {
		rc = cli_usage_error(cli, "iprev: %s", why);
	} else if (st != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "iprev: %s", why[0] ? why : ms_status_str(st));
	} else if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "result", ms_iprev_result_str(ms_iprev_verdict_result(v)));
		json_string(&j, "ip", ms_iprev_verdict_ip(v));
		json_string(&j, "name", ms_iprev_verdict_name(v));
		json_array_begin(&j, "ptr_names");
		for (size_t i = 0; i < ms_iprev_verdict_ptr_count(v); i++)
			json_string(&j, NULL, ms_iprev_verdict_ptr_name(v, i));
		json_array_end(&j);
		json_int(&j, "ignored_names", (long long)ms_iprev_verdict_ignored(v));
		json_string(&j, "problem", ms_iprev_verdict_problem(v));
		json_string(&j, "dnssec", ms_dns_security_str(ms_iprev_verdict_dnssec(v)));
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("%s\n", ms_iprev_result_str(ms_iprev_verdict_result(v)));
		printf("  ip:       %s\n", ms_iprev_verdict_ip(v));
		if (ms_iprev_verdict_name(v))
			printf("  name:     %s\n", ms_iprev_verdict_name(v));
		for (size_t i = 0; i < ms_iprev_verdict_ptr_count(v); i++)
			printf("  ptr:      %s\n", ms_iprev_verdict_ptr_name(v, i));
		if (ms_iprev_verdict_ignored(v))
			printf("  ignored:  %zu names over the cap\n", ms_iprev_verdict_ignored(v));
		if (ms_iprev_verdict_problem(v))
			printf("  problem:  %s\n", ms_iprev_verdict_problem(v));
		printf("  dnssec:   %s\n", ms_dns_security_str(ms_iprev_verdict_dnssec(v)));
	}
	ms_iprev_verdict_free(v);
	ms_dns_ctx_free(dns);
	return rc;
}
