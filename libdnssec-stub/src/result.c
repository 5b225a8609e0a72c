/* result.c - the immutable lookup result, its getters and builders. */
#include "dns_internal.h"

#include <arpa/inet.h>
#include <string.h>

struct ms_dns_result *ms_dns_result_alloc_packed(const struct ms_env *env,
						 const char *qname, uint16_t qtype,
						 size_t nrec, size_t datalen)
{
	struct ms_env e;
	ms_env_init(&e, env);
	/* the record array is aligned after the struct (its size is a
	 * multiple of the alignment of its pointer and size_t members) */
	size_t size = sizeof(struct ms_dns_result) + nrec * sizeof(struct ms_dns_rr);
	if (nrec > 65535 || datalen > SIZE_MAX - size)
		return NULL;
	struct ms_dns_result *r = ms_malloc(&e, size + datalen);
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->env = e;
	/* plain copies: this runs once per answer, and snprintf's format
	 * machinery was most of an injected resolver's per-lookup cost */
	size_t n = qname ? strnlen(qname, sizeof(r->qname) - 1) : 0;
	memcpy(r->qname, qname ? qname : "", n);
	r->qname[n] = '\0';
	memcpy(r->canonical, r->qname, n + 1);
	r->qtype = qtype;
	r->ede = -1;
	r->cname_secure = -1;
	r->outcome = MS_DNS_SERVFAIL;
	r->security = MS_DNS_INDETERMINATE;
	if (nrec > 0) {
		r->rr = (struct ms_dns_rr *)(r + 1);
		r->cap = nrec;
		r->rr_inline = 1;
	}
	return r;
}

struct ms_dns_result *ms_dns_result_alloc(const struct ms_env *env,
					  const char *qname, uint16_t qtype)
{
	return ms_dns_result_alloc_packed(env, qname, qtype, 0, 0);
}

void ms_dns_result_add_inline(struct ms_dns_result *r, uint16_t type,
			      const uint8_t *rdata, size_t len)
{
	/* data goes after the array, right after the last record placed */
	uint8_t *d = r->n ? r->rr[r->n - 1].data + r->rr[r->n - 1].len
			  : (uint8_t *)(r->rr + r->cap);
	if (len)
		memcpy(d, rdata, len);
	r->rr[r->n].type = type;
	r->rr[r->n].len = (uint16_t)len;
	r->rr[r->n].data = d;
	r->n++;
	r->n_inline = r->n;
	r->outcome = MS_DNS_ANSWER;
}

void ms_dns_result_clear_records(struct ms_dns_result *r)
{
	for (size_t i = r->n_inline; i < r->n; i++)
		ms_free(&r->env, r->rr[i].data);
	r->n = r->n_inline = 0;
}

static struct ms_dns_result oom_result = {
	.outcome = MS_DNS_SERVFAIL,
	.security = MS_DNS_INDETERMINATE,
	.ede = 0, /* Other Error */
	.ede_text = (char *)"out of memory: no result could be built",
	.cname_secure = -1,
	.is_static = 1,
};

struct ms_dns_result *ms_dns_oom_result(void)
{
	return &oom_result;
}

void ms_dns_result_free(struct ms_dns_result *r)
{
	if (r == NULL || r->is_static)
		return;
	for (size_t i = r->n_inline; i < r->n; i++)
		ms_free(&r->env, r->rr[i].data);
	if (!r->rr_inline)
		ms_free(&r->env, r->rr);
	ms_free(&r->env, r->ede_text);
	ms_free(&r->env, r);
}

ms_status ms_dns_result_create(const struct ms_env *env, const char *qname,
			       uint16_t qtype, enum ms_dns_outcome outcome,
			       enum ms_dns_security security,
			       struct ms_dns_result **out)
{
	if (out == NULL || qname == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	if ((unsigned)outcome > MS_DNS_REFUSED ||
	    (unsigned)security > MS_DNS_INDETERMINATE)
		return MS_ERR_INVALID;
	char norm[MS_DNS_NAME_MAX];
	if (ms_dns_name_normalize(qname, norm, sizeof(norm), NULL, 0) != MS_OK)
		return MS_ERR_INVALID;
	struct ms_dns_result *r = ms_dns_result_alloc(env, norm, qtype);
	if (r == NULL)
		return MS_ERR_NOMEM;
	/* The invariant of this library: bogus data is never handed out. */
	r->outcome = security == MS_DNS_BOGUS ? MS_DNS_SERVFAIL : outcome;
	r->security = security;
	*out = r;
	return MS_OK;
}

ms_status ms_dns_result_add(struct ms_dns_result *r, uint16_t type,
			    const uint8_t *rdata, size_t len)
{
	if (r == NULL || (rdata == NULL && len > 0) || len > 65535)
		return MS_ERR_INVALID;
	if (r->is_static)
		return MS_ERR_STATE;
	if (r->security == MS_DNS_BOGUS)
		return MS_ERR_STATE;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct ms_dns_rr *rr;
		if (r->rr_inline) {
			/* the packed array cannot grow in place: move it out */
			rr = ms_malloc(&r->env, cap * sizeof(*rr));
			if (rr != NULL && r->n)
				memcpy(rr, r->rr, r->n * sizeof(*rr));
		} else {
			rr = ms_realloc(&r->env, r->rr, cap * sizeof(*rr));
		}
		if (rr == NULL)
			return MS_ERR_NOMEM;
		r->rr = rr;
		r->cap = cap;
		r->rr_inline = 0;
	}
	uint8_t *d = ms_malloc(&r->env, len);
	if (d == NULL)
		return MS_ERR_NOMEM;
	if (len)
		memcpy(d, rdata, len);
	r->rr[r->n].type = type;
	r->rr[r->n].len = (uint16_t)len;
	r->rr[r->n].data = d;
	r->n++;
	r->outcome = MS_DNS_ANSWER;
	return MS_OK;
}

ms_status ms_dns_result_set_meta(struct ms_dns_result *r, uint32_t ttl,
				 const char *canonical, int cname_secure,
				 int ede, const char *ede_text)
{
	if (r == NULL || cname_secure < -1 || cname_secure > 1)
		return MS_ERR_INVALID;
	if (r->is_static)
		return MS_ERR_STATE;
	if (canonical) {
		char norm[MS_DNS_NAME_MAX];
		if (ms_dns_name_normalize(canonical, norm, sizeof(norm), NULL, 0) != MS_OK)
			return MS_ERR_INVALID;
		memcpy(r->canonical, norm, sizeof(norm));
	}
	char *t = NULL;
	if (ede_text && (t = ms_strdup(&r->env, ede_text)) == NULL)
		return MS_ERR_NOMEM;
	ms_free(&r->env, r->ede_text);
	r->ede_text = t;
	r->ttl = ttl;
	r->cname_secure = cname_secure;
	r->ede = ede < 0 ? -1 : ede;
	return MS_OK;
}

ms_status ms_dns_result_absorb(struct ms_dns_result *a,
			       const struct ms_dns_result *b)
{
	for (size_t i = 0; i < b->n; i++) {
		ms_status st = ms_dns_result_add(a, b->rr[i].type, b->rr[i].data,
						 b->rr[i].len);
		if (st != MS_OK)
			return st;
	}
	return MS_OK;
}

enum ms_dns_outcome ms_dns_result_outcome(const struct ms_dns_result *r) { return r->outcome; }
enum ms_dns_security ms_dns_result_security(const struct ms_dns_result *r) { return r->security; }
int ms_dns_result_ede(const struct ms_dns_result *r) { return r->ede; }
const char *ms_dns_result_ede_text(const struct ms_dns_result *r) { return r->ede_text; }
uint32_t ms_dns_result_ttl(const struct ms_dns_result *r) { return r->ttl; }
const char *ms_dns_result_qname(const struct ms_dns_result *r) { return r->qname; }
uint16_t ms_dns_result_qtype(const struct ms_dns_result *r) { return r->qtype; }
const char *ms_dns_result_canonical(const struct ms_dns_result *r) { return r->canonical; }
int ms_dns_result_cname_secure(const struct ms_dns_result *r) { return r->cname_secure; }
uint32_t ms_dns_result_duration_ms(const struct ms_dns_result *r) { return r->duration_ms; }
size_t ms_dns_result_count(const struct ms_dns_result *r) { return r->n; }

uint16_t ms_dns_result_rtype(const struct ms_dns_result *r, size_t i)
{
	return i < r->n ? r->rr[i].type : 0;
}

const uint8_t *ms_dns_result_rdata(const struct ms_dns_result *r, size_t i,
				   size_t *len)
{
	if (i >= r->n) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = r->rr[i].len;
	return r->rr[i].data;
}

static const struct ms_dns_rr *rr_of(const struct ms_dns_result *r, size_t i,
				     uint16_t t1, uint16_t t2)
{
	if (r == NULL || i >= r->n)
		return NULL;
	const struct ms_dns_rr *rr = &r->rr[i];
	return (rr->type == t1 || rr->type == t2) ? rr : NULL;
}

ms_status ms_dns_result_addr(const struct ms_dns_result *r, size_t i,
			     char *buf, size_t buflen)
{
	const struct ms_dns_rr *rr = rr_of(r, i, MS_DNS_T_A, MS_DNS_T_AAAA);
	if (rr == NULL || buf == NULL)
		return MS_ERR_INVALID;
	int af = rr->type == MS_DNS_T_A ? AF_INET : AF_INET6;
	if (rr->len != (af == AF_INET ? 4 : 16))
		return MS_ERR_PARSE;
	return inet_ntop(af, rr->data, buf, (socklen_t)buflen) ? MS_OK : MS_ERR_INVALID;
}

ms_status ms_dns_result_mx(const struct ms_dns_result *r, size_t i,
			   uint16_t *preference, char *host, size_t hostlen)
{
	const struct ms_dns_rr *rr = rr_of(r, i, MS_DNS_T_MX, MS_DNS_T_MX);
	if (rr == NULL)
		return MS_ERR_INVALID;
	return ms_dns_parse_mx(rr->data, rr->len, preference, host, hostlen);
}

int ms_dns_result_is_null_mx(const struct ms_dns_result *r)
{
	/* RFC 7505 s3: a single MX record with preference 0 and exchange ".". */
	if (r == NULL || r->n != 1 || r->rr[0].type != MS_DNS_T_MX)
		return 0;
	const struct ms_dns_rr *rr = &r->rr[0];
	return rr->len == 3 && rr->data[0] == 0 && rr->data[1] == 0 &&
	       rr->data[2] == 0;
}

ms_status ms_dns_result_name(const struct ms_dns_result *r, size_t i,
			     char *buf, size_t buflen)
{
	if (r == NULL || i >= r->n)
		return MS_ERR_INVALID;
	uint16_t t = r->rr[i].type;
	if (t != MS_DNS_T_CNAME && t != MS_DNS_T_PTR && t != MS_DNS_T_NS)
		return MS_ERR_INVALID;
	return ms_dns_parse_name(r->rr[i].data, r->rr[i].len, buf, buflen);
}

ms_status ms_dns_result_txt(const struct ms_dns_result *r, size_t i,
			    char *buf, size_t buflen, size_t *outlen)
{
	const struct ms_dns_rr *rr = rr_of(r, i, MS_DNS_T_TXT, MS_DNS_T_TXT);
	if (rr == NULL)
		return MS_ERR_INVALID;
	return ms_dns_parse_txt(rr->data, rr->len, buf, buflen, outlen);
}

ms_status ms_dns_result_txt_strings(const struct ms_dns_result *r, size_t i,
				    size_t *count)
{
	const struct ms_dns_rr *rr = rr_of(r, i, MS_DNS_T_TXT, MS_DNS_T_TXT);
	if (rr == NULL || count == NULL)
		return MS_ERR_INVALID;
	size_t n = 0;
	for (size_t off = 0; off < rr->len; n++) {
		size_t l = rr->data[off];
		if (off + 1 + l > rr->len)
			return MS_ERR_PARSE;
		off += 1 + l;
	}
	*count = n;
	return MS_OK;
}

ms_status ms_dns_result_txt_string(const struct ms_dns_result *r, size_t i,
				   size_t j, const uint8_t **s, size_t *len)
{
	const struct ms_dns_rr *rr = rr_of(r, i, MS_DNS_T_TXT, MS_DNS_T_TXT);
	if (rr == NULL || s == NULL || len == NULL)
		return MS_ERR_INVALID;
	size_t off = 0;
	for (size_t k = 0; off < rr->len; k++) {
		size_t l = rr->data[off];
		if (off + 1 + l > rr->len)
			return MS_ERR_PARSE;
		if (k == j) {
			*s = rr->data + off + 1;
			*len = l;
			return MS_OK;
		}
		off += 1 + l;
	}
	return MS_ERR_INVALID;
}

ms_status ms_dns_result_tlsa(const struct ms_dns_result *r, size_t i,
			     struct ms_dns_tlsa *tlsa)
{
	const struct ms_dns_rr *rr = rr_of(r, i, MS_DNS_T_TLSA, MS_DNS_T_TLSA);
	if (rr == NULL)
		return MS_ERR_INVALID;
	return ms_dns_parse_tlsa(rr->data, rr->len, tlsa);
}

ms_status ms_dns_result_rdata_text(const struct ms_dns_result *r, size_t i,
				   char *buf, size_t buflen)
{
	if (r == NULL || i >= r->n)
		return MS_ERR_INVALID;
	return ms_dns_rdata_to_text(r->rr[i].type, r->rr[i].data, r->rr[i].len,
				    buf, buflen);
}

int ms_dns_result_failed(const struct ms_dns_result *r)
{
	if (r == NULL)
		return 1;
	/* A combined address result records each half: either failing is a
	 * failure of the whole (see addr.c). */
	for (size_t i = 0; i < r->nfamilies; i++)
		if (r->families[i].security == MS_DNS_BOGUS ||
		    r->families[i].security == MS_DNS_INDETERMINATE ||
		    r->families[i].outcome >= MS_DNS_SERVFAIL)
			return 1;
	return r->security == MS_DNS_BOGUS || r->security == MS_DNS_INDETERMINATE ||
	       r->outcome == MS_DNS_SERVFAIL || r->outcome == MS_DNS_TIMEOUT ||
	       r->outcome == MS_DNS_REFUSED;
}

/*
 * A copy of `r` with its allocator from `env`, in one block like
 * ms_dns_from_ub's (struct, record array and data): every field as it is
 * (outcome, security, EDE, TTL, CNAME state, both halves of a combined
 * address lookup), the records and the EDE text copied.  NULL when out of
 * memory.  Serves ms_dns_result_dup and the per-waiter copies of a
 * coalesced answer (1,000 lookups of 4 names share 4 answers, and a copy
 * per waiter is most of what they cost).
 */
static struct ms_dns_result *copy_packed(const struct ms_env *env,
					 const struct ms_dns_result *r)
{
	size_t datalen = 0;
	for (size_t i = 0; i < r->n; i++)
		datalen += r->rr[i].len;
	struct ms_dns_result *c = ms_dns_result_alloc_packed(env, r->qname, r->qtype, r->n,
							     datalen);
	if (c == NULL)
		return NULL;
	struct ms_env e = c->env;
	struct ms_dns_rr *rr = c->rr;
	size_t cap = c->cap;
	int rr_inline = c->rr_inline;
	*c = *r;
	c->env = e;
	c->rr = rr;
	c->cap = cap;
	c->rr_inline = rr_inline;
	c->n = c->n_inline = 0;
	c->is_static = 0; /* a copy of the shared failure is the caller's */
	c->ede_text = NULL;
	if (r->ede_text && (c->ede_text = ms_strdup(&c->env, r->ede_text)) == NULL) {
		ms_dns_result_free(c);
		return NULL;
	}
	/* whatever the security (a bogus result has none) */
	for (size_t i = 0; i < r->n; i++)
		ms_dns_result_add_inline(c, r->rr[i].type, r->rr[i].data, r->rr[i].len);
	c->outcome = r->outcome; /* adding records sets ANSWER */
	return c;
}

ms_status ms_dns_result_dup(const struct ms_env *env, const struct ms_dns_result *r,
			    struct ms_dns_result **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	if (r == NULL)
		return MS_ERR_INVALID;
	*out = copy_packed(env ? env : &r->env, r);
	return *out ? MS_OK : MS_ERR_NOMEM;
}

struct ms_dns_result *ms_dns_result_copy(const struct ms_dns_result *r)
{
	return copy_packed(&r->env, r);
}
