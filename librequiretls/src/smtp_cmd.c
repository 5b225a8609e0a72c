/*
 * smtp_cmd.c - the transport's session handle and its commands: the
 * greeting, EHLO with the capability set, MAIL, RCPT, DATA, QUIT, and the
 * rule that the client never pipelines, so bytes after a complete reply
 * end the session.
 */
#include "smtp_internal.h"

#include <openssl/err.h>
#include <poll.h>
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

/* The verb of a command line, for messages. */
static int verb_len(const char *line)
{
	return (int)strcspn(line, " :\r");
}

ms_status rtls_smtp_start_cmd(struct ms_rtls_smtp *s, const char *line, enum rtls_smtp_call call,
			      char *why, size_t whylen)
{
	size_t len = strlen(line);
	if (len > MS_RTLS_MAX_LINE - 2 || strpbrk(line, "\r\n"))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "command line too long or with a line break");
	memcpy(s->line, line, len);
	memcpy(s->line + len, "\r\n", 2);
	s->line[len + 2] = '\0';
	s->linelen = len + 2;
	s->lineoff = 0;
	s->call = call;
	s->phase = 0;
	s->want = POLLOUT;
	memset(&s->reply, 0, sizeof(s->reply));
	rtls_smtp_begin_write(s);
	return MS_OK;
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

ms_status rtls_smtp_start_greeting(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (s->state != RTLS_S_CONNECTED)
		return not_now(why, whylen, "greeting");
	s->call = RTLS_C_GREETING;
	s->phase = 1; /* the reply */
	s->want = POLLIN;
	memset(&s->reply, 0, sizeof(s->reply));
	rtls_smtp_begin_reply(s);
	return MS_OK;
}

ms_status rtls_smtp_start_ehlo(struct ms_rtls_smtp *s, const char *helo, char *why,
			       size_t whylen)
{
	if (s == NULL || helo == NULL || strlen(helo) > 255 || strpbrk(helo, " \r\n"))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad EHLO name");
	if (!live(s))
		return not_now(why, whylen, "EHLO");
	char line[300];
	snprintf(line, sizeof(line), "EHLO %s", helo);
	return rtls_smtp_start_cmd(s, line, RTLS_C_EHLO, why, whylen);
}

/* A command of the mail transaction: only after a successful EHLO, and
 * over TLS only after the post-STARTTLS one (RFC 3207 s4.2). */
static ms_status txn(struct ms_rtls_smtp *s, const char *line, enum rtls_smtp_call call,
		     char *why, size_t whylen)
{
	if (s->state != RTLS_S_READY)
		return not_now(why, whylen, "a mail transaction command");
	return rtls_smtp_start_cmd(s, line, call, why, whylen);
}

ms_status rtls_smtp_start_mail(struct ms_rtls_smtp *s, const char *from, const char *params,
			       char *why, size_t whylen)
{
	if (s == NULL || from == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	char line[MS_RTLS_MAX_LINE];
	int n = snprintf(line, sizeof(line), "MAIL FROM:<%s>%s%s", from,
			 params && params[0] ? " " : "", params ? params : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return ms_why(why, whylen, MS_ERR_INVALID, "MAIL FROM line too long");
	return txn(s, line, RTLS_C_CMD, why, whylen);
}

ms_status rtls_smtp_start_rcpt(struct ms_rtls_smtp *s, const char *to, char *why, size_t whylen)
{
	if (s == NULL || to == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	char line[MS_RTLS_MAX_LINE];
	int n = snprintf(line, sizeof(line), "RCPT TO:<%s>", to);
	if (n < 0 || (size_t)n >= sizeof(line))
		return ms_why(why, whylen, MS_ERR_INVALID, "RCPT TO line too long");
	return txn(s, line, RTLS_C_CMD, why, whylen);
}

ms_status rtls_smtp_start_data(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	return txn(s, "DATA", RTLS_C_DATA, why, whylen);
}

ms_status rtls_smtp_start_quit(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (!live(s))
		return not_now(why, whylen, "QUIT");
	return rtls_smtp_start_cmd(s, "QUIT", RTLS_C_QUIT, why, whylen);
}

/* The call's reply is complete: the checks every reply gets, then what
 * the call itself does with it. */
static ms_status replied(struct ms_rtls_smtp *s, char *why, size_t whylen)
{
	s->reply = s->acc.r;
	size_t extra = leftover(s);
	if (extra && s->call == RTLS_C_GREETING)
		return ms_why(why, whylen, MS_ERR_PROTOCOL, "%zu unsolicited bytes after the greeting",
			      extra);
	/* RFC 3207 s4.2 / s5: nothing may follow the 220 to STARTTLS in
	 * plaintext; a server (or attacker) that pipelines bytes there would
	 * have them taken as the first TLS-protected replies. */
	if (extra && s->call == RTLS_C_STARTTLS)
		return ms_why(why, whylen, MS_ERR_PROTOCOL,
			      "plaintext received after the STARTTLS reply "
			      "(%zu bytes pipelined, possible injection); session abandoned",
			      extra);
	if (extra && s->call != RTLS_C_MESSAGE)
		return ms_why(why, whylen, MS_ERR_PROTOCOL, "%zu unsolicited bytes after the %.*s reply",
			      extra, verb_len(s->line), s->line);
	const struct ms_rtls_smtp_reply *r = &s->reply;
	switch (s->call) {
	case RTLS_C_GREETING:
		s->state = RTLS_S_GREETED;
		break;
	case RTLS_C_EHLO:
		if (r->code != 250) {
			ms_rtls_ehlo_discard(s->caps);
			/* the session stays usable: not broken */
			return ms_why(why, whylen, MS_ERR_STATE, "EHLO refused: %d %s", r->code,
				      r->text);
		}
		ms_status st = ms_rtls_ehlo_parse(s->caps, s->acc.raw, s->acc.rawlen, s->ssl != NULL,
						  why, whylen);
		if (st != MS_OK)
			return st;
		s->state = RTLS_S_READY;
		break;
	case RTLS_C_DATA:
		if (r->code == 354)
			s->state = RTLS_S_DATA;
		break;
	case RTLS_C_QUIT:
		s->state = RTLS_S_CLOSED;
		break;
	default:
		break;
	}
	return MS_OK;
}

/* An error that leaves the session usable (a refused EHLO or STARTTLS). */
static int keeps_session(const struct ms_rtls_smtp *s, ms_status st)
{
	return st == MS_ERR_STATE && (s->call == RTLS_C_EHLO || s->call == RTLS_C_STARTTLS);
}

static int done(struct ms_rtls_smtp *s, ms_status st, ms_status *out)
{
	if (st != MS_OK && !keeps_session(s, st))
		rtls_smtp_broken(s, st);
	if (st != MS_OK && s->call == RTLS_C_QUIT && s->state != RTLS_S_BROKEN)
		s->state = RTLS_S_CLOSED;
	s->call = RTLS_C_NONE;
	*out = st;
	return 1;
}

/*
 * Phases: 0 the command line is written (the progress rule), 1 the reply
 * is read (one deadline for all of it), 2 the TLS handshake (STARTTLS),
 * for the message 0..2 are smtp_data.c's and 3 the reply.
 */
int rtls_smtp_step(struct ms_rtls_smtp *s, ms_status *out, char *why, size_t whylen)
{
	ms_status st = MS_OK;
	switch (s->call) {
	case RTLS_C_NONE:
		return done(s, ms_why(why, whylen, MS_ERR_STATE, "no call in progress"), out);
	case RTLS_C_CONNECT:
		if (!rtls_smtp_connect_io(s, &st, why, whylen))
			return 0;
		return done(s, st, out);
	case RTLS_C_MESSAGE:
		if (s->phase < 3) {
			if (!rtls_smtp_message_io(s, &st, why, whylen))
				return 0;
			if (st != MS_OK)
				return done(s, st, out);
			s->phase = 3;
			rtls_smtp_begin_reply(s);
		}
		break;
	default:
		if (s->phase == 0) {
			if (!rtls_smtp_write_io(s, s->line, s->linelen, &s->lineoff, &st, why, whylen))
				return 0;
			if (st != MS_OK)
				return done(s, st, out);
			s->phase = 1;
			rtls_smtp_begin_reply(s);
		}
		if (s->phase == 2) {
			if (!rtls_smtp_handshake_io(s, &st, why, whylen))
				return 0;
			if (st == MS_OK)
				st = rtls_smtp_tls_done(s, why, whylen);
			return done(s, st, out);
		}
		break;
	}
	/* the reply */
	if (!rtls_smtp_reply_io(s, &st, why, whylen))
		return 0;
	if (st != MS_OK) {
		/* no reply: nothing of a partial one may pass for an answer */
		memset(&s->reply, 0, sizeof(s->reply));
		return done(s, st, out);
	}
	st = replied(s, why, whylen);
	if (st != MS_OK || s->call != RTLS_C_STARTTLS)
		return done(s, st, out);
	if (s->reply.code != 220)
		return done(s, ms_why(why, whylen, MS_ERR_STATE, "STARTTLS refused: %d %s",
				      s->reply.code, s->reply.text), out);
	if ((st = rtls_smtp_tls_begin(s, why, whylen)) != MS_OK)
		return done(s, st, out);
	s->phase = 2;
	return rtls_smtp_step(s, out, why, whylen);
}

const struct ms_rtls_smtp_reply *rtls_smtp_reply(const struct ms_rtls_smtp *s)
{
	return &s->reply;
}

int rtls_smtp_fd(const struct ms_rtls_smtp *s)
{
	return s->want ? s->fd : -1;
}

short rtls_smtp_events(const struct ms_rtls_smtp *s)
{
	return s->want;
}

/* The synchronous calls: step, and poll in between. */
ms_status rtls_smtp_finish(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			   size_t whylen)
{
	ms_status st;
	while (!rtls_smtp_step(s, &st, why, whylen))
		rtls_smtp_poll(s);
	if (r)
		*r = s->reply;
	return st;
}

static ms_status sync_call(struct ms_rtls_smtp *s, ms_status st, struct ms_rtls_smtp_reply *r,
			   char *why, size_t whylen)
{
	return st != MS_OK ? st : rtls_smtp_finish(s, r, why, whylen);
}

ms_status ms_rtls_smtp_connect(struct ms_rtls_smtp *s, const char *addr, uint16_t port, char *why,
			       size_t whylen)
{
	return sync_call(s, rtls_smtp_start_connect(s, addr, port, why, whylen), NULL, why, whylen);
}

ms_status ms_rtls_smtp_greeting(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
				size_t whylen)
{
	return sync_call(s, rtls_smtp_start_greeting(s, why, whylen), r, why, whylen);
}

ms_status ms_rtls_smtp_ehlo(struct ms_rtls_smtp *s, const char *helo, struct ms_rtls_smtp_reply *r,
			    char *why, size_t whylen)
{
	return sync_call(s, rtls_smtp_start_ehlo(s, helo, why, whylen), r, why, whylen);
}

ms_status ms_rtls_smtp_command(struct ms_rtls_smtp *s, const char *line,
			       struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	if (s == NULL || line == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (!live(s))
		return not_now(why, whylen, "a command");
	return sync_call(s, rtls_smtp_start_cmd(s, line, RTLS_C_CMD, why, whylen), r, why, whylen);
}

ms_status ms_rtls_smtp_mail(struct ms_rtls_smtp *s, const char *from, const char *params,
			    struct ms_rtls_smtp_reply *r, char *why, size_t whylen)
{
	return sync_call(s, rtls_smtp_start_mail(s, from, params, why, whylen), r, why, whylen);
}

ms_status ms_rtls_smtp_rcpt(struct ms_rtls_smtp *s, const char *to, struct ms_rtls_smtp_reply *r,
			    char *why, size_t whylen)
{
	return sync_call(s, rtls_smtp_start_rcpt(s, to, why, whylen), r, why, whylen);
}

ms_status ms_rtls_smtp_data(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			    size_t whylen)
{
	return sync_call(s, rtls_smtp_start_data(s, why, whylen), r, why, whylen);
}

ms_status ms_rtls_smtp_quit(struct ms_rtls_smtp *s, struct ms_rtls_smtp_reply *r, char *why,
			    size_t whylen)
{
	return sync_call(s, rtls_smtp_start_quit(s, why, whylen), r, why, whylen);
}

const struct ms_rtls_ehlo *ms_rtls_smtp_caps(const struct ms_rtls_smtp *s)
{
	return s ? s->caps : NULL;
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
