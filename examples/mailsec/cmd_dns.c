/*
 * cmd_dns.c - `mailsec dns TYPE NAME`: one lookup through libdnssec-stub,
 * printed with its outcome, DNSSEC security, extended error (RFC 8914),
 * canonical name and records (ms_dns_result_render).  TYPE may be any RR type name or number, or
 * ADDR for the combined A+AAAA lookup; for PTR, NAME may be an IP address.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int cmd_dns(struct cli *cli, int argc, char **argv)
{
	const char *p[2];
	struct cli_list pos = CLI_LIST_OF(p);
	int rc = cli_parse(cli, argc, argv, NULL, &pos);
	if (rc >= 0)
		return rc;
	if (pos.n != 2)
		return cli_usage(cli);
	const char *tname = p[0], *name = p[1];
	int addr = strcasecmp(tname, "ADDR") == 0;
	uint16_t type = addr ? 0 : ms_dns_type_from_str(tname);
	if (!addr && type == 0)
		return cli_usage_error(cli, "unknown record type '%s'", tname);
	int ptr = type == MS_DNS_T_PTR && is_ip(name);
	char norm[256], why[256] = "";
	if (!ptr && ms_dns_name_normalize(name, norm, sizeof(norm), why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "bad name '%s': %s", name, why);
	struct ms_dns_ctx *ctx = cli_dns_ctx(cli);
	if (ctx == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dns_result *r = NULL;
	ms_status st = addr ? ms_dns_lookup_addr(ctx, name, &r, why, sizeof(why)) :
		       ptr ? ms_dns_lookup_ptr(ctx, name, &r, why, sizeof(why)) :
		       ms_dns_lookup(ctx, name, type, &r, why, sizeof(why));
	char *text = NULL;
	if (st != MS_OK)
		rc = cli_fail(cli, st, "lookup failed", why);
	else
		rc = cli_put(cli, ms_dns_result_render(r, cli_format(cli), &text, NULL), &text, "dns");
	ms_dns_result_free(r);
	ms_dns_ctx_free(ctx);
	return rc;
}
