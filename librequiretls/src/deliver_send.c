/*
 * deliver_send.c - a message to recipients in several domains
 * (requiretls_deliver.h): recipients grouped by normalised domain, the
 * requirement raised from the recipient-domain memory when the caller
 * allows it (RFC 8689 s4.3, mox's behaviour), then per domain its route
 * and its delivery, one step at a time.
 */
#include "deliver_internal.h"
#include "verify_internal.h"

#include <mailsec/dns.h>

#include <poll.h>
#include <stddef.h>
#include <string.h>

struct domain {
	char name[MS_RTLS_MAX_DOMAIN + 1];
	const char **rcpt; /* borrowed from the caller's envelope */
	size_t nrcpt;
	struct ms_rtls_route *route;
	struct ms_rtls_delivery *delivery;
};

struct ms_rtls_send {
	struct ms_env env;
	struct ms_dns_ctx *dns;
	struct ms_sts *sts;
	struct ms_rtls_envelope msg;
	struct ms_rtls_send_opts opts;   /* its strings point at the copies below */
	char *helo, *ca_file, *account;  /* owned: the caller's may not outlive new */
	/* without the caller's ca_store: one loaded from ca_file (or the
	 * system store) at the first domain's delivery, lent to every
	 * domain's delivery (issue 20) */
	X509_STORE *own_store;
	struct ms_rtls_route_opts route_opts;
	int have_route_opts;
	enum ms_rtls_requirement requirement;
	int raised;
	char raise_note[256];
	struct domain *domains;
	size_t ndomains, current;
	size_t *rcpt_domain; /* per caller recipient: its domain */
	size_t *rcpt_index;  /* ... and its index in that domain's list */
	int wait_ms;         /* a pending route's: when to step at the latest */
};

/* The layout of a version-1 struct ms_rtls_send_opts: a version-2 struct
 * ms_rtls_deliver_opts (ending at observer_arg) embedded, then the send
 * options.  Callers built before version 2 hand this in. */
struct deliver_opts_v2 {
	unsigned version;
	const char *helo;
	uint16_t port;
	struct ssl_ctx_st *tls;
	const char *ca_file;
	int64_t now;
	unsigned timeout_ms;
	struct ms_rtls_store *memory;
	const char *account;
	ms_rtls_attempt_observer_fn observer;
	void *observer_arg;
};
struct send_opts_v1 {
	unsigned version;
	struct deliver_opts_v2 deliver;
	const struct ms_rtls_route_opts *route;
	int auto_requiretls;
	int64_t memory_max_age;
};
_Static_assert(offsetof(struct deliver_opts_v2, observer_arg) ==
		       offsetof(struct ms_rtls_deliver_opts, observer_arg) &&
	       offsetof(struct send_opts_v1, deliver) == offsetof(struct ms_rtls_send_opts, deliver),
	       "struct send_opts_v1 mirrors the version-1 layout");

/* The caller's options as a struct of this version; 0: unknown version. */
static int send_opts_of(const struct ms_rtls_send_opts *opts, struct ms_rtls_send_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (opts->version == 1 && opts->deliver.version == 2) {
		const struct send_opts_v1 *v1 = (const void *)opts;
		o->version = MS_RTLS_SEND_OPTS_VERSION;
		memcpy(&o->deliver, &v1->deliver, sizeof(v1->deliver));
		o->route = v1->route;
		o->auto_requiretls = v1->auto_requiretls;
		o->memory_max_age = v1->memory_max_age;
		o->deliver.version = MS_RTLS_DELIVER_OPTS_VERSION;
		return 1;
	}
	if (opts->version != MS_RTLS_SEND_OPTS_VERSION ||
	    (opts->deliver.version != 2 && opts->deliver.version != MS_RTLS_DELIVER_OPTS_VERSION))
		return 0;
	*o = *opts;
	if (o->deliver.version == 2) { /* the members after observer_arg are not the caller's */
		o->deliver.ca_store = NULL;
		o->deliver.dane_ctx = NULL;
	}
	o->deliver.version = MS_RTLS_DELIVER_OPTS_VERSION;
	return 1;
}

static size_t find_domain(const struct ms_rtls_send *s, const char *name)
{
	for (size_t i = 0; i < s->ndomains; i++)
		if (strcmp(s->domains[i].name, name) == 0)
			return i;
	return s->ndomains;
}

ms_status ms_rtls_send_new(const struct ms_env *env, struct ms_dns_ctx *dns, struct ms_sts *sts,
			   enum ms_rtls_requirement requirement, const struct ms_rtls_envelope *m,
			   const struct ms_rtls_send_opts *opts, struct ms_rtls_send **out,
			   char *why, size_t whylen)
{
	if (out == NULL || dns == NULL || m == NULL || opts == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL argument");
	*out = NULL;
	struct ms_rtls_send_opts given;
	if (!send_opts_of(opts, &given))
		return ms_why(why, whylen, MS_ERR_INVALID, "unknown options version");
	opts = &given;
	if (m->nrcpt == 0 || m->nrcpt > MS_RTLS_DELIVER_MAX_RCPT || m->rcpt == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad recipient list");
	if (!rtls_plain_address(m->from, 1))
		return ms_why(why, whylen, MS_ERR_INVALID, "MAIL FROM: not a plain address");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_send *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	s->dns = dns;
	s->sts = sts;
	s->msg = *m;
	s->opts = *opts;
	/* The deliveries are made in later steps: keep our own copies of the
	 * options' strings (the envelope is borrowed, as documented; the
	 * options are copied, as ms_rtls_deliver_new copies them). */
	s->opts.route = NULL;
	if (opts->deliver.helo && (s->helo = ms_strdup(&e, opts->deliver.helo)) == NULL)
		goto nomem;
	if (opts->deliver.ca_file && (s->ca_file = ms_strdup(&e, opts->deliver.ca_file)) == NULL)
		goto nomem;
	if (opts->deliver.account && (s->account = ms_strdup(&e, opts->deliver.account)) == NULL)
		goto nomem;
	s->opts.deliver.helo = s->helo;
	s->opts.deliver.ca_file = s->ca_file;
	s->opts.deliver.account = s->account;
	if (opts->route) {
		/* a version-1 caller's struct ends before deadline_ms */
		if (opts->route->version == 1)
			memcpy(&s->route_opts, opts->route,
			       offsetof(struct ms_rtls_route_opts, deadline_ms));
		else
			s->route_opts = *opts->route;
		s->have_route_opts = 1;
	}
	s->domains = ms_calloc(&e, m->nrcpt, sizeof(*s->domains));
	s->rcpt_domain = ms_calloc(&e, m->nrcpt, sizeof(size_t));
	s->rcpt_index = ms_calloc(&e, m->nrcpt, sizeof(size_t));
	ms_status st = MS_OK;
	if (s->domains == NULL || s->rcpt_domain == NULL || s->rcpt_index == NULL) {
		st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < m->nrcpt; i++) {
		const char *a = m->rcpt[i];
		if (!rtls_plain_address(a, 0)) {
			st = ms_why(why, whylen, MS_ERR_INVALID, "RCPT TO: '%.100s' is not a plain address",
				    a ? a : "(null)");
			goto fail;
		}
		/* One domain per normalised name: Bob@Good.Test. and
		 * carol@good.test share a route and a session. */
		char norm[MS_RTLS_MAX_DOMAIN + 1], nwhy[160] = "";
		if (ms_dns_hostname_normalize(strrchr(a, '@') + 1, norm, sizeof(norm), nwhy,
					      sizeof(nwhy)) != MS_OK) {
			st = ms_why(why, whylen, MS_ERR_INVALID, "RCPT TO: '%.100s': %s", a, nwhy);
			goto fail;
		}
		size_t k = find_domain(s, norm);
		if (k == s->ndomains) {
			struct domain *dm = &s->domains[s->ndomains++];
			memcpy(dm->name, norm, strlen(norm) + 1);
			dm->rcpt = ms_calloc(&e, m->nrcpt, sizeof(char *));
			if (dm->rcpt == NULL) {
				st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
				goto fail;
			}
		}
		struct domain *dm = &s->domains[k];
		size_t j = 0;
		while (j < dm->nrcpt && ms_ascii_casecmp(dm->rcpt[j], a) != 0)
			j++;
		if (j == dm->nrcpt) /* a repeated recipient gets one RCPT */
			dm->rcpt[dm->nrcpt++] = a;
		s->rcpt_domain[i] = k;
		s->rcpt_index[i] = j;
	}
	/* RFC 8689 s4.3: REQUIRETLS where every next hop is known to take it;
	 * one requirement for the whole message, decided before any plan. */
	const char *names[MS_RTLS_DELIVER_MAX_RCPT];
	for (size_t i = 0; i < s->ndomains; i++)
		names[i] = s->domains[i].name;
	const char *account = opts->deliver.account ? opts->deliver.account : m->from;
	s->requirement = requirement;
	st = ms_rtls_auto_requirement(opts->deliver.memory, account, names, s->ndomains,
				      opts->memory_max_age, requirement, opts->auto_requiretls,
				      &s->requirement, s->raise_note, sizeof(s->raise_note));
	if (st != MS_OK) {
		ms_why(why, whylen, st, "%s", s->raise_note);
		goto fail;
	}
	s->raised = s->requirement != requirement;
	*out = s;
	return MS_OK;
nomem:
	st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
fail:
	ms_rtls_send_free(s);
	return st;
}

void ms_rtls_send_free(struct ms_rtls_send *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; s->domains && i < s->ndomains; i++) {
		ms_rtls_deliver_free(s->domains[i].delivery);
		ms_rtls_route_free(s->domains[i].route);
		ms_free(&s->env, s->domains[i].rcpt);
	}
	ms_free(&s->env, s->domains);
	ms_free(&s->env, s->rcpt_domain);
	ms_free(&s->env, s->rcpt_index);
	ms_free(&s->env, s->helo);
	ms_free(&s->env, s->ca_file);
	ms_free(&s->env, s->account);
	/* after the deliveries, which borrowed it */
	X509_STORE_free(s->own_store);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

int ms_rtls_send_done(const struct ms_rtls_send *s)
{
	return s == NULL || s->current >= s->ndomains;
}

ms_status ms_rtls_send_step(struct ms_rtls_send *s, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL send");
	if (ms_rtls_send_done(s))
		return ms_why(why, whylen, MS_ERR_STATE, "send already done");
	struct domain *dm = &s->domains[s->current];
	s->wait_ms = 0;
	if (dm->route == NULL) {
		/* The route's lookups go out; the next steps drive them
		 * (ms_rtls_route_step: never blocks, not even for MTA-STS). */
		return ms_rtls_route_start(&s->env, s->dns, s->sts, dm->name, s->requirement,
					   s->have_route_opts ? &s->route_opts : NULL, NULL, NULL,
					   &dm->route, why, whylen);
	}
	if (dm->delivery == NULL) {
		int t = 0;
		if (ms_rtls_route_step(dm->route, &t) == MS_RTLS_ROUTE_PENDING) {
			s->wait_ms = t;
			return MS_OK;
		}
		ms_status st = ms_rtls_route_status(dm->route, why, whylen);
		if (st != MS_OK) {
			/* as ms_rtls_route_new's failure: no route */
			ms_rtls_route_free(dm->route);
			dm->route = NULL;
			return st;
		}
		/* One trust store for all the domains of the message: parsing
		 * the CA bundle costs more than verifying a chain.  Not
		 * loadable: each delivery tries ca_file itself (and reports
		 * it), as without this. */
		if (s->opts.deliver.ca_store == NULL &&
		    rtls_pkix_store_load(&s->own_store, s->ca_file, NULL))
			s->opts.deliver.ca_store = s->own_store;
		struct ms_rtls_envelope m = s->msg;
		m.rcpt = dm->rcpt;
		m.nrcpt = dm->nrcpt;
		return ms_rtls_deliver_new(&s->env, dm->route, s->requirement, &m,
					   &s->opts.deliver, &dm->delivery, why, whylen);
	}
	ms_status st = ms_rtls_deliver_step(dm->delivery, why, whylen);
	if (st == MS_OK && ms_rtls_deliver_done(dm->delivery))
		s->current++;
	return st;
}

int ms_rtls_send_fd(const struct ms_rtls_send *s)
{
	if (ms_rtls_send_done(s))
		return -1;
	const struct domain *dm = &s->domains[s->current];
	if (dm->delivery)
		return ms_rtls_deliver_fd(dm->delivery);
	return dm->route ? ms_rtls_route_fd(dm->route) : -1;
}

int ms_rtls_send_events(const struct ms_rtls_send *s)
{
	if (ms_rtls_send_done(s))
		return 0;
	const struct domain *dm = &s->domains[s->current];
	if (dm->delivery)
		return ms_rtls_deliver_events(dm->delivery);
	return dm->route && ms_rtls_route_fd(dm->route) >= 0 ? POLLIN : 0;
}

int ms_rtls_send_timeout_ms(const struct ms_rtls_send *s)
{
	if (ms_rtls_send_done(s))
		return -1;
	const struct domain *dm = &s->domains[s->current];
	return dm->delivery ? ms_rtls_deliver_timeout_ms(dm->delivery) : s->wait_ms;
}

ms_status ms_rtls_send_run(struct ms_rtls_send *s, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "NULL send");
	while (!ms_rtls_send_done(s)) {
		ms_status st = ms_rtls_send_step(s, why, whylen);
		if (st != MS_OK)
			return st;
		int t = ms_rtls_send_timeout_ms(s), fd = ms_rtls_send_fd(s);
		if (t <= 0)
			continue;
		/* a route pending: its descriptor, in short slices (another
		 * thread may deliver on a shared DNS context); an SMTP session:
		 * its socket, until its step's deadline */
		if (s->domains[s->current].delivery == NULL && t > 10)
			t = 10;
		struct pollfd p = { .fd = fd, .events = (short)ms_rtls_send_events(s) };
		poll(&p, fd >= 0 ? 1 : 0, t);
	}
	return MS_OK;
}

enum ms_rtls_requirement ms_rtls_send_requirement(const struct ms_rtls_send *s)
{
	return s ? s->requirement : MS_RTLS_REQ_DEFAULT;
}

int ms_rtls_send_raised(const struct ms_rtls_send *s)
{
	return s ? s->raised : 0;
}

const char *ms_rtls_send_raise_note(const struct ms_rtls_send *s)
{
	return s ? s->raise_note : "";
}

int ms_rtls_send_delivered(const struct ms_rtls_send *s)
{
	if (s == NULL || !ms_rtls_send_done(s))
		return 0;
	for (size_t i = 0; i < s->ndomains; i++)
		if (!ms_rtls_deliver_delivered(s->domains[i].delivery))
			return 0;
	return 1;
}

size_t ms_rtls_send_domain_count(const struct ms_rtls_send *s)
{
	return s ? s->ndomains : 0;
}

const char *ms_rtls_send_domain(const struct ms_rtls_send *s, size_t i)
{
	return s && i < s->ndomains ? s->domains[i].name : NULL;
}

const struct ms_rtls_delivery *ms_rtls_send_delivery(const struct ms_rtls_send *s, size_t i)
{
	return s && i < s->ndomains ? s->domains[i].delivery : NULL;
}

size_t ms_rtls_send_rcpt_count(const struct ms_rtls_send *s)
{
	return s ? s->msg.nrcpt : 0;
}

const struct ms_rtls_rcpt_result *ms_rtls_send_rcpt(const struct ms_rtls_send *s, size_t i,
						    size_t *domain)
{
	if (s == NULL || i >= s->msg.nrcpt)
		return NULL;
	size_t k = s->rcpt_domain[i];
	if (domain)
		*domain = k;
	const struct ms_rtls_delivery *d = s->domains[k].delivery;
	if (d == NULL || !ms_rtls_deliver_done(d))
		return NULL;
	return ms_rtls_deliver_rcpt(d, s->rcpt_index[i]);
}
