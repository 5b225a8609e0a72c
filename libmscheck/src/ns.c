/*
 * ns.c - the domain's name servers (internet.nl ns_aaaa, ns_reach), the
 * MX hosts' IPv6 addresses (mx_aaaa), CAA for the MX names and the
 * MTA-STS policy host (RFC 8659), and RPKI, which needs route origin data
 * a DNS-only offline check does not have: the report says so.
 */
#include "check_int.h"

#include <mailsec/dns.h>
#include <mailsec/requiretls_route.h>

#include <stdlib.h>
#include <string.h>

#define MS_DNS_T_CAA 257
#define MAX_NS 8

/* One family of a name server's addresses: 1 present, 0 none, -1 failed. */
static int has_family(struct ms_check_report *c, const char *name, uint16_t type,
		      enum ms_dns_security *sec, char *why, size_t whylen)
{
	struct ms_dns_result *r = NULL;
	if (ms_dns_lookup(c->dns, name, type, &r, why, whylen) != MS_OK)
		return -1;
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	*sec = ms_dns_result_security(r);
	int v = o == MS_DNS_ANSWER && ms_dns_result_count(r) > 0 ? 1
		: o == MS_DNS_NODATA || o == MS_DNS_NXDOMAIN ? 0 : -1;
	if (v < 0)
		snprintf(why, whylen, "%s %s: %s (%s)", name, type == MS_DNS_T_A ? "A" : "AAAA",
			 ms_dns_outcome_str(o), ms_dns_security_str(*sec));
	ms_dns_result_free(r);
	return v;
}

static void name_servers(struct ms_check_report *c)
{
	char why[256] = "", zone[256];
	snprintf(zone, sizeof(zone), "%s", c->domain);
	struct ms_dns_result *r = NULL;
	/* the NS set of the zone holding the domain: climb until one answers */
	for (;;) {
		ms_dns_result_free(r);
		r = NULL;
		if (ms_dns_lookup(c->dns, zone, MS_DNS_T_NS, &r, why, sizeof(why)) != MS_OK) {
			check_add(c, "x_ns", "ns", "NS records", CHECK_FAIL, NULL, "lookup impossible: %s", why);
			return;
		}
		enum ms_dns_outcome o = ms_dns_result_outcome(r);
		if (o == MS_DNS_ANSWER)
			break;
		const char *dot = strchr(zone, '.');
		if ((o != MS_DNS_NODATA && o != MS_DNS_NXDOMAIN) || dot == NULL || dot[1] == '\0') {
			check_add(c, "x_ns", "ns", "NS records", CHECK_FAIL,
				  "make the domain's name servers answer",
				  "NS lookup for %s: %s (%s)", zone, ms_dns_outcome_str(o),
				  ms_dns_security_str(ms_dns_result_security(r)));
			ms_dns_result_free(r);
			return;
		}
		memmove(zone, dot + 1, strlen(dot + 1) + 1);
	}
	enum ms_dns_security sec = ms_dns_result_security(r);
	size_t n = ms_dns_result_count(r), with6 = 0, resolved = 0, total = 0;
	char names[MAX_NS][256];
	for (size_t i = 0; i < n && total < MAX_NS; i++)
		if (ms_dns_result_rtype(r, i) == MS_DNS_T_NS &&
		    ms_dns_result_name(r, i, names[total], sizeof(names[0])) == MS_OK)
			total++;
	ms_dns_result_free(r);
	check_add(c, "x_ns", "ns", "NS records", sec == MS_DNS_SECURE ? CHECK_PASS : CHECK_WARN,
		  sec == MS_DNS_SECURE ? NULL : "sign the zone (DNSSEC) so the NS set is authenticated",
		  "%zu name server(s) for %s, DNSSEC %s", total, zone, ms_dns_security_str(sec));
	for (size_t i = 0; i < total; i++) {
		enum ms_dns_security s4 = MS_DNS_INDETERMINATE, s6 = MS_DNS_INDETERMINATE;
		char w4[256] = "", w6[256] = "";
		int a = has_family(c, names[i], MS_DNS_T_A, &s4, w4, sizeof(w4));
		int aaaa = has_family(c, names[i], MS_DNS_T_AAAA, &s6, w6, sizeof(w6));
		if (a < 0 || aaaa < 0)
			check_add(c, "x_ns", "ns", names[i], CHECK_FAIL,
				  "make the name server's address records resolvable",
				  "address lookup failed: %s", a < 0 ? w4 : w6);
		else if (a + aaaa == 0)
			check_add(c, "x_ns", "ns", names[i], CHECK_FAIL,
				  "publish addresses for the name server", "no address");
		else
			resolved++;
		with6 += aaaa == 1;
	}
	/* internet.nl ns_aaaa: at least two name servers with IPv6 */
	check_add(c, "ns_aaaa", "ipv6", "name servers", with6 >= 2 ? CHECK_PASS : CHECK_FAIL,
		  with6 >= 2 ? NULL : "give at least two name servers an IPv6 address (AAAA)",
		  "%zu of %zu name server(s) have AAAA records (%zu resolve)", with6, total, resolved);
	check_add(c, "ns_reach", "ipv6", "name servers", CHECK_INFO, NULL,
		  "not tested: the check resolves through its own resolver and does not "
		  "query the name servers over IPv6");
}

/* internet.nl mx_aaaa: every MX host has an IPv6 address. */
static void mx_aaaa(struct ms_check_report *c)
{
	for (size_t i = 0; i < c->nmx; i++) {
		struct mx_host *m = &c->mx[i];
		enum ms_dns_outcome o6 = MS_DNS_SERVFAIL;
		enum ms_dns_security s6 = MS_DNS_INDETERMINATE;
		if (m->route_host == NULL)
			continue;
		ms_rtls_route_host_addr_family(m->route_host, MS_DNS_T_AAAA, &o6, &s6);
		if (o6 == MS_DNS_ANSWER)
			check_add(c, "mx_aaaa", "ipv6", m->name, CHECK_PASS, NULL, "AAAA present");
		else if (o6 == MS_DNS_NODATA || o6 == MS_DNS_NXDOMAIN)
			check_add(c, "mx_aaaa", "ipv6", m->name, CHECK_FAIL,
				  "publish an AAAA record for the MX host (and listen on it)",
				  "no AAAA record: IPv6-only senders cannot deliver");
		else
			check_add(c, "mx_aaaa", "ipv6", m->name, CHECK_FAIL,
				  "make the AAAA lookup of the MX host answer",
				  "AAAA lookup: %s (%s)", ms_dns_outcome_str(o6), ms_dns_security_str(s6));
	}
}

void check_ns(struct ms_check_report *c)
{
	name_servers(c);
	if (!c->null_mx)
		mx_aaaa(c);
	check_add(c, "mail_rpki_exists", "rpki", "route origins", CHECK_INFO, NULL,
		  "out of reach offline: RPKI (mail_rpki_*, ns_rpki_*, mail_mx_ns_rpki_*) needs "
		  "the BGP route origins of the addresses, which DNS does not carry");
}

/* RFC 8659 s3: the relevant CAA set is the first found climbing from the
 * name towards the root.  1 found (issuers in buf), 0 none, -1 failed. */
static int caa_lookup(struct ms_check_report *c, const char *host, char *buf, size_t len,
		      char *why, size_t whylen)
{
	const char *name = host;
	buf[0] = '\0';
	while (name && *name) {
		struct ms_dns_result *r = NULL;
		if (ms_dns_lookup(c->dns, name, MS_DNS_T_CAA, &r, why, whylen) != MS_OK)
			return -1;
		enum ms_dns_outcome o = ms_dns_result_outcome(r);
		if (o == MS_DNS_ANSWER && ms_dns_result_count(r) > 0) {
			for (size_t i = 0; i < ms_dns_result_count(r); i++) {
				size_t rl = 0, used = strlen(buf);
				const uint8_t *rd = ms_dns_result_rdata(r, i, &rl);
				char v[128];
				if (rd && check_caa_issue(rd, rl, v, sizeof(v)) == 1)
					snprintf(buf + used, len - used, "%s%s", used ? ", " : "", v);
			}
			snprintf(why, whylen, "%s", name);
			ms_dns_result_free(r);
			return 1;
		}
		if (o != MS_DNS_NODATA && o != MS_DNS_NXDOMAIN && o != MS_DNS_ANSWER) {
			snprintf(why, whylen, "CAA lookup for %s: %s", name, ms_dns_outcome_str(o));
			ms_dns_result_free(r);
			return -1;
		}
		ms_dns_result_free(r);
		name = strchr(name, '.');
		name = name ? name + 1 : NULL;
	}
	return 0;
}

static void caa_one(struct ms_check_report *c, const char *host)
{
	char issuers[256], why[256] = "";
	int v = caa_lookup(c, host, issuers, sizeof(issuers), why, sizeof(why));
	if (v < 0)
		check_add(c, "x_caa", "caa", host, CHECK_FAIL, NULL, "%s", why);
	else if (v == 0)
		check_add(c, "x_caa", "caa", host, CHECK_INFO, NULL,
			  "no CAA record: any CA may issue certificates for this name");
	else
		check_add(c, "x_caa", "caa", host, CHECK_PASS, NULL, "CAA at %s: issue %s", why,
			  issuers[0] ? issuers : "(none: no CA may issue)");
}

void check_caa(struct ms_check_report *c)
{
	char sts[300];
	for (size_t i = 0; i < c->nmx; i++)
		caa_one(c, c->mx[i].name);
	if (c->sts_policy) {
		snprintf(sts, sizeof(sts), "mta-sts.%s", c->domain);
		caa_one(c, sts);
	}
}
