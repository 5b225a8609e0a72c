/*
 * spf_check.c - the minimal libspfdkim SPF program from docs/spfdkim.md.
 *
 *   spf_check [UNBOUND.CONF] IP SENDER HELO
 *
 * prints the RFC 7208 result and whether DNSSEC proved every lookup behind it.
 */
#include <stdio.h>

#include <mailsec/dns.h>
#include <mailsec/spf.h>

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: spf_check [UNBOUND.CONF] IP SENDER HELO\n");
		return 2;
	}
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION };
	if (argc == 5) {
		cfg.mode = MS_DNS_MODE_CONFIG_FILE;
		cfg.config_file = argv[1];
	}
	char **a = argv + argc - 3;
	struct ms_dns_ctx *dns = NULL;
	struct ms_spf *spf = NULL;
	struct ms_spf_verdict *v = NULL;
	char why[256] = "";
	if (ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) != MS_OK ||
	    ms_spf_new(NULL, dns, &spf) != MS_OK ||
	    ms_spf_check_mailfrom(spf, a[0], a[2], a[1], &v, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "spf_check: %s\n", why);
		ms_spf_free(spf);
		ms_dns_ctx_free(dns);
		return 2;
	}
	printf("%s (%s, %u DNS lookups, DNSSEC %s)\n",
	       ms_spf_result_str(ms_spf_verdict_result(v)),
	       ms_spf_verdict_mechanism(v) ? ms_spf_verdict_mechanism(v) : "default",
	       ms_spf_verdict_dns_lookups(v),
	       ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	ms_spf_verdict_free(v);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	return 0;
}
