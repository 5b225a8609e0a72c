/*
 * rtls_server.c - an example receiving MTA built on librequiretls's
 * session (mailsec/requiretls_server.h).  It is an example, not a server
 * to deploy: one connection at a time, messages written to a directory.
 *
 *   rtls-server --listen ADDR:PORT --spool DIR [--cert CHAIN --key KEY]
 *               [--kind smtp|submission|submissions] [--no-requiretls]
 *               [--hostname NAME] [--max-size BYTES] [--timeout SECONDS]
 *
 * PORT 0 lets the kernel pick; the port is printed as "PORT n" on stdout
 * once the server listens.  Every command and reply goes to stderr
 * ("C: ..." / "S: ..."), each stored message to DIR/msgN.eml (with the
 * Received field prepended) and its requirement for onward relay to
 * DIR/msgN.requirement ("required", "not-required" or "default").
 *
 * Every REQUIRETLS/STARTTLS decision comes from the library: the EHLO
 * keywords, the answers to STARTTLS and MAIL, the state reset at TLS start,
 * the message requirement and the Received field.  The program only moves
 * bytes: bounded lines (1000 bytes, RFC 5321 s4.5.3.1), a bounded message,
 * and a deadline for every line read.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <mailsec/requiretls_server.h>

#define LINE_MAX_BYTES 1000 /* RFC 5321 s4.5.3.1.4/.6, CRLF included */
#define MAX_RCPT 100        /* RFC 5321 s4.5.3.1.8 */

struct opts {
	const char *listen, *spool, *cert, *key, *hostname;
	enum ms_rtls_listener kind;
	int no_requiretls;
	size_t max_size;
	int timeout_s;
};

struct conn {
	int fd;
	SSL *ssl;
	unsigned char buf[8192];
	size_t len;
	int timeout_s;
};

static void usage(void)
{
	fprintf(stderr, "usage: rtls-server --listen ADDR:PORT --spool DIR [--cert CHAIN --key KEY]\n"
			"       [--kind smtp|submission|submissions] [--no-requiretls]\n"
			"       [--hostname NAME] [--max-size BYTES] [--timeout SECONDS]\n");
	exit(2);
}

/* ---- bounded I/O with a deadline per line --------------------------------- */

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
		if (w <= 0) {
			if (!c->ssl && w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void reply(struct conn *c, int code, const char *enh, const char *text)
{
	char line[512];
	int n = enh[0] ? snprintf(line, sizeof(line), "%d %s %s\r\n", code, enh, text)
		       : snprintf(line, sizeof(line), "%d %s\r\n", code, text);
	fprintf(stderr, "S: %.*s\n", n - 2, line);
	conn_write(c, line, (size_t)n);
}

static void reply_r(struct conn *c, const struct ms_rtls_reply *r)
{
	reply(c, r->code, r->enhanced, r->text);
}

/* Read more bytes into c->buf before `deadline` (monotonic seconds).
 * Returns 1 on data, 0 on EOF/error, -1 on timeout. */
static int fill(struct conn *c, time_t deadline)
{
	if (!(c->ssl && SSL_pending(c->ssl) > 0)) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec >= deadline)
			return -1;
		struct pollfd p = {c->fd, POLLIN, 0};
		int r = poll(&p, 1, (int)(deadline - now.tv_sec) * 1000);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EINTR ? 1 : 0;
	}
	size_t room = sizeof(c->buf) - c->len;
	ssize_t n = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)room)
			   : read(c->fd, c->buf + c->len, room);
	if (n <= 0)
		return 0;
	c->len += (size_t)n;
	return 1;
}

/* One line without CRLF into out (NUL-terminated).  Returns its length,
 * -1 on EOF/error, -2 on timeout, -3 when longer than LINE_MAX_BYTES. */
static long read_line(struct conn *c, char *out)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t deadline = now.tv_sec + c->timeout_s;
	for (;;) {
		unsigned char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - c->buf) + 1;
			if (n > LINE_MAX_BYTES)
				return -3;
			size_t l = n - 1;
			if (l > 0 && c->buf[l - 1] == '\r')
				l--;
			memcpy(out, c->buf, l);
			out[l] = '\0';
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return (long)l;
		}
		if (c->len >= LINE_MAX_BYTES)
			return -3;
		int r = fill(c, deadline);
		if (r <= 0)
			return r == 0 ? -1 : -2;
	}
}

/* ---- one message ---------------------------------------------------------- */

struct msg {
	char *data;
	size_t len, cap;
	int too_big;
	char rcpt[MAX_RCPT][LINE_MAX_BYTES];
	size_t nrcpt;
};

static int msg_add(struct msg *m, const char *p, size_t n, size_t max)
{
	if (m->too_big || m->len + n > max) {
		m->too_big = 1;
		return 0;
	}
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 65536;
		while (cap < m->len + n)
			cap *= 2;
		char *d = realloc(m->data, cap);
		if (d == NULL)
			return -1;
		m->data = d;
		m->cap = cap;
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
	return 0;
}

/* Write the message and its requirement to the spool directory. */
static int store(const struct opts *o, struct ms_rtls_server *s, const struct msg *m,
		 unsigned long seq)
{
	char id[32], path[4096], rec[2048], why[256];
	snprintf(id, sizeof(id), "M%lu.%ld", seq, (long)getpid());
	struct ms_rtls_received x = {0};
	x.version = MS_RTLS_RECEIVED_VERSION;
	x.id = id;
	if (m->nrcpt == 1) /* RFC 5321 s4.4: "for" names one recipient only */
		x.for_addr = m->rcpt[0];
	if (ms_rtls_server_received(s, &x, rec, sizeof(rec), NULL, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "received: %s\n", why);
		return -1;
	}
	enum ms_rtls_requirement req =
		ms_rtls_server_requirement(s, (const uint8_t *)m->data, m->len);
	snprintf(path, sizeof(path), "%s/msg%lu.eml", o->spool, seq);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	int ok = fprintf(f, "%s\r\n", rec) > 0 && fwrite(m->data, 1, m->len, f) == m->len;
	ok = (fclose(f) == 0) && ok;
	snprintf(path, sizeof(path), "%s/msg%lu.requirement", o->spool, seq);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	ok = fprintf(f, "%s\n", ms_rtls_requirement_str(req)) > 0 && ok;
	ok = (fclose(f) == 0) && ok;
	fprintf(stderr, "STORED msg%lu.eml requirement=%s\n", seq, ms_rtls_requirement_str(req));
	return ok ? 0 : -1;
}

/* DATA: dot-unstuffed lines up to "." (RFC 5321 s4.5.2), bounded. */
static int read_data(struct conn *c, const struct opts *o, struct msg *m)
{
	char line[LINE_MAX_BYTES + 1];
	for (;;) {
		long n = read_line(c, line);
		if (n == -3) {
			m->too_big = 1; /* a line over the limit: refuse the message */
			c->len = 0;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 1 && line[0] == '.')
			return 0;
		const char *p = line[0] == '.' ? line + 1 : line;
		if (msg_add(m, p, strlen(p), o->max_size) < 0 ||
		    msg_add(m, "\r\n", 2, o->max_size) < 0)
			return -1;
	}
}

/* ---- the session ---------------------------------------------------------- */

static int tls_start(struct conn *c, SSL_CTX *ctx, struct ms_rtls_server *s)
{
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_accept(c->ssl) != 1) {
		fprintf(stderr, "TLS handshake failed\n");
		ERR_clear_error();
		return -1;
	}
	if (ms_rtls_server_tls_started(s, SSL_get_version(c->ssl),
				       SSL_get_cipher_name(c->ssl)) != MS_OK)
		return -1;
	fprintf(stderr, "TLS %s %s\n", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	return 0;
}

static int verb_is(const char *line, const char *verb)
{
	size_t n = strlen(verb);
	return strncasecmp(line, verb, n) == 0 && (line[n] == '\0' || line[n] == ' ' ||
						   line[n] == ':');
}

static void ehlo_reply(struct conn *c, struct ms_rtls_server *s, const struct opts *o)
{
	const char *kw[4];
	size_t n = ms_rtls_server_keywords(s, kw, 4);
	char out[1024];
	int len = snprintf(out, sizeof(out), "250-%s\r\n", o->hostname);
	for (size_t i = 0; i < n && i < 4; i++)
		len += snprintf(out + len, sizeof(out) - (size_t)len, "250-%s\r\n", kw[i]);
	len += snprintf(out + len, sizeof(out) - (size_t)len, "250 SIZE %zu\r\n", o->max_size);
	fprintf(stderr, "S: %.*s\n", len - 2, out);
	conn_write(c, out, (size_t)len);
}

static void session(int fd, const char *client_ip, const struct opts *o, SSL_CTX *ctx,
		    unsigned long *seq)
{
	struct conn c = {.fd = fd, .timeout_s = o->timeout_s};
	struct ms_rtls_server_config cfg = {0};
	cfg.version = MS_RTLS_SERVER_CONFIG_VERSION;
	cfg.kind = o->kind;
	cfg.hostname = o->hostname;
	cfg.tls_available = ctx != NULL;
	cfg.disable_requiretls = o->no_requiretls;
	struct ms_rtls_server *s = NULL;
	char why[256] = "";
	if (ms_rtls_server_new(NULL, &cfg, client_ip, &s, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "session: %s\n", why);
		return;
	}
	struct msg *m = calloc(1, sizeof(*m));
	if (m == NULL || (o->kind == MS_RTLS_LISTEN_SUBMISSIONS && tls_start(&c, ctx, s) < 0))
		goto out;
	fprintf(stderr, "CONNECT %s kind=%s\n", client_ip, ms_rtls_listener_str(o->kind));
	reply(&c, 220, "2.0.0", "rtls-server ESMTP (mailsec example)");
	char line[LINE_MAX_BYTES + 1];
	for (;;) {
		long n = read_line(&c, line);
		if (n == -2) {
			reply(&c, 421, "4.4.2", "Timeout");
			break;
		}
		if (n == -3) {
			reply(&c, 500, "5.5.2", "Line too long");
			break;
		}
		if (n < 0)
			break;
		fprintf(stderr, "C: %s\n", line);
		struct ms_rtls_reply r;
		if (verb_is(line, "EHLO") || verb_is(line, "HELO")) {
			int esmtp = verb_is(line, "EHLO");
			m->nrcpt = 0;
			if (ms_rtls_server_hello(s, line[4] == ' ' ? line + 5 : "", esmtp) != MS_OK)
				reply(&c, 501, "5.5.4", "Bad or missing domain");
			else if (esmtp)
				ehlo_reply(&c, s, o);
			else
				reply(&c, 250, "2.0.0", o->hostname);
		} else if (verb_is(line, "STARTTLS")) {
			ms_rtls_server_starttls(s, &r);
			reply_r(&c, &r);
			if (r.accept) {
				if (c.len > 0) /* pipelined plaintext: never read it */
					fprintf(stderr, "DISCARD %zu bytes after STARTTLS\n", c.len);
				c.len = 0;
				m->nrcpt = 0;
				if (tls_start(&c, ctx, s) < 0)
					break;
			}
		} else if (verb_is(line, "MAIL")) {
			ms_rtls_server_mail(s, (const uint8_t *)line, (size_t)n, &r, why, sizeof(why));
			m->nrcpt = 0;
			reply_r(&c, &r);
		} else if (verb_is(line, "RCPT")) {
			const char *lt = strchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
			if (!ms_rtls_server_in_transaction(s))
				reply(&c, 503, "5.5.1", "Need MAIL before RCPT");
			else if (strncasecmp(line, "RCPT TO:", 8) != 0 || gt == NULL || gt == lt + 1)
				reply(&c, 501, "5.5.4", "Syntax: RCPT TO:<address>");
			else if (m->nrcpt == MAX_RCPT)
				reply(&c, 452, "4.5.3", "Too many recipients");
			else {
				snprintf(m->rcpt[m->nrcpt++], LINE_MAX_BYTES, "%.*s",
					 (int)(gt - lt - 1), lt + 1);
				reply(&c, 250, "2.1.5", "Recipient OK");
			}
		} else if (verb_is(line, "DATA")) {
			if (!ms_rtls_server_in_transaction(s) || m->nrcpt == 0) {
				reply(&c, 503, "5.5.1", "Need MAIL and RCPT before DATA");
				continue;
			}
			reply(&c, 354, "", "End data with <CR><LF>.<CR><LF>");
			m->len = 0;
			m->too_big = 0;
			if (read_data(&c, o, m) < 0)
				break;
			if (m->too_big)
				reply(&c, 552, "5.3.4", "Message too big");
			else if (store(o, s, m, ++*seq) < 0)
				reply(&c, 451, "4.3.0", "Could not store the message");
			else
				reply(&c, 250, "2.0.0", "Message accepted");
			ms_rtls_server_reset(s);
			m->nrcpt = 0;
		} else if (verb_is(line, "RSET")) {
			ms_rtls_server_reset(s);
			m->nrcpt = 0;
			reply(&c, 250, "2.0.0", "OK");
		} else if (verb_is(line, "NOOP")) {
			reply(&c, 250, "2.0.0", "OK");
		} else if (verb_is(line, "QUIT")) {
			reply(&c, 221, "2.0.0", "Bye");
			break;
		} else {
			reply(&c, 500, "5.5.2", "Command not recognised");
		}
	}
out:
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	if (m)
		free(m->data);
	free(m);
	ms_rtls_server_free(s);
	fprintf(stderr, "CLOSE %s\n", client_ip);
}

/* ---- listener -------------------------------------------------------------- */

static void parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.hostname = "mx.example", .max_size = 10 * 1024 * 1024,
			   .timeout_s = 30, .kind = MS_RTLS_LISTEN_SMTP};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-requiretls") == 0) {
			o->no_requiretls = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--listen") == 0)
			o->listen = v;
		else if (strcmp(a, "--spool") == 0)
			o->spool = v;
		else if (strcmp(a, "--cert") == 0)
			o->cert = v;
		else if (strcmp(a, "--key") == 0)
			o->key = v;
		else if (strcmp(a, "--hostname") == 0)
			o->hostname = v;
		else if (strcmp(a, "--max-size") == 0)
			o->max_size = strtoul(v, NULL, 10);
		else if (strcmp(a, "--timeout") == 0)
			o->timeout_s = atoi(v);
		else if (strcmp(a, "--kind") == 0) {
			if (strcmp(v, "smtp") == 0)
				o->kind = MS_RTLS_LISTEN_SMTP;
			else if (strcmp(v, "submission") == 0)
				o->kind = MS_RTLS_LISTEN_SUBMISSION;
			else if (strcmp(v, "submissions") == 0)
				o->kind = MS_RTLS_LISTEN_SUBMISSIONS;
			else
				usage();
		} else
			usage();
	}
	if (o->listen == NULL || o->spool == NULL || (!o->cert != !o->key) ||
	    o->timeout_s <= 0 || o->max_size == 0)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);

	SSL_CTX *ctx = NULL;
	if (o.cert) {
		ctx = SSL_CTX_new(TLS_server_method());
		if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, o.cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "cannot load %s / %s\n", o.cert, o.key);
			return 1;
		}
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	}

	char host[256];
	const char *colon = strrchr(o.listen, ':');
	if (colon == NULL || (size_t)(colon - o.listen) >= sizeof(host))
		usage();
	snprintf(host, sizeof(host), "%.*s", (int)(colon - o.listen), o.listen);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "--listen needs an IPv4 address:port\n");
		return 2;
	}
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 16) != 0) {
		perror("listen");
		return 1;
	}
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	printf("PORT %u\n", ntohs(sa.sin_port));
	fflush(stdout);

	unsigned long seq = 0;
	for (;;) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int fd = accept(ls, (struct sockaddr *)&peer, &pl);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			break;
		}
		/* A backstop for reads inside OpenSSL (a half-sent TLS record)
		 * and for writes to a client that stopped reading. */
		struct timeval tv = {.tv_sec = o.timeout_s};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
		session(fd, ip, &o, ctx, &seq);
		close(fd);
	}
	SSL_CTX_free(ctx);
	close(ls);
	return 0;
}
