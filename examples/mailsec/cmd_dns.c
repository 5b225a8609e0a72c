/*
 * cmd_dns.c - `mailsec dns TYPE NAME`: one lookup through libdnssec-stub,
 * printed with its outcome, DNSSEC security, extended error (RFC 8914),
 * canonical name and records.  TYPE may be any RR type name or number, or
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

/* Presentation text of record i; worst case 4 characters per rdata byte
 * (\DDD escapes) plus quotes and separators.  The caller frees it. */
static char *record_text(const struct ms_dns_result *r, size_t i, int *malformed)
{
	size_t len = 0;
	ms_dns_result_rdata(r, i, &len);
	size_t cap = len * 5 + 64;
	char *text = malloc(cap);
	if (text == NULL)
		return NULL;
	ms_status st = ms_dns_result_rdata_text(r, i, text, cap);
	*malformed = st == MS_ERR_PARSE;
	return text;
}

static void print_human(const struct ms_dns_result *r, const char *type)
{
	printf("%s %s\n", ms_dns_result_qname(r), type);
	printf("  outcome:   %s\n", ms_dns_outcome_str(ms_dns_result_outcome(r)));
	printf("  security:  %s\n", ms_dns_security_str(ms_dns_result_security(r)));
	int ede = ms_dns_result_ede(r);
	if (ede >= 0) {
		const char *text = ms_dns_result_ede_text(r);
		printf("  ede:       %d (%s)%s%s\n", ede, ms_dns_ede_str(ede),
		       text ? ": " : "", text ? text : "");
	}
	printf("  canonical: %s", ms_dns_result_canonical(r));
	int cs = ms_dns_result_cname_secure(r);
	if (cs >= 0)
		printf(" (CNAME chain %s)", cs ? "secure" : "not secure");
	printf("\n  ttl:       %u\n", ms_dns_result_ttl(r));
	size_t n = ms_dns_result_count(r);
	if (n == 0)
		return;
	printf("  records:\n");
	for (size_t i = 0; i < n; i++) {
		char tb[16];
		int malformed = 0;
		char *text = record_text(r, i, &malformed);
		printf("    %s%s%s\n", ms_dns_result_qtype(r) == 0 ?
			       ms_dns_type_str(ms_dns_result_rtype(r, i), tb, sizeof(tb)) : "",
		       ms_dns_result_qtype(r) == 0 ? " " : "", text ? text : "(out of memory)");
		if (malformed)
			printf("      (malformed rdata)\n");
		free(text);
	}
	if (ms_dns_result_is_null_mx(r))
		printf("  null MX: the domain accepts no mail (RFC 7505)\n");
}

static void print_json(const struct ms_dns_result *r, const char *type)
{
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "name", ms_dns_result_qname(r));
	json_string(&j, "type", type);
	json_string(&j, "outcome", ms_dns_outcome_str(ms_dns_result_outcome(r)));
	json_string(&j, "security", ms_dns_security_str(ms_dns_result_security(r)));
	int ede = ms_dns_result_ede(r);
	if (ede >= 0)
		json_int(&j, "ede", ede);
	else
		json_null(&j, "ede");
	json_string(&j, "ede_text", ms_dns_result_ede_text(r));
	json_string(&j, "canonical", ms_dns_result_canonical(r));
	int cs = ms_dns_result_cname_secure(r);
	if (cs >= 0)
		json_bool(&j, "cname_secure", cs);
	else
		json_null(&j, "cname_secure");
	json_int(&j, "ttl", ms_dns_result_ttl(r));
	json_int(&j, "duration_ms", ms_dns_result_duration_ms(r));
	json_bool(&j, "null_mx", ms_dns_result_is_null_mx(r));
	size_t malformed = 0;
	json_array_begin(&j, "records");
	for (size_t i = 0; i < ms_dns_result_count(r); i++) {
		int bad = 0;
		char *text = record_text(r, i, &bad);
		malformed += (size_t)bad;
		json_string(&j, NULL, text);
		free(text);
	}
	json_array_end(&j);
	json_array_begin(&j, "record_types");
	for (size_t i = 0; i < ms_dns_result_count(r); i++) {
		char tb[16];
		json_string(&j, NULL, ms_dns_type_str(ms_dns_result_rtype(r, i), tb, sizeof(tb)));
	}
	json_array_end(&j);
	json_int(&j, "malformed_records", (long long)malformed);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_dns(struct cli *cli, int argc, char **argv)
{
	if (argc != 3)
		return cli_usage_error(cli, "usage: mailsec dns TYPE NAME");
	const char *tname = argv[1], *name = argv[2];
	int addr = strcasecmp(tname, "ADDR") == 0;
	uint16_t type = addr ? 0 : ms_dns_type_from_str(tname);
	if (!addr && type == 0)
		return cli_usage_error(cli, "unknown record type '%s'", tname);
	char norm[256], why[256] = "";
	if (!(type == MS_DNS_T_PTR && is_ip(name)) &&
	    ms_dns_name_normalize(name, norm, sizeof(norm), why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "bad name '%s': %s", name, why);

	struct ms_dns_ctx *ctx = cli_dns_ctx(cli);
	if (ctx == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dns_result *r = NULL;
	ms_status st;
	if (addr)
		st = ms_dns_lookup_addr(ctx, name, &r, why, sizeof(why));
	else if (type == MS_DNS_T_PTR && is_ip(name))
		st = ms_dns_lookup_ptr(ctx, name, &r, why, sizeof(why));
	else
		st = ms_dns_lookup(ctx, name, type, &r, why, sizeof(why));
	if (st != MS_OK) {
		ms_dns_ctx_free(ctx);
		return cli_error(cli, st == MS_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
				 "lookup failed: %s", why[0] ? why : ms_status_str(st));
	}
	char tb[16];
	const char *type_text = addr ? "ADDR" : ms_dns_type_str(type, tb, sizeof(tb));
	if (cli->json)
		print_json(r, type_text);
	else
		print_human(r, type_text);
	ms_dns_result_free(r);
	ms_dns_ctx_free(ctx);
	return CLI_EXIT_OK;
}
