/*
 * mtasts_policy.c - the minimal libmtasts program from docs/mtasts.md:
 * which MTA-STS policy applies to a domain, and may we deliver to an MX?
 *
 *   mtasts_policy [--ca-file F] [--cache FILE] DOMAIN MXHOST
 *
 * System resolvers and CA store by default; with --cache the policy is kept
 * in an SQLite file between runs (RFC 8461 s5).
 */
#include <stdio.h>
#include <string.h>

#include <mailsec/dns.h>
#include <mailsec/mtasts.h>

int main(int argc, char **argv)
{
	const char *ca = NULL, *cache = NULL, *domain = NULL, *mx = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
			ca = argv[++i];
		else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc)
			cache = argv[++i];
		else if (domain == NULL)
			domain = argv[i];
		else
			mx = argv[i];
	}
	if (domain == NULL || mx == NULL) {
		fprintf(stderr, "usage: mtasts_policy [--ca-file F] [--cache FILE] DOMAIN MXHOST\n");
		return 2;
	}
	char why[256] = "";
	struct ms_dns_ctx *dns = NULL;
	struct ms_sts_store *store = NULL;
	struct ms_sts *sts = NULL;
	struct ms_sts_result *r = NULL;
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = ca;
	int rc = 2;
	if (ms_dns_ctx_new(NULL, NULL, &dns, why, sizeof(why)) != MS_OK)
		goto out;
	if (cache && ms_sts_store_new_sqlite(NULL, cache, &store, why, sizeof(why)) != MS_OK)
		goto out;
	if (ms_sts_new(NULL, &cfg, dns, store, &sts, why, sizeof(why)) != MS_OK ||
	    ms_sts_get_policy(sts, domain, &r, why, sizeof(why)) != MS_OK)
		goto out;
	if (ms_sts_result_state(r) != MS_STS_POLICY) {
		printf("%s: no MTA-STS policy (%s)\n", domain, ms_sts_result_record_note(r));
		rc = 0;
		goto out;
	}
	enum ms_sts_failure fail;
	enum ms_sts_verdict v = ms_sts_result_check_mx(r, mx, &fail);
	printf("%s: mode %s; %s: %s\n", domain,
	       ms_sts_mode_str(ms_sts_policy_mode(ms_sts_result_policy(r))), mx,
	       ms_sts_verdict_str(v));
	rc = v == MS_STS_FAIL ? 1 : 0;
out:
	if (rc == 2 && why[0])
		fprintf(stderr, "mtasts_policy: %s\n", why);
	ms_sts_result_free(r);
	ms_sts_free(sts);
	ms_sts_store_free(store);
	ms_dns_ctx_free(dns);
	return rc;
}
