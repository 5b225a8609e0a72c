/*
 * mx.c - the MX set (RFC 5321 s5.1, null MX RFC 7505) and each
 * host's addresses, with the DNSSEC status of every lookup: librequiretls's
 * route (the lookups a sender makes, failed ones mapped as the fail-closed
 * rules say), turned into findings.
 */
#include "check_int.h"

#include <stdlib.h>
#include <string.h>

/* A report lists the chosen hosts in a stable order (preference, name). */
static int by_preference(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;
	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void address_findings(struct ms_check_report *c, struct mx_host *m)
{
	const struct ms_rtls_route_host *h = m->route_host;
	int failed = 0;
	enum ms_dns_outcome o = ms_rtls_route_host_addr_outcome(h, &failed);
	const char *note = ms_rtls_route_host_addr_note(h);
	if (note[0]) {
		check_add(c, "x_mx", "mx", m->name, CHECK_FAIL, "fix the MX host name", "%s", note);
		return;
	}
	if (failed && m->naddrs > 0) {
		enum ms_dns_outcome o4, o6;
		enum ms_dns_security s4, s6;
		ms_rtls_route_host_addr_family(h, MS_DNS_T_A, &o4, &s4);
		ms_rtls_route_host_addr_family(h, MS_DNS_T_AAAA, &o6, &s6);
		check_add(c, "x_mx", "mx", m->name, CHECK_FAIL,
			  "make the host's address records resolvable (and validly signed)",
			  "address lookup partly failed: A %s (%s), AAAA %s (%s); senders use the "
			  "other family only", ms_dns_outcome_str(o4), ms_dns_security_str(s4),
			  ms_dns_outcome_str(o6), ms_dns_security_str(s6));
	}
	if (m->naddrs == 0) {
		check_add(c, "x_mx", "mx", m->name, CHECK_FAIL,
			  failed ? "make the host's address records resolvable (and validly signed)"
				 : "publish A/AAAA records for the MX host",
			  "no address: %s (%s)", ms_dns_outcome_str(o),
			  ms_dns_security_str(m->addr_security));
	} else if (m->addr_security == MS_DNS_SECURE) {
		check_add(c, "dnssec_mx_valid", "dnssec", m->name, CHECK_PASS, NULL,
			  "%zu address(es), DNSSEC secure", m->naddrs);
	} else {
		check_add(c, "dnssec_mx_exists", "dnssec", m->name, CHECK_WARN,
			  "sign the zone of the MX host (DANE needs secure addresses, RFC 7672 s2.2.1)",
			  "addresses are %s", ms_dns_security_str(m->addr_security));
	}
}

void check_mx(struct ms_check_report *c)
{
	char why[256] = "";
	struct ms_rtls_route_opts o = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					.max_mx = CHECK_MAX_MX, .max_addrs = CHECK_MAX_ADDRS };
	/* No MTA-STS here: check_sts.c reports the policy on its own. */
	if (ms_rtls_route_new(&c->env, c->dns, NULL, c->domain, MS_RTLS_REQ_DEFAULT, &o,
			      &c->route, why, sizeof(why)) != MS_OK) {
		check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL, NULL, "lookup impossible: %s", why);
		return;
	}
	const struct ms_rtls_route *r = c->route;
	unsigned flags = ms_rtls_route_flags(r);
	c->mx_security = ms_rtls_route_engine_domain(r)->mx_security;
	if (flags & MS_RTLS_ROUTE_MX_FAILED) {
		const char *note = ms_rtls_route_mx_note(r), *text = "";
		int ede = ms_rtls_route_mx_ede(r, &text);
		if (c->mx_security == MS_DNS_BOGUS) {
			check_add(c, "dnssec_valid", "dnssec", "MX records", CHECK_FAIL,
				  "re-sign the zone or fix the DS at the parent: validating senders "
				  "cannot deliver", "DNSSEC bogus (EDE %d %s): %s", ede,
				  ms_dns_ede_str(ede), text);
			check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL, "see dnssec",
				  "cannot be used: the answer failed validation");
		} else if (strncmp(note, "MX lookup impossible", 20) == 0) {
			check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL, NULL, "%s", note + 3);
		} else {
			check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL,
				  "make the domain's name servers answer", "lookup failed: %s",
				  ms_dns_outcome_str(ms_rtls_route_mx_outcome(r)));
		}
		return;
	}
	if (flags & MS_RTLS_ROUTE_NXDOMAIN) {
		check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL, NULL, "the domain does not exist");
		return;
	}
	if (c->mx_security == MS_DNS_SECURE)
		check_add(c, "dnssec_valid", "dnssec", "MX records", CHECK_PASS, NULL, "DNSSEC secure");
	else
		check_add(c, "dnssec_exists", "dnssec", "MX records", CHECK_WARN,
			  "sign the zone and publish its DS at the parent (DNSSEC enables DANE)",
			  "DNSSEC %s", ms_dns_security_str(c->mx_security));
	if (flags & MS_RTLS_ROUTE_NULL_MX) {
		c->null_mx = 1;
		check_add(c, "x_mx", "mx", "MX records", CHECK_INFO, NULL,
			  "null MX (RFC 7505): the domain accepts no mail");
		return;
	}
	if (flags & MS_RTLS_ROUTE_IMPLICIT_MX) {
		c->implicit_mx = 1;
		check_add(c, "x_mx", "mx", "MX records", CHECK_WARN,
			  "publish an MX record (or a null MX if the domain takes no mail)",
			  "none: mail goes to the domain's own address (implicit MX)");
	}
	if (flags & MS_RTLS_ROUTE_TRUNCATED)
		check_add(c, "x_mx", "mx", "MX records", CHECK_INFO, NULL,
			  "%zu MX records: the %d most preferred are checked",
			  ms_rtls_route_mx_total(r), CHECK_MAX_MX);
	if (flags & MS_RTLS_ROUTE_MX_MALFORMED)
		check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL, "fix the MX record",
			  "a record is malformed");
	if (flags & MS_RTLS_ROUTE_NULL_MX_MIXED)
		check_add(c, "x_mx", "mx", "MX records", CHECK_FAIL,
			  "a null MX must be the only MX record (RFC 7505 s3)",
			  "null MX mixed with other MX records");
	for (size_t i = 0; i < ms_rtls_route_count(r) && c->nmx < CHECK_MAX_MX; i++) {
		const struct ms_rtls_route_host *h = ms_rtls_route_host(r, i);
		struct mx_host *m = &c->mx[c->nmx++];
		m->route_host = h;
		snprintf(m->name, sizeof(m->name), "%s", ms_rtls_route_host_name(h));
		m->preference = ms_rtls_route_host_preference(h);
		m->addr_security = ms_rtls_route_host_engine(h)->addr_security;
		for (size_t k = 0; k < ms_rtls_route_host_addr_count(h) && k < CHECK_MAX_ADDRS; k++)
			snprintf(m->addrs[m->naddrs++], sizeof(m->addrs[0]), "%s",
				 ms_rtls_route_host_addr(h, k));
	}
	qsort(c->mx, c->nmx, sizeof(c->mx[0]), by_preference);
	if (!c->implicit_mx)
		check_add(c, "x_mx", "mx", "MX records", c->nmx ? CHECK_PASS : CHECK_FAIL,
			  c->nmx ? NULL : "publish MX records", "%zu host(s)", c->nmx);
	for (size_t i = 0; i < c->nmx; i++)
		address_findings(c, &c->mx[i]);
}
