/* name.c - domain name normalisation (IDNA2008), reverse names, and the
 * string tables for types, outcomes, security states and EDE codes. */
#include "dns_internal.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

/*
 * Characters we pass to the resolver inside a label.  DNS labels may hold
 * any octet (RFC 2181 s11) and SPF macros expand local-parts, "%_" spaces
 * and "%-" escapes into names (RFC 7208 s7.3), so we are broader than
 * host-name syntax and accept every printable ASCII octet, space included.
 * We refuse what cannot be meant: controls, DEL, the escape character
 * (names are never in escaped presentation form here) and non-ASCII left
 * after IDNA.
 */
static int label_char_ok(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && c != '.';
}

static ms_status check_ascii_name(const char *in, char *buf, size_t buflen,
				  char *why, size_t whylen)
{
	size_t len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;                 /* one trailing dot: absolute name */
	if (len == 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "empty domain name");
	if (len > 253)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "domain name longer than 253 octets");
	if (buflen < len + 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "name buffer too small");
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '.') {
			if (label == 0)
				return ms_why(why, whylen, MS_ERR_INVALID,
					      "empty label in domain name");
			label = 0;
		} else {
			if (!label_char_ok(c))
				return ms_why(why, whylen, MS_ERR_INVALID,
					      "invalid character 0x%02x in domain name", c);
			if (++label > 63)
				return ms_why(why, whylen, MS_ERR_INVALID,
					      "label longer than 63 octets");
		}
		buf[i] = (char)ms_ascii_lower(c);
	}
	if (label == 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "empty label in domain name");
	buf[len] = '\0';
	return MS_OK;
}

ms_status ms_dns_name_normalize(const char *name, char *buf, size_t buflen,
				char *why, size_t whylen)
{
	if (name == NULL || buf == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no name given");
	if (strcmp(name, ".") == 0) {
		if (buflen < 2)
			return ms_why(why, whylen, MS_ERR_INVALID, "name buffer too small");
		strcpy(buf, ".");
		return MS_OK;
	}
	int ascii = 1;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p >= 0x80)
			ascii = 0;
	if (ascii)
		return check_ascii_name(name, buf, buflen, why, whylen);

	/* U-labels: IDNA2008 with the UTS #46 non-transitional mapping, the
	 * behaviour browsers and mail clients converged on (ß stays ß). */
	char *alabel = NULL;
	int rc = idn2_to_ascii_8z(name, &alabel,
				  IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "invalid internationalised domain name: %s",
			      idn2_strerror(rc));
	ms_status st = check_ascii_name(alabel, buf, buflen, why, whylen);
	idn2_free(alabel);
	return st;
}

ms_status ms_dns_reverse_name(const char *ip, char *buf, size_t buflen)
{
	unsigned char a[16];
	if (ip == NULL || buf == NULL)
		return MS_ERR_INVALID;
	if (inet_pton(AF_INET, ip, a) == 1) {
		int n = snprintf(buf, buflen, "%u.%u.%u.%u.in-addr.arpa",
				 a[3], a[2], a[1], a[0]);
		return (n < 0 || (size_t)n >= buflen) ? MS_ERR_INVALID : MS_OK;
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const char hex[] = "0123456789abcdef";
		if (buflen < 16 * 4 + sizeof("ip6.arpa"))
			return MS_ERR_INVALID;
		char *p = buf;
		for (int i = 15; i >= 0; i--) {
			*p++ = hex[a[i] & 0xf];
			*p++ = '.';
			*p++ = hex[a[i] >> 4];
			*p++ = '.';
		}
		strcpy(p, "ip6.arpa");
		return MS_OK;
	}
	return MS_ERR_INVALID;
}

static const struct {
	uint16_t type;
	const char *name;
} type_names[] = {
	{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
	{ 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" },
	{ 43, "DS" }, { 46, "RRSIG" }, { 47, "NSEC" }, { 48, "DNSKEY" },
	{ 50, "NSEC3" }, { 52, "TLSA" }, { 64, "SVCB" }, { 65, "HTTPS" },
	{ 257, "CAA" },
};

const char *ms_dns_type_str(uint16_t type, char *buf, size_t buflen)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	if (buf == NULL || buflen == 0)
		return "TYPE?";
	snprintf(buf, buflen, "TYPE%u", (unsigned)type);
	return buf;
}

uint16_t ms_dns_type_from_str(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (ms_ascii_casecmp(type_names[i].name, s) == 0)
			return type_names[i].type;
	if (ms_ascii_ncasecmp(s, "TYPE", 4) == 0)
		s += 4;
	char *end = NULL;
	if (*s < '0' || *s > '9')
		return 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return 0;
	return (uint16_t)v;
}

const char *ms_dns_outcome_str(enum ms_dns_outcome o)
{
	switch (o) {
	case MS_DNS_ANSWER: return "answer";
	case MS_DNS_NXDOMAIN: return "nxdomain";
	case MS_DNS_NODATA: return "nodata";
	case MS_DNS_SERVFAIL: return "servfail";
	case MS_DNS_TIMEOUT: return "timeout";
	case MS_DNS_REFUSED: return "refused";
	}
	return "unknown";
}

const char *ms_dns_security_str(enum ms_dns_security s)
{
	switch (s) {
	case MS_DNS_SECURE: return "secure";
	case MS_DNS_INSECURE: return "insecure";
	case MS_DNS_BOGUS: return "bogus";
	case MS_DNS_INDETERMINATE: return "indeterminate";
	}
	return "unknown";
}

enum ms_dns_security ms_dns_security_combine(enum ms_dns_security a,
					     enum ms_dns_security b)
{
	/* Order of badness: a bogus part poisons the whole; not knowing is
	 * worse than knowing it is unsigned. */
	static const int rank[] = { [MS_DNS_SECURE] = 0, [MS_DNS_INSECURE] = 1,
				    [MS_DNS_INDETERMINATE] = 2, [MS_DNS_BOGUS] = 3 };
	if ((unsigned)a > MS_DNS_INDETERMINATE)
		return b;
	if ((unsigned)b > MS_DNS_INDETERMINATE)
		return a;
	return rank[a] >= rank[b] ? a : b;
}

/* RFC 8914 s4 and the IANA registry. */
const char *ms_dns_ede_str(int code)
{
	static const char *const names[] = {
		"Other Error", "Unsupported DNSKEY Algorithm",
		"Unsupported DS Digest Type", "Stale Answer", "Forged Answer",
		"DNSSEC Indeterminate", "DNSSEC Bogus", "Signature Expired",
		"Signature Not Yet Valid", "DNSKEY Missing", "RRSIGs Missing",
		"No Zone Key Bit Set", "NSEC Missing", "Cached Error",
		"Not Ready", "Blocked", "Censored", "Filtered", "Prohibited",
		"Stale NXDomain Answer", "Not Authoritative", "Not Supported",
		"No Reachable Authority", "Network Error", "Invalid Data",
		"Signature Expired before Valid", "Too Early",
		"Unsupported NSEC3 Iterations Value",
	};
	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "";
	return names[code];
}
