/*
 * cmd_replan.c - `mailsec replan --message FILE [--mail-params PARAMS]
 *                 --to ADDR [--to ADDR]... --requirement REQ [--write OUT]
 *                 [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]`
 *
 * The operator's override for a queued message: what changes per recipient
 * domain and MX host when its TLS requirement becomes REQ, and (--write)
 * the message with the header that carries REQ and the new MAIL FROM
 * parameters.  The re-plan and the rewrite are librequiretls's
 * (requiretls_replan.h); the lookups are the route's (route_cli.c).  Exit 0
 * when the re-plan was computed, 2 on usage errors and unreadable input.
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

static void plan_line(const char *label, const struct ms_rtls_plan *p, int plaintext)
{
	printf("    %s %s", label, ms_rtls_mode_str(p->mode));
	if (p->mode == MS_RTLS_MODE_SKIP)
		printf(" %s (%s): %s\n", p->enhanced, ms_rtls_reason_str(p->reason), p->text);
	else
		printf(": verify DANE %s, PKIX %s, REQUIRETLS needed %s, plaintext %s\n",
		       p->verify_dane ? "yes" : "no", p->verify_pkix ? "yes" : "no",
		       p->need_requiretls ? "yes" : "no", plaintext ? "allowed" : "no");
}

static void print_human(const struct ms_rtls_replan *rp, const char *params, const char *written)
{
	printf("message requirement: %s -> %s (TLS-Required header %s)\n",
	       ms_rtls_requirement_str(ms_rtls_replan_before(rp)),
	       ms_rtls_requirement_str(ms_rtls_replan_after(rp)),
	       ms_rtls_tlsreq_str(ms_rtls_replan_tlsreq(rp)));
	const char *np = ms_rtls_replan_mail_params(rp);
	printf("MAIL FROM parameters: %s -> %s\n", params[0] ? params : "(none)",
	       np[0] ? np : "(none)");
	printf("header: %zu TLS-Required field(s) removed%s\n", ms_rtls_replan_removed(rp),
	       ms_rtls_replan_added(rp) ? ", \"TLS-Required: No\" added" : "");
	for (size_t i = 0; i < ms_rtls_replan_domain_count(rp); i++) {
		const struct ms_rtls_replan_domain *d = ms_rtls_replan_domain(rp, i);
		printf("\ndomain %s: %s\n", d->domain, d->changed ? "changed" : "unchanged");
		if (d->nhosts == 0)
			printf("  no host to try\n");
		for (size_t k = 0; k < d->nhosts; k++) {
			const struct ms_rtls_replan_host *h = &d->hosts[k];
			printf("  MX %u %s\n", h->preference, h->summary);
			plan_line("before:", &h->before, h->plaintext_before);
			plan_line("after: ", &h->after, h->plaintext_after);
		}
		if (d->undeliverable_before)
			printf("  undeliverable before: %s %s\n", d->outcome_before.enhanced,
			       d->outcome_before.text);
		if (d->undeliverable_after)
			printf("  undeliverable after: %s %s\n", d->outcome_after.enhanced,
			       d->outcome_after.text);
	}
	if (written)
		printf("\nwrote %s; requeue it with MAIL FROM parameters: %s\n", written,
		       np[0] ? np : "(none)");
}

static void json_plan(struct json *j, const char *key, const struct ms_rtls_plan *p, int plaintext)
{
	json_object_begin(j, key);
	json_string(j, "mode", ms_rtls_mode_str(p->mode));
	json_bool(j, "verify_dane", p->verify_dane);
	json_bool(j, "verify_pkix", p->verify_pkix);
	json_bool(j, "need_requiretls", p->need_requiretls);
	json_bool(j, "plaintext", plaintext);
	int skip = p->mode == MS_RTLS_MODE_SKIP;
	json_string(j, "skip_status", skip ? p->enhanced : NULL);
	json_string(j, "skip_reason", skip ? ms_rtls_reason_str(p->reason) : NULL);
	json_object_end(j);
}

static void json_outcome(struct json *j, const char *key, int undeliverable,
			 const struct ms_rtls_outcome *o)
{
	if (!undeliverable) {
		json_null(j, key);
		return;
	}
	json_object_begin(j, key);
	json_string(j, "verdict", ms_rtls_verdict_str(o->verdict));
	json_string(j, "status", o->enhanced);
	json_string(j, "bounce_status", o->bounce_enhanced);
	json_string(j, "text", o->text);
	json_object_end(j);
}

static void print_json(const struct ms_rtls_replan *rp, const char *params, const char *written)
{
	struct json j;
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "requirement_before", ms_rtls_requirement_str(ms_rtls_replan_before(rp)));
	json_string(&j, "requirement_after", ms_rtls_requirement_str(ms_rtls_replan_after(rp)));
	json_string(&j, "tls_required_header", ms_rtls_tlsreq_str(ms_rtls_replan_tlsreq(rp)));
	json_string(&j, "mail_params_before", params);
	json_string(&j, "mail_params_after", ms_rtls_replan_mail_params(rp));
	json_int(&j, "header_fields_removed", (long long)ms_rtls_replan_removed(rp));
	json_bool(&j, "header_field_added", ms_rtls_replan_added(rp));
	json_array_begin(&j, "domains");
	for (size_t i = 0; i < ms_rtls_replan_domain_count(rp); i++) {
		const struct ms_rtls_replan_domain *d = ms_rtls_replan_domain(rp, i);
		json_object_begin(&j, NULL);
		json_string(&j, "domain", d->domain);
		json_bool(&j, "changed", d->changed);
		json_array_begin(&j, "hosts");
		for (size_t k = 0; k < d->nhosts; k++) {
			const struct ms_rtls_replan_host *h = &d->hosts[k];
			json_object_begin(&j, NULL);
			json_string(&j, "host", h->name);
			json_int(&j, "preference", h->preference);
			json_bool(&j, "changed", h->changed);
			json_string(&j, "summary", h->summary);
			json_plan(&j, "before", &h->before, h->plaintext_before);
			json_plan(&j, "after", &h->after, h->plaintext_after);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_outcome(&j, "undeliverable_before", d->undeliverable_before, &d->outcome_before);
		json_outcome(&j, "undeliverable_after", d->undeliverable_after, &d->outcome_after);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_string(&j, "written", written);
	json_object_end(&j);
	json_finish(&j);
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
	static const char usage[] =
		"usage: mailsec replan --message FILE [--mail-params PARAMS] --to ADDR [--to ADDR]... "
		"--requirement required|default|not-required [--write OUT] [--ca-file F] "
		"[--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]";
	struct route_opts o = { 0 };
	const char *file = NULL, *params = "", *req_s = NULL, *out_file = NULL;
	static char domains[REPLAN_MAX_TO][256];
	size_t ndomains = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int took = route_opts_arg(&o, a, v);
		if (took) {
			i += took - 1;
			continue;
		}
		if (v == NULL)
			return cli_usage_error(cli, "%s", usage);
		if (strcmp(a, "--message") == 0) {
			file = v;
		} else if (strcmp(a, "--mail-params") == 0) {
			params = v;
		} else if (strcmp(a, "--requirement") == 0) {
			req_s = v;
		} else if (strcmp(a, "--write") == 0) {
			out_file = v;
		} else if (strcmp(a, "--to") == 0) {
			char d[256], why[200] = "";
			if (!rcpt_domain(v, d, sizeof(d), why, sizeof(why)))
				return cli_usage_error(cli, "--to %s: %s", v, why);
			size_t k = 0;
			while (k < ndomains && strcmp(domains[k], d) != 0)
				k++;
			if (k == ndomains) { /* one re-plan per recipient domain */
				if (ndomains == REPLAN_MAX_TO)
					return cli_usage_error(cli, "more than %d recipient domains",
							       REPLAN_MAX_TO);
				memcpy(domains[ndomains++], d, sizeof(d));
			}
		} else {
			return cli_usage_error(cli, "%s", usage);
		}
		i++;
	}
	if (file == NULL || req_s == NULL || ndomains == 0)
		return cli_usage_error(cli, "%s", usage);
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
	int rc = CLI_EXIT_OK;
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
	if (rc == CLI_EXIT_OK) {
		if (cli->json)
			print_json(rp, params, out_file);
		else
			print_human(rp, params, out_file);
	}
	ms_rtls_replan_free(rp);
	free(msg);
	return rc;
}
