/*
 * test_dmarc_unit.c - DMARC aggregate reports (mailsec/dmarc_report.h)
 * without the network:
 *   - the XML validates against the RFC 7489 Appendix C schema
 *     (tests/reports/rfc7489-appendix-c.xsd, libxml2's XSD validator) and
 *     its elements hold the rows' values (XPath), escaping included;
 *   - generated -> gzip -> parsed back gives the same report, and the
 *     mail message's attachment decodes to it;
 *   - real-world-shaped reports (Google zip, Microsoft and Yahoo gzip,
 *     written from the schema) parse to the values they hold;
 *   - hostile input: billion laughs, external entities, external DTD,
 *     a gzip bomb, an oversized plain document, a lying zip, truncated
 *     gzip, UTF-16, deep nesting: each a specific error;
 *   - the SQLite store and the recorder: identical rows aggregate, writes
 *     are batched (counted through a wrapping ops struct), expiry, a
 *     foreign schema version refused.
 */
#include "mstest.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <zlib.h>

#include <mailsec/dmarc_report.h>

static char why[512];

static struct ms_dmarcrep_row mkrow(const char *ip, const char *disp, const char *dkim_eval,
				    const char *spf_eval, uint64_t count)
{
	struct ms_dmarcrep_row r;
	memset(&r, 0, sizeof(r));
	r.version = MS_DMARCREP_ROW_VERSION;
	r.hour = 1764633600;
	strcpy(r.policy_domain, "example.test");
	strcpy(r.policy, "p=quarantine sp=none adkim=r aspf=s pct=100");
	strcpy(r.source_ip, ip);
	strcpy(r.header_from, "example.test");
	strcpy(r.envelope_from, "bounce.example.test");
	strcpy(r.disposition, disp);
	strcpy(r.dkim_eval, dkim_eval);
	strcpy(r.spf_eval, spf_eval);
	strcpy(r.spf_domain, "bounce.example.test");
	strcpy(r.spf_scope, "mfrom");
	strcpy(r.spf_result, strcmp(spf_eval, "pass") ? "fail" : "pass");
	r.ndkim = 1;
	strcpy(r.dkim[0].domain, "example.test");
	strcpy(r.dkim[0].selector, "rsa");
	strcpy(r.dkim[0].result, dkim_eval);
	r.count = count;
	return r;
}

static struct ms_dmarcrep_meta mkmeta(void)
{
	struct ms_dmarcrep_meta m;
	memset(&m, 0, sizeof(m));
	m.version = MS_DMARCREP_META_VERSION;
	strcpy(m.org_name, "Receiver <&> \"Org\"");
	strcpy(m.email, "dmarc-noreply@receiver.example");
	strcpy(m.report_id, "r-42");
	m.begin = 1764633600;
	m.end = 1764720000;
	strcpy(m.domain, "example.test");
	strcpy(m.p, "quarantine");
	strcpy(m.sp, "none");
	strcpy(m.aspf, "s");
	m.pct = 100;
	return m;
}

/* Two rows merged (same tuple, another hour), one failing row. */
static struct ms_dmarcrep_report *sample(void)
{
	struct ms_dmarcrep_meta m = mkmeta();
	struct ms_dmarcrep_report *r = NULL;
	ck_assert_msg(ms_dmarcrep_report_new(NULL, &m, &r, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_dmarcrep_row a = mkrow("192.0.2.1", "none", "pass", "pass", 3);
	struct ms_dmarcrep_row b = a;
	b.hour += 3600;
	b.count = 2;
	struct ms_dmarcrep_row c = mkrow("2001:db8::5", "quarantine", "fail", "fail", 1);
	strcpy(c.reason, "local_policy");
	ck_assert_int_eq(ms_dmarcrep_report_add(r, &a, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dmarcrep_report_add(r, &b, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dmarcrep_report_add(r, &c, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(ms_dmarcrep_report_row_count(r), 2);
	ck_assert_uint_eq(ms_dmarcrep_report_messages(r), 6);
	return r;
}

static char *xpath_text(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr c = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, c);
	char *s = (char *)xmlXPathCastToString(o);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(c);
	return s;
}

static void xp_eq(xmlDocPtr doc, const char *expr, const char *want)
{
	char *s = xpath_text(doc, expr);
	ck_assert_msg(strcmp(s, want) == 0, "%s: '%s', want '%s'", expr, s, want);
	xmlFree(s);
}

static int validate(const uint8_t *xml, size_t len, char *err, size_t errlen)
{
	char xsd[4096];
	snprintf(xsd, sizeof(xsd), "%s/tests/reports/rfc7489-appendix-c.xsd",
		 getenv("MS_SOURCE_ROOT"));
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
	xmlSchemaPtr schema = xmlSchemaParse(pc);
	ck_assert_msg(schema != NULL, "schema %s does not load", xsd);
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	xmlDocPtr doc = xmlReadMemory((const char *)xml, (int)len, "r.xml", NULL, XML_PARSE_NONET);
	ck_assert_ptr_nonnull(doc);
	int rc = xmlSchemaValidateDoc(vc, doc);
	const xmlError *e = xmlGetLastError();
	snprintf(err, errlen, "%s", rc && e && e->message ? e->message : "");
	xmlFreeDoc(doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	return rc;
}

START_TEST(xml_validates_and_holds_rows)
{
	struct ms_dmarcrep_report *r = sample();
	uint8_t *xml = NULL;
	size_t len = 0;
	ck_assert_msg(ms_dmarcrep_report_xml(r, &xml, &len, why, sizeof(why)) == MS_OK, "%s", why);
	char err[512];
	ck_assert_msg(validate(xml, len, err, sizeof(err)) == 0, "schema: %s\n%s", err, xml);
	xmlDocPtr doc = xmlReadMemory((const char *)xml, (int)len, "r.xml", NULL, XML_PARSE_NONET);
	xp_eq(doc, "string(/feedback/report_metadata/org_name)", "Receiver <&> \"Org\"");
	xp_eq(doc, "string(/feedback/report_metadata/report_id)", "r-42");
	xp_eq(doc, "string(/feedback/report_metadata/date_range/begin)", "1764633600");
	xp_eq(doc, "string(/feedback/report_metadata/date_range/end)", "1764720000");
	xp_eq(doc, "string(/feedback/policy_published/domain)", "example.test");
	xp_eq(doc, "string(/feedback/policy_published/p)", "quarantine");
	xp_eq(doc, "string(/feedback/policy_published/sp)", "none");
	xp_eq(doc, "string(/feedback/policy_published/aspf)", "s");
	xp_eq(doc, "string(count(/feedback/record))", "2");
	xp_eq(doc, "string(/feedback/record[1]/row/source_ip)", "192.0.2.1");
	xp_eq(doc, "string(/feedback/record[1]/row/count)", "5");
	xp_eq(doc, "string(/feedback/record[1]/row/policy_evaluated/disposition)", "none");
	xp_eq(doc, "string(count(/feedback/record[1]/row/policy_evaluated/reason))", "0");
	xp_eq(doc, "string(/feedback/record[2]/row/source_ip)", "2001:db8::5");
	xp_eq(doc, "string(/feedback/record[2]/row/policy_evaluated/dkim)", "fail");
	xp_eq(doc, "string(/feedback/record[2]/row/policy_evaluated/reason/type)", "local_policy");
	xp_eq(doc, "string(/feedback/record[2]/identifiers/header_from)", "example.test");
	xp_eq(doc, "string(/feedback/record[2]/identifiers/envelope_from)", "bounce.example.test");
	xp_eq(doc, "string(/feedback/record[1]/auth_results/dkim/selector)", "rsa");
	xp_eq(doc, "string(/feedback/record[1]/auth_results/dkim/result)", "pass");
	xp_eq(doc, "string(/feedback/record[1]/auth_results/spf/scope)", "mfrom");
	xp_eq(doc, "string(/feedback/record[2]/auth_results/spf/result)", "fail");
	xmlFreeDoc(doc);
	ms_dmarcrep_buf_free(xml);
	ms_dmarcrep_report_free(r);
}
END_TEST

/* The schema check is not a rubber stamp: a broken document fails it. */
START_TEST(schema_rejects_a_broken_report)
{
	static const char bad[] =
		"<feedback><report_metadata><org_name>o</org_name><email>e</email>"
		"<report_id>i</report_id><date_range><begin>1</begin><end>2</end></date_range>"
		"</report_metadata><policy_published><domain>d</domain><p>maybe</p><sp>none</sp>"
		"<pct>100</pct><fo>0</fo></policy_published></feedback>";
	char err[512];
	ck_assert_int_ne(validate((const uint8_t *)bad, sizeof(bad) - 1, err, sizeof(err)), 0);
}
END_TEST

static void same_reports(const struct ms_dmarcrep_report *a, const struct ms_dmarcrep_report *b)
{
	const struct ms_dmarcrep_meta *x = ms_dmarcrep_report_meta(a), *y = ms_dmarcrep_report_meta(b);
	ck_assert_str_eq(x->org_name, y->org_name);
	ck_assert_str_eq(x->email, y->email);
	ck_assert_str_eq(x->report_id, y->report_id);
	ck_assert_int_eq(x->begin, y->begin);
	ck_assert_int_eq(x->end, y->end);
	ck_assert_str_eq(x->domain, y->domain);
	ck_assert_str_eq(x->p, y->p);
	ck_assert_str_eq(x->sp, y->sp);
	ck_assert_str_eq(x->aspf, y->aspf);
	ck_assert_uint_eq(x->pct, y->pct);
	ck_assert_uint_eq(ms_dmarcrep_report_row_count(a), ms_dmarcrep_report_row_count(b));
	for (size_t i = 0; i < ms_dmarcrep_report_row_count(a); i++) {
		const struct ms_dmarcrep_row *p = ms_dmarcrep_report_row(a, i);
		const struct ms_dmarcrep_row *q = ms_dmarcrep_report_row(b, i);
		ck_assert_str_eq(p->source_ip, q->source_ip);
		ck_assert_uint_eq(p->count, q->count);
		ck_assert_str_eq(p->disposition, q->disposition);
		ck_assert_str_eq(p->dkim_eval, q->dkim_eval);
		ck_assert_str_eq(p->spf_eval, q->spf_eval);
		ck_assert_str_eq(p->reason, q->reason);
		ck_assert_str_eq(p->header_from, q->header_from);
		ck_assert_str_eq(p->envelope_from, q->envelope_from);
		ck_assert_str_eq(p->spf_domain, q->spf_domain);
		ck_assert_str_eq(p->spf_scope, q->spf_scope);
		ck_assert_str_eq(p->spf_result, q->spf_result);
		ck_assert_uint_eq(p->ndkim, q->ndkim);
		for (size_t k = 0; k < p->ndkim; k++) {
			ck_assert_str_eq(p->dkim[k].domain, q->dkim[k].domain);
			ck_assert_str_eq(p->dkim[k].selector, q->dkim[k].selector);
			ck_assert_str_eq(p->dkim[k].result, q->dkim[k].result);
		}
	}
}

START_TEST(gzip_round_trip)
{
	struct ms_dmarcrep_report *r = sample(), *back = NULL;
	uint8_t *xml = NULL, *gz = NULL, *un = NULL;
	size_t len = 0, glen = 0, ulen = 0;
	ck_assert_int_eq(ms_dmarcrep_report_xml(r, &xml, &len, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dmarcrep_gzip(xml, len, &gz, &glen, why, sizeof(why)), MS_OK);
	ck_assert(glen > 10 && gz[0] == 0x1f && gz[1] == 0x8b);
	ck_assert_int_eq(ms_dmarcrep_unpack(gz, glen, 0, &un, &ulen, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(ulen, len);
	ck_assert(memcmp(un, xml, len) == 0);
	ck_assert_msg(ms_dmarcrep_parse(NULL, gz, glen, 0, &back, why, sizeof(why)) == MS_OK, "%s",
		      why);
	same_reports(r, back);
	char *json = NULL;
	ck_assert_int_eq(ms_dmarcrep_report_json(back, &json, why, sizeof(why)), MS_OK);
	ck_assert_msg(strstr(json, "\"org_name\":\"Receiver <&> \\\"Org\\\"\"") &&
		      strstr(json, "\"source_ip\":\"192.0.2.1\",\"count\":5") &&
		      strstr(json, "\"reason\":\"local_policy\"") && strstr(json, "\"messages\":6"),
		      "%s", json);
	ms_dmarcrep_buf_free(json);
	/* the bound holds: the same gzip with a 100-byte output cap */
	uint8_t *capped = NULL;
	ck_assert_int_eq(ms_dmarcrep_unpack(gz, glen, 100, &capped, &ulen, why, sizeof(why)),
			 MS_ERR_LIMIT);
	ck_assert_ptr_null(capped);
	ms_dmarcrep_buf_free(un);
	ms_dmarcrep_buf_free(xml);
	ms_dmarcrep_buf_free(gz);
	ms_dmarcrep_report_free(back);
	ms_dmarcrep_report_free(r);
}
END_TEST

static uint8_t *b64dec(const char *s, size_t *outlen)
{
	uint8_t *o = malloc(strlen(s));
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; *s && *s != '-'; s++) {
		const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *p = strchr(t, *s);
		if (*s == '=' || p == NULL || !*s)
			continue;
		acc = acc << 6 | (uint32_t)(p - t);
		if ((bits += 6) >= 8) {
			bits -= 8;
			o[n++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = n;
	return o;
}

START_TEST(mail_message_carries_the_report)
{
	struct ms_dmarcrep_report *r = sample(), *back = NULL;
	uint8_t *msg = NULL;
	size_t len = 0;
	ck_assert_msg(ms_dmarcrep_message(NULL, r, "dmarc-noreply@receiver.example",
					  "agg@example.test", "receiver.example", 1764720100, &msg,
					  &len, why, sizeof(why)) == MS_OK, "%s", why);
	const char *m = (const char *)msg;
	ck_assert_msg(strstr(m, "\r\nSubject: Report Domain: example.test Submitter: "
				"receiver.example Report-ID: <r-42>\r\n"), "%s", m);
	ck_assert(strstr(m, "Date: Wed, 03 Dec 2025 00:01:40 +0000\r\n"));
	ck_assert(strstr(m, "Content-Type: multipart/mixed; boundary="));
	ck_assert(strstr(m, "Content-Type: application/gzip"));
	ck_assert(strstr(m, "filename=\"receiver.example!example.test!1764633600!1764720000.xml.gz\""));
	const char *body = strstr(m, "Content-Transfer-Encoding: base64\r\n");
	ck_assert_ptr_nonnull(body);
	body = strstr(body, "\r\n\r\n");
	size_t glen = 0;
	uint8_t *gz = b64dec(body + 4, &glen);
	ck_assert_msg(ms_dmarcrep_parse(NULL, gz, glen, 0, &back, why, sizeof(why)) == MS_OK, "%s",
		      why);
	same_reports(r, back);
	free(gz);
	ms_dmarcrep_buf_free(msg);
	ms_dmarcrep_report_free(back);
	ms_dmarcrep_report_free(r);
}
END_TEST

static uint8_t *slurp(const char *rel, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/reports/data/%s", getenv("MS_SOURCE_ROOT"), rel);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	uint8_t *b = malloc(1 << 20);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

static struct ms_dmarcrep_report *parse_file(const char *rel)
{
	size_t len;
	uint8_t *b = slurp(rel, &len);
	struct ms_dmarcrep_report *r = NULL;
	ck_assert_msg(ms_dmarcrep_parse(NULL, b, len, 0, &r, why, sizeof(why)) == MS_OK, "%s: %s",
		      rel, why);
	free(b);
	return r;
}

START_TEST(real_world_shapes)
{
	/* Google: zip, <version>, np=, a record without envelope_from and
	 * an SPF result without scope, IPv6 */
	struct ms_dmarcrep_report *g = parse_file("google-shaped.zip");
	const struct ms_dmarcrep_meta *m = ms_dmarcrep_report_meta(g);
	ck_assert_str_eq(m->org_name, "google.com");
	ck_assert_str_eq(m->report_id, "10537316227931290301");
	ck_assert_int_eq(m->begin, 1764633600);
	ck_assert_str_eq(m->np, "reject");
	ck_assert_uint_eq(ms_dmarcrep_report_row_count(g), 2);
	ck_assert_uint_eq(ms_dmarcrep_report_messages(g), 15);
	const struct ms_dmarcrep_row *w = ms_dmarcrep_report_row(g, 1);
	ck_assert_str_eq(w->source_ip, "2001:db8::7");
	ck_assert_str_eq(w->disposition, "reject");
	ck_assert_str_eq(w->spf_result, "softfail");
	ck_assert_str_eq(w->spf_scope, "");
	ck_assert_str_eq(ms_dmarcrep_report_row(g, 0)->dkim[0].selector, "s2025");
	/* the zip's entry is the plain file, byte for byte */
	size_t zl, xl, ul;
	uint8_t *z = slurp("google-shaped.zip", &zl), *x = slurp("google-shaped.xml", &xl), *u;
	ck_assert_int_eq(ms_dmarcrep_unpack(z, zl, 0, &u, &ul, why, sizeof(why)), MS_OK);
	ck_assert(ul == xl && memcmp(u, x, xl) == 0);
	ms_dmarcrep_buf_free(u);
	free(z);
	free(x);
	ms_dmarcrep_report_free(g);

	/* Microsoft: gzip, xsi/xsd namespaces, fo=1, pct=50, a reason with a
	 * comment, envelope_to, spf before dkim */
	struct ms_dmarcrep_report *ms = parse_file("microsoft-shaped.xml.gz");
	m = ms_dmarcrep_report_meta(ms);
	ck_assert_str_eq(m->org_name, "Enterprise Outlook");
	ck_assert_str_eq(m->adkim, "s");
	ck_assert_uint_eq(m->pct, 50);
	ck_assert_str_eq(m->fo, "1");
	w = ms_dmarcrep_report_row(ms, 0);
	ck_assert_str_eq(w->reason, "sampled_out");
	ck_assert_str_eq(w->envelope_from, "bounce.example.test");
	ck_assert_str_eq(w->dkim[0].domain, "thirdparty.example");
	ck_assert_str_eq(w->dkim[0].selector, "selector1");
	ms_dmarcrep_report_free(ms);

	/* Yahoo: gzip, no indentation, no sp (= p), no fo, mixed case */
	struct ms_dmarcrep_report *y = parse_file("yahoo-shaped.xml.gz");
	m = ms_dmarcrep_report_meta(y);
	ck_assert_str_eq(m->sp, "none");
	ck_assert_str_eq(m->fo, "0");
	w = ms_dmarcrep_report_row(y, 0);
	ck_assert_str_eq(w->header_from, "example.test");
	ck_assert_uint_eq(w->count, 2);
	ck_assert_str_eq(w->spf_domain, "list.example.org");
	char *json = NULL;
	ck_assert_int_eq(ms_dmarcrep_report_json(y, &json, why, sizeof(why)), MS_OK);
	ck_assert_msg(strstr(json, "\"org_name\":\"Yahoo\"") && strstr(json, "\"begin\":1764633600") &&
		      strstr(json, "\"source_ip\":\"203.0.113.4\",\"count\":2"), "%s", json);
	ms_dmarcrep_buf_free(json);
	ms_dmarcrep_report_free(y);
}
END_TEST

static ms_status parse_str(const char *s, size_t max, char *w, size_t wl)
{
	struct ms_dmarcrep_report *r = NULL;
	ms_status st = ms_dmarcrep_parse(NULL, (const uint8_t *)s, strlen(s), max, &r, w, wl);
	ck_assert(st != MS_OK || r != NULL);
	ms_dmarcrep_report_free(r);
	return st;
}

#define MINI_BODY "<report_metadata><org_name>o</org_name><email>e@x</email>" \
	"<report_id>i</report_id><date_range><begin>1</begin><end>2</end></date_range>" \
	"</report_metadata><policy_published><domain>d.test</domain><p>none</p>" \
	"</policy_published><record><row><source_ip>192.0.2.1</source_ip><count>1</count>" \
	"<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>" \
	"</policy_evaluated></row><identifiers><header_from>&e;</header_from></identifiers>" \
	"<auth_results><spf><domain>d.test</domain><result>pass</result></spf></auth_results>" \
	"</record>"

START_TEST(hostile_entities_refused)
{
	char w[300];
	const char *laughs =
		"<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY a \"lol\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
		"<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
		"]><feedback>" MINI_BODY "</feedback>";
	ck_assert_int_eq(parse_str(laughs, 0, w, sizeof(w)), MS_ERR_PARSE);
	ck_assert_msg(strstr(w, "document type declaration refused"), "%s", w);
	const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY e SYSTEM "
			  "\"file:///etc/passwd\">]><feedback>" MINI_BODY "</feedback>";
	ck_assert_int_eq(parse_str(xxe, 0, w, sizeof(w)), MS_ERR_PARSE);
	ck_assert_msg(strstr(w, "document type declaration refused"), "%s", w);
	const char *ext = "<?xml version=\"1.0\"?><!DOCTYPE feedback SYSTEM "
			  "\"http://127.0.0.1:9/x.dtd\"><feedback/>";
	ck_assert_int_eq(parse_str(ext, 0, w, sizeof(w)), MS_ERR_PARSE);
	ck_assert_msg(strstr(w, "document type declaration refused"), "%s", w);
	/* an undeclared entity reference is not well-formed */
	ck_assert_int_eq(parse_str("<feedback>" MINI_BODY "</feedback>", 0, w, sizeof(w)),
			 MS_ERR_PARSE);
}
END_TEST

START_TEST(hostile_sizes_bounded)
{
	char w[300];
	/* a gzip bomb: 64 MiB of spaces in about 64 KiB */
	size_t big = 64u << 20;
	uint8_t *zeros = malloc(big);
	memset(zeros, ' ', big);
	uint8_t *gz = NULL;
	size_t glen = 0;
	ck_assert_int_eq(ms_dmarcrep_gzip(zeros, big, &gz, &glen, w, sizeof(w)), MS_OK);
	free(zeros);
	ck_assert(glen < big / 100);
	struct ms_dmarcrep_report *r = NULL;
	ck_assert_int_eq(ms_dmarcrep_parse(NULL, gz, glen, 0, &r, w, sizeof(w)), MS_ERR_LIMIT);
	ck_assert_msg(strstr(w, "larger than"), "%s", w);
	/* truncated gzip */
	ck_assert_int_eq(ms_dmarcrep_parse(NULL, gz, glen / 2, 0, &r, w, sizeof(w)), MS_ERR_PARSE);
	ms_dmarcrep_buf_free(gz);
	/* a plain document over the caller's cap */
	ck_assert_int_eq(parse_str("<feedback>" MINI_BODY "</feedback>", 64, w, sizeof(w)),
			 MS_ERR_LIMIT);
	/* 300 levels of nesting: libxml2's depth limit, not a stack overflow */
	char *deep = malloc(300 * 7 + 64);
	strcpy(deep, "<feedback>");
	for (int i = 0; i < 300; i++)
		strcat(deep, "<a>");
	ck_assert_int_eq(parse_str(deep, 0, w, sizeof(w)), MS_ERR_PARSE);
	free(deep);
	/* UTF-16 is not read (the document is UTF-8 or nothing) */
	static const uint8_t u16[] = { 0xff, 0xfe, '<', 0, 'f', 0, '/', 0, '>', 0 };
	ck_assert_int_eq(ms_dmarcrep_parse(NULL, u16, sizeof(u16), 0, &r, w, sizeof(w)),
			 MS_ERR_PARSE);
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(hostile_zip_refused)
{
	char w[300];
	size_t zl;
	uint8_t *z = slurp("google-shaped.zip", &zl), *u = NULL;
	size_t ul;
	/* the entry claims 1 byte uncompressed: the inflate stops there */
	uint8_t *c = malloc(zl);
	memcpy(c, z, zl);
	for (size_t i = 0; i + 46 < zl; i++)
		if (c[i] == 'P' && c[i + 1] == 'K' && c[i + 2] == 1 && c[i + 3] == 2) {
			c[i + 24] = 1, c[i + 25] = c[i + 26] = c[i + 27] = 0;
			break;
		}
	ck_assert_int_eq(ms_dmarcrep_unpack(c, zl, 0, &u, &ul, w, sizeof(w)), MS_ERR_LIMIT);
	/* central directory offset past the end */
	memcpy(c, z, zl);
	c[zl - 6] = 0xff;
	c[zl - 5] = 0xff;
	ck_assert_int_eq(ms_dmarcrep_unpack(c, zl, 0, &u, &ul, w, sizeof(w)), MS_ERR_PARSE);
	/* no end record at all */
	ck_assert_int_eq(ms_dmarcrep_unpack(z, 40, 0, &u, &ul, w, sizeof(w)), MS_ERR_PARSE);
	/* an output cap below the entry's size */
	ck_assert_int_eq(ms_dmarcrep_unpack(z, zl, 100, &u, &ul, w, sizeof(w)), MS_ERR_LIMIT);
	ck_assert_ptr_null(u);
	free(c);
	free(z);
}
END_TEST

START_TEST(filename_and_limits)
{
	struct ms_dmarcrep_report *r = sample();
	char b[300];
	ck_assert_int_eq(ms_dmarcrep_filename(r, "mail.receiver.example", NULL, "xml.gz", b,
					      sizeof(b)), MS_OK);
	ck_assert_str_eq(b, "mail.receiver.example!example.test!1764633600!1764720000.xml.gz");
	ck_assert_int_eq(ms_dmarcrep_filename(r, "rcv.example", "u1", "xml", b, sizeof(b)), MS_OK);
	ck_assert_str_eq(b, "rcv.example!example.test!1764633600!1764720000!u1.xml");
	ck_assert_int_eq(ms_dmarcrep_filename(r, "bad/name", NULL, "xml", b, sizeof(b)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_dmarcrep_filename(r, "rcv.example", NULL, "xml", b, 20), MS_ERR_LIMIT);
	ck_assert_int_eq(ms_dmarcrep_uri_limit("mailto:a@b.example!10m"), 10 << 20);
	ck_assert_int_eq(ms_dmarcrep_uri_limit("mailto:a@b.example!100"), 100);
	ck_assert_int_eq(ms_dmarcrep_uri_limit("mailto:a@b.example!2k"), 2048);
	ck_assert_int_eq(ms_dmarcrep_uri_limit("mailto:a@b.example"), 0);
	ck_assert_int_eq(ms_dmarcrep_uri_limit("mailto:a@b.example!5x"), -1);
	ck_assert_int_eq(ms_dmarcrep_uri_limit("mailto:a@b.example!m"), -1);
	ms_dmarcrep_report_free(r);
}
END_TEST

START_TEST(row_checks)
{
	struct ms_dmarcrep_row r = mkrow("192.0.2.1", "none", "pass", "pass", 1);
	ck_assert_int_eq(ms_dmarcrep_row_check(&r, why, sizeof(why)), MS_OK);
	struct ms_dmarcrep_row x = r;
	strcpy(x.source_ip, "not-an-ip");
	ck_assert_int_eq(ms_dmarcrep_row_check(&x, why, sizeof(why)), MS_ERR_INVALID);
	x = r;
	strcpy(x.disposition, "maybe");
	ck_assert_int_eq(ms_dmarcrep_row_check(&x, why, sizeof(why)), MS_ERR_INVALID);
	x = r;
	strcpy(x.dkim[0].selector, "a b");
	ck_assert_int_eq(ms_dmarcrep_row_check(&x, why, sizeof(why)), MS_ERR_INVALID);
	x = r;
	x.count = 0;
	ck_assert_int_eq(ms_dmarcrep_row_check(&x, why, sizeof(why)), MS_ERR_INVALID);
	x = r;
	memset(x.header_from, 'a', sizeof(x.header_from));  /* not terminated */
	ck_assert_int_eq(ms_dmarcrep_row_check(&x, why, sizeof(why)), MS_ERR_INVALID);
}
END_TEST

/* ---- the store ---- */

static char dir[256];

static void store_setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/dmarcrep-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void store_teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A store that counts the calls the SQLite store receives. */
static int nput, nbatch;
static const struct ms_dmarcrep_store_ops *real;
static ms_status c_put(void *i, const struct ms_dmarcrep_row *r, char *w, size_t l)
{
	nput++;
	return real->put(i, r, w, l);
}
static ms_status c_batch(void *i, const struct ms_dmarcrep_row *r, size_t n, char *w, size_t l)
{
	nbatch++;
	return real->batch(i, r, n, w, l);
}

static int sum(void *user, const struct ms_dmarcrep_row *r)
{
	*(uint64_t *)user += r->count;
	return 0;
}

static uint64_t stored(struct ms_dmarcrep_store *s, const char *domain)
{
	uint64_t n = 0;
	ck_assert_msg(ms_dmarcrep_store_each(s, domain, 0, INT64_MAX, sum, &n, why, sizeof(why)) ==
		      MS_OK, "%s", why);
	return n;
}

START_TEST(store_batches_and_aggregates)
{
	real = ms_dmarcrep_store_sqlite();
	struct ms_dmarcrep_store_ops ops = *real;
	ops.put = c_put;
	ops.batch = c_batch;
	nput = nbatch = 0;
	char path[400];
	snprintf(path, sizeof(path), "%s/dmarc.db", dir);
	struct ms_dmarcrep_store *s = NULL;
	ck_assert_msg(ms_dmarcrep_store_open(NULL, &ops, path, &s, why, sizeof(why)) == MS_OK, "%s",
		      why);
	struct ms_dmarcrep_recorder *rec = NULL;
	ck_assert_int_eq(ms_dmarcrep_recorder_new(NULL, s, 4, &rec, why, sizeof(why)), MS_OK);
	/* 1000 identical messages: one row in memory, nothing written yet */
	struct ms_dmarcrep_row a = mkrow("192.0.2.1", "none", "pass", "pass", 1);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(ms_dmarcrep_record(rec, &a, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(nput + nbatch, 0);
	ck_assert_uint_eq(stored(s, NULL), 0);
	/* four distinct rows fill the batch: one batch write */
	for (int i = 2; i <= 4; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		struct ms_dmarcrep_row b = mkrow(ip, "quarantine", "fail", "fail", 1);
		ck_assert_int_eq(ms_dmarcrep_record(rec, &b, why, sizeof(why)), MS_OK);
	}
	ck_assert_int_eq(nbatch, 1);
	ck_assert_uint_eq(stored(s, "example.test"), 1003);
	/* the same rows again, flushed: counts add up in the store */
	ck_assert_int_eq(ms_dmarcrep_record(rec, &a, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dmarcrep_flush(rec, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(nput, 1);
	ck_assert_uint_eq(stored(s, "example.test"), 1004);
	ck_assert_uint_eq(stored(s, "other.test"), 0);
	/* a bad row is refused before it is counted */
	struct ms_dmarcrep_row bad = a;
	strcpy(bad.spf_result, "great");
	ck_assert_int_eq(ms_dmarcrep_record(rec, &bad, why, sizeof(why)), MS_ERR_INVALID);
	/* another hour: a new stored row, merged again in the report */
	struct ms_dmarcrep_row later = a;
	later.hour += 7200;
	ck_assert_int_eq(ms_dmarcrep_record(rec, &later, why, sizeof(why)), MS_OK);
	ms_dmarcrep_recorder_free(rec);   /* flushes */
	ck_assert_uint_eq(stored(s, NULL), 1005);
	struct ms_dmarcrep_meta m = mkmeta();
	m.p[0] = m.sp[0] = m.aspf[0] = '\0';
	struct ms_dmarcrep_report *r = NULL;
	ck_assert_int_eq(ms_dmarcrep_report_from_store(NULL, s, &m, &r, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(ms_dmarcrep_report_row_count(r), 4);
	ck_assert_uint_eq(ms_dmarcrep_report_row(r, 0)->count, 1002);
	ck_assert_uint_eq(ms_dmarcrep_report_messages(r), 1005);
	/* policy_published comes from the recorded policy */
	ck_assert_str_eq(ms_dmarcrep_report_meta(r)->p, "quarantine");
	ck_assert_str_eq(ms_dmarcrep_report_meta(r)->aspf, "s");
	ms_dmarcrep_report_free(r);
	/* a period that ends before the later hour */
	m.end = a.hour + 3600;
	ck_assert_int_eq(ms_dmarcrep_report_from_store(NULL, s, &m, &r, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(ms_dmarcrep_report_messages(r), 1004);
	ms_dmarcrep_report_free(r);
	/* expiry drops the old hour only */
	ck_assert_int_eq(ms_dmarcrep_store_expire(s, a.hour + 3600, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(stored(s, NULL), 1);
	ms_dmarcrep_store_free(s);
	/* reopened: the data is on disk */
	ck_assert_int_eq(ms_dmarcrep_store_open(NULL, NULL, path, &s, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(stored(s, NULL), 1);
	ms_dmarcrep_store_free(s);
}
END_TEST

START_TEST(store_refuses_foreign_files)
{
	char path[400], cmd[600];
	snprintf(path, sizeof(path), "%s/other.db", dir);
	snprintf(cmd, sizeof(cmd), "%s/garbage", dir);
	FILE *f = fopen(cmd, "w");
	fputs("this is not a database, not at all, no, really not a database file\n", f);
	fclose(f);
	struct ms_dmarcrep_store *s = NULL;
	ck_assert_int_eq(ms_dmarcrep_store_open(NULL, NULL, cmd, &s, why, sizeof(why)), MS_ERR_IO);
	ck_assert_ptr_null(s);
	/* a database of another schema version */
	ck_assert_int_eq(ms_dmarcrep_store_open(NULL, NULL, path, &s, why, sizeof(why)), MS_OK);
	ms_dmarcrep_store_free(s);
	snprintf(cmd, sizeof(cmd), "python3 -c \"import sqlite3; c=sqlite3.connect('%s'); "
		 "c.execute(\\\"UPDATE mailsec_schema SET version = 7 WHERE component = "
		 "'dmarc-report'\\\"); c.commit()\"", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(ms_dmarcrep_store_open(NULL, NULL, path, &s, why, sizeof(why)), MS_ERR_IO);
	ck_assert_msg(strstr(why, "schema version 7"), "%s", why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dmarc-report");
	TCase *t = tcase_create("report");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, xml_validates_and_holds_rows);
	tcase_add_test(t, schema_rejects_a_broken_report);
	tcase_add_test(t, gzip_round_trip);
	tcase_add_test(t, mail_message_carries_the_report);
	tcase_add_test(t, real_world_shapes);
	tcase_add_test(t, hostile_entities_refused);
	tcase_add_test(t, hostile_sizes_bounded);
	tcase_add_test(t, hostile_zip_refused);
	tcase_add_test(t, filename_and_limits);
	tcase_add_test(t, row_checks);
	suite_add_tcase(s, t);
	TCase *st = tcase_create("store");
	tcase_set_timeout(st, 60);
	tcase_add_checked_fixture(st, store_setup, store_teardown);
	tcase_add_test(st, store_batches_and_aggregates);
	tcase_add_test(st, store_refuses_foreign_files);
	suite_add_tcase(s, st);
	return mstest_run(s);
}
