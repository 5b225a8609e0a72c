/*
 * auth_header.c - the Authentication-Results field (RFC 8601) of one
 * inbound message, in the order spf, dkim (one per signature, with
 * header.b so a reader can tell two signatures of one domain apart,
 * RFC 8601 s2.7.1), dmarc, iprev; and the Received-SPF field (RFC 7208
 * s9.1).  Every add is checked: a dropped method would be a silent lie.
 */
#include "auth_internal.h"
#include "mailsec/authres.h"

/* ms_ar_write into a buffer that grows until the field fits. */
static ms_status write_ar(struct ms_auth *a, const struct ms_ar *ar)
{
	for (size_t cap = 4096; cap <= (1u << 20); cap *= 2) {
		char *buf = ms_malloc(&a->env, cap);
		if (buf == NULL)
			return MS_ERR_NOMEM;
		ms_status st = ms_ar_write(ar, buf, cap);
		if (st == MS_OK) {
			a->ar_header = buf;
			return MS_OK;
		}
		ms_free(&a->env, buf);
		if (st != MS_ERR_LIMIT)
			return st;
	}
	return MS_ERR_LIMIT;
}

static ms_status add_all(struct ms_auth *a, struct ms_ar *ar)
{
	ms_status st = ms_ar_add_spf(ar, a->sv);
	size_t nsig = ms_dkim_verify_count(a->vf);
	if (st == MS_OK && nsig == 0)
		st = ms_ar_add_dkim(ar, MS_DMARC_DKIM_NONE, NULL, NULL, NULL,
				    MS_DNS_INDETERMINATE);
	for (size_t i = 0; st == MS_OK && i < nsig; i++)
		st = ms_ar_add_dkim_sig(ar, ms_dkim_verify_sig(a->vf, i));
	if (st != MS_OK)
		return st;
	if (a->mv)
		st = ms_ar_add_dmarc(ar, a->mv);
	else
		st = ms_ar_add(ar, "dmarc", "permerror",
			       ms_dmarc_from_outcome_str(a->from_outcome), MS_DNS_INDETERMINATE);
	if (st == MS_OK)
		st = ms_ar_add_iprev(ar, a->iv);
	return st;
}

ms_status ms_auth_write_fields(struct ms_auth *a, char *why, size_t whylen)
{
	struct ms_ar *ar = NULL;
	ms_status st = ms_ar_new(&a->env, a->authserv_id, &ar);
	if (st == MS_OK)
		st = add_all(a, ar);
	if (st == MS_OK)
		st = write_ar(a, ar);
	ms_ar_free(ar);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "Authentication-Results: %s",
			      st == MS_ERR_NOMEM ? "out of memory" : "cannot be written");
	char rs[2048];
	st = ms_spf_received_header(a->sv, a->authserv_id, rs, sizeof(rs));
	if (st == MS_OK && (a->received_spf = ms_strdup(&a->env, rs)) == NULL)
		st = MS_ERR_NOMEM;
	if (st != MS_OK)
		return ms_why(why, whylen, st, "Received-SPF: %s",
			      st == MS_ERR_NOMEM ? "out of memory" : "too long");
	return MS_OK;
}
