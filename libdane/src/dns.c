/*
 * dns.c - the DNS side of DANE for SMTP (RFC 7672 s2.2): DANE applies to an
 * MX host only when the MX and address lookups are secure; a secure CNAME
 * of the host makes its target the first TLSA base domain to try (then the
 * original name); CNAMEs at _25._tcp are followed by the resolver; an
 * insecure TLSA RRset means no DANE; a bogus or failed lookup means the
 * host cannot be used now (never a silent downgrade to unauthenticated TLS).
 */
#include "dane_internal.h"

#include <mailsec/dns.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 256

struct ms_dane_lookup {
	struct ms_env env;
	enum ms_dane_dns_state state;
	char reason[640];
	char base[NAME_MAX_LEN];
	char owner[NAME_MAX_LEN];
	char mxhost[NAME_MAX_LEN];
	char addr_note[128];
	const char *names[2];
	size_t nnames;
	struct ms_dane_tlsa recs[MS_DANE_MAX_RECORDS];
	uint8_t *data[MS_DANE_MAX_RECORDS];
	size_t nrecs;
};

static void set_state(struct ms_dane_lookup *l, enum ms_dane_dns_state s,
		      const char *fmt, ...) MS_PRINTF(3, 4);
static void set_state(struct ms_dane_lookup *l, enum ms_dane_dns_state s,
		      const char *fmt, ...)
{
	l->state = s;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->reason, sizeof(l->reason), fmt, ap);
	va_end(ap);
}

/* A failed or bogus lookup: the host is unusable for now.  One test for
 * every lookup (ms_dns_result_failed): a failure is never "insecure". */
static int is_failure(const struct ms_dns_result *r)
{
	return ms_dns_result_failed(r);
}

static const char *fail_text(const struct ms_dns_result *r)
{
	return ms_dns_result_security(r) == MS_DNS_BOGUS ? "bogus" :
	       ms_dns_outcome_str(ms_dns_result_outcome(r));
}

/* "A timeout" / "AAAA bogus": how one half of an address lookup ended. */
static void family_text(const struct ms_dns_result *addr, uint16_t type,
			char *buf, size_t len)
{
	enum ms_dns_outcome o = MS_DNS_SERVFAIL;
	enum ms_dns_security s = MS_DNS_INDETERMINATE;
	ms_dns_result_family(addr, type, &o, &s);
	snprintf(buf, len, "%s %s", type == MS_DNS_T_A ? "A" : "AAAA",
		 s == MS_DNS_BOGUS ? "bogus" : ms_dns_outcome_str(o));
}

/*
 * The address side of RFC 7672 s2.2.1.  Returns 1 when DANE may go on,
 * 0 when the state is set (NONE or TEMPFAIL).
 *
 * When one family's lookup failed and the other's is a secure answer,
 * DANE goes on over the secure family's addresses (the only ones the
 * combined result holds): the host stays DANE-protected and reachable,
 * and the party that dropped the queries gains nothing it could not get
 * by dropping everything.  Without usable addresses the failure defers
 * the host.  Only a successful insecure answer makes DANE not apply.
 */
static int address_side(struct ms_dane_lookup *l, const struct ms_dns_result *addr)
{
	enum ms_dns_security sec = ms_dns_result_records_security(addr);
	if (is_failure(addr)) {
		char t4[32], t6[32];
		family_text(addr, MS_DNS_T_A, t4, sizeof(t4));
		family_text(addr, MS_DNS_T_AAAA, t6, sizeof(t6));
		if (ms_dns_result_count(addr) == 0) {
			set_state(l, MS_DANE_DNS_TEMPFAIL, "address lookup for %s failed (%s, %s)",
				  l->mxhost, t4, t6);
			return 0;
		}
		snprintf(l->addr_note, sizeof(l->addr_note), " (address lookup partly failed: %s, %s)",
			 t4, t6);
	} else if (ms_dns_result_outcome(addr) != MS_DNS_ANSWER) {
		set_state(l, MS_DANE_DNS_NONE, "%s has no addresses", l->mxhost);
		return 0;
	}
	if (sec != MS_DNS_SECURE) {
		set_state(l, MS_DANE_DNS_NONE, "the addresses of %s are not DNSSEC-secure%s",
			  l->mxhost, l->addr_note);
		return 0;
	}
	return 1;
}

/* Keep the TLSA records of a secure answer. */
static ms_status take_records(struct ms_dane_lookup *l, const struct ms_dns_result *r)
{
	size_t n = ms_dns_result_count(r);
	for (size_t i = 0; i < n && l->nrecs < MS_DANE_MAX_RECORDS; i++) {
		if (ms_dns_result_rtype(r, i) != MS_DNS_T_TLSA)
			continue;
		size_t len;
		const uint8_t *rd = ms_dns_result_rdata(r, i, &len);
		struct ms_dane_tlsa t;
		if (rd == NULL || ms_dane_tlsa_parse_rdata(rd, len, &t) != MS_OK) {
			/* Malformed rdata: kept as an unusable record (length 0
			 * data never matches), so "all unusable" stays visible. */
			t = (struct ms_dane_tlsa){ 255, 255, 255, NULL, 0 };
		}
		uint8_t *copy = NULL;
		if (t.datalen) {
			copy = ms_malloc(&l->env, t.datalen);
			if (copy == NULL)
				return MS_ERR_NOMEM;
			memcpy(copy, t.data, t.datalen);
		}
		l->data[l->nrecs] = copy;
		t.data = copy;
		l->recs[l->nrecs++] = t;
	}
	return MS_OK;
}

static ms_status lookup(const struct ms_env *caller_env, struct ms_dns_ctx *dns,
			const char *mxhost, int mx_secure, uint16_t port,
			struct ms_dane_lookup **out, char *why, size_t whylen)
{
	if (dns == NULL || mxhost == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_env env;
	ms_env_init(&env, caller_env);
	struct ms_dane_lookup *l = ms_calloc(&env, 1, sizeof(*l));
	if (l == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	l->env = env;
	ms_status st = ms_dns_name_normalize(mxhost, l->mxhost, sizeof(l->mxhost), why, whylen);
	if (st != MS_OK) {
		ms_dane_lookup_free(l);
		return st;
	}
	if (port == 0)
		port = 25;
	*out = l;
	if (!mx_secure) {
		set_state(l, MS_DANE_DNS_NONE, "the MX lookup was not DNSSEC-secure");
		return MS_OK;
	}

	struct ms_dns_result *addr = NULL;
	st = ms_dns_lookup_addr(dns, l->mxhost, &addr, why, whylen);
	if (st != MS_OK) {
		*out = NULL;
		ms_dane_lookup_free(l);
		return st;
	}
	char cands[2][NAME_MAX_LEN];
	size_t ncands = 0;
	if (!address_side(l, addr))
		goto done_addr;
	/* RFC 7672 s2.2.2: a secure CNAME's target first, then the name. */
	const char *canon = ms_dns_result_canonical(addr);
	if (ms_dns_result_cname_secure(addr) == 1 && canon && strcmp(canon, l->mxhost) != 0)
		snprintf(cands[ncands++], NAME_MAX_LEN, "%s", canon);
	snprintf(cands[ncands++], NAME_MAX_LEN, "%s", l->mxhost);

	for (size_t c = 0; c < ncands; c++) {
		char qname[NAME_MAX_LEN + 16];
		snprintf(qname, sizeof(qname), "_%u._tcp.%s", (unsigned)port, cands[c]);
		struct ms_dns_result *r = NULL;
		st = ms_dns_lookup(dns, qname, MS_DNS_T_TLSA, &r, why, whylen);
		if (st != MS_OK) {
			ms_dns_result_free(addr);
			*out = NULL;
			ms_dane_lookup_free(l);
			return st;
		}
		int last = c + 1 == ncands;
		if (is_failure(r)) {
			set_state(l, MS_DANE_DNS_TEMPFAIL, "TLSA lookup at %s failed (%s)", qname,
				  fail_text(r));
			ms_dns_result_free(r);
			break;
		}
		if (ms_dns_result_security(r) != MS_DNS_SECURE) {
			ms_dns_result_free(r);
			if (last)
				set_state(l, MS_DANE_DNS_NONE,
					  "TLSA lookup at %s is not DNSSEC-secure%s", qname, l->addr_note);
			continue;
		}
		if (ms_dns_result_outcome(r) != MS_DNS_ANSWER) {
			ms_dns_result_free(r);
			if (last)
				set_state(l, MS_DANE_DNS_NONE, "no TLSA records at %s%s", qname,
					  l->addr_note);
			continue;
		}
		snprintf(l->base, sizeof(l->base), "%s", cands[c]);
		snprintf(l->owner, sizeof(l->owner), "%s", ms_dns_result_canonical(r));
		st = take_records(l, r);
		ms_dns_result_free(r);
		if (st != MS_OK) {
			ms_dns_result_free(addr);
			*out = NULL;
			ms_dane_lookup_free(l);
			return ms_why(why, whylen, st, "out of memory");
		}
		l->names[l->nnames++] = l->base;
		if (strcmp(l->base, l->mxhost) != 0)
			l->names[l->nnames++] = l->mxhost;
		set_state(l, MS_DANE_DNS_SECURE, "secure TLSA records at %s%s", l->owner,
			  l->addr_note);
		break;
	}
done_addr:
	ms_dns_result_free(addr);
	return MS_OK;
}

ms_status ms_dane_lookup_env(const struct ms_env *env, struct ms_dns_ctx *dns,
			     const char *mxhost, int mx_secure, uint16_t port,
			     struct ms_dane_lookup **out, char *why, size_t whylen)
{
	ms_status st = lookup(env, dns, mxhost, mx_secure, port, out, why, whylen);
	if (st != MS_OK)
		return st;
	const struct ms_dane_lookup *l = *out;
	const char *state = ms_dane_dns_state_str(l->state);
	struct ms_kv label = { "state", state };
	ms_metric(&l->env, MS_METRIC_COUNTER, "dane_lookups_total", &label, 1, 1);
	if (ms_log_enabled(&l->env, MS_LOG_DEBUG)) {
		struct ms_kv kv[] = { { "host", l->mxhost }, { "state", state },
				      { "reason", l->reason } };
		ms_log(&l->env, MS_LOG_DEBUG, "dane", "TLSA lookup finished", kv, 3);
	}
	return MS_OK;
}

const char *ms_dane_dns_state_str(enum ms_dane_dns_state s)
{
	switch (s) {
	case MS_DANE_DNS_SECURE: return "secure";
	case MS_DANE_DNS_NONE: return "none";
	case MS_DANE_DNS_TEMPFAIL: return "tempfail";
	}
	return "unknown";
}

ms_status ms_dane_lookup(struct ms_dns_ctx *dns, const char *mxhost, int mx_secure,
			 uint16_t port, struct ms_dane_lookup **out, char *why,
			 size_t whylen)
{
	return ms_dane_lookup_env(NULL, dns, mxhost, mx_secure, port, out, why, whylen);
}

void ms_dane_lookup_free(struct ms_dane_lookup *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nrecs; i++)
		ms_free(&l->env, l->data[i]);
	struct ms_env e = l->env;
	ms_free(&e, l);
}

enum ms_dane_dns_state ms_dane_lookup_state(const struct ms_dane_lookup *l)
{
	return l ? l->state : MS_DANE_DNS_TEMPFAIL;
}

const char *ms_dane_lookup_reason(const struct ms_dane_lookup *l)
{
	return l ? l->reason : "";
}

const char *ms_dane_lookup_base(const struct ms_dane_lookup *l)
{
	return l && l->base[0] ? l->base : NULL;
}

const char *ms_dane_lookup_tlsa_owner(const struct ms_dane_lookup *l)
{
	return l && l->owner[0] ? l->owner : NULL;
}

size_t ms_dane_lookup_names(const struct ms_dane_lookup *l, const char *const **names)
{
	if (l == NULL)
		return 0;
	if (names)
		*names = l->names;
	return l->nnames;
}

size_t ms_dane_lookup_records(const struct ms_dane_lookup *l,
			      const struct ms_dane_tlsa **recs)
{
	if (l == NULL)
		return 0;
	if (recs)
		*recs = l->recs;
	return l->nrecs;
}

void ms_dane_lookup_input(const struct ms_dane_lookup *l, struct ms_dane_input *in)
{
	if (l == NULL || in == NULL)
		return;
	in->names = l->names;
	in->nnames = l->nnames;
	in->tlsa = l->recs;
	in->ntlsa = l->nrecs;
	in->authentic = l->state == MS_DANE_DNS_SECURE;
}
