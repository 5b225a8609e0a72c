/* request.c - see request.h. */
#include "request.h"

#include <stdio.h>
#include <string.h>

enum req_result policyd_request_parse(const uint8_t *req, size_t len, const char *map_name,
				      char *domain, size_t domainlen, char *why, size_t whylen)
{
	const uint8_t *sp = memchr(req, ' ', len);
	if (sp == NULL) {
		snprintf(why, whylen, "malformed request");
		return REQ_PERM;
	}
	size_t nlen = (size_t)(sp - req);
	if (nlen != strlen(map_name) || memcmp(req, map_name, nlen) != 0) {
		snprintf(why, whylen, "unknown map name");
		return REQ_PERM;
	}
	const uint8_t *key = sp + 1;
	size_t klen = len - nlen - 1;
	for (size_t i = 0; i < klen; i++)
		if (key[i] <= ' ' || key[i] >= 0x7f) {
			snprintf(why, whylen, "malformed key");
			return REQ_PERM;
		}
	if (klen == 0) {
		snprintf(why, whylen, "empty key");
		return REQ_PERM;
	}
	if (key[0] == '[')
		return REQ_NOTFOUND; /* a host or address without MX lookup */
	const uint8_t *colon = memchr(key, ':', klen);
	if (colon != NULL) {
		/* "domain:port": the port must be digits, else not ours */
		size_t plen = klen - (size_t)(colon - key) - 1;
		if (plen == 0 || plen > 5)
			return REQ_NOTFOUND;
		for (size_t i = 1; i <= plen; i++)
			if (colon[i] < '0' || colon[i] > '9')
				return REQ_NOTFOUND;
		klen = (size_t)(colon - key);
	}
	if (klen == 0 || klen >= domainlen)
		return REQ_NOTFOUND; /* longer than a domain name can be */
	memcpy(domain, key, klen);
	domain[klen] = '\0';
	return REQ_DOMAIN;
}
