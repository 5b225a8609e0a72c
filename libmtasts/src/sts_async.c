/*
 * sts_async.c - policy discovery without blocking (ms_sts_get_start /
 * _fd / _step / _result / _free), the async shape of ms_sts_get_policy
 * (issue 15).
 *
 * Two phases.  DNS: the TXT record and, when a fetch looks due (the cache
 * says so, sts_would_fetch), the policy host's A and AAAA, in rounds on a
 * lookup batch over the handle's resolver (libdnssec-stub), so they go
 * out together.  Once the batch settles, the first half of the
 * synchronous discovery (sts_disc_begin) runs once on the batch's view:
 * same decisions, same cache reads and writes, same logs.  FETCH: the
 * HTTPS transfer of ms_sts_fetch_dns (sts_xfer_*) on a libcurl multi
 * handle driven by socket and timer callbacks (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION).  The handle owns one epoll descriptor holding
 * the resolver's descriptor (DNS phase) and curl's sockets (fetch
 * phase): the caller polls that one descriptor, and an epoll descriptor
 * can itself sit in another epoll set (the route's).
 *
 * An injected fetch (cfg.fetch) is the caller's synchronous function: it
 * runs inside the step that ends the DNS phase.
 */
#include "result.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { G_DNS, G_FETCH, G_DONE };

struct ms_sts_get {
	struct ms_sts *s;
	char dom[256], host[270];
	int epfd;
	int dns_fd;                  /* in epfd during the DNS phase, else -1 */
	int phase;
	struct ms_dns_batch *batch;
	struct sts_disc d;
	int disc_live;
	CURLM *multi;
	struct sts_xfer *x;
	int in_multi;
	uint64_t timer_ns;           /* curl's timer, 0: none */
	ms_status status;
	char why[256];
	struct ms_sts_result *res;
};

/* ---- libcurl's callbacks ------------------------------------------------ */

static int on_socket(CURL *e, curl_socket_t fd, int what, void *user, void *sockp)
{
	struct ms_sts_get *g = user;
	(void)e;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	struct epoll_event ev = { 0 };
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
	ev.data.fd = fd;
	if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT &&
	    epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *user)
{
	struct ms_sts_get *g = user;
	(void)m;
	/* never act from inside the callback: the next step does */
	g->timer_ns = timeout_ms < 0 ? 0 : ms_monotonic_ns() + (uint64_t)timeout_ms * 1000000u + 1;
	return 0;
}

/* ---- phases ------------------------------------------------------------- */

/* Drop the transfer, its connection and its sockets (a kept-alive socket
 * the server closes would stay readable in the caller's poll set). */
static void drop_transfer(struct ms_sts_get *g)
{
	if (g->multi) {
		if (g->in_multi)
			curl_multi_remove_handle(g->multi, sts_xfer_easy(g->x));
		curl_multi_cleanup(g->multi);
		g->multi = NULL;
		g->in_multi = 0;
	}
	sts_xfer_free(g->x);
	g->x = NULL;
	g->timer_ns = 0;
}

static void finish(struct ms_sts_get *g, ms_status st)
{
	drop_transfer(g);
	if (g->dns_fd >= 0) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->dns_fd, NULL);
		g->dns_fd = -1;
	}
	g->status = sts_disc_done(g->s, &g->d, st, &g->res, g->why, sizeof(g->why));
	g->disc_live = 0;
	g->phase = G_DONE;
}

/* One DNS round: what the first half of the discovery will read. */
static ms_status round_run(struct ms_sts_get *g)
{
	char id[MS_STS_ID_MAX + 1], note[256];
	struct ms_dns_ctx *view = ms_dns_batch_view(g->batch);
	int valid = sts_txt_lookup(g->s, view, g->dom, id, note, sizeof(note), NULL);
	if (valid < 0)
		return MS_ERR_NOMEM;
	if (valid && sts_fetch_needs_dns(sts_fetch_config(g->s), g->host) &&
	    sts_would_fetch(g->s, g->dom, id)) {
		char addrs[1024];
		/* only to have them asked; the fetch reads them again */
		(void)sts_resolve_host(view, g->host, addrs, sizeof(addrs), NULL, 0);
	}
	return MS_OK;
}

static void start_fetch(struct ms_sts_get *g)
{
	const struct ms_sts_fetch_config *cfg = sts_fetch_config(g->s);
	const struct ms_env *env = sts_env(g->s);
	struct ms_dns_ctx *view = ms_dns_batch_view(g->batch);
	char *detail = g->d.res->failure_detail;
	size_t dlen = sizeof(g->d.res->failure_detail);
	enum ms_tlsrpt_result failure = MS_TLSRPT_SUCCESS;
	size_t len = 0;
	if (cfg->fetch) {
		ms_status fst = ms_sts_fetch_dns(env, cfg, view, g->dom, g->d.polbuf,
						 MS_STS_POLICY_MAX, &len, &failure, detail, dlen);
		finish(g, sts_disc_fetched(g->s, &g->d, fst, len, failure));
		return;
	}
	ms_status fst = sts_xfer_prepare(env, cfg, view, g->dom, g->d.polbuf, MS_STS_POLICY_MAX,
					 &g->x, &failure, detail, dlen);
	if (fst != MS_OK) {
		finish(g, sts_disc_fetched(g->s, &g->d, fst, 0, failure));
		return;
	}
	if (g->dns_fd >= 0) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->dns_fd, NULL);
		g->dns_fd = -1;
	}
	g->multi = curl_multi_init();
	if (g->multi == NULL) {
		finish(g, MS_ERR_NOMEM);
		return;
	}
	curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
	curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
	if (curl_multi_add_handle(g->multi, sts_xfer_easy(g->x)) != CURLM_OK) {
		finish(g, MS_ERR_NOMEM);
		return;
	}
	g->in_multi = 1;
	g->phase = G_FETCH;
	int running = 0;
	curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

static void advance_dns(struct ms_sts_get *g)
{
	for (;;) {
		enum ms_dns_batch_state bs;
		ms_status st = ms_dns_batch_step(g->batch, &bs);
		if (st == MS_OK && bs == MS_DNS_BATCH_ROUND)
			st = round_run(g);
		if (st != MS_OK) {
			finish(g, st);
			return;
		}
		if (bs == MS_DNS_BATCH_PENDING)
			return;
		if (bs == MS_DNS_BATCH_SETTLED)
			break;
	}
	/* the first half, once, on the answers */
	ms_status st = sts_disc_begin(g->s, ms_dns_batch_view(g->batch), g->dom, &g->d);
	g->disc_live = 1;
	if (st != MS_OK || !g->d.need_fetch) {
		finish(g, st);
		return;
	}
	start_fetch(g);
}

static void advance_fetch(struct ms_sts_get *g)
{
	int running = 0;
	struct epoll_event ev[16];
	int n = epoll_wait(g->epfd, ev, 16, 0);
	for (int i = 0; i < n; i++) {
		int mask = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
			   ((ev[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
			   ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(g->multi, ev[i].data.fd, mask, &running);
	}
	if (g->timer_ns && ms_monotonic_ns() >= g->timer_ns) {
		g->timer_ns = 0;
		curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	int left = 0;
	CURLMsg *m;
	while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		size_t len = 0;
		enum ms_tlsrpt_result failure = MS_TLSRPT_SUCCESS;
		ms_status fst = sts_xfer_finish(g->x, (int)m->data.result, &len, &failure,
						g->d.res->failure_detail,
						sizeof(g->d.res->failure_detail));
		finish(g, sts_disc_fetched(g->s, &g->d, fst, len, failure));
		return;
	}
}

/* ---- public ------------------------------------------------------------- */

ms_status ms_sts_get_start(struct ms_sts *s, const char *domain, struct ms_sts_get **out,
			   char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (s == NULL || domain == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	char dom[256];
	ms_status st = sts_domain_normalize(domain, dom, sizeof(dom), why, whylen);
	if (st != MS_OK)
		return st;
	if (sts_fetch_config(s)->fetch == NULL && sts_curl_global() != MS_OK)
		return ms_why(why, whylen, MS_ERR_INTERNAL, "curl_global_init failed");
	const struct ms_env *env = sts_env(s);
	struct ms_sts_get *g = ms_calloc(env, 1, sizeof(*g));
	if (g == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	g->s = s;
	g->dns_fd = -1;
	g->phase = G_DNS;
	memcpy(g->dom, dom, sizeof(dom));
	snprintf(g->host, sizeof(g->host), "mta-sts.%s", dom);
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->epfd < 0) {
		ms_free(env, g);
		return ms_why(why, whylen, MS_ERR_IO, "epoll_create1: %s", strerror(errno));
	}
	struct ms_dns_ctx *dns = sts_dns(s);
	int fd = ms_dns_fd(dns);
	if (fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
			g->dns_fd = fd;
	}
	if ((st = ms_dns_batch_new(env, dns, 0, &g->batch, why, whylen)) != MS_OK) {
		ms_sts_get_free(g);
		return st;
	}
	advance_dns(g);   /* the TXT lookup goes out now */
	*out = g;
	return MS_OK;
}

int ms_sts_get_fd(const struct ms_sts_get *g)
{
	return g ? g->epfd : -1;
}

enum ms_sts_get_state ms_sts_get_step(struct ms_sts_get *g, int *timeout_ms)
{
	if (timeout_ms)
		*timeout_ms = 0;
	if (g == NULL)
		return MS_STS_GET_DONE;
	if (g->phase == G_DNS) {
		ms_dns_process(sts_dns(g->s));
		advance_dns(g);
	} else if (g->phase == G_FETCH) {
		advance_fetch(g);
	}
	if (g->phase == G_DONE)
		return MS_STS_GET_DONE;
	if (timeout_ms) {
		int t = 1000;   /* a shared resolver may be served by others */
		if (g->phase == G_DNS) {
			int d = ms_dns_batch_timeout_ms(g->batch);
			if (d >= 0 && d < t)
				t = d;
		} else if (g->timer_ns) {
			uint64_t now = ms_monotonic_ns();
			int d = now >= g->timer_ns ? 0 : (int)((g->timer_ns - now + 999999u) / 1000000u);
			if (d < t)
				t = d;
		}
		*timeout_ms = t;
	}
	return MS_STS_GET_PENDING;
}

ms_status ms_sts_get_result(struct ms_sts_get *g, struct ms_sts_result **out, char *why,
			    size_t whylen)
{
	if (out)
		*out = NULL;
	if (g == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	if (g->phase != G_DONE)
		return ms_why(why, whylen, MS_ERR_STATE, "discovery still pending");
	if (g->status != MS_OK)
		return ms_why(why, whylen, g->status, "%s", g->why);
	if (g->res == NULL)
		return ms_why(why, whylen, MS_ERR_STATE, "result already taken");
	*out = g->res;
	g->res = NULL;
	return MS_OK;
}

void ms_sts_get_free(struct ms_sts_get *g)
{
	if (g == NULL)
		return;
	const struct ms_env *env = sts_env(g->s);
	drop_transfer(g);
	ms_dns_batch_free(g->batch);
	if (g->disc_live)
		sts_disc_done(g->s, &g->d, MS_ERR_CANCELLED, &g->res, NULL, 0);
	ms_sts_result_free(g->res);
	if (g->epfd >= 0)
		close(g->epfd);
	ms_free(env, g);
}
