/*
 * smtp_io.c - the transport's sockets and deadlines (moved from the
 * `mailsec send` client).  The socket is non-blocking from connect() on
 * and every wait is one poll() against a deadline (rtls_smtp_wait, the
 * only blocking point): one for the whole TLS handshake, one for a whole
 * reply however it trickles in (rtls_smtp_fill), and for writes a
 * progress rule (rtls_smtp_write), so no peer can stretch a step by
 * feeding or draining a byte at a time.
 */
#include "smtp_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h> /* SIOCOUTQ */
#endif

ms_status ms_rtls_smtp_connect(struct ms_rtls_smtp *s, const char *addr, uint16_t port, char *why,
			       size_t whylen)
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
	if (!rtls_smtp_wait(s, POLLOUT))
		return ms_why(why, whylen, MS_ERR_TIMEOUT, "connect to %s port %u: timed out", addr,
			      port);
	int err = 0;
	socklen_t errlen = sizeof(err);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err)
		return ms_why(why, whylen, MS_ERR_NETWORK, "connect to %s port %u: %s", addr, port,
			      ms_strerror(err ? err : errno, eb, sizeof(eb)));
	s->state = RTLS_S_CONNECTED;
	return MS_OK;
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

/* Wait until the socket is ready for `events` (1) or the deadline passes
 * (0).  The async shape of issue 15 returns to the caller here. */
int rtls_smtp_wait(struct ms_rtls_smtp *s, short events)
{
	for (;;) {
		int ms = rtls_smtp_left_ms(s);
		struct pollfd p = { .fd = s->fd, .events = events };
		if (ms == 0)
			return 0;
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0 || errno != EINTR)
			return 0;
	}
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
 * Refill the input buffer once, by the reply's deadline: poll() waits for
 * what is left of it, so a peer that trickles bytes (even inside one TLS
 * record) cannot stretch a reply past the timeout.
 */
ms_status rtls_smtp_fill(struct ms_rtls_smtp *s, char *why, size_t whylen)
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
			ev = rtls_smtp_ssl_want(SSL_get_error(s->ssl, r));
			ERR_clear_error();
			if (ev == 0)
				break;
		} else {
			n = recv(s->fd, s->in, sizeof(s->in), 0);
			if (n > 0 || n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
				break;
		}
		if (!rtls_smtp_wait(s, ev))
			return io_error(1, s->ssl ? "TLS read" : "read", why, whylen);
	}
	if (n <= 0)
		return io_error(0, s->ssl ? "TLS read" : "read", why, whylen);
	s->inlen = (size_t)n;
	return MS_OK;
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

ms_status rtls_smtp_write(struct ms_rtls_smtp *s, const void *buf, size_t len, char *why,
			  size_t whylen)
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
				ev = rtls_smtp_ssl_want(SSL_get_error(s->ssl, r));
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
		if (!rtls_smtp_wait(s, ev) && rtls_smtp_left_ms(s) == 0) {
			if (s->progress < MS_RTLS_SMTP_MIN_PROGRESS)
				return io_error(1, what, why, whylen);
			rtls_smtp_begin_write(s); /* enough moved: a new period */
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
ms_status rtls_smtp_wait_sent(struct ms_rtls_smtp *s, char *why, size_t whylen)
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
		if (rtls_smtp_left_ms(s) == 0) {
			if (s->progress < MS_RTLS_SMTP_MIN_PROGRESS)
				return io_error(1, "waiting for the peer to read the message", why,
						whylen);
			rtls_smtp_begin_write(s);
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
