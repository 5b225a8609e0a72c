/*
 * dmarcrep_xml.c - the XML aggregate report (RFC 7489 Appendix C),
 * written with libxml2's text writer (it escapes; nothing is pasted).
 * Element order follows the schema's sequences; elements the schema makes
 * optional are left out when empty (extra_contact_info, adkim/aspf never:
 * they are always known, DKIM selector, policy override reason).
 */
#include "dmarcrep_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
	/* libxml2's global tables; must run before threads parse.  Never
	 * cleaned up by a library: the process may use libxml2 itself. */
	xmlInitParser();
}

void dmarcrep_xml_init(void)
{
	pthread_once(&xml_once, xml_init_once);
}

#define X(s) ((const xmlChar *)(s))

static int el(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(w, X(name), X(text));
}

static int el_int(xmlTextWriterPtr w, const char *name, long long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", v);
	return el(w, name, b);
}

static int el_uint(xmlTextWriterPtr w, const char *name, unsigned long long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%llu", v);
	return el(w, name, b);
}

static int write_row(xmlTextWriterPtr w, const struct ms_dmarcrep_row *r)
{
	int bad = 0;
	bad |= xmlTextWriterStartElement(w, X("record")) < 0;
	bad |= xmlTextWriterStartElement(w, X("row")) < 0;
	bad |= el(w, "source_ip", r->source_ip) < 0;
	bad |= el_uint(w, "count", (unsigned long long)r->count) < 0;  /* 64 bits, unsigned */
	bad |= xmlTextWriterStartElement(w, X("policy_evaluated")) < 0;
	bad |= el(w, "disposition", r->disposition) < 0;
	bad |= el(w, "dkim", r->dkim_eval) < 0;
	bad |= el(w, "spf", r->spf_eval) < 0;
	if (r->reason[0]) {
		bad |= xmlTextWriterStartElement(w, X("reason")) < 0;
		bad |= el(w, "type", r->reason) < 0;
		bad |= xmlTextWriterEndElement(w) < 0;
	}
	bad |= xmlTextWriterEndElement(w) < 0;   /* policy_evaluated */
	bad |= xmlTextWriterEndElement(w) < 0;   /* row */
	bad |= xmlTextWriterStartElement(w, X("identifiers")) < 0;
	bad |= el(w, "envelope_from", r->envelope_from) < 0;
	bad |= el(w, "header_from", r->header_from) < 0;
	bad |= xmlTextWriterEndElement(w) < 0;
	bad |= xmlTextWriterStartElement(w, X("auth_results")) < 0;
	for (size_t i = 0; i < r->ndkim; i++) {
		bad |= xmlTextWriterStartElement(w, X("dkim")) < 0;
		bad |= el(w, "domain", r->dkim[i].domain) < 0;
		if (r->dkim[i].selector[0])
			bad |= el(w, "selector", r->dkim[i].selector) < 0;
		bad |= el(w, "result", r->dkim[i].result) < 0;
		bad |= xmlTextWriterEndElement(w) < 0;
	}
	/* the schema wants at least one spf element */
	bad |= xmlTextWriterStartElement(w, X("spf")) < 0;
	bad |= el(w, "domain", r->spf_domain) < 0;
	bad |= el(w, "scope", r->spf_scope[0] ? r->spf_scope : "mfrom") < 0;
	bad |= el(w, "result", r->spf_result[0] ? r->spf_result : "none") < 0;
	bad |= xmlTextWriterEndElement(w) < 0;
	bad |= xmlTextWriterEndElement(w) < 0;   /* auth_results */
	bad |= xmlTextWriterEndElement(w) < 0;   /* record */
	return bad ? -1 : 0;
}

ms_status ms_dmarcrep_report_xml(const struct ms_dmarcrep_report *r, uint8_t **out, size_t *len,
				 char *why, size_t whylen)
{
	if (r == NULL || out == NULL || len == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	*len = 0;
	ms_status st = dmarcrep_meta_check(&r->meta, 0, why, whylen);
	if (st != MS_OK)
		return st;
	dmarcrep_xml_init();
	const struct ms_dmarcrep_meta *m = &r->meta;
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	if (w == NULL) {
		xmlBufferFree(buf);
		return ms_why(why, whylen, MS_ERR_NOMEM, "libxml2 writer");
	}
	int bad = 0;
	bad |= xmlTextWriterSetIndent(w, 1) < 0;
	bad |= xmlTextWriterSetIndentString(w, X("  ")) < 0;
	bad |= xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0;
	bad |= xmlTextWriterStartElement(w, X("feedback")) < 0;
	bad |= xmlTextWriterStartElement(w, X("report_metadata")) < 0;
	bad |= el(w, "org_name", m->org_name) < 0;
	bad |= el(w, "email", m->email) < 0;
	if (m->extra_contact_info[0])
		bad |= el(w, "extra_contact_info", m->extra_contact_info) < 0;
	bad |= el(w, "report_id", m->report_id) < 0;
	bad |= xmlTextWriterStartElement(w, X("date_range")) < 0;
	bad |= el_int(w, "begin", m->begin) < 0;
	bad |= el_int(w, "end", m->end) < 0;
	bad |= xmlTextWriterEndElement(w) < 0;
	bad |= xmlTextWriterEndElement(w) < 0;
	bad |= xmlTextWriterStartElement(w, X("policy_published")) < 0;
	bad |= el(w, "domain", m->domain) < 0;
	bad |= el(w, "adkim", m->adkim) < 0;
	bad |= el(w, "aspf", m->aspf) < 0;
	bad |= el(w, "p", m->p) < 0;
	bad |= el(w, "sp", m->sp) < 0;
	bad |= el_int(w, "pct", m->pct) < 0;
	bad |= el(w, "fo", m->fo) < 0;
	bad |= xmlTextWriterEndElement(w) < 0;
	for (size_t i = 0; i < r->rows.n && !bad; i++)
		bad |= write_row(w, &r->rows.rows[i]);
	bad |= xmlTextWriterEndElement(w) < 0;   /* feedback */
	bad |= xmlTextWriterEndDocument(w) < 0;
	xmlFreeTextWriter(w);   /* flushes into buf */
	if (!bad) {
		size_t n = (size_t)xmlBufferLength(buf);
		*out = malloc(n + 1);
		if (*out) {
			memcpy(*out, xmlBufferContent(buf), n);
			(*out)[n] = '\0';
			*len = n;
		} else {
			bad = 1;
		}
	}
	xmlBufferFree(buf);
	if (bad)
		return ms_why(why, whylen, MS_ERR_NOMEM, "libxml2 writer failed");
	return MS_OK;
}
