/* iprev.c - RFC 8601 s3 reverse-DNS check with forward confirmation. */
#include "ms_common.h"
#include "spf_internal.h"
#include "mailsec/iprev.h"

#include <stdio.h>
#include <string.h>

struct ms_iprev_verdict {
	struct ms_env env;
	enum ms_iprev_result result;
	char ip[48];
	char *name;
	char names[MS_SPF_MAX_MX_PTR_NAMES * 4][256];
	size_t nnames, ignored;
	char problem[256];
	enum ms_dns_security dnssec;
};

static int addr_matches(const struct ms_dns_result *r, const struct spf_ip *ip)
{
	uint16_t type = ip->v4 ? MS_DNS_T_A : MS_DNS_T_AAAA;
	for (size_t i = 0; i < ms_dns_result_count(r); i++) {
		size_t len;
		const uint8_t *d = ms_dns_result_rdata(r, i, &len);
		if (ms_dns_result_rtype(r, i) == type && len == (ip->v4 ? 4u : 16u) &&
		    memcmp(d, ip->b, len) == 0)
			return 1;
	}
	return 0;
}

static int failed(enum ms_dns_outcome o)
{
	return o == MS_DNS_SERVFAIL || o == MS_DNS_TIMEOUT || o == MS_DNS_REFUSED;
}

ms_status ms_iprev_check(const struct ms_env *env, struct ms_dns_ctx *dns, const char *ip,
			 unsigned max_names, struct ms_iprev_verdict **out,
			 char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no output pointer");
	*out = NULL;
	struct spf_ip a;
	if (dns == NULL || spf_ip_parse(ip, &a) != 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s' is not an IP address",
			      ip ? ip : "(null)");
	if (max_names == 0)
		max_names = MS_IPREV_DEFAULT_MAX_NAMES;
	if (max_names > MS_SPF_MAX_MX_PTR_NAMES * 4)
		max_names = MS_SPF_MAX_MX_PTR_NAMES * 4;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_iprev_verdict *v = ms_calloc(&e, 1, sizeof(*v));
	if (v == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	v->env = e;
	spf_ip_format_c(&a, v->ip, sizeof(v->ip));

	struct ms_dns_result *ptr = NULL;
	ms_status st = ms_dns_lookup_ptr(dns, v->ip, &ptr, why, whylen);
	if (st != MS_OK) {
		ms_free(&e, v);
		return st;
	}
	enum ms_dns_security ptrsec = ms_dns_result_security(ptr);
	enum ms_dns_security all = ptrsec;
	enum ms_dns_outcome o = ms_dns_result_outcome(ptr);
	if (failed(o)) {
		v->result = MS_IPREV_TEMPERROR;
		snprintf(v->problem, sizeof(v->problem), "PTR lookup: %s", ms_dns_outcome_str(o));
	} else if (o != MS_DNS_ANSWER) {
		v->result = MS_IPREV_PERMERROR;
		snprintf(v->problem, sizeof(v->problem), "no PTR record (%s)", ms_dns_outcome_str(o));
	} else {
		int temp = 0;
		v->result = MS_IPREV_FAIL;
		for (size_t i = 0; i < ms_dns_result_count(ptr) && v->result != MS_IPREV_PASS; i++) {
			size_t rdlen;
			const uint8_t *rd = ms_dns_result_rdata(ptr, i, &rdlen);
			char name[256];
			if (ms_dns_result_rtype(ptr, i) != MS_DNS_T_PTR ||
			    spf_wire_name(rd, rdlen, name, sizeof(name)) != MS_OK)
				continue;
			if (v->nnames >= max_names) {
				v->ignored++;
				continue;
			}
			snprintf(v->names[v->nnames++], 256, "%s", name);
			struct ms_dns_result *fw = NULL;
			if (ms_dns_lookup(dns, name, a.v4 ? MS_DNS_T_A : MS_DNS_T_AAAA, &fw,
					  NULL, 0) != MS_OK) {
				/* not made (out of memory...): temporary, not "fail" */
				all = ms_dns_security_combine(all, MS_DNS_INDETERMINATE);
				temp = 1;
				continue;
			}
			enum ms_dns_security fs = ms_dns_result_security(fw);
			all = ms_dns_security_combine(all, fs);
			if (failed(ms_dns_result_outcome(fw))) {
				temp = 1;
			} else if (addr_matches(fw, &a)) {
				v->result = MS_IPREV_PASS;
				v->name = v->names[v->nnames - 1];
				all = ms_dns_security_combine(ptrsec, fs);
			}
			ms_dns_result_free(fw);
		}
		if (v->result != MS_IPREV_PASS) {
			if (temp)
				v->result = MS_IPREV_TEMPERROR;
			snprintf(v->problem, sizeof(v->problem), "%s",
				 temp ? "a forward lookup failed temporarily" :
				 v->nnames ? "no PTR name resolves back to the address" :
				 "no usable PTR name");
		}
	}
	v->dnssec = all;
	ms_dns_result_free(ptr);
	struct ms_kv kv[] = { { "result", ms_iprev_result_str(v->result) } };
	ms_metric(&e, MS_METRIC_COUNTER, "iprev_checks_total", kv, 1, 1);
	*out = v;
	return MS_OK;
}

void ms_iprev_verdict_free(struct ms_iprev_verdict *v)
{
	if (v == NULL)
		return;
	struct ms_env e = v->env;
	ms_free(&e, v);
}

enum ms_iprev_result ms_iprev_verdict_result(const struct ms_iprev_verdict *v)
{
	return v ? v->result : MS_IPREV_PERMERROR;
}
const char *ms_iprev_verdict_ip(const struct ms_iprev_verdict *v) { return v ? v->ip : NULL; }
const char *ms_iprev_verdict_name(const struct ms_iprev_verdict *v) { return v ? v->name : NULL; }
size_t ms_iprev_verdict_ptr_count(const struct ms_iprev_verdict *v) { return v ? v->nnames : 0; }
const char *ms_iprev_verdict_ptr_name(const struct ms_iprev_verdict *v, size_t i)
{
	return v && i < v->nnames ? v->names[i] : NULL;
}
size_t ms_iprev_verdict_ignored(const struct ms_iprev_verdict *v) { return v ? v->ignored : 0; }
const char *ms_iprev_verdict_problem(const struct ms_iprev_verdict *v)
{
	return v && v->result != MS_IPREV_PASS ? v->problem : NULL;
}
enum ms_dns_security ms_iprev_verdict_dnssec(const struct ms_iprev_verdict *v)
{
	return v ? v->dnssec : MS_DNS_INDETERMINATE;
}

const char *ms_iprev_result_str(enum ms_iprev_result r)
{
	switch (r) {
	case MS_IPREV_PASS: return "pass";
	case MS_IPREV_FAIL: return "fail";
	case MS_IPREV_TEMPERROR: return "temperror";
	case MS_IPREV_PERMERROR: return "permerror";
	}
	return "?";
}
