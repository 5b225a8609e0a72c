/*
 * netstring.h - bounded, incremental netstring framing ("LEN:DATA,"), the
 * framing of Postfix's socketmap protocol (socketmap_table(5)).
 *
 * The parser works on whatever bytes have arrived so far, so an event loop
 * can feed it partial reads; it never reads past `len` and rejects a length
 * above `max` as soon as its digits show it, before the data arrives.
 */
#ifndef POLICYD_NETSTRING_H
#define POLICYD_NETSTRING_H

#include <stddef.h>
#include <stdint.h>

enum ns_result {
	NS_NEED_MORE = 0,  /* a prefix of a valid netstring: read more */
	NS_COMPLETE = 1,   /* one netstring: *data, *dlen, *used set */
	NS_MALFORMED = -1, /* not a netstring (bad digit, missing ':' or ',') */
	NS_TOO_LONG = -2   /* its length is above max */
};

/*
 * Look for one netstring at the start of buf[0..len).  On NS_COMPLETE,
 * *data points into buf at the payload of *dlen bytes and *used is the
 * whole netstring's size.  Lengths have at most 9 digits; a leading zero is
 * allowed only for "0:,".
 */
enum ns_result ns_parse(const uint8_t *buf, size_t len, size_t max, const uint8_t **data,
			size_t *dlen, size_t *used);

/* Format `s` (slen bytes) as a netstring into out; returns its size, or 0
 * when it does not fit. */
size_t ns_format(const char *s, size_t slen, char *out, size_t outlen);

#endif
