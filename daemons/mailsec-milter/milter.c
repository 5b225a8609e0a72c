/*
 * milter.c - the libmilter callbacks: glue between the MTA's events and the
 * library calls that decide.  Inbound (mailsec/auth.h): the message is fed
 * to ms_auth as it arrives; at its end the Authentication-Results field is
 * added, forged ones of our authserv-id are removed (ms_ar_should_remove)
 * and the DMARC disposition is applied as far as DMARCAction allows.
 * Outgoing (mailsec/dkim_signtab.h): ms_dkim_signtab_signer decides and
 * signs.  The (requiretls) Received field (mailsec/requiretls.h) is added
 * when the MTA accepted the REQUIRETLS MAIL FROM parameter.
 */
#include "milter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfdef.h>

#include <mailsec/auth.h>
#include <mailsec/authres.h>
#include <mailsec/requiretls.h>

struct mm_global *mm_g;

#define MM_MAX_AR 64        /* A-R fields tracked for removal */
#define MM_MAX_FROM 8       /* From fields kept for the signing decision */

struct mm_conn {
	int leadspc;             /* header values come with their leading space */
	unsigned long noreply;   /* stages negotiated without a reply (SMFIP_NR_*) */
	char ip[64];
	char helo[256];
	char rdns[256];
	char tls_version[32], cipher[96];
	/* per message */
	char *mail_from;
	int authenticated, requiretls, outgoing, smtputf8;
	char rcpt[256];
	unsigned nrcpt;
	struct ms_auth *auth;
	char *hdr;               /* header section, for the signer */
	size_t hdrlen, hdrcap;
	int hdr_over;            /* over MS_DKIM_MAX_HEADER: not signed */
	char *from[MM_MAX_FROM];
	size_t nfrom;
	unsigned ar_seen;        /* Authentication-Results fields so far */
	unsigned ar_remove[MM_MAX_AR];
	size_t nremove;
	struct ms_dkim_signer *signer;
	int failed;              /* an internal error: OnError decides */
	char fail_why[256];
};

void mm_log(enum ms_log_level level, const char *msg, ...)
{
	const struct ms_env *e = &mm_g->env;
	if (e->log == NULL || level > e->log_level)
		return;
	struct ms_kv kv[24];
	size_t n = 0;
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (k == NULL || n == 24)
			break;
		const char *v = va_arg(ap, const char *);
		kv[n].key = k;
		kv[n].value = v ? v : "";
		n++;
	}
	va_end(ap);
	e->log(e->user, level, "milter", msg, kv, n);
}

char *mm_header_value(const char *field, size_t len, int leadspc)
{
	const char *colon = memchr(field, ':', len);
	if (colon == NULL)
		return NULL;
	const char *p = colon + 1, *end = field + len;
	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (!leadspc)
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	char *out = malloc((size_t)(end - p) + 2);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (; p < end; p++)
		if (*p != '\r')
			out[o++] = *p;
	out[o] = '\0';
	return out;
}

static void msg_reset(struct mm_conn *c)
{
	free(c->mail_from);
	c->mail_from = NULL;
	ms_auth_free(c->auth);
	c->auth = NULL;
	ms_dkim_signer_free(c->signer);
	c->signer = NULL;
	free(c->hdr);
	c->hdr = NULL;
	c->hdrlen = c->hdrcap = 0;
	c->hdr_over = 0;
	for (size_t i = 0; i < c->nfrom; i++)
		free(c->from[i]);
	c->nfrom = 0;
	c->ar_seen = 0;
	c->nremove = 0;
	c->authenticated = c->requiretls = c->outgoing = c->smtputf8 = 0;
	c->rcpt[0] = '\0';
	c->nrcpt = 0;
	c->failed = 0;
	c->fail_why[0] = '\0';
}

static struct mm_conn *conn_get(SMFICTX *ctx)
{
	struct mm_conn *c = smfi_getpriv(ctx);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return NULL;
		strcpy(c->ip, "unknown");
		if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
			free(c);
			return NULL;
		}
	}
	return c;
}

static void fail_msg(struct mm_conn *c, const char *what, const char *why)
{
	if (c->failed)
		return;
	c->failed = 1;
	snprintf(c->fail_why, sizeof(c->fail_why), "%s: %s", what, why);
}

/* The answer for a message we could not judge (OnError). */
static sfsistat on_error(SMFICTX *ctx, struct mm_conn *c)
{
	mm_log(MS_LOG_ERROR, "message not checked", "ip", c->ip, "why", c->fail_why,
	       "action", mm_g->cfg.on_error == MM_ERROR_ACCEPT ? "accept" : "tempfail", NULL);
	if (mm_g->cfg.on_error == MM_ERROR_ACCEPT)
		return SMFIS_ACCEPT;
	smfi_setreply(ctx, "451", "4.7.0", "message could not be authenticated, try again later");
	return SMFIS_TEMPFAIL;
}

/* The answer of a stage that never refuses: none when negotiated so.  A
 * failure in such a stage is kept (fail_msg) and answered at the end. */
static sfsistat go_on(const struct mm_conn *c, unsigned long stage)
{
	return c != NULL && (c->noreply & stage) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat mm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
	/* Only the macros we read (Postfix sends a macro packet before each
	 * stage otherwise); the stages left out get a list of one cheap
	 * macro, as an empty list is refused. */
	if (f0 & SMFIF_SETSYMLIST) {
		static const struct { int stage; const char *list; } want[] = {
			{SMFIM_CONNECT, "j"}, {SMFIM_HELO, "{tls_version} {cipher}"},
			{SMFIM_ENVFROM, "{auth_authen}"}, {SMFIM_ENVRCPT, "j"},
			{SMFIM_DATA, "j"}, {SMFIM_EOH, "j"}, {SMFIM_EOM, "i"},
		};
		int ok = 1;
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]) && ok; i++)
			ok = smfi_setsymlist(ctx, want[i].stage, (char *)want[i].list) == MI_SUCCESS;
		if (ok)
			*pf0 |= SMFIF_SETSYMLIST;
	}
	/* header values verbatim (a DKIM simple-canonicalized signature
	 * covers the space after the colon) */
	/* No reply after connect, helo, rcpt, each header, end of headers
	 * and body chunks (those callbacks never refuse), no DATA or unknown
	 * command: a round trip fewer per stage and per header field. */
	unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR |
			   SMFIP_NR_EOH | SMFIP_NR_BODY;
	*pf1 = f1 & (SMFIP_HDR_LEADSPC | nr | SMFIP_NODATA | SMFIP_NOUNKNOWN);
	c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	c->noreply = *pf1 & nr;
	*pf2 = *pf3 = 0;
	(void)f2;
	(void)f3;
	return SMFIS_CONTINUE;
}

static sfsistat mm_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL) /* only when negotiate failed */
		return SMFIS_TEMPFAIL;
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->ip, sizeof(c->ip));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, c->ip,
			  sizeof(c->ip));
	/* the MTA's own reverse name, "[ip]" when it has none */
	if (hostname != NULL && hostname[0] != '[')
		snprintf(c->rdns, sizeof(c->rdns), "%s", hostname);
	return go_on(c, SMFIP_NR_CONN);
}

static sfsistat mm_helo(SMFICTX *ctx, char *helo)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL) /* only when negotiate failed */
		return SMFIS_TEMPFAIL;
	snprintf(c->helo, sizeof(c->helo), "%s", helo ? helo : "");
	const char *v = smfi_getsymval(ctx, "{tls_version}");
	snprintf(c->tls_version, sizeof(c->tls_version), "%s", v ? v : "");
	v = smfi_getsymval(ctx, "{cipher}");
	snprintf(c->cipher, sizeof(c->cipher), "%s", v ? v : "");
	return go_on(c, SMFIP_NR_HELO);
}

static sfsistat mm_envfrom(SMFICTX *ctx, char **argv)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	msg_reset(c);
	const char *a = argv && argv[0] ? argv[0] : "";
	size_t n = strlen(a);
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		a++, n -= 2;
	c->mail_from = strndup(a, n);
	if (c->mail_from == NULL)
		return SMFIS_TEMPFAIL;
	/* ESMTP parameters the MTA accepted: REQUIRETLS (RFC 8689 s4.1) */
	for (size_t i = 1; argv && argv[i]; i++) {
		if (strcasecmp(argv[i], "REQUIRETLS") == 0)
			c->requiretls = 1;
		else if (strcasecmp(argv[i], "SMTPUTF8") == 0)
			c->smtputf8 = 1;
	}
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	c->authenticated = auth != NULL && *auth != '\0';
	c->outgoing = ms_dkim_signtab_outgoing(mm_g->signtab, c->ip, c->authenticated);
	if (c->outgoing || !mm_g->cfg.verify)
		return SMFIS_CONTINUE;
	struct ms_auth_opts o = {
		.version = MS_AUTH_OPTS_VERSION,
		.dns = mm_g->dns,
		.authserv_id = mm_g->cfg.authserv_id,
		.client_ip = c->ip,
		.helo = c->helo[0] ? c->helo : c->ip,
		.mail_from = c->mail_from,
		.dkim = mm_g->verifier,
		.deadline_ms = mm_g->cfg.deadline_ms,
	};
	if (mm_g->cfg.dmarc != MM_DMARC_NONE)
		o.flags |= MS_AUTH_APPLY_POLICY;
	if (mm_g->cfg.reject_bad_from)
		o.flags |= MS_AUTH_REJECT_BAD_FROM;
	char why[256] = "";
	if (ms_auth_new(&mm_g->env, &o, &c->auth, why, sizeof(why)) != MS_OK)
		fail_msg(c, "auth", why);
	return SMFIS_CONTINUE;
}

static sfsistat mm_envrcpt(SMFICTX *ctx, char **argv)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL) /* only when negotiate failed */
		return SMFIS_TEMPFAIL;
	if (c->nrcpt++ == 0 && argv && argv[0]) {
		const char *a = argv[0];
		size_t n = strlen(a);
		if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
			a++, n -= 2;
		snprintf(c->rcpt, sizeof(c->rcpt), "%.*s", (int)n, a);
	}
	return go_on(c, SMFIP_NR_RCPT);
}

static int hdr_append(struct mm_conn *c, const char *p, size_t n)
{
	if (c->hdr_over)
		return 0;
	if (c->hdrlen + n > MS_DKIM_MAX_HEADER) {
		c->hdr_over = 1;
		return 0;
	}
	if (c->hdrlen + n > c->hdrcap) {
		size_t cap = c->hdrcap ? c->hdrcap : 4096;
		while (cap < c->hdrlen + n)
			cap *= 2;
		char *b = realloc(c->hdr, cap);
		if (b == NULL)
			return -1;
		c->hdr = b;
		c->hdrcap = cap;
	}
	memcpy(c->hdr + c->hdrlen, p, n);
	c->hdrlen += n;
	return 0;
}

static sfsistat mm_header(SMFICTX *ctx, char *name, char *value)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL) /* only when negotiate failed */
		return SMFIS_TEMPFAIL;
	if (c->failed)
		return go_on(c, SMFIP_NR_HDR);
	/* the field as it came: "Name:" + value (+ the space the MTA took
	 * off) + CRLF; a folded value keeps its inner line ends (LF or CRLF,
	 * both read as line ends by the libraries) */
	size_t nl = strlen(name), vl = strlen(value);
	size_t fl = nl + 2 + vl + 2;
	char *f = malloc(fl + 1);
	if (f == NULL) {
		fail_msg(c, "header", "out of memory");
		return go_on(c, SMFIP_NR_HDR);
	}
	size_t o = 0;
	memcpy(f, name, nl);
	o = nl;
	f[o++] = ':';
	if (!c->leadspc)
		f[o++] = ' ';
	memcpy(f + o, value, vl);
	o += vl;
	f[o++] = '\r';
	f[o++] = '\n';
	if (strcasecmp(name, "Authentication-Results") == 0) {
		c->ar_seen++;
		/* RFC 8601 s5: a field claiming our authserv-id (or one nobody
		 * can parse) is removed, before anyone downstream reads it */
		if (ms_ar_should_remove((const uint8_t *)f, o, mm_g->cfg.authserv_id) &&
		    c->nremove < MM_MAX_AR)
			c->ar_remove[c->nremove++] = c->ar_seen;
	}
	if (strcasecmp(name, "From") == 0 && c->nfrom < MM_MAX_FROM) {
		c->from[c->nfrom] = strdup(value);
		if (c->from[c->nfrom] != NULL)
			c->nfrom++;
	}
	char why[256] = "";
	if (c->auth != NULL &&
	    ms_auth_feed(c->auth, (const uint8_t *)f, o, why, sizeof(why)) != MS_OK)
		fail_msg(c, "auth", why);
	if (c->outgoing && mm_g->cfg.sign && hdr_append(c, f, o) != 0)
		fail_msg(c, "header", "out of memory");
	free(f);
	return go_on(c, SMFIP_NR_HDR);
}

static sfsistat mm_eoh(SMFICTX *ctx)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL) /* only when negotiate failed */
		return SMFIS_TEMPFAIL;
	if (c->failed)
		return go_on(c, SMFIP_NR_EOH);
	char why[256] = "";
	if (c->auth != NULL && ms_auth_feed(c->auth, (const uint8_t *)"\r\n", 2, why, sizeof(why)) != MS_OK)
		fail_msg(c, "auth", why);
	if (!c->outgoing || !mm_g->cfg.sign)
		return go_on(c, SMFIP_NR_EOH);
	if (c->hdr_over) {
		mm_log(MS_LOG_WARNING, "not signed", "ip", c->ip, "why", "header section too large", NULL);
		return go_on(c, SMFIP_NR_EOH);
	}
	const uint8_t *vals[MM_MAX_FROM];
	size_t lens[MM_MAX_FROM];
	for (size_t i = 0; i < c->nfrom; i++) {
		vals[i] = (const uint8_t *)c->from[i];
		lens[i] = strlen(c->from[i]);
	}
	enum ms_dkim_signtab_decision d;
	ms_status st = ms_dkim_signtab_signer(mm_g->signtab, c->ip, c->authenticated, vals, lens,
					      c->nfrom, &d, &c->signer, why, sizeof(why));
	if (st != MS_OK) {
		fail_msg(c, "sign", why);
		return go_on(c, SMFIP_NR_EOH);
	}
	mm_log(MS_LOG_DEBUG, "signing decision", "ip", c->ip, "decision",
	       ms_dkim_signtab_decision_str(d), "why", why, NULL);
	if (c->signer != NULL &&
	    (ms_dkim_signer_feed(c->signer, (const uint8_t *)c->hdr, c->hdrlen, why, sizeof(why)) != MS_OK ||
	     ms_dkim_signer_feed(c->signer, (const uint8_t *)"\r\n", 2, why, sizeof(why)) != MS_OK))
		fail_msg(c, "sign", why);
	return go_on(c, SMFIP_NR_EOH);
}

static sfsistat mm_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL) /* only when negotiate failed */
		return SMFIS_TEMPFAIL;
	if (c->failed)
		return go_on(c, SMFIP_NR_BODY);
	char why[256] = "";
	if (c->auth != NULL && ms_auth_feed(c->auth, buf, len, why, sizeof(why)) != MS_OK)
		fail_msg(c, "auth", why);
	if (c->signer != NULL && ms_dkim_signer_feed(c->signer, buf, len, why, sizeof(why)) != MS_OK)
		fail_msg(c, "sign", why);
	return go_on(c, SMFIP_NR_BODY);
}

static int insert_field(SMFICTX *ctx, struct mm_conn *c, const char *name, const char *field,
			size_t len)
{
	char *v = mm_header_value(field, len, c->leadspc);
	if (v == NULL)
		return -1;
	int r = smfi_insheader(ctx, 0, (char *)name, v);
	free(v);
	return r == MI_SUCCESS ? 0 : -1;
}

/* Insert the signer's fields so that the first ends on top. */
static int insert_signatures(SMFICTX *ctx, struct mm_conn *c, const char *all)
{
	const char *starts[MS_DKIM_MAX_SIGNATURES];
	size_t n = 0;
	for (const char *p = all; p && *p && n < MS_DKIM_MAX_SIGNATURES;) {
		starts[n++] = p;
		/* a field ends at a CRLF not followed by white space */
		const char *q = p;
		for (;;) {
			q = strstr(q, "\r\n");
			if (q == NULL || (q[2] != ' ' && q[2] != '\t'))
				break;
			q += 2;
		}
		p = q ? q + 2 : NULL;
	}
	for (size_t i = n; i-- > 0;) {
		const char *end = i + 1 < n ? starts[i + 1] : all + strlen(all);
		if (insert_field(ctx, c, "DKIM-Signature", starts[i], (size_t)(end - starts[i])) != 0)
			return -1;
	}
	return 0;
}

/* The RFC 8689 s4.1 Received field, only when the MTA accepted the
 * REQUIRETLS parameter (and so passed it in the MAIL FROM arguments). */
static int add_received(SMFICTX *ctx, struct mm_conn *c)
{
	if (!c->requiretls || !mm_g->cfg.received_requiretls)
		return 0;
	struct ms_rtls_lookup_status lk[3];
	size_t nlk = 0;
	if (c->auth != NULL) {
		lk[nlk++] = (struct ms_rtls_lookup_status){"iprev", ms_auth_iprev_dnssec(c->auth)};
		lk[nlk++] = (struct ms_rtls_lookup_status){"spf", ms_auth_spf_dnssec(c->auth)};
		lk[nlk++] = (struct ms_rtls_lookup_status){"dmarc", ms_auth_dmarc_dnssec(c->auth)};
	}
	const char *qid = smfi_getsymval(ctx, "i");
	struct ms_rtls_received r = {
		.version = MS_RTLS_RECEIVED_VERSION,
		.helo = c->helo[0] ? c->helo : c->ip,
		.client_rdns = c->rdns[0] ? c->rdns : NULL,
		.client_ip = c->ip,
		.by = mm_g->cfg.authserv_id,
		.id = qid,
		.for_addr = c->nrcpt == 1 && c->rcpt[0] ? c->rcpt : NULL,
		.tls = c->tls_version[0] != '\0',
		.tls_version = c->tls_version[0] ? c->tls_version : NULL,
		.tls_cipher = c->cipher[0] ? c->cipher : NULL,
		.requiretls = 1,
		.authenticated = c->authenticated,
		.smtputf8 = c->smtputf8,
		.lookups = lk,
		.nlookups = nlk,
		.when = (int64_t)time(NULL),
	};
	char buf[2048], why[256] = "";
	ms_status st = ms_rtls_received_format(&r, buf, sizeof(buf), NULL, why, sizeof(why));
	if (st != MS_OK) {
		/* a name with characters the field cannot carry: log, add nothing */
		mm_log(MS_LOG_WARNING, "no requiretls received field", "ip", c->ip, "why", why, NULL);
		return 0;
	}
	return insert_field(ctx, c, "Received", buf, strlen(buf));
}

static const char *sec(enum ms_dns_security s)
{
	return ms_dns_security_str(s);
}

static sfsistat eom_inbound(SMFICTX *ctx, struct mm_conn *c)
{
	char why[256] = "";
	if (ms_auth_finish(c->auth, why, sizeof(why)) != MS_OK) {
		fail_msg(c, "auth", why);
		return on_error(ctx, c);
	}
	/* forged fields first (their indices are the message's as received),
	 * highest first so the lower indices stay valid */
	for (size_t i = c->nremove; i-- > 0;)
		smfi_chgheader(ctx, "Authentication-Results", (int)c->ar_remove[i], NULL);
	const char *ar = ms_auth_header(c->auth);
	if (ar == NULL || insert_field(ctx, c, "Authentication-Results", ar, strlen(ar)) != 0) {
		fail_msg(c, "auth", "could not add the Authentication-Results field");
		return on_error(ctx, c);
	}
	if (add_received(ctx, c) != 0) {
		fail_msg(c, "received", "could not add the Received field");
		return on_error(ctx, c);
	}
	enum ms_auth_disposition d = ms_auth_disposition(c->auth);
	/* DMARCAction caps what the library's disposition may do: with
	 * "quarantine" a reject verdict is quarantined.  A bad From
	 * (RejectBadFrom) is rejected whatever the cap. */
	enum ms_auth_disposition act = d;
	int bad_from = ms_auth_dmarc_from_outcome(c->auth) != MS_DMARC_FROM_OK;
	if (!(bad_from && mm_g->cfg.reject_bad_from)) {
		if (mm_g->cfg.dmarc == MM_DMARC_NONE)
			act = MS_AUTH_ACCEPT;
		else if (mm_g->cfg.dmarc == MM_DMARC_QUARANTINE && act == MS_AUTH_REJECT)
			act = MS_AUTH_QUARANTINE;
	}
	char nd[16];
	snprintf(nd, sizeof(nd), "%zu", ms_auth_dkim_count(c->auth));
	const char *dom = ms_auth_dmarc_from_domain(c->auth);
	mm_log(MS_LOG_INFO, "verdict", "ip", c->ip, "from_domain", dom ? dom : "",
	       "spf", ms_spf_result_str(ms_auth_spf_result(c->auth)),
	       "spf_dnssec", sec(ms_auth_spf_dnssec(c->auth)), "dkim_signatures", nd,
	       "dmarc", ms_dmarc_result_str(ms_auth_dmarc_result(c->auth)),
	       "dmarc_dnssec", sec(ms_auth_dmarc_dnssec(c->auth)),
	       "iprev", ms_iprev_result_str(ms_auth_iprev_result(c->auth)),
	       "disposition", ms_auth_disposition_str(d), "action", ms_auth_disposition_str(act),
	       NULL);
	if (act == MS_AUTH_REJECT) {
		char text[300];
		if (bad_from)
			snprintf(text, sizeof(text), "no single author domain in From (RFC 7489 s6.6.1)");
		else
			snprintf(text, sizeof(text), "DMARC policy of %s: reject", dom ? dom : "the author domain");
		smfi_setreply(ctx, "550", "5.7.1", text);
		return SMFIS_REJECT;
	}
	if (act == MS_AUTH_QUARANTINE) {
		char text[300];
		snprintf(text, sizeof(text), "DMARC policy of %s: quarantine", dom ? dom : "?");
		smfi_quarantine(ctx, text);
	}
	return SMFIS_CONTINUE;
}

static sfsistat mm_eom(SMFICTX *ctx)
{
	struct mm_conn *c = conn_get(ctx);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	sfsistat r = SMFIS_CONTINUE;
	if (c->failed) {
		r = on_error(ctx, c);
		msg_reset(c);
		return r;
	}
	if (c->auth != NULL) {
		r = eom_inbound(ctx, c);
	} else {
		/* outgoing (or Mode s): forged fields go all the same */
		for (size_t i = c->nremove; i-- > 0;)
			smfi_chgheader(ctx, "Authentication-Results", (int)c->ar_remove[i], NULL);
		if (add_received(ctx, c) != 0) {
			fail_msg(c, "received", "could not add the Received field");
			r = on_error(ctx, c);
		}
	}
	if (r == SMFIS_CONTINUE && c->signer != NULL) {
		char why[256] = "";
		if (ms_dkim_signer_finish(c->signer, why, sizeof(why)) != MS_OK) {
			fail_msg(c, "sign", why);
			r = on_error(ctx, c);
		} else if (insert_signatures(ctx, c, ms_dkim_signer_headers(c->signer)) != 0) {
			fail_msg(c, "sign", "could not add the DKIM-Signature fields");
			r = on_error(ctx, c);
		} else {
			mm_log(MS_LOG_INFO, "signed", "ip", c->ip, NULL);
		}
	}
	msg_reset(c);
	return r;
}

static sfsistat mm_abort(SMFICTX *ctx)
{
	struct mm_conn *c = smfi_getpriv(ctx);
	if (c != NULL)
		msg_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat mm_close(SMFICTX *ctx)
{
	struct mm_conn *c = smfi_getpriv(ctx);
	if (c != NULL) {
		msg_reset(c);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc mm_desc = {
	.xxfi_name = (char *)"mailsec-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = mm_connect,
	.xxfi_helo = mm_helo,
	.xxfi_envfrom = mm_envfrom,
	.xxfi_envrcpt = mm_envrcpt,
	.xxfi_header = mm_header,
	.xxfi_eoh = mm_eoh,
	.xxfi_body = mm_body,
	.xxfi_eom = mm_eom,
	.xxfi_abort = mm_abort,
	.xxfi_close = mm_close,
	.xxfi_negotiate = mm_negotiate,
};
