/*
 * test_render.c - the libraries' renderers (the *_render calls behind
 * `mailsec`): for each, the JSON rendering is one JSON object on one line
 * that parses and carries every key its header documents, the text
 * rendering is text (not JSON), and bad arguments are MS_ERR_INVALID.
 * The results come from the real libraries over the signed test world
 * (real DNSSEC validation through libunbound), or from offline parsers.
 */
#include "jsoncheck.h"
#include "mstest.h"

#include <mailsec/auth.h>
#include <mailsec/dane.h>
#include <mailsec/dkim.h>
#include <mailsec/dmarc.h>
#include <mailsec/dmarc_report.h>
#include <mailsec/dns.h>
#include <mailsec/iprev.h>
#include <mailsec/mtasts.h>
#include <mailsec/requiretls_deliver.h>
#include <mailsec/requiretls_replan.h>
#include <mailsec/requiretls_route.h>
#include <mailsec/requiretls_smtp.h>
#include <mailsec/spf.h>
#include <mailsec/tlsrpt.h>

#define NOW 1767225600 /* inside the world's signature validity */

static const char msg[] = "From: a@good.test\r\nTo: b@good.test\r\nSubject: t\r\n"
			  "Message-ID: <1@good.test>\r\n\r\nbody\r\n";

/* Both renderings of one result: JSON with every key in `keys` (NULL
 * terminated), text that is not JSON. */
#define CHECK_RENDER(call, ...) do { \
	const char *const keys_[] = { __VA_ARGS__, NULL }; \
	char *j_ = NULL, *t_ = NULL; \
	enum ms_render_format fmt; \
	fmt = MS_RENDER_JSON; \
	ck_assert_int_eq((call), MS_OK); \
	j_ = out_; \
	fmt = MS_RENDER_TEXT; \
	ck_assert_int_eq((call), MS_OK); \
	t_ = out_; \
	check_json(j_, keys_); \
	ck_assert_msg(t_ && t_[0] && t_[0] != '{', "text rendering: '%s'", t_ ? t_ : "(null)"); \
	ms_render_free(j_); \
	ms_render_free(t_); \
} while (0)

static void check_json(const char *doc, const char *const *keys)
{
	struct jc j;
	ck_assert_ptr_nonnull(doc);
	ck_assert_msg(jc_parse(&j, doc), "not one JSON object and a newline: %s", doc);
	for (size_t i = 0; keys[i]; i++)
		ck_assert_msg(jc_has(&j, keys[i]), "key '%s' missing in %s", keys[i], doc);
}

static struct ms_dns_ctx *world(void)
{
	return mstest_world_resolver(NULL, mstest_scale_ms(5000), NOW);
}

START_TEST(test_writer_escapes)
{
	/* A value with every character class the writer escapes still parses. */
	char *out_ = NULL;
	const char *why = "quote \" backslash \\ tab \t cr \r nl \n ctl \x01 del \x7f utf8 \xc3\xa9";
	ck_assert_int_eq(ms_dmarc_bad_from_render(MS_DMARC_FROM_MALFORMED, why, MS_RENDER_JSON,
						  &out_, NULL), MS_OK);
	check_json(out_, (const char *const[]){ "result", "reason", NULL });
	ck_assert_ptr_nonnull(strstr(out_, "\\u0001"));
	ms_render_free(out_);
}
END_TEST

START_TEST(test_dns)
{
	struct ms_dns_ctx *dns = world();
	struct ms_dns_result *r = NULL;
	char why[256] = "", *out_ = NULL;
	ck_assert_msg(ms_dns_lookup(dns, "good.test", MS_DNS_T_MX, &r, why, sizeof(why)) == MS_OK,
		      "%s", why);
	CHECK_RENDER(ms_dns_result_render(r, fmt, &out_, NULL), "name", "type", "outcome",
		     "security", "ede", "ede_text", "canonical", "cname_secure", "ttl",
		     "duration_ms", "null_mx", "records", "record_types", "malformed_records");
	ck_assert_int_eq(ms_dns_result_render(NULL, MS_RENDER_JSON, &out_, NULL), MS_ERR_INVALID);
	ms_dns_result_free(r);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_dane_result)
{
	static uint8_t data[32];
	struct ms_dane_tlsa t = { .usage = 3, .selector = 1, .mtype = 1, .data = data,
				  .datalen = sizeof(data) };
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION,
				      .verdict = MS_DANE_VERIFIED, .matched = 0, .depth = 0,
				      .usable = 1 };
	char *out_ = NULL;
	CHECK_RENDER(ms_dane_result_render(&res, &t, 1, fmt, &out_, NULL), "verdict", "verified",
		     "matched", "depth", "tlsrpt_result", "usable_records", "reason");
	res.matched = 1; /* past the records given */
	ck_assert_int_eq(ms_dane_result_render(&res, &t, 1, MS_RENDER_JSON, &out_, NULL),
			 MS_ERR_INVALID);
}
END_TEST

START_TEST(test_dane_probe)
{
	/* No address for the host: the probe ends before a session. */
	struct ms_dns_ctx *dns = world();
	struct ms_rtls_dane_probe_opts po = { .version = MS_RTLS_DANE_PROBE_VERSION, .port = 25,
					      .timeout_ms = 2000, .now = NOW };
	struct ms_rtls_dane_probe *pr = NULL;
	char why[256] = "", *out_ = NULL;
	ck_assert_msg(ms_rtls_dane_probe_run(NULL, dns, "nosuch.good.test", &po, &pr, why,
					     sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_rtls_dane_probe_render(pr, "nosuch.good.test", fmt, &out_, NULL), "host",
		     "dns_state", "dns_reason", "tlsa_base", "tlsa", "connect", "tls", "error",
		     "chain", "verdict", "verified", "matched", "depth", "tlsrpt_result");
	ms_rtls_dane_probe_free(pr);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_mtasts)
{
	static const char pol[] = "version: STSv1\nmode: enforce\nmx: *.good.test\nmax_age: 86400\n";
	struct ms_sts_policy *p = NULL;
	char why[256] = "", *out_ = NULL;
	int matched = -1;
	ck_assert_int_eq(ms_sts_policy_parse(NULL, (const uint8_t *)pol, strlen(pol), &p, why,
					     sizeof(why)), MS_OK);
	CHECK_RENDER(ms_sts_policy_render(p, NULL, fmt, &out_, NULL), "valid", "error", "mode",
		     "max_age", "mx");
	CHECK_RENDER(ms_sts_policy_render(NULL, "bad", fmt, &out_, NULL), "valid", "error", "mode",
		     "max_age", "mx");
	CHECK_RENDER(ms_sts_match_render(p, "mx.good.test", &matched, fmt, &out_, NULL), "mx",
		     "match", "pattern", "mode", "verdict");
	ck_assert_int_eq(matched, 1);
	ck_assert_int_eq(ms_sts_match_render(p, "mx.other.test", &matched, MS_RENDER_TEXT, &out_,
					     NULL), MS_OK);
	ck_assert_int_eq(matched, 0);
	ms_render_free(out_);
	/* A discovery over the world (no _mta-sts record: no policy). */
	struct ms_dns_ctx *dns = world();
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.timeout_ms = 2000;
	struct ms_sts *sts = NULL;
	struct ms_sts_result *res = NULL;
	ck_assert_int_eq(ms_sts_new(NULL, &cfg, dns, NULL, &sts, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_sts_get_policy(sts, "good.test", &res, why, sizeof(why)), MS_OK);
	CHECK_RENDER(ms_sts_result_render(res, "good.test", fmt, &out_, NULL), "domain",
		     "record_id", "record", "policy", "source", "policy_id", "mode", "max_age",
		     "mx", "expires", "failure", "failure_detail", "backoff", "policy_text");
	ms_sts_result_free(res);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
	ms_sts_policy_free(p);
}
END_TEST

START_TEST(test_spf_iprev_dmarc)
{
	struct ms_dns_ctx *dns = world();
	struct ms_spf *spf = NULL;
	struct ms_spf_verdict *sv = NULL;
	struct ms_iprev_verdict *iv = NULL;
	struct ms_dmarc *d = NULL;
	struct ms_dmarc_verdict *dv = NULL;
	char why[256] = "", *out_ = NULL;
	ck_assert_int_eq(ms_spf_new(NULL, dns, &spf), MS_OK);
	ck_assert_msg(ms_spf_check_mailfrom(spf, "127.0.1.1", "mx.good.test", "a@good.test", &sv,
					    why, sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_spf_verdict_render(sv, "mx.example", fmt, &out_, NULL), "result",
		     "identity", "domain", "sender", "ip", "mechanism", "explanation", "problem",
		     "dns_lookups", "void_lookups", "dnssec", "received_spf");
	ck_assert_msg(ms_iprev_check(NULL, dns, "127.0.1.1", 0, &iv, why, sizeof(why)) == MS_OK,
		      "%s", why);
	CHECK_RENDER(ms_iprev_verdict_render(iv, fmt, &out_, NULL), "result", "ip", "name",
		     "ptr_names", "ignored_names", "problem", "dnssec");
	ck_assert_int_eq(ms_dmarc_new(NULL, dns, &d, why, sizeof(why)), MS_OK);
	ck_assert_msg(ms_dmarc_check(d, "good.test", MS_SPF_PASS, "good.test", NULL, NULL, NULL, 0,
				     &dv, why, sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_dmarc_verdict_render(d, dv, fmt, &out_, NULL), "result", "from_outcome",
		     "policy", "policy_tag", "disposition", "domain", "org_domain",
		     "policy_domain", "spf_aligned", "dkim_aligned", "reason", "dnssec", "rua");
	CHECK_RENDER(ms_dmarc_bad_from_render(MS_DMARC_FROM_MULTIPLE_HEADERS, "two From", fmt,
					      &out_, NULL), "result", "from_outcome", "policy",
		     "disposition", "domain", "org_domain", "reason");
	ck_assert_int_eq(ms_dmarc_bad_from_render(MS_DMARC_FROM_OK, NULL, MS_RENDER_JSON, &out_,
						  NULL), MS_ERR_INVALID);
	/* The decision the CLI no longer takes: a bad From is permerror, reject. */
	ck_assert_int_eq(ms_dmarc_bad_from_render(MS_DMARC_FROM_NONE, "", MS_RENDER_JSON, &out_,
						  NULL), MS_OK);
	ck_assert_ptr_nonnull(strstr(out_, "\"result\":\"permerror\""));
	ck_assert_ptr_nonnull(strstr(out_, "\"disposition\":\"reject\""));
	ms_render_free(out_);
	ms_dmarc_verdict_free(dv);
	ms_dmarc_free(d);
	ms_iprev_verdict_free(iv);
	ms_spf_verdict_free(sv);
	ms_spf_free(spf);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_dkim_auth)
{
	struct ms_dns_ctx *dns = world();
	struct ms_dkim_key *k = NULL;
	struct ms_dkim_signer *s = NULL;
	struct ms_dkim_verifier *v = NULL;
	struct ms_dkim_verify *vf = NULL;
	struct ms_auth *a = NULL;
	char why[256] = "", *out_ = NULL;
	size_t len = 0;
	ck_assert_int_eq(ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, &k, why,
					      sizeof(why)), MS_OK);
	CHECK_RENDER(ms_dkim_key_render(k, "sel", "good.test", fmt, &out_, NULL), "algorithm",
		     "bits", "private_key", "name", "txt");
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &s), MS_OK);
	struct ms_dkim_sign_opts so = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = k,
					.domain = "good.test", .selector = "sel" };
	ck_assert_int_eq(ms_dkim_signer_add(s, &so, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)msg, strlen(msg), why,
					     sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_finish(s, why, sizeof(why)), MS_OK);
	CHECK_RENDER(ms_dkim_signer_render(s, (const uint8_t *)msg, strlen(msg), fmt, &out_, &len),
		     "signatures", "message");
	/* LF-only input keeps LF-only fields. */
	static const char lf[] = "From: a@good.test\n\nbody\n";
	ck_assert_int_eq(ms_dkim_signer_render(s, (const uint8_t *)lf, strlen(lf), MS_RENDER_TEXT,
					       &out_, &len), MS_OK);
	ck_assert_ptr_null(memchr(out_, '\r', len));
	ms_render_free(out_);
	ck_assert_int_eq(ms_dkim_signer_render(s, (const uint8_t *)lf, strlen(lf), MS_RENDER_TEXT,
					       &out_, NULL), MS_ERR_INVALID);
	ck_assert_int_eq(ms_dkim_verifier_new(NULL, dns, &v), MS_OK);
	ck_assert_int_eq(ms_dkim_verify_new(v, &vf), MS_OK);
	ck_assert_int_eq(ms_dkim_verify_feed(vf, (const uint8_t *)msg, strlen(msg), why,
					     sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_verify_finish(vf, why, sizeof(why)), MS_OK);
	CHECK_RENDER(ms_dkim_verify_render(vf, fmt, &out_, NULL), "signatures", "ignored");
	struct ms_auth_opts ao = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				   .authserv_id = "mx.example", .client_ip = "127.0.1.1",
				   .helo = "mx.good.test", .mail_from = "a@good.test" };
	ck_assert_msg(ms_auth_run(NULL, &ao, (const uint8_t *)msg, strlen(msg), &a, why,
				  sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_auth_render(a, fmt, &out_, NULL), "authentication_results", "spf", "dkim",
		     "dmarc", "iprev");
	ms_auth_free(a);
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_free(v);
	ms_dkim_signer_free(s);
	ms_dkim_key_free(k);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_requiretls)
{
	struct ms_dns_ctx *dns = world();
	struct ms_rtls_route_opts ro = { .version = MS_RTLS_ROUTE_OPTS_VERSION, .max_mx = 10 };
	struct ms_rtls_route *r = NULL;
	struct ms_rtls_replan *rp = NULL;
	struct ms_rtls_send *snd = NULL;
	char why[256] = "", *out_ = NULL, params[64];
	ck_assert_msg(ms_rtls_route_new(NULL, dns, NULL, "good.test", MS_RTLS_REQ_REQUIRED, &ro,
					&r, why, sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_rtls_route_render(r, fmt, &out_, NULL), "domain", "requirement",
		     "mx_security", "null_mx", "implicit_mx", "mta_sts_mode", "mta_sts_note",
		     "hosts", "mail_params", "undeliverable");
	/* The first usable host's MAIL FROM parameters: REQUIRETLS when the
	 * requirement is REQUIRED, and none when every host is skipped. */
	ck_assert_int_eq(ms_rtls_route_mail_params(r, params, sizeof(params)), 1);
	ck_assert_str_eq(params, "REQUIRETLS");
	struct ms_rtls_plan plain = { .version = MS_RTLS_PLAN_VERSION,
				      .mode = MS_RTLS_MODE_OPPORTUNISTIC };
	ms_rtls_plan_mail_params(&plain, params, sizeof(params));
	ck_assert_str_eq(params, "");
	plain.need_requiretls = 1;
	ms_rtls_plan_mail_params(&plain, params, sizeof(params));
	ck_assert_str_eq(params, "REQUIRETLS");
	ck_assert_int_eq(ms_rtls_route_mail_params(NULL, params, sizeof(params)), 0);
	ck_assert_int_eq(ms_rtls_replan_new(NULL, (const uint8_t *)msg, strlen(msg), "",
					    MS_RTLS_REQ_NOT_REQUIRED, &rp, why, sizeof(why)), MS_OK);
	/* The re-plan takes a route planned with the stored requirement. */
	struct ms_rtls_route *r2 = NULL;
	ck_assert_msg(ms_rtls_route_new(NULL, dns, NULL, "good.test", ms_rtls_replan_before(rp),
					&ro, &r2, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_msg(ms_rtls_replan_route(rp, r2, why, sizeof(why)) == MS_OK, "%s", why);
	ms_rtls_route_free(r2);
	CHECK_RENDER(ms_rtls_replan_render(rp, "", NULL, fmt, &out_, NULL), "requirement_before",
		     "requirement_after", "tls_required_header", "mail_params_before",
		     "mail_params_after", "header_fields_removed", "header_field_added", "domains",
		     "written");
	/* A send that ends without SMTP: the recipient domain does not exist. */
	const char *to[] = { "b@nosuch.good.test" };
	struct ms_rtls_envelope env_msg = { .from = "a@good.test", .rcpt = to, .nrcpt = 1,
					    .msg = (const uint8_t *)msg, .msglen = strlen(msg) };
	struct ms_rtls_send_opts so = { .version = MS_RTLS_SEND_OPTS_VERSION };
	so.deliver.version = MS_RTLS_DELIVER_OPTS_VERSION;
	so.deliver.timeout_ms = 2000;
	ck_assert_msg(ms_rtls_send_new(NULL, dns, NULL, MS_RTLS_REQ_DEFAULT, &env_msg, &so, &snd,
				       why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_rtls_send_view sv = { .version = MS_RTLS_SEND_VIEW_VERSION, .from = "a@good.test",
					.to = to, .nto = 1 };
	ck_assert_int_eq(ms_rtls_send_render(snd, &sv, MS_RENDER_JSON, &out_, NULL), MS_ERR_STATE);
	ck_assert_msg(ms_rtls_send_run(snd, why, sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_rtls_send_render(snd, &sv, fmt, &out_, NULL), "delivered", "requirement",
		     "tls_required_header", "requiretls_raised", "memory_note", "domain", "host",
		     "address", "tls", "requiretls", "mail_params", "verdict", "status",
		     "bounce_status", "action", "dsn", "reply", "attempts", "recipients",
		     "domains");
	sv.version = 0;
	ck_assert_int_eq(ms_rtls_send_render(snd, &sv, MS_RENDER_JSON, &out_, NULL),
			 MS_ERR_INVALID);
	ms_rtls_send_free(snd);
	ms_rtls_replan_free(rp);
	ms_rtls_route_free(r);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(test_dmarc_report)
{
	static const char xml[] = "<feedback><report_metadata><org_name>o</org_name>"
		"<email>e@x</email><report_id>i</report_id><date_range><begin>1</begin>"
		"<end>2</end></date_range></report_metadata><policy_published><domain>d.test"
		"</domain><p>none</p></policy_published><record><row><source_ip>192.0.2.1"
		"</source_ip><count>1</count><policy_evaluated><disposition>none</disposition>"
		"<dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers>"
		"<header_from>d.test</header_from></identifiers><auth_results><spf><domain>"
		"d.test</domain><result>pass</result></spf></auth_results></record></feedback>";
	struct ms_dmarcrep_report *r = NULL;
	char why[256] = "", *text = NULL;
	ck_assert_msg(ms_dmarcrep_parse(NULL, (const uint8_t *)xml, strlen(xml), 0, &r, why,
					sizeof(why)) == MS_OK, "%s", why);
	ck_assert_int_eq(ms_dmarcrep_report_text(r, &text, why, sizeof(why)), MS_OK);
	ck_assert_ptr_nonnull(strstr(text, "org:      o <e@x>\n"));
	ck_assert_ptr_nonnull(strstr(text, "192.0.2.1"));
	ms_render_free(text);
	ck_assert_int_eq(ms_dmarcrep_report_text(NULL, &text, why, sizeof(why)), MS_ERR_INVALID);
	int64_t b = 0, e = 0;
	ms_dmarcrep_default_period(86400 * 3 + 5, &b, &e);
	ck_assert_int_eq(e, 86400 * 3);
	ck_assert_int_eq(b, 86400 * 2);
	ms_dmarcrep_report_free(r);
}
END_TEST

START_TEST(test_tlsrpt)
{
	/* A built report's delivery (what `mailsec tlsrpt send` prints). */
	char json[] = "{}", gz[] = "x", fn[] = "s.test!d.test!1!2.json.gz", id[] = "r@s.test",
	     dom[] = "d.test", sub[] = "s.test";
	struct ms_tlsrpt_report rep = { .json = json, .json_len = 2, .gz = (uint8_t *)gz,
					.gz_len = 1, .filename = fn, .report_id = id,
					.policy_domain = dom, .submitter = sub, .sessions = 7 };
	struct ms_tlsrpt_send_result res = { .n = 2 };
	snprintf(res.dest[0].uri, sizeof(res.dest[0].uri), "https://r.d.test/x");
	snprintf(res.dest[0].detail, sizeof(res.dest[0].detail), "HTTP 200");
	res.dest[1].status = MS_ERR_NETWORK;
	snprintf(res.dest[1].uri, sizeof(res.dest[1].uri), "mailto:tls\"rpt@d.test");
	snprintf(res.dest[1].detail, sizeof(res.dest[1].detail), "550 no");
	char *out_ = NULL;
	CHECK_RENDER(ms_tlsrpt_send_render(&rep, &res, NULL, fmt, &out_, NULL), "domain",
		     "report_id", "filename", "sessions", "rua_note", "destinations");
	size_t len = 0;
	ck_assert_int_eq(ms_tlsrpt_send_render(&rep, &res, NULL, MS_RENDER_JSON, &out_, &len),
			 MS_OK);
	ck_assert_uint_eq(len, strlen(out_));
	ck_assert_ptr_nonnull(strstr(out_, "\"sessions\":7"));
	ck_assert_ptr_nonnull(strstr(out_, "\"ok\":true"));
	ck_assert_ptr_nonnull(strstr(out_, "\"ok\":false"));
	ck_assert_ptr_nonnull(strstr(out_, "tls\\\"rpt"));
	ms_render_free(out_);
	ck_assert_int_eq(ms_tlsrpt_send_render(&rep, &res, NULL, MS_RENDER_TEXT, &out_, NULL),
			 MS_OK);
	ck_assert_ptr_nonnull(strstr(out_, "FAILED: 550 no"));
	ck_assert_ptr_nonnull(strstr(out_, "sent: HTTP 200"));
	ms_render_free(out_);
	res.n = 0;
	ck_assert_int_eq(ms_tlsrpt_send_render(&rep, &res, "no rua", MS_RENDER_TEXT, &out_, NULL),
			 MS_OK);
	ck_assert_ptr_nonnull(strstr(out_, "not sent: no rua"));
	ms_render_free(out_);
	ck_assert_int_eq(ms_tlsrpt_send_render(NULL, &res, NULL, MS_RENDER_JSON, &out_, NULL),
			 MS_ERR_INVALID);
	ck_assert_ptr_null(out_);
	res.n = MS_TLSRPT_MAX_RUA + 1;
	ck_assert_int_eq(ms_tlsrpt_send_render(&rep, &res, NULL, MS_RENDER_JSON, &out_, NULL),
			 MS_ERR_INVALID);

	/* A received report (what `mailsec tlsrpt parse` prints). */
	static const char rpt[] = "{\"organization-name\":\"o\",\"contact-info\":\"c\","
		"\"report-id\":\"r\",\"date-range\":{\"start-datetime\":\"2026-01-01T00:00:00Z\","
		"\"end-datetime\":\"2026-01-01T23:59:59Z\"},\"policies\":[{\"policy\":{"
		"\"policy-type\":\"no-policy-found\",\"policy-domain\":\"d.example\"},"
		"\"summary\":{\"total-successful-session-count\":1,"
		"\"total-failure-session-count\":0}}]}";
	struct ms_tlsrpt_parsed *p = NULL;
	char why[256] = "";
	ck_assert_msg(ms_tlsrpt_parse(NULL, (const uint8_t *)rpt, strlen(rpt), &p, why,
				      sizeof(why)) == MS_OK, "%s", why);
	CHECK_RENDER(ms_tlsrpt_parsed_render(p, fmt, &out_, NULL), "organization-name",
		     "report-id", "start", "end", "policies");
	ck_assert_int_eq(ms_tlsrpt_parsed_render(p, MS_RENDER_TEXT, &out_, &len), MS_OK);
	ck_assert_uint_eq(len, strlen(out_));
	ck_assert_int_eq(out_[len - 1], '\n');
	ck_assert_ptr_nonnull(strstr(out_, "d.example"));
	ms_render_free(out_);
	ck_assert_int_eq(ms_tlsrpt_parsed_render(NULL, MS_RENDER_TEXT, &out_, NULL),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_tlsrpt_parsed_render(p, (enum ms_render_format)9, &out_, NULL),
			 MS_ERR_INVALID);
	ms_tlsrpt_parsed_free(p);
	ms_render_free(NULL); /* NULL-safe */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("render");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_writer_escapes);
	tcase_add_test(tc, test_dns);
	tcase_add_test(tc, test_dane_result);
	tcase_add_test(tc, test_dane_probe);
	tcase_add_test(tc, test_mtasts);
	tcase_add_test(tc, test_spf_iprev_dmarc);
	tcase_add_test(tc, test_dkim_auth);
	tcase_add_test(tc, test_requiretls);
	tcase_add_test(tc, test_dmarc_report);
	tcase_add_test(tc, test_tlsrpt);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
