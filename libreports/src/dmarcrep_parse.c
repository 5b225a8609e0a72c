/*
 * dmarcrep_parse.c - received aggregate reports into the report
 * structure, with libxml2 (never a hand-written XML parser).
 *
 * Hostile input: the parser context's SAX handler refuses any document
 * type declaration at its start (internalSubset / externalSubset stop the
 * parser), so no entity is ever declared, let alone expanded (billion
 * laughs, external entities); XML_PARSE_NONET keeps the network out
 * anyway, XML_PARSE_NOENT (substitution) and XML_PARSE_HUGE are never
 * set, so libxml2's default depth and text size limits apply; the input
 * is read as UTF-8 whatever it declares; the XML size is capped before
 * parsing (MS_DMARCREP_MAX_XML) and rows at MS_DMARCREP_MAX_ROWS.
 */
#include "dmarcrep_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

struct guard {
	int dtd;
};

static void refuse_subset(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	xmlParserCtxtPtr c = ctx;
	struct guard *g = c->_private;
	g->dtd = 1;
	xmlStopParser(c);
}

static int is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* The trimmed text of element `name` under `n` into dst; 0 when it does
 * not fit (an absent element is "" and fits). */
static int text(const xmlNode *n, const char *name, char *dst, size_t dstlen, int lower)
{
	const xmlNode *c = name ? child(n, name) : n;
	dst[0] = '\0';
	if (c == NULL)
		return 1;
	xmlChar *t = xmlNodeGetContent(c);
	if (t == NULL)
		return 1;
	const char *s = (const char *)t;
	size_t len = strlen(s);
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	int ok = len < dstlen;
	if (ok) {
		memcpy(dst, s, len);
		dst[len] = '\0';
		if (lower)
			for (size_t i = 0; i < len; i++)
				dst[i] = (char)ms_ascii_lower((unsigned char)dst[i]);
	}
	xmlFree(t);
	return ok;
}

static int number(const xmlNode *n, const char *name, uint64_t max, uint64_t *out)
{
	char b[32];
	if (!text(n, name, b, sizeof(b), 0) || !b[0])
		return 0;
	uint64_t v = 0;
	for (const char *p = b; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

#define FIELD(node, name, arr, lower) text(node, name, arr, sizeof(arr), lower)

static ms_status parse_meta(const xmlNode *root, struct ms_dmarcrep_meta *m, char *why,
			    size_t whylen)
{
	const xmlNode *md = child(root, "report_metadata");
	const xmlNode *pp = child(root, "policy_published");
	if (md == NULL || pp == NULL)
		return ms_why(why, whylen, MS_ERR_PARSE, "no report_metadata or policy_published");
	const xmlNode *dr = child(md, "date_range");
	uint64_t b, e, pct = 100;
	if (dr == NULL || !number(dr, "begin", INT64_MAX, &b) || !number(dr, "end", INT64_MAX, &e))
		return ms_why(why, whylen, MS_ERR_PARSE, "date_range begin/end missing or not numbers");
	m->begin = (int64_t)b;
	m->end = (int64_t)e;
	if (!FIELD(md, "org_name", m->org_name, 0) || !FIELD(md, "email", m->email, 0) ||
	    !FIELD(md, "extra_contact_info", m->extra_contact_info, 0) ||
	    !FIELD(md, "report_id", m->report_id, 0))
		return ms_why(why, whylen, MS_ERR_PARSE, "report_metadata field too long");
	if (!FIELD(pp, "domain", m->domain, 1) || !FIELD(pp, "adkim", m->adkim, 1) ||
	    !FIELD(pp, "aspf", m->aspf, 1) || !FIELD(pp, "p", m->p, 1) ||
	    !FIELD(pp, "sp", m->sp, 1) || !FIELD(pp, "np", m->np, 1) ||
	    !FIELD(pp, "fo", m->fo, 0))
		return ms_why(why, whylen, MS_ERR_PARSE, "policy_published field too long");
	if (child(pp, "pct") && !number(pp, "pct", 100, &pct))
		return ms_why(why, whylen, MS_ERR_PARSE, "policy_published pct is not 0-100");
	m->pct = (unsigned)pct;
	if (!m->adkim[0])
		strcpy(m->adkim, "r");
	if (!m->aspf[0])
		strcpy(m->aspf, "r");
	if (!m->sp[0])
		snprintf(m->sp, sizeof(m->sp), "%s", m->p);
	if (!m->fo[0])
		strcpy(m->fo, "0");
	return dmarcrep_meta_check(m, 1, why, whylen);
}

static ms_status parse_record(const xmlNode *rec, size_t idx, struct ms_dmarcrep_row *r,
			      char *why, size_t whylen)
{
	memset(r, 0, sizeof(*r));
	r->version = MS_DMARCREP_ROW_VERSION;
	const xmlNode *row = child(rec, "row");
	const xmlNode *pe = child(row, "policy_evaluated");
	const xmlNode *id = child(rec, "identifiers");
	const xmlNode *ar = child(rec, "auth_results");
	if (row == NULL || !child(row, "source_ip") ||
	    !number(row, "count", UINT64_MAX, &r->count))
		return ms_why(why, whylen, MS_ERR_PARSE, "record %zu: no source_ip or count", idx);
	int ok = FIELD(row, "source_ip", r->source_ip, 1) &&
		 FIELD(pe, "disposition", r->disposition, 1) &&
		 FIELD(pe, "dkim", r->dkim_eval, 1) && FIELD(pe, "spf", r->spf_eval, 1) &&
		 FIELD(child(pe, "reason"), "type", r->reason, 1) &&
		 FIELD(id, "header_from", r->header_from, 1) &&
		 FIELD(id, "envelope_from", r->envelope_from, 1);
	for (const xmlNode *c = ar ? ar->children : NULL; c && ok; c = c->next) {
		if (is(c, "dkim") && r->ndkim < MS_DMARCREP_MAX_DKIM) {
			struct ms_dmarcrep_dkim *d = &r->dkim[r->ndkim++];
			ok = FIELD(c, "domain", d->domain, 1) && FIELD(c, "selector", d->selector, 0) &&
			     FIELD(c, "result", d->result, 1);
		} else if (is(c, "spf") && !r->spf_domain[0]) {
			/* the first SPF result; a row has one identity checked */
			ok = FIELD(c, "domain", r->spf_domain, 1) &&
			     FIELD(c, "scope", r->spf_scope, 1) &&
			     FIELD(c, "result", r->spf_result, 1);
			/* a result without a domain names nothing: as if absent
			 * (what the writer puts where the schema wants an spf) */
			if (!r->spf_domain[0])
				r->spf_scope[0] = r->spf_result[0] = '\0';
		}
	}
	if (!ok)
		return ms_why(why, whylen, MS_ERR_PARSE, "record %zu: a field is too long", idx);
	char w[200];
	if (ms_dmarcrep_row_check(r, w, sizeof(w)) != MS_OK)
		return ms_why(why, whylen, MS_ERR_PARSE, "record %zu: %s", idx, w);
	return MS_OK;
}

ms_status ms_dmarcrep_parse(const struct ms_env *env, const uint8_t *buf, size_t len,
			    size_t max_xml, struct ms_dmarcrep_report **out, char *why,
			    size_t whylen)
{
	if (out == NULL || (buf == NULL && len))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	uint8_t *xml = NULL;
	size_t xlen = 0;
	ms_status st = ms_dmarcrep_unpack(buf, len, max_xml, &xml, &xlen, why, whylen);
	if (st != MS_OK)
		return st;
	if (xlen > INT32_MAX) {
		free(xml);
		return ms_why(why, whylen, MS_ERR_LIMIT, "report too large");
	}
	dmarcrep_xml_init();
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (ctxt == NULL) {
		free(xml);
		return ms_why(why, whylen, MS_ERR_NOMEM, "libxml2 parser context");
	}
	struct guard g = { 0 };
	ctxt->_private = &g;
	ctxt->sax->internalSubset = refuse_subset;
	ctxt->sax->externalSubset = refuse_subset;
	xmlDocPtr doc = xmlCtxtReadMemory(ctxt, (const char *)xml, (int)xlen, "report.xml", "UTF-8",
					  XML_PARSE_NONET | XML_PARSE_NOERROR |
					  XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	free(xml);
	if (g.dtd) {
		st = ms_why(why, whylen, MS_ERR_PARSE,
			    "document type declaration refused (no DTD, no entities)");
		goto done;
	}
	if (doc == NULL) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		st = ms_why(why, whylen, MS_ERR_PARSE, "not well-formed XML: %s",
			    e && e->message ? e->message : "parse error");
		goto done;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (!is(root, "feedback")) {
		st = ms_why(why, whylen, MS_ERR_PARSE, "root element is not feedback");
		goto done;
	}
	struct ms_dmarcrep_meta m;
	memset(&m, 0, sizeof(m));
	m.version = MS_DMARCREP_META_VERSION;
	if ((st = parse_meta(root, &m, why, whylen)) != MS_OK)
		goto done;
	struct ms_dmarcrep_report *r = NULL;
	if ((st = dmarcrep_report_alloc(env, &m, &r, why, whylen)) != MS_OK)
		goto done;
	size_t idx = 0;
	for (const xmlNode *c = root->children; c && st == MS_OK; c = c->next) {
		if (!is(c, "record"))
			continue;
		struct ms_dmarcrep_row row;
		if ((st = parse_record(c, idx++, &row, why, whylen)) == MS_OK)
			st = dmarcrep_rowset_add(&r->rows, &row, 0, why, whylen);
	}
	if (st != MS_OK) {
		ms_dmarcrep_report_free(r);
		goto done;
	}
	*out = r;
done:
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return st;
}
