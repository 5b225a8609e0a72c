/*
 * cmd_mtasts.c - `mailsec mtasts fetch|parse|match|purge|refresh` (usage:
 * the table below): MTA-STS (RFC 8461) with libmtasts.  The TXT record is
 * looked up through libdnssec-stub with the global resolver options; the
 * policy host is reached with libcurl.
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

static int cmd_parse(struct cli *cli, int argc, char **argv)
{
	const char *pos[1];
	struct ms_sts_policy *p = NULL;
	char why[256] = "";
	int rc = load_policy(cli, argc, argv, 1, pos, &p, why, sizeof(why));
	if (rc >= 0)
		return rc;
	char *text = NULL;
	rc = cli_put(cli, ms_sts_policy_render(p, why, cli_format(cli), &text, NULL), &text, "parse");
	ms_sts_policy_free(p);
	return rc != CLI_EXIT_OK ? rc : p ? CLI_EXIT_OK : CLI_EXIT_FAIL;
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
	char *text = NULL;
	int matched = 0;
	rc = cli_put(cli, ms_sts_match_render(p, pos[1], &matched, cli_format(cli), &text, NULL),
		     &text, "match");
	ms_sts_policy_free(p);
	return rc != CLI_EXIT_OK ? rc : matched ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_sts_open(struct cli *cli, const char *ca_file, const char *connect_to,
		 const char *cache, unsigned default_timeout_ms, struct cli_sts *s)
{
	char why[512] = "";
	memset(s, 0, sizeof(*s));
	if (cache && ms_sts_store_open(&cli->env, cache, &s->store, why,
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
	char *text = NULL;
	rc = cli_put(cli, ms_sts_result_render(res, pos[0], cli_format(cli), &text, NULL), &text,
		     "fetch");
	/* a policy that may exist but cannot be known: the check could not run */
	if (rc == CLI_EXIT_OK && ms_sts_result_state(res) == MS_STS_UNKNOWN)
		rc = CLI_EXIT_ERROR;
	ms_sts_result_free(res);
	cli_sts_close(&r);
	return rc;
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
