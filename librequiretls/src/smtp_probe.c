/*
 * smtp_probe.c - the STARTTLS probe on the transport (what libdane's
 * probe did before): connect, banner, EHLO, STARTTLS, handshake with SNI,
 * EHLO again with the pre-TLS capabilities forgotten (RFC 3207 s4.2),
 * QUIT; the chain and the post-TLS capabilities come back for
 * ms_dane_verify() and PKIX.  The certificate is not checked here.
 */
#include "smtp_internal.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ms_rtls_probe {
	struct ms_env env;
	struct ms_rtls_smtp *s; /* closed; kept for its chain, caps and TLS facts */
};

/* "ADDR:PORT" or "[V6]:PORT" into host and port. */
static ms_status split_target(const char *target, char *host, size_t hostlen, uint16_t *port,
			      char *why, size_t whylen)
{
	const char *colon;
	if (target[0] == '[') {
		const char *end = strchr(target, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - target - 1) >= hostlen)
			return ms_why(why, whylen, MS_ERR_INVALID, "bad address '%s'", target);
		memcpy(host, target + 1, (size_t)(end - target - 1));
		host[end - target - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(target, ':');
		if (colon == NULL || (size_t)(colon - target) >= hostlen)
			return ms_why(why, whylen, MS_ERR_INVALID, "want ADDR:PORT, not '%s'", target);
		memcpy(host, target, (size_t)(colon - target));
		host[colon - target] = '\0';
	}
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad port in '%s'", target);
	*port = (uint16_t)p;
	return MS_OK;
}

/* A reply with the wrong code fails the probe, naming the step. */
static ms_status expect(ms_status st, const struct ms_rtls_smtp_reply *r, int want,
			const char *step, char *why, size_t whylen)
{
	if (st == MS_OK && r->code != want)
		return ms_why(why, whylen, MS_ERR_PROTOCOL, "%s refused: %d %s", step, r->code,
			      r->text);
	/* EHLO and STARTTLS refusals come back as MS_ERR_STATE, with `why`
	 * already naming them: for the probe they are the server's fault. */
	return st == MS_ERR_STATE ? MS_ERR_PROTOCOL : st;
}

ms_status ms_rtls_probe_run(const struct ms_env *env, const struct ms_rtls_probe_opts *opts,
			    struct ms_rtls_probe **out, char *why, size_t whylen)
{
	return ms_rtls_probe_run_classify(env, opts, out, NULL, why, whylen);
}

ms_status ms_rtls_probe_run_classify(const struct ms_env *env,
				     const struct ms_rtls_probe_opts *opts,
				     struct ms_rtls_probe **out, enum ms_tlsrpt_result *failure,
				     char *why, size_t whylen)
{
	enum ms_tlsrpt_result dummy;
	if (failure == NULL)
		failure = &dummy;
	/* until the probe got through: the general type (s4.3.1) */
	*failure = MS_TLSRPT_VALIDATION_FAILURE;
	if (out)
		*out = NULL;
	if (opts == NULL || out == NULL || opts->connect == NULL || opts->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	const char *helo = opts->helo ? opts->helo : "localhost";
	if (strlen(helo) > 255 || strpbrk(helo, " \r\n"))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad EHLO name");
	char host[128];
	uint16_t port = 0;
	ms_status st = split_target(opts->connect, host, sizeof(host), &port, why, whylen);
	if (st != MS_OK)
		return st;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_probe *p = ms_calloc(&e, 1, sizeof(*p));
	if (p == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	p->env = e;
	struct ms_rtls_smtp_opts so = { .version = MS_RTLS_SMTP_OPTS_VERSION,
					.timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000 };
	SSL_CTX *ctx = NULL;
	struct ms_rtls_smtp_reply r;
	if ((st = ms_rtls_smtp_new(&e, &so, &p->s)) != MS_OK) {
		ms_why(why, whylen, st, "out of memory");
		goto fail;
	}
	if ((st = ms_rtls_smtp_connect(p->s, host, port, why, whylen)) != MS_OK)
		goto fail;
	st = ms_rtls_smtp_greeting(p->s, &r, why, whylen);
	if ((st = expect(st, &r, 220, "banner", why, whylen)) != MS_OK)
		goto fail;
	st = ms_rtls_smtp_ehlo(p->s, helo, &r, why, whylen);
	if ((st = expect(st, &r, 250, "EHLO", why, whylen)) != MS_OK)
		goto fail;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		st = ms_why(why, whylen, MS_ERR_NOMEM, "cannot create TLS objects");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* ms_dane_verify decides */
	st = ms_rtls_smtp_starttls(p->s, ctx, opts->sni, &r, why, whylen);
	/* RFC 8460 s4.3.1: a STARTTLS the server refuses (or does not know) is
	 * starttls-not-supported; a handshake that fails after the 220 is not */
	if (st == MS_ERR_STATE || (st == MS_OK && r.code != 220))
		*failure = MS_TLSRPT_STARTTLS_NOT_SUPPORTED;
	if ((st = expect(st, &r, 220, "STARTTLS", why, whylen)) != MS_OK)
		goto fail;
	/* RFC 3207 s4.2: everything learnt before TLS is forgotten. */
	st = ms_rtls_smtp_ehlo(p->s, helo, &r, why, whylen);
	if ((st = expect(st, &r, 250, "EHLO", why, whylen)) != MS_OK)
		goto fail;
	(void)ms_rtls_smtp_quit(p->s, NULL, NULL, 0);
	rtls_smtp_close(p->s);
	SSL_CTX_free(ctx);
	*out = p;
	*failure = MS_TLSRPT_SUCCESS;
	return MS_OK;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	ms_rtls_probe_free(p);
	return st;
}

void ms_rtls_probe_free(struct ms_rtls_probe *p)
{
	if (p == NULL)
		return;
	ms_rtls_smtp_free(p->s);
	struct ms_env e = p->env;
	ms_free(&e, p);
}

size_t ms_rtls_probe_chain(const struct ms_rtls_probe *p, const struct ms_dane_cert **chain)
{
	if (p == NULL) {
		if (chain)
			*chain = NULL;
		return 0;
	}
	return ms_rtls_smtp_chain(p->s, chain);
}

const struct ms_rtls_ehlo *ms_rtls_probe_ehlo(const struct ms_rtls_probe *p)
{
	return p ? ms_rtls_smtp_caps(p->s) : NULL;
}

const char *ms_rtls_probe_tls(const struct ms_rtls_probe *p)
{
	return p ? ms_rtls_smtp_tls(p->s) : "";
}
