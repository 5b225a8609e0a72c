/*
 * session.c - one receiving SMTP session's REQUIRETLS state (RFC 8689 s2,
 * s4.1, s4.3; RFC 3207 s4, s4.2; RFC 8314 s3.3).  The single-call rules
 * (advertise, check_mail, syntax reply, Received) live in server.c and
 * received.c; this file only keeps the state they need across commands.
 */
#include "mailsec/requiretls_server.h"
#include "rtls_internal.h"

#include <string.h>

#define TOKEN_MAX 255

struct ms_rtls_server {
	struct ms_env env;
	enum ms_rtls_listener kind;
	int tls_available;
	int requiretls_enabled;
	int submission_plaintext;
	char by[TOKEN_MAX + 1];
	char client_ip[TOKEN_MAX + 1];
	char helo[TOKEN_MAX + 1]; /* "" until EHLO/HELO */
	int esmtp;
	int tls;
	char tls_version[64];
	char tls_cipher[128];
	struct ms_rtls_mail *mail; /* parsed MAIL; open transaction when `open` */
	int open;
};

/* A token that can go into a Received field as is: printable ASCII, no
 * white space, no comment or separator characters (received.c refuses the
 * same, this checks early so a bad value is an error at its source). */
static int token_ok(const char *t, size_t max)
{
	if (t == NULL || *t == '\0' || strlen(t) > max)
		return 0;
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if (c < 33 || c > 126 || c == '(' || c == ')' || c == '\\' ||
		    c == ';')
			return 0;
	}
	return 1;
}

static void copy_token(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

ms_status ms_rtls_server_new(const struct ms_env *env,
			     const struct ms_rtls_server_config *cfg,
			     const char *client_ip, struct ms_rtls_server **out,
			     char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	*out = NULL;
	if (cfg == NULL || client_ip == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	if (cfg->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "config version not set");
	if (cfg->kind != MS_RTLS_LISTEN_SMTP && cfg->kind != MS_RTLS_LISTEN_SUBMISSION &&
	    cfg->kind != MS_RTLS_LISTEN_SUBMISSIONS)
		return ms_why(why, whylen, MS_ERR_INVALID, "unknown listener kind");
	if (!token_ok(cfg->hostname, TOKEN_MAX))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "hostname is required and must be a header-safe token");
	if (!token_ok(client_ip, TOKEN_MAX))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "client_ip must be a header-safe token");
	/* RFC 8314 s3.3: port 465 is TLS from the first byte; without a
	 * certificate the listener cannot work at all. */
	if (cfg->kind == MS_RTLS_LISTEN_SUBMISSIONS && !cfg->tls_available)
		return ms_why(why, whylen, MS_ERR_CONFIG,
			      "a submissions (implicit TLS) listener needs a certificate");
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_server *s = ms_calloc(&e, 1, sizeof(*s));
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	s->env = e;
	if (ms_rtls_mail_new(&s->env, &s->mail) != MS_OK) {
		ms_free(&e, s);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	s->kind = cfg->kind;
	s->tls_available = cfg->tls_available != 0;
	/* On by default: only an explicit switch turns it off. */
	s->requiretls_enabled = !cfg->disable_requiretls;
	s->submission_plaintext = cfg->kind == MS_RTLS_LISTEN_SUBMISSION &&
				  cfg->submission_plaintext;
	copy_token(s->by, sizeof(s->by), cfg->hostname);
	copy_token(s->client_ip, sizeof(s->client_ip), client_ip);
	*out = s;
	return MS_OK;
}

void ms_rtls_server_free(struct ms_rtls_server *s)
{
	if (s == NULL)
		return;
	ms_rtls_mail_free(s->mail);
	struct ms_env e = s->env;
	ms_free(&e, s);
}

void ms_rtls_server_reset(struct ms_rtls_server *s)
{
	if (s == NULL)
		return;
	s->open = 0;
	/* Parsing an empty parameter list clears the path and parameters. */
	(void)ms_rtls_mail_parse_params(s->mail, NULL, 0, NULL, 0);
}

ms_status ms_rtls_server_hello(struct ms_rtls_server *s, const char *name,
			       int esmtp)
{
	if (s == NULL)
		return MS_ERR_INVALID;
	ms_rtls_server_reset(s); /* RFC 5321 s4.1.4: EHLO resets the state */
	s->helo[0] = '\0';
	s->esmtp = 0;
	if (!token_ok(name, TOKEN_MAX))
		return MS_ERR_PARSE;
	copy_token(s->helo, sizeof(s->helo), name);
	s->esmtp = esmtp != 0;
	return MS_OK;
}

static int starttls_offered(const struct ms_rtls_server *s)
{
	return s->tls_available && !s->tls && s->kind != MS_RTLS_LISTEN_SUBMISSIONS;
}

unsigned ms_rtls_server_caps(const struct ms_rtls_server *s)
{
	if (s == NULL)
		return 0;
	unsigned c = 0;
	if (starttls_offered(s))
		c |= MS_RTLS_CAP_STARTTLS;
	if (ms_rtls_server_advertise(s->requiretls_enabled, s->tls))
		c |= MS_RTLS_CAP_REQUIRETLS;
	return c;
}

size_t ms_rtls_server_keywords(const struct ms_rtls_server *s, const char **out,
			       size_t max)
{
	unsigned c = ms_rtls_server_caps(s);
	const char *kw[2];
	size_t n = 0;
	if (c & MS_RTLS_CAP_STARTTLS)
		kw[n++] = "STARTTLS";
	if (c & MS_RTLS_CAP_REQUIRETLS)
		kw[n++] = "REQUIRETLS";
	for (size_t i = 0; out && i < n && i < max; i++)
		out[i] = kw[i];
	return n;
}

ms_status ms_rtls_server_starttls(struct ms_rtls_server *s,
				  struct ms_rtls_reply *out)
{
	if (s == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (s->tls)
		*out = (struct ms_rtls_reply){0, 503, "5.5.1", "TLS already active"};
	else if (!starttls_offered(s))
		/* RFC 5321 s4.2.4: a command not offered is "not implemented". */
		*out = (struct ms_rtls_reply){0, 502, "5.5.1", "STARTTLS not offered"};
	else if (s->open)
		/* A transaction begun in plaintext cannot continue under TLS:
		 * RFC 3207 s4.2 discards it anyway, so refuse the mix. */
		*out = (struct ms_rtls_reply){0, 503, "5.5.1",
					       "MAIL transaction in progress"};
	else
		*out = (struct ms_rtls_reply){1, 220, "2.0.0", "Ready to start TLS"};
	return MS_OK;
}

ms_status ms_rtls_server_tls_started(struct ms_rtls_server *s,
				     const char *version, const char *cipher)
{
	if (s == NULL)
		return MS_ERR_INVALID;
	if (s->tls)
		return MS_ERR_STATE;
	if ((version && !token_ok(version, sizeof(s->tls_version) - 1)) ||
	    (cipher && !token_ok(cipher, sizeof(s->tls_cipher) - 1)))
		return MS_ERR_INVALID;
	s->tls = 1;
	copy_token(s->tls_version, sizeof(s->tls_version), version ? version : "");
	copy_token(s->tls_cipher, sizeof(s->tls_cipher), cipher ? cipher : "");
	/* RFC 3207 s4.2: forget everything learnt from the client before. */
	ms_rtls_server_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	return MS_OK;
}

int ms_rtls_server_tls_active(const struct ms_rtls_server *s)
{
	return s != NULL && s->tls;
}

ms_status ms_rtls_server_mail(struct ms_rtls_server *s, const uint8_t *line,
			      size_t len, struct ms_rtls_reply *out, char *why,
			      size_t whylen)
{
	if (s == NULL || out == NULL || (line == NULL && len > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	if (s->open) {
		*out = (struct ms_rtls_reply){0, 503, "5.5.1",
					       "Nested MAIL command"};
		return ms_why(why, whylen, MS_OK, "transaction already open");
	}
	ms_status st = ms_rtls_mail_parse_command(s->mail, line, len, why, whylen);
	if (st == MS_ERR_NOMEM)
		return st;
	if (st != MS_OK) {
		ms_rtls_server_syntax_reply(out);
		return MS_OK;
	}
	if (s->helo[0] == '\0') {
		ms_rtls_server_reset(s);
		*out = (struct ms_rtls_reply){0, 503, "5.5.1",
					       "Send EHLO or HELO first"};
		return ms_why(why, whylen, MS_OK, "no EHLO/HELO in this session");
	}
	/* REQUIRETLS accepted only where it was advertised: 555 after HELO
	 * or when disabled, 530 5.7.10 without TLS (server.c). */
	int enabled = s->requiretls_enabled && s->esmtp;
	st = ms_rtls_server_check_mail(s->mail, enabled, s->tls, out);
	if (st != MS_OK || !out->accept) {
		ms_rtls_server_reset(s);
		return st == MS_OK ? ms_why(why, whylen, MS_OK, "%s", out->text) : st;
	}
	if (!s->tls && s->kind != MS_RTLS_LISTEN_SMTP && !s->submission_plaintext) {
		/* RFC 8314 s3.3 / RFC 3207 s4: submission only over TLS. */
		ms_rtls_server_reset(s);
		*out = (struct ms_rtls_reply){0, 530, "5.7.0",
					       "Must issue a STARTTLS command first"};
		return ms_why(why, whylen, MS_OK, "submission needs TLS");
	}
	s->open = 1;
	return MS_OK;
}

int ms_rtls_server_in_transaction(const struct ms_rtls_server *s)
{
	return s != NULL && s->open;
}

const struct ms_rtls_mail *ms_rtls_server_mail_params(const struct ms_rtls_server *s)
{
	return (s != NULL && s->open) ? s->mail : NULL;
}

int ms_rtls_server_requiretls(const struct ms_rtls_server *s)
{
	return s != NULL && s->open && ms_rtls_mail_requiretls(s->mail);
}

enum ms_rtls_requirement ms_rtls_server_requirement(const struct ms_rtls_server *s,
						    const uint8_t *hdrs, size_t len)
{
	int param = ms_rtls_server_requiretls(s);
	return ms_rtls_requirement_of(param, ms_rtls_tlsreq_scan(hdrs, len, param));
}

ms_status ms_rtls_server_received(const struct ms_rtls_server *s,
				  const struct ms_rtls_received *extra,
				  char *out, size_t outsize, size_t *needed,
				  char *why, size_t whylen)
{
	if (s == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	if (!s->open)
		return ms_why(why, whylen, MS_ERR_STATE, "no open transaction");
	struct ms_rtls_received r = {0};
	r.version = MS_RTLS_RECEIVED_VERSION;
	if (extra != NULL) {
		r.client_rdns = extra->client_rdns;
		r.id = extra->id;
		r.for_addr = extra->for_addr;
		r.authenticated = extra->authenticated;
		r.lookups = extra->lookups;
		r.nlookups = extra->nlookups;
		r.when = extra->when;
	}
	if (r.when == 0)
		r.when = ms_now(&s->env);
	r.helo = s->helo;
	r.client_ip = s->client_ip;
	r.by = s->by;
	r.tls = s->tls;
	r.tls_version = s->tls_version[0] ? s->tls_version : NULL;
	r.tls_cipher = s->tls_cipher[0] ? s->tls_cipher : NULL;
	/* RFC 8689 s4.1: the message is tagged as needing REQUIRETLS. */
	r.requiretls = ms_rtls_mail_requiretls(s->mail);
	r.smtputf8 = ms_rtls_mail_smtputf8(s->mail);
	return ms_rtls_received_format(&r, out, outsize, needed, why, whylen);
}

const char *ms_rtls_listener_str(enum ms_rtls_listener k)
{
	switch (k) {
	case MS_RTLS_LISTEN_SMTP: return "smtp";
	case MS_RTLS_LISTEN_SUBMISSION: return "submission";
	case MS_RTLS_LISTEN_SUBMISSIONS: return "submissions";
	}
	return "unknown";
}
