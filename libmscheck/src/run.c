/*
 * run.c - ms_check_run(): the steps of the report in order, each adding
 * its findings; the MX hosts' DANE and TLS checks in parallel.
 */
#include "check_int.h"

#include <mailsec/dns.h>

#include <stdlib.h>
#include <string.h>

ms_status ms_check_run(const struct ms_env *env, struct ms_dns_ctx *dns, const char *domain,
		       const struct ms_check_opts *opts, struct ms_check_report **out, char *why,
		       size_t whylen)
{
	char w[256] = "";
	if (out)
		*out = NULL;
	if (dns == NULL || domain == NULL || out == NULL || opts == NULL ||
	    opts->version != MS_CHECK_OPTS_VERSION) {
		snprintf(why ? why : w, why ? whylen : sizeof(w), "missing argument or bad options version");
		return MS_ERR_INVALID;
	}
	if (opts->nconnect_to > MS_CHECK_MAX_CONNECT_TO || opts->ndkim_selectors > MS_CHECK_MAX_SELECTORS ||
	    (opts->nconnect_to && opts->connect_to == NULL) ||
	    (opts->ndkim_selectors && opts->dkim_selectors == NULL)) {
		snprintf(why ? why : w, why ? whylen : sizeof(w), "too many connect-to entries or DKIM selectors");
		return MS_ERR_INVALID;
	}
	struct ms_check_report *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MS_ERR_NOMEM;
	if (ms_dns_hostname_normalize(domain, c->domain, sizeof(c->domain), w, sizeof(w)) != MS_OK) {
		snprintf(why ? why : w, why ? whylen : sizeof(w), "bad domain '%s': %s", domain, w);
		free(c);
		return MS_ERR_INVALID;
	}
	if (env)
		c->env = *env;
	c->dns = dns;
	c->port = opts->port ? opts->port : 25;
	c->probe = !opts->no_probe;
	c->ca_file = opts->ca_file;
	for (size_t i = 0; i < opts->nconnect_to; i++)
		c->connect_to[c->nconnect_to++] = opts->connect_to[i];
	for (size_t i = 0; i < opts->ndkim_selectors; i++)
		c->selectors[c->nselectors++] = opts->dkim_selectors[i];
	c->now = opts->now;
	c->timeout_ms = opts->timeout_ms;
	c->progress = opts->progress;
	c->progress_user = opts->progress_user;
	c->tail = &c->findings;
	pthread_mutex_init(&c->lock, NULL);

	check_mx(c);
	check_ns(c);             /* name servers, IPv6 of NS and MX, RPKI note */
	check_dane_and_tls(c);   /* parallel per MX host */
	check_mtasts(c);         /* uses the probes' certificate checks */
	check_caa(c);            /* MX names and the MTA-STS policy host */
	check_tlsrpt(c);
	check_spf(c);
	check_dmarc(c);
	check_dkim(c);
	check_finish(c);
	/* the route's handles are no longer needed: the report keeps copies */
	for (size_t i = 0; i < c->nmx; i++)
		c->mx[i].route_host = NULL;
	ms_rtls_route_free(c->route);
	c->route = NULL;
	c->dns = NULL; /* borrowed for the run only */
	if (c->findings && c->index == NULL) {
		ms_check_report_free(c);
		return MS_ERR_NOMEM;
	}
	*out = c;
	return MS_OK;
}

void ms_check_report_free(struct ms_check_report *r)
{
	if (r == NULL)
		return;
	check_free(r);
	free(r);
}
