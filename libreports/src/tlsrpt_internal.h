/* tlsrpt_internal.h - shared by libreports' TLSRPT sources.  Not installed. */
#ifndef REPORTS_TLSRPT_INTERNAL_H
#define REPORTS_TLSRPT_INTERNAL_H

#include "mailsec/tlsrpt.h"
#include "ms_common.h"

/* "YYYY-MM-DD" of Unix time `t` (UTC) into day[11]. */
void tlsrpt_day_of(int64_t t, char day[11]);
/* Unix time of the day's 00:00:00Z; -1 when `day` is not YYYY-MM-DD. */
int64_t tlsrpt_day_start(const char *day);
/* A host/domain name fit for reports: LDH labels and dots, 1-253 bytes. */
int tlsrpt_hostname_ok(const char *s);
/* The time as RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" into buf[21]. */
void tlsrpt_rfc3339(int64_t t, char buf[21]);
/* The MIME multipart/report body: find the TLSRPT part of a mail and
 * decode it (base64 or 7bit) into a new buffer (ms_free with default env). */
ms_status tlsrpt_mime_extract(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen,
			      int *gz, char *why, size_t whylen);
/* base64 (RFC 2045, lines of 76) of `len` bytes appended to `b`. */
ms_status tlsrpt_base64(struct ms_buf *b, const uint8_t *in, size_t len);

#endif
