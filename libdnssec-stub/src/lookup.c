/*
 * lookup.c - turning libunbound answers into results, the CNAME-security
 * walk, per-lookup logs and metrics, and the public synchronous calls.
 */
#include "dns_internal.h"

#include <string.h>
#include <unbound.h>

/* libunbound names carry the trailing dot; ours do not.  `dst` holds the
 * query name already: most answers have no CNAME, and their canonical
 * name is that name again, so it is compared before it is normalised. */
static void copy_name(char *dst, const char *src)
{
	size_t n = strlen(dst);
	if (strncmp(src, dst, n) == 0 &&
	    (src[n] == '\0' || (src[n] == '.' && src[n + 1] == '\0')))
		return;
	char tmp[MS_DNS_NAME_MAX];
	if (ms_dns_name_normalize(src, tmp, sizeof(tmp), NULL, 0) == MS_OK)
		memcpy(dst, tmp, strlen(tmp) + 1);
}

struct ms_dns_result *ms_dns_timeout_result(const struct ms_env *env,
					    const char *qname, uint16_t qtype)
{
	struct ms_dns_result *r = ms_dns_result_alloc(env, qname, qtype);
	if (r == NULL)
		return NULL;
	r->outcome = MS_DNS_TIMEOUT;
	r->security = MS_DNS_INDETERMINATE;
	r->ede = 22; /* No Reachable Authority */
	r->ede_text = ms_strdup(&r->env, "no answer before the lookup deadline");
	return r;
}

struct ms_dns_result *ms_dns_from_ub(struct ms_dns_ctx *ctx, const char *qname,
				     uint16_t qtype, int err,
				     struct ub_result *ub)
{
	/* Size the records first so the result is one allocation: with 1,000
	 * lookups in flight the per-answer mallocs were a visible share of
	 * the delivery cost (docs/PERFORMANCE.md, async-1000). */
	size_t nrec = 0, datalen = 0;
	int records = err == 0 && ub != NULL && !ub->bogus && ub->rcode == 0 &&
		      ub->havedata && ub->data != NULL;
	for (int i = 0; records && ub->data[i]; i++) {
		/* libunbound never hands out more; refused as before this
		 * was one block (no result, never an empty answer) */
		if (ub->len[i] < 0 || ub->len[i] > 65535 || nrec == 65535)
			return NULL;
		nrec++;
		datalen += (size_t)ub->len[i];
	}
	struct ms_dns_result *r = ms_dns_result_alloc_packed(&ctx->env, qname, qtype,
							     nrec, datalen);
	if (r == NULL)
		return NULL;
	if (err != 0 || ub == NULL) {
		r->outcome = MS_DNS_SERVFAIL;
		r->security = MS_DNS_INDETERMINATE;
		r->ede = 0; /* Other Error */
		r->ede_text = ms_strdup(&r->env, ub_strerror(err));
		return r;
	}
	if (ub->canonname)
		copy_name(r->canonical, ub->canonname);
	r->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;

	if (ub->bogus) {
		/* RFC 4035 s5.5: bogus data is an error, never an answer. */
		r->outcome = MS_DNS_SERVFAIL;
		r->security = MS_DNS_BOGUS;
		r->ede = ms_dns_ede_from_why_bogus(ub->why_bogus);
		r->ede_text = ms_strdup(&r->env, ub->why_bogus ? ub->why_bogus :
						 "DNSSEC validation failed");
		r->ttl = 0;
		return r;
	}
	r->security = ub->secure ? MS_DNS_SECURE : MS_DNS_INSECURE;
	switch (ub->rcode) {
	case 0:
		r->outcome = ub->havedata ? MS_DNS_ANSWER : MS_DNS_NODATA;
		break;
	case 3:
		r->outcome = MS_DNS_NXDOMAIN;
		break;
	case 5:
		r->outcome = MS_DNS_REFUSED;
		r->security = MS_DNS_INDETERMINATE;
		r->ede = 18; /* Prohibited */
		break;
	default:
		/* SERVFAIL and anything else: we could not find out. */
		r->outcome = MS_DNS_SERVFAIL;
		r->security = MS_DNS_INDETERMINATE;
		r->ede = 22; /* No Reachable Authority */
		r->ede_text = ms_strdup(&r->env, "the resolver could not get an answer");
		break;
	}
	if (r->outcome == MS_DNS_ANSWER) {
		for (size_t i = 0; i < nrec; i++)
			ms_dns_result_add_inline(r, qtype, (const uint8_t *)ub->data[i],
						 (size_t)ub->len[i]);
		if (r->n == 0)
			r->outcome = MS_DNS_NODATA;
	}
	return r;
}

/*
 * Whether every CNAME between qname and the canonical name was secure.
 * libunbound reports one security state for the whole answer, so an alias
 * chain that is signed but ends in an unsigned zone shows as "insecure".
 * DANE needs the distinction (RFC 7672 s2.2.2: a secure CNAME chain makes
 * the expanded name the TLSA base domain), so we ask for each CNAME; these
 * lookups are cache hits.
 */
static int cname_chain_secure(struct ms_dns_ctx *ctx, const struct ms_dns_result *r)
{
	char name[MS_DNS_NAME_MAX];
	memcpy(name, r->qname, sizeof(name));
	for (int step = 0; step < MS_DNS_MAX_CNAME_STEPS; step++) {
		if (strcmp(name, r->canonical) == 0)
			return 1;
		struct ms_dns_result *c = NULL;
		if (ms_dns_sync_lookup(ctx, name, MS_DNS_T_CNAME, 0, &c) != MS_OK)
			return 0;
		int ok = c->outcome == MS_DNS_ANSWER && c->security == MS_DNS_SECURE &&
			 c->n == 1 &&
			 ms_dns_result_name(c, 0, name, sizeof(name)) == MS_OK;
		ms_dns_result_free(c);
		if (!ok)
			return 0;
	}
	return 0; /* longer than we follow: not proven */
}

void ms_dns_finish(struct ms_dns_ctx *ctx, struct ms_dns_result *r,
		   uint64_t started_ns)
{
	ms_dns_finish_cname(ctx, r);
	ms_dns_report(ctx, r, started_ns);
}

void ms_dns_finish_cname(struct ms_dns_ctx *ctx, struct ms_dns_result *r)
{
	if (strcmp(r->qname, r->canonical) != 0) {
		if (r->security == MS_DNS_SECURE)
			r->cname_secure = 1; /* the validator proved the whole chain */
		else if (ctx->ub != NULL)
			r->cname_secure = cname_chain_secure(ctx, r);
		else if (r->cname_secure < 0)
			r->cname_secure = 0;
	}
}

void ms_dns_report(struct ms_dns_ctx *ctx, struct ms_dns_result *r, uint64_t started_ns)
{
	uint64_t ns = ms_monotonic_ns() - started_ns;
	r->duration_ms = (uint32_t)(ns / 1000000u);

	char tbuf[16];
	const char *type = ms_dns_type_str(r->qtype, tbuf, sizeof(tbuf));
	const char *outcome = ms_dns_outcome_str(r->outcome);
	const char *security = ms_dns_security_str(r->security);
	if (ms_log_enabled(&ctx->env, MS_LOG_DEBUG)) {
		char dur[32], ede[16];
		snprintf(dur, sizeof(dur), "%.3f", (double)ns / 1e6);
		snprintf(ede, sizeof(ede), "%d", r->ede);
		struct ms_kv kv[] = {
			{ "type", type }, { "name", r->qname }, { "outcome", outcome },
			{ "security", security }, { "ede", ede }, { "duration_ms", dur },
		};
		ms_log(&ctx->env, MS_LOG_DEBUG, "dns", "lookup", kv,
		       sizeof(kv) / sizeof(kv[0]));
	}
	struct ms_kv labels[] = {
		{ "type", type }, { "outcome", outcome }, { "security", security },
	};
	ms_metric(&ctx->env, MS_METRIC_COUNTER, "dns_lookups_total", labels, 3, 1);
	ms_metric(&ctx->env, MS_METRIC_HISTOGRAM, "dns_lookup_duration_seconds",
		  labels, 1, (double)ns / 1e9);
}

ms_status ms_dns_lookup(struct ms_dns_ctx *ctx, const char *name, uint16_t type,
			struct ms_dns_result **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no output pointer");
	*out = NULL;
	if (ctx == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no resolver context");
	char norm[MS_DNS_NAME_MAX];
	ms_status st = ms_dns_name_normalize(name, norm, sizeof(norm), why, whylen);
	if (st != MS_OK)
		return st;
	st = ms_dns_sync_lookup(ctx, norm, type, 1, out);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "lookup failed: %s", ms_status_str(st));
	return MS_OK;
}

ms_status ms_dns_lookup_ptr(struct ms_dns_ctx *ctx, const char *ip,
			    struct ms_dns_result **out, char *why, size_t whylen)
{
	char name[MS_DNS_NAME_MAX];
	if (out)
		*out = NULL;
	if (ms_dns_reverse_name(ip, name, sizeof(name)) != MS_OK)
		return ms_why(why, whylen, MS_ERR_INVALID, "not an IP address: %s",
			      ip ? ip : "(null)");
	return ms_dns_lookup(ctx, name, MS_DNS_T_PTR, out, why, whylen);
}
