/*
 * dmarc_record.c - DMARC record parsing (RFC 7489 s6.3, s6.4; DMARCbis
 * np=, psd=, t=).  A tag-value list: "v=DMARC1" first, then tags
 * separated by ';' with optional whitespace; unknown tags ignored.
 */
#include "dmarc_internal.h"

#include <stdio.h>
#include <string.h>

static int wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *n)
{
	while (*n && wsp(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && wsp((*s)[*n - 1]))
		(*n)--;
}

static int eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && ms_ascii_ncasecmp(s, lit, n) == 0;
}

static int policy_of(const char *s, size_t n)
{
	if (eq(s, n, "none"))
		return MS_DMARC_POLICY_NONE;
	if (eq(s, n, "quarantine"))
		return MS_DMARC_POLICY_QUARANTINE;
	if (eq(s, n, "reject"))
		return MS_DMARC_POLICY_REJECT;
	return -2;
}

static void warn(struct ms_buf *w, const char *tag, const char *what)
{
	ms_buf_printf(w, "%s%s: %s", w->len ? "; " : "", tag, what);
}

/* DMARC-URI = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; we require a
 * scheme and, for mailto:, an address with a domain. */
static int uri_ok(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	if (colon == NULL || colon == s)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	if ((size_t)(colon - s) == 6 && ms_ascii_ncasecmp(s, "mailto", 6) == 0) {
		const char *at = memchr(colon, '@', n - (size_t)(colon - s));
		return at != NULL && at > colon + 1 && at + 1 < s + n;
	}
	return 1;
}

static ms_status uri_list(struct ms_dmarc_record *r, const char *s, size_t n, char **arr,
			  size_t *count, const char *tag, struct ms_buf *w)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		const char *u = s + i;
		size_t ul = j - i;
		trim(&u, &ul);
		if (ul && uri_ok(u, ul)) {
			if (*count >= DMARC_MAX_URIS) {
				warn(w, tag, "too many URIs, rest ignored");
				break;
			}
			if ((arr[*count] = ms_strndup(&r->env, u, ul)) == NULL)
				return MS_ERR_NOMEM;
			(*count)++;
		} else if (ul) {
			warn(w, tag, "invalid URI ignored");
		}
		i = j + 1;
	}
	return MS_OK;
}

ms_status ms_dmarc_record_parse(const struct ms_env *env, const uint8_t *buf, size_t len,
				struct ms_dmarc_record **out, char *why, size_t whylen)
{
	if (out == NULL || (buf == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "no record");
	*out = NULL;
	if (len > DMARC_RECORD_MAX)
		return ms_why(why, whylen, MS_ERR_LIMIT, "DMARC record longer than %d octets",
			      DMARC_RECORD_MAX);
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dmarc_record *r = ms_calloc(&e, 1, sizeof(*r));
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	r->env = e;
	r->p = r->sp = r->np = MS_DMARC_POLICY_ABSENT;
	r->pct = 100;
	r->psd = 'u';
	struct ms_buf w;
	ms_buf_init(&w, &e, 1024);
	const char *s = (const char *)buf;
	ms_status st = MS_OK;
	unsigned seen = 0;
	int first = 1, p_bad = 0;
	static const char *const tags[] = { "v", "p", "sp", "np", "adkim", "aspf", "pct",
					    "rua", "ruf", "fo", "rf", "ri", "psd", "t" };
	size_t i = 0;
	while (i < len && st == MS_OK) {
		size_t j = i;
		while (j < len && s[j] != ';')
			j++;
		const char *part = s + i;
		size_t pl = j - i;
		i = j + 1;
		trim(&part, &pl);
		if (pl == 0) {
			if (first)
				st = ms_why(why, whylen, MS_ERR_PARSE, "record does not start with v=DMARC1");
			continue;
		}
		const char *eqs = memchr(part, '=', pl);
		if (eqs == NULL) {
			if (first)
				st = ms_why(why, whylen, MS_ERR_PARSE, "record does not start with v=DMARC1");
			else
				warn(&w, "record", "part without '=' ignored");
			continue;
		}
		const char *tag = part, *val = eqs + 1;
		size_t tl = (size_t)(eqs - part), vl = pl - tl - 1;
		trim(&tag, &tl);
		trim(&val, &vl);
		if (first) {
			first = 0;
			if (!eq(tag, tl, "v") || vl != 6 || memcmp(val, "DMARC1", 6) != 0) {
				st = ms_why(why, whylen, MS_ERR_PARSE, "record does not start with v=DMARC1");
				break;
			}
			seen |= 1;
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
			if (eq(tag, tl, tags[k]))
				break;
		if (k == sizeof(tags) / sizeof(tags[0]))
			continue;   /* unknown tag: ignored (s6.3) */
		if (seen & (1u << k)) {
			st = ms_why(why, whylen, MS_ERR_PARSE, "tag '%s' appears twice", tags[k]);
			break;
		}
		seen |= 1u << k;
		int pv;
		switch (k) {
		case 0:
			st = ms_why(why, whylen, MS_ERR_PARSE, "tag 'v' appears twice");
			break;
		case 1: case 2: case 3:
			pv = policy_of(val, vl);
			if (pv == -2) {
				warn(&w, tags[k], "unknown policy ignored");
				if (k == 1)
					p_bad = 1;
			} else if (k == 1) {
				r->p = pv;
			} else if (k == 2) {
				r->sp = pv;
			} else {
				r->np = pv;
			}
			break;
		case 4: case 5: {
			enum ms_dmarc_align *a = k == 4 ? &r->adkim : &r->aspf;
			if (eq(val, vl, "s"))
				*a = MS_DMARC_ALIGN_STRICT;
			else if (!eq(val, vl, "r"))
				warn(&w, tags[k], "not 'r' or 's', relaxed used");
			break;
		}
		case 6: {
			unsigned v = 0;
			int ok = vl > 0 && vl <= 3;
			for (size_t q = 0; q < vl && ok; q++) {
				if (val[q] < '0' || val[q] > '9')
					ok = 0;
				else
					v = v * 10 + (unsigned)(val[q] - '0');
			}
			if (ok && v <= 100)
				r->pct = v;
			else
				warn(&w, "pct", "not 0-100, 100 used");
			break;
		}
		case 7:
			st = uri_list(r, val, vl, r->rua, &r->nrua, "rua", &w);
			break;
		case 8:
			st = uri_list(r, val, vl, r->ruf, &r->nruf, "ruf", &w);
			break;
		case 12:
			if (vl == 1 && (val[0] == 'y' || val[0] == 'n' || val[0] == 'u'))
				r->psd = val[0];
			else
				warn(&w, "psd", "not y/n/u, ignored");
			break;
		case 13:
			if (eq(val, vl, "y"))
				r->testing = 1;
			else if (!eq(val, vl, "n"))
				warn(&w, "t", "not y/n, ignored");
			break;
		default:
			break;      /* fo, rf, ri: reporting only */
		}
	}
	if (st == MS_OK && first)
		st = ms_why(why, whylen, MS_ERR_PARSE, "empty record");
	if (st == MS_OK && r->p == MS_DMARC_POLICY_ABSENT) {
		/* s6.6.3: no valid p= but a valid rua= means p=none. */
		if (r->nrua > 0)
			r->p = MS_DMARC_POLICY_NONE;
		else
			st = ms_why(why, whylen, MS_ERR_PARSE, "%s p= tag and no valid rua=",
				    p_bad ? "invalid" : "no");
	}
	if (st == MS_OK && w.len) {
		r->warnings = ms_buf_steal(&w);
		if (r->warnings == NULL)
			st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	ms_buf_free(&w);
	if (st != MS_OK) {
		ms_dmarc_record_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

void ms_dmarc_record_free(struct ms_dmarc_record *r)
{
	if (r == NULL)
		return;
	struct ms_env e = r->env;
	for (size_t i = 0; i < r->nrua; i++)
		ms_free(&e, r->rua[i]);
	for (size_t i = 0; i < r->nruf; i++)
		ms_free(&e, r->ruf[i]);
	ms_free(&e, r->warnings);
	ms_free(&e, r);
}

enum ms_dmarc_policy ms_dmarc_record_p(const struct ms_dmarc_record *r) { return r ? r->p : MS_DMARC_POLICY_ABSENT; }
enum ms_dmarc_policy ms_dmarc_record_sp(const struct ms_dmarc_record *r) { return r ? r->sp : MS_DMARC_POLICY_ABSENT; }
enum ms_dmarc_policy ms_dmarc_record_np(const struct ms_dmarc_record *r) { return r ? r->np : MS_DMARC_POLICY_ABSENT; }
enum ms_dmarc_align ms_dmarc_record_adkim(const struct ms_dmarc_record *r) { return r ? r->adkim : MS_DMARC_ALIGN_RELAXED; }
enum ms_dmarc_align ms_dmarc_record_aspf(const struct ms_dmarc_record *r) { return r ? r->aspf : MS_DMARC_ALIGN_RELAXED; }
unsigned ms_dmarc_record_pct(const struct ms_dmarc_record *r) { return r ? r->pct : 100; }
int ms_dmarc_record_testing(const struct ms_dmarc_record *r) { return r ? r->testing : 0; }
char ms_dmarc_record_psd(const struct ms_dmarc_record *r) { return r ? r->psd : 'u'; }
size_t ms_dmarc_record_rua_count(const struct ms_dmarc_record *r) { return r ? r->nrua : 0; }
const char *ms_dmarc_record_rua(const struct ms_dmarc_record *r, size_t i) { return r && i < r->nrua ? r->rua[i] : NULL; }
size_t ms_dmarc_record_ruf_count(const struct ms_dmarc_record *r) { return r ? r->nruf : 0; }
const char *ms_dmarc_record_ruf(const struct ms_dmarc_record *r, size_t i) { return r && i < r->nruf ? r->ruf[i] : NULL; }
const char *ms_dmarc_record_warnings(const struct ms_dmarc_record *r) { return r ? r->warnings : NULL; }

const char *ms_dmarc_policy_str(enum ms_dmarc_policy p)
{
	switch (p) {
	case MS_DMARC_POLICY_NONE: return "none";
	case MS_DMARC_POLICY_QUARANTINE: return "quarantine";
	case MS_DMARC_POLICY_REJECT: return "reject";
	default: return "absent";
	}
}
