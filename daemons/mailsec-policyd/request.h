/*
 * request.h - one socketmap request ("NAME KEY", socketmap_table(5)) read
 * as a Postfix smtp_tls_policy_maps lookup.
 */
#ifndef POLICYD_REQUEST_H
#define POLICYD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

enum req_result {
	REQ_DOMAIN = 0,   /* look the domain up */
	REQ_NOTFOUND = 1, /* a key that is no domain ("[host]:port", an IP
			     literal): no policy of ours, NOTFOUND */
	REQ_PERM = -1     /* malformed or another map's name: PERM */
};

/*
 * Split the payload (len bytes, not NUL-terminated) into the map name and
 * the key; the name must equal `map_name`.  For REQ_DOMAIN, `domain` gets
 * the key without a ":port" suffix (Postfix appends a non-default port to
 * a transport nexthop); the resolver normalises case and the trailing dot.
 * For REQ_PERM, `why` says what was wrong.
 */
enum req_result policyd_request_parse(const uint8_t *req, size_t len, const char *map_name,
				      char *domain, size_t domainlen, char *why, size_t whylen);

#endif
