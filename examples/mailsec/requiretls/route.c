/*
 * route.c - the lookups before a delivery: MX set (RFC 5321 s5.1, null MX
 * RFC 7505), each host's addresses and DANE state (RFC 7672 s2.2), the
 * MTA-STS policy (RFC 8461 s5.1) and each host's match (s4.1); then the
 * decision engine's plan per host.  The engine gets plain values, so this
 * file is the one place where library results are mapped onto them.
 */
#include "route.h"

#include <stdlib.h>
#include <string.h>

static void lookup_mx(struct route *r)
{
	struct ms_dns_result *res = NULL;
	char why[256] = "";
	if (ms_dns_lookup(r->dns, r->domain, MS_DNS_T_MX, &res, why, sizeof(why)) != MS_OK) {
		r->in.mx_security = MS_DNS_INDETERMINATE;
		snprintf(r->mx_note, sizeof(r->mx_note), "MX lookup impossible: %s", why);
		return;
	}
	r->in.mx_security = ms_dns_result_security(res);
	enum ms_dns_outcome o = ms_dns_result_outcome(res);
	snprintf(r->mx_note, sizeof(r->mx_note), "MX lookup: %s, DNSSEC %s",
		 ms_dns_outcome_str(o), ms_dns_security_str(r->in.mx_security));
	/* RFC 7672 s2.1.1: bogus data must not be used at all; the engine
	 * then defers the whole domain. */
	int failed = ms_dns_result_failed(res);
	if (failed || o == MS_DNS_NXDOMAIN) {
		if (failed && r->in.mx_security != MS_DNS_BOGUS)
			r->in.mx_security = MS_DNS_INDETERMINATE;
		r->nxdomain = !failed;
		ms_dns_result_free(res);
		return;
	}
	if (ms_dns_result_is_null_mx(res)) {
		r->null_mx = 1; /* RFC 7505: the domain accepts no mail */
		ms_dns_result_free(res);
		return;
	}
	if (o == MS_DNS_NODATA) {
		/* RFC 5321 s5.1: no MX, the domain itself is the host. */
		r->implicit_mx = 1;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", r->domain);
		r->nhosts = 1;
	}
	/* RFC 5321 s5.1: the library orders the whole set (preference, then
	 * random) before the cut to ROUTE_MAX_MX. */
	size_t order[ROUTE_MAX_MX], n = 0;
	if (ms_dns_result_mx_order(res, order, ROUTE_MAX_MX, &n) != MS_OK) {
		r->in.mx_security = MS_DNS_INDETERMINATE; /* out of memory: try later */
		snprintf(r->mx_note, sizeof(r->mx_note), "MX set could not be ordered");
	}
	for (size_t i = 0; i < n; i++) {
		struct route_host *h = &r->hosts[r->nhosts];
		if (ms_dns_result_mx(res, order[i], &h->preference, h->name, sizeof(h->name)) == MS_OK &&
		    h->name[0] != '\0')
			r->nhosts++;
	}
	ms_dns_result_free(res);
}

static void lookup_host(struct route *r, struct route_host *h)
{
	struct ms_dns_result *res = NULL;
	char why[256] = "";
	h->in.name = h->name;
	h->in.addr_security = MS_DNS_INDETERMINATE;
	if (ms_dns_lookup_addr(r->dns, h->name, &res, why, sizeof(why)) == MS_OK) {
		/* A half that failed leaves only the other family's records;
		 * their security is what counts (bogus/indeterminate when none
		 * are left: the engine skips the host, RFC 7672 s2.2.1). */
		h->in.addr_security = ms_dns_result_records_security(res);
		for (size_t i = 0; i < ms_dns_result_count(res) && h->naddrs < ROUTE_MAX_ADDRS; i++)
			if (ms_dns_result_addr(res, i, h->addrs[h->naddrs], sizeof(h->addrs[0])) == MS_OK)
				h->naddrs++;
		ms_dns_result_free(res);
	}
	/* TLSA is always at _25._tcp: the port of the MX service, whatever
	 * port a test connects to. */
	if (ms_dane_lookup_env(r->env, r->dns, h->name, r->in.mx_security == MS_DNS_SECURE, 25,
			       &h->dane, why, sizeof(why)) != MS_OK) {
		h->in.dane = MS_RTLS_DANE_FAILED;
		snprintf(h->dane_note, sizeof(h->dane_note), "TLSA lookup impossible: %s", why);
		return;
	}
	snprintf(h->dane_note, sizeof(h->dane_note), "%s", ms_dane_lookup_reason(h->dane));
	switch (ms_dane_lookup_state(h->dane)) {
	case MS_DANE_DNS_SECURE: {
		const struct ms_dane_tlsa *recs;
		size_t n = ms_dane_lookup_records(h->dane, &recs);
		for (size_t i = 0; i < n; i++)
			h->tlsa_usable += ms_dane_tlsa_usable(&recs[i]) != 0;
		h->in.dane = h->tlsa_usable ? MS_RTLS_DANE_USABLE : MS_RTLS_DANE_UNUSABLE;
		break;
	}
	case MS_DANE_DNS_TEMPFAIL:
		h->in.dane = MS_RTLS_DANE_FAILED;
		break;
	default:
		h->in.dane = MS_RTLS_DANE_INSECURE;
		break;
	}
}

static void lookup_sts(struct cli *cli, struct route *r, const struct route_opts *o)
{
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = o->ca_file;
	cfg.fetch.connect_to = o->connect_to;
	cfg.fetch.timeout_ms = cli->timeout_ms ? cli->timeout_ms : 20000;
	char why[256] = "";
	r->in.sts_mode = MS_RTLS_STS_NO_POLICY;
	if (ms_sts_new(&cli->env, &cfg, r->dns, r->sts_store, &r->sts, why, sizeof(why)) != MS_OK ||
	    ms_sts_get_policy(r->sts, r->domain, &r->sts_result, why, sizeof(why)) != MS_OK) {
		/* RFC 8461 s5.1: no usable (fetched or cached) policy means
		 * the domain is treated as having none. */
		snprintf(r->sts_note, sizeof(r->sts_note), "MTA-STS discovery impossible: %s", why);
		return;
	}
	const struct ms_sts_result *res = r->sts_result;
	if (ms_sts_result_state(res) != MS_STS_POLICY) {
		if (ms_sts_result_failure(res) != MS_STS_FAIL_NONE)
			snprintf(r->sts_note, sizeof(r->sts_note), "no usable MTA-STS policy: %s (%s)",
				 ms_sts_result_failure_detail(res),
				 ms_sts_failure_str(ms_sts_result_failure(res)));
		else
			snprintf(r->sts_note, sizeof(r->sts_note), "no MTA-STS (%s)",
				 ms_sts_result_record_note(res));
		return;
	}
	const struct ms_sts_policy *p = ms_sts_result_policy(res);
	enum ms_sts_mode m = ms_sts_policy_mode(p);
	r->in.sts_mode = m == MS_STS_MODE_ENFORCE ? MS_RTLS_STS_ENFORCE :
			 m == MS_STS_MODE_TESTING ? MS_RTLS_STS_TESTING : MS_RTLS_STS_NONE;
	snprintf(r->sts_note, sizeof(r->sts_note), "MTA-STS policy id %s, mode %s",
		 ms_sts_result_policy_id(res), ms_sts_mode_str(m));
	for (size_t i = 0; i < r->nhosts; i++) {
		struct route_host *h = &r->hosts[i];
		h->in.sts_match = ms_sts_policy_match(p, h->name);
		h->sts_verdict = ms_sts_result_check_mx(res, h->name, NULL);
	}
}

int route_opts_arg(struct route_opts *o, const char *a, const char *v)
{
	const char **dst = strcmp(a, "--ca-file") == 0 ? &o->ca_file :
			   strcmp(a, "--connect-to") == 0 ? &o->connect_to :
			   strcmp(a, "--cache") == 0 ? &o->cache : NULL;
	if (dst && v) {
		*dst = v;
		return 2;
	}
	if (strcmp(a, "--requiretls") == 0) {
		o->requiretls = 1;
		return 1;
	}
	if (strcmp(a, "--tls-required-no") == 0) {
		o->tls_required_no = 1;
		return 1;
	}
	return 0;
}

int route_build(struct cli *cli, const char *domain, const struct route_opts *o,
		enum ms_rtls_requirement requirement, struct route *r)
{
	memset(r, 0, sizeof(*r));
	r->env = &cli->env;
	char why[256] = "";
	if (ms_dns_hostname_normalize(domain, r->domain, sizeof(r->domain), why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "bad domain '%s': %s", domain, why);
	r->in.domain = r->domain;
	r->in.requirement = requirement;
	if (o->cache && ms_sts_store_new_sqlite(&cli->env, o->cache, &r->sts_store, why,
						sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "--cache %s: %s", o->cache, why);
	r->dns = cli_dns_ctx(cli);
	if (r->dns == NULL)
		return CLI_EXIT_USAGE;
	lookup_mx(r);
	for (size_t i = 0; i < r->nhosts; i++)
		lookup_host(r, &r->hosts[i]);
	lookup_sts(cli, r, o);
	for (size_t i = 0; i < r->nhosts; i++)
		if (ms_rtls_plan(&r->in, &r->hosts[i].in, &r->hosts[i].plan) != MS_OK)
			return cli_error(cli, CLI_EXIT_ERROR, "plan: invalid input");
	return CLI_EXIT_OK;
}

void route_free(struct route *r)
{
	for (size_t i = 0; i < r->nhosts; i++)
		ms_dane_lookup_free(r->hosts[i].dane);
	ms_sts_result_free(r->sts_result);
	ms_sts_free(r->sts);
	ms_sts_store_free(r->sts_store);
	ms_dns_ctx_free(r->dns);
	memset(r, 0, sizeof(*r));
}

void route_no_host_outcome(const struct route *r, struct ms_rtls_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (r->in.mx_security == MS_DNS_BOGUS || r->in.mx_security == MS_DNS_INDETERMINATE) {
		/* Ask the engine with a stand-in host: its MX rule does not
		 * depend on the host (RFC 7672 s2.1.1). */
		struct ms_rtls_host h = { .name = r->domain, .addr_security = MS_DNS_INDETERMINATE };
		struct ms_rtls_plan p;
		if (ms_rtls_plan(&r->in, &h, &p) == MS_OK && p.mode == MS_RTLS_MODE_SKIP) {
			ms_rtls_outcome_from_plan(&p, out);
			out->verdict = p.skip_verdict;
			return;
		}
	}
	if (r->null_mx) {
		out->verdict = MS_RTLS_PERMFAIL;
		out->basic = 5;
		snprintf(out->enhanced, sizeof(out->enhanced), "5.1.10");
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5.1.10");
		snprintf(out->text, sizeof(out->text), "%.200s accepts no mail (null MX, RFC 7505 s3)",
			 r->domain);
		return;
	}
	if (r->nxdomain) {
		/* RFC 3463 s3.2: X.1.2 bad destination system address. */
		out->verdict = MS_RTLS_PERMFAIL;
		out->basic = 5;
		snprintf(out->enhanced, sizeof(out->enhanced), "5.1.2");
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5.1.2");
		snprintf(out->text, sizeof(out->text), "%.200s does not exist (NXDOMAIN)", r->domain);
		return;
	}
	ms_rtls_conclude(NULL, 0, out);
}

const char *route_dane_str(enum ms_rtls_dane d)
{
	switch (d) {
	case MS_RTLS_DANE_NONE: return "none";
	case MS_RTLS_DANE_USABLE: return "usable";
	case MS_RTLS_DANE_UNUSABLE: return "unusable";
	case MS_RTLS_DANE_INSECURE: return "insecure";
	case MS_RTLS_DANE_FAILED: return "failed";
	}
	return "unknown";
}

const char *route_sts_mode_str(enum ms_rtls_sts_mode m)
{
	switch (m) {
	case MS_RTLS_STS_NO_POLICY: return "no-policy";
	case MS_RTLS_STS_NONE: return "none";
	case MS_RTLS_STS_TESTING: return "testing";
	case MS_RTLS_STS_ENFORCE: return "enforce";
	}
	return "unknown";
}

#define ADD(...) do { if (n < max) snprintf(out[n++], sizeof(out[0]), __VA_ARGS__); } while (0)

size_t route_reasons(const struct route *r, const struct route_host *h,
		     char out[][256], size_t max)
{
	size_t n = 0;
	const struct ms_rtls_plan *p = &h->plan;
	ADD("MX RRset %s, host addresses %s", ms_dns_security_str(r->in.mx_security),
	    ms_dns_security_str(h->in.addr_security));
	ADD("DANE %s: %s", route_dane_str(h->in.dane), h->dane_note);
	if (r->in.sts_mode == MS_RTLS_STS_NO_POLICY)
		ADD("%s", r->sts_note);
	else
		ADD("MTA-STS %s: host %s the policy", route_sts_mode_str(r->in.sts_mode),
		    h->in.sts_match ? "matches" : "is not listed in");
	if (p->mode == MS_RTLS_MODE_SKIP) {
		ADD("skip (%s %s): %.200s", p->enhanced, ms_rtls_reason_str(p->reason), p->text);
		return n;
	}
	if (p->verify_dane)
		ADD("TLS verified by DANE required (RFC 7672 s2.2)");
	if (p->verify_pkix)
		ADD("TLS verified by PKIX with the MX name required (RFC 8461 s4.2)");
	if (p->mode == MS_RTLS_MODE_ENCRYPTED)
		ADD("TLS required, not authenticated: every TLSA record is unusable (RFC 7672 s2.2)");
	if (p->mode == MS_RTLS_MODE_OPPORTUNISTIC)
		ADD("STARTTLS if offered, plaintext otherwise (RFC 3207, RFC 7435)");
	if (p->report_pkix)
		ADD("MTA-STS testing: PKIX failures are reported, not enforced (RFC 8461 s5.2)");
	if (p->need_requiretls)
		ADD("REQUIRETLS: the host must advertise REQUIRETLS after STARTTLS (RFC 8689 s4.2.1)");
	if (p->mode == MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK)
		ADD("TLS-Required: No: STARTTLS tried, TLS and verification errors ignored, "
		    "plaintext fallback allowed (RFC 8689 s4.2.2); the policy alone says %s",
		    ms_rtls_mode_str(p->policy_mode));
	return n;
}

void route_mail_params(const struct ms_env *env, int requiretls, char *out, size_t outsize)
{
	struct ms_rtls_mail *m = NULL;
	out[0] = '\0';
	if (ms_rtls_mail_new(env, &m) != MS_OK)
		return;
	if (requiretls)
		ms_rtls_mail_set(m, "REQUIRETLS", NULL);
	if (ms_rtls_mail_format(m, out, outsize, NULL) != MS_OK)
		out[0] = '\0';
	ms_rtls_mail_free(m);
}
