/*
 * spf_eval.c - check_host() (RFC 7208 s4-s6): record selection, term
 * evaluation, include/redirect, the lookup limits (s4.6.4) and the
 * explanation (s6.2), with the DNSSEC security of every deciding lookup
 * folded into the verdict.
 */
#include "spf_internal.h"

#include <stdio.h>
#include <string.h>

#define MECH_MAX 512
#define FETCH_STACK 1024

struct eval {
	struct ms_spf *spf;
	struct ms_spf_verdict *v;
	struct spf_ip ip;
	char ip_i[80], ip_c[48];
	const char *sender, *local, *sender_domain, *helo;
	char problem[256];
	char *explanation;          /* set by the level whose "fail" stands */
	char top_domain[256];       /* the normalised <domain> of the top level */
	const char *cur_domain;     /* for %{p} */
	int p_done;
	char p_name[256];
};

enum { NOMATCH = -1, MATCH = -2 };   /* term outcomes besides final results */
enum lk { LK_OK, LK_VOID, LK_ERR };

static void fold_security(struct eval *e, enum ms_dns_security s)
{
	if (!e->v->any_lookup) {
		e->v->any_lookup = 1;
		e->v->dnssec = s;
	} else {
		e->v->dnssec = ms_dns_security_combine(e->v->dnssec, s);
	}
}

static int set_problem(struct eval *e, int result, const char *fmt, ...) MS_PRINTF(3, 4);
static int set_problem(struct eval *e, int result, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->problem, sizeof(e->problem), fmt, ap);
	va_end(ap);
	return result;
}

/*
 * One DNS lookup.  `decides`: fold its security into the verdict (every
 * lookup except the explanation's).  A name the DNS layer refuses (empty
 * label, over-long label after expansion) cannot exist: a void answer
 * whose DNSSEC status is unknown.
 */
/* Results from lookup() go back through release(): cached ones stay. */
static void release(struct eval *e, struct ms_dns_result *r)
{
	if (r && !spf_cache_owns(e->spf, r))
		ms_dns_result_free(r);
}

static enum lk classify(struct eval *e, const char *name, struct ms_dns_result *r, int decides)
{
	if (decides)
		fold_security(e, ms_dns_result_security(r));
	switch (ms_dns_result_outcome(r)) {
	case MS_DNS_ANSWER:
		return LK_OK;
	case MS_DNS_NXDOMAIN:
	case MS_DNS_NODATA:
		return LK_VOID;
	default:
		set_problem(e, 0, "DNS %s for %s", ms_dns_outcome_str(ms_dns_result_outcome(r)), name);
		return LK_ERR;
	}
}

static enum lk lookup(struct eval *e, const char *name, uint16_t type,
		      struct ms_dns_result **out, int decides)
{
	char why[160];
	*out = NULL;
	if (type != MS_DNS_T_PTR && (*out = spf_cache_get(e->spf, name, type)) != NULL)
		return classify(e, name, *out, decides);
	why[0] = '\0';
	ms_status st = type == MS_DNS_T_PTR ?
		ms_dns_lookup_ptr(e->spf->dns, name, out, why, sizeof(why)) :
		ms_dns_lookup(e->spf->dns, name, type, out, why, sizeof(why));
	if (st == MS_ERR_INVALID) {
		if (decides)
			fold_security(e, MS_DNS_INDETERMINATE);
		return LK_VOID;
	}
	if (st != MS_OK) {
		set_problem(e, 0, "DNS lookup of %s failed: %s", name, why);
		if (decides)
			fold_security(e, MS_DNS_INDETERMINATE);
		return LK_ERR;
	}
	if (type != MS_DNS_T_PTR)
		spf_cache_put(e->spf, *out);
	return classify(e, name, *out, decides);
}

/* s4.6.4: more than two void lookups is a permerror. */
static int count_void(struct eval *e)
{
	if (++e->v->void_lookups > MS_SPF_MAX_VOID_LOOKUPS)
		return set_problem(e, MS_SPF_PERMERROR, "more than %d void DNS lookups",
				   MS_SPF_MAX_VOID_LOOKUPS);
	return NOMATCH;
}

static int count_term(struct eval *e)
{
	if (++e->v->dns_lookups > MS_SPF_MAX_DNS_TERMS)
		return set_problem(e, MS_SPF_PERMERROR, "more than %d DNS-querying terms",
				   MS_SPF_MAX_DNS_TERMS);
	return NOMATCH;
}

/* s4.3: a domain check_host() can work on (else the result is "none");
 * `why` says what is wrong with it. */
static int domain_ok(const char *d, char *norm, size_t normlen, char *why, size_t whylen)
{
	if (d == NULL || d[0] == '\0') {
		snprintf(why, whylen, "empty domain");
		return 0;
	}
	if (d[0] == '[') {
		snprintf(why, whylen, "an address literal is not a domain");
		return 0;
	}
	if (ms_dns_name_normalize(d, norm, normlen, why, whylen) != MS_OK)
		return 0;
	if (strchr(norm, '.') == NULL) {
		snprintf(why, whylen, "not fully qualified");
		return 0;
	}
	return 1;
}

/* "none" for a malformed <domain>: quote it whole when short, else a
 * bounded prefix marked with "..." and its length, so that the problem
 * text is never cut off at an arbitrary octet. */
static int bad_domain(struct eval *e, const char *d, const char *why)
{
	size_t n = d ? strlen(d) : 0;
	if (n <= 64)
		return set_problem(e, MS_SPF_NONE, "'%s' is not a valid domain: %s",
				   d ? d : "", why);
	return set_problem(e, MS_SPF_NONE, "'%.40s...' (%zu octets) is not a valid domain: %s",
			   d, n, why);
}

static int addr_in(const struct ms_dns_result *r, uint16_t type, const struct spf_ip *ip,
		   int bits)
{
	for (size_t i = 0; i < ms_dns_result_count(r); i++) {
		size_t len;
		if (ms_dns_result_rtype(r, i) != type)
			continue;
		const uint8_t *d = ms_dns_result_rdata(r, i, &len);
		if (len != (type == MS_DNS_T_A ? 4u : 16u))
			continue;
		if (spf_ip_match(ip, d, type == MS_DNS_T_A, bits))
			return 1;
	}
	return 0;
}

/* %{p} and ptr: names of the client that resolve back to it (s5.5). */
static size_t validated_names(struct eval *e, char names[][256], size_t max, int decides)
{
	struct ms_dns_result *r;
	if (lookup(e, e->ip_c, MS_DNS_T_PTR, &r, decides) != LK_OK) {
		release(e, r);
		return 0;
	}
	size_t n = 0, seen = 0;
	uint16_t type = e->ip.v4 ? MS_DNS_T_A : MS_DNS_T_AAAA;
	for (size_t i = 0; i < ms_dns_result_count(r) && n < max; i++) {
		char name[256];
		size_t rdlen;
		const uint8_t *rd = ms_dns_result_rdata(r, i, &rdlen);
		if (ms_dns_result_rtype(r, i) != MS_DNS_T_PTR ||
		    spf_wire_name(rd, rdlen, name, sizeof(name)) != MS_OK)
			continue;
		/* s4.6.4: at most 10 PTR names are looked at. */
		if (++seen > MS_SPF_MAX_MX_PTR_NAMES)
			break;
		struct ms_dns_result *a;
		if (lookup(e, name, type, &a, decides) == LK_OK &&
		    addr_in(a, type, &e->ip, e->ip.v4 ? 32 : 128))
			snprintf(names[n++], 256, "%s", name);
		release(e, a);
	}
	release(e, r);
	return n;
}

static int is_sub_or_same(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);
	if (n == d)
		return ms_ascii_casecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' && ms_ascii_casecmp(name + n - d, domain) == 0;
}

static const char *p_macro(void *user)
{
	struct eval *e = user;
	if (!e->p_done) {
		char names[MS_SPF_MAX_MX_PTR_NAMES][256];
		size_t n = validated_names(e, names, MS_SPF_MAX_MX_PTR_NAMES, 1);
		const char *best = NULL;
		/* Prefer the domain itself, then a subdomain of it, then any (s7.3). */
		for (size_t i = 0; i < n && !best; i++)
			if (ms_ascii_casecmp(names[i], e->cur_domain) == 0)
				best = names[i];
		for (size_t i = 0; i < n && !best; i++)
			if (is_sub_or_same(names[i], e->cur_domain))
				best = names[i];
		if (!best && n)
			best = names[0];
		snprintf(e->p_name, sizeof(e->p_name), "%s", best ? best : "unknown");
		e->p_done = 1;
	}
	return e->p_name;
}

static void macro_vars(struct eval *e, const char *domain, struct spf_macro_vars *mv)
{
	memset(mv, 0, sizeof(*mv));
	mv->sender = e->sender;
	mv->local = e->local;
	mv->sender_domain = e->sender_domain;
	mv->domain = domain;
	mv->ip_i = e->ip_i;
	mv->ip_c = e->ip_c;
	mv->v = e->ip.v4 ? "in-addr" : "ip6";
	mv->helo = e->helo;
	mv->receiver = e->spf->receiver;
	mv->clock_env = &e->spf->env;   /* %{t} reads the clock only when used */
	mv->ptr = p_macro;
	mv->ptr_user = e;
	e->cur_domain = domain;
}

/* Expand a domain-spec (or take `domain` when absent) into `out`. */
static int target_of(struct eval *e, const char *domain, const char *spec, size_t len,
		     char *out, size_t outlen)
{
	if (spec == NULL) {
		spf_copy(out, outlen, domain);
		return NOMATCH;
	}
	if (memchr(spec, '%', len) == NULL && len < outlen) {
		/* No macro: the domain-spec is the name (most includes). */
		memcpy(out, spec, len);
		out[len] = '\0';
		spf_domain_truncate(out);
		return NOMATCH;
	}
	struct spf_macro_vars mv;
	macro_vars(e, domain, &mv);
	struct ms_buf b;
	ms_buf_init(&b, &e->spf->env, SPF_EXPAND_MAX);
	ms_status st = spf_macro_expand(spec, len, 0, &mv, &b);
	if (st != MS_OK) {
		ms_buf_free(&b);
		return set_problem(e, MS_SPF_PERMERROR, "macro expansion failed: %s",
				   ms_status_str(st));
	}
	char *s = b.data ? (char *)b.data : (char *)"";
	spf_domain_truncate(s);
	spf_copy(out, outlen, s);
	ms_buf_free(&b);
	return NOMATCH;
}

static enum ms_spf_result check_host(struct eval *e, const char *domain, int depth,
				     const char *given, size_t givenlen,
				     char *mech, size_t mechlen);

static int eval_include(struct eval *e, const char *target, int depth)
{
	char scratch[MECH_MAX];
	char *saved = e->explanation;
	e->explanation = NULL;
	enum ms_spf_result r = check_host(e, target, depth + 1, NULL, 0, scratch, sizeof(scratch));
	/* An included "fail" is a non-match: its explanation must not leak. */
	ms_free(&e->spf->env, e->explanation);
	e->explanation = saved;
	switch (r) {
	case MS_SPF_PASS:
		return MATCH;
	case MS_SPF_FAIL:
	case MS_SPF_SOFTFAIL:
	case MS_SPF_NEUTRAL:
		return NOMATCH;
	case MS_SPF_TEMPERROR:
		return MS_SPF_TEMPERROR;
	case MS_SPF_NONE:
		return set_problem(e, MS_SPF_PERMERROR, "include:%s has no SPF record", target);
	default:
		return MS_SPF_PERMERROR;
	}
}

static int eval_mx(struct eval *e, const struct spf_term *t, const char *target)
{
	struct ms_dns_result *mx;
	enum lk k = lookup(e, target, MS_DNS_T_MX, &mx, 1);
	if (k != LK_OK) {
		release(e, mx);
		return k == LK_ERR ? MS_SPF_TEMPERROR : count_void(e);
	}
	size_t n = 0;
	for (size_t i = 0; i < ms_dns_result_count(mx); i++)
		if (ms_dns_result_rtype(mx, i) == MS_DNS_T_MX)
			n++;
	if (n > MS_SPF_MAX_MX_PTR_NAMES) {
		release(e, mx);
		return set_problem(e, MS_SPF_PERMERROR, "%s has more than %d MX records", target,
				   MS_SPF_MAX_MX_PTR_NAMES);
	}
	uint16_t type = e->ip.v4 ? MS_DNS_T_A : MS_DNS_T_AAAA;
	int bits = e->ip.v4 ? t->cidr4 : t->cidr6;
	int res = NOMATCH;
	for (size_t i = 0; i < ms_dns_result_count(mx) && res == NOMATCH; i++) {
		char host[256];
		size_t rdlen;
		const uint8_t *rd = ms_dns_result_rdata(mx, i, &rdlen);
		if (ms_dns_result_rtype(mx, i) != MS_DNS_T_MX || rdlen < 3 ||
		    spf_wire_name(rd + 2, rdlen - 2, host, sizeof(host)) != MS_OK ||
		    host[0] == '\0')
			continue;     /* null MX (RFC 7505) names no host */
		struct ms_dns_result *a;
		k = lookup(e, host, type, &a, 1);
		if (k == LK_ERR)
			res = MS_SPF_TEMPERROR;
		else if (k == LK_OK && addr_in(a, type, &e->ip, bits))
			res = MATCH;
		release(e, a);
	}
	release(e, mx);
	return res;
}

static int eval_term(struct eval *e, const struct spf_term *t, const char *domain, int depth)
{
	char target[512];
	int r;
	if (t->kind == SPF_ALL)
		return MATCH;
	if (t->kind == SPF_IP4 || t->kind == SPF_IP6)
		return spf_ip_match(&e->ip, t->addr, t->kind == SPF_IP4,
				    t->kind == SPF_IP4 ? t->cidr4 : t->cidr6) ? MATCH : NOMATCH;
	if ((r = count_term(e)) != NOMATCH)
		return r;
	if ((r = target_of(e, domain, t->spec, t->speclen, target, sizeof(target))) != NOMATCH)
		return r;

	struct ms_dns_result *res;
	enum lk k;
	switch (t->kind) {
	case SPF_INCLUDE:
		return eval_include(e, target, depth);
	case SPF_MX:
		return eval_mx(e, t, target);
	case SPF_A: {
		uint16_t type = e->ip.v4 ? MS_DNS_T_A : MS_DNS_T_AAAA;
		k = lookup(e, target, type, &res, 1);
		r = k == LK_ERR ? MS_SPF_TEMPERROR : k == LK_VOID ? count_void(e) :
			addr_in(res, type, &e->ip, e->ip.v4 ? t->cidr4 : t->cidr6) ? MATCH : NOMATCH;
		release(e, res);
		return r;
	}
	case SPF_EXISTS:
		/* s5.7: always an A query, whatever the client's family. */
		k = lookup(e, target, MS_DNS_T_A, &res, 1);
		r = k == LK_ERR ? MS_SPF_TEMPERROR : k == LK_VOID ? count_void(e) : NOMATCH;
		if (k == LK_OK)
			for (size_t i = 0; i < ms_dns_result_count(res); i++)
				if (ms_dns_result_rtype(res, i) == MS_DNS_T_A)
					r = MATCH;
		release(e, res);
		return r;
	case SPF_PTR: {
		/* s5.5: DNS errors make ptr not match; at most 10 names. */
		char names[MS_SPF_MAX_MX_PTR_NAMES][256];
		size_t n = validated_names(e, names, MS_SPF_MAX_MX_PTR_NAMES, 1);
		for (size_t i = 0; i < n; i++)
			if (is_sub_or_same(names[i], target))
				return MATCH;
		return NOMATCH;
	}
	default:
		return MS_SPF_PERMERROR;
	}
}

static void explain(struct eval *e, const struct spf_record *rec, const char *domain)
{
	ms_free(&e->spf->env, e->explanation);
	e->explanation = NULL;
	if (rec->exp == NULL)
		return;
	char target[512];
	char saved[sizeof(e->problem)];
	memcpy(saved, e->problem, sizeof(saved));
	if (target_of(e, domain, rec->exp, rec->explen, target, sizeof(target)) != NOMATCH) {
		memcpy(e->problem, saved, sizeof(saved));
		return;
	}
	struct ms_dns_result *r;
	/* s6.2: the exp lookup does not count and cannot change the result. */
	if (lookup(e, target, MS_DNS_T_TXT, &r, 0) == LK_OK) {
		size_t ntxt = 0, idx = 0;
		for (size_t i = 0; i < ms_dns_result_count(r); i++)
			if (ms_dns_result_rtype(r, i) == MS_DNS_T_TXT) {
				ntxt++;
				idx = i;
			}
		size_t rdlen;
		const uint8_t *rd = ntxt == 1 ? ms_dns_result_rdata(r, idx, &rdlen) : NULL;
		char *text = rd ? ms_malloc(&e->spf->env, rdlen + 1) : NULL;
		size_t tlen;
		if (text && ms_dns_parse_txt(rd, rdlen, text, rdlen + 1, &tlen) == MS_OK &&
		    spf_macro_check(text, tlen, 1, NULL, 0) == MS_OK) {
			struct spf_macro_vars mv;
			macro_vars(e, domain, &mv);
			struct ms_buf b;
			ms_buf_init(&b, &e->spf->env, 4096);
			if (spf_macro_expand(text, tlen, 1, &mv, &b) == MS_OK)
				e->explanation = ms_buf_steal(&b);
			ms_buf_free(&b);
		}
		ms_free(&e->spf->env, text);
	}
	release(e, r);
	memcpy(e->problem, saved, sizeof(saved));
}

/* Find the one "v=spf1" TXT record of `domain` (s4.4, s4.5).  Records
 * that fit are joined into `stackbuf` (FETCH_STACK octets); longer ones
 * are allocated.  *out is stackbuf, an allocation, or NULL. */
static int fetch_record(struct eval *e, const char *domain, char *stackbuf, char **out,
			size_t *outlen)
{
	struct ms_dns_result *r;
	*out = NULL;
	enum lk k = lookup(e, domain, MS_DNS_T_TXT, &r, 1);
	if (k != LK_OK) {
		release(e, r);
		if (k == LK_ERR)
			return MS_SPF_TEMPERROR;
		return set_problem(e, MS_SPF_NONE, "%s has no SPF record", domain);
	}
	int found = 0, res = NOMATCH;
	for (size_t i = 0; i < ms_dns_result_count(r) && res == NOMATCH; i++) {
		size_t rdlen, tlen;
		if (ms_dns_result_rtype(r, i) != MS_DNS_T_TXT)
			continue;
		const uint8_t *rd = ms_dns_result_rdata(r, i, &rdlen);
		/* Cheap pre-check on the first character-string: most TXT
		 * records at a domain are not SPF. */
		if (rdlen < 7 ||
		    (rd[0] >= 6 && ms_ascii_ncasecmp((const char *)rd + 1, "v=spf1", 6) != 0))
			continue;
		char *text = rdlen + 1 <= FETCH_STACK && *out != stackbuf ? stackbuf :
			ms_malloc(&e->spf->env, rdlen + 1);
		if (text == NULL) {
			res = set_problem(e, MS_SPF_TEMPERROR, "out of memory");
			break;
		}
		if (ms_dns_parse_txt(rd, rdlen, text, rdlen + 1, &tlen) == MS_OK && tlen >= 6 &&
		    ms_ascii_ncasecmp(text, "v=spf1", 6) == 0 && (tlen == 6 || text[6] == ' ')) {
			if (++found > 1) {
				if (text != stackbuf)
					ms_free(&e->spf->env, text);
				res = set_problem(e, MS_SPF_PERMERROR,
						  "%s has more than one SPF record", domain);
				break;
			}
			*out = text;
			*outlen = tlen;
			continue;
		}
		if (text != stackbuf)
			ms_free(&e->spf->env, text);
	}
	release(e, r);
	if (res == NOMATCH && !found)
		res = set_problem(e, MS_SPF_NONE, "%s has no SPF record", domain);
	if (res != NOMATCH) {
		if (*out != stackbuf)
			ms_free(&e->spf->env, *out);
		*out = NULL;
	}
	return res;
}

static enum ms_spf_result qual_result(char q)
{
	switch (q) {
	case '-': return MS_SPF_FAIL;
	case '~': return MS_SPF_SOFTFAIL;
	case '?': return MS_SPF_NEUTRAL;
	default: return MS_SPF_PASS;
	}
}

static enum ms_spf_result check_host(struct eval *e, const char *domain, int depth,
				     const char *given, size_t givenlen,
				     char *mech, size_t mechlen)
{
	char dom[256];
	mech[0] = '\0';
	if (depth > SPF_MAX_DEPTH)
		return set_problem(e, MS_SPF_PERMERROR, "include/redirect nested too deep");
	char dwhy[96];
	if (!domain_ok(domain, dom, sizeof(dom), dwhy, sizeof(dwhy)))
		return bad_domain(e, domain, dwhy);
	if (depth == 0)
		memcpy(e->top_domain, dom, sizeof(dom));

	char *text = NULL;
	char stackbuf[FETCH_STACK];
	size_t len = givenlen;
	if (given == NULL) {
		int r = fetch_record(e, dom, stackbuf, &text, &len);
		if (r != NOMATCH)
			return r;
		given = text;
	}
	struct spf_record rec;
	char why[200];
	ms_status st = spf_record_parse(&e->spf->env, given, len, &rec, why, sizeof(why));
	if (st != MS_OK) {
		if (text != stackbuf)
			ms_free(&e->spf->env, text);
		if (st == MS_ERR_NOMEM)
			return set_problem(e, MS_SPF_TEMPERROR, "out of memory");
		return set_problem(e, MS_SPF_PERMERROR, "SPF record of %s: %s", dom, why);
	}

	int r = NOMATCH;
	size_t i;
	for (i = 0; i < rec.nterms && r == NOMATCH; i++)
		r = eval_term(e, &rec.terms[i], dom, depth);
	enum ms_spf_result res;
	if (r == MATCH) {
		const struct spf_term *t = &rec.terms[i - 1];
		size_t ml = t->textlen < mechlen ? t->textlen : mechlen - 1;
		memcpy(mech, t->text, ml);
		mech[ml] = '\0';
		res = qual_result(t->qual);
		if (res == MS_SPF_FAIL)
			explain(e, &rec, dom);
	} else if (r != NOMATCH) {
		res = (enum ms_spf_result)r;
	} else if (rec.redirect) {
		/* s6.1: redirect applies only when no mechanism matched. */
		char target[512];
		if ((r = count_term(e)) != NOMATCH ||
		    (r = target_of(e, dom, rec.redirect, rec.redirectlen, target,
				   sizeof(target))) != NOMATCH) {
			res = (enum ms_spf_result)r;
		} else {
			res = check_host(e, target, depth + 1, NULL, 0, mech, mechlen);
			if (res == MS_SPF_NONE)
				res = set_problem(e, MS_SPF_PERMERROR,
						  "redirect=%s has no SPF record", target);
		}
	} else {
		spf_copy(mech, mechlen, "default");
		res = MS_SPF_NEUTRAL;
	}
	spf_record_release(&e->spf->env, &rec);
	if (text != stackbuf)
		ms_free(&e->spf->env, text);
	return res;
}

/* ---- entry points --------------------------------------------------- */

static ms_status run(struct ms_spf *spf, const char *ipt, const char *domain,
		     const char *sender, const char *helo, enum ms_spf_identity id,
		     const uint8_t *record, size_t reclen,
		     struct ms_spf_verdict **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no output pointer");
	*out = NULL;
	if (spf == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no SPF evaluator");
	struct eval e;
	memset(&e, 0, sizeof(e));
	e.spf = spf;
	if (spf_ip_parse(ipt, &e.ip) != 0)
		return ms_why(why, whylen, MS_ERR_INVALID, "'%.64s' is not an IP address",
			      ipt ? ipt : "(null)");
	/* An over-long HELO or domain is a malformed <domain>: check_host()
	 * says "none" (s4.3), not the caller.  Only a local-part too long for
	 * the macro buffers is refused: RFC 5321 s4.5.3.1.1 allows 64 octets,
	 * so an SMTP server has already refused such a path. */
	const char *lat = sender ? strrchr(sender, '@') : NULL;
	if (sender && (lat ? (size_t)(lat - sender) : 0) > SPF_VALUE_MAX - 64)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "local-part of the sender longer than %d octets", SPF_VALUE_MAX - 64);
	spf_ip_format_i(&e.ip, e.ip_i, sizeof(e.ip_i));
	spf_ip_format_c(&e.ip, e.ip_c, sizeof(e.ip_c));

	/* s4.3: no local-part means "postmaster"; s2.4: the null sender is
	 * checked as postmaster@helo. */
	char sbuf[SPF_VALUE_MAX + 8], lbuf[SPF_VALUE_MAX];
	const char *h = helo && helo[0] ? helo : NULL;
	const char *at = sender && sender[0] ? strrchr(sender, '@') : NULL;
	const char *sdom;
	if (sender == NULL || sender[0] == '\0') {
		spf_copy(lbuf, sizeof(lbuf), "postmaster");
		sdom = h ? h : "";
	} else if (at == NULL || at == sender) {
		spf_copy(lbuf, sizeof(lbuf), "postmaster");
		sdom = at ? at + 1 : sender;
	} else {
		memcpy(lbuf, sender, (size_t)(at - sender));   /* bounded: sender <= 448 */
		lbuf[at - sender] = '\0';
		sdom = at + 1;
	}
	{
		size_t ll = strlen(lbuf), dl = strlen(sdom);
		if (ll + dl + 2 > sizeof(sbuf))
			dl = sizeof(sbuf) - ll - 2;
		memcpy(sbuf, lbuf, ll);
		sbuf[ll] = '@';
		memcpy(sbuf + ll + 1, sdom, dl);
		sbuf[ll + 1 + dl] = '\0';
	}
	e.sender = sbuf;
	e.local = lbuf;
	e.sender_domain = sdom;
	e.helo = h ? h : "unknown";
	if (domain == NULL)
		domain = sdom;

	spf_cache_maintain(spf);   /* nothing of the cache is borrowed now */
	struct ms_spf_verdict *v = ms_calloc(&spf->env, 1, sizeof(*v));
	if (v == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	v->env = spf->env;
	v->identity = id;
	v->dnssec = MS_DNS_INDETERMINATE;
	e.v = v;

	char mech[MECH_MAX];
	v->result = check_host(&e, domain, 0, (const char *)record, reclen, mech, sizeof(mech));
	/* The verdict's strings live in one block: one allocation, not six. */
	const char *dom_s = e.top_domain[0] ? e.top_domain : domain;
	int want_problem = v->result == MS_SPF_PERMERROR || v->result == MS_SPF_TEMPERROR ||
			   v->result == MS_SPF_NONE;
	const char *parts[6] = { dom_s, sbuf, e.ip_c, h ? h : "", mech[0] ? mech : NULL,
				 want_problem ? (e.problem[0] ? e.problem : "no SPF record") : NULL };
	char **slots[6] = { &v->domain, &v->sender, &v->ip, &v->helo, &v->mechanism, &v->problem };
	size_t total = 0, lens[6];
	for (int i = 0; i < 6; i++) {
		lens[i] = parts[i] ? strlen(parts[i]) + 1 : 0;
		total += lens[i];
	}
	v->strings = ms_malloc(&spf->env, total);
	if (v->strings) {
		char *p = v->strings;
		for (int i = 0; i < 6; i++) {
			if (!parts[i])
				continue;
			memcpy(p, parts[i], lens[i]);
			*slots[i] = p;
			p += lens[i];
		}
	}
	if (v->result == MS_SPF_FAIL) {
		v->explanation = e.explanation ? e.explanation :
			ms_strdup(&spf->env, spf->default_exp ? spf->default_exp :
				  "SPF fail - not authorized");
		e.explanation = NULL;
	}
	ms_free(&spf->env, e.explanation);
	if (!v->strings || (v->result == MS_SPF_FAIL && !v->explanation)) {
		ms_spf_verdict_free(v);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	struct ms_kv kv[] = { { "result", ms_spf_result_str(v->result) },
			      { "dnssec", ms_dns_security_str(v->dnssec) } };
	ms_metric(&spf->env, MS_METRIC_COUNTER, "spf_checks_total", kv, 2, 1);
	if (ms_log_enabled(&spf->env, MS_LOG_DEBUG)) {
		struct ms_kv lkv[] = { { "domain", v->domain }, { "ip", v->ip },
				       { "result", ms_spf_result_str(v->result) },
				       { "problem", v->problem ? v->problem : "" } };
		ms_log(&spf->env, MS_LOG_DEBUG, "spf", "check_host done", lkv, 4);
	}
	*out = v;
	return MS_OK;
}

ms_status ms_spf_check_mailfrom(struct ms_spf *spf, const char *ip, const char *helo,
				const char *sender, struct ms_spf_verdict **out,
				char *why, size_t whylen)
{
	if (sender == NULL || sender[0] == '\0')
		return run(spf, ip, helo ? helo : "", NULL, helo, MS_SPF_ID_MAILFROM, NULL, 0,
			   out, why, whylen);
	return run(spf, ip, NULL, sender, helo, MS_SPF_ID_MAILFROM, NULL, 0, out, why, whylen);
}

ms_status ms_spf_check_helo(struct ms_spf *spf, const char *ip, const char *helo,
			    struct ms_spf_verdict **out, char *why, size_t whylen)
{
	return run(spf, ip, helo ? helo : "", NULL, helo, MS_SPF_ID_HELO, NULL, 0,
		   out, why, whylen);
}

ms_status ms_spf_check_record(struct ms_spf *spf, const char *ip, const char *domain,
			      const char *sender, const char *helo,
			      const uint8_t *record, size_t len,
			      struct ms_spf_verdict **out, char *why, size_t whylen)
{
	if (record == NULL || domain == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no record or domain");
	return run(spf, ip, domain, sender, helo, MS_SPF_ID_MAILFROM, record, len,
		   out, why, whylen);
}
