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

/* The call a session is running (the async shape: started by a start
 * function, advanced by rtls_smtp_step until it completes). */
enum rtls_smtp_call {
	RTLS_C_NONE,
	RTLS_C_CONNECT,
	RTLS_C_GREETING,
	RTLS_C_CMD,      /* a command line and its reply (MAIL, RCPT, others) */
	RTLS_C_EHLO,
	RTLS_C_STARTTLS, /* the command, then the handshake */
	RTLS_C_DATA,
	RTLS_C_QUIT,
	RTLS_C_MESSAGE,  /* the message after 354, the final dot, its reply */
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
	/* the call in progress (smtp_cmd.c) */
	enum rtls_smtp_call call;
	int phase;
	short want;                /* events the call waits for; 0: a timer */
	char peer[80];             /* "ADDR port N", for connect errors */
	char line[MS_RTLS_MAX_LINE + 1]; /* the command line with CRLF */
	size_t linelen, lineoff;
	SSL_CTX *ctx;              /* STARTTLS: borrowed until the handshake */
	const char *sni;           /* borrowed until the handshake starts */
	struct ms_rtls_smtp_reply reply; /* the call's reply (zero: none) */
	/* RTLS_C_MESSAGE: the message (borrowed) and its encoder */
	const uint8_t *msg;
	size_t msglen, msgpos;
	int bol, last;
	uint8_t out[16384];
	size_t olen, ooff;
	int queued;                /* SIOCOUTQ at the last look, -1 none */
};

/* smtp_io.c: deadlines and non-blocking I/O.  Nothing here waits: an
 * operation that cannot go on returns 0 with s->want set, and the caller
 * polls s->fd (rtls_smtp_poll for the synchronous calls, the caller's own
 * loop for the async shape) before stepping again. */
void rtls_smtp_set_deadline(struct ms_rtls_smtp *s);
int rtls_smtp_left_ms(const struct ms_rtls_smtp *s);
short rtls_smtp_ssl_want(int ssl_error);
/* Each returns 1 when finished (*st says how) or 0 to wait (s->want). */
int rtls_smtp_connect_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen);
void rtls_smtp_begin_write(struct ms_rtls_smtp *s);
int rtls_smtp_write_io(struct ms_rtls_smtp *s, const void *buf, size_t len, size_t *off,
		       ms_status *st, char *why, size_t whylen);
int rtls_smtp_sent_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen);
void rtls_smtp_begin_reply(struct ms_rtls_smtp *s);
int rtls_smtp_reply_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen);
int rtls_smtp_handshake_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen);
/* How long to wait before the next step (ms; the deadline, or the
 * short tick while the kernel still queues the message). */
int rtls_smtp_wait_ms(const struct ms_rtls_smtp *s);
/* One poll() on the session for the synchronous calls. */
void rtls_smtp_poll(const struct ms_rtls_smtp *s);

/* smtp_cmd.c: the async calls.  A start function checks the arguments
 * and the state (errors at once, nothing started) and begins the call;
 * rtls_smtp_step advances it: 1 when it completed (*st, the reply in
 * s->reply), 0 to wait for rtls_smtp_fd/_events/_wait_ms.  The public
 * synchronous calls are start + rtls_smtp_finish. */
ms_status rtls_smtp_start_connect(struct ms_rtls_smtp *s, const char *addr, uint16_t port,
				  char *why, size_t whylen);
ms_status rtls_smtp_start_greeting(struct ms_rtls_smtp *s, char *why, size_t whylen);
ms_status rtls_smtp_start_ehlo(struct ms_rtls_smtp *s, const char *helo, char *why,
			       size_t whylen);
ms_status rtls_smtp_start_starttls(struct ms_rtls_smtp *s, SSL_CTX *ctx, const char *sni,
				   char *why, size_t whylen);
ms_status rtls_smtp_start_mail(struct ms_rtls_smtp *s, const char *from, const char *params,
			       char *why, size_t whylen);
ms_status rtls_smtp_start_rcpt(struct ms_rtls_smtp *s, const char *to, char *why,
			       size_t whylen);
ms_status rtls_smtp_start_data(struct ms_rtls_smtp *s, char *why, size_t whylen);
ms_status rtls_smtp_start_message(struct ms_rtls_smtp *s, const uint8_t *msg, size_t len,
				  char *why, size_t whylen);
ms_status rtls_smtp_start_quit(struct ms_rtls_smtp *s, char *why, size_t whylen);
/* Queue `line` (CRLF added) as call `call`; the arguments are checked. */
ms_status rtls_smtp_start_cmd(struct ms_rtls_smtp *s, const char *line, enum rtls_smtp_call call,
			      char *why, size_t whylen);
int rtls_smtp_step(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen);
ms_status rtls_smtp_finish(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			   size_t whylen);
const struct ms_rtls_smtp_reply *rtls_smtp_reply(const struct ms_rtls_smtp *s);
int rtls_smtp_fd(const struct ms_rtls_smtp *s);
short rtls_smtp_events(const struct ms_rtls_smtp *s);

/* smtp_cmd.c */
/* Close the connection, keep the facts (chain, capabilities, TLS). */
void rtls_smtp_close(struct ms_rtls_smtp *s);
/* Record an error that ends the session and return it. */
ms_status rtls_smtp_broken(struct ms_rtls_smtp *s, ms_status st);
/* smtp_tls.c: after the handshake, the TLS facts and the peer chain. */
ms_status rtls_smtp_tls_done(struct ms_rtls_smtp *s, char *why, size_t whylen);
/* smtp_tls.c: the SSL object for the handshake after the 220. */
ms_status rtls_smtp_tls_begin(struct ms_rtls_smtp *s, char *why, size_t whylen);
/* smtp_data.c: one step of the message transfer (phases 0..2 of
 * RTLS_C_MESSAGE; the reply is read by the caller). */
int rtls_smtp_message_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen);

#endif
