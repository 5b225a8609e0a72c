/*
 * check_mx.c - the MX set (RFC 5321 s5.1, null MX RFC 7505) and each
 * host's addresses, with the DNSSEC status of every lookup.
 */
#include "check.h"

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

static void lookup_addresses(struct check *c, struct mx_host *m)
{
	struct ms_dns_result *r = NULL;
	char why[256] = "";
	if (ms_dns_lookup_addr(c->dns, m->name, &r, why, sizeof(why)) != MS_OK) {
		check_add(c, "mx", m->name, CHECK_FAIL, "fix the MX host name",
			  "address lookup impossible: %s", why);
		m->addr_security = MS_DNS_INDETERMINATE;
		return;
	}
	/* the security of the addresses a sender would use: a failed half
	 * is reported below, never folded into "insecure" */
	m->addr_security = ms_dns_result_records_security(r);
	for (size_t i = 0; i < ms_dns_result_count(r) && m->naddrs < CHECK_MAX_ADDRS; i++)
		if (ms_dns_result_addr(r, i, m->addrs[m->naddrs], sizeof(m->addrs[0])) == MS_OK)
			m->naddrs++;
	int failed = ms_dns_result_failed(r);
	if (failed && m->naddrs > 0) {
		enum ms_dns_outcome o4 = MS_DNS_SERVFAIL, o6 = MS_DNS_SERVFAIL;
		enum ms_dns_security s4 = MS_DNS_INDETERMINATE, s6 = MS_DNS_INDETERMINATE;
		ms_dns_result_family(r, MS_DNS_T_A, &o4, &s4);
		ms_dns_result_family(r, MS_DNS_T_AAAA, &o6, &s6);
		check_add(c, "mx", m->name, CHECK_FAIL,
			  "make the host's address records resolvable (and validly signed)",
			  "address lookup partly failed: A %s (%s), AAAA %s (%s); senders use the "
			  "other family only", ms_dns_outcome_str(o4), ms_dns_security_str(s4),
			  ms_dns_outcome_str(o6), ms_dns_security_str(s6));
	}
	if (m->naddrs == 0) {
		int temp = failed;
		check_add(c, "mx", m->name, CHECK_FAIL,
			  temp ? "make the host's address records resolvable (and validly signed)"
			       : "publish A/AAAA records for the MX host",
			  "no address: %s (%s)", ms_dns_outcome_str(ms_dns_result_outcome(r)),
			  ms_dns_security_str(m->addr_security));
	} else if (m->addr_security == MS_DNS_SECURE) {
		check_add(c, "dnssec", m->name, CHECK_PASS, NULL,
			  "%zu address(es), DNSSEC secure", m->naddrs);
	} else {
		check_add(c, "dnssec", m->name, CHECK_WARN,
			  "sign the zone of the MX host (DANE needs secure addresses, RFC 7672 s2.2.1)",
			  "addresses are %s", ms_dns_security_str(m->addr_security));
	}
	ms_dns_result_free(r);
}

void check_mx(struct check *c)
{
	struct ms_dns_result *r = NULL;
	char why[256] = "";
	if (ms_dns_lookup(c->dns, c->domain, MS_DNS_T_MX, &r, why, sizeof(why)) != MS_OK) {
		check_add(c, "mx", "MX records", CHECK_FAIL, NULL, "lookup impossible: %s", why);
		return;
	}
	c->mx_security = ms_dns_result_security(r);
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	if (c->mx_security == MS_DNS_BOGUS) {
		check_add(c, "dnssec", "MX records", CHECK_FAIL,
			  "re-sign the zone or fix the DS at the parent: validating senders cannot deliver",
			  "DNSSEC bogus (EDE %d %s): %s", ms_dns_result_ede(r),
			  ms_dns_ede_str(ms_dns_result_ede(r)),
			  ms_dns_result_ede_text(r) ? ms_dns_result_ede_text(r) : "");
		check_add(c, "mx", "MX records", CHECK_FAIL, "see dnssec",
			  "cannot be used: the answer failed validation");
		ms_dns_result_free(r);
		return;
	}
	if (o == MS_DNS_SERVFAIL || o == MS_DNS_TIMEOUT || o == MS_DNS_REFUSED) {
		check_add(c, "mx", "MX records", CHECK_FAIL,
			  "make the domain's name servers answer", "lookup failed: %s",
			  ms_dns_outcome_str(o));
		ms_dns_result_free(r);
		return;
	}
	if (o == MS_DNS_NXDOMAIN) {
		check_add(c, "mx", "MX records", CHECK_FAIL, NULL, "the domain does not exist");
		ms_dns_result_free(r);
		return;
	}
	if (c->mx_security == MS_DNS_SECURE)
		check_add(c, "dnssec", "MX records", CHECK_PASS, NULL, "DNSSEC secure");
	else
		check_add(c, "dnssec", "MX records", CHECK_WARN,
			  "sign the zone and publish its DS at the parent (DNSSEC enables DANE)",
			  "DNSSEC %s", ms_dns_security_str(c->mx_security));

	if (ms_dns_result_is_null_mx(r)) {
		c->null_mx = 1;
		check_add(c, "mx", "MX records", CHECK_INFO, NULL,
			  "null MX (RFC 7505): the domain accepts no mail");
		ms_dns_result_free(r);
		return;
	}
	if (o == MS_DNS_NODATA) {
		/* RFC 5321 s5.1: no MX means the domain itself is the host. */
		c->implicit_mx = 1;
		snprintf(c->mx[0].name, sizeof(c->mx[0].name), "%s", c->domain);
		c->nmx = 1;
		check_add(c, "mx", "MX records", CHECK_WARN,
			  "publish an MX record (or a null MX if the domain takes no mail)",
			  "none: mail goes to the domain's own address (implicit MX)");
	}
	/* RFC 5321 s5.1 order from the library, before the cut to CHECK_MAX_MX */
	size_t order[CHECK_MAX_MX], n = 0;
	if (ms_dns_result_mx_order(r, order, CHECK_MAX_MX, &n) != MS_OK)
		check_add(c, "mx", "MX records", CHECK_FAIL, NULL, "out of memory ordering the MX set");
	if (ms_dns_result_count(r) > CHECK_MAX_MX)
		check_add(c, "mx", "MX records", CHECK_INFO, NULL,
			  "%zu MX records: the %d most preferred are checked",
			  ms_dns_result_count(r), CHECK_MAX_MX);
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		struct mx_host *m = &c->mx[c->nmx];
		if (ms_dns_result_mx(r, i, &m->preference, m->name, sizeof(m->name)) != MS_OK) {
			check_add(c, "mx", "MX records", CHECK_FAIL, "fix the MX record",
				  "record %zu is malformed", i);
			continue;
		}
		if (m->name[0] == '\0') {
			check_add(c, "mx", "MX records", CHECK_FAIL,
				  "a null MX must be the only MX record (RFC 7505 s3)",
				  "null MX mixed with other MX records");
			continue;
		}
		c->nmx++;
	}
	qsort(c->mx, c->nmx, sizeof(c->mx[0]), by_preference);
	if (!c->implicit_mx)
		check_add(c, "mx", "MX records", c->nmx ? CHECK_PASS : CHECK_FAIL,
			  c->nmx ? NULL : "publish MX records", "%zu host(s)", c->nmx);
	ms_dns_result_free(r);
	for (size_t i = 0; i < c->nmx; i++)
		lookup_addresses(c, &c->mx[i]);
}
