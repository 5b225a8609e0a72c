/*
 * dmarcrep_row.c - report rows: the keyword checks of RFC 7489 Appendix C,
 * the row of one inbound verdict (ms_auth), and the row set that adds up
 * identical rows.
 */
#include "dmarcrep_internal.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <mailsec/auth.h>

const char *const dmarcrep_disposition_kw[] = { "none", "quarantine", "reject", NULL };
const char *const dmarcrep_eval_kw[] = { "pass", "fail", NULL };
const char *const dmarcrep_reason_kw[] = { "", "forwarded", "sampled_out", "trusted_forwarder",
					   "mailing_list", "local_policy", "other", NULL };
const char *const dmarcrep_spf_kw[] = { "none", "neutral", "pass", "fail", "softfail",
					"temperror", "permerror", NULL };
const char *const dmarcrep_scope_kw[] = { "mfrom", "helo", NULL };
const char *const dmarcrep_dkim_kw[] = { "none", "pass", "fail", "policy", "neutral",
					 "temperror", "permerror", NULL };
const char *const dmarcrep_policy_kw[] = { "none", "quarantine", "reject", NULL };

int dmarcrep_kw(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

int dmarcrep_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= dstlen) {
		dst[0] = '\0';
		return 0;
	}
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
	return 1;
}

/* A string in a fixed array: terminated inside it, printable ASCII
 * without spaces (names, keywords, addresses), so that every field can
 * stand in XML, JSON and the store's key without further escaping. */
static int field_ok(const char *s, size_t cap, int may_be_empty)
{
	size_t n = strnlen(s, cap);
	if (n == cap || (n == 0 && !may_be_empty))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

ms_status ms_dmarcrep_row_check(const struct ms_dmarcrep_row *row, char *why, size_t whylen)
{
	if (row == NULL || row->version != MS_DMARCREP_ROW_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID, "no row or unknown row version");
	uint8_t ip[16];
	if (!field_ok(row->source_ip, sizeof(row->source_ip), 0) ||
	    (inet_pton(AF_INET, row->source_ip, ip) != 1 &&
	     inet_pton(AF_INET6, row->source_ip, ip) != 1))
		return ms_why(why, whylen, MS_ERR_INVALID, "source_ip is not an IP address");
	if (!field_ok(row->policy_domain, sizeof(row->policy_domain), 1) ||
	    !field_ok(row->header_from, sizeof(row->header_from), 0) ||
	    !field_ok(row->envelope_from, sizeof(row->envelope_from), 1) ||
	    !field_ok(row->spf_domain, sizeof(row->spf_domain), 1))
		return ms_why(why, whylen, MS_ERR_INVALID, "a domain field is empty or malformed");
	/* the policy string has spaces between its tags */
	size_t pl = strnlen(row->policy, sizeof(row->policy));
	if (pl == sizeof(row->policy))
		return ms_why(why, whylen, MS_ERR_INVALID, "policy not terminated");
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)row->policy[i] < 0x20 || (unsigned char)row->policy[i] >= 0x7f)
			return ms_why(why, whylen, MS_ERR_INVALID, "policy has a control character");
	if (strnlen(row->disposition, sizeof(row->disposition)) == sizeof(row->disposition) ||
	    !dmarcrep_kw(row->disposition, dmarcrep_disposition_kw))
		return ms_why(why, whylen, MS_ERR_INVALID, "disposition is not none|quarantine|reject");
	if (strnlen(row->dkim_eval, sizeof(row->dkim_eval)) == sizeof(row->dkim_eval) ||
	    strnlen(row->spf_eval, sizeof(row->spf_eval)) == sizeof(row->spf_eval) ||
	    !dmarcrep_kw(row->dkim_eval, dmarcrep_eval_kw) ||
	    !dmarcrep_kw(row->spf_eval, dmarcrep_eval_kw))
		return ms_why(why, whylen, MS_ERR_INVALID, "policy_evaluated dkim/spf is not pass|fail");
	if (strnlen(row->reason, sizeof(row->reason)) == sizeof(row->reason) ||
	    !dmarcrep_kw(row->reason, dmarcrep_reason_kw))
		return ms_why(why, whylen, MS_ERR_INVALID, "unknown policy override reason");
	if (row->spf_domain[0] || row->spf_result[0] || row->spf_scope[0]) {
		if (strnlen(row->spf_result, sizeof(row->spf_result)) == sizeof(row->spf_result) ||
		    strnlen(row->spf_scope, sizeof(row->spf_scope)) == sizeof(row->spf_scope) ||
		    !row->spf_domain[0] || !dmarcrep_kw(row->spf_result, dmarcrep_spf_kw) ||
		    (row->spf_scope[0] && !dmarcrep_kw(row->spf_scope, dmarcrep_scope_kw)))
			return ms_why(why, whylen, MS_ERR_INVALID, "bad SPF auth result");
	}
	if (row->ndkim > MS_DMARCREP_MAX_DKIM)
		return ms_why(why, whylen, MS_ERR_INVALID, "more than %d DKIM results",
			      MS_DMARCREP_MAX_DKIM);
	for (size_t i = 0; i < row->ndkim; i++) {
		const struct ms_dmarcrep_dkim *d = &row->dkim[i];
		if (!field_ok(d->domain, sizeof(d->domain), 0) ||
		    !field_ok(d->selector, sizeof(d->selector), 1) ||
		    strnlen(d->result, sizeof(d->result)) == sizeof(d->result) ||
		    !dmarcrep_kw(d->result, dmarcrep_dkim_kw))
			return ms_why(why, whylen, MS_ERR_INVALID, "bad DKIM auth result %zu", i);
	}
	if (row->count == 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "count is 0");
	return MS_OK;
}

static const char *pol(enum ms_dmarc_policy p)
{
	return p == MS_DMARC_POLICY_QUARANTINE ? "quarantine" :
	       p == MS_DMARC_POLICY_REJECT ? "reject" : "none";
}

ms_status ms_dmarcrep_row_from_auth(const struct ms_auth *a, int64_t when,
				    struct ms_dmarcrep_row *row, int *reportable,
				    char *why, size_t whylen)
{
	if (a == NULL || row == NULL || reportable == NULL || when < 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*reportable = 0;
	const struct ms_dmarc_verdict *v = ms_auth_dmarc(a);
	const struct ms_spf_verdict *spf = ms_auth_spf(a);
	if (v == NULL || ms_dmarc_verdict_policy_domain(v) == NULL ||
	    ms_dmarc_verdict_record(v) == NULL || ms_dmarc_verdict_result(v) == MS_DMARC_NONE)
		return MS_OK;   /* no published policy: nobody to report to */
	if (spf == NULL || ms_auth_dmarc_from_domain(a) == NULL)
		return ms_why(why, whylen, MS_ERR_STATE, "verdict without SPF or author domain");
	struct ms_dmarcrep_row r;
	memset(&r, 0, sizeof(r));
	r.version = MS_DMARCREP_ROW_VERSION;
	r.hour = when - when % 3600;
	r.count = 1;
	const struct ms_dmarc_record *rec = ms_dmarc_verdict_record(v);
	enum ms_dmarc_policy p = ms_dmarc_record_p(rec), sp = ms_dmarc_record_sp(rec),
			     np = ms_dmarc_record_np(rec);
	snprintf(r.policy, sizeof(r.policy), "p=%s sp=%s adkim=%c aspf=%c pct=%u%s%s", pol(p),
		 pol(sp == MS_DMARC_POLICY_ABSENT ? p : sp),
		 ms_dmarc_record_adkim(rec) == MS_DMARC_ALIGN_STRICT ? 's' : 'r',
		 ms_dmarc_record_aspf(rec) == MS_DMARC_ALIGN_STRICT ? 's' : 'r',
		 ms_dmarc_record_pct(rec), np == MS_DMARC_POLICY_ABSENT ? "" : " np=",
		 np == MS_DMARC_POLICY_ABSENT ? "" : pol(np));
	const char *sender = ms_spf_verdict_sender(spf);
	const char *at = sender ? strrchr(sender, '@') : NULL;
	if (!dmarcrep_copy(r.policy_domain, sizeof(r.policy_domain),
			   ms_dmarc_verdict_policy_domain(v)) ||
	    !dmarcrep_copy(r.source_ip, sizeof(r.source_ip), ms_spf_verdict_ip(spf)) ||
	    !dmarcrep_copy(r.header_from, sizeof(r.header_from), ms_auth_dmarc_from_domain(a)) ||
	    !dmarcrep_copy(r.envelope_from, sizeof(r.envelope_from),
			   ms_spf_verdict_identity(spf) == MS_SPF_ID_MAILFROM && at ? at + 1 : "") ||
	    !dmarcrep_copy(r.spf_domain, sizeof(r.spf_domain), ms_spf_verdict_domain(spf)))
		return ms_why(why, whylen, MS_ERR_LIMIT, "a field of the verdict is too long");
	for (char *c = r.envelope_from; *c; c++)
		*c = (char)ms_ascii_lower((unsigned char)*c);
	snprintf(r.spf_scope, sizeof(r.spf_scope), "%s",
		 ms_spf_verdict_identity(spf) == MS_SPF_ID_HELO ? "helo" : "mfrom");
	snprintf(r.spf_result, sizeof(r.spf_result), "%s",
		 ms_spf_result_str(ms_spf_verdict_result(spf)));
	snprintf(r.dkim_eval, sizeof(r.dkim_eval), "%s",
		 ms_dmarc_verdict_dkim_aligned(v) ? "pass" : "fail");
	snprintf(r.spf_eval, sizeof(r.spf_eval), "%s",
		 ms_dmarc_verdict_spf_aligned(v) ? "pass" : "fail");
	/* What the MTA applied, and why when it is milder than the policy. */
	enum ms_auth_disposition applied = ms_auth_disposition(a);
	enum ms_dmarc_policy dmarc_disp = ms_dmarc_verdict_disposition(v);
	enum ms_dmarc_policy policy = ms_dmarc_verdict_policy(v);
	int applied_p = applied == MS_AUTH_REJECT ? 2 : applied == MS_AUTH_QUARANTINE ? 1 : 0;
	snprintf(r.disposition, sizeof(r.disposition), "%s",
		 applied == MS_AUTH_REJECT ? "reject" :
		 applied == MS_AUTH_QUARANTINE ? "quarantine" : "none");
	if (ms_dmarc_verdict_result(v) == MS_DMARC_FAIL) {
		if (applied_p < (int)dmarc_disp)
			snprintf(r.reason, sizeof(r.reason), "local_policy");
		else if ((int)dmarc_disp < (int)policy)
			snprintf(r.reason, sizeof(r.reason), "sampled_out");
	}
	for (size_t i = 0; i < ms_auth_dkim_count(a) && r.ndkim < MS_DMARCREP_MAX_DKIM; i++) {
		const struct ms_dkim_sig *s = ms_auth_dkim_sig(a, i);
		const char *d = s ? ms_dkim_sig_domain(s) : NULL;
		const char *sel = s ? ms_dkim_sig_selector(s) : NULL;
		struct ms_dmarcrep_dkim *k = &r.dkim[r.ndkim];
		/* a signature without a usable d= names nobody: skipped */
		if (d == NULL || !d[0] || !dmarcrep_copy(k->domain, sizeof(k->domain), d))
			continue;
		if (!dmarcrep_copy(k->selector, sizeof(k->selector), sel ? sel : ""))
			k->selector[0] = '\0';
		for (char *c = k->domain; *c; c++)
			*c = (char)ms_ascii_lower((unsigned char)*c);
		snprintf(k->result, sizeof(k->result), "%s",
			 ms_dmarc_dkim_result_str(ms_auth_dkim_result(a, i)));
		/* a hostile d= or s= with spaces would not fit the store's key */
		if (ms_dmarcrep_row_check(&(struct ms_dmarcrep_row){ .version = 1, .count = 1,
			.source_ip = "127.0.0.1", .header_from = "x", .disposition = "none",
			.dkim_eval = "pass", .spf_eval = "pass", .ndkim = 1, .dkim = { *k } },
			NULL, 0) != MS_OK)
			continue;
		r.ndkim++;
	}
	ms_status st = ms_dmarcrep_row_check(&r, why, whylen);
	if (st != MS_OK)
		return st;
	*row = r;
	*reportable = 1;
	return MS_OK;
}

/* ---- row sets -------------------------------------------------------- */

/* The row reduced to its key: count 0, and for reports no hour and no
 * policy domain; every byte after each string's NUL zero, so that equal
 * keys are equal bytes. */
static void canon(struct ms_dmarcrep_row *k, const struct ms_dmarcrep_row *r, int report_key)
{
	memset(k, 0, sizeof(*k));
	k->version = r->version;
	if (!report_key) {
		k->hour = r->hour;
		strcpy(k->policy_domain, r->policy_domain);
		strcpy(k->policy, r->policy);
	}
	strcpy(k->source_ip, r->source_ip);
	strcpy(k->header_from, r->header_from);
	strcpy(k->envelope_from, r->envelope_from);
	strcpy(k->disposition, r->disposition);
	strcpy(k->dkim_eval, r->dkim_eval);
	strcpy(k->spf_eval, r->spf_eval);
	strcpy(k->reason, r->reason);
	strcpy(k->spf_domain, r->spf_domain);
	strcpy(k->spf_scope, r->spf_scope);
	strcpy(k->spf_result, r->spf_result);
	k->ndkim = r->ndkim;
	for (size_t i = 0; i < r->ndkim; i++) {
		strcpy(k->dkim[i].domain, r->dkim[i].domain);
		strcpy(k->dkim[i].selector, r->dkim[i].selector);
		strcpy(k->dkim[i].result, r->dkim[i].result);
	}
}

#define KEYLEN offsetof(struct ms_dmarcrep_row, count)

static uint64_t hstr(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return (h ^ 0xff) * 1099511628211ull;   /* field separator */
}

/* FNV-1a over the key's strings only (a canonical key is zero after each
 * NUL, so hashing the whole ~4 KB struct would be the same, and slow: the
 * recorder hashes once per message). */
static uint64_t hash(const struct ms_dmarcrep_row *k)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 64; i += 8)
		h = (h ^ (uint8_t)((uint64_t)k->hour >> i)) * 1099511628211ull;
	const char *f[] = { k->policy_domain, k->policy, k->source_ip, k->header_from,
			    k->envelope_from, k->disposition, k->dkim_eval, k->spf_eval,
			    k->reason, k->spf_domain, k->spf_scope, k->spf_result };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		h = hstr(h, f[i]);
	for (size_t i = 0; i < k->ndkim; i++)
		h = hstr(hstr(hstr(h, k->dkim[i].domain), k->dkim[i].selector), k->dkim[i].result);
	return h;
}

void dmarcrep_rowset_init(struct dmarcrep_rowset *s, const struct ms_env *env, int report_key,
			  size_t max)
{
	memset(s, 0, sizeof(*s));
	s->env = env;
	s->report_key = report_key;
	s->max = max;
}

void dmarcrep_rowset_clear(struct dmarcrep_rowset *s)
{
	s->n = 0;
	if (s->slots)
		memset(s->slots, 0, s->nslots * sizeof(*s->slots));
}

void dmarcrep_rowset_free(struct dmarcrep_rowset *s)
{
	ms_free(s->env, s->rows);
	ms_free(s->env, s->slots);
	s->rows = NULL;
	s->slots = NULL;
	s->n = s->cap = s->nslots = 0;
}

static ms_status rehash(struct dmarcrep_rowset *s, size_t nslots)
{
	size_t *slots = ms_calloc(s->env, nslots, sizeof(*slots));
	if (slots == NULL)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = hash(&s->rows[i]) % nslots;
		while (slots[j])
			j = (j + 1) % nslots;
		slots[j] = i + 1;
	}
	ms_free(s->env, s->slots);
	s->slots = slots;
	s->nslots = nslots;
	return MS_OK;
}

ms_status dmarcrep_rowset_add(struct dmarcrep_rowset *s, const struct ms_dmarcrep_row *row,
			      int merge, char *why, size_t whylen)
{
	struct ms_dmarcrep_row k;
	canon(&k, row, s->report_key);
	if (merge && s->nslots) {
		for (size_t j = hash(&k) % s->nslots; s->slots[j]; j = (j + 1) % s->nslots) {
			struct ms_dmarcrep_row *e = &s->rows[s->slots[j] - 1];
			if (memcmp(e, &k, KEYLEN) == 0) {
				if (UINT64_MAX - e->count < row->count)
					return ms_why(why, whylen, MS_ERR_LIMIT, "count overflows");
				e->count += row->count;
				return MS_OK;
			}
		}
	}
	if (s->n >= s->max)
		return ms_why(why, whylen, MS_ERR_LIMIT, "more than %zu rows", s->max);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct ms_dmarcrep_row *nr = ms_realloc(s->env, s->rows, cap * sizeof(*nr));
		if (nr == NULL)
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		s->rows = nr;
		s->cap = cap;
	}
	k.count = row->count;
	s->rows[s->n++] = k;
	if (merge) {
		if (s->n * 2 > s->nslots) {
			if (rehash(s, s->nslots ? s->nslots * 2 : 64) != MS_OK) {
				s->n--;
				return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
			}
		} else {
			size_t j = hash(&k) % s->nslots;
			while (s->slots[j])
				j = (j + 1) % s->nslots;
			s->slots[j] = s->n;
		}
	}
	return MS_OK;
}
