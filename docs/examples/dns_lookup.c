/*
 * dns_lookup.c - the minimal libdnssec-stub program from docs/dns.md.
 * Built by the test suite so the documentation cannot rot.
 *
 *   dns_lookup [UNBOUND.CONF] NAME
 * prints the MX hosts of NAME and whether DNSSEC proved them.
 */
#include <stdio.h>

#include <mailsec/dns.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: dns_lookup [UNBOUND.CONF] NAME\n");
		return 2;
	}
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION };
	if (argc == 3) {
		cfg.mode = MS_DNS_MODE_CONFIG_FILE;   /* the file is the whole config */
		cfg.config_file = argv[1];
	}
	const char *name = argv[argc - 1];

	struct ms_dns_ctx *ctx = NULL;
	char why[256] = "";
	if (ms_dns_ctx_new(NULL, &cfg, &ctx, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "resolver: %s\n", why);
		return 1;
	}
	struct ms_dns_result *r = NULL;
	if (ms_dns_lookup(ctx, name, MS_DNS_T_MX, &r, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "lookup: %s\n", why);
		ms_dns_ctx_free(ctx);
		return 1;
	}
	printf("%s MX: %s, %s\n", ms_dns_result_qname(r),
	       ms_dns_outcome_str(ms_dns_result_outcome(r)),
	       ms_dns_security_str(ms_dns_result_security(r)));
	if (ms_dns_result_is_null_mx(r))
		printf("  null MX: no mail accepted\n");
	for (size_t i = 0; i < ms_dns_result_count(r) && !ms_dns_result_is_null_mx(r); i++) {
		uint16_t pref;
		char host[256];
		if (ms_dns_result_mx(r, i, &pref, host, sizeof(host)) == MS_OK)
			printf("  %u %s\n", pref, host);
		else
			printf("  (malformed MX record)\n");
	}
	if (ms_dns_result_ede(r) >= 0)
		printf("  extended error %d: %s\n", ms_dns_result_ede(r),
		       ms_dns_ede_str(ms_dns_result_ede(r)));
	ms_dns_result_free(r);
	ms_dns_ctx_free(ctx);
	return 0;
}
