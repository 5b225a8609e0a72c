/*
 * dane_probe.c - one MX host's DANE as a sending MTA would meet it (what
 * `mailsec dane probe` shows, like posttls-finger): the TLSA lookup, then,
 * unless it failed, the STARTTLS probe and ms_dane_verify() of the chain
 * the server sent.  The order is the decision of RFC 7672 s2.2: a host
 * whose TLSA lookup failed (bogus, timeout) is not used at all, so it is
 * not contacted.
 */
#include "smtp_internal.h"

#include <stdio.h>
#include <string.h>

struct ms_rtls_dane_probe {
	struct ms_env env;
	struct ms_dane_lookup *lookup;
	struct ms_rtls_probe *probe;    /* NULL: no TLS session */
	struct ms_dane_result result;
	int connect_failed;
	char connect[300];
	char error[512];
};

/* The host's first address as "ADDR:PORT" / "[V6]:PORT", or "". */
static void first_address(struct ms_dns_ctx *dns, const char *host, uint16_t port, char *out,
			  size_t outlen)
{
	struct ms_dns_result *r = NULL;
	char ab[64], why[256];
	out[0] = '\0';
	if (ms_dns_lookup_addr(dns, host, &r, why, sizeof(why)) == MS_OK &&
	    ms_dns_result_count(r) > 0 && ms_dns_result_addr(r, 0, ab, sizeof(ab)) == MS_OK)
		snprintf(out, outlen, strchr(ab, ':') ? "[%s]:%u" : "%s:%u", ab, (unsigned)port);
	ms_dns_result_free(r);
}

ms_status ms_rtls_dane_probe_run(const struct ms_env *env, struct ms_dns_ctx *dns,
				 const char *host, const struct ms_rtls_dane_probe_opts *opts,
				 struct ms_rtls_dane_probe **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (dns == NULL || host == NULL || opts == NULL || out == NULL || opts->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_dane_probe *p = ms_calloc(&e, 1, sizeof(*p));
	if (p == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	p->env = e;
	p->result.matched = p->result.depth = -1;
	uint16_t port = opts->port ? opts->port : 25;
	ms_status st = ms_dane_lookup_env(&e, dns, host, 1, port, &p->lookup, why, whylen);
	if (st != MS_OK) {
		ms_rtls_dane_probe_free(p);
		return st;
	}
	if (opts->connect)
		snprintf(p->connect, sizeof(p->connect), "%s", opts->connect);
	else
		first_address(dns, host, port, p->connect, sizeof(p->connect));
	*out = p;
	if (ms_dane_lookup_state(p->lookup) == MS_DANE_DNS_TEMPFAIL) {
		/* RFC 7672 s2.2: the host is unusable now; a TLSRPT failure of
		 * the DNSSEC kind (RFC 8460 s4.3.1) */
		p->result.tlsrpt = MS_TLSRPT_DNSSEC_INVALID;
		return MS_OK;
	}
	p->connect_failed = 1;
	p->result.tlsrpt = MS_TLSRPT_VALIDATION_FAILURE;
	if (p->connect[0] == '\0') {
		snprintf(p->error, sizeof(p->error), "no address for %s", host);
		return MS_OK;
	}
	struct ms_rtls_probe_opts po = { .version = MS_RTLS_PROBE_VERSION, .connect = p->connect,
					 .sni = ms_dane_lookup_base(p->lookup),
					 .timeout_ms = opts->timeout_ms };
	/* a refused or missing STARTTLS is starttls-not-supported (RFC 8460
	 * s4.3.1), not validation-failure */
	enum ms_tlsrpt_result fail = MS_TLSRPT_VALIDATION_FAILURE;
	if (ms_rtls_probe_run_classify(&e, &po, &p->probe, &fail, p->error, sizeof(p->error)) !=
	    MS_OK) {
		p->result.tlsrpt = fail;
		return MS_OK;
	}
	p->connect_failed = 0;
	struct ms_dane_ctx *ctx = NULL;
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION };
	ms_dane_lookup_input(p->lookup, &in);
	in.nchain = ms_rtls_probe_chain(p->probe, &in.chain);
	in.now = opts->now;
	p->result.version = MS_DANE_RESULT_VERSION;
	st = ms_dane_ctx_new(&e, &ctx);
	if (st == MS_OK)
		st = ms_dane_verify(ctx, &in, &p->result, p->error, sizeof(p->error));
	ms_dane_ctx_free(ctx);
	if (st != MS_OK) {
		*out = NULL;
		ms_rtls_dane_probe_free(p);
		return ms_why(why, whylen, st, "DANE verification could not run");
	}
	p->error[0] = '\0';
	return MS_OK;
}

void ms_rtls_dane_probe_free(struct ms_rtls_dane_probe *p)
{
	if (p == NULL)
		return;
	ms_rtls_probe_free(p->probe);
	ms_dane_lookup_free(p->lookup);
	struct ms_env e = p->env;
	ms_free(&e, p);
}

const struct ms_dane_lookup *ms_rtls_dane_probe_lookup(const struct ms_rtls_dane_probe *p)
{
	return p ? p->lookup : NULL;
}

const char *ms_rtls_dane_probe_connect(const struct ms_rtls_dane_probe *p)
{
	return p && p->connect[0] ? p->connect : NULL;
}

const struct ms_rtls_probe *ms_rtls_dane_probe_session(const struct ms_rtls_dane_probe *p)
{
	return p ? p->probe : NULL;
}

const char *ms_rtls_dane_probe_error(const struct ms_rtls_dane_probe *p)
{
	return p && p->error[0] ? p->error : NULL;
}

const struct ms_dane_result *ms_rtls_dane_probe_result(const struct ms_rtls_dane_probe *p)
{
	return p ? &p->result : NULL;
}

int ms_rtls_dane_probe_verified(const struct ms_rtls_dane_probe *p)
{
	return p && p->probe && p->result.verdict == MS_DANE_VERIFIED;
}

const char *ms_rtls_dane_probe_verdict_str(const struct ms_rtls_dane_probe *p)
{
	if (p == NULL)
		return "";
	if (p->probe)
		return ms_dane_verdict_str(p->result.verdict);
	return p->connect_failed ? "connect-failed" : "dns-tempfail";
}
