/*
 * verify.c - the checks of a peer after the TLS handshake: the chain from
 * any SSL*, DANE with libdane against the host's secure TLSA records (RFC
 * 7672 s3), PKIX with the MX name (verify_pkix.c), as the engine's facts.
 */
#include "route_internal.h"
#include "verify_internal.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

static void verify_dane(const struct ms_env *env, const struct ms_dane_cert *chain, size_t n,
			const struct ms_dane_lookup *l, int64_t now, struct ms_rtls_peer *out)
{
	struct ms_dane_ctx *ctx = NULL;
	struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[200] = "";
	ms_dane_lookup_input(l, &in);
	in.chain = chain;
	in.nchain = n;
	in.now = now;
	out->dane = MS_RTLS_STEP_FAILED;
	ms_status st = ms_dane_ctx_new(env, &ctx);
	if (st == MS_OK)
		st = ms_dane_verify(ctx, &in, &res, why, sizeof(why));
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
	ms_dane_ctx_free(ctx);
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
	if (opts && opts->version != MS_RTLS_VERIFY_OPTS_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID, "verify: unknown options version %u",
			      opts->version);
	struct ms_env e;
	ms_env_init(&e, env);
	int64_t now = opts && opts->now ? opts->now : ms_now(&e);
	out->dane_depth = -1;
	out->dane_matched = -1;
	out->chain_len = n;
	/* DANE only where the TLSA RRset is secure (RFC 7672 s2.2): anything
	 * else has no records to check against. */
	if (dane && ms_dane_lookup_state(dane) == MS_DANE_DNS_SECURE)
		verify_dane(&e, chain, n, dane, now, out);
	rtls_verify_pkix(chain, n, mx_name, opts, now, out);
	return MS_OK;
}

/* The chain the server sent (leaf first), DER; returns how many. */
static size_t chain_of(SSL *ssl, struct ms_dane_cert *certs, size_t max)
{
	size_t n = 0;
	/* On the client side the stack holds the leaf too (SSL_get_peer_cert_chain(3)). */
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
	for (int i = 0; sk && i < sk_X509_num(sk) && n < max; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(sk, i), &der);
		if (len <= 0)
			break;
		certs[n].der = der;
		certs[n].len = (size_t)len;
		n++;
	}
	ERR_clear_error();
	return n;
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
	struct ms_dane_cert certs[MS_RTLS_CHAIN_MAX];
	size_t n = chain_of(ssl, certs, MS_RTLS_CHAIN_MAX);
	struct ms_rtls_verify_opts o = { .version = MS_RTLS_VERIFY_OPTS_VERSION };
	if (opts)
		o = *opts;
	ms_status st;
	if (o.pkix_only_when_planned && !h->plan.verify_pkix && !h->plan.report_pkix) {
		/* PKIX neither required nor reported: DANE alone. */
		struct ms_env e;
		ms_env_init(&e, env);
		memset(out, 0, sizeof(*out));
		out->dane_depth = out->dane_matched = -1;
		out->chain_len = n;
		if (o.version != MS_RTLS_VERIFY_OPTS_VERSION) {
			st = ms_why(why, whylen, MS_ERR_INVALID, "verify: unknown options version %u",
				    o.version);
		} else {
			if (h->dane && ms_dane_lookup_state(h->dane) == MS_DANE_DNS_SECURE)
				verify_dane(&e, certs, n, h->dane, o.now ? o.now : ms_now(&e), out);
			st = MS_OK;
		}
	} else {
		st = verify_chain_full(env, certs, n, h->name, h->dane, opts, out, why, whylen);
	}
	for (size_t i = 0; i < n; i++)
		OPENSSL_free((void *)certs[i].der);
	return st;
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
