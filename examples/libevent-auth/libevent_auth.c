/*
 * libevent-auth: an event-loop MTA's inbound verdicts on one thread, with
 * libevent.  Every message given on the command line is authenticated at
 * the same time (mailsec/auth.h async shape: ms_auth_start, the DNS
 * context's fd in the loop, ms_auth_step, the completion callback), all on
 * ONE DNS context; each Authentication-Results field is printed when its
 * verdict completes.  An example, built for the tests, never installed.
 *
 *   libevent-auth DNS-CONFIG AUTHSERV-ID DEADLINE-MS  IP HELO MAILFROM FILE ...
 *
 * Output, one block per message as it completes:
 *   # N disposition
 *   Authentication-Results: ...
 */
#include <event2/event.h>
#include <mailsec/auth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct app;

struct verdict {
	struct app *app;
	int idx;
	struct ms_auth *a;
	int finished;
};

struct app {
	struct event_base *base;
	struct event *readable, *timer;
	struct verdict *v;
	int n, left, failed;
};

/* Completion: runs inside ms_auth_step. */
static void on_done(void *user, struct ms_auth *a, ms_status st)
{
	struct verdict *v = user;
	v->finished = 1;
	v->app->left--;
	if (st != MS_OK) {
		char why[256] = "";
		ms_auth_status(a, why, sizeof(why));
		printf("# %d error\n%s\n", v->idx, why);
		v->app->failed = 1;
	} else {
		printf("# %d %s\n%s\n", v->idx, ms_auth_disposition_str(ms_auth_disposition(a)),
		       ms_auth_header(a));
	}
	fflush(stdout);
}

/* Step every verdict still pending, then wait for the fd or the nearest
 * timeout.  ms_dns_process (inside the first step) delivers the answers of
 * every verdict on the context; the others' steps pick theirs up. */
static void drive(struct app *app)
{
	int wait = -1;
	for (int i = 0; i < app->n; i++) {
		struct verdict *v = &app->v[i];
		int t = 0;
		if (v->finished || ms_auth_step(v->a, &t) == MS_AUTH_DONE)
			continue;
		if (wait < 0 || t < wait)
			wait = t;
	}
	if (app->left == 0) {
		event_base_loopexit(app->base, NULL);
		return;
	}
	struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };
	evtimer_add(app->timer, &tv);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
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
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	size_t got;
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
	if (argc < 8 || (argc - 4) % 4 != 0) {
		fprintf(stderr, "usage: %s DNS-CONFIG AUTHSERV-ID DEADLINE-MS "
				"IP HELO MAILFROM FILE ...\n", argv[0]);
		return 2;
	}
	char why[256] = "";
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE, .config_file = argv[1] };
	struct ms_dns_ctx *dns = NULL;
	if (ms_dns_ctx_new(NULL, &cfg, &dns, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "dns: %s\n", why);
		return 1;
	}
	struct app app = { .n = (argc - 4) / 4 };
	app.left = app.n;
	app.v = calloc((size_t)app.n, sizeof(*app.v));
	app.base = event_base_new();
	if (app.v == NULL || app.base == NULL)
		return 1;
	for (int i = 0; i < app.n; i++) {
		char **m = argv + 4 + 4 * i;
		struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
					  .authserv_id = argv[2], .client_ip = m[0], .helo = m[1],
					  .mail_from = m[2],
					  .deadline_ms = (unsigned)strtoul(argv[3], NULL, 10),
					  .flags = MS_AUTH_APPLY_POLICY };
		struct verdict *v = &app.v[i];
		v->app = &app;
		v->idx = i;
		size_t len = 0;
		char *msg = slurp(m[3], &len);
		if (msg == NULL) {
			fprintf(stderr, "cannot read %s\n", m[3]);
			return 1;
		}
		/* new, feed (here in one piece), start: the lookups go out now */
		if (ms_auth_new(NULL, &o, &v->a, why, sizeof(why)) != MS_OK ||
		    ms_auth_feed(v->a, (const uint8_t *)msg, len, why, sizeof(why)) != MS_OK ||
		    ms_auth_start(v->a, on_done, v, why, sizeof(why)) != MS_OK) {
			fprintf(stderr, "message %d: %s\n", i, why);
			return 1;
		}
		free(msg);
	}
	/* one fd for all verdicts: the DNS context's */
	int fd = ms_dns_fd(dns);
	if (fd >= 0) {
		app.readable = event_new(app.base, fd, EV_READ | EV_PERSIST, on_event, &app);
		event_add(app.readable, NULL);
	}
	app.timer = evtimer_new(app.base, on_event, &app);
	drive(&app);
	if (app.left > 0)
		event_base_dispatch(app.base);
	for (int i = 0; i < app.n; i++)
		ms_auth_free(app.v[i].a);  /* also cancels a verdict never finished */
	if (app.readable)
		event_free(app.readable);
	event_free(app.timer);
	event_base_free(app.base);
	free(app.v);
	ms_dns_ctx_free(dns);
	return app.failed || app.left ? 1 : 0;
}
