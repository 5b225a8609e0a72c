/*
 * render.c - the renderings of libspfdkim's results: a DKIM verification
 * (ms_dkim_verify_render), the inbound verdict (ms_auth_render), a DMARC
 * verdict and the answer for a From that names no author domain
 * (ms_dmarc_verdict_render, ms_dmarc_bad_from_render), an SPF verdict
 * (ms_spf_verdict_render) and an iprev verdict (ms_iprev_verdict_render).
 */
#include "mailsec/auth.h"
#include "mailsec/dkim.h"
#include "mailsec/dmarc.h"
#include "mailsec/iprev.h"
#include "mailsec/spf.h"

#include "ms_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Open a JSON object for signature s (the caller closes it), or write the
 * human line "[LABEL: ]RESULT d= s= a= dnssec= [reason=]". */
static void sig_out(struct ms_out *o, const struct ms_dkim_sig *s, const char *label)
{
	const char *d = ms_dkim_sig_domain(s), *sel = ms_dkim_sig_selector(s);
	const char *r = ms_dkim_sig_reason(s), *res = ms_dkim_result_str(ms_dkim_sig_result(s));
	const char *alg = ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s));
	const char *sec = ms_dns_security_str(ms_dkim_sig_dnssec(s));
	mo_obj(o, NULL);
	mo_str(o, "result", NULL, res);
	mo_str(o, "domain", NULL, d);
	mo_str(o, "selector", NULL, sel);
	mo_str(o, "algorithm", NULL, alg);
	mo_str(o, "dnssec", NULL, sec);
	mo_str(o, "reason", NULL, r);
	mo_line(o, label, "%s d=%s s=%s a=%s dnssec=%s%s%s", res, d ? d : "-", sel ? sel : "-",
		 alg, sec, r && *r ? " reason=" : "", r ? r : "");
}

ms_status ms_dkim_verify_render(const struct ms_dkim_verify *vf, enum ms_render_format fmt,
				char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (vf == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 0) != MS_OK)
		return MS_ERR_NOMEM;
	size_t count = ms_dkim_verify_count(vf);
	if (count == 0)
		mo_line(&o, NULL, "none (no DKIM-Signature)");
	mo_arr(&o, "signatures");
	for (size_t i = 0; i < count; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		sig_out(&o, s, NULL);
		mo_str(&o, "identity", NULL, ms_dkim_sig_identity(s));
		mo_bool(&o, "testing", ms_dkim_sig_testing(s));
		mo_int(&o, "key_bits", NULL, ms_dkim_sig_key_bits(s));
		mo_close(&o);
	}
	mo_close_arr(&o);
	mo_int(&o, "ignored", NULL, (long long)ms_dkim_verify_ignored(vf));
	return mo_end(&o, out, len);
}

ms_status ms_auth_render(const struct ms_auth *a, enum ms_render_format fmt, char **out,
			 size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (a == NULL || out == NULL || ms_auth_header(a) == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 7) != MS_OK)
		return MS_ERR_NOMEM;
	const char *nm = ms_auth_iprev_name(a), *r = ms_auth_dmarc_reason(a);
	mo_str(&o, "authentication_results", NULL, ms_auth_header(a));
	/* The field without its CRs: a folded field on a terminal. */
	for (const char *h = o.json ? "" : ms_auth_header(a); *h; h++)
		if (*h != '\r')
			fputc(*h, o.f);
	mo_text(&o, "\n");
	mo_obj(&o, "spf");
	mo_str(&o, "result", NULL, ms_spf_result_str(ms_auth_spf_result(a)));
	mo_str(&o, "domain", NULL, ms_spf_verdict_domain(ms_auth_spf(a)));
	mo_str(&o, "dnssec", NULL, ms_dns_security_str(ms_auth_spf_dnssec(a)));
	mo_close(&o);
	mo_line(&o, NULL, "%s", "");
	mo_line(&o, "spf", "%s (domain %s, dnssec %s)", ms_spf_result_str(ms_auth_spf_result(a)),
		 ms_spf_verdict_domain(ms_auth_spf(a)), ms_dns_security_str(ms_auth_spf_dnssec(a)));
	if (ms_auth_dkim_count(a) == 0)
		mo_line(&o, "dkim", "none (no DKIM-Signature)");
	mo_arr(&o, "dkim");
	for (size_t i = 0; i < ms_auth_dkim_count(a); i++) {
		sig_out(&o, ms_auth_dkim_sig(a, i), "dkim");
		mo_close(&o);
	}
	mo_close_arr(&o);
	mo_obj(&o, "dmarc");
	mo_str(&o, "result", NULL, ms_dmarc_result_str(ms_auth_dmarc_result(a)));
	mo_str(&o, "from_domain", NULL, ms_auth_dmarc_from_domain(a));
	mo_str(&o, "reason", NULL, r);
	mo_str(&o, "disposition", NULL, ms_auth_dmarc(a) ?
		ms_dmarc_policy_str(ms_auth_dmarc_disposition(a)) : NULL);
	mo_close(&o);
	if (ms_auth_dmarc(a))
		mo_line(&o, "dmarc", "%s (from %s, disposition %s, dnssec %s): %s",
			 ms_dmarc_result_str(ms_auth_dmarc_result(a)), ms_auth_dmarc_from_domain(a),
			 ms_dmarc_policy_str(ms_auth_dmarc_disposition(a)),
			 ms_dns_security_str(ms_auth_dmarc_dnssec(a)), r ? r : "");
	else
		mo_line(&o, "dmarc", "permerror (From: %s)",
			 ms_dmarc_from_outcome_str(ms_auth_dmarc_from_outcome(a)));
	mo_obj(&o, "iprev");
	mo_str(&o, "result", NULL, ms_iprev_result_str(ms_auth_iprev_result(a)));
	mo_str(&o, "name", NULL, nm);
	mo_close(&o);
	mo_line(&o, "iprev", "%s%s%s", ms_iprev_result_str(ms_auth_iprev_result(a)),
		 nm ? " " : "", nm ? nm : "");
	return mo_end(&o, out, len);
}

ms_status ms_dmarc_verdict_render(struct ms_dmarc *d, const struct ms_dmarc_verdict *v,
				  enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (d == NULL || v == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 13) != MS_OK)
		return MS_ERR_NOMEM;
	const struct ms_dmarc_record *rec = ms_dmarc_verdict_record(v);
	const char *pol = rec ? ms_dmarc_policy_str(ms_dmarc_verdict_policy(v)) : NULL;
	const char *res = ms_dmarc_result_str(ms_dmarc_verdict_result(v));
	int spf_al = ms_dmarc_verdict_spf_aligned(v), dkim_al = ms_dmarc_verdict_dkim_aligned(v);
	mo_str(&o, "result", NULL, res);
	mo_line(&o, NULL, "%s", res);
	mo_str(&o, "from_outcome", NULL, "ok");
	mo_str(&o, "policy", NULL, pol);
	mo_str(&o, "policy_tag", NULL, ms_dmarc_verdict_policy_tag(v));
	mo_line(&o, "domain", "%s (organizational: %s)", ms_dmarc_verdict_domain(v),
		 ms_dmarc_verdict_org_domain(v));
	if (rec)
		mo_line(&o, "policy", "%s=%s from _dmarc.%s", ms_dmarc_verdict_policy_tag(v), pol,
			 ms_dmarc_verdict_policy_domain(v));
	mo_str(&o, "disposition", "disposition",
		ms_dmarc_policy_str(ms_dmarc_verdict_disposition(v)));
	mo_str(&o, "domain", NULL, ms_dmarc_verdict_domain(v));
	mo_str(&o, "org_domain", NULL, ms_dmarc_verdict_org_domain(v));
	mo_str(&o, "policy_domain", NULL, ms_dmarc_verdict_policy_domain(v));
	mo_bool(&o, "spf_aligned", spf_al);
	mo_bool(&o, "dkim_aligned", dkim_al);
	mo_line(&o, "aligned", "spf=%s dkim=%s", spf_al ? "yes" : "no", dkim_al ? "yes" : "no");
	mo_str(&o, "reason", "reason", ms_dmarc_verdict_reason(v));
	mo_str(&o, "dnssec", "dnssec", ms_dns_security_str(ms_dmarc_verdict_dnssec(v)));
	mo_arr(&o, "rua");
	for (size_t i = 0; i < ms_dmarc_record_rua_count(rec); i++) {
		int ok = 0;
		const char *uri = ms_dmarc_record_rua(rec, i);
		ms_dmarc_report_dest_verify(d, ms_dmarc_verdict_policy_domain(v), uri, &ok, NULL,
					    NULL, 0);
		const char *auth = ok > 0 ? "authorized" : ok < 0 ? "temperror" : "unauthorized";
		mo_obj(&o, NULL);
		mo_str(&o, "uri", NULL, uri);
		mo_str(&o, "destination", NULL, auth);
		mo_close(&o);
		mo_line(&o, "rua", "%s (%s)", uri, auth);
	}
	mo_close_arr(&o);
	return mo_end(&o, out, len);
}

ms_status ms_dmarc_bad_from_render(enum ms_dmarc_from_outcome fo, const char *why,
				   enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (out == NULL || fo == MS_DMARC_FROM_OK)
		return MS_ERR_INVALID;
	const char *fos = ms_dmarc_from_outcome_str(fo);
	why = why ? why : "";
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 13) != MS_OK)
		return MS_ERR_NOMEM;
	mo_str(&o, "result", NULL, "permerror");
	mo_str(&o, "from_outcome", NULL, fos);
	mo_null(&o, "policy");
	mo_str(&o, "disposition", NULL, "reject");
	mo_null(&o, "domain");
	mo_null(&o, "org_domain");
	mo_str(&o, "reason", NULL, why);
	mo_line(&o, NULL, "permerror\n  from:        %s (%s)\n  disposition: reject", fos,
		 why);
	return mo_end(&o, out, len);
}

ms_status ms_dkim_key_render(const struct ms_dkim_key *k, const char *selector,
			     const char *domain, enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	char *pem = NULL, *txt = NULL, name[600];
	if (out)
		*out = NULL;
	if (k == NULL || out == NULL)
		return MS_ERR_INVALID;
	ms_status st = ms_dkim_key_private_pem(k, &pem);
	if (st == MS_OK)
		st = ms_dkim_key_txt_record(k, &txt);
	if (st == MS_OK)
		st = mo_begin(&o, fmt == MS_RENDER_JSON, "", 0);
	if (st != MS_OK) {
		ms_dkim_string_free(pem);
		ms_dkim_string_free(txt);
		return st;
	}
	snprintf(name, sizeof(name), "%s._domainkey.%s.", selector ? selector : "SELECTOR",
		 domain ? domain : "DOMAIN");
	mo_str(&o, "algorithm", NULL, ms_dkim_algorithm_str(ms_dkim_key_algorithm(k)));
	mo_int(&o, "bits", NULL, ms_dkim_key_bits(k));
	mo_str(&o, "private_key", NULL, pem);
	mo_str(&o, "name", NULL, name);
	mo_str(&o, "txt", NULL, txt);
	/* Zone-file syntax, in character-strings of at most 255 bytes (a
	 * 2048-bit RSA key does not fit in one). */
	mo_text(&o, "%s%s IN TXT (", pem, name);
	for (size_t i = 0, n = strlen(txt); i < n; i += 255)
		mo_text(&o, " \"%.*s\"", (int)(n - i < 255 ? n - i : 255), txt + i);
	mo_text(&o, " )\n");
	ms_dkim_string_free(pem);
	ms_dkim_string_free(txt);
	return mo_end(&o, out, len);
}

ms_status ms_dkim_signer_render(const struct ms_dkim_signer *s, const uint8_t *msg,
				size_t msglen, enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	const char *h = s ? ms_dkim_signer_headers(s) : NULL;
	if (out)
		*out = NULL;
	if (h == NULL || (msg == NULL && msglen) || out == NULL || len == NULL)
		return MS_ERR_INVALID;
	/* Keep the message's own line ends: LF-only files get LF-only fields. */
	const uint8_t *nl = msglen ? memchr(msg, '\n', msglen) : NULL;
	int lf_only = nl && (nl == msg || nl[-1] != '\r');
	size_t hl = 0, hn = strlen(h);
	char *both = malloc(hn + msglen + 1);
	if (both == NULL)
		return MS_ERR_NOMEM;
	for (; *h; h++)
		if (!(lf_only && *h == '\r'))
			both[hl++] = *h;
	if (msglen)
		memcpy(both + hl, msg, msglen);
	ms_status st = mo_begin(&o, fmt == MS_RENDER_JSON, "", 0);
	if (st == MS_OK) {
		mo_strn(&o, "signatures", both, hl);
		mo_strn(&o, "message", both, hl + msglen);
		if (!o.json)
			mo_raw(&o, both, hl + msglen);
		st = mo_end(&o, out, len);
	}
	free(both);
	return st;
}

ms_status ms_spf_verdict_render(const struct ms_spf_verdict *v, const char *receiver,
				enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	char hb[2048];
	if (out)
		*out = NULL;
	if (v == NULL || out == NULL)
		return MS_ERR_INVALID;
	const char *hdr = ms_spf_received_header(v, receiver, hb, sizeof(hb)) == MS_OK ? hb : NULL;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 13) != MS_OK)
		return MS_ERR_NOMEM;
	const char *id = ms_spf_verdict_identity(v) == MS_SPF_ID_HELO ? "helo" : "mailfrom";
	const char *mech = ms_spf_verdict_mechanism(v);
	mo_str(&o, "result", NULL, ms_spf_result_str(ms_spf_verdict_result(v)));
	mo_line(&o, NULL, "%s", ms_spf_result_str(ms_spf_verdict_result(v)));
	mo_str(&o, "identity", NULL, id);
	mo_line(&o, "identity", "%s %s", id, ms_spf_verdict_sender(v));
	mo_str(&o, "domain", "domain", ms_spf_verdict_domain(v));
	mo_str(&o, "sender", NULL, ms_spf_verdict_sender(v));
	mo_str(&o, "ip", NULL, ms_spf_verdict_ip(v));
	mo_str(&o, NULL, "explanation", ms_spf_verdict_explanation(v));
	mo_str(&o, "mechanism", "mechanism", mech ? mech : o.json ? NULL : "(none)");
	mo_str(&o, "explanation", NULL, ms_spf_verdict_explanation(v));
	mo_str(&o, "problem", "problem", ms_spf_verdict_problem(v));
	mo_int(&o, "dns_lookups", NULL, ms_spf_verdict_dns_lookups(v));
	mo_int(&o, "void_lookups", NULL, ms_spf_verdict_void_lookups(v));
	mo_line(&o, "lookups", "%u dns, %u void", ms_spf_verdict_dns_lookups(v),
		 ms_spf_verdict_void_lookups(v));
	mo_str(&o, "dnssec", "dnssec", ms_dns_security_str(ms_spf_verdict_dnssec(v)));
	mo_str(&o, "received_spf", NULL, hdr);
	/* the folded header on the terminal, without its CRs */
	mo_text(&o, "%s", hdr ? "  " : "");
	for (const char *h = hdr && !o.json ? hdr : ""; *h; h++)
		if (*h != '\r')
			fputc(*h, o.f);
	mo_text(&o, "%s", hdr ? "\n" : "");
	return mo_end(&o, out, len);
}

ms_status ms_iprev_verdict_render(const struct ms_iprev_verdict *v, enum ms_render_format fmt,
				  char **out, size_t *len)
{
	struct ms_out o;
	if (out)
		*out = NULL;
	if (v == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "  ", 10) != MS_OK)
		return MS_ERR_NOMEM;
	mo_str(&o, "result", NULL, ms_iprev_result_str(ms_iprev_verdict_result(v)));
	mo_line(&o, NULL, "%s", ms_iprev_result_str(ms_iprev_verdict_result(v)));
	mo_str(&o, "ip", "ip", ms_iprev_verdict_ip(v));
	mo_str(&o, "name", "name", ms_iprev_verdict_name(v));
	mo_arr(&o, "ptr_names");
	for (size_t i = 0; i < ms_iprev_verdict_ptr_count(v); i++)
		mo_str(&o, MO_ELEM, "ptr", ms_iprev_verdict_ptr_name(v, i));
	mo_close_arr(&o);
	mo_int(&o, "ignored_names", NULL, (long long)ms_iprev_verdict_ignored(v));
	if (ms_iprev_verdict_ignored(v))
		mo_line(&o, "ignored", "%zu names over the cap", ms_iprev_verdict_ignored(v));
	mo_str(&o, "problem", "problem", ms_iprev_verdict_problem(v));
	mo_str(&o, "dnssec", "dnssec", ms_dns_security_str(ms_iprev_verdict_dnssec(v)));
	return mo_end(&o, out, len);
}
