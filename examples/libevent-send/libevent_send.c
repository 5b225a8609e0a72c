/*
 * libevent-send: an event-loop MTA's outbound deliveries on one thread,
 * with libevent.  One message goes to every recipient given on the command
 * line, one send handle per recipient, all at the same time
 * (mailsec/requiretls_deliver.h async shape: ms_rtls_send_new is the
 * start, ms_rtls_send_fd/_events/_timeout_ms what to wait for,
 * ms_rtls_send_step on readiness, ms_rtls_send_done the completion,
 * ms_rtls_send_free the cancel), on ONE DNS context and ONE SSL_CTX, and
 * one trust store and one DANE context (certificate cache on) lent to
 * every delivery, so that neither the CA file is parsed nor a repeated CA
 * certificate decoded per connection (issue 20).  Each
 * result is printed when its delivery completes.  An example, built for
 * the tests, never installed.
 *
 *   libevent-send DNS-CONFIG CA-FILE PORT FROM MESSAGE-FILE RCPT ...
 *
 * Output, one line per recipient as it completes:
 *   # N RCPT delivered|tempfail|permfail host=H tls=T dane=D pkix=P text
 */
#include <event2/event.h>
#include <mailsec/dane.h>
#include <mailsec/dns.h>
#include <mailsec/requiretls_deliver.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct app;

struct job {
	struct app *app;
	int idx;
	const char *rcpt;
	struct ms_rtls_send *s;
	struct event *ev; /* what this job waits for now (re-made per wait) */
};

struct app {
	struct event_base *base;
	int left, failed;
};

static const char *step_str(enum ms_rtls_step st)
{
	return st == MS_RTLS_STEP_OK ? "ok" : st == MS_RTLS_STEP_FAILED ? "failed" : "-";
}

/* Completion: the result of the one recipient. */
static void done(struct job *j)
{
	const struct ms_rtls_rcpt_result *r = ms_rtls_send_rcpt(j->s, 0, NULL);
	const struct ms_rtls_attempt *a = r ? r->attempt : NULL;
	const char *what = r && r->delivered ? "delivered" :
			   r && r->out.verdict == MS_RTLS_PERMFAIL ? "permfail" : "tempfail";
	printf("# %d %s %s host=%s tls=%s dane=%s pkix=%s %s\n", j->idx, j->rcpt, what,
	       a ? ms_rtls_route_host_name(a->host) : "-", a && a->tls[0] ? "yes" : "no",
	       a ? step_str(a->o.dane) : "-", a ? step_str(a->o.pkix) : "-",
	       r && !r->delivered ? r->out.text : "");
	fflush(stdout);
	if (--j->app->left == 0)
		event_base_loopexit(j->app->base, NULL);
}

static void on_ready(evutil_socket_t fd, short what, void *arg);

/* Step the job, then wait for what it names: its descriptor with the
 * events it needs, at most its timeout (0: at once). */
static void drive(struct job *j)
{
	char why[256] = "";
	if (j->ev) {
		event_free(j->ev);
		j->ev = NULL;
	}
	if (ms_rtls_send_step(j->s, why, sizeof(why)) != MS_OK) {
		/* a failed route, out of memory: the message stays queued */
		printf("# %d %s error %s\n", j->idx, j->rcpt, why);
		j->app->failed = 1;
		if (--j->app->left == 0)
			event_base_loopexit(j->app->base, NULL);
		return;
	}
	if (ms_rtls_send_done(j->s)) {
		done(j);
		return;
	}
	int fd = ms_rtls_send_fd(j->s), ev = ms_rtls_send_events(j->s);
	int t = ms_rtls_send_timeout_ms(j->s);
	short flags = (short)((ev & POLLIN ? EV_READ : 0) | (ev & POLLOUT ? EV_WRITE : 0));
	j->ev = event_new(j->app->base, fd >= 0 ? fd : -1, fd >= 0 ? flags : 0, on_ready, j);
	struct timeval tv = { t > 0 ? t / 1000 : 0, t > 0 ? (t % 1000) * 1000 : 0 };
	event_add(j->ev, &tv);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drive(arg);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0, got;
	char *b = malloc(cap);
	while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(b, cap *= 2);
			if (nb == NULL)
				free(b);
			b = nb;
		}
	}
	fclose(f);
	*len = n;
	return b;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s DNS-CONFIG CA-FILE PORT FROM MESSAGE-FILE RCPT ...\n",
			argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write(2) */
	char why[256] = "";
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = argv[1] };
	struct ms_dns_ctx *dns = NULL;
	if (ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "dns: %s\n", why);
		return 1;
	}
	/* one TLS context for every session; DANE/PKIX are judged after the
	 * handshake by the library */
	SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
	/* ... with one PKIX trust store and one DANE context for all of them
	 * (borrowed by the handles, freed after them) */
	X509_STORE *store = X509_STORE_new();
	struct ms_dane_ctx *dane = NULL;
	if (store == NULL || X509_STORE_load_file(store, argv[2]) != 1 ||
	    ms_dane_ctx_new(NULL, &dane) != MS_OK || ms_dane_ctx_set_cert_cache(dane, 256) != MS_OK) {
		fprintf(stderr, "%s: cannot load the CA file\n", argv[2]);
		return 1;
	}
	size_t msglen = 0;
	char *msg = slurp(argv[5], &msglen);
	struct app app = { .base = event_base_new() };
	int n = argc - 6;
	struct job *jobs = calloc((size_t)n, sizeof(*jobs));
	if (tls == NULL || msg == NULL || app.base == NULL || jobs == NULL) {
		fprintf(stderr, "set-up failed\n");
		return 1;
	}
	SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
	for (int i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		j->app = &app;
		j->idx = i;
		j->rcpt = argv[6 + i];
		struct ms_rtls_envelope m = { .from = argv[4], .rcpt = &j->rcpt, .nrcpt = 1,
					      .msg = (const uint8_t *)msg, .msglen = msglen };
		struct ms_rtls_send_opts o = { .version = MS_RTLS_SEND_OPTS_VERSION };
		o.deliver = (struct ms_rtls_deliver_opts){
			.version = MS_RTLS_DELIVER_OPTS_VERSION, .helo = "client.test",
			.port = (uint16_t)strtoul(argv[3], NULL, 10), .tls = tls,
			.ca_store = store, .dane_ctx = dane, .timeout_ms = 10000 };
		if (ms_rtls_send_new(NULL, dns, NULL, MS_RTLS_REQ_DEFAULT, &m, &o, &j->s, why,
				     sizeof(why)) != MS_OK) {
			fprintf(stderr, "%s: %s\n", j->rcpt, why);
			return 1;
		}
		app.left++;
	}
	for (int i = 0; i < n; i++)
		drive(&jobs[i]);
	if (app.left > 0)
		event_base_dispatch(app.base);
	for (int i = 0; i < n; i++) {
		if (jobs[i].ev)
			event_free(jobs[i].ev);
		ms_rtls_send_free(jobs[i].s); /* also cancels a delivery never finished */
	}
	event_base_free(app.base);
	free(jobs);
	free(msg);
	SSL_CTX_free(tls);
	X509_STORE_free(store);
	ms_dane_ctx_free(dane);
	ms_dns_ctx_free(dns);
	return app.failed || app.left ? 1 : 0;
}
