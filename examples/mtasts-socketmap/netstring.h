/* netstring.h - bounded netstring reading and writing (the framing of
 * Postfix's socketmap protocol: "LEN:DATA,"). */
#ifndef SOCKETMAP_NETSTRING_H
#define SOCKETMAP_NETSTRING_H

#include <stddef.h>
#include <stdio.h>

/* Read one netstring of at most `max` bytes into buf (NUL-terminated,
 * buf holds max + 1).  Returns its length, -1 at a clean end of stream,
 * -2 for malformed or oversized input. */
long netstring_read(FILE *f, char *buf, size_t max);
/* Write `s` as a netstring and flush.  Returns 0 or -1. */
int netstring_write(FILE *f, const char *s);

#endif
