/*
 * dmarcrep_report.c - the report handle: metadata, policy_published and
 * the rows, built from the store for one policy domain and period, and
 * the RFC 7489 s7.2.1.1 file name.
 */
#include "dmarcrep_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int printable(const char *s, size_t cap, int spaces)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < (spaces ? 0x20 : 0x21) || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

ms_status dmarcrep_meta_check(const struct ms_dmarcrep_meta *m, int need_id, char *why,
			      size_t whylen)
{
	if (m == NULL || m->version != MS_DMARCREP_META_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID, "no metadata or unknown version");
	if (!printable(m->org_name, sizeof(m->org_name), 1) || !m->org_name[0] ||
	    !printable(m->email, sizeof(m->email), 0) || !m->email[0] ||
	    !printable(m->extra_contact_info, sizeof(m->extra_contact_info), 1) ||
	    !printable(m->report_id, sizeof(m->report_id), 0) || (need_id && !m->report_id[0]))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "org_name, email and report_id must be printable (and present)");
	if (m->begin < 0 || m->end <= m->begin)
		return ms_why(why, whylen, MS_ERR_INVALID, "date_range: begin must be before end");
	if (!printable(m->domain, sizeof(m->domain), 0) || !m->domain[0])
		return ms_why(why, whylen, MS_ERR_INVALID, "policy_published domain missing");
	if (!dmarcrep_kw(m->p, dmarcrep_policy_kw) || !dmarcrep_kw(m->sp, dmarcrep_policy_kw) ||
	    (m->np[0] && !dmarcrep_kw(m->np, dmarcrep_policy_kw)) ||
	    (strcmp(m->adkim, "r") && strcmp(m->adkim, "s")) ||
	    (strcmp(m->aspf, "r") && strcmp(m->aspf, "s")) || m->pct > 100 ||
	    !printable(m->fo, sizeof(m->fo), 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad policy_published value");
	return MS_OK;
}

/* Fill the policy_published defaults the caller left empty. */
static void meta_defaults(struct ms_dmarcrep_meta *m)
{
	if (!m->p[0])
		strcpy(m->p, "none");
	if (!m->sp[0])
		strcpy(m->sp, m->p);
	if (!m->adkim[0])
		strcpy(m->adkim, "r");
	if (!m->aspf[0])
		strcpy(m->aspf, "r");
	if (!m->fo[0])
		strcpy(m->fo, "0");
}

ms_status dmarcrep_report_alloc(const struct ms_env *env, const struct ms_dmarcrep_meta *meta,
			      struct ms_dmarcrep_report **out, char *why, size_t whylen)
{
	if (out == NULL || meta == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dmarcrep_report *r = ms_calloc(&e, 1, sizeof(*r));
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	r->env = e;
	r->meta = *meta;
	dmarcrep_rowset_init(&r->rows, &r->env, 1, MS_DMARCREP_MAX_ROWS);
	*out = r;
	return MS_OK;
}

ms_status ms_dmarcrep_report_new(const struct ms_env *env, const struct ms_dmarcrep_meta *meta,
				 struct ms_dmarcrep_report **out, char *why, size_t whylen)
{
	ms_status st = dmarcrep_report_alloc(env, meta, out, why, whylen);
	if (st != MS_OK)
		return st;
	meta_defaults(&(*out)->meta);
	struct ms_dmarcrep_meta *m = &(*out)->meta;
	if (!m->report_id[0]) {
		/* unique per report: the period and a random part */
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)ms_monotonic_ns();
		snprintf(m->report_id, sizeof(m->report_id), "%lld.%lld.%08x",
			 (long long)m->begin, (long long)m->end, rnd);
	}
	if ((st = dmarcrep_meta_check(&(*out)->meta, 0, why, whylen)) != MS_OK) {
		ms_dmarcrep_report_free(*out);
		*out = NULL;
	}
	return st;
}

void ms_dmarcrep_report_free(struct ms_dmarcrep_report *r)
{
	if (r == NULL)
		return;
	dmarcrep_rowset_free(&r->rows);
	struct ms_env e = r->env;
	ms_free(&e, r);
}

ms_status ms_dmarcrep_report_add(struct ms_dmarcrep_report *r, const struct ms_dmarcrep_row *row,
				 char *why, size_t whylen)
{
	if (r == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no report");
	ms_status st = ms_dmarcrep_row_check(row, why, whylen);
	if (st != MS_OK)
		return st;
	return dmarcrep_rowset_add(&r->rows, row, 1, why, whylen);
}

/* "p=reject sp=none adkim=r aspf=r pct=100 np=none" into the metadata. */
static void policy_into_meta(struct ms_dmarcrep_meta *m, const char *pol)
{
	char buf[96];
	snprintf(buf, sizeof(buf), "%s", pol);
	char *save = NULL;
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (eq == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(t, "p") == 0 && dmarcrep_kw(eq, dmarcrep_policy_kw))
			snprintf(m->p, sizeof(m->p), "%s", eq);
		else if (strcmp(t, "sp") == 0 && dmarcrep_kw(eq, dmarcrep_policy_kw))
			snprintf(m->sp, sizeof(m->sp), "%s", eq);
		else if (strcmp(t, "np") == 0 && dmarcrep_kw(eq, dmarcrep_policy_kw))
			snprintf(m->np, sizeof(m->np), "%s", eq);
		else if (strcmp(t, "adkim") == 0 && (!strcmp(eq, "r") || !strcmp(eq, "s")))
			snprintf(m->adkim, sizeof(m->adkim), "%s", eq);
		else if (strcmp(t, "aspf") == 0 && (!strcmp(eq, "r") || !strcmp(eq, "s")))
			snprintf(m->aspf, sizeof(m->aspf), "%s", eq);
		else if (strcmp(t, "pct") == 0) {
			unsigned long v = strtoul(eq, NULL, 10);
			m->pct = v > 100 ? 100 : (unsigned)v;
		}
	}
}

struct gather {
	struct ms_dmarcrep_report *r;
	ms_status st;
	char *why;
	size_t whylen;
	int64_t policy_hour;
};

static int gather_row(void *user, const struct ms_dmarcrep_row *row)
{
	struct gather *g = user;
	/* the most recent hour's recorded policy is the one published */
	if (row->hour >= g->policy_hour && row->policy[0]) {
		g->policy_hour = row->hour;
		policy_into_meta(&g->r->meta, row->policy);
	}
	g->st = dmarcrep_rowset_add(&g->r->rows, row, 1, g->why, g->whylen);
	return g->st != MS_OK;
}

ms_status ms_dmarcrep_report_from_store(const struct ms_env *env, struct ms_dmarcrep_store *store,
					const struct ms_dmarcrep_meta *meta,
					struct ms_dmarcrep_report **out, char *why, size_t whylen)
{
	if (store == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no store");
	ms_status st = ms_dmarcrep_report_new(env, meta, out, why, whylen);
	if (st != MS_OK)
		return st;
	struct ms_dmarcrep_report *r = *out;
	r->meta.pct = 100;
	struct gather g = { r, MS_OK, why, whylen, INT64_MIN };
	st = ms_dmarcrep_store_each(store, r->meta.domain, r->meta.begin, r->meta.end, gather_row,
				    &g, why, whylen);
	if (st == MS_OK)
		st = g.st;
	if (st != MS_OK) {
		ms_dmarcrep_report_free(r);
		*out = NULL;
	}
	return st;
}

const struct ms_dmarcrep_meta *ms_dmarcrep_report_meta(const struct ms_dmarcrep_report *r)
{
	return r ? &r->meta : NULL;
}

size_t ms_dmarcrep_report_row_count(const struct ms_dmarcrep_report *r)
{
	return r ? r->rows.n : 0;
}

const struct ms_dmarcrep_row *ms_dmarcrep_report_row(const struct ms_dmarcrep_report *r, size_t i)
{
	return r && i < r->rows.n ? &r->rows.rows[i] : NULL;
}

uint64_t ms_dmarcrep_report_messages(const struct ms_dmarcrep_report *r)
{
	uint64_t n = 0;
	for (size_t i = 0; r && i < r->rows.n; i++)
		n += r->rows.rows[i].count;
	return n;
}

void ms_dmarcrep_buf_free(void *p)
{
	free(p);
}

static int name_ok(const char *s)
{
	if (s == NULL || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

ms_status ms_dmarcrep_filename(const struct ms_dmarcrep_report *r, const char *receiver,
			       const char *unique_id, const char *ext, char *buf, size_t buflen)
{
	if (r == NULL || buf == NULL || buflen == 0 || !name_ok(receiver) ||
	    (unique_id && !name_ok(unique_id)) || ext == NULL ||
	    (strcmp(ext, "xml.gz") && strcmp(ext, "xml")) || !name_ok(r->meta.domain))
		return MS_ERR_INVALID;
	int n = snprintf(buf, buflen, "%s!%s!%lld!%lld%s%s.%s", receiver, r->meta.domain,
			 (long long)r->meta.begin, (long long)r->meta.end, unique_id ? "!" : "",
			 unique_id ? unique_id : "", ext);
	if (n < 0 || (size_t)n >= buflen) {
		buf[0] = '\0';
		return MS_ERR_LIMIT;
	}
	return MS_OK;
}

void ms_dmarcrep_default_period(int64_t now, int64_t *begin, int64_t *end)
{
	/* The UTC day before `now` (RFC 7489 s7.2: reports cover 24 hours by
	 * default, aligned to UTC midnight). */
	int64_t e = (now - (now % 86400 + 86400) % 86400);
	if (end)
		*end = e;
	if (begin)
		*begin = e - 86400;
}
