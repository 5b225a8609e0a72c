/*
 * dkim_verify.c - the minimal DKIM program from docs/dkim.md: verify every
 * DKIM-Signature of a message read from standard input, streaming it in
 * chunks as an MTA receives it.
 *
 *   dkim_verify [UNBOUND.CONF] < message.eml
 */
#include <stdio.h>

#include <mailsec/dkim.h>
#include <mailsec/dns.h>

int main(int argc, char **argv)
{
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION };
	if (argc == 2) {
		cfg.mode = MS_DNS_MODE_CONFIG_FILE;
		cfg.config_file = argv[1];
	}
	struct ms_dns_ctx *dns = NULL;
	struct ms_dkim_verifier *verifier = NULL;
	struct ms_dkim_verify *vf = NULL;
	char why[256] = "";
	int rc = 2;
	if (ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) != MS_OK ||
	    ms_dkim_verifier_new(NULL, dns, &verifier) != MS_OK ||   /* shareable, caches keys */
	    ms_dkim_verify_new(verifier, &vf) != MS_OK)               /* one per message */
		goto out;
	unsigned char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		if (ms_dkim_verify_feed(vf, buf, n, why, sizeof(why)) != MS_OK)
			goto out;
	if (ms_dkim_verify_finish(vf, why, sizeof(why)) != MS_OK)
		goto out;
	if (ms_dkim_verify_count(vf) == 0)
		printf("none: the message has no DKIM-Signature\n");
	rc = 0;
	for (size_t i = 0; i < ms_dkim_verify_count(vf); i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		const char *reason = ms_dkim_sig_reason(s);
		int has_reason = reason && *reason;
		printf("%s d=%s s=%s a=%s dnssec=%s%s%s\n", ms_dkim_result_str(ms_dkim_sig_result(s)),
		       ms_dkim_sig_domain(s) ? ms_dkim_sig_domain(s) : "?",
		       ms_dkim_sig_selector(s) ? ms_dkim_sig_selector(s) : "?",
		       ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s)),
		       ms_dns_security_str(ms_dkim_sig_dnssec(s)),
		       has_reason ? ": " : "", has_reason ? reason : "");
		if (ms_dkim_sig_result(s) != MS_DKIM_PASS)
			rc = 1;
	}
out:
	if (rc == 2)
		fprintf(stderr, "dkim_verify: %s\n", why[0] ? why : "setup failed");
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_free(verifier);
	ms_dns_ctx_free(dns);
	return rc;
}
