/* config.c - mailsec-milter.conf parser (config.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static ms_status fail(char *why, size_t whylen, ms_status st, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static ms_status fail(char *why, size_t whylen, ms_status st, unsigned line, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		int n = line ? snprintf(why, whylen, "line %u: ", line) : 0;
		if (n < 0 || (size_t)n >= whylen)
			n = 0;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return st;
}

void mm_config_free(struct mm_config *c)
{
	if (c == NULL)
		return;
	free(c->authserv_id);
	free(c->socket);
	free(c->dns_config);
	for (size_t i = 0; i < c->nforwarders; i++)
		free(c->forwarders[i]);
	free(c->trust_anchor);
	for (size_t i = 0; i < c->nnetworks; i++)
		free(c->networks[i]);
	free(c->networks);
	for (size_t i = 0; i < c->nkeys; i++) {
		free(c->keys[i].name);
		free(c->keys[i].domain);
		free(c->keys[i].selector);
		free(c->keys[i].path);
	}
	free(c->keys);
	for (size_t i = 0; i < c->nrules; i++) {
		free(c->rules[i].pattern);
		free(c->rules[i].keys);
	}
	free(c->rules);
	free(c->log_level);
	memset(c, 0, sizeof(*c));
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* One value: printable ASCII only, so nothing can reach a header, a log
 * line or a path with a control character in it. */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static ms_status set_once(char **slot, const char *v, const char *name, unsigned line,
			  char *why, size_t whylen)
{
	if (*slot != NULL)
		return fail(why, whylen, MS_ERR_CONFIG, line, "%s given twice", name);
	if ((*slot = strdup(v)) == NULL)
		return MS_ERR_NOMEM;
	return MS_OK;
}

static ms_status parse_uint(const char *v, unsigned max, unsigned *out, const char *name,
			    unsigned line, char *why, size_t whylen)
{
	unsigned long n = 0;
	if (*v == '\0')
		return fail(why, whylen, MS_ERR_CONFIG, line, "%s: a number is needed", name);
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return fail(why, whylen, MS_ERR_CONFIG, line, "%s: '%.32s' is not a number", name, v);
		n = n * 10 + (unsigned long)(*p - '0');
		if (n > max)
			return fail(why, whylen, MS_ERR_CONFIG, line, "%s: more than %u", name, max);
	}
	*out = (unsigned)n;
	return MS_OK;
}

static ms_status parse_bool(const char *v, int *out, const char *name, unsigned line,
			    char *why, size_t whylen)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return fail(why, whylen, MS_ERR_CONFIG, line, "%s: yes or no, not '%.32s'", name, v);
	return MS_OK;
}

static ms_status add_network(struct mm_config *c, const char *v, size_t n)
{
	if (c->nnetworks >= MS_DKIM_SIGNTAB_MAX_NETWORKS)
		return MS_ERR_LIMIT;
	char **a = realloc(c->networks, (c->nnetworks + 1) * sizeof(*a));
	if (a == NULL)
		return MS_ERR_NOMEM;
	c->networks = a;
	if ((a[c->nnetworks] = strndup(v, n)) == NULL)
		return MS_ERR_NOMEM;
	c->nnetworks++;
	return MS_OK;
}

/* "a, b c": commas and/or white space separate. */
static ms_status parse_networks(struct mm_config *c, const char *v, unsigned line,
				char *why, size_t whylen)
{
	const char *p = v;
	while (*p) {
		while (*p == ',' || is_space(*p))
			p++;
		const char *s = p;
		while (*p && *p != ',' && !is_space(*p))
			p++;
		if (p > s) {
			ms_status st = add_network(c, s, (size_t)(p - s));
			if (st == MS_ERR_LIMIT)
				return fail(why, whylen, st, line, "InternalHosts: more than %u networks",
					    MS_DKIM_SIGNTAB_MAX_NETWORKS);
			if (st != MS_OK)
				return st;
		}
	}
	return MS_OK;
}

/* A table line "WORD rest": *end is where WORD ends, *rest where the rest
 * begins (past the white space between them). */
static void split_word(const char *v, const char **end, const char **rest)
{
	const char *p = v;
	while (*p && !is_space(*p))
		p++;
	*end = p;
	while (is_space(*p))
		p++;
	*rest = p;
}

/* KeyTable NAME DOMAIN:SELECTOR:KEYFILE */
static ms_status parse_key(struct mm_config *c, const char *v, unsigned line, char *why,
			   size_t whylen)
{
	if (c->nkeys >= MS_DKIM_SIGNTAB_MAX_KEYS)
		return fail(why, whylen, MS_ERR_LIMIT, line, "KeyTable: more than %u keys",
			    MS_DKIM_SIGNTAB_MAX_KEYS);
	const char *sp, *rest;
	split_word(v, &sp, &rest);
	const char *c1 = strchr(rest, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (sp == v || *rest == '\0' || c1 == NULL || c2 == NULL || c1 == rest ||
	    c2 == c1 + 1 || c2[1] == '\0')
		return fail(why, whylen, MS_ERR_CONFIG, line,
			    "KeyTable: NAME DOMAIN:SELECTOR:KEYFILE expected");
	for (const char *p = rest; p < c2; p++)
		if (is_space(*p))
			return fail(why, whylen, MS_ERR_CONFIG, line,
				    "KeyTable: white space in DOMAIN:SELECTOR");
	if (strlen(c2 + 1) >= MM_MAX_PATH)
		return fail(why, whylen, MS_ERR_CONFIG, line, "KeyTable: key file path too long");
	struct mm_key *k = realloc(c->keys, (c->nkeys + 1) * sizeof(*k));
	if (k == NULL)
		return MS_ERR_NOMEM;
	c->keys = k;
	k = &c->keys[c->nkeys];
	k->name = strndup(v, (size_t)(sp - v));
	k->domain = strndup(rest, (size_t)(c1 - rest));
	k->selector = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	k->path = strdup(c2 + 1);
	c->nkeys++; /* freed by mm_config_free even when half made */
	if (!k->name || !k->domain || !k->selector || !k->path)
		return MS_ERR_NOMEM;
	return MS_OK;
}

/* SigningTable PATTERN NAME[,NAME...] */
static ms_status parse_rule(struct mm_config *c, const char *v, unsigned line, char *why,
			    size_t whylen)
{
	if (c->nrules >= MS_DKIM_SIGNTAB_MAX_RULES)
		return fail(why, whylen, MS_ERR_LIMIT, line, "SigningTable: more than %u rules",
			    MS_DKIM_SIGNTAB_MAX_RULES);
	const char *sp, *rest;
	split_word(v, &sp, &rest);
	if (sp == v || *rest == '\0')
		return fail(why, whylen, MS_ERR_CONFIG, line, "SigningTable: PATTERN KEYNAME[,KEYNAME] expected");
	struct mm_rule *r = realloc(c->rules, (c->nrules + 1) * sizeof(*r));
	if (r == NULL)
		return MS_ERR_NOMEM;
	c->rules = r;
	r = &c->rules[c->nrules];
	r->pattern = strndup(v, (size_t)(sp - v));
	r->keys = strdup(rest);
	c->nrules++;
	if (!r->pattern || !r->keys)
		return MS_ERR_NOMEM;
	return MS_OK;
}

static ms_status directive(struct mm_config *c, const char *name, const char *v, unsigned line,
			   char *why, size_t whylen)
{
	if (*v == '\0')
		return fail(why, whylen, MS_ERR_CONFIG, line, "%s: a value is needed", name);
	if (strcasecmp(name, "AuthservID") == 0) {
		for (const char *p = v; *p; p++)
			if (is_space(*p) || *p == ';' || *p == '(' || *p == ')')
				return fail(why, whylen, MS_ERR_CONFIG, line,
					    "AuthservID: one token (RFC 8601 s2.5) expected");
		return set_once(&c->authserv_id, v, "AuthservID", line, why, whylen);
	}
	if (strcasecmp(name, "Socket") == 0) {
		if (strncmp(v, "inet:", 5) != 0 && strncmp(v, "inet6:", 6) != 0 &&
		    strncmp(v, "unix:", 5) != 0 && strncmp(v, "local:", 6) != 0)
			return fail(why, whylen, MS_ERR_CONFIG, line,
				    "Socket: inet:PORT@ADDR, inet6:PORT@ADDR or unix:PATH expected");
		return set_once(&c->socket, v, "Socket", line, why, whylen);
	}
	if (strcasecmp(name, "DNSConfig") == 0)
		return set_once(&c->dns_config, v, "DNSConfig", line, why, whylen);
	if (strcasecmp(name, "TrustAnchorFile") == 0)
		return set_once(&c->trust_anchor, v, "TrustAnchorFile", line, why, whylen);
	if (strcasecmp(name, "DNSForward") == 0) {
		if (c->nforwarders >= MM_MAX_FORWARDERS)
			return fail(why, whylen, MS_ERR_CONFIG, line, "DNSForward: at most %u",
				    MM_MAX_FORWARDERS);
		if ((c->forwarders[c->nforwarders] = strdup(v)) == NULL)
			return MS_ERR_NOMEM;
		c->nforwarders++;
		return MS_OK;
	}
	if (strcasecmp(name, "DNSTimeout") == 0)
		return parse_uint(v, 600000, &c->dns_timeout_ms, name, line, why, whylen);
	if (strcasecmp(name, "AuthDeadline") == 0)
		return parse_uint(v, 600000, &c->deadline_ms, name, line, why, whylen);
	if (strcasecmp(name, "Mode") == 0) {
		if (strcmp(v, "sv") == 0 || strcmp(v, "vs") == 0)
			c->sign = c->verify = 1;
		else if (strcmp(v, "s") == 0)
			c->sign = 1, c->verify = 0;
		else if (strcmp(v, "v") == 0)
			c->sign = 0, c->verify = 1;
		else
			return fail(why, whylen, MS_ERR_CONFIG, line, "Mode: s, v or sv, not '%.16s'", v);
		return MS_OK;
	}
	if (strcasecmp(name, "DMARCAction") == 0) {
		if (strcasecmp(v, "none") == 0)
			c->dmarc = MM_DMARC_NONE;
		else if (strcasecmp(v, "quarantine") == 0)
			c->dmarc = MM_DMARC_QUARANTINE;
		else if (strcasecmp(v, "reject") == 0)
			c->dmarc = MM_DMARC_REJECT;
		else
			return fail(why, whylen, MS_ERR_CONFIG, line,
				    "DMARCAction: none, quarantine or reject, not '%.16s'", v);
		return MS_OK;
	}
	if (strcasecmp(name, "RejectBadFrom") == 0)
		return parse_bool(v, &c->reject_bad_from, name, line, why, whylen);
	if (strcasecmp(name, "AddReceived") == 0)
		return parse_bool(v, &c->received_requiretls, name, line, why, whylen);
	if (strcasecmp(name, "OnError") == 0) {
		if (strcasecmp(v, "tempfail") == 0)
			c->on_error = MM_ERROR_TEMPFAIL;
		else if (strcasecmp(v, "accept") == 0)
			c->on_error = MM_ERROR_ACCEPT;
		else
			return fail(why, whylen, MS_ERR_CONFIG, line,
				    "OnError: tempfail or accept, not '%.16s'", v);
		return MS_OK;
	}
	if (strcasecmp(name, "LogLevel") == 0) {
		if (strcmp(v, "error") && strcmp(v, "warning") && strcmp(v, "info") &&
		    strcmp(v, "debug"))
			return fail(why, whylen, MS_ERR_CONFIG, line,
				    "LogLevel: error, warning, info or debug");
		return set_once(&c->log_level, v, name, line, why, whylen);
	}
	if (strcasecmp(name, "InternalHosts") == 0)
		return parse_networks(c, v, line, why, whylen);
	if (strcasecmp(name, "KeyTable") == 0)
		return parse_key(c, v, line, why, whylen);
	if (strcasecmp(name, "SigningTable") == 0)
		return parse_rule(c, v, line, why, whylen);
	return fail(why, whylen, MS_ERR_CONFIG, line, "unknown directive '%.40s'", name);
}

ms_status mm_config_parse(const uint8_t *buf, size_t len, struct mm_config *out, char *why,
			  size_t whylen)
{
	if (out == NULL || (buf == NULL && len > 0))
		return fail(why, whylen, MS_ERR_INVALID, 0, "missing argument");
	memset(out, 0, sizeof(*out));
	out->verify = out->sign = 1;
	out->received_requiretls = 1;
	if (len > MM_MAX_CONFIG)
		return fail(why, whylen, MS_ERR_LIMIT, 0, "configuration over %u bytes", MM_MAX_CONFIG);
	char line[MM_MAX_LINE + 1];
	unsigned lineno = 0;
	size_t pos = 0;
	ms_status st = MS_OK;
	while (pos < len && st == MS_OK) {
		lineno++;
		size_t end = pos;
		while (end < len && buf[end] != '\n')
			end++;
		size_t n = end - pos;
		if (n > 0 && buf[pos + n - 1] == '\r')
			n--;
		if (n > MM_MAX_LINE) {
			st = fail(why, whylen, MS_ERR_LIMIT, lineno, "longer than %u bytes", MM_MAX_LINE);
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos = end < len ? end + 1 : end;
		/* tabs are white space; any other control character is refused */
		for (size_t i = 0; i < n; i++)
			if (line[i] == '\t')
				line[i] = ' ';
		if (memchr(line, '\0', n) != NULL || !printable(line)) {
			st = fail(why, whylen, MS_ERR_CONFIG, lineno, "control or non-ASCII character");
			break;
		}
		char *p = line;
		while (is_space(*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		char *name = p;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
		while (is_space(*p))
			p++;
		char *e = p + strlen(p);
		while (e > p && is_space(e[-1]))
			*--e = '\0';
		st = directive(out, name, p, lineno, why, whylen);
	}
	if (st == MS_OK && out->authserv_id == NULL)
		st = fail(why, whylen, MS_ERR_CONFIG, 0, "AuthservID is required");
	if (st == MS_OK && out->socket == NULL)
		st = fail(why, whylen, MS_ERR_CONFIG, 0, "Socket is required");
	if (st == MS_OK && out->dns_config != NULL && out->nforwarders > 0)
		st = fail(why, whylen, MS_ERR_CONFIG, 0,
			  "DNSConfig is the whole resolver configuration: no DNSForward with it");
	/* OpenDKIM's default InternalHosts: the loopback host */
	if (st == MS_OK && out->nnetworks == 0) {
		st = add_network(out, "127.0.0.1", 9);
		if (st == MS_OK)
			st = add_network(out, "::1", 3);
	}
	if (st == MS_ERR_NOMEM)
		fail(why, whylen, st, 0, "out of memory");
	if (st != MS_OK)
		mm_config_free(out);
	return st;
}

ms_status mm_config_signtab(const struct mm_config *c, mm_key_loader load, void *user,
			    struct ms_dkim_signtab **out, char *why, size_t whylen)
{
	struct ms_dkim_signtab *t = NULL;
	char lwhy[256] = "";
	ms_status st = ms_dkim_signtab_new(NULL, &t);
	if (st != MS_OK)
		return fail(why, whylen, st, 0, "out of memory");
	for (size_t i = 0; i < c->nkeys && st == MS_OK; i++) {
		const struct mm_key *k = &c->keys[i];
		struct ms_dkim_key *key = NULL;
		st = load(user, k->path, &key, lwhy, sizeof(lwhy));
		if (st == MS_OK) {
			st = ms_dkim_signtab_add_key(t, k->name, k->domain, k->selector, key, lwhy,
						     sizeof(lwhy));
			if (st != MS_OK)
				ms_dkim_key_free(key);
		}
		if (st != MS_OK)
			fail(why, whylen, st, 0, "KeyTable %s: %s", k->name, lwhy);
	}
	for (size_t i = 0; i < c->nrules && st == MS_OK; i++) {
		st = ms_dkim_signtab_add_rule(t, c->rules[i].pattern, c->rules[i].keys, lwhy,
					      sizeof(lwhy));
		if (st != MS_OK)
			fail(why, whylen, st, 0, "SigningTable: %s", lwhy);
	}
	for (size_t i = 0; i < c->nnetworks && st == MS_OK; i++) {
		st = ms_dkim_signtab_add_network(t, c->networks[i], lwhy, sizeof(lwhy));
		if (st != MS_OK)
			fail(why, whylen, st, 0, "InternalHosts: %s", lwhy);
	}
	if (st != MS_OK) {
		ms_dkim_signtab_free(t);
		return st;
	}
	*out = t;
	return MS_OK;
}
