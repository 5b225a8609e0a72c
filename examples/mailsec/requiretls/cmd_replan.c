/*
 * cmd_replan.c - `mailsec replan` (usage: main.c's table): the operator's
 * override for a queued message: what changes per recipient domain and MX
 * host when its TLS requirement becomes REQ, and (--write) the message
 * with the header that carries REQ and the new MAIL FROM parameters.  The
 * re-plan and rewrite are librequiretls's (requiretls_replan.h), the
 * lookups the route's.  Exit 0 re-plan computed, 2 usage/unreadable input.
 */
#include "route_cli.h"

#include <mailsec/requiretls_replan.h>

#include <stdlib.h>
#include <string.h>

#define REPLAN_MAX_MESSAGE (10u * 1024 * 1024)
#define REPLAN_MAX_TO MS_RTLS_REPLAN_MAX_DOMAINS

/* New header, then the stored body unchanged. */
static int write_message(const char *out, const struct ms_rtls_replan *rp, const uint8_t *msg,
			 size_t len)
{
	FILE *f = fopen(out, "wb");
	if (f == NULL)
		return -1;
	size_t hl = 0;
	const uint8_t *h = ms_rtls_replan_header(rp, &hl);
	size_t off = ms_rtls_replan_body_offset(rp);
	int bad = fwrite(h, 1, hl, f) != hl || fwrite(msg + off, 1, len - off, f) != len - off;
	return fclose(f) != 0 || bad ? -1 : 0;
}

/* The recipient domain of ADDR (after the last '@'), normalised; 0 when
 * there is none or it is not a host name. */
static int rcpt_domain(const char *addr, char *out, size_t outsize, char *why, size_t whylen)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0') {
		snprintf(why, whylen, "no domain after '@'");
		return 0;
	}
	return ms_dns_hostname_normalize(at + 1, out, outsize, why, whylen) == MS_OK;
}

int cmd_replan(struct cli *cli, int argc, char **argv)
{
	struct route_opts o = { 0 };
	const char *file = NULL, *params = "", *req_s = NULL, *out_file = NULL;
	const char *to[REPLAN_MAX_TO * 4];
	static char domains[REPLAN_MAX_TO][256];
	size_t ndomains = 0;
	struct cli_list tl = CLI_LIST_OF(to);
	const struct cli_opt opts[] = {
		ROUTE_OPTS(&o), OPT_STR("--message", &file), OPT_STR("--mail-params", &params),
		OPT_STR("--requirement", &req_s), OPT_STR("--write", &out_file),
		OPT_LIST("--to", &tl), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc >= 0)
		return rc;
	for (size_t i = 0; i < tl.n; i++) {
		char d[256], why[200] = "";
		if (!rcpt_domain(to[i], d, sizeof(d), why, sizeof(why)))
			return cli_usage_error(cli, "--to %s: %s", to[i], why);
		size_t k = 0;
		while (k < ndomains && strcmp(domains[k], d) != 0)
			k++;
		if (k == ndomains && ndomains == REPLAN_MAX_TO) /* one re-plan per domain */
			return cli_usage_error(cli, "more than %d recipient domains", REPLAN_MAX_TO);
		if (k == ndomains)
			memcpy(domains[ndomains++], d, sizeof(d));
	}
	if (file == NULL || req_s == NULL || ndomains == 0)
		return cli_usage(cli);
	/* The stored requirement comes from the message and its parameters;
	 * the flags of `plan` and `send` would say a third thing. */
	if (o.requiretls || o.tls_required_no)
		return cli_usage_error(cli, "replan takes --requirement, not --requiretls or "
					    "--tls-required-no");
	enum ms_rtls_requirement req;
	if (ms_rtls_requirement_parse((const uint8_t *)req_s, strlen(req_s), &req) != MS_OK)
		return cli_usage_error(cli, "--requirement %s: not one of required, default, "
					    "not-required", req_s);
	size_t len = 0;
	uint8_t *msg = cli_read_file(file, REPLAN_MAX_MESSAGE, &len);
	if (msg == NULL)
		return cli_usage_error(cli, "cannot read %s (or larger than %u bytes)", file,
				       REPLAN_MAX_MESSAGE);
	char why[256] = "";
	struct ms_rtls_replan *rp = NULL;
	ms_status st = ms_rtls_replan_new(&cli->env, msg, len, params, req, &rp, why, sizeof(why));
	rc = CLI_EXIT_OK;
	if (st == MS_ERR_NOMEM)
		rc = cli_error(cli, CLI_EXIT_ERROR, "replan: %s", why);
	else if (st != MS_OK)
		rc = cli_usage_error(cli, "%s: %s", strncmp(why, "bad MAIL FROM", 13) == 0
					? "--mail-params" : file, why);
	for (size_t i = 0; rc == CLI_EXIT_OK && i < ndomains; i++) {
		struct ms_rtls_route *r = NULL;
		rc = route_open(cli, domains[i], &o, ms_rtls_replan_before(rp), &r);
		if (rc == CLI_EXIT_OK && ms_rtls_replan_route(rp, r, why, sizeof(why)) != MS_OK)
			rc = cli_error(cli, CLI_EXIT_ERROR, "%s", why);
		ms_rtls_route_free(r);
	}
	if (rc == CLI_EXIT_OK && out_file && write_message(out_file, rp, msg, len) != 0)
		rc = cli_usage_error(cli, "--write %s: cannot write", out_file);
	char *text = NULL;
	if (rc == CLI_EXIT_OK)
		rc = cli_put(cli, ms_rtls_replan_render(rp, params, out_file, cli_format(cli),
							&text, NULL), &text, "replan");
	ms_rtls_replan_free(rp);
	free(msg);
	return rc;
}
