/*
 * smtp_tls.c - STARTTLS on a transport session (RFC 3207): the command,
 * the refusal of plaintext pipelined after its 220 (smtp_cmd.c), the
 * handshake under one deadline (stepped by smtp_cmd.c, smtp_io.c), the peer chain kept for DANE and PKIX,
 * and the pre-TLS capabilities discarded (RFC 3207 s4.2).
 */
#include "smtp_internal.h"

#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* Keep the peer's chain as DER for the verifiers. */
static ms_status keep_chain(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(s->ssl);
	size_t max = sizeof(s->chain) / sizeof(s->chain[0]);
	for (int i = 0; sk && i < sk_X509_num(sk) && s->nchain < max; i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(sk_X509_value(sk, i), &der);
		if (n <= 0)
			return ms_why(why, whylen, MS_ERR_NOMEM, "cannot encode the peer chain");
		s->der[s->nchain] = der;
		s->chain[s->nchain].der = der;
		s->chain[s->nchain].len = (size_t)n;
		s->nchain++;
	}
	return MS_OK;
}

ms_status rtls_smtp_start_starttls(struct ms_rtls_smtp *s, SSL_CTX *ctx, const char *sni,
				   char *why, size_t whylen)
{
	if (s == NULL || ctx == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_READY || s->ssl != NULL)
		return ms_why(why, whylen, MS_ERR_STATE, "STARTTLS not allowed in this session state");
	ms_status st = rtls_smtp_start_cmd(s, "STARTTLS", RTLS_C_STARTTLS, why, whylen);
	if (st == MS_OK) {
		s->ctx = ctx;
		s->sni = sni;
	}
	return st;
}

/* After the 220: the SSL object, SNI (RFC 6066 s3), the caller's set-up,
 * and the handshake's one deadline. */
ms_status rtls_smtp_tls_begin(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	/* RFC 3207 s4.2: whatever the server said before TLS may be forged. */
	ms_rtls_ehlo_discard(s->caps);
	s->state = RTLS_S_TLS_NOEHLO;
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 ||
	    (s->sni && SSL_set_tlsext_host_name(s->ssl, s->sni) != 1)) {
		ERR_clear_error();
		SSL_free(s->ssl);
		s->ssl = NULL;
		return ms_why(why, whylen, MS_ERR_INTERNAL, "TLS set-up failed");
	}
	if (s->tls_setup && s->tls_setup(s->tls_user, s->ssl) != 0) {
		ERR_clear_error();
		SSL_free(s->ssl);
		s->ssl = NULL;
		return ms_why(why, whylen, MS_ERR_TLS, "TLS set-up refused by the caller");
	}
	s->ctx = NULL;
	s->sni = NULL;
	rtls_smtp_set_deadline(s);
	return MS_OK;
}

ms_status rtls_smtp_tls_done(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	snprintf(s->tls, sizeof(s->tls), "%s %s", SSL_get_version(s->ssl),
		 SSL_get_cipher_name(s->ssl));
	return keep_chain(s, why, whylen);
}

ms_status ms_rtls_smtp_starttls(struct ms_rtls_smtp *s, SSL_CTX *ctx, const char *sni,
				struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	ms_status st = rtls_smtp_start_starttls(s, ctx, sni, why, whylen);
	if (st != MS_OK)
		return st;
	return rtls_smtp_finish(s, r, why, whylen);
}
