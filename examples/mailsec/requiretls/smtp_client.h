/*
 * smtp_client.h - the small outbound SMTP session `mailsec send` needs
 * (RFC 5321, STARTTLS RFC 3207), plaintext or over OpenSSL.  Every network
 * step has a deadline; replies are read with hard bounds (a line of at most
 * MS_RTLS_MAX_LINE bytes, a reply of at most MS_RTLS_MAX_REPLY_BYTES).  It
 * delivers mail, unlike libdane's probe helper, and leaves every policy
 * decision to the caller (librequiretls's engine).
 */
#ifndef MAILSEC_RTLS_SMTP_CLIENT_H
#define MAILSEC_RTLS_SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include <mailsec/status.h>

struct smtp;

/* Connect to addr (IPv4 or IPv6 literal) : port within timeout_ms.  Later
 * steps use timeout_ms as the deadline of a whole reply and of the whole
 * TLS handshake; a write (a command, the whole DATA transfer) must finish
 * or move at least 64 KiB in each timeout_ms period. */
ms_status smtp_connect(const char *addr, uint16_t port, unsigned timeout_ms,
		       struct smtp **out, char *why, size_t whylen);
/* Close (without QUIT) and free; NULL-safe. */
void smtp_free(struct smtp *s);

/*
 * Read one complete reply (every line the same code, RFC 5321 s4.2.1).
 * MS_ERR_PROTOCOL for a malformed reply, MS_ERR_LIMIT for a line or reply
 * over the bounds, MS_ERR_TIMEOUT / MS_ERR_NETWORK for transport errors.
 */
ms_status smtp_read_reply(struct smtp *s, char *why, size_t whylen);
/* Send "line\r\n" (line without CRLF) and read the reply. */
ms_status smtp_command(struct smtp *s, const char *line, char *why, size_t whylen);

/* The last reply: its code, the whole raw text (lines with their codes,
 * CRLF-separated; borrowed until the next read), and its last line
 * without the code (for DSN texts). */
int smtp_code(const struct smtp *s);
const uint8_t *smtp_reply(const struct smtp *s, size_t *len);
const char *smtp_reply_last(const struct smtp *s);

/*
 * STARTTLS: send the command; on 220 run the TLS handshake with `sni`.
 * The context is the caller's (no certificate verification during the
 * handshake: DANE and PKIX are judged afterwards on the peer chain).
 * Bytes that arrived after the 220 line before the handshake are plaintext
 * an attacker may have injected (RFC 3207 s4.2, the STARTTLS command
 * injection class): the session is abandoned with MS_ERR_PROTOCOL.
 * A non-220 reply returns MS_ERR_STATE (session still usable).
 */
ms_status smtp_starttls(struct smtp *s, SSL_CTX *ctx, const char *sni,
			char *why, size_t whylen);
/* The TLS session, or NULL before STARTTLS. */
SSL *smtp_ssl(const struct smtp *s);

/*
 * After a 354 reply: send the message with CRLF line ends and dot-stuffing
 * (RFC 5321 s4.5.2), then "." and read the final reply.
 */
ms_status smtp_send_data(struct smtp *s, const uint8_t *msg, size_t len,
			 char *why, size_t whylen);

#endif
