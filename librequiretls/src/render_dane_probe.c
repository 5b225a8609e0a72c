/*
 * render_dane_probe.c - a DANE probe as `mailsec dane probe` shows it
 * (ms_rtls_dane_probe_render): the TLSA lookup, the session, the chain
 * with SHA-256 fingerprints, the verification.
 */
#include "mailsec/requiretls_smtp.h"

#include "ms_out.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>

#define MAX_TLSA_TEXT 8192

static void record_text(const struct ms_dane_tlsa *t, char *buf, size_t len)
{
	if (ms_dane_tlsa_to_text(t, buf, len) != MS_OK)
		snprintf(buf, len, "%u %u %u (%zu bytes)", t->usage, t->selector, t->mtype,
			 t->datalen);
}

static void print_result(struct ms_out *o, const struct ms_dane_result *res,
			 const struct ms_dane_tlsa *t)
{
	char rec[MAX_TLSA_TEXT] = "";
	if (res->matched >= 0)
		record_text(&t[res->matched], rec, sizeof(rec));
	const char *rpt = ms_tlsrpt_result_name(res->tlsrpt);
	mo_str(o, "verdict", "verdict", ms_dane_verdict_str(res->verdict));
	mo_bool(o, "verified", res->verdict == MS_DANE_VERIFIED);
	mo_str(o, "matched", "matched", res->matched >= 0 ? rec : NULL);
	if (res->matched < 0)
		mo_line(o, "matched", "none");
	if (res->depth >= 0)
		mo_int(o, "depth", "depth", res->depth);
	else
		mo_null(o, "depth");
	if (res->depth < 0)
		mo_line(o, "depth", "none");
	mo_str(o, "tlsrpt_result", "tlsrpt", rpt[0] ? rpt : NULL);
	mo_int(o, "usable_records", NULL, (long long)res->usable);
	mo_str(o, "reason", "reason", res->reason);
}

static void fingerprint(const struct ms_dane_cert *c, char *subject, size_t slen, char *fp,
			size_t fplen)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->len);
	subject[0] = '\0';
	if (x)
		X509_NAME_oneline(X509_get_subject_name(x), subject, (int)slen);
	X509_free(x);
	unsigned char d[32];
	unsigned int dl = 0;
	EVP_Digest(c->der, c->len, d, &dl, EVP_sha256(), NULL);
	for (unsigned i = 0; i < dl && 2 * i + 3 <= fplen; i++)
		snprintf(fp + 2 * i, fplen - 2 * i, "%02x", d[i]);
}

ms_status ms_rtls_dane_probe_render(const struct ms_rtls_dane_probe *pr, const char *host,
				    enum ms_render_format fmt, char **out, size_t *len)
{
	struct ms_out o;
	char rec[MAX_TLSA_TEXT], subj[256], fp[80];
	if (out)
		*out = NULL;
	if (pr == NULL || host == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (mo_begin(&o, fmt == MS_RENDER_JSON, "", 9) != MS_OK)
		return MS_ERR_NOMEM;
	const struct ms_dane_lookup *l = ms_rtls_dane_probe_lookup(pr);
	const struct ms_rtls_probe *session = ms_rtls_dane_probe_session(pr);
	const struct ms_dane_tlsa *recs;
	const struct ms_dane_cert *chain = NULL;
	size_t nrecs = ms_dane_lookup_records(l, &recs), nchain = ms_rtls_probe_chain(session, &chain);
	const char *err = ms_rtls_dane_probe_error(pr);
	mo_str(&o, "host", "host", host);
	mo_str(&o, "dns_state", NULL, ms_dane_dns_state_str(ms_dane_lookup_state(l)));
	mo_str(&o, "dns_reason", "dns", ms_dane_lookup_reason(l));
	mo_str(&o, "tlsa_base", "base", ms_dane_lookup_base(l));
	mo_arr(&o, "tlsa");
	for (size_t i = 0; i < nrecs; i++) {
		record_text(&recs[i], rec, sizeof(rec));
		mo_str(&o, MO_ELEM, "tlsa", rec);
	}
	mo_close_arr(&o);
	mo_str(&o, "connect", "connect", ms_rtls_dane_probe_connect(pr));
	mo_str(&o, "tls", "tls", session ? ms_rtls_probe_tls(session) : NULL);
	mo_str(&o, "error", NULL, err);
	mo_arr(&o, "chain");
	for (size_t i = 0; i < nchain; i++) {
		fingerprint(&chain[i], subj, sizeof(subj), fp, sizeof(fp));
		mo_obj(&o, NULL);
		mo_int(&o, "depth", NULL, (long long)i);
		mo_str(&o, "subject", NULL, subj);
		mo_str(&o, "sha256", NULL, fp);
		mo_close(&o);
		mo_line(&o, NULL, "cert %zu:  %s sha256=%s", i, subj, fp);
	}
	mo_close_arr(&o);
	if (session) {
		print_result(&o, ms_rtls_dane_probe_result(pr), recs);
	} else {
		const char *v = ms_rtls_dane_probe_verdict_str(pr);
		mo_str(&o, "verdict", NULL, v);
		mo_line(&o, "verdict", "%s%s%s", v, err ? ": " : " (host unusable now)",
			 err ? err : "");
		mo_bool(&o, "verified", 0);
		mo_null(&o, "matched");
		mo_null(&o, "depth");
		mo_str(&o, "tlsrpt_result", NULL,
			ms_tlsrpt_result_name(ms_rtls_dane_probe_result(pr)->tlsrpt));
	}
	return mo_end(&o, out, len);
}
