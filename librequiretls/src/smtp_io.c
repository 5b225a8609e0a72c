/*
 * smtp_io.c - the transport's sockets and deadlines (moved from the
 * `mailsec send` client).  The socket is non-blocking from connect() on
 * and nothing here waits (issue 15): an operation that cannot go on
 * returns "wait" with the events it needs (s->want), and whoever drives
 * the session polls and steps again.  Each operation checks its deadline
 * whenever it would wait: one for the whole TLS handshake, one for a whole
 * reply however it trickles in, and for writes a progress rule, so no peer
 * can stretch a step by feeding or draining a byte at a time, and a
 * stalled peer ends the call with MS_ERR_TIMEOUT at the deadline.
 */
#include "smtp_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h> /* SIOCOUTQ */
#endif

/* How often to look at the kernel's queue while the peer reads the
 * message (SIOCOUTQ has no readiness event). */
#define SENT_TICK_MS 20

ms_status rtls_smtp_start_connect(struct ms_rtls_smtp *s, const char *addr, uint16_t port,
				  char *why, size_t whylen)
{
	if (s == NULL || addr == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_NEW)
		return ms_why(why, whylen, MS_ERR_STATE, "already connected");
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
		return ms_why(why, whylen, MS_ERR_INVALID, "bad address '%s'", addr);
	}
	char eb[96];
	s->state = RTLS_S_BROKEN; /* until connected */
	snprintf(s->peer, sizeof(s->peer), "%.63s port %u", addr, port);
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return ms_why(why, whylen, MS_ERR_NETWORK, "socket: %s",
			      ms_strerror(errno, eb, sizeof(eb)));
	/* Non-blocking connect bounded by the deadline; the socket stays
	 * non-blocking. */
	if (connect(s->fd, (struct sockaddr *)&ss, sslen) != 0 && errno != EINPROGRESS)
		return ms_why(why, whylen, MS_ERR_NETWORK, "connect to %s port %u: %s", addr, port,
			      ms_strerror(errno, eb, sizeof(eb)));
	rtls_smtp_set_deadline(s);
	s->call = RTLS_C_CONNECT;
	s->phase = 0;
	s->want = POLLOUT;
	memset(&s->reply, 0, sizeof(s->reply));
	return MS_OK;
}

int rtls_smtp_connect_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };
	int r = poll(&p, 1, 0);
	if (r <= 0) {
		if (r < 0 && errno != EINTR) {
			char eb[96];
			*st = ms_why(why, whylen, MS_ERR_NETWORK, "connect to %s: %s", s->peer,
				     ms_strerror(errno, eb, sizeof(eb)));
			return 1;
		}
		if (rtls_smtp_left_ms(s) == 0) {
			*st = ms_why(why, whylen, MS_ERR_TIMEOUT, "connect to %s: timed out", s->peer);
			return 1;
		}
		s->want = POLLOUT;
		return 0;
	}
	int err = 0;
	socklen_t errlen = sizeof(err);
	char eb[96];
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err) {
		*st = ms_why(why, whylen, MS_ERR_NETWORK, "connect to %s: %s", s->peer,
			     ms_strerror(err ? err : errno, eb, sizeof(eb)));
		return 1;
	}
	s->state = RTLS_S_CONNECTED;
	*st = MS_OK;
	return 1;
}

/* Start a step: s->deadline = now + the session timeout. */
void rtls_smtp_set_deadline(struct ms_rtls_smtp *s)
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
int rtls_smtp_left_ms(const struct ms_rtls_smtp *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(s->deadline.tv_sec - now.tv_sec) * 1000 +
		       (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

int rtls_smtp_wait_ms(const struct ms_rtls_smtp *s)
{
	int ms = rtls_smtp_left_ms(s);
	if (s->want == 0 && ms > SENT_TICK_MS)
		ms = SENT_TICK_MS;
	/* round up: a wake-up just before the deadline would step for nothing */
	return ms + (s->want ? 1 : 0);
}

void rtls_smtp_poll(const struct ms_rtls_smtp *s)
{
	struct pollfd p = { .fd = s->fd, .events = s->want };
	(void)poll(&p, s->want && s->fd >= 0 ? 1 : 0, rtls_smtp_wait_ms(s));
}

/* The poll event an SSL_ERROR_WANT_* asks for; 0 for any other error. */
short rtls_smtp_ssl_want(int e)
{
	return e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

static ms_status io_error(int timed_out, const char *what, char *why, size_t whylen)
{
	return ms_why(why, whylen, timed_out ? MS_ERR_TIMEOUT : MS_ERR_NETWORK, "%s: %s", what,
		      timed_out ? "timed out" : "connection lost");
}

/*
 * Refill the input buffer once without waiting: 1 bytes came, 0 none yet
 * (s->want set), -1 the connection ended (*st).
 */
static int fill(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen)
{
	ssize_t n = -1;
	s->inoff = s->inlen = 0;
	for (;;) {
		if (s->ssl) {
			int r = SSL_read(s->ssl, s->in, sizeof(s->in));
			if (r > 0) {
				n = r;
				break;
			}
			short ev = rtls_smtp_ssl_want(SSL_get_error(s->ssl, r));
			ERR_clear_error();
			if (ev == 0)
				break;
			s->want = ev;
			return 0;
		}
		n = recv(s->fd, s->in, sizeof(s->in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			s->want = POLLIN;
			return 0;
		}
		break;
	}
	if (n <= 0) {
		*st = io_error(0, s->ssl ? "TLS read" : "read", why, whylen);
		return -1;
	}
	s->inlen = (size_t)n;
	return 1;
}

/* A reply starts: one deadline for all of it. */
void rtls_smtp_begin_reply(struct ms_rtls_smtp *s)
{
	rtls_smtp_set_deadline(s);
	rtls_reply_reset(&s->acc);
}

/*
 * Feed what has arrived to the reply parser: 1 when the reply is complete
 * (*st MS_OK, s->acc.r) or failed (*st), 0 to wait for more.  A peer that
 * trickles bytes (even inside one TLS record) cannot stretch a reply past
 * the deadline set by rtls_smtp_begin_reply.
 */
int rtls_smtp_reply_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen)
{
	for (;;) {
		if (s->inoff == s->inlen) {
			int f = fill(s, st, why, whylen);
			if (f < 0)
				return 1;
			if (f == 0) {
				if (rtls_smtp_left_ms(s) > 0)
					return 0;
				*st = io_error(1, s->ssl ? "TLS read" : "read", why, whylen);
				return 1;
			}
		}
		*st = MS_OK;
		enum rtls_reply_step step = rtls_reply_feed(&s->acc, s->in[s->inoff++], st, why,
							    whylen);
		if (step == RTLS_REPLY_DONE)
			return 1;
		if (step == RTLS_REPLY_ERROR) {
			if (*st == MS_OK)
				*st = MS_ERR_PROTOCOL;
			return 1;
		}
	}
}

/*
 * Writes follow a progress rule instead of a per-send() timeout (which a
 * peer draining one byte at a time defeats): from rtls_smtp_begin_write(),
 * every timeout period must either finish the write or move at least
 * MS_RTLS_SMTP_MIN_PROGRESS bytes, so a DATA transfer can take as long as
 * a slow but honest link needs (RFC 5321 s4.5.3.2 allows minutes per
 * send) while a peer reading 20 KiB/s or less with a 3 s timeout is cut
 * off.
 */
void rtls_smtp_begin_write(struct ms_rtls_smtp *s)
{
	rtls_smtp_set_deadline(s);
	s->progress = 0;
}

/* A period without a finished write ended: enough progress starts a new
 * one, too little is a timeout.  1 when the call failed (*st). */
static int period_over(struct ms_rtls_smtp *s, const char *what, ms_status *st, char *why,
		       size_t whylen)
{
	if (rtls_smtp_left_ms(s) > 0)
		return 0;
	if (s->progress < MS_RTLS_SMTP_MIN_PROGRESS) {
		*st = io_error(1, what, why, whylen);
		return 1;
	}
	rtls_smtp_begin_write(s); /* enough moved: a new period */
	return 0;
}

/* Write buf[*off..len) as far as the socket takes it.  `buf` must stay
 * the same until the write finishes (OpenSSL retries with the same
 * buffer and length after WANT_*). */
int rtls_smtp_write_io(struct ms_rtls_smtp *s, const void *buf, size_t len, size_t *off,
		       ms_status *st, char *why, size_t whylen)
{
	const uint8_t *p = buf;
	const char *what = s->ssl ? "TLS write" : "write";
	while (*off < len) {
		size_t left = len - *off;
		ssize_t n = -1;
		short ev = POLLOUT;
		if (s->ssl) {
			int r = SSL_write(s->ssl, p + *off, left > 16384 ? 16384 : (int)left);
			if (r > 0) {
				n = r;
			} else {
				ev = rtls_smtp_ssl_want(SSL_get_error(s->ssl, r));
				ERR_clear_error();
				if (ev == 0) {
					*st = io_error(0, what, why, whylen);
					return 1;
				}
			}
		} else {
			n = send(s->fd, p + *off, left, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				*st = io_error(0, what, why, whylen);
				return 1;
			}
		}
		if (n > 0) {
			*off += (size_t)n;
			s->progress += (size_t)n;
			continue;
		}
		if (period_over(s, what, st, why, whylen))
			return 1;
		s->want = ev;
		return 0;
	}
	*st = MS_OK;
	return 1;
}

/*
 * Wait, by the same progress rule, until the peer has taken everything
 * written: when the last write returns, up to a send buffer (megabytes)
 * may still be queued, and the reply's deadline must not start before the
 * peer can have read the message.  Linux only (SIOCOUTQ, which has no
 * readiness event: the caller looks again after a short tick); elsewhere
 * the reply deadline starts at once.
 */
int rtls_smtp_sent_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen)
{
	*st = MS_OK;
#ifdef SIOCOUTQ
	int queued = 0;
	if (ioctl(s->fd, SIOCOUTQ, &queued) != 0 || queued <= 0)
		return 1;
	if (s->queued > queued)
		s->progress += (size_t)(s->queued - queued);
	s->queued = queued;
	if (period_over(s, "waiting for the peer to read the message", st, why, whylen))
		return 1;
	s->want = 0;
	return 0;
#else
	(void)s;
	(void)why;
	(void)whylen;
	return 1;
#endif
}

/* One step of the TLS handshake, under one deadline for all of it (set
 * when it began). */
int rtls_smtp_handshake_io(struct ms_rtls_smtp *s, ms_status *st, char *why, size_t whylen)
{
	int rc = SSL_connect(s->ssl);
	if (rc == 1) {
		*st = MS_OK;
		return 1;
	}
	short want = rtls_smtp_ssl_want(SSL_get_error(s->ssl, rc));
	if (want && rtls_smtp_left_ms(s) > 0) {
		ERR_clear_error();
		s->want = want;
		return 0;
	}
	unsigned long err = ERR_peek_last_error();
	char buf[200] = "";
	if (err)
		ERR_error_string_n(err, buf, sizeof(buf));
	int timed_out = !err && want;
	ERR_clear_error();
	SSL_free(s->ssl);
	s->ssl = NULL;
	*st = ms_why(why, whylen, timed_out ? MS_ERR_TIMEOUT : MS_ERR_TLS,
		     "TLS handshake failed: %s",
		     timed_out ? "timed out" : buf[0] ? buf : "connection closed");
	return 1;
}
