/*
 * bench_milter.c - mailsec-milter against OpenDKIM + OpenDMARC, measured
 * through the milter protocol itself: this program is a minimal MTA side
 * of the Sendmail milter protocol (version 6, as Postfix speaks it: option
 * negotiation, macros, connect, helo, mail, rcpt, headers, end of headers,
 * body, end of message with its modification replies, quit), one milter
 * connection per message as an smtpd process makes one per SMTP session.
 * A chain of milters is driven like Postfix's smtpd_milters list: headers
 * a milter inserts are passed on to the next one (OpenDMARC reads
 * OpenDKIM's Authentication-Results).
 *
 *   bench-milter --world DIR --ours SOCK --ours-pid PID
 *                --peer SOCK[,SOCK] --peer-pid PID[,PID]
 *   (SOCK: /unix/socket/path or HOST:PORT)
 *                [--messages 1000] [--warmup 50] [--concurrency 4]
 *   bench-milter --world DIR --ours SOCK --ours-pid PID --soak SECONDS
 *                (RSS of our milter under load, sampled every 10 s)
 *
 * Every message is DKIM-signed (rsa-sha256, d=example.test, the test
 * world's key) and must come back with dkim=pass and dmarc=pass from both
 * sides, or the run fails.  Answers are cached: a warm-up round first.
 * Milter CPU per message: utime+stime of the milter processes from
 * /proc/PID/stat across the measured round, divided by the messages.
 * Output lines:
 *   bench milter-cpu-per-msg/opendkim+opendmarc ours_ns=.. opendkim+opendmarc_ns=.. ratio=..
 *   bench milter-wall-per-msg/opendkim+opendmarc ours_ns=.. ...   (1/throughput)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/dkim.h>

/* protocol constants (libmilter/mfdef.h values, written out so the
 * client does not depend on libmilter's headers) */
#define P_NOCONNECT 0x1u
#define P_NOHELO 0x2u
#define P_NOMAIL 0x4u
#define P_NORCPT 0x8u
#define P_NOBODY 0x10u
#define P_NOHDRS 0x20u
#define P_NOEOH 0x40u
#define P_NR_HDR 0x80u
#define P_NODATA 0x200u
#define P_NR_CONN 0x1000u
#define P_NR_HELO 0x2000u
#define P_NR_MAIL 0x4000u
#define P_NR_RCPT 0x8000u
#define P_NR_DATA 0x10000u
#define P_NR_EOH 0x40000u
#define P_NR_BODY 0x80000u
#define P_HDR_LEADSPC 0x100000u
#define P_OFFERED 0x001FF3FFu /* everything but SKIP/RCPT_REJ/UNKNOWN */

struct target {
	char host[108];  /* an address, or a unix socket path */
	int port;
};

struct chain {
	struct target t[2];
	int n;
};

struct msg {
	char *text;      /* header + body, CRLF */
	size_t len;
};

static struct msg *msgs;
static int nmsgs;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-milter: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int xconnect(const struct target *t)
{
	int fd;
	if (t->host[0] == '/') {
		/* a unix socket, as Debian's OpenDKIM and OpenDMARC default to */
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", t->host);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(fd);
			return -1;
		}
	} else {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
		inet_pton(AF_INET, t->host, &a.sin_addr);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(fd);
			return -1;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	struct timeval tv = {30, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = recv(fd, c, n, 0);
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One write per packet: a header and its data in separate segments would
 * meet Nagle's algorithm and delayed ACKs on every no-reply command. */
static int send_pkt(int fd, char cmd, const void *data, size_t len)
{
	char stackbuf[4096];
	char *b = len + 5 <= sizeof(stackbuf) ? stackbuf : malloc(len + 5);
	uint32_t l = htonl((uint32_t)len + 1);
	memcpy(b, &l, 4);
	b[4] = cmd;
	if (len)
		memcpy(b + 5, data, len);
	int r = write_all(fd, b, len + 5);
	if (b != stackbuf)
		free(b);
	return r;
}

/* One packet; *data malloc'd (NUL-terminated), returns the command or -1. */
static int recv_pkt(int fd, char **data, size_t *len)
{
	uint32_t l;
	if (read_all(fd, &l, 4) != 0)
		return -1;
	l = ntohl(l);
	if (l == 0 || l > (1u << 20))
		return -1;
	char cmd;
	if (read_all(fd, &cmd, 1) != 0)
		return -1;
	*len = l - 1;
	*data = malloc(*len + 1);
	if (*len && read_all(fd, *data, *len) != 0) {
		free(*data);
		return -1;
	}
	(*data)[*len] = '\0';
	return (unsigned char)cmd;
}

/* A reply to a non-EOM command: 'c' continue is all we expect. */
static int expect_continue(int fd)
{
	char *d;
	size_t n;
	int c = recv_pkt(fd, &d, &n);
	if (c < 0)
		return -1;
	free(d);
	return c == 'c' ? 0 : -1;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/*
 * One message through one milter.  `extra` holds header fields inserted
 * by earlier milters ("Name: value\n" lines), sent before the message's
 * own; fields this milter inserts or adds are appended to `added`.
 * Returns 0 when the milter answered continue/accept at the end.
 */
static int run_one(const struct target *t, const struct msg *m, const char *extra,
		   struct buf *added)
{
	errno = 0;
	int fd = xconnect(t);
	if (fd < 0)
		return -1;
	int rc = -1;
	uint32_t opt[3] = {htonl(6), htonl(0x1FF), htonl(P_OFFERED)};
	if (send_pkt(fd, 'O', opt, sizeof(opt)) != 0)
		goto out;
	char *d;
	size_t n;
	if (recv_pkt(fd, &d, &n) != 'O' || n < 12) {
		goto out;
	}
	uint32_t proto;
	memcpy(&proto, d + 8, 4);
	proto = ntohl(proto);
	free(d);
	int leadspc = (proto & P_HDR_LEADSPC) != 0;
	static const char mconn[] = "Cj\0mx1.example.test\0{daemon_name}\0bench\0";
	send_pkt(fd, 'D', mconn, sizeof(mconn) - 1);
	if (!(proto & P_NOCONNECT)) {
		static const char c[] = "client.example.test\0" "4\x00\x19" "192.0.2.1\0";
		if (send_pkt(fd, 'C', c, sizeof(c) - 1) != 0 ||
		    (!(proto & P_NR_CONN) && expect_continue(fd) != 0))
			goto out;
	}
	if (!(proto & P_NOHELO)) {
		static const char h[] = "client.example.test\0";
		if (send_pkt(fd, 'H', h, sizeof(h) - 1) != 0 ||
		    (!(proto & P_NR_HELO) && expect_continue(fd) != 0))
			goto out;
	}
	static const char mmail[] = "M{mail_addr}\0alice@example.test\0";
	send_pkt(fd, 'D', mmail, sizeof(mmail) - 1);
	if (!(proto & P_NOMAIL)) {
		static const char f[] = "<alice@example.test>\0";
		if (send_pkt(fd, 'M', f, sizeof(f) - 1) != 0 ||
		    (!(proto & P_NR_MAIL) && expect_continue(fd) != 0))
			goto out;
	}
	if (!(proto & P_NORCPT)) {
		static const char r[] = "<bob@example.org>\0";
		if (send_pkt(fd, 'R', r, sizeof(r) - 1) != 0 ||
		    (!(proto & P_NR_RCPT) && expect_continue(fd) != 0))
			goto out;
	}
	if (!(proto & P_NODATA)) {
		if (send_pkt(fd, 'T', NULL, 0) != 0 ||
		    (!(proto & P_NR_DATA) && expect_continue(fd) != 0))
			goto out;
	}
	/* headers: the earlier milters' fields, then the message's own
	 * (unfolded into name and value the way an MTA passes them) */
	struct buf all = {0};
	if (extra)
		buf_add(&all, extra, strlen(extra));
	const char *body = strstr(m->text, "\r\n\r\n");
	buf_add(&all, m->text, (size_t)(body - m->text) + 2);
	body += 4;
	const char *p = all.p;
	int ok = 1;
	while (*p && ok) {
		/* one field: up to a line end not followed by white space */
		const char *e = p;
		for (;;) {
			e = strchr(e, '\n');
			if (e == NULL || (e[1] != ' ' && e[1] != '\t'))
				break;
			e++;
		}
		const char *end = e ? e : p + strlen(p);
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			break;
		struct buf f = {0};
		buf_add(&f, p, (size_t)(colon - p));
		buf_add(&f, "", 1); /* the NUL between name and value */
		const char *v = colon + 1;
		if (!leadspc)
			while (*v == ' ')
				v++;
		size_t vl = (size_t)(end - v);
		if (vl > 0 && v[vl - 1] == '\r')
			vl--;
		/* inner line ends as LF only, as Postfix passes them */
		for (size_t i = 0; i < vl; i++)
			if (v[i] != '\r')
				buf_add(&f, v + i, 1);
		buf_add(&f, "", 1);
		if (!(proto & P_NOHDRS)) {
			if (send_pkt(fd, 'L', f.p, f.len) != 0 ||
			    (!(proto & P_NR_HDR) && expect_continue(fd) != 0))
				ok = 0;
		}
		free(f.p);
		p = e ? e + 1 : end;
	}
	free(all.p);
	if (!ok)
		goto out;
	if (!(proto & P_NOEOH)) {
		if (send_pkt(fd, 'N', NULL, 0) != 0 ||
		    (!(proto & P_NR_EOH) && expect_continue(fd) != 0))
			goto out;
	}
	if (!(proto & P_NOBODY)) {
		size_t bl = m->len - (size_t)(body - m->text);
		for (size_t o = 0; o < bl; o += 65535) {
			size_t c = bl - o > 65535 ? 65535 : bl - o;
			if (send_pkt(fd, 'B', body + o, c) != 0 ||
			    (!(proto & P_NR_BODY) && expect_continue(fd) != 0))
				goto out;
		}
	}
	static const char meom[] = "Ei\0BENCHQID\0";
	send_pkt(fd, 'D', meom, sizeof(meom) - 1);
	if (send_pkt(fd, 'E', NULL, 0) != 0)
		goto out;
	for (;;) {
		int c = recv_pkt(fd, &d, &n);
		if (c < 0)
			goto out;
		if (c == 'h' || c == 'i') {
			/* add header / insert header (index first) */
			const char *q = c == 'i' ? d + 4 : d;
			const char *name = q, *val = q + strlen(q) + 1;
			buf_add(added, name, strlen(name));
			buf_add(added, ":", 1);
			if (!leadspc)
				buf_add(added, " ", 1);
			buf_add(added, val, strlen(val));
			buf_add(added, "\n", 1);
		} else if (c == 'c' || c == 'a') {
			free(d);
			rc = 0;
			break;
		} else if (c != 'm' && c != 'p' && c != 'q') {
			free(d);
			break; /* reject, tempfail, discard, reply code */
		}
		free(d);
	}
	send_pkt(fd, 'Q', NULL, 0);
out:
	close(fd);
	return rc;
}

/* Both verdicts reached: dkim=pass and dmarc=pass in what was added. */
static int verdict_ok(const char *added)
{
	return added && strstr(added, "dkim=pass") && strstr(added, "dmarc=pass");
}

struct work {
	const struct chain *ch;
	int from, to;     /* message indices */
	int failures;
	char first_bad[2048];
};

static void *worker(void *arg)
{
	struct work *w = arg;
	for (int i = w->from; i < w->to; i++) {
		struct buf added = {0};
		buf_add(&added, "", 0);
		int bad = 0;
		for (int k = 0; k < w->ch->n && !bad; k++) {
			char *extra = strdup(added.p);
			if (run_one(&w->ch->t[k], &msgs[i % nmsgs], extra, &added) != 0) {
				char note[160];
				snprintf(note, sizeof(note), "(milter %d of the chain failed: %s)\n", k + 1,
					 errno ? strerror(errno) : "no continue at the end");
				buf_add(&added, note, strlen(note));
				bad = 1;
			}
			free(extra);
		}
		if (bad || !verdict_ok(added.p)) {
			if (w->failures++ == 0)
				snprintf(w->first_bad, sizeof(w->first_bad), "%s",
					 added.p ? added.p : "(no answer)");
		}
		free(added.p);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of a process, in seconds. */
static double cpu_of(int pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the name may hold spaces */
	if (p == NULL)
		die("%s: unreadable", path);
	unsigned long ut = 0, st = 0;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		die("%s: unreadable", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct result {
	double cpu_per_msg_ns, wall_per_msg_ns, msgs_per_s;
};

static struct result measure(const char *label, const struct chain *ch, const int *pids, int npids,
			     int count, int warmup, int conc)
{
	struct work w0 = {ch, 0, warmup, 0, ""};
	worker(&w0);
	if (w0.failures)
		die("%s: warm-up: %d of %d messages without dkim=pass and dmarc=pass; first:\n%s",
		    label, w0.failures, warmup, w0.first_bad);
	double cpu0 = 0, cpu1 = 0;
	for (int i = 0; i < npids; i++)
		cpu0 += cpu_of(pids[i]);
	pthread_t th[64];
	struct work w[64];
	double t0 = now_s();
	for (int i = 0; i < conc; i++) {
		w[i] = (struct work){ch, count * i / conc, count * (i + 1) / conc, 0, ""};
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	int fails = 0;
	for (int i = 0; i < conc; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures && !fails)
			fprintf(stderr, "%s: first bad answer:\n%s\n", label, w[i].first_bad);
		fails += w[i].failures;
	}
	double t1 = now_s();
	for (int i = 0; i < npids; i++)
		cpu1 += cpu_of(pids[i]);
	if (fails)
		die("%s: %d of %d messages without dkim=pass and dmarc=pass", label, fails, count);
	struct result r = {
		.cpu_per_msg_ns = (cpu1 - cpu0) * 1e9 / count,
		.wall_per_msg_ns = (t1 - t0) * 1e9 / count,
		.msgs_per_s = count / (t1 - t0),
	};
	printf("# %s: %d messages, concurrency %d: %.0f msg/s, milter CPU %.1f us/msg\n", label,
	       count, conc, r.msgs_per_s, r.cpu_per_msg_ns / 1e3);
	fflush(stdout);
	return r;
}

/* "HOST:PORT" or "/unix/path", comma-separated (a chain of two at most). */
/* VmRSS of a process in KiB. */
static long rss_kib(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Soak: our milter only, for `seconds`, batches of the messages at
 * `conc`; RSS sampled every 10 s after a warm-up of 1,000 messages.
 * Flat means the last sample within 10 % of the first (exit 1 otherwise).
 */
static int soak(const struct chain *ch, int pid, int seconds, int conc)
{
	struct work w0 = {ch, 0, nmsgs < 1000 ? nmsgs : 1000, 0, ""};
	worker(&w0);
	if (w0.failures)
		die("soak: warm-up failed: %s", w0.first_bad);
	long first = rss_kib(pid), max = first, last = first;
	double t0 = now_s(), next = t0 + 10;
	long done = 0;
	int fails = 0;
	printf("# soak t=0s rss_kib=%ld\n", first);
	while (now_s() - t0 < seconds) {
		pthread_t th[64];
		struct work w[64];
		int batch = nmsgs;
		for (int i = 0; i < conc; i++) {
			w[i] = (struct work){ch, batch * i / conc, batch * (i + 1) / conc, 0, ""};
			pthread_create(&th[i], NULL, worker, &w[i]);
		}
		for (int i = 0; i < conc; i++) {
			pthread_join(th[i], NULL);
			fails += w[i].failures;
		}
		done += batch;
		if (now_s() >= next) {
			last = rss_kib(pid);
			if (last > max)
				max = last;
			printf("# soak t=%.0fs messages=%ld rss_kib=%ld\n", now_s() - t0, done, last);
			fflush(stdout);
			next += 10;
		}
	}
	last = rss_kib(pid);
	double growth = 100.0 * (double)(last - first) / (double)first;
	printf("soak mailsec-milter seconds=%d messages=%ld failures=%d rss_first_kib=%ld rss_last_kib=%ld rss_max_kib=%ld growth_pct=%.1f %s\n",
	       seconds, done, fails, first, last, max, growth,
	       growth <= 10.0 && fails == 0 ? "flat" : "NOT-FLAT");
	return growth <= 10.0 && fails == 0 ? 0 : 1;
}

static int parse_targets(const char *s, struct chain *c)
{
	c->n = 0;
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", s);
	for (char *tok = strtok(tmp, ","); tok && c->n < 2; tok = strtok(NULL, ",")) {
		struct target *t = &c->t[c->n];
		if (tok[0] == '/') {
			snprintf(t->host, sizeof(t->host), "%s", tok);
			t->port = 0;
		} else {
			char *colon = strrchr(tok, ':');
			if (colon == NULL)
				return -1;
			*colon = '\0';
			snprintf(t->host, sizeof(t->host), "%s", tok);
			t->port = atoi(colon + 1);
		}
		c->n++;
	}
	return c->n > 0 ? 0 : -1;
}

static int parse_pids(const char *s, int *pids)
{
	int n = 0;
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", s);
	for (char *tok = strtok(tmp, ","); tok && n < 4; tok = strtok(NULL, ","))
		pids[n++] = atoi(tok);
	return n;
}

/* N distinct messages, each signed by example.test with the world's key. */
static void make_messages(const char *world, int n)
{
	char path[1024], why[256] = "";
	snprintf(path, sizeof(path), "%s/pki/dkim/rsa.pem", world);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	char pem[8192];
	size_t pl = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	struct ms_dkim_key *k = NULL;
	if (ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, pl, &k, why, sizeof(why)) != MS_OK)
		die("key: %s", why);
	msgs = calloc((size_t)n, sizeof(*msgs));
	nmsgs = n;
	for (int i = 0; i < n; i++) {
		char body[4096];
		int bl = snprintf(body, sizeof(body),
				  "From: Alice <alice@example.test>\r\n"
				  "To: bob@example.org\r\n"
				  "Subject: benchmark message %d\r\n"
				  "Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
				  "Message-ID: <bench-%d@example.test>\r\n"
				  "MIME-Version: 1.0\r\n"
				  "Content-Type: text/plain; charset=us-ascii\r\n"
				  "\r\n", i, i);
		for (int l = 0; l < 30; l++) /* a ~2 KB body */
			bl += snprintf(body + bl, sizeof(body) - (size_t)bl,
				       "line %02d of message %d: the quick brown fox jumps over\r\n", l, i);
		struct ms_dkim_signer *s = NULL;
		struct ms_dkim_sign_opts o = {.version = MS_DKIM_SIGN_OPTS_VERSION, .key = k,
					      .domain = "example.test", .selector = "rsa",
					      .header_canon = MS_DKIM_CANON_RELAXED,
					      .body_canon = MS_DKIM_CANON_RELAXED};
		if (ms_dkim_signer_new(NULL, &s) != MS_OK || ms_dkim_signer_add(s, &o, why, sizeof(why)) != MS_OK ||
		    ms_dkim_signer_feed(s, (const uint8_t *)body, (size_t)bl, why, sizeof(why)) != MS_OK ||
		    ms_dkim_signer_finish(s, why, sizeof(why)) != MS_OK)
			die("sign: %s", why);
		const char *h = ms_dkim_signer_headers(s);
		msgs[i].len = strlen(h) + (size_t)bl;
		msgs[i].text = malloc(msgs[i].len + 1);
		strcpy(msgs[i].text, h);
		strcat(msgs[i].text, body);
		ms_dkim_signer_free(s);
	}
	ms_dkim_key_free(k);
}

int main(int argc, char **argv)
{
	const char *world = getenv("MS_TEST_WORLD"), *ours = NULL, *peer = NULL;
	const char *ours_pid = NULL, *peer_pid = NULL;
	int count = 1000, warmup = 50, conc = 4, soak_s = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--world") == 0) world = argv[i + 1];
		else if (strcmp(argv[i], "--ours") == 0) ours = argv[i + 1];
		else if (strcmp(argv[i], "--ours-pid") == 0) ours_pid = argv[i + 1];
		else if (strcmp(argv[i], "--peer") == 0) peer = argv[i + 1];
		else if (strcmp(argv[i], "--peer-pid") == 0) peer_pid = argv[i + 1];
		else if (strcmp(argv[i], "--messages") == 0) count = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--concurrency") == 0) conc = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--soak") == 0) soak_s = atoi(argv[i + 1]);
		else die("unknown option %s", argv[i]);
	}
	if (soak_s > 0 && world && ours && ours_pid && count >= 1 && conc >= 1 && conc <= 64) {
		make_messages(world, count);
		struct chain c;
		if (parse_targets(ours, &c) != 0)
			die("bad target");
		return soak(&c, atoi(ours_pid), soak_s, conc);
	}
	if (!world || !ours || !ours_pid || !peer || !peer_pid || count < 1 || conc < 1 || conc > 64)
		die("usage: bench-milter --world DIR --ours H:P --ours-pid PID --peer H:P[,H:P] "
		    "--peer-pid PID[,PID] [--messages N] [--warmup N] [--concurrency C]");
	make_messages(world, count);
	struct chain co, cp;
	int po[4], pp[4];
	if (parse_targets(ours, &co) != 0 || parse_targets(peer, &cp) != 0)
		die("bad target");
	int npo = parse_pids(ours_pid, po), npp = parse_pids(peer_pid, pp);
	struct result ro = measure("mailsec-milter", &co, po, npo, count, warmup, conc);
	struct result rp = measure("opendkim+opendmarc", &cp, pp, npp, count, warmup, conc);
	printf("bench milter-cpu-per-msg/opendkim+opendmarc ours_ns=%.0f opendkim+opendmarc_ns=%.0f ratio=%.2f\n",
	       ro.cpu_per_msg_ns, rp.cpu_per_msg_ns,
	       ro.cpu_per_msg_ns > 0 ? rp.cpu_per_msg_ns / ro.cpu_per_msg_ns : 0.0);
	printf("bench milter-wall-per-msg-c%d/opendkim+opendmarc ours_ns=%.0f opendkim+opendmarc_ns=%.0f ratio=%.2f\n",
	       conc, ro.wall_per_msg_ns, rp.wall_per_msg_ns,
	       ro.wall_per_msg_ns > 0 ? rp.wall_per_msg_ns / ro.wall_per_msg_ns : 0.0);
	return 0;
}
