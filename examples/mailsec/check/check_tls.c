/*
 * check_tls.c - per MX host: DANE records (RFC 7672 s2.2) and their
 * rollover state, then a live SMTP STARTTLS probe that verifies the chain
 * against the TLSA records, checks the certificate for MTA-STS (WebPKI,
 * RFC 8461 s4.2) and reads the post-TLS EHLO for REQUIRETLS (RFC 8689).
 * Hosts are probed in parallel, one thread each.
 */
#include "check.h"

#include <mailsec/requiretls_verify.h>

#include <mailsec/requiretls_smtp.h>

#include <string.h>
#include <strings.h>

struct job {
	struct check *c;
	struct mx_host *m;
};

static void dane_records(struct check *c, struct mx_host *m, const struct ms_dane_lookup *l)
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
		check_add(c, "dane", m->name, CHECK_FAIL,
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
		check_add(c, "dane", item, CHECK_WARN,
			  "publish a 3 1 1 record for the next key now (mailsec dane rollover)",
			  "one DANE-EE record, no next key published");
	else if (ee >= 2 || ta >= 2 || (ee >= 1 && ta >= 1))
		check_add(c, "dane", item, CHECK_PASS, NULL,
			  "%zu DANE-EE and %zu DANE-TA records: a next key is published", ee, ta);
	else
		check_add(c, "dane", item, CHECK_INFO, NULL,
			  "one DANE-TA record (the CA may change on renewal)");
}

/* DANE and WebPKI (MTA-STS) checks of the probed chain: librequiretls's
 * peer verification, the one `send` uses. */
static void verify(struct check *c, struct mx_host *m, const struct ms_dane_lookup *l,
		   const struct ms_dane_cert *chain, size_t n)
{
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION,
					 .ca_file = c->ca_file, .now = cli_now(c->cli) };
	struct ms_rtls_peer p;
	char why[256] = "";
	if (ms_rtls_verify_chain(&c->cli->env, chain, n, m->name, l, &o, &p, why,
				 sizeof(why)) != MS_OK) {
		snprintf(m->pkix_why, sizeof(m->pkix_why), "verification impossible: %s", why);
		check_add(c, "dane", m->name, CHECK_FAIL, NULL, "verification impossible: %s", why);
		return;
	}
	m->pkix_ok = p.pkix == MS_RTLS_STEP_OK;
	snprintf(m->pkix_why, sizeof(m->pkix_why), "%.159s", p.pkix_detail);
	if (m->dane_state != MS_DANE_DNS_SECURE || m->usable_tlsa == 0 || p.dane == MS_RTLS_STEP_NOT_DONE)
		return;
	if (p.dane_status != MS_OK) {
		check_add(c, "dane", m->name, CHECK_FAIL, NULL, "verification impossible: %s",
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
	if (p.dane == MS_RTLS_STEP_OK)
		check_add(c, "dane", m->name, CHECK_PASS, NULL, "verified: %s matched at depth %d",
			  m->dane_matched, p.dane_depth);
	else
		check_add(c, "dane", m->name, CHECK_FAIL,
			  "publish TLSA records for the certificate the server sends, or "
			  "serve the certificate the records describe",
			  "%s: %s (TLSRPT %s)", ms_dane_verdict_str(p.dane_verdict), p.dane_reason,
			  ms_tlsrpt_result_name(p.dane_tlsrpt));
}

static void probe(struct check *c, struct mx_host *m, const struct ms_dane_lookup *l)
{
	char target[96];
	const char *a = m->addrs[0];
	snprintf(target, sizeof(target), strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, c->port);
	if (c->progress)
		fprintf(stderr, "mailsec check: probing %s (%s)\n", m->name, target);
	const char *base = ms_dane_lookup_base(l);
	struct ms_rtls_probe_opts o = {
		.version = MS_RTLS_PROBE_VERSION, .connect = target,
		.sni = base ? base : m->name, .helo = "mailsec-check.invalid",
		.timeout_ms = c->cli->timeout_ms ? c->cli->timeout_ms : 10000,
	};
	struct ms_rtls_probe *p = NULL;
	ms_status st = ms_rtls_probe_run(&c->cli->env, &o, &p, m->probe_error,
					 sizeof(m->probe_error));
	m->probed = 1;
	if (st != MS_OK) {
		/* The probe names the failing step; STARTTLS refused or missing
		 * is a finding about the server, anything else a reachability one. */
		m->starttls = strcasestr(m->probe_error, "STARTTLS") ? 0 : -1;
		if (m->starttls == 0)
			check_add(c, "tls", m->name, CHECK_FAIL,
				  "enable STARTTLS on the server (RFC 3207)",
				  "no STARTTLS: %s", m->probe_error);
		else
			check_add(c, "tls", m->name, CHECK_FAIL,
				  "make port 25 reachable and answering",
				  "probe failed: %s", m->probe_error);
		return;
	}
	m->starttls = 1;
	snprintf(m->tls, sizeof(m->tls), "%s", ms_rtls_probe_tls(p));
	/* the post-TLS capabilities only (RFC 3207 s4.2, RFC 8689 s4.2.1) */
	m->requiretls = ms_rtls_ehlo_has(ms_rtls_probe_ehlo(p), "REQUIRETLS");
	check_add(c, "tls", m->name, CHECK_PASS, NULL, "STARTTLS, %s", m->tls);
	char item[300];
	snprintf(item, sizeof(item), "%s REQUIRETLS", m->name);
	check_add(c, "tls", item, m->requiretls ? CHECK_PASS : CHECK_INFO, NULL, "%s",
		  m->requiretls ? "advertised after STARTTLS" : "not advertised (RFC 8689 is optional)");

	const struct ms_dane_cert *chain = NULL;
	size_t n = ms_rtls_probe_chain(p, &chain);
	verify(c, m, l, chain, n);
	ms_rtls_probe_free(p);
}

static void *check_host(void *arg)
{
	struct job *j = arg;
	struct check *c = j->c;
	struct mx_host *m = j->m;
	check_current_order = (int)(m - c->mx) + 1;
	/* The TLSA lookup the route made for this host (the sender's own). */
	const struct ms_dane_lookup *l = ms_rtls_route_host_dane(m->route_host);
	m->starttls = -1;
	m->dane_depth = -1;
	if (l == NULL) {
		check_add(c, "dane", m->name, CHECK_FAIL, NULL, "%s",
			  ms_rtls_route_host_dane_note(m->route_host));
		return NULL;
	}
	m->dane_state = ms_dane_lookup_state(l);
	snprintf(m->dane_reason, sizeof(m->dane_reason), "%s", ms_dane_lookup_reason(l));
	dane_records(c, m, l);
	if (m->dane_state == MS_DANE_DNS_TEMPFAIL) {
		check_add(c, "dane", m->name, CHECK_FAIL,
			  "fix the DNSSEC chain of the TLSA records: senders defer mail to this host",
			  "%s", m->dane_reason);
	} else if (m->dane_state == MS_DANE_DNS_NONE) {
		int could = c->mx_security == MS_DNS_SECURE && m->addr_security == MS_DNS_SECURE;
		check_add(c, "dane", m->name, could ? CHECK_WARN : CHECK_INFO,
			  could ? "publish TLSA records at _25._tcp (mailsec dane tlsa)" : NULL,
			  "no DANE: %s", m->dane_reason);
	}
	if (c->probe && m->naddrs > 0 && m->dane_state != MS_DANE_DNS_TEMPFAIL)
		probe(c, m, l);
	return NULL;
}

void check_dane_and_tls(struct check *c)
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
