/*
 * smtp_tls.c - STARTTLS on a transport session (RFC 3207): the command,
 * the refusal of plaintext pipelined after its 220 (smtp_cmd.c), the
 * handshake under one deadline, the peer chain kept for DANE and PKIX,
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

ms_status ms_rtls_smtp_starttls(struct ms_rtls_smtp *s, SSL_CTX *ctx, const char *sni,
				struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	if (s == NULL || ctx == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_READY || s->ssl != NULL)
		return ms_why(why, whylen, MS_ERR_STATE, "STARTTLS not allowed in this session state");
	struct ms_rtls_smtp_reply tmp;
	if (r == NULL)
		r = &tmp;
	ms_status st = rtls_smtp_cmd(s, "STARTTLS", r, why, whylen);
	if (st != MS_OK)
		return st;
	if (r->code != 220)
		return ms_why(why, whylen, MS_ERR_STATE, "STARTTLS refused: %d %s", r->code, r->text);
	/* RFC 3207 s4.2: whatever the server said before TLS may be forged. */
	ms_rtls_ehlo_discard(s->caps);
	s->state = RTLS_S_TLS_NOEHLO;
	s->ssl = SSL_new(ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 ||
	    (sni && SSL_set_tlsext_host_name(s->ssl, sni) != 1)) {
		ERR_clear_error();
		SSL_free(s->ssl);
		s->ssl = NULL;
		return rtls_smtp_broken(s, ms_why(why, whylen, MS_ERR_INTERNAL, "TLS set-up failed"));
	}
	if (s->tls_setup && s->tls_setup(s->tls_user, s->ssl) != 0) {
		ERR_clear_error();
		SSL_free(s->ssl);
		s->ssl = NULL;
		return rtls_smtp_broken(s, ms_why(why, whylen, MS_ERR_TLS,
						  "TLS set-up refused by the caller"));
	}
	/* one deadline for the whole handshake */
	rtls_smtp_set_deadline(s);
	int rc;
	short want = 0;
	while ((rc = SSL_connect(s->ssl)) != 1) {
		want = rtls_smtp_ssl_want(SSL_get_error(s->ssl, rc));
		if (want == 0 || !rtls_smtp_wait(s, want))
			break;
	}
	if (rc != 1) {
		unsigned long err = ERR_peek_last_error();
		char buf[200] = "";
		if (err)
			ERR_error_string_n(err, buf, sizeof(buf));
		int timed_out = !err && want && rtls_smtp_left_ms(s) == 0;
		ERR_clear_error();
		SSL_free(s->ssl);
		s->ssl = NULL;
		return rtls_smtp_broken(s, ms_why(why, whylen, timed_out ? MS_ERR_TIMEOUT : MS_ERR_TLS,
						  "TLS handshake failed: %s",
						  timed_out ? "timed out" :
						  buf[0] ? buf : "connection closed"));
	}
	snprintf(s->tls, sizeof(s->tls), "%s %s", SSL_get_version(s->ssl),
		 SSL_get_cipher_name(s->ssl));
	if ((st = keep_chain(s, why, whylen)) != MS_OK)
		return rtls_smtp_broken(s, st);
	return MS_OK;
}
