/*
 * test_world.c - libdane against the signed test world: the DNS side
 * (RFC 7672 s2.2: secure/insecure/bogus/timeout, CNAMEs at the host and at
 * _25._tcp) and end-to-end STARTTLS probes against loopback SMTP servers
 * (an OpenSSL server in a thread; the probe is librequiretls's
 * ms_rtls_probe_run): a leaf-only chain (3 1 1), a leaf under
 * three intermediates (2 0 1 at depth 3), a wrong key, plaintext injected
 * after the STARTTLS reply, a silent server; `mailsec dane probe` must
 * report each correctly.
 */
#include "dtest.h"

#include <mailsec/requiretls_smtp.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- DNS side --------------------------------------------------------- */

static struct ms_dane_lookup *lookup(const char *host, int mx_secure, uint16_t port,
				     unsigned timeout_ms)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, timeout_ms, 0);
	struct ms_dane_lookup *l = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dane_lookup(dns, host, mx_secure, port, &l, why, sizeof(why)) == MS_OK,
		      "%s: %s", host, why);
	ms_dns_ctx_free(dns);
	return l;
}

static void expect(const char *host, enum ms_dane_dns_state state, const char *base,
		   const char *name2, size_t nrecs)
{
	struct ms_dane_lookup *l = lookup(host, 1, 25, 20000);
	ck_assert_msg(ms_dane_lookup_state(l) == state, "%s: state %d (%s)", host,
		      ms_dane_lookup_state(l), ms_dane_lookup_reason(l));
	const char *b = ms_dane_lookup_base(l);
	if (base)
		ck_assert_str_eq(b, base);
	else
		ck_assert_ptr_null(b);
	const char *const *names;
	size_t nn = ms_dane_lookup_names(l, &names);
	if (base) {
		ck_assert_uint_eq(nn, name2 ? 2 : 1);
		ck_assert_str_eq(names[0], base);
		if (name2)
			ck_assert_str_eq(names[1], name2);
	}
	ck_assert_uint_eq(ms_dane_lookup_records(l, NULL), nrecs);
	ms_dane_lookup_free(l);
}

START_TEST(dns_secure)
{
	expect("mx1.dane.example.test", MS_DANE_DNS_SECURE, "mx1.dane.example.test", NULL, 1);
	expect("MX2.Dane.Example.Test.", MS_DANE_DNS_SECURE, "mx2.dane.example.test", NULL, 1);
}
END_TEST

/* ms_dane_lookup_env: the caller's hooks see one counter and one debug
 * event per lookup, labelled with the state. */
struct seen {
	int metrics, logs;
	char state[16], host[64];
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct seen *s = user;
	if (strcmp(ev->name, "dane_lookups_total") == 0 && ev->nlabels == 1 &&
	    strcmp(ev->labels[0].key, "state") == 0) {
		s->metrics++;
		snprintf(s->state, sizeof(s->state), "%s", ev->labels[0].value);
	}
}

static void on_log(void *user, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv)
{
	struct seen *s = user;
	(void)msg;
	if (level == MS_LOG_DEBUG && strcmp(subsystem, "dane") == 0 && nkv > 0 &&
	    strcmp(kv[0].key, "host") == 0) {
		s->logs++;
		snprintf(s->host, sizeof(s->host), "%s", kv[0].value);
	}
}

START_TEST(dns_env_hooks)
{
	struct seen seen = { 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &seen, .log = on_log,
			      .log_level = MS_LOG_DEBUG, .metric = on_metric };
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, 20000, 0);
	struct ms_dane_lookup *l = NULL;
	ck_assert_int_eq(ms_dane_lookup_env(&env, dns, "mx1.dane.example.test", 1, 25, &l, NULL, 0),
			 MS_OK);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_SECURE);
	ms_dane_lookup_free(l);
	ck_assert_int_eq(ms_dane_lookup_env(&env, dns, "bogus.dane.example.test", 1, 25, &l, NULL,
					    0), MS_OK);
	ms_dane_lookup_free(l);
	ms_dns_ctx_free(dns);
	ck_assert_int_eq(seen.metrics, 2);
	ck_assert_int_eq(seen.logs, 2);
	ck_assert_str_eq(seen.state, "tempfail");
	ck_assert_str_eq(seen.host, "bogus.dane.example.test");
}
END_TEST

START_TEST(dns_cnames)
{
	/* Secure CNAME: the expanded name is the base, the MX host a name. */
	expect("alias.dane.example.test", MS_DANE_DNS_SECURE, "mx1.dane.example.test",
	       "alias.dane.example.test", 1);
	/* No TLSA at the expanded name: the original name. */
	expect("alias2.dane.example.test", MS_DANE_DNS_SECURE, "alias2.dane.example.test", NULL, 1);
	/* CNAME at _25._tcp: followed; the base stays the host name. */
	struct ms_dane_lookup *l = lookup("mx4.dane.example.test", 1, 25, 20000);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_SECURE);
	ck_assert_str_eq(ms_dane_lookup_base(l), "mx4.dane.example.test");
	ck_assert_str_eq(ms_dane_lookup_tlsa_owner(l), "_25._tcp.mx1.dane.example.test");
	ms_dane_lookup_free(l);
}
END_TEST

START_TEST(dns_no_dane)
{
	expect("notlsa.dane.example.test", MS_DANE_DNS_NONE, NULL, NULL, 0);
	/* Address (and TLSA) in an unsigned zone. */
	expect("dane-mx.insecure.example.test", MS_DANE_DNS_NONE, NULL, NULL, 0);
	/* Secure CNAME into the unsigned zone: the address is insecure. */
	expect("insaddr.dane.example.test", MS_DANE_DNS_NONE, NULL, NULL, 0);
	/* An insecure MX lookup: no DANE whatever the host has. */
	struct ms_dane_lookup *l = lookup("mx1.dane.example.test", 0, 25, 20000);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_NONE);
	ck_assert_uint_eq(ms_dane_lookup_records(l, NULL), 0);
	ms_dane_lookup_free(l);
}
END_TEST

START_TEST(dns_tempfail)
{
	/* Bogus TLSA: the host is unusable now, never a downgrade. */
	expect("bogus.dane.example.test", MS_DANE_DNS_TEMPFAIL, NULL, NULL, 0);
	/* An address lookup that times out (zone delegated to nowhere). */
	struct ms_dane_lookup *l = lookup("mx.slow.example.test", 1, 25, 800);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_TEMPFAIL);
	ms_dane_lookup_free(l);
}
END_TEST

START_TEST(dns_port_and_unusable)
{
	struct ms_dane_lookup *l = lookup("mx1.dane.example.test", 1, 465, 20000);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_SECURE);
	ms_dane_lookup_free(l);
	/* Records exist but none is usable: TLS stays mandatory. */
	l = lookup("unusable.dane.example.test", 1, 25, 20000);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_SECURE);
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION };
	ms_dane_lookup_input(l, &in);
	uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	struct ms_dane_cert c = { der, 4 };
	in.chain = &c;
	in.nchain = 1;
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	ck_assert_int_eq(ms_dane_verify(ctx, &in, &res, NULL, 0), MS_OK);
	ck_assert_int_eq(res.verdict, MS_DANE_ALL_UNUSABLE);
	ck_assert_str_eq(ms_tlsrpt_result_name(res.tlsrpt), "tlsa-invalid");
	ms_dane_ctx_free(ctx);
	ms_dane_lookup_free(l);
}
END_TEST

/* An injected resolver: SERVFAIL at the expanded name's TLSA is a
 * temporary failure even though the original name might have records. */
static ms_status fake_resolve(void *user, const char *name, uint16_t type,
			      struct ms_dns_result **out)
{
	(void)user;
	ms_status st;
	if (type == MS_DNS_T_A || type == MS_DNS_T_AAAA) {
		st = ms_dns_result_create(NULL, name, type, type == MS_DNS_T_A ? MS_DNS_ANSWER :
					  MS_DNS_NODATA, MS_DNS_SECURE, out);
		if (st == MS_OK && type == MS_DNS_T_A) {
			static const uint8_t a[4] = { 127, 0, 0, 1 };
			ms_dns_result_add(*out, MS_DNS_T_A, a, 4);
			ms_dns_result_set_meta(*out, 60, "target.fake.test", 1, -1, NULL);
		}
		return st;
	}
	if (strcmp(name, "_25._tcp.target.fake.test") == 0)
		return ms_dns_result_create(NULL, name, type, MS_DNS_SERVFAIL,
					    MS_DNS_INDETERMINATE, out);
	st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, MS_DNS_SECURE, out);
	static const uint8_t t[35] = { 3, 1, 1 };
	if (st == MS_OK)
		ms_dns_result_add(*out, MS_DNS_T_TLSA, t, sizeof(t));
	return st;
}

START_TEST(dns_injected_servfail)
{
	struct ms_dns_ctx *dns = NULL;
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, fake_resolve, NULL, &dns), MS_OK);
	struct ms_dane_lookup *l = NULL;
	ck_assert_int_eq(ms_dane_lookup(dns, "mx.fake.test", 1, 25, &l, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dane_lookup_state(l), MS_DANE_DNS_TEMPFAIL);
	ck_assert_ptr_null(ms_dane_lookup_base(l));
	ms_dane_lookup_free(l);
	ms_dns_ctx_free(dns);
}
END_TEST

/* ---- loopback STARTTLS server ----------------------------------------- */

struct srv {
	int lfd;
	int port;
	SSL_CTX *ctx;
	int inject;       /* pipeline plaintext after the STARTTLS reply */
	int silent;       /* never send a banner */
	int trickle;      /* send the banner one byte every 100 ms */
	char sni[256];
	pthread_t th;
};

static int read_line_fd(int fd, SSL *ssl, char *buf, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		char ch;
		int r = ssl ? SSL_read(ssl, &ch, 1) : (int)read(fd, &ch, 1);
		if (r <= 0)
			return -1;
		buf[n++] = ch;
		if (ch == '\n')
			break;
	}
	buf[n] = '\0';
	return 0;
}

static void out(int fd, SSL *ssl, const char *s)
{
	if (ssl)
		SSL_write(ssl, s, (int)strlen(s));
	else if (write(fd, s, strlen(s)) < 0)
		return;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	char line[1024];
	SSL *ssl = NULL;
	if (s->silent) {
		while (read(fd, line, sizeof(line)) > 0)
			;
		close(fd);
		return NULL;
	}
	if (s->trickle) {
		const char *b = "220 a banner that takes a long while to arrive\r\n";
		for (; *b; b++) {
			if (write(fd, b, 1) != 1)
				break;
			usleep(100000);
		}
		close(fd);
		return NULL;
	}
	out(fd, NULL, "220 loopback ESMTP\r\n");
	while (read_line_fd(fd, ssl, line, sizeof(line)) == 0) {
		if (strncasecmp(line, "EHLO", 4) == 0) {
			out(fd, ssl, ssl ? "250-loopback\r\n250-SIZE 1000\r\n250 AFTERTLS\r\n" :
				     s->inject == 2 ? "250-loopback\r\n250 STARTTLS\r\n220 fake\r\n" :
					   "250-loopback\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
		} else if (!ssl && strncasecmp(line, "STARTTLS", 8) == 0) {
			out(fd, NULL, s->inject ? "220 go ahead\r\n250 injected\r\n" : "220 go ahead\r\n");
			ssl = SSL_new(s->ctx);
			SSL_set_fd(ssl, fd);
			if (SSL_accept(ssl) != 1)
				break;
			const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
			snprintf(s->sni, sizeof(s->sni), "%s", sni ? sni : "");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			out(fd, ssl, "221 bye\r\n");
			break;
		} else {
			out(fd, ssl, "502 no\r\n");
		}
	}
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return NULL;
}

static void srv_start(struct srv *s, const char *chain, const char *key)
{
	memset(s, 0, sizeof(*s)), s->lfd = -1;
	char cpath[4096], kpath[4096];
	mstest_world_path(cpath, sizeof(cpath), chain);
	mstest_world_path(kpath, sizeof(kpath), key);
	s->ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(s->ctx, cpath), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(s->ctx, kpath, SSL_FILETYPE_PEM), 1);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 4), 0);
	socklen_t al = sizeof(a);
	getsockname(s->lfd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
}

static void srv_run(struct srv *s)
{
	ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
}

/* Run the CLI; returns its exit status, output in buf. */
static int run_probe(const char *host, int port, char *buf, size_t len)
{
	const char *b = getenv("MS_BUILD_ROOT");
	ck_assert_ptr_nonnull(b);
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "'%s/examples/mailsec/mailsec' --dns-config '%s/auth.conf' --timeout 10 --json "
		 "dane probe %s --connect 127.0.0.1:%d", b, mstest_world(), host, port);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(buf, 1, len - 1, p);
	buf[n] = '\0';
	int st = pclose(p);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(probe_leaf_only)
{
	struct srv s;
	srv_start(&s, "pki/dane/ee.pem", "pki/dane/ee.key");
	srv_run(&s);
	char buf[16384];
	int rc = run_probe("mx1.dane.example.test", s.port, buf, sizeof(buf));
	srv_stop(&s);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, buf);
	ck_assert_msg(strstr(buf, "\"verdict\":\"verified\"") && strstr(buf, "\"depth\":0") &&
		      strstr(buf, "\"matched\":\"3 1 1 "), "%s", buf);
	ck_assert_str_eq(s.sni, "mx1.dane.example.test");
}
END_TEST

START_TEST(probe_three_intermediates)
{
	struct srv s;
	srv_start(&s, "pki/dane/ta-chain.pem", "pki/dane/ta.key");
	srv_run(&s);
	char buf[16384];
	int rc = run_probe("mx2.dane.example.test", s.port, buf, sizeof(buf));
	srv_stop(&s);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, buf);
	ck_assert_msg(strstr(buf, "\"verified\":true") && strstr(buf, "\"depth\":3") &&
		      strstr(buf, "\"matched\":\"2 0 1 ") && strstr(buf, "\"depth\":3,\"subject\""),
		      "%s", buf);
	ck_assert_str_eq(s.sni, "mx2.dane.example.test");
}
END_TEST

START_TEST(probe_wrong_key)
{
	struct srv s;
	srv_start(&s, "pki/dane/wrong.pem", "pki/dane/wrong.key");
	srv_run(&s);
	char buf[16384];
	int rc = run_probe("mx3.dane.example.test", s.port, buf, sizeof(buf));
	srv_stop(&s);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, buf);
	ck_assert_msg(strstr(buf, "\"verdict\":\"no-match\"") && strstr(buf, "\"verified\":false") &&
		      strstr(buf, "\"tlsrpt_result\":\"certificate-not-trusted\""), "%s", buf);
}
END_TEST

START_TEST(probe_bogus_does_not_connect)
{
	char buf[16384];
	/* Port 9 on loopback: nothing listens; the probe must not even try. */
	int rc = run_probe("bogus.dane.example.test", 9, buf, sizeof(buf));
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(buf, "\"dns_state\":\"tempfail\"") &&
		      strstr(buf, "\"verdict\":\"dns-tempfail\""), "%s", buf);
}
END_TEST

/* Run the library probe against the loopback server `s` (started and
 * set up by the caller), then stop the server. */
static ms_status probe_lib(struct srv *s, const char *sni, unsigned timeout_ms,
			   struct ms_rtls_probe **p, char *why, size_t whylen)
{
	srv_run(s);
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%d", s->port);
	struct ms_rtls_probe_opts o = { .version = MS_RTLS_PROBE_VERSION, .connect = target,
					.sni = sni, .timeout_ms = timeout_ms };
	ms_status st = ms_rtls_probe_run(NULL, &o, p, why, whylen);
	srv_stop(s);
	return st;
}

START_TEST(probe_library_ehlo_reset)
{
	struct srv s;
	srv_start(&s, "pki/dane/ta-chain.pem", "pki/dane/ta.key");
	char why[256] = "";
	struct ms_rtls_probe *p = NULL;
	ck_assert_msg(probe_lib(&s, "mx2.dane.example.test", 5000, &p, why, sizeof(why)) == MS_OK,
		      "%s", why);
	/* Only the post-TLS capabilities are kept. */
	const struct ms_rtls_ehlo *ehlo = ms_rtls_probe_ehlo(p);
	ck_assert(ms_rtls_ehlo_has(ehlo, "AFTERTLS"));
	ck_assert(!ms_rtls_ehlo_has(ehlo, "STARTTLS"));
	ck_assert(!ms_rtls_ehlo_has(ehlo, "PIPELINING"));
	const struct ms_dane_cert *chain;
	ck_assert_uint_eq(ms_rtls_probe_chain(p, &chain), 4);
	ms_rtls_probe_free(p);
}
END_TEST

START_TEST(probe_injection_refused)
{
	struct srv s;
	srv_start(&s, "pki/dane/ee.pem", "pki/dane/ee.key");
	s.inject = 1;
	char why[256] = "";
	struct ms_rtls_probe *p = NULL;
	ms_status st = probe_lib(&s, NULL, 3000, &p, why, sizeof(why));
	ck_assert_int_eq(st, MS_ERR_PROTOCOL);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(why, "pipelined"));
}
END_TEST

START_TEST(probe_timeout)
{
	struct srv s;
	srv_start(&s, "pki/dane/ee.pem", "pki/dane/ee.key");
	s.silent = 1;
	char why[256] = "";
	struct ms_rtls_probe *p = NULL;
	ms_status st = probe_lib(&s, NULL, 300, &p, why, sizeof(why));
	ck_assert_int_eq(st, MS_ERR_TIMEOUT);
}
END_TEST

/* A reply followed by bytes nobody asked for (here a fake STARTTLS
 * "220" riding on the EHLO reply) is refused, not taken as the next reply. */
START_TEST(probe_unsolicited_refused)
{
	struct srv s;
	srv_start(&s, "pki/dane/ee.pem", "pki/dane/ee.key");
	s.inject = 2;
	char why[256] = "";
	struct ms_rtls_probe *p = NULL;
	ms_status st = probe_lib(&s, NULL, 3000, &p, why, sizeof(why));
	ck_assert_msg(st == MS_ERR_PROTOCOL, "%s: %s", ms_status_str(st), why);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(why, "after the EHLO reply") != NULL, "%s", why);
}
END_TEST

/* One deadline per step: a banner trickling in byte by byte times out
 * after the step's timeout, not after timeout x bytes. */
START_TEST(probe_trickle)
{
	struct srv s;
	srv_start(&s, "pki/dane/ee.pem", "pki/dane/ee.key");
	s.trickle = 1;
	char why[256] = "";
	struct ms_rtls_probe *p = NULL;
	ms_status st = probe_lib(&s, NULL, 500, &p, why, sizeof(why));
	/* With a timeout per read instead, every byte (100 ms apart) would
	 * arrive in time and the whole banner be read: no timeout. */
	ck_assert_int_eq(st, MS_ERR_TIMEOUT);
	ck_assert_ptr_null(p);
}
END_TEST

/* ms_rtls_dane_probe_run, the composition `mailsec dane probe` prints:
 * lookup, probe with SNI = the TLSA base, verification of the chain. */
START_TEST(dane_probe_library)
{
	struct srv s;
	srv_start(&s, "pki/dane/ta-chain.pem", "pki/dane/ta.key");
	srv_run(&s);
	char target[64], why[256] = "";
	snprintf(target, sizeof(target), "127.0.0.1:%d", s.port);
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, 5000, 0);
	struct ms_rtls_dane_probe_opts o = { .version = MS_RTLS_DANE_PROBE_VERSION,
					     .connect = target, .timeout_ms = 5000 };
	struct ms_rtls_dane_probe *p = NULL;
	ms_status st = ms_rtls_dane_probe_run(NULL, dns, "mx2.dane.example.test", &o, &p, why,
					      sizeof(why));
	srv_stop(&s);
	ck_assert_msg(st == MS_OK, "%s", why);
	ck_assert_str_eq(s.sni, "mx2.dane.example.test");
	ck_assert_ptr_nonnull(ms_rtls_dane_probe_session(p));
	ck_assert_ptr_null(ms_rtls_dane_probe_error(p));
	ck_assert(ms_rtls_dane_probe_verified(p));
	ck_assert_int_eq(ms_rtls_dane_probe_result(p)->depth, 3);
	ck_assert_str_eq(ms_rtls_dane_probe_verdict_str(p), "verified");
	ck_assert_str_eq(ms_rtls_dane_probe_connect(p), target);
	ms_rtls_dane_probe_free(p);

	/* A failed TLSA lookup: the host is not contacted (port 9: nothing
	 * listens, a connection would say "connect-failed"). */
	o.connect = "127.0.0.1:9";
	ck_assert_int_eq(ms_rtls_dane_probe_run(NULL, dns, "bogus.dane.example.test", &o, &p, why,
						sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dane_lookup_state(ms_rtls_dane_probe_lookup(p)), MS_DANE_DNS_TEMPFAIL);
	ck_assert_ptr_null(ms_rtls_dane_probe_session(p));
	ck_assert_ptr_null(ms_rtls_dane_probe_error(p));
	ck_assert(!ms_rtls_dane_probe_verified(p));
	ck_assert_str_eq(ms_rtls_dane_probe_verdict_str(p), "dns-tempfail");
	ck_assert_int_eq(ms_rtls_dane_probe_result(p)->tlsrpt, MS_TLSRPT_DNSSEC_INVALID);
	ms_rtls_dane_probe_free(p);

	/* Nobody listening: a fact, not an error. */
	ck_assert_int_eq(ms_rtls_dane_probe_run(NULL, dns, "mx1.dane.example.test", &o, &p, why,
						sizeof(why)), MS_OK);
	ck_assert_ptr_null(ms_rtls_dane_probe_session(p));
	ck_assert_ptr_nonnull(ms_rtls_dane_probe_error(p));
	ck_assert_str_eq(ms_rtls_dane_probe_verdict_str(p), "connect-failed");
	ck_assert_int_eq(ms_rtls_dane_probe_result(p)->tlsrpt, MS_TLSRPT_VALIDATION_FAILURE);
	ms_rtls_dane_probe_free(p);
	ck_assert_int_eq(ms_rtls_dane_probe_run(NULL, dns, "x.test", NULL, &p, why, sizeof(why)),
			 MS_ERR_INVALID);
	ck_assert_ptr_null(p);
	ms_dns_ctx_free(dns);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the loopback servers write to closed peers */
	Suite *s = suite_create("dane-world");
	TCase *dns = tcase_create("dns");
	tcase_set_timeout(dns, 300);
	tcase_add_test(dns, dns_secure);
	tcase_add_test(dns, dns_env_hooks);
	tcase_add_test(dns, dns_cnames);
	tcase_add_test(dns, dns_no_dane);
	tcase_add_test(dns, dns_tempfail);
	tcase_add_test(dns, dns_port_and_unusable);
	tcase_add_test(dns, dns_injected_servfail);
	suite_add_tcase(s, dns);
	TCase *e2e = tcase_create("starttls");
	tcase_set_timeout(e2e, 300);
	tcase_add_test(e2e, probe_leaf_only);
	tcase_add_test(e2e, probe_three_intermediates);
	tcase_add_test(e2e, probe_wrong_key);
	tcase_add_test(e2e, probe_bogus_does_not_connect);
	tcase_add_test(e2e, probe_library_ehlo_reset);
	tcase_add_test(e2e, probe_injection_refused);
	tcase_add_test(e2e, probe_timeout);
	tcase_add_test(e2e, probe_trickle);
	tcase_add_test(e2e, probe_unsolicited_refused);
	tcase_add_test(e2e, dane_probe_library);
	suite_add_tcase(s, e2e);
	return mstest_run(s);
}
