/*
 * smtp_internal.h - the state of one client SMTP session and the helpers
 * the smtp_*.c files share (not installed).  smtp_io.c moves bytes under
 * deadlines, smtp_reply.c parses replies, smtp_cmd.c runs commands,
 * smtp_tls.c STARTTLS, smtp_data.c the message, smtp_probe.c the probe.
 */
#ifndef RTLS_SMTP_INTERNAL_H
#define RTLS_SMTP_INTERNAL_H

#include <mailsec/requiretls.h>
#include <mailsec/requiretls_smtp.h>

#include <openssl/ssl.h>
#include <time.h>

#include "rtls_internal.h"

/* Incremental reply parser: bytes go in one at a time as they arrive. */
struct rtls_reply_acc {
	uint8_t *raw;          /* the whole reply so far (MS_RTLS_MAX_REPLY_BYTES + 1) */
	size_t rawlen;
	size_t linestart;      /* offset in raw of the current line */
	struct ms_rtls_smtp_reply r;
};

enum rtls_reply_step { RTLS_REPLY_MORE, RTLS_REPLY_DONE, RTLS_REPLY_ERROR };

void rtls_reply_reset(struct rtls_reply_acc *a);
enum rtls_reply_step rtls_reply_feed(struct rtls_reply_acc *a, uint8_t c, ms_status *st,
				     char *why, size_t whylen);

/* Where a session is (each call checks it; an error moves to BROKEN). */
enum rtls_smtp_state {
	RTLS_S_NEW,        /* not connected */
	RTLS_S_CONNECTED,  /* greeting not read */
	RTLS_S_GREETED,    /* greeting read; EHLO not done */
	RTLS_S_READY,      /* EHLO done: commands allowed */
	RTLS_S_TLS_NOEHLO, /* TLS up, the post-TLS EHLO not done yet */
	RTLS_S_DATA,       /* 354 to DATA: the message may follow */
	RTLS_S_BROKEN,     /* an error ended the session */
	RTLS_S_CLOSED,     /* QUIT sent */
};

struct ms_rtls_smtp {
	struct ms_env env;
	int fd;
	SSL *ssl;
	enum rtls_smtp_state state;
	unsigned timeout_ms;
	int (*tls_setup)(void *user, SSL *ssl);
	void *tls_user;
	struct timespec deadline; /* end of the current step (monotonic) */
	size_t progress;          /* bytes written since the write deadline was set */
	uint8_t in[4096];         /* received, not yet consumed */
	size_t inlen, inoff;
	struct rtls_reply_acc acc;
	struct ms_rtls_ehlo *caps;
	struct ms_dane_cert chain[16];
	unsigned char *der[16];
	size_t nchain;
	char tls[128];
};

/* smtp_io.c: deadlines and non-blocking I/O.  rtls_smtp_wait() is the
 * one place a session blocks (see the header's note on the async shape). */
void rtls_smtp_set_deadline(struct ms_rtls_smtp *s);
int rtls_smtp_left_ms(const struct ms_rtls_smtp *s);
int rtls_smtp_wait(struct ms_rtls_smtp *s, short events);
short rtls_smtp_ssl_want(int ssl_error);
ms_status rtls_smtp_fill(struct ms_rtls_smtp *s, char *why, size_t whylen);
void rtls_smtp_begin_write(struct ms_rtls_smtp *s);
ms_status rtls_smtp_write(struct ms_rtls_smtp *s, const void *buf, size_t len, char *why,
			  size_t whylen);
ms_status rtls_smtp_wait_sent(struct ms_rtls_smtp *s, char *why, size_t whylen);

/* smtp_cmd.c */
ms_status rtls_smtp_read_reply(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			       size_t whylen);
ms_status rtls_smtp_cmd(struct ms_rtls_smtp *s, const char *line, struct ms_rtls_smtp_reply *r,
			char *why, size_t whylen);
/* Close the connection, keep the facts (chain, capabilities, TLS). */
void rtls_smtp_close(struct ms_rtls_smtp *s);
/* Record an error that ends the session and return it. */
ms_status rtls_smtp_broken(struct ms_rtls_smtp *s, ms_status st);

#endif
