/*
 * deliver_tlsrpt.c - what an attempt of the delivery means for SMTP TLS
 * Reporting (RFC 8460): the policy it was made under (s4.4), its result
 * type (s4.3), and the hand-over to the caller's attempt observer
 * (requiretls_deliver.h), which libreports' recorder implements.  Nothing
 * here runs without an observer except the two small classifications the
 * attempt keeps in ms_rtls_attempt.tlsrpt.
 */
#include "deliver_internal.h"

#include "mailsec/requiretls_verify.h"

#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

#define TLSRPT_MAX_STRINGS 64 /* policy strings per event (TLSA records, policy lines) */
#define TLSRPT_TEXT 65536     /* bytes for their text (full-certificate TLSA records) */

enum ms_tlsrpt_policy_type rtls_tlsrpt_policy(const struct ms_rtls_route *r,
					      const struct ms_rtls_route_host *h)
{
	/* A TLSA lookup that failed is still the DANE policy (dnssec-invalid);
	 * only a secure "no TLSA" or an insecure answer leaves DANE out. */
	const struct ms_dane_lookup *l = ms_rtls_route_host_dane(h);
	const struct ms_rtls_plan *p = ms_rtls_route_host_plan(h);
	if ((l && ms_dane_lookup_state(l) != MS_DANE_DNS_NONE) ||
	    (p->mode == MS_RTLS_MODE_SKIP && p->reason == MS_RTLS_R_TLSA_LOOKUP))
		return MS_TLSRPT_POLICY_TLSA;
	if (ms_rtls_route_flags(r) & MS_RTLS_ROUTE_STS_POLICY)
		return MS_TLSRPT_POLICY_STS;
	return MS_TLSRPT_POLICY_NONE;
}

enum ms_tlsrpt_result rtls_tlsrpt_of_peer(enum ms_tlsrpt_policy_type type,
					  const struct ms_rtls_peer *peer)
{
	if (type == MS_TLSRPT_POLICY_TLSA && peer->dane == MS_RTLS_STEP_FAILED)
		return peer->dane_tlsrpt != MS_TLSRPT_SUCCESS ? peer->dane_tlsrpt
							      : MS_TLSRPT_VALIDATION_FAILURE;
	if (type == MS_TLSRPT_POLICY_STS && peer->pkix == MS_RTLS_STEP_FAILED) {
		switch (peer->pkix_error) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			return MS_TLSRPT_CERTIFICATE_EXPIRED;
		case X509_V_ERR_HOSTNAME_MISMATCH:
			return MS_TLSRPT_CERTIFICATE_HOST_MISMATCH;
		case 0:
			return MS_TLSRPT_VALIDATION_FAILURE; /* the check could not run */
		default:
			return MS_TLSRPT_CERTIFICATE_NOT_TRUSTED;
		}
	}
	/* no-policy-found: any certificate is a successful TLS session */
	return MS_TLSRPT_SUCCESS;
}

struct strings {
	const char *s[TLSRPT_MAX_STRINGS];
	size_t n;
	const char *mx[TLSRPT_MAX_STRINGS];
	size_t nmx;
	char *text;
	size_t used;
};

static char *keep(struct strings *st, const char *p, size_t len)
{
	if (st->used + len + 1 > TLSRPT_TEXT)
		return NULL;
	char *o = st->text + st->used;
	memcpy(o, p, len);
	o[len] = '\0';
	st->used += len + 1;
	return o;
}

static void tlsa_strings(const struct ms_rtls_route_host *h, struct strings *st)
{
	const struct ms_dane_lookup *l = ms_rtls_route_host_dane(h);
	const struct ms_dane_tlsa *recs = NULL;
	size_t n = l ? ms_dane_lookup_records(l, &recs) : 0;
	for (size_t i = 0; i < n && st->n < TLSRPT_MAX_STRINGS; i++) {
		char *o = st->text + st->used;
		if (ms_dane_tlsa_to_text(&recs[i], o, TLSRPT_TEXT - st->used) != MS_OK)
			break;
		st->s[st->n++] = o;
		st->used += strlen(o) + 1;
	}
}

/* The policy text, one string per non-empty line (s4.4), and the "mx"
 * values as the s4.4 mx-host list. */
static void sts_strings(const struct ms_rtls_route *r, struct strings *st)
{
	const char *t = ms_rtls_route_sts_result(r) ? ms_sts_result_policy_text(ms_rtls_route_sts_result(r))
						    : NULL;
	while (t && *t && st->n < TLSRPT_MAX_STRINGS) {
		size_t len = strcspn(t, "\r\n");
		if (len > 0) {
			char *line = keep(st, t, len);
			if (line == NULL)
				break;
			st->s[st->n++] = line;
			if (strncmp(line, "mx:", 3) == 0 && st->nmx < TLSRPT_MAX_STRINGS) {
				const char *v = line + 3;
				v += strspn(v, " \t");
				st->mx[st->nmx++] = v;
			}
		}
		t += len;
		t += strspn(t, "\r\n");
	}
}

void rtls_tlsrpt_notify(struct ms_rtls_delivery *d, const struct ms_rtls_attempt *a)
{
	if (d->observer == NULL || a->o.plaintext)
		return;
	const struct ms_rtls_plan *plan = ms_rtls_route_host_plan(a->host);
	enum ms_tlsrpt_result result = a->tlsrpt;
	const char *reason = a->error;
	if (a->mode == MS_RTLS_MODE_SKIP) {
		/* Only the skips that are the receiving domain's TLS failures. */
		if (plan->reason == MS_RTLS_R_TLSA_LOOKUP)
			result = MS_TLSRPT_DNSSEC_INVALID;
		else if (plan->reason == MS_RTLS_R_STS_MX_MISMATCH)
			result = MS_TLSRPT_VALIDATION_FAILURE;
		else
			return;
		reason = plan->text;
	} else if (!a->greeted) {
		return; /* no TLS outcome: the connection never got to EHLO */
	}
	if (result == MS_TLSRPT_SUCCESS && a->o.handshake != MS_RTLS_STEP_OK)
		result = MS_TLSRPT_VALIDATION_FAILURE;
	if (result != MS_TLSRPT_SUCCESS && reason[0] == '\0')
		reason = a->dane[0] ? a->dane : a->pkix[0] ? a->pkix : a->out.text;
	if (result == MS_TLSRPT_STARTTLS_NOT_SUPPORTED && reason[0] == '\0')
		reason = "STARTTLS not offered in the EHLO reply";
	if (result != MS_TLSRPT_SUCCESS && reason[0] == '\0')
		reason = "TLS session failed";
	if (result == MS_TLSRPT_SUCCESS)
		reason = "";

	struct strings st = { .n = 0 };
	st.text = ms_malloc(&d->env, TLSRPT_TEXT);
	if (st.text == NULL)
		return; /* a report row less, never a failed delivery */
	enum ms_tlsrpt_policy_type type = rtls_tlsrpt_policy(d->route, a->host);
	/* The domain publishes MTA-STS but its policy could not be had (no
	 * cached one either): the route went on without a policy (RFC 8461
	 * s5.1), and the report says why under "sts" (RFC 8460 s4.3.3). */
	const struct ms_sts_result *sr = ms_rtls_route_sts_result(d->route);
	enum ms_tlsrpt_result sf = sr ? ms_sts_result_failure(sr) : MS_TLSRPT_SUCCESS;
	if (type == MS_TLSRPT_POLICY_NONE &&
	    (sf == MS_TLSRPT_STS_POLICY_FETCH_ERROR || sf == MS_TLSRPT_STS_POLICY_INVALID ||
	     sf == MS_TLSRPT_STS_WEBPKI_INVALID)) {
		type = MS_TLSRPT_POLICY_STS;
		result = sf;
		reason = ms_sts_result_failure_detail(sr);
		if (reason == NULL || reason[0] == '\0')
			reason = ms_tlsrpt_result_name(sf);
	}
	if (type == MS_TLSRPT_POLICY_TLSA)
		tlsa_strings(a->host, &st);
	else if (type == MS_TLSRPT_POLICY_STS)
		sts_strings(d->route, &st);
	struct ms_rtls_tlsrpt_event ev = {
		.policy_domain = ms_rtls_route_domain(d->route),
		.policy_type = type,
		.policy_strings = st.s,
		.npolicy_strings = st.n,
		.mx_patterns = st.mx,
		.nmx_patterns = st.nmx,
		.mx_host = ms_rtls_route_host_name(a->host),
		.addr = a->addr,
		.result = result,
		.reason = reason,
	};
	d->observer(d->observer_arg, &ev);
	ms_free(&d->env, st.text);
}
