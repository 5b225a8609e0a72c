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

/* Presentation text of record i (the caller frees it); worst case 4
 * characters per rdata byte (\DDD escapes) plus quotes and separators. */
static char *record_text(const struct ms_dns_result *r, size_t i, size_t *malformed)
{
	size_t len = 0;
	ms_dns_result_rdata(r, i, &len);
	char *text = malloc(len * 5 + 64);
	if (text && ms_dns_result_rdata_text(r, i, text, len * 5 + 64) == MS_ERR_PARSE)
		++*malformed;
	return text;
}

static void print(const struct cli *cli, const struct ms_dns_result *r, const char *type)
{
	struct cli_out o;
	out_begin(&o, cli, "  ", 11);
	out_line(&o, NULL, "%s %s", ms_dns_result_qname(r), type);
	out_str(&o, "name", NULL, ms_dns_result_qname(r));
	out_str(&o, "type", NULL, type);
	out_str(&o, "outcome", "outcome", ms_dns_outcome_str(ms_dns_result_outcome(r)));
	out_str(&o, "security", "security", ms_dns_security_str(ms_dns_result_security(r)));
	int ede = ms_dns_result_ede(r), cs = ms_dns_result_cname_secure(r);
	const char *text = ms_dns_result_ede_text(r);
	if (ede >= 0) {
		out_int(&o, "ede", NULL, ede);
		out_line(&o, "ede", "%d (%s)%s%s", ede, ms_dns_ede_str(ede), text ? ": " : "",
			 text ? text : "");
	} else {
		out_null(&o, "ede");
	}
	out_str(&o, "ede_text", NULL, text);
	out_str(&o, "canonical", NULL, ms_dns_result_canonical(r));
	out_line(&o, "canonical", "%s%s%s", ms_dns_result_canonical(r),
		 cs < 0 ? "" : cs ? " (CNAME chain secure)" : " (CNAME chain not secure)", "");
	if (cs >= 0)
		out_bool(&o, "cname_secure", cs);
	else
		out_null(&o, "cname_secure");
	out_int(&o, "ttl", "ttl", ms_dns_result_ttl(r));
	out_int(&o, "duration_ms", NULL, ms_dns_result_duration_ms(r));
	out_bool(&o, "null_mx", ms_dns_result_is_null_mx(r));
	size_t n = ms_dns_result_count(r), malformed = 0;
	if (n)
		out_line(&o, NULL, "  records:");
	out_arr(&o, "records");
	for (size_t i = 0; i < n; i++) {
		char tb[16];
		size_t bad = malformed;
		char *t = record_text(r, i, &malformed);
		out_str(&o, OUT_ELEM, NULL, t);
		out_line(&o, NULL, "    %s%s%s", ms_dns_result_qtype(r) == 0 ?
			 ms_dns_type_str(ms_dns_result_rtype(r, i), tb, sizeof(tb)) : "",
			 ms_dns_result_qtype(r) == 0 ? " " : "", t ? t : "(out of memory)");
		if (malformed > bad)
			out_line(&o, NULL, "      (malformed rdata)");
		free(t);
	}
	out_close_arr(&o);
	out_arr(&o, "record_types");
	for (size_t i = 0; i < n; i++) {
		char tb[16];
		out_str(&o, OUT_ELEM, NULL, ms_dns_type_str(ms_dns_result_rtype(r, i), tb, sizeof(tb)));
	}
	out_close_arr(&o);
	out_int(&o, "malformed_records", NULL, (long long)malformed);
	if (ms_dns_result_is_null_mx(r))
		out_line(&o, NULL, "  null MX: the domain accepts no mail (RFC 7505)");
	out_end(&o);
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
	char tb[16];
	if (st != MS_OK)
		rc = cli_fail(cli, st, "lookup failed", why);
	else
		print(cli, r, addr ? "ADDR" : ms_dns_type_str(type, tb, sizeof(tb)));
	ms_dns_result_free(r);
	ms_dns_ctx_free(ctx);
	return st == MS_OK ? CLI_EXIT_OK : rc;
}
