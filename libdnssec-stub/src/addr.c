/*
 * addr.c - the combined A + AAAA lookup.
 *
 * Two lookups become one result, and the way they are folded together is
 * a security decision: a half that failed (timeout, SERVFAIL, REFUSED,
 * bogus) must stay a failure for the caller.  Folding it into a weaker
 * security value of an "answer" is how a dropped AAAA query once turned
 * DANE off (RFC 7672 s2.2: only a successful insecure answer does that).
 * So the combined result takes the failed half's outcome and security, keeps
 * the records of the half that answered (they are genuine and the caller
 * may still use them, e.g. DANE over the secure family only), and records
 * each half's own outcome and security for ms_dns_result_family().
 */
#include "dns_internal.h"

#include <string.h>

/* Order of failures when both halves failed: the more telling one wins. */
static int failure_rank(enum ms_dns_outcome o, enum ms_dns_security s)
{
	if (s == MS_DNS_BOGUS)
		return 4;
	switch (o) {
	case MS_DNS_SERVFAIL: return 3;
	case MS_DNS_TIMEOUT: return 2;
	case MS_DNS_REFUSED: return 1;
	default: return 0;
	}
}

/* Order of non-failures when neither family has records. */
static int empty_rank(enum ms_dns_outcome o)
{
	return o == MS_DNS_NXDOMAIN ? 1 : 0;
}

static ms_status copy_ede(struct ms_dns_result *dst, const struct ms_dns_result *src)
{
	if (dst == src)
		return MS_OK;
	dst->ede = src->ede;
	ms_free(&dst->env, dst->ede_text);
	dst->ede_text = NULL;
	if (src->ede_text && (dst->ede_text = ms_strdup(&dst->env, src->ede_text)) == NULL)
		return MS_ERR_NOMEM;
	return MS_OK;
}

/* Fold `aaaa` into `a`; `a` becomes the combined result. */
static ms_status combine(struct ms_dns_result *a, const struct ms_dns_result *aaaa)
{
	int fa = ms_dns_result_failed(a), f6 = ms_dns_result_failed(aaaa);
	a->families[0] = (struct ms_dns_family){ MS_DNS_T_A, a->outcome, a->security };
	a->families[1] = (struct ms_dns_family){ MS_DNS_T_AAAA, aaaa->outcome, aaaa->security };
	a->nfamilies = 2;
	a->qtype = 0; /* marks the combined lookup; records carry their types */
	a->duration_ms += aaaa->duration_ms;
	if (aaaa->cname_secure >= 0 &&
	    (a->cname_secure < 0 || aaaa->cname_secure < a->cname_secure))
		a->cname_secure = aaaa->cname_secure;
	if (fa) {
		/* A failed: only AAAA's genuine records may be kept. */
		ms_dns_result_clear_records(a);
	}
	const struct ms_dns_result *failed =
		fa && f6 ? (failure_rank(aaaa->outcome, aaaa->security) >
			    failure_rank(a->outcome, a->security) ? aaaa : a) :
		fa ? a : f6 ? aaaa : NULL;
	if (!f6) {
		/* records are added while `a` is not yet marked bogus */
		enum ms_dns_security keep = a->security;
		a->security = MS_DNS_INSECURE;
		ms_status st = ms_dns_result_absorb(a, aaaa);
		a->security = keep;
		if (st != MS_OK)
			return st;
		if (aaaa->n > 0 && (a->n == aaaa->n || aaaa->ttl < a->ttl))
			a->ttl = aaaa->ttl;
	}
	if (failed) {
		/* from the family record: adding records set a->outcome */
		const struct ms_dns_family *f = &a->families[failed == a ? 0 : 1];
		a->outcome = f->outcome;
		a->security = f->security;
		return copy_ede(a, failed);
	}
	a->security = ms_dns_security_combine(a->families[0].security, aaaa->security);
	if (a->n > 0) {
		a->outcome = MS_DNS_ANSWER;
		return MS_OK;
	}
	const struct ms_dns_result *tell =
		empty_rank(aaaa->outcome) > empty_rank(a->families[0].outcome) ? aaaa : a;
	a->outcome = tell == a ? a->families[0].outcome : aaaa->outcome;
	return copy_ede(a, tell);
}

ms_status ms_dns_lookup_addr(struct ms_dns_ctx *ctx, const char *name,
			     struct ms_dns_result **out, char *why, size_t whylen)
{
	struct ms_dns_result *a = NULL, *aaaa = NULL;
	ms_status st = ms_dns_lookup(ctx, name, MS_DNS_T_A, &a, why, whylen);
	if (st != MS_OK)
		return st;
	st = ms_dns_lookup(ctx, name, MS_DNS_T_AAAA, &aaaa, why, whylen);
	if (st != MS_OK) {
		ms_dns_result_free(a);
		return st;
	}
	st = combine(a, aaaa);
	ms_dns_result_free(aaaa);
	if (st != MS_OK) {
		ms_dns_result_free(a);
		return ms_why(why, whylen, st, "cannot combine address results");
	}
	*out = a;
	return MS_OK;
}

ms_status ms_dns_result_family(const struct ms_dns_result *r, uint16_t type,
			       enum ms_dns_outcome *outcome,
			       enum ms_dns_security *security)
{
	if (r == NULL)
		return MS_ERR_INVALID;
	for (size_t i = 0; i < r->nfamilies; i++) {
		if (r->families[i].type != type)
			continue;
		if (outcome)
			*outcome = r->families[i].outcome;
		if (security)
			*security = r->families[i].security;
		return MS_OK;
	}
	return MS_ERR_INVALID;
}

enum ms_dns_security ms_dns_result_records_security(const struct ms_dns_result *r)
{
	if (r == NULL)
		return MS_DNS_INDETERMINATE;
	if (r->nfamilies == 0 || r->n == 0 || !ms_dns_result_failed(r))
		return r->security;
	/* A partial address result: its records are those of the halves
	 * that answered, and carry their security only. */
	enum ms_dns_security sec = MS_DNS_SECURE;
	for (size_t i = 0; i < r->nfamilies; i++) {
		const struct ms_dns_family *f = &r->families[i];
		if (f->outcome == MS_DNS_ANSWER &&
		    (f->security == MS_DNS_SECURE || f->security == MS_DNS_INSECURE))
			sec = ms_dns_security_combine(sec, f->security);
	}
	return sec;
}
