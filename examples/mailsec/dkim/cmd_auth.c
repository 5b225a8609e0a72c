/*
 * cmd_auth.c - `mailsec auth --ip IP --helo NAME --sender ADDR [FILE]`:
 * SPF (RFC 7208), DKIM (RFC 6376), iprev (RFC 8601 s3) and DMARC
 * (RFC 7489) for one message, printed as the Authentication-Results field
 * an MTA would add (RFC 8601, with the DNSSEC status of each method), then
 * the details.  Exit 0 once the checks ran, whatever the results.
 */
#include "cli.h"

#include <mailsec/authres.h>
#include <mailsec/dkim.h>
#include <mailsec/dmarc.h>
#include <mailsec/iprev.h>
#include <mailsec/spf.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *b = malloc(cap);
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = cap < (256u << 20) ? realloc(b, cap * 2) : NULL;
			if (nb == NULL) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		*len = n;
	return b;
}

static enum ms_dmarc_dkim_result map_dkim(enum ms_dkim_result r)
{
	switch (r) {
	case MS_DKIM_PASS: return MS_DMARC_DKIM_PASS;
	case MS_DKIM_FAIL: return MS_DMARC_DKIM_FAIL;
	case MS_DKIM_NEUTRAL: return MS_DMARC_DKIM_NEUTRAL;
	case MS_DKIM_POLICY: return MS_DMARC_DKIM_POLICY;
	case MS_DKIM_TEMPERROR: return MS_DMARC_DKIM_TEMPERROR;
	case MS_DKIM_PERMERROR: return MS_DMARC_DKIM_PERMERROR;
	}
	return MS_DMARC_DKIM_PERMERROR;
}

static void print_field(const char *hdr)
{
	for (const char *p = hdr; *p; p++)
		if (*p != '\r')
			putchar(*p);
	putchar('\n');
}

int cmd_auth(struct cli *cli, int argc, char **argv)
{
	const char *ip = NULL, *helo = NULL, *sender = NULL, *file = NULL;
	const char *authserv = "localhost";
	static const char usage[] = "usage: auth --ip IP --helo NAME --sender ADDR "
				    "[--authserv-id ID] [FILE]";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (file)
				return cli_usage_error(cli, "%s", usage);
			file = a;
			continue;
		}
		if (val == NULL)
			return cli_usage_error(cli, "auth: %s needs a value", a);
		i++;
		if (strcmp(a, "--ip") == 0)
			ip = val;
		else if (strcmp(a, "--helo") == 0)
			helo = val;
		else if (strcmp(a, "--sender") == 0)
			sender = val;
		else if (strcmp(a, "--authserv-id") == 0)
			authserv = val;
		else
			return cli_usage_error(cli, "auth: unknown option '%s'", a);
	}
	if (ip == NULL || helo == NULL || sender == NULL)
		return cli_usage_error(cli, "%s", usage);
	FILE *in = file && strcmp(file, "-") ? fopen(file, "rb") : stdin;
	if (in == NULL)
		return cli_error(cli, CLI_EXIT_USAGE, "auth: cannot open %s", file);
	size_t len = 0;
	char *msg = slurp(in, &len);
	if (in != stdin)
		fclose(in);
	if (msg == NULL)
		return cli_error(cli, CLI_EXIT_ERROR, "auth: cannot read the message");

	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL) {
		free(msg);
		return CLI_EXIT_USAGE;
	}
	int rc = CLI_EXIT_OK;
	char why[256] = "";
	struct ms_spf *spf = NULL;
	struct ms_spf_verdict *sv = NULL;
	struct ms_iprev_verdict *iv = NULL;
	struct ms_dkim_verifier *dv = NULL;
	struct ms_dkim_verify *vf = NULL;
	struct ms_dmarc *dm = NULL;
	struct ms_dmarc_verdict *mv = NULL;
	struct ms_ar *ar = NULL;
	const char **ddom = NULL, **dsel = NULL;
	enum ms_dmarc_dkim_result *dres = NULL;

	/* SPF (MAIL FROM) and iprev. */
	if (ms_spf_new(&cli->env, dns, &spf) != MS_OK ||
	    ms_spf_check_mailfrom(spf, ip, helo, sender, &sv, why, sizeof(why)) != MS_OK) {
		rc = cli_usage_error(cli, "auth: spf: %s", why[0] ? why : "out of memory");
		goto out;
	}
	if (ms_iprev_check(&cli->env, dns, ip, MS_IPREV_DEFAULT_MAX_NAMES, &iv, why,
			   sizeof(why)) != MS_OK) {
		rc = cli_usage_error(cli, "auth: iprev: %s", why);
		goto out;
	}
	/* DKIM. */
	if (ms_dkim_verifier_new(&cli->env, dns, &dv) != MS_OK ||
	    ms_dkim_verify_new(dv, &vf) != MS_OK ||
	    ms_dkim_verify_feed(vf, (const uint8_t *)msg, len, why, sizeof(why)) != MS_OK ||
	    ms_dkim_verify_finish(vf, why, sizeof(why)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_USAGE, "auth: dkim: %s", why[0] ? why : "out of memory");
		goto out;
	}
	size_t nsig = ms_dkim_verify_count(vf);
	ddom = calloc(nsig + 1, sizeof(*ddom));
	dsel = calloc(nsig + 1, sizeof(*dsel));
	dres = calloc(nsig + 1, sizeof(*dres));
	if (!ddom || !dsel || !dres) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "auth: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsig; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		ddom[i] = ms_dkim_sig_domain(s);
		dsel[i] = ms_dkim_sig_selector(s);
		dres[i] = map_dkim(ms_dkim_sig_result(s));
	}
	/* DMARC, from the author domain: the library finds the From fields
	 * (any spelling of the name, past the DKIM header bounds). */
	enum ms_dmarc_from_outcome fo = MS_DMARC_FROM_MALFORMED;
	char fromdom[256] = "";
	char fwhy[200] = "";
	if (ms_dmarc_from_message((const uint8_t *)msg, len, &fo, fromdom, sizeof(fromdom), fwhy,
				  sizeof(fwhy)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "auth: dmarc: %s", fwhy);
		goto out;
	}
	if (fo == MS_DMARC_FROM_OK) {
		if (ms_dmarc_new(&cli->env, dns, &dm, why, sizeof(why)) != MS_OK ||
		    ms_dmarc_check(dm, fromdom, ms_spf_verdict_result(sv),
				   ms_spf_verdict_domain(sv), ddom, dsel, dres, nsig, &mv, why,
				   sizeof(why)) != MS_OK) {
			rc = cli_error(cli, CLI_EXIT_ERROR, "auth: dmarc: %s", why);
			goto out;
		}
	}

	/* The Authentication-Results field. */
	if (ms_ar_new(&cli->env, authserv, &ar) != MS_OK) {
		rc = cli_usage_error(cli, "auth: bad --authserv-id");
		goto out;
	}
	ms_ar_add_spf(ar, sv);
	if (nsig == 0)
		ms_ar_add_dkim(ar, MS_DMARC_DKIM_NONE, NULL, NULL, NULL, MS_DNS_INDETERMINATE);
	for (size_t i = 0; i < nsig; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		const char *r = ms_dkim_sig_reason(s);
		ms_ar_add_dkim(ar, dres[i], ddom[i], dsel[i], r && *r ? r : NULL,
			       ms_dkim_sig_dnssec(s));
		if (*ms_dkim_sig_b_prefix(s))
			ms_ar_add_prop(ar, "header", "b", ms_dkim_sig_b_prefix(s));
	}
	if (mv)
		ms_ar_add_dmarc(ar, mv);
	else
		ms_ar_add(ar, "dmarc", "permerror", ms_dmarc_from_outcome_str(fo),
			  MS_DNS_INDETERMINATE);
	ms_ar_add_iprev(ar, iv);
	char hdr[8192];
	if (ms_ar_write(ar, hdr, sizeof(hdr)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "auth: Authentication-Results too long");
		goto out;
	}

	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "authentication_results", hdr);
		json_object_begin(&j, "spf");
		json_string(&j, "result", ms_spf_result_str(ms_spf_verdict_result(sv)));
		json_string(&j, "domain", ms_spf_verdict_domain(sv));
		json_string(&j, "dnssec", ms_dns_security_str(ms_spf_verdict_dnssec(sv)));
		json_object_end(&j);
		json_array_begin(&j, "dkim");
		for (size_t i = 0; i < nsig; i++) {
			const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
			json_object_begin(&j, NULL);
			json_string(&j, "result", ms_dkim_result_str(ms_dkim_sig_result(s)));
			json_string(&j, "domain", ddom[i]);
			json_string(&j, "selector", dsel[i]);
			json_string(&j, "algorithm",
				    ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s)));
			json_string(&j, "dnssec", ms_dns_security_str(ms_dkim_sig_dnssec(s)));
			json_string(&j, "reason", ms_dkim_sig_reason(s));
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_begin(&j, "dmarc");
		json_string(&j, "result", mv ? ms_dmarc_result_str(ms_dmarc_verdict_result(mv))
					     : "permerror");
		json_string(&j, "from_domain", fromdom[0] ? fromdom : NULL);
		json_string(&j, "reason", mv ? ms_dmarc_verdict_reason(mv)
					     : ms_dmarc_from_outcome_str(fo));
		json_string(&j, "disposition",
			    mv ? ms_dmarc_policy_str(ms_dmarc_verdict_disposition(mv)) : NULL);
		json_object_end(&j);
		json_object_begin(&j, "iprev");
		json_string(&j, "result", ms_iprev_result_str(ms_iprev_verdict_result(iv)));
		json_string(&j, "name", ms_iprev_verdict_name(iv));
		json_object_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		print_field(hdr);
		printf("\nspf:   %s (domain %s, dnssec %s)\n",
		       ms_spf_result_str(ms_spf_verdict_result(sv)), ms_spf_verdict_domain(sv),
		       ms_dns_security_str(ms_spf_verdict_dnssec(sv)));
		if (nsig == 0)
			printf("dkim:  none (no DKIM-Signature)\n");
		for (size_t i = 0; i < nsig; i++) {
			const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
			const char *r = ms_dkim_sig_reason(s);
			printf("dkim:  %s d=%s s=%s a=%s dnssec=%s%s%s\n",
			       ms_dkim_result_str(ms_dkim_sig_result(s)), ddom[i] ? ddom[i] : "-",
			       dsel[i] ? dsel[i] : "-",
			       ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s)),
			       ms_dns_security_str(ms_dkim_sig_dnssec(s)), r && *r ? " reason=" : "",
			       r ? r : "");
		}
		if (mv)
			printf("dmarc: %s (from %s, disposition %s, dnssec %s): %s\n",
			       ms_dmarc_result_str(ms_dmarc_verdict_result(mv)), fromdom,
			       ms_dmarc_policy_str(ms_dmarc_verdict_disposition(mv)),
			       ms_dns_security_str(ms_dmarc_verdict_dnssec(mv)),
			       ms_dmarc_verdict_reason(mv) ? ms_dmarc_verdict_reason(mv) : "");
		else
			printf("dmarc: permerror (From: %s)\n", ms_dmarc_from_outcome_str(fo));
		const char *nm = ms_iprev_verdict_name(iv);
		printf("iprev: %s%s%s\n", ms_iprev_result_str(ms_iprev_verdict_result(iv)),
		       nm ? " " : "", nm ? nm : "");
	}
out:
	ms_ar_free(ar);
	ms_dmarc_verdict_free(mv);
	ms_dmarc_free(dm);
	free(ddom);
	free(dsel);
	free(dres);
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_free(dv);
	ms_iprev_verdict_free(iv);
	ms_spf_verdict_free(sv);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
	free(msg);
	return rc;
}
