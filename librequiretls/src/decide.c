/*
 * decide.c - the delivery TLS decision engine (see requiretls_decide.h).
 *
 * Sources of the rules: RFC 7672 (SMTP DANE), RFC 8461 (MTA-STS), RFC 8689
 * (REQUIRETLS, TLS-Required), RFC 3207 (STARTTLS), RFC 3463/5248 (enhanced
 * status codes).  Each rule below names its section.
 */
#include "mailsec/requiretls_decide.h"
#include "rtls_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *nz(const char *s, const char *dflt)
{
	return (s && *s) ? s : dflt;
}

static int requires_tls(enum ms_rtls_tls_mode m)
{
	return m == MS_RTLS_MODE_DANE || m == MS_RTLS_MODE_PKIX ||
	       m == MS_RTLS_MODE_ENCRYPTED;
}

/* Why TLS is demanded, for DSN texts. */
static const char *tls_because(const struct ms_rtls_domain *d,
			       enum ms_rtls_tls_mode m, int pkix)
{
	if (d->requirement == MS_RTLS_REQ_REQUIRED)
		return "the message requires REQUIRETLS (RFC 8689 s4.2.1)";
	if (m == MS_RTLS_MODE_DANE)
		return pkix ? "DANE TLSA records and an MTA-STS enforce policy (RFC 7672, RFC 8461)"
			    : "DANE TLSA records (RFC 7672 s2.2)";
	if (m == MS_RTLS_MODE_PKIX)
		return "an MTA-STS enforce policy (RFC 8461 s5.1)";
	return "DANE TLSA records, all unusable (RFC 7672 s2.2)";
}

/* Fill the failure part of an outcome. */
static void vset_fail(struct ms_rtls_outcome *o, const struct ms_rtls_domain *d,
		      enum ms_rtls_reason r, int temporary, const char *enhanced,
		      const char *fmt, va_list ap) MS_PRINTF(6, 0);
static void set_fail(struct ms_rtls_outcome *o, const struct ms_rtls_domain *d,
		     enum ms_rtls_reason r, int temporary, const char *enhanced,
		     const char *fmt, ...) MS_PRINTF(6, 7);

static void set_fail(struct ms_rtls_outcome *o, const struct ms_rtls_domain *d,
		     enum ms_rtls_reason r, int temporary, const char *enhanced,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset_fail(o, d, r, temporary, enhanced, fmt, ap);
	va_end(ap);
}

static void vset_fail(struct ms_rtls_outcome *o, const struct ms_rtls_domain *d,
		      enum ms_rtls_reason r, int temporary, const char *enhanced,
		      const char *fmt, va_list ap)
{
	o->reason = r;
	o->temporary = temporary;
	o->basic = temporary ? 4 : 5;
	snprintf(o->enhanced, sizeof(o->enhanced), "%s", enhanced);
	/* RFC 8689 s7 registers 5.7.30 "REQUIRETLS support required": the
	 * code of every returned REQUIRETLS message. */
	if (d->requirement == MS_RTLS_REQ_REQUIRED)
		snprintf(o->bounce_enhanced, sizeof(o->bounce_enhanced), "5.7.30");
	else
		snprintf(o->bounce_enhanced, sizeof(o->bounce_enhanced), "5%s",
			 enhanced + 1);
	char msg[224];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(o->text, sizeof(o->text), "%s%s",
		 d->requirement == MS_RTLS_REQ_REQUIRED ? "REQUIRETLS: " : "", msg);
}

static void plan_skip(struct ms_rtls_plan *p, const struct ms_rtls_domain *d,
		      enum ms_rtls_reason r, enum ms_rtls_verdict v, int temporary,
		      const char *enhanced, const char *fmt, ...) MS_PRINTF(7, 8);
static void plan_skip(struct ms_rtls_plan *p, const struct ms_rtls_domain *d,
		      enum ms_rtls_reason r, enum ms_rtls_verdict v, int temporary,
		      const char *enhanced, const char *fmt, ...)
{
	struct ms_rtls_outcome o;
	memset(&o, 0, sizeof(o));
	va_list ap;
	va_start(ap, fmt);
	vset_fail(&o, d, r, temporary, enhanced, fmt, ap);
	va_end(ap);
	p->mode = MS_RTLS_MODE_SKIP;
	p->verify_dane = p->verify_pkix = p->need_requiretls = 0;
	p->reason = r;
	p->skip_verdict = v;
	memcpy(p->enhanced, o.enhanced, sizeof(p->enhanced));
	memcpy(p->text, o.text, sizeof(p->text));
}

ms_status rtls_plan_fill(const struct ms_rtls_domain *d,
			 const struct ms_rtls_host *h, struct ms_rtls_plan *out)
{
	if (d == NULL || h == NULL || out == NULL)
		return MS_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	out->version = MS_RTLS_PLAN_VERSION;
	const char *dom = nz(d->domain, "the recipient domain");
	const char *host = nz(h->name, "the MX host");
	/* RFC 8689 s5: a DSN about a REQUIRETLS message carries only the
	 * original headers (the body must not leak over weaker hops). */
	out->headers_only = d->dsn_of_requiretls ? 1 : 0;

	/* RFC 7672 s2.1.1: a bogus or indeterminate MX RRset cannot be used;
	 * delivery is deferred for the whole domain. */
	if (d->mx_security == MS_DNS_BOGUS || d->mx_security == MS_DNS_INDETERMINATE) {
		plan_skip(out, d, MS_RTLS_R_MX_LOOKUP, MS_RTLS_TEMPFAIL, 1, "4.4.3",
			  "the MX lookup for %s was %s; delivery deferred (RFC 7672 s2.1.1)",
			  dom, d->mx_security == MS_DNS_BOGUS ? "DNSSEC-bogus" : "indeterminate");
		out->policy_mode = MS_RTLS_MODE_SKIP;
		out->policy_reason = MS_RTLS_R_MX_LOOKUP;
		return MS_OK;
	}

	/* RFC 7672 s2.2.1: a failed or bogus address lookup is not an
	 * "insecure" one; with no usable address the host is skipped now
	 * (whatever the message requires: there is nothing to connect to). */
	if (h->addr_security == MS_DNS_BOGUS || h->addr_security == MS_DNS_INDETERMINATE) {
		plan_skip(out, d, MS_RTLS_R_ADDR_LOOKUP, MS_RTLS_TRY_NEXT, 1, "4.4.3",
			  "the address lookup for %s %s; host skipped for now (RFC 7672 s2.2.1)",
			  host, h->addr_security == MS_DNS_BOGUS ? "was DNSSEC-bogus" : "failed");
		out->policy_mode = MS_RTLS_MODE_SKIP;
		out->policy_reason = MS_RTLS_R_ADDR_LOOKUP;
		return MS_OK;
	}

	/* RFC 7672 s2.2: DANE applies only when the MX RRset and the host's
	 * address records are DNSSEC-secure and a secure TLSA RRset exists
	 * (or its lookup failed, which must not be mistaken for absence). */
	int dane_applies = d->mx_security == MS_DNS_SECURE &&
			   h->addr_security == MS_DNS_SECURE &&
			   (h->dane == MS_RTLS_DANE_USABLE ||
			    h->dane == MS_RTLS_DANE_UNUSABLE ||
			    h->dane == MS_RTLS_DANE_FAILED);
	int dane_failed = dane_applies && h->dane == MS_RTLS_DANE_FAILED;
	int dane_usable = dane_applies && h->dane == MS_RTLS_DANE_USABLE;
	int dane_unusable = dane_applies && h->dane == MS_RTLS_DANE_UNUSABLE;
	/* Issue 19, fail closed: the domain publishes MTA-STS, its policy
	 * could not be fetched and the store that may cache it (RFC 8461 s5.1)
	 * is unreachable: an enforce policy may apply, so the host waits -
	 * unless DANE authenticates it (RFC 8461 s2: DANE is used in
	 * preference) or the sender opted out of TLS requirements (RFC 8689
	 * s4.2.2). */
	if (d->sts_mode == MS_RTLS_STS_UNKNOWN && !dane_usable &&
	    d->requirement != MS_RTLS_REQ_NOT_REQUIRED) {
		plan_skip(out, d, MS_RTLS_R_STS_UNKNOWN, MS_RTLS_TEMPFAIL, 1, "4.7.5",
			  "the MTA-STS policy of %s is unknown (fetch failed, policy store "
			  "unreachable); delivery deferred", dom);
		out->policy_mode = MS_RTLS_MODE_SKIP;
		out->policy_reason = MS_RTLS_R_STS_UNKNOWN;
		return MS_OK;
	}
	int enforce = d->sts_mode == MS_RTLS_STS_ENFORCE;
	int sts_mismatch = enforce && !h->sts_match;

	/* What the domain's policy alone demands. */
	enum ms_rtls_tls_mode pm;
	enum ms_rtls_reason preason = MS_RTLS_R_NONE;
	int pdane = 0, ppkix = 0;
	if (dane_failed) {
		/* RFC 7672 s2.2: a TLSA lookup that fails (bogus, SERVFAIL)
		 * makes the host unusable: skip it, try the next, defer. */
		pm = MS_RTLS_MODE_SKIP;
		preason = MS_RTLS_R_TLSA_LOOKUP;
	} else if (sts_mismatch) {
		/* RFC 8461 s4.1, s5.1: under enforce, an MX host that does not
		 * match the policy's mx patterns must not be used. */
		pm = MS_RTLS_MODE_SKIP;
		preason = MS_RTLS_R_STS_MX_MISMATCH;
	} else if (dane_usable) {
		/* RFC 7672 s2.2 / s3: authenticated TLS per the TLSA records.
		 * RFC 8461 s2: MTA-STS never overrides a failing DANE check,
		 * and when an enforce policy applies too both must pass. */
		pm = MS_RTLS_MODE_DANE;
		pdane = 1;
		ppkix = enforce;
	} else if (dane_unusable) {
		/* RFC 7672 s2.2: all TLSA records unusable -> mandatory TLS
		 * without authentication; an enforce policy adds PKIX. */
		pm = enforce ? MS_RTLS_MODE_PKIX : MS_RTLS_MODE_ENCRYPTED;
		ppkix = enforce;
	} else if (enforce) {
		/* RFC 8461 s5.1: enforce -> PKIX-verified TLS required. */
		pm = MS_RTLS_MODE_PKIX;
		ppkix = 1;
	} else {
		/* RFC 3207 / RFC 7435: opportunistic STARTTLS. */
		pm = MS_RTLS_MODE_OPPORTUNISTIC;
	}
	out->policy_mode = pm;
	out->policy_dane = pdane;
	out->policy_pkix = ppkix;
	out->policy_reason = preason;
	/* RFC 8461 s5.2: testing only reports (TLSRPT, RFC 8460). */
	out->report_pkix = d->sts_mode == MS_RTLS_STS_TESTING;

	if (d->requirement == MS_RTLS_REQ_NOT_REQUIRED) {
		/* RFC 8689 s4.2.2: TLS-Required: No -> still try STARTTLS, but
		 * ignore DANE/MTA-STS and TLS errors, and allow plaintext. */
		out->mode = MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK;
		return MS_OK;
	}
	if (pm == MS_RTLS_MODE_SKIP) {
		if (preason == MS_RTLS_R_TLSA_LOOKUP)
			plan_skip(out, d, preason, MS_RTLS_TRY_NEXT, 1, "4.7.5",
				  "the TLSA lookup for %s failed DNSSEC validation or did not complete (RFC 7672 s2.2)",
				  host);
		else
			plan_skip(out, d, preason, MS_RTLS_TRY_NEXT, 1, "4.7.5",
				  "MX host %s is not listed in the MTA-STS policy of %s (RFC 8461 s4.1)",
				  host, dom);
		return MS_OK;
	}
	if (d->requirement == MS_RTLS_REQ_REQUIRED) {
		/* RFC 8689 s4.2.1: the next hop must be verified either by
		 * DANE (DNSSEC-secure MX, usable TLSA) or by an MTA-STS
		 * enforce policy that lists the host; otherwise the message
		 * cannot go there at all. */
		int via_dane = dane_usable;
		int via_sts = enforce && h->sts_match;
		if (!via_dane && !via_sts) {
			plan_skip(out, d, MS_RTLS_R_NO_VERIFIED_PATH, MS_RTLS_TRY_NEXT, 0,
				  "5.7.30",
				  "no verified TLS to %s: %s has neither DNSSEC-secure MX with usable DANE records nor an MTA-STS enforce policy (RFC 8689 s4.2.1)",
				  host, dom);
			return MS_OK;
		}
		out->need_requiretls = 1;
	}
	out->mode = pm;
	out->verify_dane = pdane;
	out->verify_pkix = ppkix;
	return MS_OK;
}

void ms_rtls_observe_ehlo(const struct ms_rtls_ehlo *set,
			  struct ms_rtls_observed *o)
{
	if (set == NULL || o == NULL || ms_rtls_ehlo_code(set) != 250)
		return;
	if (ms_rtls_ehlo_over_tls(set))
		o->requiretls_offered = ms_rtls_ehlo_has(set, "REQUIRETLS");
	else
		o->starttls_offered = ms_rtls_ehlo_has(set, "STARTTLS");
}

void rtls_outcome_from_plan_fill(const struct ms_rtls_plan *p,
				 struct ms_rtls_outcome *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	out->version = MS_RTLS_OUTCOME_VERSION;
	if (p == NULL || p->mode != MS_RTLS_MODE_SKIP) {
		out->verdict = MS_RTLS_DELIVER;
		return;
	}
	out->verdict = p->skip_verdict;
	out->reason = p->reason;
	memcpy(out->enhanced, p->enhanced, sizeof(out->enhanced));
	memcpy(out->text, p->text, sizeof(out->text));
	out->temporary = p->enhanced[0] == '4';
	out->basic = out->temporary ? 4 : 5;
	if (strncmp(p->text, "REQUIRETLS: ", 12) == 0)
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5.7.30");
	else
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5%s",
			 p->enhanced + 1);
}

/* Whether TLS was established on this attempt. */
static int tls_up(const struct ms_rtls_observed *o)
{
	return !o->plaintext && o->starttls_offered &&
	       o->handshake == MS_RTLS_STEP_OK;
}

/*
 * The first check that a mode with these verification needs fails on the
 * observations, or MS_RTLS_R_NONE.  Handshake NOT_DONE counts as failed.
 */
static enum ms_rtls_reason first_failure(enum ms_rtls_tls_mode mode, int vdane,
					 int vpkix, int vreqtls,
					 const struct ms_rtls_observed *o)
{
	if (!o->connected)
		return MS_RTLS_R_CONNECT;
	if (!requires_tls(mode))
		return MS_RTLS_R_NONE;
	if (o->plaintext && o->handshake == MS_RTLS_STEP_FAILED)
		return MS_RTLS_R_HANDSHAKE;
	if (o->plaintext || !o->starttls_offered)
		return MS_RTLS_R_STARTTLS_MISSING;
	if (o->handshake != MS_RTLS_STEP_OK)
		return MS_RTLS_R_HANDSHAKE;
	if (vdane && o->dane != MS_RTLS_STEP_OK)
		return MS_RTLS_R_DANE_VERIFY;
	if (vpkix && o->pkix != MS_RTLS_STEP_OK)
		return MS_RTLS_R_PKIX_VERIFY;
	if (vreqtls && !o->requiretls_offered)
		return MS_RTLS_R_REQUIRETLS_MISSING;
	return MS_RTLS_R_NONE;
}

ms_status rtls_judge_fill(const struct ms_rtls_domain *d,
			  const struct ms_rtls_host *h,
			  const struct ms_rtls_plan *p,
			  const struct ms_rtls_observed *o,
			  struct ms_rtls_outcome *out)
{
	if (d == NULL || h == NULL || p == NULL || o == NULL || out == NULL)
		return MS_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	out->version = MS_RTLS_OUTCOME_VERSION;
	if (p->mode == MS_RTLS_MODE_SKIP) {
		rtls_outcome_from_plan_fill(p, out);
		return MS_OK;
	}
	const char *host = nz(h->name, "the MX host");
	const char *because = tls_because(d, p->mode, p->verify_pkix);
	enum ms_rtls_reason r = first_failure(p->mode, p->verify_dane, p->verify_pkix,
					      p->need_requiretls, o);
	out->verdict = MS_RTLS_TRY_NEXT;
	switch (r) {
	case MS_RTLS_R_NONE:
		break;
	case MS_RTLS_R_CONNECT:
		set_fail(out, d, r, 1, "4.4.1", "could not connect to %s", host);
		return MS_OK;
	case MS_RTLS_R_STARTTLS_MISSING:
		/* RFC 7672 s2.2, RFC 8461 s5.1, RFC 8689 s4.2.1: TLS is
		 * mandatory, so a missing STARTTLS (possibly stripped by an
		 * attacker) means this host cannot be used now. */
		set_fail(out, d, r, 1, "4.7.4", "%s did not offer STARTTLS, but TLS is required by %s",
			 host, because);
		return MS_OK;
	case MS_RTLS_R_HANDSHAKE:
		set_fail(out, d, r, 1, "4.7.5", "TLS handshake with %s failed; TLS is required by %s",
			 host, because);
		return MS_OK;
	case MS_RTLS_R_DANE_VERIFY:
		/* RFC 7672 s2.2, s3.1: no TLSA record matched the chain. */
		set_fail(out, d, r, 1, "4.7.5",
			 "the certificate of %s did not match its DANE TLSA records (RFC 7672 s3)",
			 host);
		return MS_OK;
	case MS_RTLS_R_PKIX_VERIFY:
		/* RFC 8461 s4.2: certificate must chain to a trusted root and
		 * name the MX host; a passing DANE check does not excuse it
		 * when both policies apply (RFC 8461 s2). */
		set_fail(out, d, r, 1, "4.7.5",
			 "the certificate of %s failed PKIX validation required by the MTA-STS enforce policy (RFC 8461 s4.2)",
			 host);
		return MS_OK;
	case MS_RTLS_R_REQUIRETLS_MISSING:
		/* RFC 8689 s4.2.1: the next hop must advertise REQUIRETLS after
		 * STARTTLS; otherwise the message must not be sent there. */
		set_fail(out, d, r, 0, "5.7.30",
			 "%s did not advertise REQUIRETLS after STARTTLS (RFC 8689 s4.2.1)",
			 host);
		return MS_OK;
	default:
		set_fail(out, d, r, 1, "4.7.5", "TLS policy failure at %s", host);
		return MS_OK;
	}

	/* No mandatory check failed (so the mode is opportunistic: nothing
	 * requires TLS).  A failed handshake reconnects in plaintext: RFC 8689
	 * s4.2.2 for TLS-Required: No, RFC 7435 s1.2 (opportunistic security
	 * falls back to cleartext) and RFC 3207 s4.1 otherwise. */
	if (!o->plaintext && o->starttls_offered && o->handshake != MS_RTLS_STEP_OK) {
		out->verdict = MS_RTLS_RETRY_PLAINTEXT;
		return MS_OK;
	}
	out->verdict = MS_RTLS_DELIVER;
	out->plaintext_fallback = o->plaintext && o->handshake == MS_RTLS_STEP_FAILED;
	/* RFC 8689 s4.2.1: send REQUIRETLS onward; RFC 8689 s5: a DSN about
	 * a REQUIRETLS message uses it where the hop offers it, and is not
	 * refused where it does not. */
	out->mail_requiretls = p->need_requiretls ||
			       (d->dsn_of_requiretls && tls_up(o) && o->requiretls_offered);
	/* RFC 8461 s5.2: testing mode reports what enforce would refuse. */
	if (p->report_pkix &&
	    (!tls_up(o) || o->pkix != MS_RTLS_STEP_OK || !h->sts_match))
		out->sts_testing_failure = 1;
	if (d->requirement == MS_RTLS_REQ_NOT_REQUIRED) {
		/* RFC 8689 s4.2.2: record which failure TLS-Required: No let
		 * through, so operators can see it (metrics). */
		if (p->policy_mode == MS_RTLS_MODE_SKIP)
			out->ignored = p->policy_reason;
		else
			out->ignored = first_failure(p->policy_mode, p->policy_dane,
						     p->policy_pkix, 0, o);
		/* a handshake that failed before the plaintext reconnection is
		 * a TLS error let through too, even where the policy alone
		 * would have been opportunistic */
		if (out->ignored == MS_RTLS_R_NONE && out->plaintext_fallback)
			out->ignored = MS_RTLS_R_HANDSHAKE;
	}
	return MS_OK;
}

ms_status rtls_conclude_fill(const struct ms_rtls_outcome *fails, size_t n,
			     struct ms_rtls_outcome *out)
{
	if (out == NULL || (fails == NULL && n > 0))
		return MS_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	out->version = MS_RTLS_OUTCOME_VERSION;
	if (n == 0) {
		out->verdict = MS_RTLS_TEMPFAIL;
		out->temporary = 1;
		out->basic = 4;
		out->reason = MS_RTLS_R_NONE;
		snprintf(out->enhanced, sizeof(out->enhanced), "4.4.4");
		snprintf(out->bounce_enhanced, sizeof(out->bounce_enhanced), "5.4.4");
		snprintf(out->text, sizeof(out->text), "no MX host to try");
		return MS_OK;
	}
	size_t first_temp = n;
	for (size_t i = 0; i < n; i++) {
		if (fails[i].verdict == MS_RTLS_DELIVER ||
		    fails[i].verdict == MS_RTLS_RETRY_PLAINTEXT)
			return MS_ERR_INVALID;
		if (fails[i].temporary && first_temp == n)
			first_temp = i;
	}
	/* A failure that may go away (DNS, TLS, verification) keeps the
	 * message queued; only when every host failed permanently (no
	 * verified path, REQUIRETLS not offered) is it returned now. */
	size_t k = first_temp < n ? first_temp : 0;
	*out = fails[k];
	out->version = MS_RTLS_OUTCOME_VERSION;
	out->verdict = first_temp < n ? MS_RTLS_TEMPFAIL : MS_RTLS_PERMFAIL;
	out->mail_requiretls = 0;
	out->ignored = MS_RTLS_R_NONE;
	return MS_OK;
}

/* ---- the public calls: the caller's struct version --------------------
 *
 * struct ms_rtls_plan and struct ms_rtls_outcome belong to the caller, who
 * sets `version`.  A later version appends members; the library fills a
 * full struct of its own and copies out only the bytes the caller's version
 * has, and never rewrites `version`.  A version-0 output is refused (it
 * would be a caller who did not set it).  Inputs are read leniently: a
 * plan or outcome the caller passes in is read as version 1 (its first
 * members) when its version is 0, and as much as both sides know
 * otherwise.
 */

/* Bytes of each version (0: unknown).  When version 2 appends members,
 * version 1 keeps today's sizeof as a constant here. */
static size_t plan_size(unsigned version)
{
	return version >= 1 ? sizeof(struct ms_rtls_plan) : 0;
}

static size_t outcome_size(unsigned version)
{
	return version >= 1 ? sizeof(struct ms_rtls_outcome) : 0;
}

/* A caller's input plan as a full one (members it lacks are zero). */
static void plan_in(const struct ms_rtls_plan *p, struct ms_rtls_plan *full)
{
	size_t n = plan_size(p->version ? p->version : 1);
	memset(full, 0, sizeof(*full));
	memcpy(full, p, n < sizeof(*full) ? n : sizeof(*full));
}

static void plan_out(const struct ms_rtls_plan *full, struct ms_rtls_plan *out)
{
	unsigned v = out->version;
	memcpy(out, full, plan_size(v));
	out->version = v;
}

static void outcome_out(const struct ms_rtls_outcome *full, struct ms_rtls_outcome *out)
{
	unsigned v = out->version;
	memcpy(out, full, outcome_size(v));
	out->version = v;
}

ms_status ms_rtls_plan(const struct ms_rtls_domain *d,
		       const struct ms_rtls_host *h, struct ms_rtls_plan *out)
{
	if (out == NULL || plan_size(out->version) == 0)
		return MS_ERR_INVALID;
	struct ms_rtls_plan full;
	ms_status st = rtls_plan_fill(d, h, &full);
	if (st == MS_OK)
		plan_out(&full, out);
	return st;
}

ms_status ms_rtls_judge(const struct ms_rtls_domain *d,
			const struct ms_rtls_host *h,
			const struct ms_rtls_plan *p,
			const struct ms_rtls_observed *o,
			struct ms_rtls_outcome *out)
{
	if (p == NULL || out == NULL || outcome_size(out->version) == 0)
		return MS_ERR_INVALID;
	struct ms_rtls_plan pin;
	struct ms_rtls_outcome full;
	plan_in(p, &pin);
	ms_status st = rtls_judge_fill(d, h, &pin, o, &full);
	if (st == MS_OK)
		outcome_out(&full, out);
	return st;
}

ms_status ms_rtls_outcome_from_plan(const struct ms_rtls_plan *p,
				    struct ms_rtls_outcome *out)
{
	if (out == NULL || outcome_size(out->version) == 0)
		return MS_ERR_INVALID;
	struct ms_rtls_plan pin;
	struct ms_rtls_outcome full;
	if (p != NULL)
		plan_in(p, &pin);
	rtls_outcome_from_plan_fill(p ? &pin : NULL, &full);
	outcome_out(&full, out);
	return MS_OK;
}

ms_status ms_rtls_conclude(const struct ms_rtls_outcome *fails, size_t n,
			   struct ms_rtls_outcome *out)
{
	if (out == NULL || outcome_size(out->version) == 0 || (fails == NULL && n > 0))
		return MS_ERR_INVALID;
	/* The array's elements are the caller's size: its stride is the
	 * size of fails[0]'s version, and every element must say the same. */
	unsigned fv = n ? (fails[0].version ? fails[0].version : 1) : 1;
	size_t stride = outcome_size(fv);
	if (stride == 0)
		return MS_ERR_INVALID;
	struct ms_rtls_outcome *tmp = NULL;
	if (n > 0) {
		tmp = calloc(n, sizeof(*tmp));
		if (tmp == NULL)
			return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ms_rtls_outcome *e =
			(const struct ms_rtls_outcome *)(const void *)((const char *)fails + i * stride);
		if ((e->version ? e->version : 1) != fv) {
			free(tmp);
			return MS_ERR_INVALID;
		}
		memcpy(&tmp[i], e, stride < sizeof(tmp[i]) ? stride : sizeof(tmp[i]));
	}
	struct ms_rtls_outcome full;
	ms_status st = rtls_conclude_fill(tmp, n, &full);
	free(tmp);
	if (st == MS_OK)
		outcome_out(&full, out);
	return st;
}

ms_status ms_rtls_outcome_apply(const struct ms_rtls_outcome *o,
				struct ms_rtls_mail *m)
{
	if (o == NULL || m == NULL)
		return MS_ERR_INVALID;
	if (o->mail_requiretls)
		return ms_rtls_mail_set(m, "REQUIRETLS", NULL);
	return ms_rtls_mail_remove(m, "REQUIRETLS");
}

void ms_rtls_outcome_count(const struct ms_env *env,
			   enum ms_rtls_requirement requirement,
			   const struct ms_rtls_outcome *o)
{
	if (o == NULL)
		return;
	if (requirement == MS_RTLS_REQ_REQUIRED && o->reason != MS_RTLS_R_NONE &&
	    o->reason != MS_RTLS_R_CONNECT) {
		struct ms_kv l = {"reason", ms_rtls_reason_str(o->reason)};
		ms_metric(env, MS_METRIC_COUNTER, "requiretls_errors_total", &l, 1, 1);
	}
	if (o->ignored != MS_RTLS_R_NONE) {
		struct ms_kv l = {"reason", ms_rtls_reason_str(o->ignored)};
		ms_metric(env, MS_METRIC_COUNTER, "tls_required_no_ignored_total", &l, 1, 1);
	}
	if (o->verdict == MS_RTLS_DELIVER && o->plaintext_fallback) {
		struct ms_kv l = {"requirement", ms_rtls_requirement_str(requirement)};
		ms_metric(env, MS_METRIC_COUNTER, "smtp_plaintext_fallback_total", &l, 1, 1);
	}
}

const char *ms_rtls_mode_str(enum ms_rtls_tls_mode m)
{
	switch (m) {
	case MS_RTLS_MODE_SKIP: return "skip";
	case MS_RTLS_MODE_DANE: return "dane";
	case MS_RTLS_MODE_PKIX: return "pkix";
	case MS_RTLS_MODE_ENCRYPTED: return "encrypted";
	case MS_RTLS_MODE_OPPORTUNISTIC: return "opportunistic";
	case MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK: return "opportunistic-fallback";
	}
	return "unknown";
}

const char *ms_rtls_verdict_str(enum ms_rtls_verdict v)
{
	switch (v) {
	case MS_RTLS_DELIVER: return "deliver";
	case MS_RTLS_RETRY_PLAINTEXT: return "retry-plaintext";
	case MS_RTLS_TRY_NEXT: return "try-next";
	case MS_RTLS_TEMPFAIL: return "tempfail";
	case MS_RTLS_PERMFAIL: return "permfail";
	}
	return "unknown";
}

const char *ms_rtls_reason_str(enum ms_rtls_reason r)
{
	switch (r) {
	case MS_RTLS_R_NONE: return "none";
	case MS_RTLS_R_MX_LOOKUP: return "mx_lookup";
	case MS_RTLS_R_TLSA_LOOKUP: return "tlsa_lookup";
	case MS_RTLS_R_ADDR_LOOKUP: return "addr_lookup";
	case MS_RTLS_R_STS_UNKNOWN: return "sts_unknown";
	case MS_RTLS_R_STS_MX_MISMATCH: return "sts_mx_mismatch";
	case MS_RTLS_R_NO_VERIFIED_PATH: return "no_verified_path";
	case MS_RTLS_R_CONNECT: return "connect";
	case MS_RTLS_R_STARTTLS_MISSING: return "starttls_missing";
	case MS_RTLS_R_HANDSHAKE: return "handshake";
	case MS_RTLS_R_DANE_VERIFY: return "dane_verify";
	case MS_RTLS_R_PKIX_VERIFY: return "pkix_verify";
	case MS_RTLS_R_REQUIRETLS_MISSING: return "requiretls_missing";
	}
	return "unknown";
}

const char *ms_rtls_step_str(enum ms_rtls_step s)
{
	return s == MS_RTLS_STEP_OK ? "ok" : s == MS_RTLS_STEP_FAILED ? "failed" : "not-done";
}

/* RFC 3464 s2.3.3: a temporary failure gives a "delayed" DSN while the
 * message stays queued; a permanent one a "failed" DSN. */
const char *ms_rtls_dsn_action(const struct ms_rtls_outcome *o)
{
	return o->verdict == MS_RTLS_PERMFAIL ? "failed" : "delayed";
}

const char *ms_rtls_dsn_status(const struct ms_rtls_outcome *o)
{
	return o->verdict == MS_RTLS_PERMFAIL ? o->bounce_enhanced : o->enhanced;
}
