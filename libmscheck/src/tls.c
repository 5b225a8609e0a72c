/*
 * tls.c - per MX host: DANE records (RFC 7672 s2.2) and their
 * rollover state, then a live SMTP STARTTLS probe that verifies the chain
 * against the TLSA records, checks the certificate for MTA-STS (WebPKI,
 * RFC 8461 s4.2) and reads the post-TLS EHLO for REQUIRETLS (RFC 8689).
 * Hosts are probed in parallel, one thread each.
 */
#include "check_int.h"

#include <mailsec/requiretls_verify.h>

#include <mailsec/requiretls_smtp.h>

#include <string.h>
#include <strings.h>

struct job {
	struct ms_check_report *c;
	struct mx_host *m;
};

static void dane_records(struct ms_check_report *c, struct mx_host *m, const struct ms_dane_lookup *l)
{
	const struct ms_dane_tlsa *recs;
	size_t n = ms_dane_lookup_records(l, &recs);
	size_t ee = 0, ta = 0;
	for (size_t i = 0; i < n && m->ntlsa < CHECK_MAX_TLSA; i++) {
		ms_dane_tlsa_to_text(&recs[i], m->tlsa[m->ntlsa], sizeof(m->tlsa[0]));
		m->ntlsa++;
		if (ms_dane_tlsa_usable(&recs[i])) {
			m->usable_tlsa++;
			if (recs[i].usage == 3)
				ee++;
			else if (recs[i].usage == 2)
				ta++;
		}
	}
	if (m->dane_state != MS_DANE_DNS_SECURE)
		return;
	if (m->usable_tlsa == 0) {
		check_add(c, "dane_valid", "dane", m->name, CHECK_FAIL,
			  "publish DANE-EE(3) or DANE-TA(2) records (RFC 7672 s3.1)",
			  "%zu TLSA record(s), none usable for SMTP: TLS is required but unauthenticated",
			  n);
		return;
	}
	/* RFC 7671 s8.1 / RFC 7672 s3.1.1: roll keys by publishing the next
	 * key's record beside the current one before the switch. */
	char item[300];
	snprintf(item, sizeof(item), "%s rollover", m->name);
	if (ee == 1 && ta == 0)
		check_add(c, "dane_rollover", "dane", item, CHECK_WARN,
			  "publish a 3 1 1 record for the next key now (mailsec dane rollover)",
			  "one DANE-EE record, no next key published");
	else if (ee >= 2 || ta >= 2 || (ee >= 1 && ta >= 1))
		check_add(c, "dane_rollover", "dane", item, CHECK_PASS, NULL,
			  "%zu DANE-EE and %zu DANE-TA records: a next key is published", ee, ta);
	else
		check_add(c, "dane_rollover", "dane", item, CHECK_INFO, NULL,
			  "one DANE-TA record (the CA may change on renewal)");
}

/* DANE and WebPKI (MTA-STS) checks of the probed chain: librequiretls's
 * peer verification, the one `send` uses. */
static void verify(struct ms_check_report *c, struct mx_host *m, const struct ms_dane_lookup *l,
		   const struct ms_dane_cert *chain, size_t n)
{
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION,
					 .ca_file = c->ca_file, .now = c->now };
	struct ms_rtls_peer p = { .version = MS_RTLS_PEER_VERSION };
	char why[256] = "";
	if (ms_rtls_verify_chain(&c->env, chain, n, m->name, l, &o, &p, why,
				 sizeof(why)) != MS_OK) {
		snprintf(m->pkix_why, sizeof(m->pkix_why), "verification impossible: %s", why);
		check_add(c, "dane_valid", "dane", m->name, CHECK_FAIL, NULL, "verification impossible: %s", why);
		return;
	}
	m->pkix_ok = p.pkix == MS_RTLS_STEP_OK;
	snprintf(m->pkix_why, sizeof(m->pkix_why), "%.159s", p.pkix_detail);
	if (m->dane_state != MS_DANE_DNS_SECURE || m->usable_tlsa == 0 || p.dane == MS_RTLS_STEP_NOT_DONE)
		return;
	if (p.dane_status != MS_OK) {
		check_add(c, "dane_valid", "dane", m->name, CHECK_FAIL, NULL, "verification impossible: %s",
			  p.dane_reason);
		return;
	}
	const struct ms_dane_tlsa *recs;
	size_t nrecs = ms_dane_lookup_records(l, &recs);
	m->dane_verdict = p.dane_verdict;
	m->dane_depth = p.dane_depth;
	snprintf(m->dane_why, sizeof(m->dane_why), "%s", p.dane_reason);
	if (p.dane_matched >= 0 && (size_t)p.dane_matched < nrecs)
		ms_dane_tlsa_to_text(&recs[p.dane_matched], m->dane_matched, sizeof(m->dane_matched));
	m->dane_ok = p.dane == MS_RTLS_STEP_OK;
	if (p.dane == MS_RTLS_STEP_OK)
		check_add(c, "dane_valid", "dane", m->name, CHECK_PASS, NULL, "verified: %s matched at depth %d",
			  m->dane_matched, p.dane_depth);
	else
		check_add(c, "dane_valid", "dane", m->name, CHECK_FAIL,
			  "publish TLSA records for the certificate the server sends, or "
			  "serve the certificate the records describe",
			  "%s: %s (TLSRPT %s)", ms_dane_verdict_str(p.dane_verdict), p.dane_reason,
			  ms_tlsrpt_result_name(p.dane_tlsrpt));
}

/* Probe one address of the MX host.  The first address fills the host's
 * facts (JSON "mx" entries); every address gets its own findings, named
 * "HOST ADDR" when the host has more than one (internet.nl probes each). */
static void probe(struct ms_check_report *c, struct mx_host *m, const struct ms_dane_lookup *l,
		  size_t k)
{
	char target[96], item[320], perr[200] = "";
	const char *a = m->addrs[k];
	int v6 = strchr(a, ':') != NULL;
	snprintf(target, sizeof(target), v6 ? "[%s]:%u" : "%s:%u", a, c->port);
	if (m->naddrs > 1)
		snprintf(item, sizeof(item), "%s %s", m->name, a);
	else
		snprintf(item, sizeof(item), "%s", m->name);
	check_progress(c, "probing %s (%s)", m->name, target);
	const char *base = ms_dane_lookup_base(l);
	const char *sni = base ? base : m->name;
	struct ms_rtls_probe_opts o = {
		.version = MS_RTLS_PROBE_VERSION, .connect = target,
		.sni = sni, .helo = "mailsec-check.invalid",
		.timeout_ms = c->timeout_ms ? c->timeout_ms : 10000,
	};
	struct ms_rtls_probe *p = NULL;
	ms_status st = ms_rtls_probe_run(&c->env, &o, &p, perr, sizeof(perr));
	int starttls = st == MS_OK ? 1 : strcasestr(perr, "STARTTLS") ? 0 : -1;
	if (k == 0) {
		m->probed = 1;
		m->starttls = starttls;
		snprintf(m->probe_error, sizeof(m->probe_error), "%s", perr);
	}
	/* internet.nl mx_reach: every IPv6 address of every MX answers SMTP */
	if (v6)
		check_add(c, "mx_reach", "ipv6", item, starttls >= 0 ? CHECK_PASS : CHECK_FAIL,
			  starttls >= 0 ? NULL : "make the MX host answer on its IPv6 address",
			  "%s", starttls >= 0 ? "answers SMTP over IPv6" : perr);
	if (st != MS_OK) {
		/* The probe names the failing step; STARTTLS refused or missing
		 * is a finding about the server, anything else a reachability one. */
		if (starttls == 0)
			check_add(c, "starttls_exists", "tls", item, CHECK_FAIL,
				  "enable STARTTLS on the server (RFC 3207)",
				  "no STARTTLS: %s", perr);
		else
			check_add(c, "starttls_exists", "tls", item, CHECK_FAIL,
				  "make port 25 reachable and answering",
				  "probe failed: %s", perr);
		return;
	}
	char tls[96];
	snprintf(tls, sizeof(tls), "%s", ms_rtls_probe_tls(p));
	check_add(c, "starttls_exists", "tls", item, CHECK_PASS, NULL, "STARTTLS, %s", tls);
	const struct ms_dane_cert *chain = NULL;
	size_t n = ms_rtls_probe_chain(p, &chain);
	if (k == 0) {
		snprintf(m->tls, sizeof(m->tls), "%s", tls);
		/* the post-TLS capabilities only (RFC 3207 s4.2, RFC 8689 s4.2.1) */
		m->requiretls = ms_rtls_ehlo_has(ms_rtls_probe_ehlo(p), "REQUIRETLS");
		char ritem[300];
		snprintf(ritem, sizeof(ritem), "%s REQUIRETLS", m->name);
		check_add(c, "x_requiretls", "tls", ritem, m->requiretls ? CHECK_PASS : CHECK_INFO,
			  NULL, "%s", m->requiretls ? "advertised after STARTTLS"
						    : "not advertised (RFC 8689 is optional)");
		verify(c, m, l, chain, n);
		/* WebPKI trust, always in the report (internet.nl cert_trust;
		 * a DANE-verified host needs no public CA: info then) */
		check_add(c, "cert_trust", "tls", item,
			  m->pkix_ok ? CHECK_PASS : m->dane_ok ? CHECK_INFO : CHECK_WARN,
			  m->pkix_ok || m->dane_ok ? NULL
				: "serve a chain from a public CA (or publish DANE records)",
			  "pkix_valid %s%s%s", m->pkix_ok ? "true" : "false",
			  m->pkix_ok ? "" : ": ", m->pkix_ok ? "" : m->pkix_why);
	}
	check_cert(c, item, m->name, chain, n);
	ms_rtls_probe_free(p);
	check_tls_quality(c, item, a, sni);
}

static void *check_host(void *arg)
{
	struct job *j = arg;
	struct ms_check_report *c = j->c;
	struct mx_host *m = j->m;
	check_current_order = (int)(m - c->mx) + 1;
	/* The TLSA lookup the route made for this host (the sender's own). */
	const struct ms_dane_lookup *l = ms_rtls_route_host_dane(m->route_host);
	m->starttls = -1;
	m->dane_depth = -1;
	if (l == NULL) {
		check_add(c, "dane_exists", "dane", m->name, CHECK_FAIL, NULL, "%s",
			  ms_rtls_route_host_dane_note(m->route_host));
		return NULL;
	}
	m->dane_state = ms_dane_lookup_state(l);
	snprintf(m->dane_reason, sizeof(m->dane_reason), "%s", ms_dane_lookup_reason(l));
	dane_records(c, m, l);
	if (m->dane_state == MS_DANE_DNS_SECURE && m->usable_tlsa > 0)
		check_add(c, "dane_exists", "dane", m->name, CHECK_PASS, NULL,
			  "%zu usable TLSA record(s), DNSSEC secure", m->usable_tlsa);
	if (m->dane_state == MS_DANE_DNS_TEMPFAIL) {
		check_add(c, "dane_exists", "dane", m->name, CHECK_FAIL,
			  "fix the DNSSEC chain of the TLSA records: senders defer mail to this host",
			  "%s", m->dane_reason);
	} else if (m->dane_state == MS_DANE_DNS_NONE) {
		int could = c->mx_security == MS_DNS_SECURE && m->addr_security == MS_DNS_SECURE;
		check_add(c, "dane_exists", "dane", m->name, could ? CHECK_WARN : CHECK_INFO,
			  could ? "publish TLSA records at _25._tcp (mailsec dane tlsa)" : NULL,
			  "no DANE: %s", m->dane_reason);
	}
	if (c->probe && m->dane_state != MS_DANE_DNS_TEMPFAIL)
		for (size_t k = 0; k < m->naddrs; k++)
			probe(c, m, l, k);
	return NULL;
}

void check_dane_and_tls(struct ms_check_report *c)
{
	pthread_t th[CHECK_MAX_MX];
	struct job jobs[CHECK_MAX_MX];
	int started[CHECK_MAX_MX] = { 0 };
	for (size_t i = 0; i < c->nmx; i++) {
		jobs[i] = (struct job){ c, &c->mx[i] };
		started[i] = pthread_create(&th[i], NULL, check_host, &jobs[i]) == 0;
		if (!started[i])
			check_host(&jobs[i]);
	}
	for (size_t i = 0; i < c->nmx; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}
