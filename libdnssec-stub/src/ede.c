/*
 * ede.c - RFC 8914 extended DNS error codes from libunbound's why_bogus.
 *
 * libunbound 1.17 exposes no EDE codes to library users, only the
 * validator's reason text ("validation failure <name>: signature expired
 * from ..."), so we map the known phrases of its validator to the specific
 * INFO-CODEs and fall back to 6 (DNSSEC Bogus).  The phrases come from
 * unbound's validator/ sources; order matters where phrases overlap.
 */
#include "dns_internal.h"

#include <string.h>

static int contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (ms_ascii_ncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

int ms_dns_ede_from_why_bogus(const char *why)
{
	static const struct {
		const char *phrase;
		int code;
	} map[] = {
		{ "signature expired", 7 },
		{ "signature before inception", 8 },
		{ "inception date", 8 },
		{ "expiration before inception", 25 },
		{ "no signatures", 10 },
		{ "no rrsig", 10 },
		{ "missing rrsig", 10 },
		{ "unsupported algorithm", 1 },
		{ "algorithm unsupported", 1 },
		{ "unsupported digest", 2 },
		{ "digest unsupported", 2 },
		{ "no keys have a ds", 9 },
		{ "no dnskey", 9 },
		{ "dnskey missing", 9 },
		{ "no ds", 9 },
		{ "no nsec", 12 },
		{ "nsec proof", 12 },
		{ "nsec3 proof", 12 },
		{ "nsec missing", 12 },
		{ "nsec3 iteration", 27 },
		{ "no zone key bit", 11 },
	};
	if (why == NULL || *why == '\0')
		return 6;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (contains(why, map[i].phrase))
			return map[i].code;
	return 6;
}
