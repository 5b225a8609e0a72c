/*
 * verify.c - the checks of a peer after the TLS handshake: the chain from
 * any SSL*, DANE with libdane against the host's secure TLSA records (RFC
 * 7672 s3), PKIX with the MX name (verify_pkix.c), as the engine's facts.
 * A handshake's certificates are used as libssl decoded them (issue 20:
 * decoding is most of the cost); a held DER chain is decoded here.
 */
#include "route_internal.h"
#include "verify_internal.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The chain a check runs on: DER the caller holds (ms_rtls_verify_chain),
 * or the X509 objects of a finished handshake (ms_rtls_verify_peer, leaf
 * first, the first n of the SSL's stack). */
struct chain {
	const struct ms_dane_cert *der;
	SSL *ssl;
	STACK_OF(X509) *sk;
	size_t n;
};

/* The DER of the SSL's first n certificates, for the rare chains
 * ms_dane_verify_ssl does not take as they are (none; more than
 * MS_DANE_MAX_CHAIN): what this file always did, so that the verdicts
 * stay the same.  Returns how many were encoded. */
static size_t encode_chain(const struct chain *c, struct ms_dane_cert *certs)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(c->sk, (int)i), &der);
		if (len <= 0)
			break;
		certs[n].der = der;
		certs[n].len = (size_t)len;
		n++;
	}
	ERR_clear_error();
	return n;
}

static ms_status dane_run(const struct ms_dane_ctx *ctx, const struct chain *c,
			  struct ms_dane_input *in, struct ms_dane_result *res, char *why,
			  size_t whylen)
{
	if (c->ssl && c->n > 0 && sk_X509_num(c->sk) <= MS_DANE_MAX_CHAIN)
		return ms_dane_verify_ssl(ctx, c->ssl, in, res, why, whylen);
	if (c->ssl == NULL) {
		in->chain = c->der;
		in->nchain = c->n;
		return ms_dane_verify(ctx, in, res, why, whylen);
	}
	struct ms_dane_cert certs[MS_RTLS_CHAIN_MAX];
	size_t n = encode_chain(c, certs);
	in->chain = certs;
	in->nchain = n;
	ms_status st = ms_dane_verify(ctx, in, res, why, whylen);
	for (size_t i = 0; i < n; i++)
		OPENSSL_free((void *)certs[i].der);
	return st;
}

/* DANE with the caller's context (borrowed: its certificate cache serves
 * every connection) or a fresh one for this call. */
static void verify_dane(const struct ms_env *env, const struct ms_dane_ctx *kept,
			const struct chain *c, const struct ms_dane_lookup *l, int64_t now,
			struct ms_rtls_peer *out)
{
	struct ms_dane_ctx *fresh = NULL;
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[200] = "";
	ms_dane_lookup_input(l, &in);
	in.now = now;
	out->dane = MS_RTLS_STEP_FAILED;
	ms_status st = MS_OK;
	if (kept == NULL && (st = ms_dane_ctx_new(env, &fresh)) == MS_OK)
		kept = fresh;
	if (st == MS_OK)
		st = dane_run(kept, c, &in, &res, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "out of memory");
	out->dane_status = st;
	if (st != MS_OK) {
		snprintf(out->dane_reason, sizeof(out->dane_reason), "%s", why);
		snprintf(out->dane_detail, sizeof(out->dane_detail), "verification impossible: %s",
			 why);
	} else {
		snprintf(out->dane_reason, sizeof(out->dane_reason), "%s", res.reason);
		out->dane = res.verdict == MS_DANE_VERIFIED ? MS_RTLS_STEP_OK : MS_RTLS_STEP_FAILED;
		out->dane_verdict = res.verdict;
		out->dane_tlsrpt = res.tlsrpt;
		out->dane_depth = res.depth;
		out->dane_matched = res.matched;
		snprintf(out->dane_detail, sizeof(out->dane_detail), "%s at depth %d: %s",
			 ms_dane_verdict_str(res.verdict), res.depth, res.reason);
	}
	ms_dane_ctx_free(fresh);
}

/* The caller's options as a full struct of this version: a version-1
 * struct ends before dane_ctx (never read past it).  0: unknown version. */
static int opts_of(const struct ms_rtls_verify_opts *opts, struct ms_rtls_verify_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (opts == NULL) {
		o->version = MS_RTLS_VERIFY_OPTS_VERSION;
		return 1;
	}
	if (opts->version == 1)
		memcpy(o, opts, offsetof(struct ms_rtls_verify_opts, dane_ctx));
	else if (opts->version == MS_RTLS_VERIFY_OPTS_VERSION)
		*o = *opts;
	else
		return 0;
	return 1;
}

/* `o` is opts_of's; `pkix`: run the PKIX check. */
static void verify_full(const struct ms_env *env, const struct chain *c, const char *mx_name,
			const struct ms_dane_lookup *dane, const struct ms_rtls_verify_opts *o,
			int pkix, struct ms_rtls_peer *out)
{
	struct ms_env e;
	ms_env_init(&e, env);
	int64_t now = o->now ? o->now : ms_now(&e);
	out->dane_depth = -1;
	out->dane_matched = -1;
	out->chain_len = c->n;
	/* DANE only where the TLSA RRset is secure (RFC 7672 s2.2): anything
	 * else has no records to check against. */
	if (dane && ms_dane_lookup_state(dane) == MS_DANE_DNS_SECURE)
		verify_dane(&e, o->dane_ctx, c, dane, now, out);
	if (!pkix)
		return;
	if (c->ssl)
		rtls_verify_pkix_x509(c->sk, c->n, mx_name, o, now, out);
	else
		rtls_verify_pkix(c->der, c->n, mx_name, o, now, out);
}

static ms_status verify_chain_full(const struct ms_env *env, const struct ms_dane_cert *chain,
				   size_t n, const char *mx_name,
				   const struct ms_dane_lookup *dane,
				   const struct ms_rtls_verify_opts *opts,
				   struct ms_rtls_peer *out, char *why, size_t whylen)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (mx_name == NULL || out == NULL || (chain == NULL && n > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "verify: NULL argument");
	struct ms_rtls_verify_opts o;
	if (!opts_of(opts, &o))
		return ms_why(why, whylen, MS_ERR_INVALID, "verify: unknown options version %u",
			      opts->version);
	struct chain c = { .der = chain, .n = n };
	verify_full(env, &c, mx_name, dane, &o, 1, out);
	return MS_OK;
}

static ms_status verify_peer_full(const struct ms_env *env, SSL *ssl,
				  const struct ms_rtls_route_host *h,
				  const struct ms_rtls_verify_opts *opts,
				  struct ms_rtls_peer *out, char *why, size_t whylen)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (ssl == NULL || h == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "verify: NULL argument");
	if (!SSL_is_init_finished(ssl))
		return ms_why(why, whylen, MS_ERR_STATE, "verify: the TLS handshake has not finished");
	struct ms_rtls_verify_opts o;
	if (!opts_of(opts, &o))
		return ms_why(why, whylen, MS_ERR_INVALID, "verify: unknown options version %u",
			      opts->version);
	/* The handshake's own certificates: on the client side the stack
	 * holds the leaf too (SSL_get_peer_cert_chain(3)); nothing is
	 * decoded again (issue 20). */
	struct chain c = { .ssl = ssl, .sk = SSL_get_peer_cert_chain(ssl) };
	int total = c.sk ? sk_X509_num(c.sk) : 0;
	c.n = total > 0 ? (size_t)total : 0;
	if (c.n > MS_RTLS_CHAIN_MAX)
		c.n = MS_RTLS_CHAIN_MAX;
	/* pkix_only_when_planned: PKIX neither required nor reported, DANE alone */
	int pkix = !o.pkix_only_when_planned || h->plan.verify_pkix || h->plan.report_pkix;
	verify_full(env, &c, h->name, h->dane, &o, pkix, out);
	return MS_OK;
}

/* struct ms_rtls_peer belongs to the caller, who sets its version: the
 * checks fill a full struct of the library's, and the caller gets only
 * the members its version has (requiretls_verify.h). */
static size_t peer_size(unsigned version)
{
	return version >= 1 ? sizeof(struct ms_rtls_peer) : 0;
}

static void peer_out(const struct ms_rtls_peer *full, struct ms_rtls_peer *out)
{
	unsigned v = out->version;
	memcpy(out, full, peer_size(v));
	out->version = v;
}

ms_status ms_rtls_verify_chain(const struct ms_env *env, const struct ms_dane_cert *chain,
			       size_t n, const char *mx_name, const struct ms_dane_lookup *dane,
			       const struct ms_rtls_verify_opts *opts, struct ms_rtls_peer *out,
			       char *why, size_t whylen)
{
	if (out == NULL || peer_size(out->version) == 0)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "verify: result version not set (MS_RTLS_PEER_VERSION)");
	struct ms_rtls_peer full;
	ms_status st = verify_chain_full(env, chain, n, mx_name, dane, opts, &full, why, whylen);
	peer_out(&full, out);
	return st;
}

ms_status ms_rtls_verify_peer(const struct ms_env *env, SSL *ssl,
			      const struct ms_rtls_route_host *h,
			      const struct ms_rtls_verify_opts *opts, struct ms_rtls_peer *out,
			      char *why, size_t whylen)
{
	if (out == NULL || peer_size(out->version) == 0)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "verify: result version not set (MS_RTLS_PEER_VERSION)");
	struct ms_rtls_peer full;
	ms_status st = verify_peer_full(env, ssl, h, opts, &full, why, whylen);
	peer_out(&full, out);
	return st;
}

void ms_rtls_peer_observe(const struct ms_rtls_peer *p, struct ms_rtls_observed *o)
{
	if (p == NULL || o == NULL)
		return;
	o->dane = p->dane;
	o->pkix = p->pkix;
}
