/*
 * smtp_client.c - bounded SMTP client session, plaintext or TLS (see
 * smtp_client.h).  The socket is non-blocking from connect() on and every
 * wait is a poll() against a deadline: one for the whole TLS handshake, one
 * for a whole reply however it trickles in (see fill()), and for writes a
 * progress rule (see write_all()), so no peer can stretch a step by
 * feeding or draining a byte at a time.
 */
#include "smtp_client.h"

#include <mailsec/requiretls.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h> /* SIOCOUTQ */
#endif

struct smtp {
	int fd;
	SSL *ssl;
	unsigned timeout_ms;
	struct timespec deadline; /* end of the current step (monotonic) */
	size_t progress;          /* bytes written since the write deadline was set */
	uint8_t in[4096];         /* received, not yet consumed */
	size_t inlen, inoff;
	char *reply;              /* MS_RTLS_MAX_REPLY_BYTES + 1 */
	size_t replylen;
	int code;
	char last[MS_RTLS_MAX_LINE + 1];
};

#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

ms_status smtp_connect(const char *addr, uint16_t port, unsigned timeout_ms,
		       struct smtp **out, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		sslen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		sslen = sizeof(*a6);
	} else {
		WHY("bad address '%s'", addr);
		return MS_ERR_INVALID;
	}
	struct smtp *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->reply = malloc(MS_RTLS_MAX_REPLY_BYTES + 1)) == NULL) {
		free(s);
		WHY("out of memory");
		return MS_ERR_NOMEM;
	}
	s->timeout_ms = timeout_ms;
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		WHY("socket: %s", strerror(errno));
		smtp_free(s);
		return MS_ERR_NETWORK;
	}
	/* Non-blocking connect bounded by poll; the socket stays
	 * non-blocking. */
	if (connect(s->fd, (struct sockaddr *)&ss, sslen) != 0 && errno != EINPROGRESS) {
		WHY("connect to %s port %u: %s", addr, port, strerror(errno));
		smtp_free(s);
		return MS_ERR_NETWORK;
	}
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };
	int pr = poll(&p, 1, (int)timeout_ms);
	int err = 0;
	socklen_t errlen = sizeof(err);
	if (pr == 0) {
		WHY("connect to %s port %u: timed out", addr, port);
		smtp_free(s);
		return MS_ERR_TIMEOUT;
	}
	if (pr < 0 || getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err) {
		WHY("connect to %s port %u: %s", addr, port, strerror(err ? err : errno));
		smtp_free(s);
		return MS_ERR_NETWORK;
	}
	*out = s;
	return MS_OK;
}

void smtp_free(struct smtp *s)
{
	if (s == NULL)
		return;
	if (s->ssl) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s->reply);
	free(s);
	ERR_clear_error();
}

static ms_status io_error(int timed_out, const char *what, char *why, size_t whylen)
{
	WHY("%s: %s", what, timed_out ? "timed out" : "connection lost");
	return timed_out ? MS_ERR_TIMEOUT : MS_ERR_NETWORK;
}

/* Start a step: s->deadline = now + the session timeout. */
static void set_deadline(struct smtp *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += s->timeout_ms / 1000;
	s->deadline.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
	if (s->deadline.tv_nsec >= 1000000000L) {
		s->deadline.tv_sec++;
		s->deadline.tv_nsec -= 1000000000L;
	}
}

/* Milliseconds left until s->deadline (0 when it has passed). */
static int left_ms(const struct smtp *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(s->deadline.tv_sec - now.tv_sec) * 1000 +
		       (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* Wait until the socket is ready for ev or the deadline passes (0). */
static int wait_ready(struct smtp *s, short ev)
{
	int ms = left_ms(s);
	struct pollfd p = { .fd = s->fd, .events = ev };
	return ms > 0 && poll(&p, 1, ms) > 0;
}

/* The poll event an SSL_ERROR_WANT_* asks for; 0 for any other error. */
static short ssl_want(int e)
{
	return e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

/*
 * Refill the input buffer once, by the reply's deadline: poll() waits for
 * what is left of it, so a peer that trickles bytes (even inside one TLS
 * record) cannot stretch a reply past the timeout.
 */
static ms_status fill(struct smtp *s, char *why, size_t whylen)
{
	ssize_t n = -1;
	s->inoff = s->inlen = 0;
	for (;;) {
		short ev = POLLIN;
		if (s->ssl) {
			int r = SSL_read(s->ssl, s->in, sizeof(s->in));
			if (r > 0) {
				n = r;
				break;
			}
			ev = ssl_want(SSL_get_error(s->ssl, r));
			ERR_clear_error();
			if (ev == 0)
				break;
		} else {
			n = recv(s->fd, s->in, sizeof(s->in), 0);
			if (n > 0 || n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
				break;
		}
		if (!wait_ready(s, ev))
			return io_error(1, s->ssl ? "TLS read" : "read", why, whylen);
	}
	if (n <= 0)
		return io_error(0, s->ssl ? "TLS read" : "read", why, whylen);
	s->inlen = (size_t)n;
	return MS_OK;
}

/*
 * Writes follow a progress rule instead of a per-send() timeout (which a
 * peer draining one byte at a time defeats): from begin_write(), every
 * timeout period must either finish the write or move at least
 * MIN_PROGRESS bytes, so a DATA transfer can take as long as a slow but
 * honest link needs (RFC 5321 s4.5.3.2 allows minutes per send) while a
 * peer reading 20 KiB/s or less with the default 3 s timeout is cut off.
 */
#define MIN_PROGRESS (64 * 1024)

static void begin_write(struct smtp *s)
{
	set_deadline(s);
	s->progress = 0;
}

static ms_status write_all(struct smtp *s, const void *buf, size_t len, char *why, size_t whylen)
{
	const uint8_t *p = buf;
	const char *what = s->ssl ? "TLS write" : "write";
	while (len > 0) {
		ssize_t n = -1;
		short ev = POLLOUT;
		if (s->ssl) {
			/* on WANT_*, retried with the same buffer and length */
			int r = SSL_write(s->ssl, p, len > 16384 ? 16384 : (int)len);
			if (r > 0) {
				n = r;
			} else {
				ev = ssl_want(SSL_get_error(s->ssl, r));
				ERR_clear_error();
				if (ev == 0)
					return io_error(0, what, why, whylen);
			}
		} else {
			n = send(s->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return io_error(0, what, why, whylen);
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			s->progress += (size_t)n;
			continue;
		}
		if (!wait_ready(s, ev) && left_ms(s) == 0) {
			if (s->progress < MIN_PROGRESS)
				return io_error(1, what, why, whylen);
			begin_write(s); /* enough moved: a new period */
		}
	}
	return MS_OK;
}

/*
 * Wait, by the same progress rule, until the peer has taken everything
 * written: when the last write returns, up to a send buffer (megabytes)
 * may still be queued, and the reply's deadline must not start before the
 * peer can have read the message.  Linux only (SIOCOUTQ); elsewhere the
 * reply deadline starts at once.
 */
static ms_status wait_sent(struct smtp *s, char *why, size_t whylen)
{
#ifdef SIOCOUTQ
	int prev = -1;
	for (;;) {
		int queued = 0;
		if (ioctl(s->fd, SIOCOUTQ, &queued) != 0 || queued <= 0)
			return MS_OK;
		if (prev > queued)
			s->progress += (size_t)(prev - queued);
		prev = queued;
		if (left_ms(s) == 0) {
			if (s->progress < MIN_PROGRESS)
				return io_error(1, "waiting for the peer to read the message", why,
						whylen);
			begin_write(s);
		}
		struct timespec tick = { 0, 20 * 1000000L };
		nanosleep(&tick, NULL);
	}
#else
	(void)s;
	(void)why;
	(void)whylen;
	return MS_OK;
#endif
}

/* Append one line (with its LF) to the reply; the line must stay within
 * MS_RTLS_MAX_LINE bytes before its CRLF. */
static ms_status read_line(struct smtp *s, size_t *start, char *why, size_t whylen)
{
	*start = s->replylen;
	for (;;) {
		if (s->inoff == s->inlen) {
			ms_status st = fill(s, why, whylen);
			if (st != MS_OK)
				return st;
		}
		uint8_t c = s->in[s->inoff++];
		if (s->replylen == MS_RTLS_MAX_REPLY_BYTES) {
			WHY("reply longer than %d bytes", MS_RTLS_MAX_REPLY_BYTES);
			return MS_ERR_LIMIT;
		}
		s->reply[s->replylen++] = (char)c;
		if (c == '\n')
			return MS_OK;
		if (s->replylen - *start > MS_RTLS_MAX_LINE + 1) {
			WHY("reply line longer than %d bytes", MS_RTLS_MAX_LINE);
			return MS_ERR_LIMIT;
		}
	}
}

ms_status smtp_read_reply(struct smtp *s, char *why, size_t whylen)
{
	set_deadline(s); /* one deadline for the whole reply */
	s->replylen = 0;
	s->code = 0;
	s->last[0] = '\0';
	for (;;) {
		size_t start;
		ms_status st = read_line(s, &start, why, whylen);
		if (st != MS_OK)
			return st;
		const char *l = s->reply + start;
		size_t len = s->replylen - start - 1;
		if (len > 0 && l[len - 1] == '\r')
			len--;
		/* RFC 5321 s4.2: Reply-code [ ("-" / SP) text ] */
		if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
		    l[2] < '0' || l[2] > '9' || (len > 3 && l[3] != ' ' && l[3] != '-')) {
			WHY("malformed reply line");
			return MS_ERR_PROTOCOL;
		}
		int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (s->code && code != s->code) {
			WHY("reply lines with different codes");
			return MS_ERR_PROTOCOL;
		}
		s->code = code;
		size_t tl = len > 4 ? len - 4 : 0;
		if (tl)
			memcpy(s->last, l + 4, tl);
		s->last[tl] = '\0';
		if (len == 3 || l[3] == ' ')
			break;
	}
	s->reply[s->replylen] = '\0';
	return MS_OK;
}

ms_status smtp_command(struct smtp *s, const char *line, char *why, size_t whylen)
{
	size_t len = strlen(line);
	if (len > MS_RTLS_MAX_LINE - 2 || strpbrk(line, "\r\n")) {
		WHY("command line too long or with a line break");
		return MS_ERR_INVALID;
	}
	char buf[MS_RTLS_MAX_LINE + 1];
	memcpy(buf, line, len);
	memcpy(buf + len, "\r\n", 2);
	begin_write(s);
	ms_status st = write_all(s, buf, len + 2, why, whylen);
	return st == MS_OK ? smtp_read_reply(s, why, whylen) : st;
}

int smtp_code(const struct smtp *s)
{
	return s->code;
}

const uint8_t *smtp_reply(const struct smtp *s, size_t *len)
{
	*len = s->replylen;
	return (const uint8_t *)s->reply;
}

const char *smtp_reply_last(const struct smtp *s)
{
	return s->last;
}

SSL *smtp_ssl(const struct smtp *s)
{
	return s->ssl;
}

ms_status smtp_starttls(struct smtp *s, SSL_CTX *ctx, const char *sni, char *why, size_t whylen)
{
	ms_status st = smtp_command(s, "STARTTLS", why, whylen);
	if (st != MS_OK)
		return st;
	if (s->code != 220) {
		WHY("STARTTLS refused: %d %s", s->code, s->last);
		return MS_ERR_STATE;
	}
	/* RFC 3207 s4.2 / s5: nothing may follow the 220 in plaintext; a
	 * server (or attacker) that pipelines bytes here would have them
	 * taken as the first TLS-protected replies. */
	if (s->inoff != s->inlen) {
		WHY("plaintext received after the STARTTLS reply (possible injection); session abandoned");
		return MS_ERR_PROTOCOL;
	}
	s->ssl = SSL_new(ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 ||
	    (sni && SSL_set_tlsext_host_name(s->ssl, sni) != 1)) {
		WHY("TLS set-up failed");
		ERR_clear_error();
		return MS_ERR_INTERNAL;
	}
	/* one deadline for the whole handshake */
	set_deadline(s);
	int r;
	short want = 0;
	while ((r = SSL_connect(s->ssl)) != 1) {
		want = ssl_want(SSL_get_error(s->ssl, r));
		if (want == 0 || !wait_ready(s, want))
			break;
	}
	if (r != 1) {
		unsigned long err = ERR_peek_last_error();
		char buf[200] = "";
		if (err)
			ERR_error_string_n(err, buf, sizeof(buf));
		else if (want)
			snprintf(buf, sizeof(buf), "timed out");
		WHY("TLS handshake failed: %s", buf[0] ? buf : "connection closed");
		ERR_clear_error();
		SSL_free(s->ssl);
		s->ssl = NULL;
		return MS_ERR_TLS;
	}
	return MS_OK;
}

ms_status smtp_send_data(struct smtp *s, const uint8_t *msg, size_t len, char *why, size_t whylen)
{
	/* Batch writes so that TLS records are not one per line; the
	 * progress rule runs over the whole transfer. */
	uint8_t out[16384];
	size_t o = 0;
	ms_status st;
	int bol = 1;
	begin_write(s);
	for (size_t i = 0; i <= len; i++) {
		if (o + 4 > sizeof(out)) {
			if ((st = write_all(s, out, o, why, whylen)) != MS_OK)
				return st;
			o = 0;
		}
		if (i == len) {
			if (!bol) { /* the last line had no line end */
				out[o++] = '\r';
				out[o++] = '\n';
			}
			break;
		}
		uint8_t c = msg[i];
		if (bol && c == '.')
			out[o++] = '.'; /* RFC 5321 s4.5.2 transparency */
		bol = 0;
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			bol = 1;
		} else if (c == '\r' && i + 1 < len && msg[i + 1] == '\n') {
			continue; /* CRLF: the LF writes both */
		} else {
			out[o++] = c;
		}
	}
	if ((st = write_all(s, out, o, why, whylen)) != MS_OK ||
	    (st = write_all(s, ".\r\n", 3, why, whylen)) != MS_OK ||
	    (st = wait_sent(s, why, whylen)) != MS_OK)
		return st;
	return smtp_read_reply(s, why, whylen);
}
