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

/* Read a policy file (or "-" for stdin), at most 64 KiB plus one byte so
 * that an oversized file is detected rather than truncated. */
static int read_policy(const struct cli *cli, const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return cli_usage_error(cli, "cannot open %s", path);
	*buf = malloc(MS_STS_POLICY_MAX + 1);
	if (*buf == NULL)
		return cli_error(cli, CLI_EXIT_ERROR, "out of memory");
	*len = fread(*buf, 1, MS_STS_POLICY_MAX + 1, f);
	int err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err) {
		free(*buf);
		return cli_usage_error(cli, "cannot read %s", path);
	}
	return CLI_EXIT_OK;
}

static void json_policy(struct json *j, const struct ms_sts_policy *p)
{
	json_string(j, "mode", p ? ms_sts_mode_str(ms_sts_policy_mode(p)) : NULL);
	if (p)
		json_int(j, "max_age", ms_sts_policy_max_age(p));
	else
		json_null(j, "max_age");
	json_array_begin(j, "mx");
	for (size_t i = 0; p && i < ms_sts_policy_mx_count(p); i++)
		json_string(j, NULL, ms_sts_policy_mx(p, i));
	json_array_end(j);
}

static void print_policy(const struct ms_sts_policy *p)
{
	printf("  mode:      %s\n", ms_sts_mode_str(ms_sts_policy_mode(p)));
	printf("  max_age:   %u\n", ms_sts_policy_max_age(p));
	for (size_t i = 0; i < ms_sts_policy_mx_count(p); i++)
		printf("  mx:        %s\n", ms_sts_policy_mx(p, i));
}

static int cmd_parse(struct cli *cli, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error(cli, "usage: mailsec mtasts parse FILE");
	uint8_t *buf;
	size_t len;
	int rc = read_policy(cli, argv[1], &buf, &len);
	if (rc != CLI_EXIT_OK)
		return rc;
	struct ms_sts_policy *p = NULL;
	char why[256] = "";
	ms_status st = ms_sts_policy_parse(&cli->env, buf, len, &p, why, sizeof(why));
	free(buf);
	if (st == MS_ERR_NOMEM)
		return cli_error(cli, CLI_EXIT_ERROR, "out of memory");
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_bool(&j, "valid", st == MS_OK);
		json_string(&j, "error", st == MS_OK ? NULL : why);
		json_policy(&j, p);
		json_object_end(&j);
		json_finish(&j);
	} else if (st == MS_OK) {
		printf("valid policy\n");
		print_policy(p);
	} else {
		printf("invalid policy: %s\n", why);
	}
	ms_sts_policy_free(p);
	return st == MS_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int cmd_match(struct cli *cli, int argc, char **argv)
{
	if (argc != 3)
		return cli_usage_error(cli, "usage: mailsec mtasts match FILE MXHOST");
	uint8_t *buf;
	size_t len;
	int rc = read_policy(cli, argv[1], &buf, &len);
	if (rc != CLI_EXIT_OK)
		return rc;
	struct ms_sts_policy *p = NULL;
	char why[256] = "";
	ms_status st = ms_sts_policy_parse(&cli->env, buf, len, &p, why, sizeof(why));
	free(buf);
	if (st != MS_OK)
		return cli_usage_error(cli, "%s: invalid policy: %s", argv[1], why);
	const char *host = argv[2];
	const char *pattern = NULL;
	for (size_t i = 0; i < ms_sts_policy_mx_count(p) && !pattern; i++)
		if (ms_sts_mx_pattern_match(ms_sts_policy_mx(p, i), host))
			pattern = ms_sts_policy_mx(p, i);
	enum ms_sts_verdict v = ms_sts_verdict_for(ms_sts_policy_mode(p), pattern == NULL);
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "mx", host);
		json_bool(&j, "match", pattern != NULL);
		json_string(&j, "pattern", pattern);
		json_string(&j, "mode", ms_sts_mode_str(ms_sts_policy_mode(p)));
		json_string(&j, "verdict", ms_sts_verdict_str(v));
		json_object_end(&j);
		json_finish(&j);
	} else if (pattern) {
		printf("%s matches %s\n", host, pattern);
	} else {
		printf("%s matches no mx pattern (mode %s: %s)\n", host,
		       ms_sts_mode_str(ms_sts_policy_mode(p)), ms_sts_verdict_str(v));
	}
	ms_sts_policy_free(p);
	return pattern ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

struct fetch_opts {
	const char *domain, *ca_file, *connect_to, *cache;
};

static int take_opts(struct cli *cli, int argc, char **argv, struct fetch_opts *o,
		     const char **pos, int maxpos, int *npos)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = strcmp(a, "--ca-file") == 0 ? &o->ca_file :
				   strcmp(a, "--connect-to") == 0 ? &o->connect_to :
				   strcmp(a, "--cache") == 0 ? &o->cache : NULL;
		if (dst) {
			if (i + 1 >= argc)
				return cli_usage_error(cli, "%s needs a value", a);
			*dst = argv[++i];
		} else if (a[0] == '-' && a[1] == '-') {
			return cli_usage_error(cli, "unknown option %s", a);
		} else if (*npos < maxpos) {
			pos[(*npos)++] = a;
		} else {
			return cli_usage_error(cli, "unexpected argument %s", a);
		}
	}
	return CLI_EXIT_OK;
}

/* The resolver, store and discovery handle of fetch/purge/refresh. */
struct rig {
	struct ms_dns_ctx *dns;
	struct ms_sts_store *store;
	struct ms_sts *sts;
};

static void rig_free(struct rig *r)
{
	ms_sts_free(r->sts);
	ms_sts_store_free(r->store);
	ms_dns_ctx_free(r->dns);
}

static int rig_open(struct cli *cli, const struct fetch_opts *o, struct rig *r)
{
	memset(r, 0, sizeof(*r));
	char why[512] = "";
	r->dns = cli_dns_ctx(cli);
	if (r->dns == NULL)
		return CLI_EXIT_USAGE;
	if (o->cache && ms_sts_store_new_sqlite(&cli->env, o->cache, &r->store, why,
						sizeof(why)) != MS_OK) {
		rig_free(r);
		return cli_usage_error(cli, "cache: %s", why);
	}
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = o->ca_file;
	cfg.fetch.connect_to = o->connect_to;
	cfg.fetch.timeout_ms = cli->timeout_ms;
	if (ms_sts_new(&cli->env, &cfg, r->dns, r->store, &r->sts, why, sizeof(why)) != MS_OK) {
		rig_free(r);
		return cli_error(cli, CLI_EXIT_ERROR, "%s", why);
	}
	return CLI_EXIT_OK;
}

static const char *source_str(enum ms_sts_source s)
{
	switch (s) {
	case MS_STS_SRC_FETCHED: return "fetched";
	case MS_STS_SRC_CACHE: return "cache";
	case MS_STS_SRC_NONE: break;
	}
	return "none";
}

static int cmd_fetch(struct cli *cli, int argc, char **argv)
{
	struct fetch_opts o = { 0 };
	const char *pos[1];
	int npos;
	int rc = take_opts(cli, argc, argv, &o, pos, 1, &npos);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (npos != 1)
		return cli_usage_error(cli, "usage: mailsec mtasts fetch DOMAIN [--ca-file F] "
				       "[--connect-to HOST:PORT:ADDR:PORT] [--cache FILE]");
	struct rig r;
	if ((rc = rig_open(cli, &o, &r)) != CLI_EXIT_OK)
		return rc;
	struct ms_sts_result *res = NULL;
	char why[512] = "";
	ms_status st = ms_sts_get_policy(r.sts, pos[0], &res, why, sizeof(why));
	if (st != MS_OK) {
		rig_free(&r);
		return cli_error(cli, st == MS_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
				 "%s", why);
	}
	const struct ms_sts_policy *p = ms_sts_result_policy(res);
	enum ms_tlsrpt_result f = ms_sts_result_failure(res);
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "domain", pos[0]);
		json_string(&j, "record_id", ms_sts_result_record_id(res)[0] ?
			    ms_sts_result_record_id(res) : NULL);
		json_string(&j, "record", ms_sts_result_record_note(res));
		json_bool(&j, "policy", p != NULL);
		json_string(&j, "source", source_str(ms_sts_result_source(res)));
		json_string(&j, "policy_id", ms_sts_result_policy_id(res));
		json_policy(&j, p);
		if (p)
			json_int(&j, "expires", ms_sts_result_expires(res));
		else
			json_null(&j, "expires");
		json_string(&j, "failure", f ? ms_tlsrpt_result_name(f) : NULL);
		json_string(&j, "failure_detail", f ? ms_sts_result_failure_detail(res) : NULL);
		json_bool(&j, "backoff", ms_sts_result_backoff(res));
		json_string(&j, "policy_text", ms_sts_result_policy_text(res));
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("%s\n", pos[0]);
		printf("  record:    %s%s%s\n", ms_sts_result_record_note(res),
		       ms_sts_result_record_id(res)[0] ? ", id=" : "",
		       ms_sts_result_record_id(res));
		if (p) {
			printf("  policy:    id=%s from %s, expires %lld\n",
			       ms_sts_result_policy_id(res), source_str(ms_sts_result_source(res)),
			       (long long)ms_sts_result_expires(res));
			print_policy(p);
		} else {
			printf("  policy:    none\n");
		}
		if (f)
			printf("  failure:   %s: %s%s\n", ms_tlsrpt_result_name(f),
			       ms_sts_result_failure_detail(res),
			       ms_sts_result_backoff(res) ? " (backing off)" : "");
	}
	ms_sts_result_free(res);
	rig_free(&r);
	return CLI_EXIT_OK;
}

static int cmd_purge(struct cli *cli, int argc, char **argv)
{
	struct fetch_opts o = { 0 };
	const char *pos[1];
	int npos;
	int rc = take_opts(cli, argc, argv, &o, pos, 1, &npos);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (o.cache == NULL)
		return cli_usage_error(cli, "usage: mailsec mtasts purge --cache FILE [DOMAIN]");
	struct rig r;
	if ((rc = rig_open(cli, &o, &r)) != CLI_EXIT_OK)
		return rc;
	ms_status st = ms_sts_purge(r.sts, npos ? pos[0] : NULL);
	rig_free(&r);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "purge: %s", ms_status_str(st));
	if (cli->json)
		printf("{\"purged\":true}\n");
	return CLI_EXIT_OK;
}

static int cmd_refresh(struct cli *cli, int argc, char **argv)
{
	struct fetch_opts o = { 0 };
	const char *pos[1];
	int npos;
	int rc = take_opts(cli, argc, argv, &o, pos, 0, &npos);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (o.cache == NULL)
		return cli_usage_error(cli, "usage: mailsec mtasts refresh --cache FILE");
	struct rig r;
	if ((rc = rig_open(cli, &o, &r)) != CLI_EXIT_OK)
		return rc;
	size_t ref = 0, failed = 0, dropped = 0;
	ms_status st = ms_sts_refresh(r.sts, &ref, &failed, &dropped);
	rig_free(&r);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "refresh: %s", ms_status_str(st));
	if (cli->json)
		printf("{\"refreshed\":%zu,\"failed\":%zu,\"dropped\":%zu}\n", ref, failed, dropped);
	else
		printf("refreshed %zu, failed %zu, dropped %zu\n", ref, failed, dropped);
	return CLI_EXIT_OK;
}

int cmd_mtasts(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(cli, "usage: mailsec mtasts fetch DOMAIN | parse FILE | "
				       "match FILE MXHOST | purge --cache F [DOMAIN] | "
				       "refresh --cache F");
	const char *sub = argv[1];
	if (strcmp(sub, "parse") == 0)
		return cmd_parse(cli, argc - 1, argv + 1);
	if (strcmp(sub, "match") == 0)
		return cmd_match(cli, argc - 1, argv + 1);
	if (strcmp(sub, "fetch") == 0)
		return cmd_fetch(cli, argc - 1, argv + 1);
	if (strcmp(sub, "purge") == 0)
		return cmd_purge(cli, argc - 1, argv + 1);
	if (strcmp(sub, "refresh") == 0)
		return cmd_refresh(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "unknown mtasts command '%s'", sub);
}
