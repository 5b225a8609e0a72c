/*
 * cmd_mtasts.c - `mailsec mtasts ...`: MTA-STS (RFC 8461) with libmtasts.
 *
 *   fetch DOMAIN [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT]
 *                [--cache FILE]        record, policy, cache state
 *   parse FILE                         exit 0 valid, 1 invalid (reason)
 *   match FILE MXHOST                  exit 0 match, 1 no match
 *   purge --cache FILE [DOMAIN]        drop cached policies
 *   refresh --cache FILE               the periodic refresh, once
 *
 * The TXT record is looked up through libdnssec-stub with the global
 * resolver options; the policy host is reached with libcurl.
 */
#include "cli.h"

#include <mailsec/mtasts.h>

#include <stdlib.h>
#include <string.h>

/* Parse the policy file (or "-" for stdin) of a parse or match command:
 * -1 with *p (NULL when invalid, `why` says why), or an exit code. */
static int load_policy(struct cli *cli, int argc, char **argv, size_t npos,
		       const char **pos, struct ms_sts_policy **p, char *why, size_t whylen)
{
	struct cli_list pl = { pos, 0, npos };
	int rc = cli_parse(cli, argc, argv, NULL, &pl);
	if (rc >= 0 || pl.n != npos)
		return rc >= 0 ? rc : cli_usage(cli);
	size_t len;
	/* at most 64 KiB plus one byte: an oversized file is detected, not truncated */
	uint8_t *buf = cli_read_file(pos[0], MS_STS_POLICY_MAX + 1, &len);
	if (buf == NULL)
		return cli_usage_error(cli, "cannot read %s", pos[0]);
	ms_status st = ms_sts_policy_parse(&cli->env, buf, len, p, why, whylen);
	free(buf);
	return st == MS_ERR_NOMEM ? cli_error(cli, CLI_EXIT_ERROR, "out of memory") : -1;
}

static void out_policy(struct cli_out *o, const struct ms_sts_policy *p)
{
	out_str(o, "mode", "mode", p ? ms_sts_mode_str(ms_sts_policy_mode(p)) : NULL);
	if (p)
		out_int(o, "max_age", "max_age", ms_sts_policy_max_age(p));
	else
		out_null(o, "max_age");
	out_arr(o, "mx");
	for (size_t i = 0; p && i < ms_sts_policy_mx_count(p); i++)
		out_str(o, OUT_ELEM, "mx", ms_sts_policy_mx(p, i));
	out_close_arr(o);
}

static int cmd_parse(struct cli *cli, int argc, char **argv)
{
	const char *pos[1];
	struct ms_sts_policy *p = NULL;
	char why[256] = "";
	int rc = load_policy(cli, argc, argv, 1, pos, &p, why, sizeof(why));
	if (rc >= 0)
		return rc;
	struct cli_out o;
	out_begin(&o, cli, "  ", 11);
	out_bool(&o, "valid", p != NULL);
	out_str(&o, "error", NULL, p ? NULL : why);
	out_line(&o, NULL, p ? "valid policy" : "invalid policy: %s", why);
	out_policy(&o, p);
	out_end(&o);
	ms_sts_policy_free(p);
	return p ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int cmd_match(struct cli *cli, int argc, char **argv)
{
	const char *pos[2];
	struct ms_sts_policy *p = NULL;
	char why[256] = "";
	int rc = load_policy(cli, argc, argv, 2, pos, &p, why, sizeof(why));
	if (rc >= 0)
		return rc;
	if (p == NULL)
		return cli_usage_error(cli, "%s: invalid policy: %s", pos[0], why);
	const char *host = pos[1], *pattern = NULL, *mode = ms_sts_mode_str(ms_sts_policy_mode(p));
	for (size_t i = 0; i < ms_sts_policy_mx_count(p) && !pattern; i++)
		if (ms_sts_mx_pattern_match(ms_sts_policy_mx(p, i), host))
			pattern = ms_sts_policy_mx(p, i);
	const char *v = ms_sts_verdict_str(ms_sts_verdict_for(ms_sts_policy_mode(p), !pattern));
	struct cli_out o;
	out_begin(&o, cli, "", 0);
	out_str(&o, "mx", NULL, host);
	out_bool(&o, "match", pattern != NULL);
	out_str(&o, "pattern", NULL, pattern);
	out_str(&o, "mode", NULL, mode);
	out_str(&o, "verdict", NULL, v);
	if (pattern)
		out_line(&o, NULL, "%s matches %s", host, pattern);
	else
		out_line(&o, NULL, "%s matches no mx pattern (mode %s: %s)", host, mode, v);
	out_end(&o);
	ms_sts_policy_free(p);
	return pattern ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_sts_open(struct cli *cli, const char *ca_file, const char *connect_to,
		 const char *cache, unsigned default_timeout_ms, struct cli_sts *s)
{
	char why[512] = "";
	memset(s, 0, sizeof(*s));
	if (cache && ms_sts_store_new_sqlite(&cli->env, cache, &s->store, why,
					     sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "--cache %s: %s", cache, why);
	if ((s->dns = cli_dns_ctx(cli)) == NULL) {
		cli_sts_close(s);
		return CLI_EXIT_USAGE;
	}
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = ca_file;
	cfg.fetch.connect_to = connect_to;
	cfg.fetch.timeout_ms = cli->timeout_ms ? cli->timeout_ms : default_timeout_ms;
	if (ms_sts_new(&cli->env, &cfg, s->dns, s->store, &s->sts, why, sizeof(why)) != MS_OK) {
		cli_sts_close(s);
		return cli_error(cli, CLI_EXIT_ERROR, "MTA-STS set-up: %s", why);
	}
	return CLI_EXIT_OK;
}

void cli_sts_close(struct cli_sts *s)
{
	ms_sts_free(s->sts);
	ms_sts_store_free(s->store);
	ms_dns_ctx_free(s->dns);
	memset(s, 0, sizeof(*s));
}

/* fetch, purge and refresh: --ca-file, --connect-to, --cache, at most
 * `maxpos` words; -1 with *s open to go on, else the exit code. */
static int sts_cmd_open(struct cli *cli, int argc, char **argv, size_t maxpos, int need_cache,
			const char **pos, size_t *npos, struct cli_sts *s)
{
	const char *ca_file = NULL, *connect_to = NULL, *cache = NULL;
	struct cli_list pl = { pos, 0, maxpos };
	const struct cli_opt opts[] = { OPT_STR("--ca-file", &ca_file),
					OPT_STR("--connect-to", &connect_to),
					OPT_STR("--cache", &cache), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pl);
	*npos = pl.n;
	if (rc >= 0 || (need_cache ? cache == NULL : pl.n != 1))
		return rc >= 0 ? rc : cli_usage(cli);
	rc = cli_sts_open(cli, ca_file, connect_to, cache, 0, s);
	return rc == CLI_EXIT_OK ? -1 : rc;
}

static const char *source_str(enum ms_sts_source s)
{
	return s == MS_STS_SRC_FETCHED ? "fetched" : s == MS_STS_SRC_CACHE ? "cache" : "none";
}

static int cmd_fetch(struct cli *cli, int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	struct cli_sts r;
	int rc = sts_cmd_open(cli, argc, argv, 1, 0, pos, &npos, &r);
	if (rc >= 0)
		return rc;
	struct ms_sts_result *res = NULL;
	char why[512] = "";
	ms_status st = ms_sts_get_policy(r.sts, pos[0], &res, why, sizeof(why));
	if (st != MS_OK) {
		cli_sts_close(&r);
		return cli_fail(cli, st, "fetch", why);
	}
	const struct ms_sts_policy *p = ms_sts_result_policy(res);
	enum ms_tlsrpt_result f = ms_sts_result_failure(res);
	const char *id = ms_sts_result_record_id(res), *src = source_str(ms_sts_result_source(res));
	struct cli_out o;
	out_begin(&o, cli, "  ", 11);
	out_str(&o, "domain", NULL, pos[0]);
	out_line(&o, NULL, "%s", pos[0]);
	out_str(&o, "record_id", NULL, id[0] ? id : NULL);
	out_str(&o, "record", NULL, ms_sts_result_record_note(res));
	out_line(&o, "record", "%s%s%s", ms_sts_result_record_note(res), id[0] ? ", id=" : "", id);
	out_bool(&o, "policy", p != NULL);
	out_str(&o, "source", NULL, src);
	out_str(&o, "policy_id", NULL, ms_sts_result_policy_id(res));
	if (p)
		out_line(&o, "policy", "id=%s from %s, expires %lld", ms_sts_result_policy_id(res),
			 src, (long long)ms_sts_result_expires(res));
	else
		out_line(&o, "policy", "none");
	out_policy(&o, p);
	if (p)
		out_int(&o, "expires", NULL, ms_sts_result_expires(res));
	else
		out_null(&o, "expires");
	out_str(&o, "failure", NULL, f ? ms_tlsrpt_result_name(f) : NULL);
	out_str(&o, "failure_detail", NULL, f ? ms_sts_result_failure_detail(res) : NULL);
	out_bool(&o, "backoff", ms_sts_result_backoff(res));
	out_str(&o, "policy_text", NULL, ms_sts_result_policy_text(res));
	if (f)
		out_line(&o, "failure", "%s: %s%s", ms_tlsrpt_result_name(f),
			 ms_sts_result_failure_detail(res),
			 ms_sts_result_backoff(res) ? " (backing off)" : "");
	out_end(&o);
	ms_sts_result_free(res);
	cli_sts_close(&r);
	return CLI_EXIT_OK;
}

static int cmd_purge(struct cli *cli, int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	struct cli_sts r;
	int rc = sts_cmd_open(cli, argc, argv, 1, 1, pos, &npos, &r);
	if (rc >= 0)
		return rc;
	ms_status st = ms_sts_purge(r.sts, npos ? pos[0] : NULL);
	cli_sts_close(&r);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "purge: %s", ms_status_str(st));
	if (cli->json)
		printf("{\"purged\":true}\n");
	return CLI_EXIT_OK;
}

static int cmd_refresh(struct cli *cli, int argc, char **argv)
{
	size_t npos;
	struct cli_sts r;
	int rc = sts_cmd_open(cli, argc, argv, 0, 1, NULL, &npos, &r);
	if (rc >= 0)
		return rc;
	size_t ref = 0, failed = 0, dropped = 0;
	ms_status st = ms_sts_refresh(r.sts, &ref, &failed, &dropped);
	cli_sts_close(&r);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "refresh: %s", ms_status_str(st));
	printf(cli->json ? "{\"refreshed\":%zu,\"failed\":%zu,\"dropped\":%zu}\n" :
	       "refreshed %zu, failed %zu, dropped %zu\n", ref, failed, dropped);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_mtasts_cmds[] = {
	{ "fetch", cmd_fetch, "DOMAIN [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] "
	  "[--cache FILE]", "the record, the policy and the cache state", NULL },
	{ "parse", cmd_parse, "FILE", "check a policy file; exit 0 valid, 1 invalid", NULL },
	{ "match", cmd_match, "FILE MXHOST", "match an MX host; exit 0 match, 1 no match", NULL },
	{ "purge", cmd_purge, "--cache FILE [DOMAIN]", "drop cached policies", NULL },
	{ "refresh", cmd_refresh, "--cache FILE", "the periodic refresh, once", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};
