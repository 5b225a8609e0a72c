/*
 * smtp_cmd.c - the transport's session handle and its commands: the
 * greeting, EHLO with the capability set, MAIL, RCPT, DATA, QUIT, and the
 * rule that the client never pipelines, so bytes after a complete reply
 * end the session.
 */
#include "smtp_internal.h"

#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ms_status ms_rtls_smtp_new(const struct ms_env *env, const struct ms_rtls_smtp_opts *opts,
			   struct ms_rtls_smtp **out)
{
	if (out == NULL || (opts && opts->version < 1))
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_smtp *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return MS_ERR_NOMEM;
	s->env = e;
	s->fd = -1;
	s->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : MS_RTLS_SMTP_DEFAULT_TIMEOUT_MS;
	if (opts) {
		s->tls_setup = opts->tls_setup;
		s->tls_user = opts->tls_user;
	}
	s->acc.raw = ms_malloc(&s->env, MS_RTLS_MAX_REPLY_BYTES + 1);
	if (s->acc.raw == NULL || ms_rtls_ehlo_new(&s->env, &s->caps) != MS_OK) {
		ms_rtls_smtp_free(s);
		return MS_ERR_NOMEM;
	}
	*out = s;
	return MS_OK;
}

void ms_rtls_smtp_free(struct ms_rtls_smtp *s)
{
	if (s == NULL)
		return;
	rtls_smtp_close(s);
	for (size_t i = 0; i < s->nchain; i++)
		OPENSSL_free(s->der[i]);
	ms_rtls_ehlo_free(s->caps);
	struct ms_env e = s->env;
	ms_free(&e, s->acc.raw);
	ms_free(&e, s);
	ERR_clear_error();
}

void rtls_smtp_close(struct ms_rtls_smtp *s)
{
	if (s->ssl) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = RTLS_S_CLOSED;
	ERR_clear_error();
}

ms_status rtls_smtp_broken(struct ms_rtls_smtp *s, ms_status st)
{
	s->state = RTLS_S_BROKEN;
	return st;
}

/* Bytes received beyond the reply just read (in our buffer or in a TLS
 * record OpenSSL already decrypted). */
static size_t leftover(const struct ms_rtls_smtp *s)
{
	size_t n = s->inlen - s->inoff;
	if (s->ssl)
		n += (size_t)SSL_pending(s->ssl);
	return n;
}

/* Read one complete reply under one deadline for all of it. */
ms_status rtls_smtp_read_reply(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			       size_t whylen)
{
	rtls_smtp_set_deadline(s);
	rtls_reply_reset(&s->acc);
	ms_status st = MS_OK;
	for (;;) {
		if (s->inoff == s->inlen && (st = rtls_smtp_fill(s, why, whylen)) != MS_OK)
			break;
		enum rtls_reply_step step = rtls_reply_feed(&s->acc, s->in[s->inoff++], &st, why,
							    whylen);
		if (step == RTLS_REPLY_DONE)
			break;
		if (step == RTLS_REPLY_ERROR)
			break;
	}
	if (st != MS_OK) {
		/* no reply: nothing of a partial one may pass for an answer */
		if (r)
			memset(r, 0, sizeof(*r));
		return rtls_smtp_broken(s, st);
	}
	if (r)
		*r = s->acc.r;
	return MS_OK;
}

/* The verb of a command line, for messages. */
static int verb_len(const char *line)
{
	return (int)strcspn(line, " :");
}

ms_status rtls_smtp_cmd(struct ms_rtls_smtp *s, const char *line, struct ms_rtls_smtp_reply *r,
			char *why, size_t whylen)
{
	size_t len = strlen(line);
	if (len > MS_RTLS_MAX_LINE - 2 || strpbrk(line, "\r\n"))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "command line too long or with a line break");
	char buf[MS_RTLS_MAX_LINE + 1];
	memcpy(buf, line, len);
	memcpy(buf + len, "\r\n", 2);
	rtls_smtp_begin_write(s);
	ms_status st = rtls_smtp_write(s, buf, len + 2, why, whylen);
	if (st != MS_OK)
		return rtls_smtp_broken(s, st);
	if ((st = rtls_smtp_read_reply(s, r, why, whylen)) != MS_OK)
		return st;
	size_t extra = leftover(s);
	if (extra == 0)
		return MS_OK;
	/* RFC 3207 s4.2 / s5: nothing may follow the 220 to STARTTLS in
	 * plaintext; a server (or attacker) that pipelines bytes there would
	 * have them taken as the first TLS-protected replies. */
	if (strncmp(line, "STARTTLS", 8) == 0)
		return rtls_smtp_broken(s, ms_why(why, whylen, MS_ERR_PROTOCOL,
						  "plaintext received after the STARTTLS reply "
						  "(%zu bytes pipelined, possible injection); "
						  "session abandoned", extra));
	return rtls_smtp_broken(s, ms_why(why, whylen, MS_ERR_PROTOCOL,
					  "%zu unsolicited bytes after the %.*s reply", extra,
					  verb_len(line), line));
}

static int live(const struct ms_rtls_smtp *s)
{
	return s->state == RTLS_S_GREETED || s->state == RTLS_S_READY ||
	       s->state == RTLS_S_TLS_NOEHLO;
}

static ms_status not_now(char *why, size_t whylen, const char *what)
{
	return ms_why(why, whylen, MS_ERR_STATE, "%s not allowed in this session state", what);
}

ms_status ms_rtls_smtp_greeting(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
				size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_CONNECTED)
		return not_now(why, whylen, "greeting");
	ms_status st = rtls_smtp_read_reply(s, r, why, whylen);
	if (st != MS_OK)
		return st;
	size_t extra = leftover(s);
	if (extra)
		return rtls_smtp_broken(s, ms_why(why, whylen, MS_ERR_PROTOCOL,
						  "%zu unsolicited bytes after the greeting",
						  extra));
	s->state = RTLS_S_GREETED;
	return MS_OK;
}

ms_status ms_rtls_smtp_ehlo(struct ms_rtls_smtp *s, const char *helo, struct ms_rtls_smtp_reply *r,
			    char *why, size_t whylen)
{
	if (s == NULL || helo == NULL || strlen(helo) > 255 || strpbrk(helo, " \r\n"))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad EHLO name");
	if (!live(s))
		return not_now(why, whylen, "EHLO");
	char line[300];
	snprintf(line, sizeof(line), "EHLO %s", helo);
	struct ms_rtls_smtp_reply tmp;
	if (r == NULL)
		r = &tmp;
	ms_status st = rtls_smtp_cmd(s, line, r, why, whylen);
	if (st != MS_OK)
		return st;
	if (r->code != 250) {
		ms_rtls_ehlo_discard(s->caps);
		return ms_why(why, whylen, MS_ERR_STATE, "EHLO refused: %d %s", r->code, r->text);
	}
	st = ms_rtls_ehlo_parse(s->caps, s->acc.raw, s->acc.rawlen, s->ssl != NULL, why, whylen);
	if (st != MS_OK)
		return rtls_smtp_broken(s, st);
	s->state = RTLS_S_READY;
	return MS_OK;
}

const struct ms_rtls_ehlo *ms_rtls_smtp_caps(const struct ms_rtls_smtp *s)
{
	return s ? s->caps : NULL;
}

ms_status ms_rtls_smtp_command(struct ms_rtls_smtp *s, const char *line,
			       struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	if (s == NULL || line == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (!live(s))
		return not_now(why, whylen, "a command");
	return rtls_smtp_cmd(s, line, r, why, whylen);
}

/* A command of the mail transaction: only after a successful EHLO, and
 * over TLS only after the post-STARTTLS one (RFC 3207 s4.2). */
static ms_status txn(struct ms_rtls_smtp *s, const char *line, struct ms_rtls_smtp_reply *r,
		     char *why, size_t whylen)
{
	if (s->state != RTLS_S_READY)
		return not_now(why, whylen, "a mail transaction command");
	return rtls_smtp_cmd(s, line, r, why, whylen);
}

ms_status ms_rtls_smtp_mail(struct ms_rtls_smtp *s, const char *from, const char *params,
			    struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	if (s == NULL || from == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	char line[MS_RTLS_MAX_LINE];
	int n = snprintf(line, sizeof(line), "MAIL FROM:<%s>%s%s", from,
			 params && params[0] ? " " : "", params ? params : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return ms_why(why, whylen, MS_ERR_INVALID, "MAIL FROM line too long");
	return txn(s, line, r, why, whylen);
}

ms_status ms_rtls_smtp_rcpt(struct ms_rtls_smtp *s, const char *to, struct ms_rtls_smtp_reply *r,
			    char *why, size_t whylen)
{
	if (s == NULL || to == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	char line[MS_RTLS_MAX_LINE];
	int n = snprintf(line, sizeof(line), "RCPT TO:<%s>", to);
	if (n < 0 || (size_t)n >= sizeof(line))
		return ms_why(why, whylen, MS_ERR_INVALID, "RCPT TO line too long");
	return txn(s, line, r, why, whylen);
}

ms_status ms_rtls_smtp_data(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			    size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	struct ms_rtls_smtp_reply tmp;
	if (r == NULL)
		r = &tmp;
	ms_status st = txn(s, "DATA", r, why, whylen);
	if (st == MS_OK && r->code == 354)
		s->state = RTLS_S_DATA;
	return st;
}

ms_status ms_rtls_smtp_quit(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			    size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (!live(s))
		return not_now(why, whylen, "QUIT");
	ms_status st = rtls_smtp_cmd(s, "QUIT", r, why, whylen);
	if (s->state != RTLS_S_BROKEN)
		s->state = RTLS_S_CLOSED;
	return st;
}

SSL *ms_rtls_smtp_ssl(const struct ms_rtls_smtp *s)
{
	return s ? s->ssl : NULL;
}

size_t ms_rtls_smtp_chain(const struct ms_rtls_smtp *s, const struct ms_dane_cert **chain)
{
	if (chain)
		*chain = s ? s->chain : NULL;
	return s ? s->nchain : 0;
}

const char *ms_rtls_smtp_tls(const struct ms_rtls_smtp *s)
{
	return s ? s->tls : "";
}
