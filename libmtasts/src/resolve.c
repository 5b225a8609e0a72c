/*
 * resolve.c - the policy host's addresses through the caller's resolver
 * (libdnssec-stub), handed to libcurl with CURLOPT_RESOLVE, so that the
 * fetch uses the same DNS (and DNSSEC validation) as the TXT lookup rather
 * than the system resolver (issue 13).
 *
 * A and AAAA are two lookups decided here, each on its own: a family whose
 * lookup failed (timeout, SERVFAIL, bogus) contributes nothing, and the
 * fetch fails only when no family gave an address.  That is safe because
 * the address only has to reach the host: the policy is authenticated by
 * PKIX (RFC 8461 s3.3), not by the address.  A failed lookup is a fetch
 * failure (temporary), never "this domain has no policy host".
 *
 * Loopback and private addresses are not refused: the test world serves
 * its policy hosts on 127.0.0.0/8, and an attacker who controls the DNS of
 * a domain can publish its own policy anyway; a host name that points into
 * the sender's network reaches nothing without a certificate for
 * mta-sts.DOMAIN from a trusted CA.
 */
#include "sts_internal.h"

#include <stdio.h>
#include <string.h>

#define RESOLVE_MAX_ADDRS 16 /* per family; more adds nothing to one fetch */

struct family {
	uint16_t type;
	const char *name;
	int failed;            /* the lookup failed: timeout, SERVFAIL, bogus ... */
	int timeout;
	char note[96];
};

/* Append the addresses of one successful answer; returns how many. */
static size_t add_addrs(const struct ms_dns_result *r, uint16_t type, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < ms_dns_result_count(r) && n < RESOLVE_MAX_ADDRS; i++) {
		char a[64];
		if (ms_dns_result_rtype(r, i) != type ||
		    ms_dns_result_addr(r, i, a, sizeof(a)) != MS_OK)
			continue;
		size_t used = strlen(out);
		int w = snprintf(out + used, outlen - used, "%s%s%s%s", used ? "," : "",
				 type == MS_DNS_T_AAAA ? "[" : "", a,
				 type == MS_DNS_T_AAAA ? "]" : "");
		if (w < 0 || (size_t)w >= outlen - used) {
			out[used] = '\0'; /* list full: keep what fits */
			break;
		}
		n++;
	}
	return n;
}

static size_t lookup(struct ms_dns_ctx *dns, const char *host, struct family *f,
		     char *out, size_t outlen)
{
	struct ms_dns_result *r = NULL;
	char lwhy[128] = "";
	if (ms_dns_lookup(dns, host, f->type, &r, lwhy, sizeof(lwhy)) != MS_OK) {
		f->failed = 1;
		snprintf(f->note, sizeof(f->note), "%s", lwhy[0] ? lwhy : "lookup failed");
		return 0;
	}
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	enum ms_dns_security s = ms_dns_result_security(r);
	size_t n = 0;
	/* Only an answer that validated (secure) or is provably unsigned
	 * (insecure) counts; bogus data must not be used (RFC 4035 s5.5).
	 * The one failure test of libdnssec-stub decides. */
	if (ms_dns_result_failed(r)) {
		f->failed = 1;
		f->timeout = o == MS_DNS_TIMEOUT;
		snprintf(f->note, sizeof(f->note), "%s, %s", ms_dns_outcome_str(o),
			 ms_dns_security_str(s));
	} else {
		n = add_addrs(r, f->type, out, outlen);
		snprintf(f->note, sizeof(f->note), "%s", ms_dns_outcome_str(o));
	}
	ms_dns_result_free(r);
	return n;
}

ms_status sts_resolve_host(struct ms_dns_ctx *dns, const char *host, char *out, size_t outlen,
			   char *why, size_t whylen)
{
	struct family fam[2] = { { .type = MS_DNS_T_A, .name = "A" },
				 { .type = MS_DNS_T_AAAA, .name = "AAAA" } };
	size_t n = 0;
	if (outlen == 0)
		return ms_why(why, whylen, MS_ERR_INTERNAL, "no room for addresses");
	out[0] = '\0';
	for (int i = 0; i < 2; i++)
		n += lookup(dns, host, &fam[i], out, outlen);
	if (n > 0)
		return MS_OK;
	if (fam[0].failed || fam[1].failed)
		return ms_why(why, whylen,
			      fam[0].timeout || fam[1].timeout ? MS_ERR_TIMEOUT : MS_ERR_NETWORK,
			      "address lookup of %s failed (A: %s; AAAA: %s)", host,
			      fam[0].note, fam[1].note);
	return ms_why(why, whylen, MS_ERR_NETWORK, "no address for %s (A: %s; AAAA: %s)", host,
		      fam[0].note, fam[1].note);
}
