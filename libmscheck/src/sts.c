/*
 * sts.c - MTA-STS (RFC 8461): the _mta-sts record, the HTTPS policy
 * fetch and its certificate, the policy, each MX against it (s4.1) and the
 * WebPKI validity of each MX certificate (s4.2); TLSRPT (RFC 8460 s3).
 */
#include "check_int.h"

#include <mailsec/mtasts.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void check_mtasts(struct ms_check_report *c)
{
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = c->ca_file;
	cfg.fetch.connect_to = c->nconnect_to ? c->connect_to[0] : NULL;
	cfg.fetch.timeout_ms = c->timeout_ms ? c->timeout_ms : 20000;
	struct ms_sts *sts = NULL;
	struct ms_sts_result *r = NULL;
	char why[256] = "";
	if (ms_sts_new(&c->env, &cfg, c->dns, NULL, &sts, why, sizeof(why)) != MS_OK ||
	    ms_sts_get_policy(sts, c->domain, &r, why, sizeof(why)) != MS_OK) {
		check_add(c, "x_mta_sts", "mta-sts", "policy", CHECK_FAIL, NULL, "check impossible: %s", why);
		ms_sts_free(sts);
		return;
	}
	enum ms_tlsrpt_result fail = ms_sts_result_failure(r);
	if (ms_sts_result_state(r) != MS_STS_POLICY) {
		if (fail != MS_TLSRPT_SUCCESS) {
			check_add(c, "x_mta_sts", "mta-sts", "policy", CHECK_FAIL,
				  "serve the policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt "
				  "with a valid certificate",
				  "record %s but no usable policy: %s (%s)",
				  ms_sts_result_record_note(r), ms_sts_result_failure_detail(r),
				  ms_tlsrpt_result_name(fail));
		} else {
			/* "DANE protects" only when it does: every MX host has
			 * usable TLSA records and none failed verification. */
			int dane = c->nmx > 0;
			for (size_t i = 0; i < c->nmx; i++) {
				const struct mx_host *m = &c->mx[i];
				dane &= m->dane_state == MS_DANE_DNS_SECURE && m->usable_tlsa > 0 &&
					(!m->probed || m->starttls != 1 || m->dane_ok);
			}
			check_add(c, "x_mta_sts", "mta-sts", "policy", dane ? CHECK_INFO : CHECK_WARN,
				  dane ? NULL : "publish an MTA-STS policy (or DNSSEC + DANE)",
				  "no MTA-STS (%s)%s", ms_sts_result_record_note(r),
				  dane ? "; DANE protects the MX hosts" : "");
		}
		goto out;
	}
	const struct ms_sts_policy *p = ms_sts_result_policy(r);
	enum ms_sts_mode mode = ms_sts_policy_mode(p);
	c->sts_policy = 1;
	snprintf(c->sts_mode, sizeof(c->sts_mode), "%s", ms_sts_mode_str(mode));
	snprintf(c->sts_id, sizeof(c->sts_id), "%s", ms_sts_result_policy_id(r));
	check_add(c, "x_mta_sts", "mta-sts", "record", CHECK_PASS, NULL, "id=%s", ms_sts_result_record_id(r));
	check_add(c, "x_mta_sts", "mta-sts", "policy", mode == MS_STS_MODE_ENFORCE ? CHECK_PASS :
					  mode == MS_STS_MODE_TESTING ? CHECK_WARN : CHECK_INFO,
		  mode == MS_STS_MODE_TESTING ? "switch to mode: enforce once TLSRPT reports are clean"
					      : NULL,
		  "fetched over HTTPS (valid certificate): mode %s, max_age %u, %zu mx pattern(s)",
		  ms_sts_mode_str(mode), ms_sts_policy_max_age(p), ms_sts_policy_mx_count(p));
	if (mode == MS_STS_MODE_NONE)
		goto out;
	enum check_status bad = mode == MS_STS_MODE_ENFORCE ? CHECK_FAIL : CHECK_WARN;
	for (size_t i = 0; i < c->nmx; i++) {
		struct mx_host *m = &c->mx[i];
		enum ms_tlsrpt_result f = MS_TLSRPT_SUCCESS;
		enum ms_sts_verdict v = ms_sts_result_check_mx(r, m->name, &f);
		if (v == MS_STS_PASS)
			check_add(c, "x_mta_sts", "mta-sts", m->name, CHECK_PASS, NULL, "matches the policy");
		else
			check_add(c, "x_mta_sts", "mta-sts", m->name, bad,
				  "add an mx: line for this host to the policy (and change the id)",
				  "not in the policy: %s senders will not deliver to it",
				  mode == MS_STS_MODE_ENFORCE ? "enforcing" : "testing");
		if (m->probed && m->starttls == 1) {
			if (m->pkix_ok)
				check_add(c, "x_mta_sts", "mta-sts", m->name, CHECK_PASS, NULL,
					  "certificate valid for %s (WebPKI)", m->name);
			else
				check_add(c, "x_mta_sts", "mta-sts", m->name, bad,
					  "serve a certificate from a public CA naming the MX host",
					  "certificate not valid for %s: %s", m->name, m->pkix_why);
		}
	}
out:
	ms_sts_result_free(r);
	ms_sts_free(sts);
}

/* RFC 8460 s3: exactly one "v=TLSRPTv1" record with a rua of mailto:/https:. */
void check_tlsrpt(struct ms_check_report *c)
{
	char name[300], why[256] = "";
	snprintf(name, sizeof(name), "_smtp._tls.%s", c->domain);
	char **txt = NULL;
	enum ms_dns_security sec;
	int n = check_txt(c, name, "v=TLSRPTv1", &txt, &sec, why, sizeof(why));
	int protected = c->sts_policy;
	for (size_t i = 0; i < c->nmx; i++)
		protected |= c->mx[i].dane_state == MS_DANE_DNS_SECURE;
	if (n < 0) {
		check_add(c, "x_tlsrpt", "tlsrpt", "record", CHECK_FAIL, NULL, "%s", why);
	} else if (n == 0) {
		check_add(c, "x_tlsrpt", "tlsrpt", "record", protected ? CHECK_WARN : CHECK_INFO,
			  protected ? "publish _smtp._tls TXT \"v=TLSRPTv1; rua=mailto:...\"" : NULL,
			  "no TLSRPT record: failures of DANE/MTA-STS go unreported");
	} else if (n > 1) {
		check_add(c, "x_tlsrpt", "tlsrpt", "record", CHECK_FAIL, "keep exactly one TLSRPT record",
			  "%d TLSRPT records (RFC 8460 s3: ignored)", n);
	} else {
		char bad[200] = "";
		int ok = check_tlsrpt_parse((const uint8_t *)txt[0], strlen(txt[0]), bad, sizeof(bad));
		check_add(c, "x_tlsrpt", "tlsrpt", "record", ok ? CHECK_PASS : CHECK_FAIL,
			  ok ? NULL : "publish \"v=TLSRPTv1; rua=mailto:ADDRESS\" (or https:)",
			  "%s%s%s", txt[0], ok ? "" : ": ", bad);
	}
	check_txt_free(txt, n);
}
