/*
 * server.c - see server.h.
 *
 * One thread owns every socket: an epoll set holds the listeners, the
 * clients, an eventfd the workers ring when an answer is ready and a
 * signalfd.  A client has at most one request in the workers at a time
 * (socketmap is request/response; Postfix's proxymap pipelines nothing), so
 * a client cannot take more than its share of the workers, and its reads
 * stop while it waits.  Deadlines are swept every 100 ms: a started request
 * must be complete within read_timeout_ms (a client that sends half a
 * netstring and stalls is cut off), an idle connection is closed after
 * idle_timeout_ms, a reply that cannot be written within read_timeout_ms is
 * dropped.  At max_connections the listeners are paused (clients wait in
 * the kernel's backlog) until a connection closes.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "netstring.h"
#include "request.h"

#define ID_LISTEN (1ull << 62)
#define ID_EVENT (1ull << 61)
#define ID_SIGNAL (1ull << 60)
#define OUT_MAX (MS_RTLS_POSTFIX_REPLY_MAX + 16)
#define SWEEP_MS 100

struct conn {
	int fd;
	uint32_t gen;
	int busy;               /* a request is with the workers */
	uint32_t events;        /* what epoll watches now */
	size_t inlen, incap;
	int64_t started_ms;     /* first byte of the pending request; 0 none */
	int64_t active_ms;      /* last read or write */
	size_t outlen, outoff;
	char out[OUT_MAX];
	uint8_t in[];           /* incap bytes */
};

struct job {
	struct job *next;
	uint32_t slot, gen;
	int64_t t0_ns;
	char domain[256];
	char reply[MS_RTLS_POSTFIX_REPLY_MAX];
};

struct policyd_server {
	const struct policyd_config *cfg;
	const struct policyd_engine *eng;
	struct policyd_log *log;
	int ep, evfd, sigfd;
	int lfd[2];
	int nl;
	int paused;
	struct conn **conns;    /* max_connections slots */
	uint32_t *free_slots;
	size_t nfree, nconns, high;
	uint32_t next_gen;
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *qhead, *qtail;
	int stop;
	pthread_mutex_t dmu;
	struct job *done;
	struct policyd_cache *cache;
	char unix_path[108];
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void)
{
	return now_ns() / 1000000;
}

/* ---- workers --------------------------------------------------------- */

static void *worker(void *arg)
{
	struct policyd_server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->qhead == NULL && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		struct job *j = s->qhead;
		if (j == NULL) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		s->qhead = j->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->mu);
		policyd_answer_domain(s->eng, j->domain, j->reply, sizeof(j->reply));
		pthread_mutex_lock(&s->dmu);
		j->next = s->done;
		s->done = j;
		pthread_mutex_unlock(&s->dmu);
		uint64_t one = 1;
		if (write(s->evfd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice; the loop
			 * also drains `done` on every sweep */
		}
	}
}

static void submit(struct policyd_server *s, struct job *j)
{
	pthread_mutex_lock(&s->mu);
	j->next = NULL;
	if (s->qtail)
		s->qtail->next = j;
	else
		s->qhead = j;
	s->qtail = j;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- connections ------------------------------------------------------ */

static uint64_t conn_id(uint32_t slot, uint32_t gen)
{
	return ((uint64_t)gen << 32) | slot;
}

static void watch(struct policyd_server *s, uint32_t slot, uint32_t events)
{
	struct conn *c = s->conns[slot];
	if (c->events == events)
		return;
	struct epoll_event ev = {.events = events, .data.u64 = conn_id(slot, c->gen)};
	epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = events;
}

static void pause_listeners(struct policyd_server *s, int pause)
{
	if (s->paused == pause)
		return;
	for (int i = 0; i < s->nl; i++) {
		struct epoll_event ev = {.events = pause ? 0 : EPOLLIN,
					 .data.u64 = ID_LISTEN | (uint64_t)i};
		epoll_ctl(s->ep, EPOLL_CTL_MOD, s->lfd[i], &ev);
	}
	s->paused = pause;
	if (pause)
		policyd_logf(s->log, MS_LOG_WARNING, NULL, 0,
			     "max_connections (%u) reached: not accepting until one closes",
			     s->cfg->max_connections);
}

static void conn_close(struct policyd_server *s, uint32_t slot, const char *reason)
{
	struct conn *c = s->conns[slot];
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	s->conns[slot] = NULL;
	s->free_slots[s->nfree++] = slot;
	s->nconns--;
	policyd_metric(s->log, MS_METRIC_COUNTER, "policyd_connections_closed_total", "reason",
		       reason, 1);
	policyd_metric(s->log, MS_METRIC_GAUGE, "policyd_connections", NULL, NULL,
		       (double)s->nconns);
	if (strcmp(reason, "eof") != 0) {
		struct ms_kv kv = {"reason", reason};
		policyd_logf(s->log, MS_LOG_INFO, &kv, 1, "connection closed");
	}
	pause_listeners(s, 0);
}

/* Write what is pending; 1 when all is out, 0 when the socket is full,
 * -1 when the connection failed. */
static int flush_out(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t k = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k <= 0)
			return -1;
		c->outoff += (size_t)k;
		c->active_ms = now_ms();
	}
	c->outoff = c->outlen = 0;
	return 1;
}

static void count_answer(struct policyd_server *s, const char *reply)
{
	policyd_metric(s->log, MS_METRIC_COUNTER, "policyd_requests_total", "answer",
		       policyd_reply_label(reply), 1);
}

/*
 * Answer what has arrived: requests that need no lookup (PERM, NOTFOUND
 * keys, answers in the memo) at once, in order; the first that needs a
 * lookup goes to the workers and reading stops until its answer is out.
 */
static void process(struct policyd_server *s, uint32_t slot)
{
	struct conn *c = s->conns[slot];
	while (!c->busy && c->outlen == 0 && c->inlen > 0) {
		const uint8_t *d;
		size_t dl, used;
		enum ns_result nr = ns_parse(c->in, c->inlen, s->cfg->max_request, &d, &dl, &used);
		if (nr == NS_NEED_MORE)
			break;
		if (nr != NS_COMPLETE) {
			conn_close(s, slot, nr == NS_TOO_LONG ? "too_long" : "malformed");
			return;
		}
		char domain[256], why[128] = "", reply[300];
		const char *answer = NULL;
		switch (policyd_request_parse(d, dl, s->eng->map_name, domain, sizeof(domain), why,
					      sizeof(why))) {
		case REQ_PERM:
			snprintf(reply, sizeof(reply), "PERM %s", why);
			answer = reply;
			break;
		case REQ_NOTFOUND:
			answer = "NOTFOUND ";
			break;
		case REQ_DOMAIN: {
			/* the memo's key: lower case, no trailing dot */
			size_t n = strlen(domain);
			for (size_t i = 0; i < n; i++)
				if (domain[i] >= 'A' && domain[i] <= 'Z')
					domain[i] = (char)(domain[i] - 'A' + 'a');
			if (n > 1 && domain[n - 1] == '.')
				domain[n - 1] = '\0';
			answer = policyd_cache_get(s->cache, domain, now_ms() / 1000);
			if (answer)
				policyd_metric(s->log, MS_METRIC_COUNTER,
					       "policyd_answer_cache_hits_total", NULL, NULL, 1);
			break;
		}
		}
		if (answer == NULL) {
			struct job *j = malloc(sizeof(*j));
			if (j == NULL) {
				conn_close(s, slot, "nomem");
				return;
			}
			j->slot = slot;
			j->gen = c->gen;
			j->t0_ns = now_ns();
			snprintf(j->domain, sizeof(j->domain), "%s", domain);
			c->busy = 1;
			submit(s, j);
		} else {
			count_answer(s, answer);
			c->outlen = ns_format(answer, strlen(answer), c->out, sizeof(c->out));
			c->outoff = 0;
		}
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		c->started_ms = c->inlen ? now_ms() : 0;
		if (c->outlen && flush_out(c) < 0) {
			conn_close(s, slot, "write_error");
			return;
		}
	}
	watch(s, slot, c->outoff < c->outlen ? EPOLLOUT : c->busy ? 0 : EPOLLIN);
}

static void conn_write(struct policyd_server *s, uint32_t slot)
{
	if (flush_out(s->conns[slot]) < 0) {
		conn_close(s, slot, "write_error");
		return;
	}
	process(s, slot);
}

static void conn_read(struct policyd_server *s, uint32_t slot)
{
	struct conn *c = s->conns[slot];
	if (c->busy || c->outlen) {
		watch(s, slot, c->outlen ? EPOLLOUT : 0);
		return;
	}
	ssize_t k = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (k <= 0) {
		conn_close(s, slot, c->inlen ? "eof_in_request" : "eof");
		return;
	}
	int64_t t = now_ms();
	if (c->inlen == 0)
		c->started_ms = t;
	c->inlen += (size_t)k;
	c->active_ms = t;
	process(s, slot);
}

static void accept_all(struct policyd_server *s, int lfd)
{
	while (s->nconns < s->cfg->max_connections) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				policyd_logf(s->log, MS_LOG_ERROR, NULL, 0, "accept: %s",
					     strerror(errno));
			return;
		}
		size_t incap = s->cfg->max_request + 16; /* digits, ':' and ',' */
		struct conn *c = calloc(1, sizeof(*c) + incap);
		if (c == NULL) {
			close(fd);
			return;
		}
		uint32_t slot = s->free_slots[--s->nfree];
		c->fd = fd;
		c->gen = ++s->next_gen;
		c->incap = incap;
		c->active_ms = now_ms();
		c->events = EPOLLIN;
		s->conns[slot] = c;
		if (slot + 1 > s->high)
			s->high = slot + 1;
		s->nconns++;
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = conn_id(slot, c->gen)};
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			conn_close(s, slot, "epoll");
			continue;
		}
		policyd_metric(s->log, MS_METRIC_GAUGE, "policyd_connections", NULL, NULL,
			       (double)s->nconns);
	}
	pause_listeners(s, 1);
}

/* Deliver the workers' answers to their clients. */
static void drain_done(struct policyd_server *s)
{
	uint64_t n;
	if (read(s->evfd, &n, sizeof(n)) < 0) {
		/* nothing pending (EAGAIN): the list below may still hold answers */
	}
	pthread_mutex_lock(&s->dmu);
	struct job *j = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->dmu);
	while (j) {
		struct job *next = j->next;
		struct conn *c = j->slot < s->cfg->max_connections ? s->conns[j->slot] : NULL;
		count_answer(s, j->reply);
		if (s->cfg->answer_cache_ttl && (j->reply[0] == 'O' || j->reply[0] == 'N'))
			policyd_cache_put(s->cache, j->domain, j->reply,
					  now_ms() / 1000 + s->cfg->answer_cache_ttl);
		policyd_metric(s->log, MS_METRIC_HISTOGRAM, "policyd_request_seconds", NULL, NULL,
			       (double)(now_ns() - j->t0_ns) / 1e9);
		if (c && c->gen == j->gen) {
			c->outlen = ns_format(j->reply, strlen(j->reply), c->out, sizeof(c->out));
			c->outoff = 0;
			c->busy = 0;
			if (c->outlen == 0) /* cannot happen: the reply is bounded */
				conn_close(s, j->slot, "reply_too_long");
			else
				conn_write(s, j->slot);
		}
		free(j);
		j = next;
	}
}

static void sweep(struct policyd_server *s, int64_t t)
{
	const struct policyd_config *cfg = s->cfg;
	for (uint32_t i = 0; i < s->high; i++) {
		struct conn *c = s->conns[i];
		if (c == NULL || c->busy)
			continue;
		if (c->outlen && t - c->active_ms > (int64_t)cfg->read_timeout_ms)
			conn_close(s, i, "write_timeout");
		else if (c->inlen && t - c->started_ms > (int64_t)cfg->read_timeout_ms)
			conn_close(s, i, "read_timeout");
		else if (!c->inlen && !c->outlen && cfg->idle_timeout_ms &&
			 t - c->active_ms > (int64_t)cfg->idle_timeout_ms)
			conn_close(s, i, "idle_timeout");
	}
}

/* ---- listeners -------------------------------------------------------- */

static int listen_unix(const char *path, unsigned mode, char *why, size_t whylen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "listen_unix: path too long");
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen, "listen_unix: %s exists and is not a socket", path);
			return -1;
		}
		unlink(path); /* stale socket of an earlier run */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, mode) != 0 || listen(fd, 1024) != 0) {
		snprintf(why, whylen, "listen_unix %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int listen_tcp(const char *spec, int *port, char *why, size_t whylen)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hl = colon ? (size_t)(colon - spec) : 0;
	if (hl && spec[0] == '[' && spec[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (colon == NULL || hl == 0 || hl >= sizeof(host)) {
		snprintf(why, whylen, "listen_tcp: expected ADDR:PORT, got '%.60s'", spec);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(why, whylen, "listen_tcp '%.60s': %s", spec, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(why, whylen, "listen_tcp %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* ---- life cycle ------------------------------------------------------- */

struct policyd_server *policyd_server_new(const struct policyd_config *cfg,
					  const struct policyd_engine *engine, int *tcp_port,
					  char *why, size_t whylen)
{
	struct policyd_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->eng = engine;
	s->log = engine->log;
	s->ep = s->evfd = s->sigfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_mutex_init(&s->dmu, NULL);
	s->conns = calloc(cfg->max_connections, sizeof(*s->conns));
	s->free_slots = calloc(cfg->max_connections, sizeof(*s->free_slots));
	if (s->conns == NULL || s->free_slots == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	if (cfg->answer_cache_ttl && cfg->answer_cache_size &&
	    (s->cache = policyd_cache_new(cfg->answer_cache_size)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < cfg->max_connections; i++)
		s->free_slots[i] = cfg->max_connections - 1 - i; /* slot 0 first */
	s->nfree = cfg->max_connections;
	if (cfg->listen_unix[0]) {
		s->lfd[s->nl] = listen_unix(cfg->listen_unix, cfg->unix_mode, why, whylen);
		if (s->lfd[s->nl] < 0)
			goto fail;
		s->nl++;
		snprintf(s->unix_path, sizeof(s->unix_path), "%s", cfg->listen_unix);
	}
	if (cfg->listen_tcp[0]) {
		s->lfd[s->nl] = listen_tcp(cfg->listen_tcp, tcp_port, why, whylen);
		if (s->lfd[s->nl] < 0)
			goto fail;
		s->nl++;
	}
	if (s->nl == 0) {
		snprintf(why, whylen, "no listener: set listen_unix and/or listen_tcp");
		goto fail;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* the workers inherit the mask */
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->ep < 0 || s->evfd < 0 || s->sigfd < 0) {
		snprintf(why, whylen, "epoll: %s", strerror(errno));
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN};
	for (int i = 0; i < s->nl; i++) {
		ev.data.u64 = ID_LISTEN | (uint64_t)i;
		epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd[i], &ev);
	}
	ev.data.u64 = ID_EVENT;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->evfd, &ev);
	ev.data.u64 = ID_SIGNAL;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sigfd, &ev);
	s->threads = calloc(cfg->workers, sizeof(*s->threads));
	if (s->threads == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (; s->nthreads < cfg->workers; s->nthreads++)
		if (pthread_create(&s->threads[s->nthreads], NULL, worker, s) != 0) {
			snprintf(why, whylen, "cannot start worker threads");
			goto fail;
		}
	return s;
fail:
	policyd_server_free(s);
	return NULL;
}

int policyd_server_run(struct policyd_server *s)
{
	struct epoll_event evs[256];
	int64_t next_sweep = now_ms() + SWEEP_MS;
	int64_t next_metrics = now_ms();
	for (;;) {
		int n = epoll_wait(s->ep, evs, 256, SWEEP_MS);
		if (n < 0 && errno != EINTR) {
			policyd_logf(s->log, MS_LOG_ERROR, NULL, 0, "epoll_wait: %s",
				     strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;
			if (id & ID_LISTEN) {
				accept_all(s, s->lfd[id & 1]);
			} else if (id == ID_EVENT) {
				drain_done(s);
			} else if (id == ID_SIGNAL) {
				policyd_logf(s->log, MS_LOG_INFO, NULL, 0, "stopping on a signal");
				return 0;
			} else {
				uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
				struct conn *c = slot < s->cfg->max_connections ? s->conns[slot] : NULL;
				if (c == NULL || c->gen != gen)
					continue; /* closed earlier in this batch */
				uint32_t e = evs[i].events;
				/* a peer gone both ways while its answer is being
				 * looked up: nobody to answer (the job's answer is
				 * dropped by the generation check) */
				if ((e & (EPOLLERR | EPOLLHUP)) && (c->busy || !(e & EPOLLIN)))
					conn_close(s, slot, "hangup");
				else if (e & EPOLLOUT)
					conn_write(s, slot);
				else if (e & EPOLLIN)
					conn_read(s, slot);
			}
		}
		int64_t t = now_ms();
		if (t >= next_sweep) {
			drain_done(s);
			sweep(s, t);
			next_sweep = t + SWEEP_MS;
		}
		if (s->cfg->metrics_file[0] && t >= next_metrics) {
			if (policyd_metrics_write(s->log, s->cfg->metrics_file) != 0)
				policyd_logf(s->log, MS_LOG_WARNING, NULL, 0, "cannot write %s",
					     s->cfg->metrics_file);
			next_metrics = t + (int64_t)s->cfg->metrics_interval * 1000;
		}
	}
}

void policyd_server_free(struct policyd_server *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	free(s->threads);
	for (struct job *j = s->qhead, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	for (struct job *j = s->done, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	for (uint32_t i = 0; s->conns && i < s->high; i++)
		if (s->conns[i]) {
			close(s->conns[i]->fd);
			free(s->conns[i]);
		}
	free(s->conns);
	free(s->free_slots);
	policyd_cache_free(s->cache);
	for (int i = 0; i < s->nl; i++)
		close(s->lfd[i]);
	if (s->unix_path[0])
		unlink(s->unix_path);
	if (s->ep >= 0)
		close(s->ep);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->dmu);
	free(s);
}
