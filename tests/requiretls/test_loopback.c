/*
 * test_loopback.c - end to end on loopback: a minimal delivery client
 * built from librequiretls's pieces (its SMTP transport with the EHLO
 * parsing and RFC 3207 discard after STARTTLS, the decision engine,
 * MAIL FROM formatting) talks to a real
 * aiosmtpd peer (reqtls_peer.py, started here with fork/exec) over real
 * TLS (OpenSSL, a test PKI generated at test time with openssl).
 * DANE is checked with OpenSSL's own DANE code on a TLSA 3 1 1 record of
 * the right key, standing in for libdane.  Run with the argument
 * "postfix", it plays the same client against Debian's Postfix (no
 * REQUIRETLS) started from a configuration the test writes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_smtp.h>

static char dir[256];
static char ca_file[320];

/* ---- fixture: temp dir + PKI (once per test case) ---- */

static void pki_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/rtls-loop-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	const char *src = getenv("MS_SOURCE_ROOT");
	ck_assert_ptr_nonnull(src);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd '%s' && sh '%s/tests/requiretls/make-pki.sh'", dir, src);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", dir);
}

static void pki_teardown(void)
{
	char cmd[1024];
	/* A Postfix test that failed half-way left its master running:
	 * stop it before its configuration disappears. */
	snprintf(cmd, sizeof(cmd), "test ! -d '%s/pfx-conf' || /usr/sbin/postfix -c '%s/pfx-conf' stop >/dev/null 2>&1; true",
		 dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not stop the test postfix\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- the peer ---- */

struct peer {
	pid_t pid;
	int port;
	char log[400];
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {20, 0}; /* a hung peer fails the test, not hangs it */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Wait until something listens on 127.0.0.1:port: bounded (20 s), never
 * asserted on timing; a server that does not come up (or, pid > 0, whose
 * process exits) fails the test. */
static void wait_listening(int port, pid_t pid, const char *what)
{
	for (int i = 0; i < 400; i++) {
		int st;
		if (pid > 0)
			ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "%s exited early", what);
		int fd = tcp_connect(port);
		if (fd >= 0) {
			close(fd);
			return;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("%s did not start listening", what);
}

static void peer_start(struct peer *p, const char *mode, const char *cert)
{
	const char *py = getenv("MS_RTLS_PYTHON");
	const char *script = getenv("MS_RTLS_PEER");
	ck_assert_msg(py && script, "MS_RTLS_PYTHON and MS_RTLS_PEER must be set");
	p->port = free_port();
	snprintf(p->log, sizeof(p->log), "%s/peer-%d.log", dir, p->port);
	char port[16];
	snprintf(port, sizeof(port), "%d", p->port);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		execl(py, py, script, port, dir, cert, p->log, mode, (char *)NULL);
		_exit(127);
	}
	wait_listening(p->port, p->pid, "peer"); /* python start-up */
}

static void peer_stop(struct peer *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

/* The peer's log (what it accepted), "" when nothing arrived. */
static void peer_log(const struct peer *p, char *out, size_t n)
{
	out[0] = '\0';
	FILE *f = fopen(p->log, "r");
	if (f == NULL)
		return;
	size_t r = fread(out, 1, n - 1, f);
	out[r] = '\0';
	fclose(f);
}

/* TLSA 3 1 1 data (SHA-256 of the SPKI) of a PEM certificate. */
static size_t spki_sha256(const char *pem, unsigned char out[32])
{
	FILE *f = fopen(pem, "r");
	ck_assert_ptr_nonnull(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	ck_assert_int_gt(n, 0);
	unsigned int len = 0;
	ck_assert(EVP_Digest(der, (size_t)n, out, &len, EVP_sha256(), NULL));
	OPENSSL_free(der);
	X509_free(x);
	return len;
}

/*
 * Per-connection TLS settings for librequiretls's transport (its
 * tls_setup hook).  The handshake itself does not verify (so that
 * TLS-Required: No can go on over unverified TLS); the verification
 * results are read afterwards: PKIX against the test CA and the MX name
 * (RFC 8461 s4.2), or DANE with the given TLSA 3 1 1 record (RFC 7672 s3),
 * by OpenSSL's own DANE code standing in for libdane.
 */
struct tls_cfg {
	const char *host;
	const unsigned char *tlsa;
	size_t tlsalen;
};

static int tls_setup(void *user, SSL *ssl)
{
	const struct tls_cfg *t = user;
	if (t->tlsa)
		return SSL_dane_enable(ssl, t->host) > 0 &&
		       SSL_dane_tlsa_add(ssl, 3, 1, 1, t->tlsa, t->tlsalen) > 0 ? 0 : -1;
	return SSL_set1_host(ssl, t->host) == 1 ? 0 : -1;
}

static SSL_CTX *tls_ctx(int dane)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, ca_file, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (dane)
		ck_assert_int_gt(SSL_CTX_dane_enable(ctx), 0);
	return ctx;
}

static void tls_observe(SSL *ssl, int dane, struct ms_rtls_observed *o)
{
	int ok = SSL_get_verify_result(ssl) == X509_V_OK;
	if (dane)
		o->dane = (ok && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0)
			  ? MS_RTLS_STEP_OK : MS_RTLS_STEP_FAILED;
	else
		o->pkix = ok ? MS_RTLS_STEP_OK : MS_RTLS_STEP_FAILED;
}

/* ---- delivery with the decision engine ---- */

struct delivery {
	struct ms_rtls_outcome out;
	struct ms_rtls_observed obs;
	int pre_tls_requiretls;   /* REQUIRETLS seen before STARTTLS */
	int delivered;
	char mail_params[256];
};

static const char message[] =
	"From: <a@example.org>\r\nTo: <b@example.test>\r\nSubject: t\r\n%s\r\nhello\r\n";

static void deliver_once(struct peer *p, const struct ms_rtls_domain *d,
			 const struct ms_rtls_host *h, const struct ms_rtls_plan *plan,
			 const unsigned char *tlsa, size_t tlsalen, int plaintext,
			 struct delivery *r)
{
	/* the SMTP session is librequiretls's transport */
	struct tls_cfg cfg = { h->name, tlsa, tlsalen };
	struct ms_rtls_smtp_opts so = { .version = MS_RTLS_SMTP_OPTS_VERSION, .timeout_ms = 20000,
					.tls_setup = tls_setup, .tls_user = &cfg };
	struct ms_rtls_smtp *s = NULL;
	struct ms_rtls_smtp_reply rep;
	char why[300] = "";
	SSL_CTX *ctx = tls_ctx(tlsa != NULL);
	memset(&r->obs, 0, sizeof(r->obs));
	r->obs.plaintext = plaintext;
	ck_assert_int_eq(ms_rtls_smtp_new(NULL, &so, &s), MS_OK);
	if (ms_rtls_smtp_connect(s, "127.0.0.1", (uint16_t)p->port, why, sizeof(why)) != MS_OK ||
	    ms_rtls_smtp_greeting(s, &rep, why, sizeof(why)) != MS_OK || rep.code != 220) {
		ms_rtls_smtp_free(s);
		SSL_CTX_free(ctx);
		ms_rtls_judge(d, h, plan, &r->obs, &r->out);
		return;
	}
	r->obs.connected = 1;
	ck_assert_msg(ms_rtls_smtp_ehlo(s, "client.test", &rep, why, sizeof(why)) == MS_OK, "%s",
		      why);
	const struct ms_rtls_ehlo *caps = ms_rtls_smtp_caps(s);
	ms_rtls_observe_ehlo(caps, &r->obs);
	ck_assert(!r->obs.requiretls_offered); /* never from a plaintext EHLO */
	r->pre_tls_requiretls = ms_rtls_ehlo_has(caps, "REQUIRETLS");
	if (r->obs.starttls_offered && !plaintext) {
		ms_status st = ms_rtls_smtp_starttls(s, ctx, h->name, &rep, why, sizeof(why));
		ck_assert_int_eq(rep.code, 220);
		if (st == MS_OK) {
			r->obs.handshake = MS_RTLS_STEP_OK;
			tls_observe(ms_rtls_smtp_ssl(s), tlsa != NULL, &r->obs);
			/* RFC 3207 s4.2: the transport forgot the plaintext
			 * capabilities; EHLO again */
			ck_assert_msg(ms_rtls_smtp_ehlo(s, "client.test", &rep, why, sizeof(why)) ==
				      MS_OK, "%s", why);
			ms_rtls_observe_ehlo(ms_rtls_smtp_caps(s), &r->obs);
		} else {
			ck_assert_msg(st == MS_ERR_TLS, "%s", why);
			r->obs.handshake = MS_RTLS_STEP_FAILED;
		}
	}
	ck_assert_int_eq(ms_rtls_judge(d, h, plan, &r->obs, &r->out), MS_OK);
	if (r->out.verdict != MS_RTLS_DELIVER) {
		if (r->obs.handshake != MS_RTLS_STEP_FAILED)
			ms_rtls_smtp_quit(s, &rep, why, sizeof(why));
		ms_rtls_smtp_free(s);
		SSL_CTX_free(ctx);
		return;
	}
	struct ms_rtls_mail *m = NULL;
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_set(m, "SIZE", "100"), MS_OK);
	ck_assert_int_eq(ms_rtls_outcome_apply(&r->out, m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_format(m, r->mail_params, sizeof(r->mail_params), NULL), MS_OK);
	ms_rtls_mail_free(m);
	ck_assert_int_eq(ms_rtls_smtp_mail(s, "a@example.org", r->mail_params, &rep, why,
					   sizeof(why)), MS_OK);
	ck_assert_int_eq(rep.code, 250);
	ck_assert_int_eq(ms_rtls_smtp_rcpt(s, "b@example.test", &rep, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(rep.code, 250);
	ck_assert_int_eq(ms_rtls_smtp_data(s, &rep, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(rep.code, 354);
	char body[512];
	snprintf(body, sizeof(body), message,
		 d->requirement == MS_RTLS_REQ_NOT_REQUIRED ? "TLS-Required: No\r\n" : "");
	ck_assert_int_eq(ms_rtls_smtp_message(s, (const uint8_t *)body, strlen(body), &rep, why,
					      sizeof(why)), MS_OK);
	ck_assert_int_eq(rep.code, 250);
	ms_rtls_smtp_quit(s, &rep, why, sizeof(why));
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
	r->delivered = 1;
}

/* Plan, try (with the plaintext retry where the engine asks for it). */
static void deliver(struct peer *p, const struct ms_rtls_domain *d,
		    const struct ms_rtls_host *h, const unsigned char *tlsa,
		    size_t tlsalen, struct delivery *r)
{
	struct ms_rtls_plan plan = { .version = MS_RTLS_PLAN_VERSION };
	memset(r, 0, sizeof(*r));
	r->out.version = MS_RTLS_OUTCOME_VERSION;
	ck_assert_int_eq(ms_rtls_plan(d, h, &plan), MS_OK);
	if (plan.mode == MS_RTLS_MODE_SKIP) {
		ms_rtls_outcome_from_plan(&plan, &r->out);
		return;
	}
	deliver_once(p, d, h, &plan, tlsa, tlsalen, 0, r);
	if (r->out.verdict == MS_RTLS_RETRY_PLAINTEXT) {
		struct ms_rtls_observed first = r->obs;
		deliver_once(p, d, h, &plan, tlsa, tlsalen, 1, r);
		r->obs.handshake = first.handshake;
	}
}

/* Metrics capture. */
static char metric_seen[256];

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	(void)user;
	size_t l = strlen(metric_seen);
	snprintf(metric_seen + l, sizeof(metric_seen) - l, "%s{%s=%s} ", ev->name,
		 ev->nlabels ? ev->labels[0].key : "", ev->nlabels ? ev->labels[0].value : "");
}

static struct ms_env metric_env(void)
{
	struct ms_env e;
	memset(&e, 0, sizeof(e));
	e.version = MS_ENV_VERSION;
	e.metric = on_metric;
	metric_seen[0] = '\0';
	return e;
}

static const char mx[] = "mx1.example.test";

/* A plaintext session on the transport, greeted and EHLO'd. */
static struct ms_rtls_smtp *plain_session(int port)
{
	struct ms_rtls_smtp_opts so = { .version = MS_RTLS_SMTP_OPTS_VERSION, .timeout_ms = 20000 };
	struct ms_rtls_smtp *c = NULL;
	struct ms_rtls_smtp_reply rep;
	char why[300] = "";
	ck_assert_int_eq(ms_rtls_smtp_new(NULL, &so, &c), MS_OK);
	ck_assert_msg(ms_rtls_smtp_connect(c, "127.0.0.1", (uint16_t)port, why, sizeof(why)) == MS_OK,
		      "%s", why);
	ck_assert_int_eq(ms_rtls_smtp_greeting(c, &rep, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(rep.code, 220);
	ck_assert_msg(ms_rtls_smtp_ehlo(c, "client.test", &rep, why, sizeof(why)) == MS_OK, "%s",
		      why);
	return c;
}

/* ---- the cases ---- */

START_TEST(test_requiretls_delivered)
{
	struct peer p;
	char log[1024];
	peer_start(&p, "requiretls", "mx1.example.test");

	/* RFC 8689 s4.1 on the peer: the parameter before TLS gets 530 5.7.10,
	 * which our reply parser and the server helper agree on. */
	struct ms_rtls_smtp_reply rep;
	struct ms_rtls_smtp *c = plain_session(p.port);
	ck_assert_int_eq(ms_rtls_smtp_mail(c, "a@example.org", "REQUIRETLS", &rep, NULL, 0), MS_OK);
	ck_assert_int_eq(rep.code, 530);
	ck_assert_str_eq(rep.enhanced, "5.7.10");
	struct ms_rtls_mail *m = NULL;
	struct ms_rtls_reply want;
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, (const uint8_t *)"MAIL FROM:<a@example.org> REQUIRETLS",
						    36, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_server_check_mail(m, 1, 0, &want), MS_OK);
	ck_assert_int_eq(want.code, 530);
	ck_assert_str_eq(want.enhanced, "5.7.10");
	ms_rtls_mail_free(m);
	ms_rtls_smtp_quit(c, NULL, NULL, 0);
	ms_rtls_smtp_free(c);

	/* REQUIRETLS message, recipient domain with an MTA-STS enforce policy */
	struct ms_rtls_domain d = {MS_RTLS_REQ_REQUIRED, "example.test", MS_DNS_INSECURE,
				   MS_RTLS_STS_ENFORCE, 0};
	struct ms_rtls_host h = {mx, MS_DNS_INSECURE, MS_RTLS_DANE_NONE, 1};
	struct delivery r;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert(!r.pre_tls_requiretls);      /* only after STARTTLS */
	ck_assert(r.obs.requiretls_offered);
	ck_assert_int_eq(r.obs.pkix, MS_RTLS_STEP_OK);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_DELIVER);
	ck_assert(r.out.mail_requiretls);
	ck_assert_str_eq(r.mail_params, "SIZE=100 REQUIRETLS");
	ck_assert(r.delivered);
	peer_stop(&p);
	peer_log(&p, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "requiretls=True tls=True"));
}
END_TEST

START_TEST(test_requiretls_dane_delivered)
{
	/* the DANE path of RFC 8689 s4.2.1: secure MX + usable TLSA */
	struct peer p;
	char log[1024], pem[400];
	unsigned char tlsa[32];
	snprintf(pem, sizeof(pem), "%s/mx1.example.test.pem", dir);
	size_t tl = spki_sha256(pem, tlsa);
	peer_start(&p, "requiretls", "mx1.example.test");
	struct ms_rtls_domain d = {MS_RTLS_REQ_REQUIRED, "example.test", MS_DNS_SECURE,
				   MS_RTLS_STS_NO_POLICY, 0};
	struct ms_rtls_host h = {mx, MS_DNS_SECURE, MS_RTLS_DANE_USABLE, 0};
	struct delivery r;
	deliver(&p, &d, &h, tlsa, tl, &r);
	ck_assert_int_eq(r.obs.dane, MS_RTLS_STEP_OK);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_DELIVER);
	ck_assert(r.delivered);
	peer_stop(&p);
	peer_log(&p, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "requiretls=True tls=True"));
}
END_TEST

START_TEST(test_requiretls_not_offered)
{
	/* A peer with STARTTLS but without REQUIRETLS (like Debian's Postfix
	 * 3.7): RFC 8689 s4.2.1 -> no delivery, 5.7.30. */
	struct peer p;
	char log[1024];
	struct ms_env env = metric_env();
	peer_start(&p, "starttls", "mx1.example.test");
	struct ms_rtls_domain d = {MS_RTLS_REQ_REQUIRED, "example.test", MS_DNS_INSECURE,
				   MS_RTLS_STS_ENFORCE, 0};
	struct ms_rtls_host h = {mx, MS_DNS_INSECURE, MS_RTLS_DANE_NONE, 1};
	struct delivery r;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert_int_eq(r.obs.pkix, MS_RTLS_STEP_OK);
	ck_assert(!r.obs.requiretls_offered);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_TRY_NEXT);
	ck_assert_str_eq(r.out.enhanced, "5.7.30");
	ck_assert(!r.delivered);
	ms_rtls_outcome_count(&env, d.requirement, &r.out);
	ck_assert_str_eq(metric_seen, "requiretls_errors_total{reason=requiretls_missing} ");
	struct ms_rtls_outcome fin = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_conclude(&r.out, 1, &fin), MS_OK);
	ck_assert_int_eq(fin.verdict, MS_RTLS_PERMFAIL);
	ck_assert_str_eq(fin.enhanced, "5.7.30");
	peer_stop(&p);
	peer_log(&p, log, sizeof(log));
	ck_assert_str_eq(log, "");
}
END_TEST

START_TEST(test_dane_wrong_cert)
{
	/* The peer shows a certificate whose key is not in the TLSA record:
	 * RFC 7672 s3 -> no delivery; with TLS-Required: No (RFC 8689 s4.2.2)
	 * the same peer gets the message and the ignored error is counted. */
	struct peer p;
	char log[1024], pem[400];
	unsigned char tlsa[32];
	snprintf(pem, sizeof(pem), "%s/mx1.example.test.pem", dir);
	size_t tl = spki_sha256(pem, tlsa);
	peer_start(&p, "requiretls", "wrong.test");
	struct ms_rtls_domain d = {MS_RTLS_REQ_DEFAULT, "example.test", MS_DNS_SECURE,
				   MS_RTLS_STS_NO_POLICY, 0};
	struct ms_rtls_host h = {mx, MS_DNS_SECURE, MS_RTLS_DANE_USABLE, 0};
	struct delivery r;
	deliver(&p, &d, &h, tlsa, tl, &r);
	ck_assert_int_eq(r.obs.handshake, MS_RTLS_STEP_OK);
	ck_assert_int_eq(r.obs.dane, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_TRY_NEXT);
	ck_assert_str_eq(r.out.enhanced, "4.7.5");
	ck_assert(!r.delivered);
	peer_log(&p, log, sizeof(log));
	ck_assert_str_eq(log, "");

	struct ms_env env = metric_env();
	d.requirement = MS_RTLS_REQ_NOT_REQUIRED;
	deliver(&p, &d, &h, tlsa, tl, &r);
	ck_assert_int_eq(r.obs.dane, MS_RTLS_STEP_FAILED);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_DELIVER);
	ck_assert_int_eq(r.out.ignored, MS_RTLS_R_DANE_VERIFY);
	ck_assert(!r.out.mail_requiretls);
	ck_assert(r.delivered);
	ms_rtls_outcome_count(&env, d.requirement, &r.out);
	ck_assert_str_eq(metric_seen, "tls_required_no_ignored_total{reason=dane_verify} ");
	peer_stop(&p);
	peer_log(&p, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "requiretls=False tls=True tls_required_header=True"));
}
END_TEST

START_TEST(test_no_starttls)
{
	/* A peer without STARTTLS: opportunistic delivery goes through in
	 * plaintext; a REQUIRETLS message is refused (RFC 8689 s4.2.1). */
	struct peer p;
	char log[1024];
	peer_start(&p, "plain", "mx1.example.test");
	struct ms_rtls_domain d = {MS_RTLS_REQ_DEFAULT, "example.test", MS_DNS_INSECURE,
				   MS_RTLS_STS_NO_POLICY, 0};
	struct ms_rtls_host h = {mx, MS_DNS_INSECURE, MS_RTLS_DANE_NONE, 0};
	struct delivery r;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert(!r.obs.starttls_offered);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_DELIVER);
	ck_assert(r.delivered);
	peer_log(&p, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "requiretls=False tls=False"));

	d.requirement = MS_RTLS_REQ_REQUIRED;
	d.sts_mode = MS_RTLS_STS_ENFORCE;
	h.sts_match = 1;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_TRY_NEXT);
	ck_assert_int_eq(r.out.reason, MS_RTLS_R_STARTTLS_MISSING);
	ck_assert_str_eq(r.out.bounce_enhanced, "5.7.30");
	ck_assert(!r.delivered);
	/* and with no verified path at all the host is not even tried */
	d.sts_mode = MS_RTLS_STS_NO_POLICY;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert_int_eq(r.out.reason, MS_RTLS_R_NO_VERIFIED_PATH);
	ck_assert_str_eq(r.out.enhanced, "5.7.30");
	peer_stop(&p);
	peer_log(&p, log, sizeof(log));
	ck_assert_ptr_null(strstr(log, "requiretls=True"));
	ck_assert_ptr_nonnull(strstr(log, "tls=False"));
}
END_TEST

/* ---- Postfix from Debian as a real peer without REQUIRETLS ---- */

static int run_wait(char *const argv[])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct postfix {
	char conf[400];
	int port;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/*
 * A throw-away Postfix instance: its own configuration, queue and data
 * directories under the test folder, smtpd on a free loopback port with
 * STARTTLS (the test PKI), mail for example.test discarded after it was
 * queued.  Needs root (the master runs as root, daemons as `postfix`).
 */
static void postfix_start(struct postfix *p)
{
	char buf[4096], path[512];
	struct passwd *pw = getpwnam("postfix");
	ck_assert_msg(pw != NULL, "no postfix user");
	ck_assert_int_eq(chmod(dir, 0755), 0); /* daemons run as postfix */
	snprintf(p->conf, sizeof(p->conf), "%s/pfx-conf", dir);
	ck_assert_int_eq(mkdir(p->conf, 0755), 0);
	snprintf(path, sizeof(path), "%s/pfx-queue", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/pfx-data", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(chown(path, pw->pw_uid, pw->pw_gid), 0);
	p->port = free_port();
	snprintf(buf, sizeof(buf),
		 "compatibility_level = 3.6\n"
		 "queue_directory = %s/pfx-queue\n"
		 "data_directory = %s/pfx-data\n"
		 "maillog_file = %s/pfx-maillog\n"
		 "maillog_file_prefixes = %s\n"
		 "mail_owner = postfix\nsetgid_group = postdrop\n"
		 "myhostname = mx1.example.test\nmydomain = example.test\n"
		 "mydestination =\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
		 "mynetworks = 127.0.0.0/8\nrelay_domains = example.test\n"
		 "transport_maps = inline:{example.test=discard:}\n"
		 "smtpd_peername_lookup = no\n"
		 "smtpd_tls_security_level = may\n"
		 "smtpd_tls_cert_file = %s/mx1.example.test.pem\n"
		 "smtpd_tls_key_file = %s/mx1.example.test.key\n"
		 "alias_maps =\nalias_database =\nlocal_recipient_maps =\nbiff = no\n",
		 dir, dir, dir, dir, dir, dir);
	snprintf(path, sizeof(path), "%s/main.cf", p->conf);
	write_file(path, buf);
	snprintf(buf, sizeof(buf),
		 "127.0.0.1:%d inet n - n - - smtpd\n"
		 "pickup unix n - n 60 1 pickup\n"
		 "cleanup unix n - n - 0 cleanup\n"
		 "qmgr unix n - n 300 1 qmgr\n"
		 "tlsmgr unix - - n 1000? 1 tlsmgr\n"
		 "rewrite unix - - n - - trivial-rewrite\n"
		 "bounce unix - - n - 0 bounce\n"
		 "defer unix - - n - 0 bounce\n"
		 "trace unix - - n - 0 bounce\n"
		 "verify unix - - n - 1 verify\n"
		 "flush unix n - n 1000? 0 flush\n"
		 "proxymap unix - - n - - proxymap\n"
		 "smtp unix - - n - - smtp\n"
		 "relay unix - - n - - smtp\n"
		 "showq unix n - n - - showq\n"
		 "error unix - - n - - error\n"
		 "retry unix - - n - - error\n"
		 "discard unix - - n - - discard\n"
		 "anvil unix - - n - 1 anvil\n"
		 "scache unix - - n - 1 scache\n"
		 "postlog unix-dgram n - n - 1 postlogd\n", p->port);
	snprintf(path, sizeof(path), "%s/master.cf", p->conf);
	write_file(path, buf);
	char *argv[] = {(char *)"/usr/sbin/postfix", (char *)"-c", p->conf, (char *)"start", NULL};
	ck_assert_int_eq(run_wait(argv), 0);
	wait_listening(p->port, 0, "postfix");
}

static void postfix_stop(struct postfix *p)
{
	char *argv[] = {(char *)"/usr/sbin/postfix", (char *)"-c", p->conf, (char *)"stop", NULL};
	ck_assert_int_eq(run_wait(argv), 0);
}

START_TEST(test_postfix_peer)
{
	struct postfix pf;
	postfix_start(&pf);
	struct peer p = {0, pf.port, ""};

	/* Postfix 3.7 has no REQUIRETLS: it answers the parameter like our
	 * server helper does with the extension disabled (555 5.5.4). */
	struct ms_rtls_smtp_reply rep;
	struct ms_rtls_smtp *c = plain_session(pf.port);
	ck_assert_int_eq(ms_rtls_smtp_mail(c, "a@example.org", "REQUIRETLS", &rep, NULL, 0), MS_OK);
	ck_assert_int_eq(rep.code, 555);
	struct ms_rtls_mail *m = NULL;
	struct ms_rtls_reply want;
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_parse_params(m, (const uint8_t *)"REQUIRETLS", 10, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_server_check_mail(m, 0, 0, &want), MS_OK);
	ms_rtls_mail_free(m);
	ck_assert_msg(rep.code == want.code && strcmp(rep.enhanced, want.enhanced) == 0,
		      "postfix said %d %s", rep.code, rep.text);
	ms_rtls_smtp_quit(c, NULL, NULL, 0);
	ms_rtls_smtp_free(c);

	/* REQUIRETLS message: verified TLS works, but no REQUIRETLS -> 5.7.30 */
	struct ms_rtls_domain d = {MS_RTLS_REQ_REQUIRED, "example.test", MS_DNS_INSECURE,
				   MS_RTLS_STS_ENFORCE, 0};
	struct ms_rtls_host h = {mx, MS_DNS_INSECURE, MS_RTLS_DANE_NONE, 1};
	struct delivery r;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert(r.obs.starttls_offered);
	ck_assert_int_eq(r.obs.pkix, MS_RTLS_STEP_OK);
	ck_assert(!r.obs.requiretls_offered);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_TRY_NEXT);
	ck_assert_str_eq(r.out.enhanced, "5.7.30");
	ck_assert(!r.delivered);

	/* the same domain for a default message: delivered under enforce */
	d.requirement = MS_RTLS_REQ_DEFAULT;
	deliver(&p, &d, &h, NULL, 0, &r);
	ck_assert_int_eq(r.out.verdict, MS_RTLS_DELIVER);
	ck_assert(!r.out.mail_requiretls);
	ck_assert(r.delivered);
	postfix_stop(&pf);
}
END_TEST

static Suite *suite(int postfix)
{
	Suite *s = suite_create("requiretls-loopback");
	TCase *tc = tcase_create(postfix ? "postfix" : "loopback");
	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 120);
	if (postfix) {
		tcase_add_test(tc, test_postfix_peer);
	} else {
		tcase_add_test(tc, test_requiretls_delivered);
		tcase_add_test(tc, test_requiretls_dane_delivered);
		tcase_add_test(tc, test_requiretls_not_offered);
		tcase_add_test(tc, test_dane_wrong_cert);
		tcase_add_test(tc, test_no_starttls);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	int postfix = argc > 1 && strcmp(argv[1], "postfix") == 0;
	if (postfix && geteuid() != 0) {
		/* exit status 77: meson reports SKIP, never a pass */
		fprintf(stderr, "the Postfix peer needs root\n");
		return 77;
	}
	SRunner *sr = srunner_create(suite(postfix));
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
