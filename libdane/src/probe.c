/*
 * probe.c - a small SMTP STARTTLS client for probing a server's DANE
 * setup: connect, banner, EHLO, STARTTLS, TLS handshake with SNI set to the
 * TLSA base domain, EHLO again with the pre-TLS capabilities forgotten
 * (RFC 3207 s4.2), QUIT.  Every step has a deadline.  Plaintext that the
 * server pipelined after its STARTTLS reply is an attack (the STARTTLS
 * command-injection class, CVE-2011-0411): the probe refuses it instead of
 * treating it as TLS-protected.  The certificate is not checked here: the
 * chain goes to ms_dane_verify.
 */
#include "dane_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_MAX 16384

struct ms_dane_probe {
	struct ms_env env;
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	unsigned char *der[MS_DANE_MAX_CHAIN];
	size_t nchain;
	char ehlo[REPLY_MAX];
	char tls[128];
};

struct conn {
	int fd;
	SSL *ssl;
	unsigned timeout_ms;
	uint64_t deadline_ns;  /* end of the current step (monotonic) */
	char buf[REPLY_MAX];
	size_t len;
};

/* Each step (banner, one command and its reply, the handshake) must end
 * within timeout_ms in all: a peer trickling a byte at a time cannot
 * stretch it. */
static void step_begin(struct conn *c)
{
	c->deadline_ns = ms_monotonic_ns() + (uint64_t)c->timeout_ms * 1000000u;
}

static int wait_fd(struct conn *c, short events)
{
	struct pollfd p = { c->fd, events, 0 };
	int r;
	do {
		uint64_t now = ms_monotonic_ns();
		if (now >= c->deadline_ns)
			return -1;
		uint64_t left_ms = (c->deadline_ns - now + 999999u) / 1000000u;
		r = poll(&p, 1, (int)left_ms);
	} while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

static ms_status conn_write(struct conn *c, const char *s, size_t n, char *why, size_t whylen)
{
	while (n > 0) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, s, (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) != 0)
						return ms_why(why, whylen, MS_ERR_TIMEOUT,
							      "write timed out");
					continue;
				}
				return ms_why(why, whylen, MS_ERR_TLS, "TLS write failed");
			}
			w = r;
		} else {
			w = send(c->fd, s, n, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				if (wait_fd(c, POLLOUT) != 0)
					return ms_why(why, whylen, MS_ERR_TIMEOUT, "write timed out");
				continue;
			}
			if (w <= 0)
				return ms_why(why, whylen, MS_ERR_NETWORK, "write failed: %s",
					      ms_strerror(errno, (char[96]){0}, 96));
		}
		s += w;
		n -= (size_t)w;
	}
	return MS_OK;
}

/* Read more bytes into c->buf. */
static ms_status conn_fill(struct conn *c, char *why, size_t whylen)
{
	if (c->len >= sizeof(c->buf) - 1)
		return ms_why(why, whylen, MS_ERR_LIMIT, "SMTP reply longer than %d bytes",
			      REPLY_MAX);
	for (;;) {
		ssize_t n;
		if (c->ssl) {
			int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - 1 - c->len));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) != 0)
						return ms_why(why, whylen, MS_ERR_TIMEOUT,
							      "read timed out");
					continue;
				}
				return ms_why(why, whylen, MS_ERR_TLS, "TLS connection closed");
			}
			n = r;
		} else {
			n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				if (wait_fd(c, POLLIN) != 0)
					return ms_why(why, whylen, MS_ERR_TIMEOUT, "read timed out");
				continue;
			}
			if (n <= 0)
				return ms_why(why, whylen, MS_ERR_NETWORK, "connection closed");
		}
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		return MS_OK;
	}
}

/*
 * Read one whole (possibly multi-line) reply.  *code gets the status; the
 * reply text (lines joined by '\n', without codes) goes to text.  Bytes
 * after the reply stay in c->buf (callers decide whether that is allowed).
 */
static ms_status read_reply(struct conn *c, int *code, char *text, size_t textlen,
			    char *why, size_t whylen)
{
	size_t pos = 0, tl = 0;
	if (text && textlen)
		text[0] = '\0';
	for (;;) {
		char *nl;
		while ((nl = memchr(c->buf + pos, '\n', c->len - pos)) == NULL) {
			ms_status st = conn_fill(c, why, whylen);
			if (st != MS_OK)
				return st;
		}
		char *line = c->buf + pos;
		size_t ll = (size_t)(nl - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (ll > 3 && line[3] != ' ' && line[3] != '-'))
			return ms_why(why, whylen, MS_ERR_PROTOCOL, "malformed SMTP reply line");
		int cd = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (text && ll > 4) {
			size_t n = ll - 4;
			if (tl + n + 2 < textlen) {
				memcpy(text + tl, line + 4, n);
				tl += n;
				text[tl++] = '\n';
				text[tl] = '\0';
			}
		}
		pos = (size_t)(nl - c->buf) + 1;
		if (ll == 3 || line[3] == ' ') {
			*code = cd;
			memmove(c->buf, c->buf + pos, c->len - pos);
			c->len -= pos;
			c->buf[c->len] = '\0';
			return MS_OK;
		}
	}
}

static ms_status command(struct conn *c, const char *cmd, int want, char *text,
			 size_t textlen, char *why, size_t whylen)
{
	step_begin(c);
	ms_status st = conn_write(c, cmd, strlen(cmd), why, whylen);
	int code = 0;
	if (st == MS_OK)
		st = read_reply(c, &code, text, textlen, why, whylen);
	if (st != MS_OK)
		return st;
	if (code != want)
		return ms_why(why, whylen, MS_ERR_PROTOCOL, "'%.*s' answered %d",
			      (int)strcspn(cmd, "\r\n"), cmd, code);
	/* We never pipeline, so bytes beyond the reply are the server's
	 * doing; after STARTTLS they would be plaintext posing as TLS-era
	 * data (the STARTTLS injection class). */
	if (c->len != 0)
		return ms_why(why, whylen, MS_ERR_PROTOCOL,
			      "%zu %s bytes pipelined after the %.*s reply", c->len,
			      c->ssl ? "unsolicited" : "plaintext",
			      (int)strcspn(cmd, " \r\n"), cmd);
	return MS_OK;
}

static ms_status do_connect(const char *target, unsigned timeout_ms, int *fdout,
			    char *why, size_t whylen)
{
	char host[128];
	const char *colon;
	if (target[0] == '[') {
		const char *end = strchr(target, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - target - 1) >= sizeof(host))
			return ms_why(why, whylen, MS_ERR_INVALID, "bad address '%s'", target);
		memcpy(host, target + 1, (size_t)(end - target - 1));
		host[end - target - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(target, ':');
		if (colon == NULL || (size_t)(colon - target) >= sizeof(host))
			return ms_why(why, whylen, MS_ERR_INVALID, "want ADDR:PORT, not '%s'", target);
		memcpy(host, target, (size_t)(colon - target));
		host[colon - target] = '\0';
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad port in '%s'", target);
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		return ms_why(why, whylen, MS_ERR_INVALID, "'%s' is not an IP address", host);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ms_why(why, whylen, MS_ERR_NETWORK, "socket: %s",
			      ms_strerror(errno, (char[96]){0}, 96));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return ms_why(why, whylen, MS_ERR_NETWORK, "connect %s: %s", target,
				      ms_strerror(errno, (char[96]){0}, 96));
		}
		struct pollfd p = { fd, POLLOUT, 0 };
		int err = 0;
		socklen_t el = sizeof(err);
		if (poll(&p, 1, (int)timeout_ms) <= 0) {
			close(fd);
			return ms_why(why, whylen, MS_ERR_TIMEOUT, "connect %s timed out", target);
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			close(fd);
			return ms_why(why, whylen, MS_ERR_NETWORK, "connect %s: %s", target,
				      ms_strerror(err, (char[96]){0}, 96));
		}
	}
	*fdout = fd;
	return MS_OK;
}

static ms_status handshake(struct conn *c, char *why, size_t whylen)
{
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return MS_OK;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) != 0)
				return ms_why(why, whylen, MS_ERR_TIMEOUT, "TLS handshake timed out");
			continue;
		}
		unsigned long le = ERR_peek_last_error();
		char eb[160] = "";
		if (le)
			ERR_error_string_n(le, eb, sizeof(eb));
		ERR_clear_error();
		return ms_why(why, whylen, MS_ERR_TLS, "TLS handshake failed%s%s", eb[0] ? ": " : "",
			      eb);
	}
}

/* EHLO keywords (first word of each line after the greeting line). */
static void keywords(const char *text, char *out, size_t outlen)
{
	size_t ol = 0;
	const char *p = strchr(text, '\n');
	out[0] = '\0';
	while (p && *++p) {
		size_t n = strcspn(p, " \n");
		if (n && ol + n + 2 < outlen) {
			memcpy(out + ol, p, n);
			ol += n;
			out[ol++] = '\n';
			out[ol] = '\0';
		}
		p = strchr(p, '\n');
	}
}

ms_status ms_dane_probe_run(const struct ms_env *env, const struct ms_dane_probe_opts *opts,
			    struct ms_dane_probe **out, char *why, size_t whylen)
{
	if (opts == NULL || out == NULL || opts->connect == NULL || opts->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dane_probe *p = ms_calloc(&e, 1, sizeof(*p));
	struct conn *c = ms_calloc(&e, 1, sizeof(*c));
	SSL_CTX *sctx = NULL;
	ms_status st;
	if (p == NULL || c == NULL) {
		st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	p->env = e;
	c->fd = -1;
	c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000;
	const char *helo = opts->helo ? opts->helo : "localhost";
	char cmd[300], text[REPLY_MAX];
	if (strlen(helo) > 255 || strpbrk(helo, "\r\n")) {
		st = ms_why(why, whylen, MS_ERR_INVALID, "bad EHLO name");
		goto fail;
	}
	st = do_connect(opts->connect, c->timeout_ms, &c->fd, why, whylen);
	if (st != MS_OK)
		goto fail;
	int code = 0;
	step_begin(c);
	st = read_reply(c, &code, NULL, 0, why, whylen);
	if (st == MS_OK && code != 220)
		st = ms_why(why, whylen, MS_ERR_PROTOCOL, "banner %d", code);
	if (st == MS_OK && c->len != 0)
		st = ms_why(why, whylen, MS_ERR_PROTOCOL,
			    "%zu plaintext bytes pipelined after the banner", c->len);
	if (st != MS_OK)
		goto fail;
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", helo);
	st = command(c, cmd, 250, text, sizeof(text), why, whylen);
	if (st == MS_OK)
		st = command(c, "STARTTLS\r\n", 220, NULL, 0, why, whylen);
	if (st != MS_OK)
		goto fail;
	sctx = SSL_CTX_new(TLS_client_method());
	if (sctx == NULL || (c->ssl = SSL_new(sctx)) == NULL) {
		st = ms_why(why, whylen, MS_ERR_NOMEM, "cannot create TLS objects");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
	SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL); /* ms_dane_verify decides */
	if (opts->sni && !SSL_set_tlsext_host_name(c->ssl, opts->sni)) {
		st = ms_why(why, whylen, MS_ERR_INVALID, "bad SNI name");
		goto fail;
	}
	SSL_set_fd(c->ssl, c->fd);
	step_begin(c);
	st = handshake(c, why, whylen);
	if (st != MS_OK)
		goto fail;
	snprintf(p->tls, sizeof(p->tls), "%s %s", SSL_get_version(c->ssl),
		 SSL_get_cipher_name(c->ssl));
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(c->ssl);
	for (int i = 0; sk && i < sk_X509_num(sk) && p->nchain < MS_DANE_MAX_CHAIN; i++) {
		int n = i2d_X509(sk_X509_value(sk, i), &p->der[p->nchain]);
		if (n <= 0) {
			st = ms_why(why, whylen, MS_ERR_NOMEM, "cannot encode the chain");
			goto fail;
		}
		p->chain[p->nchain].der = p->der[p->nchain];
		p->chain[p->nchain].len = (size_t)n;
		p->nchain++;
	}
	/* RFC 3207 s4.2: everything learnt before TLS is forgotten. */
	st = command(c, cmd, 250, text, sizeof(text), why, whylen);
	if (st != MS_OK)
		goto fail;
	keywords(text, p->ehlo, sizeof(p->ehlo));
	(void)command(c, "QUIT\r\n", 221, NULL, 0, NULL, 0);
	SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	SSL_CTX_free(sctx);
	close(c->fd);
	ms_free(&e, c);
	*out = p;
	return MS_OK;
fail:
	if (c) {
		SSL_free(c->ssl);
		if (c->fd >= 0)
			close(c->fd);
		ms_free(&e, c);
	}
	SSL_CTX_free(sctx);
	ERR_clear_error();
	ms_dane_probe_free(p);
	return st;
}

void ms_dane_probe_free(struct ms_dane_probe *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nchain; i++)
		OPENSSL_free(p->der[i]);
	struct ms_env e = p->env;
	ms_free(&e, p);
}

size_t ms_dane_probe_chain(const struct ms_dane_probe *p, const struct ms_dane_cert **chain)
{
	if (p == NULL)
		return 0;
	if (chain)
		*chain = p->chain;
	return p->nchain;
}

const char *ms_dane_probe_ehlo(const struct ms_dane_probe *p)
{
	return p ? p->ehlo : "";
}

const char *ms_dane_probe_tls(const struct ms_dane_probe *p)
{
	return p ? p->tls : "";
}
