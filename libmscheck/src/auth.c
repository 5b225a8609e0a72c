/*
 * auth.c - the sender-authentication records: SPF (RFC 7208: one
 * record, valid syntax, at most 10 DNS-querying terms), DMARC (RFC 7489
 * s6.3) and the DKIM keys (RFC 6376 s3.6.1) of the selectors asked for.
 */
#include "check_int.h"

#include <mailsec/dmarc.h>
#include <mailsec/spf.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void check_spf(struct ms_check_report *c)
{
	char **txt = NULL, why[256] = "";
	enum ms_dns_security sec;
	int n = check_txt(c, c->domain, "v=spf1", &txt, &sec, why, sizeof(why));
	if (n < 0) {
		check_add(c, "spf", "spf", "record", CHECK_FAIL, NULL, "%s", why);
		return;
	}
	if (n == 0) {
		check_add(c, "spf", "spf", "record", CHECK_WARN,
			  c->null_mx ? "publish \"v=spf1 -all\" for a domain that sends no mail"
				     : "publish an SPF record (e.g. \"v=spf1 mx -all\")",
			  "no SPF record");
		goto out;
	}
	if (n > 1) {
		check_add(c, "spf", "spf", "record", CHECK_FAIL, "merge them into exactly one record",
			  "%d SPF records: receivers return permerror (RFC 7208 s4.5)", n);
		goto out;
	}
	if (ms_spf_record_check((const uint8_t *)txt[0], strlen(txt[0]), why, sizeof(why)) != MS_OK) {
		check_add(c, "spf", "spf", "record", CHECK_FAIL, "fix the record syntax",
			  "invalid: %s", why);
		goto out;
	}
	/* Evaluate for an address from the discard prefix (RFC 6666) so that
	 * no mechanism matches early and every DNS-querying term is counted. */
	struct ms_spf *spf = NULL;
	struct ms_spf_verdict *v = NULL;
	if (ms_spf_new(&c->env, c->dns, &spf) != MS_OK ||
	    ms_spf_check_mailfrom(spf, "100::1", "mailsec-check.invalid", c->domain, &v, why,
				  sizeof(why)) != MS_OK) {
		check_add(c, "spf", "spf", "record", CHECK_FAIL, NULL, "evaluation impossible: %s", why);
		ms_spf_free(spf);
		goto out;
	}
	enum ms_spf_result res = ms_spf_verdict_result(v);
	unsigned lookups = ms_spf_verdict_dns_lookups(v);
	if (res == MS_SPF_PERMERROR || res == MS_SPF_TEMPERROR) {
		const char *problem = ms_spf_verdict_problem(v);
		check_add(c, "spf", "spf", "record", CHECK_FAIL,
			  "stay within 10 DNS lookups and 2 void lookups; fix includes that fail",
			  "%s when evaluated: %s", ms_spf_result_str(res), problem ? problem : "");
	} else {
		check_add(c, "spf", "spf", "record", lookups > 8 ? CHECK_WARN : CHECK_PASS,
			  lookups > 8 ? "flatten includes: close to the 10-lookup limit" : NULL,
			  "\"%s\": valid, %u DNS lookup(s), DNSSEC %s", txt[0], lookups,
			  ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	}
	ms_spf_verdict_free(v);
	ms_spf_free(spf);
out:
	check_txt_free(txt, n);
}

void check_dmarc(struct ms_check_report *c)
{
	char name[300], why[256] = "";
	snprintf(name, sizeof(name), "_dmarc.%s", c->domain);
	char **txt = NULL;
	enum ms_dns_security sec;
	int n = check_txt(c, name, "v=DMARC1", &txt, &sec, why, sizeof(why));
	if (n < 0) {
		check_add(c, "dmarc", "dmarc", "record", CHECK_FAIL, NULL, "%s", why);
		return;
	}
	if (n == 0)
		check_add(c, "dmarc", "dmarc", "record", CHECK_WARN,
			  "publish _dmarc TXT \"v=DMARC1; p=none; rua=mailto:...\" and tighten it",
			  "no DMARC record");
	else if (n > 1)
		check_add(c, "dmarc", "dmarc", "record", CHECK_FAIL, "keep exactly one DMARC record",
			  "%d DMARC records (RFC 7489 s6.6.3: none applies)", n);
	if (n != 1) {
		check_txt_free(txt, n);
		return;
	}
	struct ms_dmarc_record *rec = NULL;
	if (ms_dmarc_record_parse(&c->env, (const uint8_t *)txt[0], strlen(txt[0]), &rec,
				  why, sizeof(why)) != MS_OK) {
		check_add(c, "dmarc", "dmarc", "record", CHECK_FAIL, "fix the record syntax", "invalid: %s",
			  why);
		check_txt_free(txt, n);
		return;
	}
	enum ms_dmarc_policy p = ms_dmarc_record_p(rec);
	const char *pol = ms_dmarc_policy_str(p);
	int weak = strcmp(pol, "none") == 0;
	check_add(c, "dmarc_policy", "dmarc", "policy", weak ? CHECK_WARN : CHECK_PASS,
		  weak ? "move to p=quarantine or p=reject once reports are clean" : NULL,
		  "p=%s, pct=%u (DNSSEC %s)", pol, ms_dmarc_record_pct(rec),
		  ms_dns_security_str(sec));
	if (ms_dmarc_record_rua_count(rec) == 0)
		check_add(c, "dmarc", "dmarc", "reports", CHECK_INFO, NULL,
			  "no rua=: aggregate reports are not requested");
	ms_dmarc_record_free(rec);
	check_txt_free(txt, n);
}

/* Key records (RFC 6376 s3.6.1): v=DKIM1 if present first, k= rsa or
 * ed25519, p= base64; an empty p= is a revoked key. */
void check_dkim(struct ms_check_report *c)
{
	for (size_t i = 0; i < c->nselectors; i++) {
		char name[300], why[256] = "", item[96];
		snprintf(name, sizeof(name), "%s._domainkey.%s", c->selectors[i], c->domain);
		snprintf(item, sizeof(item), "selector %s", c->selectors[i]);
		char **txt = NULL;
		enum ms_dns_security sec;
		/* every TXT record: a key record need not start with v=DKIM1 */
		int n = check_txt(c, name, "", &txt, &sec, why, sizeof(why));
		if (n < 0) {
			check_add(c, "dkim", "dkim", item, CHECK_FAIL, NULL, "%s", why);
			continue;
		}
		if (n == 0)
			check_add(c, "dkim", "dkim", item, CHECK_FAIL, "publish the key (mailsec dkim keygen)",
				  "no key record at %s", name);
		else if (n > 1)
			check_add(c, "dkim", "dkim", item, CHECK_FAIL, "keep exactly one key record",
				  "%d TXT records at %s", n, name);
		if (n != 1) {
			check_txt_free(txt, n);
			continue;
		}
		const char *t = txt[0];
		const char *p = strstr(t, "p=");
		while (p && p != t && p[-1] != ';' && p[-1] != ' ' && p[-1] != '\t')
			p = strstr(p + 2, "p=");
		const char *k = strcasestr(t, "k=");
		int ed = k && strncasecmp(k + 2, "ed25519", 7) == 0;
		if (p == NULL) {
			check_add(c, "dkim", "dkim", item, CHECK_FAIL, "add the p= tag", "no p= tag: not a key record");
		} else if (p[2] == ';' || p[2] == '\0' || p[2] == ' ') {
			check_add(c, "dkim", "dkim", item, CHECK_WARN, NULL, "key revoked (empty p=)");
		} else {
			size_t b64 = strcspn(p + 2, "; \t");
			/* RSA-1024 is ~216 base64 characters of SPKI; Ed25519 is 44 */
			int weak = !ed && b64 < 300;
			check_add(c, "dkim", "dkim", item, weak ? CHECK_WARN : CHECK_PASS,
				  weak ? "use a 2048-bit RSA key (RFC 8301 s3.2)" : NULL,
				  "%s key published (DNSSEC %s)", ed ? "Ed25519" : "RSA",
				  ms_dns_security_str(sec));
		}
		check_txt_free(txt, n);
	}
}
