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

/* internet.nl spf_policy: the record must end in ~all or -all, without a
 * mechanism that lets any host pass first.  Judged by evaluation, so that
 * include:/redirect= count: addresses nobody may send from (RFC 6666's
 * discard prefix, 240.0.0.0/4 reserved space) must not get pass or
 * neutral ("+all", "?all", "ip4:0.0.0.0/0", no "all" at all). */
static void spf_policy(struct ms_check_report *c, struct ms_spf *spf, enum ms_spf_result r6,
		       const char *text)
{
	char why[256] = "";
	struct ms_spf_verdict *v = NULL;
	enum ms_spf_result r4 = MS_SPF_TEMPERROR;
	if (ms_spf_check_mailfrom(spf, "240.0.0.1", "mailsec-check.invalid", c->domain, &v, why,
				  sizeof(why)) == MS_OK) {
		r4 = ms_spf_verdict_result(v);
		ms_spf_verdict_free(v);
	}
	if (r4 == MS_SPF_TEMPERROR || r4 == MS_SPF_PERMERROR) {
		check_add(c, "spf_policy", "spf", "policy", CHECK_FAIL, NULL,
			  "evaluation for an IPv4 address failed: %s %s", ms_spf_result_str(r4), why);
		return;
	}
	enum ms_spf_result worst = r6 == MS_SPF_PASS || r4 == MS_SPF_PASS ? MS_SPF_PASS
				   : r6 == MS_SPF_NEUTRAL || r4 == MS_SPF_NEUTRAL ? MS_SPF_NEUTRAL
				   : r6 == MS_SPF_NONE || r4 == MS_SPF_NONE ? MS_SPF_NONE : r6;
	if (worst == MS_SPF_PASS)
		check_add(c, "spf_policy", "spf", "policy", CHECK_FAIL,
			  "end the record in -all (or ~all) and drop +all / 0.0.0.0/0 mechanisms",
			  "too permissive: any host passes (\"%s\")", text);
	else if (worst == MS_SPF_NEUTRAL || worst == MS_SPF_NONE)
		check_add(c, "spf_policy", "spf", "policy", CHECK_FAIL,
			  "end the record in -all (or ~all)",
			  "unlisted hosts get %s (?all or no all): the record protects nothing",
			  ms_spf_result_str(worst));
	else
		check_add(c, "spf_policy", "spf", "policy", CHECK_PASS, NULL,
			  "unlisted hosts get %s", ms_spf_result_str(worst));
}

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
	if (res != MS_SPF_PERMERROR && res != MS_SPF_TEMPERROR)
		spf_policy(c, spf, res, txt[0]);
	ms_spf_verdict_free(v);
	ms_spf_free(spf);
out:
	check_txt_free(txt, n);
}

/* RFC 7489 s7.1: a rua/ruf address outside the domain's organizational
 * domain receives reports only when <domain>._report._dmarc.<its domain>
 * authorises it; otherwise receivers drop them silently. */
static void dmarc_destinations(struct ms_check_report *c, const struct ms_dmarc_record *rec)
{
	struct ms_dmarc *d = NULL;
	char why[256] = "";
	size_t nrua = ms_dmarc_record_rua_count(rec), nruf = ms_dmarc_record_ruf_count(rec);
	if (nrua + nruf == 0)
		return;
	if (ms_dmarc_new(&c->env, c->dns, &d, why, sizeof(why)) != MS_OK) {
		check_add(c, "dmarc", "dmarc", "reports", CHECK_FAIL, NULL, "check impossible: %s", why);
		return;
	}
	for (size_t i = 0; i < nrua + nruf; i++) {
		const char *uri = i < nrua ? ms_dmarc_record_rua(rec, i) : ms_dmarc_record_ruf(rec, i - nrua);
		const char *tag = i < nrua ? "rua" : "ruf";
		int auth = -1;
		enum ms_dns_security sec = MS_DNS_INDETERMINATE;
		why[0] = '\0';
		if (strncasecmp(uri, "mailto:", 7) != 0) {
			check_add(c, "dmarc", "dmarc", "reports", CHECK_WARN,
				  "use a mailto: address (RFC 7489 s6.2)", "%s=%s: not a mailto: URI",
				  tag, uri);
			continue;
		}
		ms_status st = ms_dmarc_report_dest_verify(d, c->domain, uri, &auth, &sec, why,
							  sizeof(why));
		if (st != MS_OK || auth < 0)
			check_add(c, "dmarc", "dmarc", "reports", CHECK_FAIL,
				  "make the destination's _report._dmarc lookup answer",
				  "%s=%s: authorisation lookup failed: %s", tag, uri, why);
		else if (auth == 0)
			check_add(c, "dmarc", "dmarc", "reports", CHECK_FAIL,
				  "publish \"v=DMARC1\" at DOMAIN._report._dmarc.DESTINATION-DOMAIN, "
				  "or report to an address in the domain",
				  "%s=%s: outside destination not authorised (RFC 7489 s7.1): "
				  "receivers will not send reports", tag, uri);
		else
			check_add(c, "dmarc", "dmarc", "reports", CHECK_PASS, NULL,
				  "%s=%s: destination accepts the reports", tag, uri);
	}
	ms_dmarc_free(d);
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
	/* sp= (subdomains) and np= (non-existent subdomains, DMARCbis) weaker
	 * than p= open the door p= closes. */
	const char *tag[2] = { "sp", "np" };
	enum ms_dmarc_policy sub[2] = { ms_dmarc_record_sp(rec), ms_dmarc_record_np(rec) };
	for (int i = 0; i < 2; i++) {
		if (sub[i] == MS_DMARC_POLICY_ABSENT)
			continue;
		int weaker = sub[i] == MS_DMARC_POLICY_NONE && p != MS_DMARC_POLICY_NONE;
		check_add(c, "dmarc_policy", "dmarc", tag[i], weaker ? CHECK_WARN : CHECK_PASS,
			  weaker ? "set sp=/np= to quarantine or reject (or drop them: p= applies)"
				 : NULL,
			  "%s=%s%s", tag[i], ms_dmarc_policy_str(sub[i]),
			  weaker ? ": weaker than p=, subdomains can be spoofed" : "");
	}
	if (ms_dmarc_record_rua_count(rec) == 0)
		check_add(c, "dmarc", "dmarc", "reports", CHECK_INFO, NULL,
			  "no rua=: aggregate reports are not requested");
	dmarc_destinations(c, rec);
	ms_dmarc_record_free(rec);
	check_txt_free(txt, n);
}

/* Key records (RFC 6376 s3.6.1), parsed by check_dkim_key_parse(): the
 * key's type and size, revocation, t=y. */
/* internet.nl dkim: without knowing a selector, ask for _domainkey.DOMAIN:
 * NXDOMAIN means nothing exists below it (RFC 8020), so no key is
 * published; NOERROR (even without data) means names exist below it. */
static void dkim_exists(struct ms_check_report *c)
{
	char name[300], why[256] = "";
	snprintf(name, sizeof(name), "_domainkey.%s", c->domain);
	struct ms_dns_result *r = NULL;
	if (ms_dns_lookup(c->dns, name, MS_DNS_T_TXT, &r, why, sizeof(why)) != MS_OK) {
		check_add(c, "dkim", "dkim", "_domainkey", CHECK_FAIL, NULL, "lookup impossible: %s", why);
		return;
	}
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	enum ms_dns_security sec = ms_dns_result_security(r);
	if (o == MS_DNS_NXDOMAIN)
		check_add(c, "dkim", "dkim", "_domainkey", c->null_mx ? CHECK_INFO : CHECK_FAIL,
			  c->null_mx ? NULL : "sign outgoing mail with DKIM and publish the key "
			  "(mailsec setup prints the record)",
			  "%s does not exist (NXDOMAIN, RFC 8020): no DKIM key is published", name);
	else if (o == MS_DNS_ANSWER || o == MS_DNS_NODATA)
		check_add(c, "dkim", "dkim", "_domainkey", CHECK_PASS, NULL,
			  "%s exists (DNSSEC %s): DKIM keys are published below it", name,
			  ms_dns_security_str(sec));
	else
		check_add(c, "dkim", "dkim", "_domainkey", CHECK_FAIL,
			  "make the domain's name servers answer for _domainkey",
			  "%s: %s (%s)", name, ms_dns_outcome_str(o), ms_dns_security_str(sec));
	ms_dns_result_free(r);
}

void check_dkim(struct ms_check_report *c)
{
	dkim_exists(c);
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
		struct check_dkim_key k;
		if (!check_dkim_key_parse((const uint8_t *)txt[0], strlen(txt[0]), &k)) {
			check_add(c, "dkim", "dkim", item, CHECK_FAIL,
				  "publish the key record mailsec setup prints (v=DKIM1; k=...; p=...)",
				  "key record unusable: %s", k.problem);
		} else if (k.revoked) {
			check_add(c, "dkim", "dkim", item, CHECK_WARN, NULL, "key revoked (empty p=)");
		} else {
			/* RFC 8301 s3.2: verifiers refuse RSA keys below 1024 bits;
			 * signers use 2048 */
			int rsa = k.alg == CHECK_DKIM_RSA;
			enum check_status st = rsa && k.bits < 1024 ? CHECK_FAIL
					       : (rsa && k.bits < 2048) || k.testing ? CHECK_WARN : CHECK_PASS;
			check_add(c, "dkim", "dkim", item, st,
				  rsa && k.bits < 2048 ? "use a 2048-bit RSA key (RFC 8301 s3.2)"
				  : k.testing ? "drop t=y once signing works" : NULL,
				  "%s key published, %u bits (DNSSEC %s)%s%s", rsa ? "RSA" : "Ed25519",
				  k.bits, ms_dns_security_str(sec),
				  rsa && k.bits < 2048 ? ", RSA key shorter than 2048 bits" : "",
				  k.testing ? ", t=y (testing: verifiers may ignore the signature)" : "");
		}
		check_txt_free(txt, n);
	}
}
