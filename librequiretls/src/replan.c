/*
 * replan.c - the operator's re-plan of a queued message: reading its
 * stored requirement, rewriting its header section and MAIL FROM
 * parameters for the new one (RFC 8689 s3, s4.2.1, s4.2.2), the getters.
 * The per-host diff is in replan_route.c.
 */
#include "replan_internal.h"

#include <string.h>

static int req_valid(enum ms_rtls_requirement r)
{
	return r == MS_RTLS_REQ_DEFAULT || r == MS_RTLS_REQ_REQUIRED ||
	       r == MS_RTLS_REQ_NOT_REQUIRED;
}

/* The header section of msg: its length up to (not including) the empty
 * separator line, the offset after the separator, the line ending of the
 * first line; MS_ERR_PARSE for input that is not a header section. */
static ms_status header_bounds(const uint8_t *msg, size_t len, size_t *hend, size_t *body,
			       int *crlf, char *why, size_t whylen)
{
	size_t pos = 0, lineno = 0;
	*crlf = 0;
	while (pos < len) {
		size_t e = pos;
		while (e < len && msg[e] != '\n')
			e++;
		size_t c = e > pos && msg[e - 1] == '\r' && e < len ? e - 1 : e;
		size_t next = e < len ? e + 1 : e;
		lineno++;
		if (lineno == 1)
			*crlf = c != e;
		if (c == pos) { /* the empty line ends the header section */
			*hend = pos;
			*body = next;
			return MS_OK;
		}
		if (pos > MS_RTLS_REPLAN_MAX_HEADER)
			return ms_why(why, whylen, MS_ERR_LIMIT, "header section longer than %u bytes",
				      (unsigned)MS_RTLS_REPLAN_MAX_HEADER);
		/* A NUL or a bare CR would let two readers see two different
		 * header sections (the scan here, the MTA's own parser). */
		for (size_t i = pos; i < c; i++)
			if (msg[i] == '\0' || msg[i] == '\r')
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "header line %zu holds a %s", lineno,
					      msg[i] ? "bare CR" : "NUL byte");
		if (rtls_is_wsp(msg[pos])) {
			if (lineno == 1)
				return ms_why(why, whylen, MS_ERR_PARSE,
					      "the message starts with a continuation line");
		} else if (ms_hdr_name(msg + pos, c - pos, NULL) == 0) {
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "header line %zu is not a field (no name and colon)", lineno);
		}
		pos = next;
	}
	/* no empty line: everything is header */
	*hend = len;
	*body = len;
	return MS_OK;
}

/* Copy the header section without its TLS-Required fields, adding one
 * "TLS-Required: No" when asked, then the separator. */
static ms_status rewrite_header(struct ms_rtls_replan *rp, const uint8_t *msg, size_t hend,
				size_t body, int crlf, int add_no)
{
	static const char field[] = "TLS-Required: No";
	const char *eol = crlf ? "\r\n" : "\n";
	size_t cap = body + sizeof(field) + 4;
	uint8_t *o = ms_malloc(&rp->env, cap);
	if (o == NULL)
		return MS_ERR_NOMEM;
	size_t n = 0, pos = 0;
	while (pos < hend) {
		/* one field: its first line and its continuation lines */
		size_t f = pos;
		do {
			while (f < hend && msg[f] != '\n')
				f++;
			if (f < hend)
				f++;
		} while (f < hend && rtls_is_wsp(msg[f]));
		if (ms_hdr_is(msg + pos, f - pos, "TLS-Required", NULL)) {
			rp->removed++;
		} else {
			memcpy(o + n, msg + pos, f - pos);
			n += f - pos;
		}
		pos = f;
	}
	if (add_no) {
		if (n > 0 && o[n - 1] != '\n') { /* a last line without its end */
			memcpy(o + n, eol, strlen(eol));
			n += strlen(eol);
		}
		memcpy(o + n, field, sizeof(field) - 1);
		n += sizeof(field) - 1;
		memcpy(o + n, eol, strlen(eol));
		n += strlen(eol);
		rp->added = 1;
	}
	memcpy(o + n, msg + hend, body - hend); /* the separator, as stored */
	n += body - hend;
	rp->header = o;
	rp->header_len = n;
	return MS_OK;
}

/* Parse the stored parameters (*requiretls: REQUIRETLS among them) and
 * format them for the new requirement (RFC 8689 s4.2.1: REQUIRETLS only
 * for a required message). */
static ms_status rewrite_params(struct ms_rtls_replan *rp, const char *params, int *requiretls,
				char *why, size_t whylen)
{
	struct ms_rtls_mail *m = NULL;
	if (ms_rtls_mail_new(&rp->env, &m) != MS_OK)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	char pwhy[200] = "";
	ms_status st = ms_rtls_mail_parse_params(m, (const uint8_t *)(params ? params : ""),
						 params ? strlen(params) : 0, pwhy, sizeof(pwhy));
	if (st != MS_OK) {
		ms_rtls_mail_free(m);
		return ms_why(why, whylen, st, "bad MAIL FROM parameters: %s", pwhy);
	}
	*requiretls = ms_rtls_mail_requiretls(m);
	st = rp->after == MS_RTLS_REQ_REQUIRED ? ms_rtls_mail_set(m, "REQUIRETLS", NULL)
					       : ms_rtls_mail_remove(m, "REQUIRETLS");
	if (st == MS_OK)
		st = ms_rtls_mail_format(m, rp->params, sizeof(rp->params), NULL);
	ms_rtls_mail_free(m);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "MAIL FROM parameters: %s", ms_status_str(st));
	return MS_OK;
}

ms_status ms_rtls_replan_new(const struct ms_env *env, const uint8_t *msg, size_t len,
			     const char *mail_params, enum ms_rtls_requirement requirement,
			     struct ms_rtls_replan **out, char *why, size_t whylen)
{
	if (out)
		*out = NULL;
	if (msg == NULL || out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "replan: NULL argument");
	if (!req_valid(requirement))
		return ms_why(why, whylen, MS_ERR_INVALID, "replan: unknown requirement %d",
			      (int)requirement);
	if (len == 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "empty message");
	size_t hend = 0, body = 0;
	int crlf = 0;
	ms_status st = header_bounds(msg, len, &hend, &body, &crlf, why, whylen);
	if (st != MS_OK)
		return st;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_rtls_replan *rp = ms_calloc(&e, 1, sizeof(*rp));
	if (rp == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	rp->env = e;
	rp->after = requirement;
	rp->body_offset = body;
	int requiretls = 0;
	st = rewrite_params(rp, mail_params, &requiretls, why, whylen);
	if (st == MS_OK) {
		/* the stored requirement, read as a received message's is
		 * (RFC 8689 s2: with REQUIRETLS the field is ignored) */
		rp->tlsreq = ms_rtls_tlsreq_scan(msg, hend, requiretls);
		rp->before = ms_rtls_requirement_of(requiretls, rp->tlsreq);
		st = rewrite_header(rp, msg, hend, body, crlf,
				    requirement == MS_RTLS_REQ_NOT_REQUIRED);
		if (st != MS_OK)
			ms_why(why, whylen, st, "out of memory");
	}
	if (st == MS_OK)
		rp->doms = ms_calloc(&e, MS_RTLS_REPLAN_MAX_DOMAINS, sizeof(*rp->doms));
	if (st == MS_OK && rp->doms == NULL)
		st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	if (st != MS_OK) {
		ms_rtls_replan_free(rp);
		return st;
	}
	*out = rp;
	return MS_OK;
}

void ms_rtls_replan_free(struct ms_rtls_replan *rp)
{
	if (rp == NULL)
		return;
	for (size_t i = 0; i < rp->ndoms; i++) {
		ms_free(&rp->env, rp->doms[i].hosts);
		ms_free(&rp->env, rp->doms[i].text);
	}
	ms_free(&rp->env, rp->doms);
	ms_free(&rp->env, rp->header);
	struct ms_env e = rp->env;
	ms_free(&e, rp);
}

enum ms_rtls_requirement ms_rtls_replan_before(const struct ms_rtls_replan *rp)
{
	return rp ? rp->before : MS_RTLS_REQ_DEFAULT;
}

enum ms_rtls_requirement ms_rtls_replan_after(const struct ms_rtls_replan *rp)
{
	return rp ? rp->after : MS_RTLS_REQ_DEFAULT;
}

enum ms_rtls_tlsreq ms_rtls_replan_tlsreq(const struct ms_rtls_replan *rp)
{
	return rp ? rp->tlsreq : MS_RTLS_TLSREQ_ABSENT;
}

const uint8_t *ms_rtls_replan_header(const struct ms_rtls_replan *rp, size_t *len)
{
	if (len)
		*len = rp ? rp->header_len : 0;
	return rp ? rp->header : NULL;
}

size_t ms_rtls_replan_body_offset(const struct ms_rtls_replan *rp)
{
	return rp ? rp->body_offset : 0;
}

const char *ms_rtls_replan_mail_params(const struct ms_rtls_replan *rp)
{
	return rp ? rp->params : NULL;
}

size_t ms_rtls_replan_removed(const struct ms_rtls_replan *rp)
{
	return rp ? rp->removed : 0;
}

int ms_rtls_replan_added(const struct ms_rtls_replan *rp)
{
	return rp ? rp->added : 0;
}

size_t ms_rtls_replan_domain_count(const struct ms_rtls_replan *rp)
{
	return rp ? rp->ndoms : 0;
}

const struct ms_rtls_replan_domain *ms_rtls_replan_domain(const struct ms_rtls_replan *rp,
							  size_t i)
{
	return rp && i < rp->ndoms ? &rp->doms[i].pub : NULL;
}
