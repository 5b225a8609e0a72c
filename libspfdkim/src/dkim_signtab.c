/* dkim_signtab.c - the signing policy: KeyTable, SigningTable, internal
 * networks, and the per-message decision (mailsec/dkim_signtab.h). */
#include "ms_common.h"
#include "spf_internal.h"
#include "mailsec/dkim_signtab.h"
#include "mailsec/dmarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_key {
	char name[MS_DKIM_SIGNTAB_MAX_NAME + 1];
	char *domain, *selector;
	struct ms_dkim_key *key;
};

enum st_match { ST_EXACT, ST_SUBDOMAINS, ST_ANY };

struct st_rule {
	enum st_match match;
	char *domain;              /* lower case; NULL for ST_ANY */
	size_t keys[MS_DKIM_SIGNTAB_MAX_RULE_KEYS];
	size_t nkeys;
};

struct st_net {
	uint8_t addr[16];
	int v4, bits;
};

struct ms_dkim_signtab {
	struct ms_env env;
	struct st_key *keys;
	size_t nkeys;
	struct st_rule *rules;
	size_t nrules;
	struct st_net nets[MS_DKIM_SIGNTAB_MAX_NETWORKS];
	size_t nnets;
};

ms_status ms_dkim_signtab_new(const struct ms_env *env, struct ms_dkim_signtab **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dkim_signtab *t = ms_calloc(&e, 1, sizeof(*t));
	if (t == NULL)
		return MS_ERR_NOMEM;
	t->env = e;
	*out = t;
	return MS_OK;
}

void ms_dkim_signtab_free(struct ms_dkim_signtab *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nkeys; i++) {
		ms_free(&t->env, t->keys[i].domain);
		ms_free(&t->env, t->keys[i].selector);
		ms_dkim_key_free(t->keys[i].key);
	}
	for (size_t i = 0; i < t->nrules; i++)
		ms_free(&t->env, t->rules[i].domain);
	ms_free(&t->env, t->keys);
	ms_free(&t->env, t->rules);
	struct ms_env e = t->env;
	ms_free(&e, t);
}

/* A domain or selector as DNS labels of letters, digits, '-' and '_'
 * (selectors and _domainkey-style names use '_'), no empty label. */
static int valid_dnsname(const char *s)
{
	size_t n = s ? strlen(s) : 0, label = 0;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

static int valid_keyname(const char *s, size_t n)
{
	if (n == 0 || n > MS_DKIM_SIGNTAB_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static char *lower_dup(const struct ms_env *env, const char *s, size_t n)
{
	char *d = ms_strndup(env, s, n);
	if (d != NULL)
		for (char *p = d; *p; p++)
			*p = (char)ms_ascii_lower((unsigned char)*p);
	return d;
}

static long find_key(const struct ms_dkim_signtab *t, const char *name, size_t n)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strlen(t->keys[i].name) == n && memcmp(t->keys[i].name, name, n) == 0)
			return (long)i;
	return -1;
}

ms_status ms_dkim_signtab_add_key(struct ms_dkim_signtab *t, const char *name,
				  const char *domain, const char *selector,
				  struct ms_dkim_key *key, char *why, size_t whylen)
{
	if (t == NULL || name == NULL || key == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing table, key name or key");
	size_t nlen = strlen(name);
	if (!valid_keyname(name, nlen))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad key name '%.64s'", name);
	if (find_key(t, name, nlen) >= 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "key name '%s' used twice", name);
	if (!valid_dnsname(domain))
		return ms_why(why, whylen, MS_ERR_INVALID, "key '%s': bad domain", name);
	if (!valid_dnsname(selector))
		return ms_why(why, whylen, MS_ERR_INVALID, "key '%s': bad selector", name);
	if (t->nkeys >= MS_DKIM_SIGNTAB_MAX_KEYS)
		return ms_why(why, whylen, MS_ERR_LIMIT, "more than %u keys",
			      MS_DKIM_SIGNTAB_MAX_KEYS);
	struct st_key *k = ms_realloc(&t->env, t->keys, (t->nkeys + 1) * sizeof(*k));
	if (k == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	t->keys = k;
	k = &t->keys[t->nkeys];
	memset(k, 0, sizeof(*k));
	memcpy(k->name, name, nlen);
	k->domain = lower_dup(&t->env, domain, strlen(domain));
	k->selector = ms_strdup(&t->env, selector);
	if (k->domain == NULL || k->selector == NULL) {
		ms_free(&t->env, k->domain);
		ms_free(&t->env, k->selector);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	k->key = key;
	t->nkeys++;
	return MS_OK;
}

ms_status ms_dkim_signtab_add_rule(struct ms_dkim_signtab *t, const char *pattern,
				   const char *keynames, char *why, size_t whylen)
{
	if (t == NULL || pattern == NULL || keynames == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing table, pattern or key names");
	struct st_rule r;
	memset(&r, 0, sizeof(r));
	const char *dom = pattern;
	if (strcmp(pattern, "*") == 0) {
		r.match = ST_ANY;
		dom = NULL;
	} else if (strncmp(pattern, "*@", 2) == 0) {
		r.match = ST_EXACT;
		dom = pattern + 2;
	} else if (strncmp(pattern, "*.", 2) == 0) {
		r.match = ST_SUBDOMAINS;
		dom = pattern + 2;
	} else if (pattern[0] == '.') {
		r.match = ST_SUBDOMAINS;
		dom = pattern + 1;
	} else {
		r.match = ST_EXACT;
	}
	if (dom != NULL && strchr(dom, '@') != NULL)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "pattern '%.64s': local-part patterns are not supported (the decision is per domain)",
			      pattern);
	if (dom != NULL && !valid_dnsname(dom))
		return ms_why(why, whylen, MS_ERR_INVALID, "pattern '%.64s' is not a domain pattern",
			      pattern);
	/* key names, comma-separated, white space around them allowed */
	const char *p = keynames;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		size_t n = (size_t)(p - s);
		while (*p == ' ' || *p == '\t')
			p++;
		if (n == 0)
			return ms_why(why, whylen, MS_ERR_INVALID, "pattern '%.64s': empty key name",
				      pattern);
		long k = find_key(t, s, n);
		if (k < 0)
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "pattern '%.64s': no key named '%.*s'", pattern,
				      (int)(n > 64 ? 64 : n), s);
		if (r.nkeys >= MS_DKIM_SIGNTAB_MAX_RULE_KEYS)
			return ms_why(why, whylen, MS_ERR_LIMIT, "pattern '%.64s': more than %u keys",
				      pattern, MS_DKIM_SIGNTAB_MAX_RULE_KEYS);
		r.keys[r.nkeys++] = (size_t)k;
		if (*p == '\0')
			break;
		if (*p != ',')
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "pattern '%.64s': key names are separated by commas", pattern);
		p++;
	}
	if (t->nrules >= MS_DKIM_SIGNTAB_MAX_RULES)
		return ms_why(why, whylen, MS_ERR_LIMIT, "more than %u signing rules",
			      MS_DKIM_SIGNTAB_MAX_RULES);
	if (dom != NULL && (r.domain = lower_dup(&t->env, dom, strlen(dom))) == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	struct st_rule *rules = ms_realloc(&t->env, t->rules, (t->nrules + 1) * sizeof(*rules));
	if (rules == NULL) {
		ms_free(&t->env, r.domain);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	t->rules = rules;
	t->rules[t->nrules++] = r;
	return MS_OK;
}

ms_status ms_dkim_signtab_add_network(struct ms_dkim_signtab *t, const char *network,
				      char *why, size_t whylen)
{
	if (t == NULL || network == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing table or network");
	char addr[64];
	const char *slash = strchr(network, '/');
	size_t alen = slash ? (size_t)(slash - network) : strlen(network);
	if (alen == 0 || alen >= sizeof(addr))
		return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s' is not a network", network);
	memcpy(addr, network, alen);
	addr[alen] = '\0';
	struct spf_ip ip;
	/* a colon means IPv6 as written, even for an IPv4-mapped address */
	int written_v6 = strchr(addr, ':') != NULL;
	if (spf_ip_parse(addr, &ip) != 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s' is not a network", network);
	int max = ip.v4 ? 32 : 128, bits = max;
	if (slash != NULL) {
		const char *b = slash + 1;
		if (*b < '0' || *b > '9' || strlen(b) > 3)
			return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s': bad prefix length", network);
		bits = 0;
		for (; *b; b++) {
			if (*b < '0' || *b > '9')
				return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s': bad prefix length",
					      network);
			bits = bits * 10 + (*b - '0');
		}
		/* ::ffff:10.0.0.0/104 names an IPv4 /8 */
		if (written_v6 && ip.v4)
			bits = bits >= 96 ? bits - 96 : -1;
		if (bits < 0 || bits > max)
			return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s': prefix longer than the address",
				      network);
	}
	if (t->nnets >= MS_DKIM_SIGNTAB_MAX_NETWORKS)
		return ms_why(why, whylen, MS_ERR_LIMIT, "more than %u networks",
			      MS_DKIM_SIGNTAB_MAX_NETWORKS);
	struct st_net *n = &t->nets[t->nnets++];
	memcpy(n->addr, ip.b, 16);
	n->v4 = ip.v4;
	n->bits = bits;
	return MS_OK;
}

int ms_dkim_signtab_outgoing(const struct ms_dkim_signtab *t, const char *client_ip,
			     int authenticated)
{
	if (t == NULL)
		return 0;
	if (authenticated)
		return 1;
	struct spf_ip ip;
	if (client_ip == NULL || spf_ip_parse(client_ip, &ip) != 0)
		return 0;
	for (size_t i = 0; i < t->nnets; i++)
		if (spf_ip_match(&ip, t->nets[i].addr, t->nets[i].v4, t->nets[i].bits))
			return 1;
	return 0;
}

static int rule_matches(const struct st_rule *r, const char *dom)
{
	if (r->match == ST_ANY)
		return 1;
	size_t dl = strlen(dom), rl = strlen(r->domain);
	if (r->match == ST_EXACT)
		return dl == rl && ms_ascii_casecmp(dom, r->domain) == 0;
	return dl > rl + 1 && dom[dl - rl - 1] == '.' &&
	       ms_ascii_casecmp(dom + dl - rl, r->domain) == 0;
}

static ms_status decide(const struct ms_dkim_signtab *t, const char *client_ip,
			int authenticated, const uint8_t *const *from_values,
			const size_t *from_lens, size_t n,
			enum ms_dkim_signtab_decision *decision, const struct st_rule **rule,
			char *why, size_t whylen)
{
	if (t == NULL || decision == NULL || (n > 0 && (from_values == NULL || from_lens == NULL)))
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	*rule = NULL;
	if (!ms_dkim_signtab_outgoing(t, client_ip, authenticated)) {
		*decision = MS_DKIM_SIGNTAB_NOT_OUTGOING;
		return MS_OK;
	}
	enum ms_dmarc_from_outcome fo;
	char dom[256], fwhy[128] = "";
	ms_status st = ms_dmarc_from_headers(from_values, from_lens, n, &fo, dom, sizeof(dom),
					     fwhy, sizeof(fwhy));
	if (st == MS_ERR_INVALID)
		return ms_why(why, whylen, st, "From: %s", fwhy);
	if (st != MS_OK || fo != MS_DMARC_FROM_OK) {
		*decision = MS_DKIM_SIGNTAB_BAD_FROM;
		ms_why(why, whylen, MS_OK, "From: %s", st != MS_OK ? fwhy :
		       ms_dmarc_from_outcome_str(fo));
		return MS_OK;
	}
	for (size_t i = 0; i < t->nrules; i++)
		if (rule_matches(&t->rules[i], dom)) {
			*rule = &t->rules[i];
			*decision = MS_DKIM_SIGNTAB_SIGN;
			return MS_OK;
		}
	*decision = MS_DKIM_SIGNTAB_NO_RULE;
	ms_why(why, whylen, MS_OK, "no signing rule for %s", dom);
	return MS_OK;
}

ms_status ms_dkim_signtab_decide(const struct ms_dkim_signtab *t, const char *client_ip,
				 int authenticated, const uint8_t *const *from_values,
				 const size_t *from_lens, size_t n,
				 enum ms_dkim_signtab_decision *decision, size_t *nkeys,
				 char *why, size_t whylen)
{
	const struct st_rule *r;
	ms_status st = decide(t, client_ip, authenticated, from_values, from_lens, n, decision,
			      &r, why, whylen);
	if (nkeys != NULL)
		*nkeys = st == MS_OK && r != NULL ? r->nkeys : 0;
	return st;
}

ms_status ms_dkim_signtab_signer(const struct ms_dkim_signtab *t, const char *client_ip,
				 int authenticated, const uint8_t *const *from_values,
				 const size_t *from_lens, size_t n,
				 enum ms_dkim_signtab_decision *decision,
				 struct ms_dkim_signer **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	*out = NULL;
	const struct st_rule *r;
	ms_status st = decide(t, client_ip, authenticated, from_values, from_lens, n, decision,
			      &r, why, whylen);
	if (st != MS_OK || r == NULL)
		return st;
	struct ms_dkim_signer *s = NULL;
	st = ms_dkim_signer_new(&t->env, &s);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "signer: %s", ms_status_str(st));
	for (size_t i = 0; i < r->nkeys; i++) {
		const struct st_key *k = &t->keys[r->keys[i]];
		struct ms_dkim_sign_opts o = {
			.version = MS_DKIM_SIGN_OPTS_VERSION,
			.key = k->key,
			.domain = k->domain,
			.selector = k->selector,
			.header_canon = MS_DKIM_CANON_RELAXED,
			.body_canon = MS_DKIM_CANON_RELAXED,
		};
		st = ms_dkim_signer_add(s, &o, why, whylen);
		if (st != MS_OK) {
			ms_dkim_signer_free(s);
			return st;
		}
	}
	*out = s;
	return MS_OK;
}

const char *ms_dkim_signtab_decision_str(enum ms_dkim_signtab_decision d)
{
	switch (d) {
	case MS_DKIM_SIGNTAB_SIGN: return "sign";
	case MS_DKIM_SIGNTAB_NOT_OUTGOING: return "not-outgoing";
	case MS_DKIM_SIGNTAB_NO_RULE: return "no-rule";
	case MS_DKIM_SIGNTAB_BAD_FROM: return "bad-from";
	}
	return "unknown";
}
