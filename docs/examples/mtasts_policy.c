/*
 * mtasts_policy.c - the minimal libmtasts program from docs/mtasts.md:
 * which MTA-STS policy applies to a domain, and may we deliver to an MX?
 *
 *   mtasts_policy [--dns-config UNBOUND.CONF] [--ca-file F] [--cache FILE]
 *                 [--connect-to HOST:PORT:ADDR:PORT] DOMAIN MXHOST
 *
 * System resolvers and CA store by default; with --cache the policy is kept
 * in an SQLite file between runs (RFC 8461 s5); --connect-to sends the
 * HTTPS fetch elsewhere while the URL, SNI and certificate name check stay
 * (libcurl resolves the policy host itself, not through --dns-config).  Exit status: 0 delivery to
 * MXHOST is allowed, 1 the policy forbids it, 2 an error.
 */
#include <stdio.h>
#include <string.h>

#include <mailsec/dns.h>
#include <mailsec/mtasts.h>

int main(int argc, char **argv)
{
	const char *conf = NULL, *ca = NULL, *cache = NULL, *connect_to = NULL;
	const char *domain = NULL, *mx = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dns-config") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
			ca = argv[++i];
		else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc)
			cache = argv[++i];
		else if (strcmp(argv[i], "--connect-to") == 0 && i + 1 < argc)
			connect_to = argv[++i];
		else if (domain == NULL)
			domain = argv[i];
		else
			mx = argv[i];
	}
	if (domain == NULL || mx == NULL) {
		fprintf(stderr, "usage: mtasts_policy [--dns-config UNBOUND.CONF] [--ca-file F] "
				"[--cache FILE] [--connect-to HOST:PORT:ADDR:PORT] DOMAIN MXHOST\n");
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
	cfg.fetch.connect_to = connect_to;
	struct ms_dns_config dcfg = { .version = MS_DNS_CONFIG_VERSION };
	if (conf) { /* the file is the whole resolver config */
		dcfg.mode = MS_DNS_MODE_CONFIG_FILE;
		dcfg.config_file = conf;
	}
	int rc = 2;
	if (ms_dns_ctx_new(NULL, &dcfg, &dns, why, sizeof(why)) != MS_OK)
		goto out;
	if (cache && ms_sts_store_new_sqlite(NULL, cache, &store, why, sizeof(why)) != MS_OK)
		goto out;
	if (ms_sts_new(NULL, &cfg, dns, store, &sts, why, sizeof(why)) != MS_OK ||
	    ms_sts_get_policy(sts, domain, &r, why, sizeof(why)) != MS_OK)
		goto out;
	if (ms_sts_result_state(r) != MS_STS_POLICY) {
		/* why: the DNS record's note, or what failed after it */
		const char *detail = ms_sts_result_failure_detail(r);
		printf("%s: no MTA-STS policy (%s)\n", domain,
		       detail && detail[0] ? detail : ms_sts_result_record_note(r));
		rc = 0;
		goto out;
	}
	enum ms_tlsrpt_result fail;
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
