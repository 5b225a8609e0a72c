/*
 * dmarc_eval.c - DMARC policy discovery (RFC 7489 s6.6.3, or the DMARCbis
 * tree walk), identifier alignment (s3.1), policy selection (p/sp/np),
 * disposition (pct, t=) and external report destination checks (s7.1).
 */
#include "dmarc_internal.h"

#include <libpsl.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#define TREE_WALK_MAX 8

struct ms_dmarc {
	struct ms_env env;
	struct ms_dns_ctx *dns;
	const psl_ctx_t *psl;
	psl_ctx_t *psl_owned;
	int tree_walk;
	int sample;
};

struct ms_dmarc_verdict {
	struct ms_env env;
	enum ms_dmarc_result result;
	enum ms_dmarc_policy policy, disposition;
	const char *policy_tag;
	char domain[256], org[256], policy_domain[256], dkim_domain[256];
	int have_policy_domain, spf_aligned, dkim_aligned;
	char reason[512];
	struct ms_dmarc_record *record;
	enum ms_dns_security dnssec;
	int any_lookup;
};

/* The Public Suffix List is loaded once per process: psl_latest() reads
 * and parses the system's list (Debian's publicsuffix), and the inbound
 * call makes a DMARC evaluator for every message, so loading it in
 * ms_dmarc_new cost a file open and a parse per message (a milter's
 * largest per-message cost after the protocol itself).  A loaded psl_ctx_t
 * is only read by lookups, which libpsl allows from any thread.  It lives
 * until the process ends (a new list is picked up on restart). */
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl_shared;

static void psl_load(void)
{
	psl_shared = psl_latest(NULL);
}

ms_status ms_dmarc_new(const struct ms_env *env, struct ms_dns_ctx *dns,
		       struct ms_dmarc **out, char *why, size_t whylen)
{
	if (out == NULL || dns == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no output pointer or resolver");
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dmarc *d = ms_calloc(&e, 1, sizeof(*d));
	if (d == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	d->env = e;
	d->dns = dns;
	d->sample = -1;
	/* The newest of libpsl's built-in list and the system's file. */
	pthread_once(&psl_once, psl_load);
	d->psl_owned = NULL;
	d->psl = psl_shared ? psl_shared : psl_builtin();
	if (d->psl == NULL) {
		ms_free(&e, d);
		return ms_why(why, whylen, MS_ERR_CONFIG, "no Public Suffix List available");
	}
	*out = d;
	return MS_OK;
}

void ms_dmarc_free(struct ms_dmarc *d)
{
	if (d == NULL)
		return;
	if (d->psl_owned)
		psl_free(d->psl_owned);
	struct ms_env e = d->env;
	ms_free(&e, d);
}

ms_status ms_dmarc_set_tree_walk(struct ms_dmarc *d, int on)
{
	if (d == NULL)
		return MS_ERR_INVALID;
	d->tree_walk = on != 0;
	return MS_OK;
}

ms_status ms_dmarc_set_pct_sample(struct ms_dmarc *d, int sample)
{
	if (d == NULL || sample < -1 || sample > 99)
		return MS_ERR_INVALID;
	d->sample = sample;
	return MS_OK;
}

ms_status ms_dmarc_org_domain(struct ms_dmarc *d, const char *domain, char *buf, size_t buflen)
{
	char norm[256];
	if (d == NULL || buf == NULL ||
	    ms_dns_name_normalize(domain, norm, sizeof(norm), NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	/* s3.2: the registered domain is the public suffix plus one label. */
	const char *reg = psl_registrable_domain(d->psl, norm);
	const char *org = reg ? reg : norm;
	if (strlen(org) + 1 > buflen)
		return MS_ERR_LIMIT;
	memcpy(buf, org, strlen(org) + 1);
	return MS_OK;
}

static void fold(struct ms_dmarc_verdict *v, enum ms_dns_security s)
{
	v->dnssec = v->any_lookup ? ms_dns_security_combine(v->dnssec, s) : s;
	v->any_lookup = 1;
}

/* Fetch _dmarc.<dom>: 1 record found, 0 none, -1 temporary failure (also when
 * the lookup could not be made or memory ran out). */
static int fetch(struct ms_dmarc *d, struct ms_dmarc_verdict *v, const char *dom,
		 struct ms_dmarc_record **rec)
{
	char q[300];
	*rec = NULL;
	if (snprintf(q, sizeof(q), "_dmarc.%s", dom) >= (int)sizeof(q))
		return 0;
	struct ms_dns_result *r = NULL;
	/* A lookup that could not be made (out of memory, resolver failure)
	 * says nothing about the record: temporary, never "no policy". */
	if (ms_dns_lookup(d->dns, q, MS_DNS_T_TXT, &r, NULL, 0) != MS_OK)
		return -1;
	fold(v, ms_dns_result_security(r));
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	if (o == MS_DNS_SERVFAIL || o == MS_DNS_TIMEOUT || o == MS_DNS_REFUSED) {
		ms_dns_result_free(r);
		return -1;
	}
	int found = 0, nomem = 0;
	for (size_t i = 0; i < ms_dns_result_count(r) && !nomem; i++) {
		size_t rdlen, tlen;
		if (ms_dns_result_rtype(r, i) != MS_DNS_T_TXT)
			continue;
		const uint8_t *rd = ms_dns_result_rdata(r, i, &rdlen);
		char *text = ms_malloc(&d->env, rdlen + 1);
		if (text == NULL) {
			nomem = 1;
			break;
		}
		if (ms_dns_parse_txt(rd, rdlen, text, rdlen + 1, &tlen) == MS_OK &&
		    tlen >= 8 && memcmp(text, "v=DMARC1", 8) == 0) {
			struct ms_dmarc_record *one = NULL;
			ms_status ps = ms_dmarc_record_parse(&d->env, (const uint8_t *)text, tlen,
							     &one, NULL, 0);
			if (ps == MS_OK) {
				found++;
				ms_dmarc_record_free(*rec);
				*rec = one;
			} else if (ps == MS_ERR_NOMEM) {
				nomem = 1;
			}
		}
		ms_free(&d->env, text);
	}
	ms_dns_result_free(r);
	/* a record we could not read for lack of memory is not "no record" */
	if (nomem) {
		ms_dmarc_record_free(*rec);
		*rec = NULL;
		return -1;
	}
	/* s6.6.3: more than one DMARC record means no policy. */
	if (found != 1) {
		ms_dmarc_record_free(*rec);
		*rec = NULL;
		return 0;
	}
	return 1;
}

static int labels(const char *s)
{
	int n = 1;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

/* The DMARCbis tree walk: the author domain, then parents; with eight or
 * more labels, jump to the seven right-most; at most 8 queries.  Returns
 * like fetch(); *where gets the domain of the record, and the org domain
 * is worked out from psd= tags along the way. */
static int tree_walk(struct ms_dmarc *d, struct ms_dmarc_verdict *v, const char *dom,
		     struct ms_dmarc_record **rec, char *where, char *org)
{
	const char *cur = dom;
	struct ms_dmarc_record *found = NULL;
	char org_best[256] = "";
	int first = 1, queries = 0;
	*rec = NULL;
	while (cur && *cur && queries < TREE_WALK_MAX) {
		struct ms_dmarc_record *r = NULL;
		int st = fetch(d, v, cur, &r);
		queries++;
		if (st < 0) {
			ms_dmarc_record_free(found);
			return -1;
		}
		if (st == 1) {
			if (found == NULL) {
				found = r;
				snprintf(where, 256, "%s", cur);
				r = NULL;
			}
			/* Org domain: a psd=n record marks it; psd=y marks the
			 * public suffix (org is one label below); else the
			 * record with the fewest labels. */
			char psd = ms_dmarc_record_psd(r ? r : found);
			if (psd == 'n') {
				snprintf(org, 256, "%s", cur);
				ms_dmarc_record_free(r);
				break;
			}
			if (psd == 'y') {
				/* one label below cur, on the path to dom */
				size_t cl = strlen(cur), dl = strlen(dom);
				const char *p = dom + dl - cl;
				if (p > dom) {
					const char *q = p - 1;
					while (q > dom && q[-1] != '.')
						q--;
					snprintf(org, 256, "%s", q);
				} else {
					snprintf(org, 256, "%s", cur);
				}
				ms_dmarc_record_free(r);
				break;
			}
			snprintf(org_best, sizeof(org_best), "%s", cur);
			ms_dmarc_record_free(r);
		}
		if (first && labels(cur) >= 8) {
			/* skip to the seven right-most labels */
			int drop = labels(cur) - 7;
			while (drop-- > 0 && (cur = strchr(cur, '.')) != NULL)
				cur++;
		} else {
			cur = strchr(cur, '.');
			if (cur)
				cur++;  /* the TLD level is queried too: a PSD may publish there */
		}
		first = 0;
	}
	if (org[0] == '\0')
		snprintf(org, 256, "%s", org_best[0] ? org_best : dom);
	*rec = found;
	return found ? 1 : 0;
}

static int aligned(struct ms_dmarc *d, const char *a, const char *from, const char *from_org,
		   enum ms_dmarc_align mode)
{
	char na[256], oa[256];
	if (a == NULL || ms_dns_name_normalize(a, na, sizeof(na), NULL, 0) != MS_OK)
		return 0;
	if (strcmp(na, from) == 0)
		return 1;
	if (mode == MS_DMARC_ALIGN_STRICT)
		return 0;
	if (d->tree_walk) {
		/* Relaxed under the tree walk: same org domain means one is
		 * at or below the other's org domain. */
		size_t ol = strlen(from_org), nl = strlen(na);
		return (nl == ol && strcmp(na, from_org) == 0) ||
		       (nl > ol && na[nl - ol - 1] == '.' && strcmp(na + nl - ol, from_org) == 0);
	}
	if (ms_dmarc_org_domain(d, na, oa, sizeof(oa)) != MS_OK)
		return 0;
	return strcmp(oa, from_org) == 0;
}

/* DMARCbis np=: does the domain exist (any A, AAAA or MX record, or a
 * NODATA answer)?  1 yes, 0 no (NXDOMAIN for both), -1 could not tell (the
 * lookup failed: SERVFAIL, timeout, bogus, out of memory). */
static int domain_exists(struct ms_dmarc *d, struct ms_dmarc_verdict *v, const char *dom)
{
	static const uint16_t types[] = { 0 /* address */, MS_DNS_T_MX };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct ms_dns_result *r = NULL;
		ms_status st = types[i] ? ms_dns_lookup(d->dns, dom, types[i], &r, NULL, 0)
					: ms_dns_lookup_addr(d->dns, dom, &r, NULL, 0);
		if (st != MS_OK)
			return -1;
		fold(v, ms_dns_result_security(r));
		enum ms_dns_outcome o = ms_dns_result_outcome(r);
		/* a combined address lookup whose other half failed still
		 * proves existence with the records it kept */
		size_t kept = ms_dns_result_count(r);
		ms_dns_result_free(r);
		if (o == MS_DNS_ANSWER || o == MS_DNS_NODATA || kept > 0)
			return 1;
		if (o != MS_DNS_NXDOMAIN)
			return -1;
	}
	return 0;
}

static unsigned sample(struct ms_dmarc *d)
{
	if (d->sample >= 0)
		return (unsigned)d->sample;
	unsigned v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (unsigned)ms_monotonic_ns();
	return v % 100;
}

ms_status ms_dmarc_check(struct ms_dmarc *d, const char *from_domain,
			 enum ms_spf_result spf, const char *spf_domain,
			 const char *const *dkim_domains, const char *const *dkim_selectors,
			 const enum ms_dmarc_dkim_result *dkim_results, size_t ndkim,
			 struct ms_dmarc_verdict **out, char *why, size_t whylen)
{
	(void)dkim_selectors;
	if (out == NULL || d == NULL || (ndkim && (dkim_domains == NULL || dkim_results == NULL)))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_dmarc_verdict *v = ms_calloc(&d->env, 1, sizeof(*v));
	if (v == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	v->env = d->env;
	v->policy = v->disposition = MS_DMARC_POLICY_NONE;
	v->dnssec = MS_DNS_INDETERMINATE;
	if (from_domain == NULL ||
	    ms_dns_name_normalize(from_domain, v->domain, sizeof(v->domain), why, whylen) != MS_OK) {
		ms_free(&d->env, v);
		return ms_why(why, whylen, MS_ERR_INVALID, "invalid From domain");
	}

	int st;
	struct ms_dmarc_record *rec = NULL;
	if (d->tree_walk) {
		st = tree_walk(d, v, v->domain, &rec, v->policy_domain, v->org);
	} else {
		ms_dmarc_org_domain(d, v->domain, v->org, sizeof(v->org));
		st = fetch(d, v, v->domain, &rec);
		snprintf(v->policy_domain, sizeof(v->policy_domain), "%s", v->domain);
		if (st == 0 && strcmp(v->org, v->domain) != 0) {
			st = fetch(d, v, v->org, &rec);
			snprintf(v->policy_domain, sizeof(v->policy_domain), "%s", v->org);
		}
	}
	v->record = rec;
	v->have_policy_domain = st == 1;

	/* Alignment (s3.1) is reported even without a policy. */
	enum ms_dmarc_align aspf = rec ? rec->aspf : MS_DMARC_ALIGN_RELAXED;
	enum ms_dmarc_align adkim = rec ? rec->adkim : MS_DMARC_ALIGN_RELAXED;
	v->spf_aligned = spf == MS_SPF_PASS && aligned(d, spf_domain, v->domain, v->org, aspf);
	for (size_t i = 0; i < ndkim && !v->dkim_aligned; i++)
		if (dkim_results[i] == MS_DMARC_DKIM_PASS &&
		    aligned(d, dkim_domains[i], v->domain, v->org, adkim)) {
			v->dkim_aligned = 1;
			ms_dns_name_normalize(dkim_domains[i], v->dkim_domain,
					      sizeof(v->dkim_domain), NULL, 0);
		}

	if (st < 0) {
		v->result = MS_DMARC_TEMPERROR;
		snprintf(v->reason, sizeof(v->reason), "DMARC policy lookup failed temporarily");
	} else if (st == 0) {
		v->result = MS_DMARC_NONE;
		snprintf(v->reason, sizeof(v->reason), "no DMARC policy for %s", v->domain);
	} else {
		/* Which policy: the domain's own record uses p=; a record found
		 * higher up uses sp= (or p=), and np= for a non-existent domain. */
		v->policy = rec->p;
		v->policy_tag = "p";
		int exists = 1;
		if (strcmp(v->policy_domain, v->domain) != 0) {
			exists = rec->np != MS_DMARC_POLICY_ABSENT ? domain_exists(d, v, v->domain) : 1;
			if (exists == 0) {
				v->policy = rec->np;
				v->policy_tag = "np";
			} else if (rec->sp != MS_DMARC_POLICY_ABSENT) {
				v->policy = rec->sp;
				v->policy_tag = "sp";
			}
		}
		if (exists < 0 && rec->np != v->policy && !v->spf_aligned && !v->dkim_aligned) {
			/* The policy hangs on whether the domain exists, and a
			 * DNS failure must not choose the laxer of sp= and np=. */
			v->result = MS_DMARC_TEMPERROR;
			v->policy = MS_DMARC_POLICY_NONE;
			v->policy_tag = NULL;
			snprintf(v->reason, sizeof(v->reason),
				 "could not tell whether %.200s exists (np=): DNS failed temporarily",
				 v->domain);
		} else if (v->spf_aligned || v->dkim_aligned) {
			v->result = MS_DMARC_PASS;
			v->disposition = MS_DMARC_POLICY_NONE;
			snprintf(v->reason, sizeof(v->reason), "%s%s%s aligned with %s",
				 v->spf_aligned ? "SPF" : "", v->spf_aligned && v->dkim_aligned ?
				 " and " : "", v->dkim_aligned ? "DKIM" : "", v->domain);
		} else {
			v->result = MS_DMARC_FAIL;
			v->disposition = v->policy;
			const char *lowered = "";
			if (rec->testing && v->disposition > MS_DMARC_POLICY_NONE) {
				v->disposition--;
				lowered = ", lowered one step by t=y";
			} else if (rec->pct < 100 && v->disposition > MS_DMARC_POLICY_NONE &&
				   sample(d) >= rec->pct) {
				/* s6.6.4: outside the pct sample, apply the next
				 * less strict policy. */
				v->disposition--;
				lowered = ", lowered one step by pct sampling";
			}
			snprintf(v->reason, sizeof(v->reason),
				 "neither SPF nor DKIM aligned with %.200s; %s=%s from _dmarc.%.200s%s",
				 v->domain, v->policy_tag, ms_dmarc_policy_str(v->policy),
				 v->policy_domain, lowered);
		}
	}
	struct ms_kv kv[] = { { "result", ms_dmarc_result_str(v->result) } };
	ms_metric(&d->env, MS_METRIC_COUNTER, "dmarc_checks_total", kv, 1, 1);
	*out = v;
	return MS_OK;
}

void ms_dmarc_verdict_free(struct ms_dmarc_verdict *v)
{
	if (v == NULL)
		return;
	ms_dmarc_record_free(v->record);
	struct ms_env e = v->env;
	ms_free(&e, v);
}

enum ms_dmarc_result ms_dmarc_verdict_result(const struct ms_dmarc_verdict *v) { return v ? v->result : MS_DMARC_PERMERROR; }
enum ms_dmarc_policy ms_dmarc_verdict_policy(const struct ms_dmarc_verdict *v) { return v ? v->policy : MS_DMARC_POLICY_NONE; }
const char *ms_dmarc_verdict_policy_tag(const struct ms_dmarc_verdict *v) { return v ? v->policy_tag : NULL; }
enum ms_dmarc_policy ms_dmarc_verdict_disposition(const struct ms_dmarc_verdict *v) { return v ? v->disposition : MS_DMARC_POLICY_NONE; }
const char *ms_dmarc_verdict_reason(const struct ms_dmarc_verdict *v) { return v ? v->reason : NULL; }
const char *ms_dmarc_verdict_domain(const struct ms_dmarc_verdict *v) { return v ? v->domain : NULL; }
const char *ms_dmarc_verdict_org_domain(const struct ms_dmarc_verdict *v) { return v ? v->org : NULL; }
const char *ms_dmarc_verdict_policy_domain(const struct ms_dmarc_verdict *v)
{
	return v && v->have_policy_domain ? v->policy_domain : NULL;
}
int ms_dmarc_verdict_spf_aligned(const struct ms_dmarc_verdict *v) { return v ? v->spf_aligned : 0; }
int ms_dmarc_verdict_dkim_aligned(const struct ms_dmarc_verdict *v) { return v ? v->dkim_aligned : 0; }
const char *ms_dmarc_verdict_dkim_domain(const struct ms_dmarc_verdict *v)
{
	return v && v->dkim_aligned ? v->dkim_domain : NULL;
}
const struct ms_dmarc_record *ms_dmarc_verdict_record(const struct ms_dmarc_verdict *v) { return v ? v->record : NULL; }
enum ms_dns_security ms_dmarc_verdict_dnssec(const struct ms_dmarc_verdict *v) { return v ? v->dnssec : MS_DNS_INDETERMINATE; }

const char *ms_dmarc_result_str(enum ms_dmarc_result r)
{
	switch (r) {
	case MS_DMARC_NONE: return "none";
	case MS_DMARC_PASS: return "pass";
	case MS_DMARC_FAIL: return "fail";
	case MS_DMARC_TEMPERROR: return "temperror";
	case MS_DMARC_PERMERROR: return "permerror";
	}
	return "?";
}

static const char *const dkim_names[] = {
	"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"
};

const char *ms_dmarc_dkim_result_str(enum ms_dmarc_dkim_result r)
{
	return (unsigned)r < 7 ? dkim_names[r] : "?";
}

int ms_dmarc_dkim_result_from_str(const char *s)
{
	for (int i = 0; s && i < 7; i++)
		if (ms_ascii_casecmp(s, dkim_names[i]) == 0)
			return i;
	return -1;
}

ms_status ms_dmarc_report_dest_verify(struct ms_dmarc *d, const char *policy_domain,
				      const char *uri, int *authorized,
				      enum ms_dns_security *sec, char *why, size_t whylen)
{
	if (d == NULL || policy_domain == NULL || uri == NULL || authorized == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*authorized = 0;
	if (sec)
		*sec = MS_DNS_INDETERMINATE;
	if (ms_ascii_ncasecmp(uri, "mailto:", 7) != 0)
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "only mailto: URIs are verified");
	const char *at = strrchr(uri, '@');
	if (at == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "mailto: URI without a domain");
	char host[256], norm[256], pol[256], o1[256], o2[256];
	size_t hl = strcspn(at + 1, "!?");
	if (hl == 0 || hl >= sizeof(host))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad domain in URI");
	memcpy(host, at + 1, hl);
	host[hl] = '\0';
	if (ms_dns_name_normalize(host, norm, sizeof(norm), why, whylen) != MS_OK ||
	    ms_dns_name_normalize(policy_domain, pol, sizeof(pol), why, whylen) != MS_OK)
		return MS_ERR_INVALID;
	if (ms_dmarc_org_domain(d, norm, o1, sizeof(o1)) == MS_OK &&
	    ms_dmarc_org_domain(d, pol, o2, sizeof(o2)) == MS_OK && strcmp(o1, o2) == 0) {
		*authorized = 1;   /* same organization: no authorization needed */
		return MS_OK;
	}
	char q[600];
	if (snprintf(q, sizeof(q), "%s._report._dmarc.%s", pol, norm) >= (int)sizeof(q))
		return ms_why(why, whylen, MS_ERR_LIMIT, "name too long");
	struct ms_dns_result *r = NULL;
	ms_status st = ms_dns_lookup(d->dns, q, MS_DNS_T_TXT, &r, why, whylen);
	if (st != MS_OK)
		return st;
	if (sec)
		*sec = ms_dns_result_security(r);
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	if (o == MS_DNS_SERVFAIL || o == MS_DNS_TIMEOUT || o == MS_DNS_REFUSED)
		*authorized = -1;
	for (size_t i = 0; i < ms_dns_result_count(r) && *authorized == 0; i++) {
		char text[512];
		size_t tl;
		if (ms_dns_result_rtype(r, i) == MS_DNS_T_TXT &&
		    ms_dns_result_txt(r, i, text, sizeof(text), &tl) == MS_OK && tl >= 8 &&
		    memcmp(text, "v=DMARC1", 8) == 0 && (tl == 8 || text[8] == ';' || text[8] == ' '))
			*authorized = 1;
	}
	ms_dns_result_free(r);
	return MS_OK;
}
