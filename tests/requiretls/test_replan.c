/*
 * test_replan.c - the operator's re-plan of a queued message
 * (requiretls_replan.h, issue 14) through the library calls:
 *   - over the offline signed test world: a REQUIRETLS message to a DANE
 *     domain (good.test) lowered to not-required, an MTA-STS enforce domain
 *     (stsgap.test, a host outside its policy) lowered, an opportunistic
 *     domain (nostarttls.test) raised to required (skip, 5.7.30);
 *   - the rewrite of the header section and MAIL FROM parameters (folded
 *     and obsolete "TLS-Required :" fields, several fields, LF messages,
 *     a header without a final line end), and the errors.
 */
#include <check.h>
#include <string.h>

#include <mailsec/mtasts.h>
#include <mailsec/requiretls_replan.h>
#include <mailsec/requiretls_route.h>

#include "mstest.h"

/* ---- helpers -------------------------------------------------------- */

/* What the env's log hook saw of the re-plan events. */
struct seen {
	int events;
	char last[512];
};

static void log_hook(void *user, enum ms_log_level level, const char *subsystem, const char *msg,
		     const struct ms_kv *kv, size_t nkv)
{
	struct seen *s = user;
	if (level != MS_LOG_INFO || strcmp(subsystem, "requiretls") != 0 ||
	    strstr(msg, "requirement changed") == NULL)
		return;
	s->events++;
	s->last[0] = '\0';
	for (size_t i = 0; i < nkv; i++) {
		size_t l = strlen(s->last);
		snprintf(s->last + l, sizeof(s->last) - l, "%s%s=%s", i ? " " : "", kv[i].key,
			 kv[i].value);
	}
}

static struct ms_rtls_route *route_sts(const char *domain, enum ms_rtls_requirement req,
				       struct ms_sts *sts)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_rtls_route *r = NULL;
	char why[256] = "";
	ms_status st = ms_rtls_route_new(NULL, dns, sts, domain, req, NULL, &r, why, sizeof(why));
	ck_assert_msg(st == MS_OK, "%s: %s", domain, why);
	ms_dns_ctx_free(dns);
	return r;
}

static struct ms_rtls_replan *replan(const struct ms_env *env, const char *msg,
				     const char *params, enum ms_rtls_requirement req)
{
	struct ms_rtls_replan *rp = NULL;
	char why[256] = "";
	ms_status st = ms_rtls_replan_new(env, (const uint8_t *)msg, strlen(msg), params, req, &rp,
					  why, sizeof(why));
	ck_assert_msg(st == MS_OK, "%s", why);
	ck_assert_ptr_nonnull(rp);
	return rp;
}

/* The rewritten header as a string. */
static const char *header_of(const struct ms_rtls_replan *rp)
{
	static char buf[4096];
	size_t n = 0;
	const uint8_t *h = ms_rtls_replan_header(rp, &n);
	ck_assert_uint_lt(n, sizeof(buf));
	memcpy(buf, h, n);
	buf[n] = '\0';
	return buf;
}

static const char MSG[] = "From: alice@example.test\r\nSubject: queued\r\n\r\nbody\r\n";

/* ---- over the world --------------------------------------------------- */

START_TEST(lower_required_dane)
{
	struct seen seen = { 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &seen, .log = log_hook,
			      .log_level = MS_LOG_INFO };
	struct ms_rtls_replan *rp = replan(&env, MSG, "SIZE=48 REQUIRETLS",
					   MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_REQUIRED);
	ck_assert_int_eq(ms_rtls_replan_after(rp), MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_str_eq(ms_rtls_replan_mail_params(rp), "SIZE=48");
	ck_assert_str_eq(header_of(rp), "From: alice@example.test\r\nSubject: queued\r\n"
					"TLS-Required: No\r\n\r\n");
	ck_assert_str_eq(MSG + ms_rtls_replan_body_offset(rp), "body\r\n");
	ck_assert_int_eq(ms_rtls_replan_added(rp), 1);
	ck_assert_uint_eq(ms_rtls_replan_removed(rp), 0);

	struct ms_rtls_route *r = route_sts("good.test", MS_RTLS_REQ_REQUIRED, NULL);
	char why[256] = "";
	ck_assert_msg(ms_rtls_replan_route(rp, r, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_uint_eq(ms_rtls_replan_domain_count(rp), 1);
	const struct ms_rtls_replan_domain *d = ms_rtls_replan_domain(rp, 0);
	ck_assert_ptr_null(ms_rtls_replan_domain(rp, 1));
	ck_assert_str_eq(d->domain, "good.test");
	ck_assert_uint_eq(d->nhosts, 2);
	ck_assert(d->changed);
	ck_assert_int_eq(d->undeliverable_before, 0);
	ck_assert_int_eq(d->undeliverable_after, 0);
	const struct ms_rtls_replan_host *h = &d->hosts[0];
	ck_assert_str_eq(h->name, "mx1.good.test");
	ck_assert_uint_eq(h->preference, 10);
	ck_assert_int_eq(h->before.mode, MS_RTLS_MODE_DANE);
	ck_assert(h->before.verify_dane && h->before.need_requiretls);
	ck_assert_int_eq(h->after.mode, MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK);
	ck_assert(!h->after.verify_dane && !h->after.verify_pkix && !h->after.need_requiretls);
	/* what the domain's policy alone says is kept for the reports */
	ck_assert_int_eq(h->after.policy_mode, MS_RTLS_MODE_DANE);
	ck_assert_int_eq(h->plaintext_before, 0);
	ck_assert_int_eq(h->plaintext_after, 1);
	ck_assert(h->changed);
	ck_assert_str_eq(h->summary, "mx1.good.test: dane -> opportunistic-fallback: DANE failures "
				     "ignored, REQUIRETLS no longer needed, plaintext allowed");
	ck_assert_str_eq(d->hosts[1].name, "mx2.good.test");
	/* the route itself is not touched */
	ck_assert_int_eq(ms_rtls_route_host_plan(ms_rtls_route_host(r, 0))->mode, MS_RTLS_MODE_DANE);
	/* one info event for the MTA's log */
	ck_assert_int_eq(seen.events, 1);
	ck_assert_str_eq(seen.last, "domain=good.test requirement_old=required "
				    "requirement_new=not-required hosts_changed=2");
	/* the same domain twice is refused */
	ck_assert_int_eq(ms_rtls_replan_route(rp, r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_str_eq(why, "replan: good.test added twice");
	ck_assert_uint_eq(ms_rtls_replan_domain_count(rp), 1);
	ms_rtls_route_free(r);
	ms_rtls_replan_free(rp);
}
END_TEST

/* The MTA-STS policy of stsgap.test as its HTTPS host serves it. */
static ms_status gap_policy(void *user, const char *url, uint8_t *buf, size_t bufsize,
			    size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)user;
	(void)url;
	(void)failure;
	(void)why;
	(void)whylen;
	static const char body[] = "version: STSv1\r\nmode: enforce\r\nmx: mx1.stsgap.test\r\n"
				   "max_age: 86400\r\n";
	ck_assert_uint_gt(bufsize, sizeof(body));
	memcpy(buf, body, sizeof(body) - 1);
	*len = sizeof(body) - 1;
	return MS_OK;
}

START_TEST(lower_default_sts_enforce)
{
	struct ms_sts_config cfg = { .version = MS_STS_CONFIG_VERSION };
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.fetch = gap_policy;
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	struct ms_sts *sts = NULL;
	char why[256] = "";
	ck_assert_msg(ms_sts_new(NULL, &cfg, dns, NULL, &sts, why, sizeof(why)) == MS_OK, "%s", why);
	struct ms_rtls_route *r = route_sts("stsgap.test", MS_RTLS_REQ_DEFAULT, sts);

	struct ms_rtls_replan *rp = replan(NULL, MSG, NULL, MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_DEFAULT);
	ck_assert_str_eq(ms_rtls_replan_mail_params(rp), "");
	ck_assert_msg(ms_rtls_replan_route(rp, r, why, sizeof(why)) == MS_OK, "%s", why);
	const struct ms_rtls_replan_domain *d = ms_rtls_replan_domain(rp, 0);
	ck_assert_uint_eq(d->nhosts, 2);
	ck_assert_str_eq(d->hosts[0].summary, "mx1.stsgap.test: pkix -> opportunistic-fallback: "
					      "MTA-STS failures ignored, plaintext allowed");
	/* the host outside the enforced policy may be used after all */
	const struct ms_rtls_replan_host *h = &d->hosts[1];
	ck_assert_int_eq(h->before.mode, MS_RTLS_MODE_SKIP);
	ck_assert_int_eq(h->before.reason, MS_RTLS_R_STS_MX_MISMATCH);
	ck_assert_int_eq(h->after.mode, MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK);
	ck_assert_msg(strncmp(h->summary, "mx2.stsgap.test: skip -> opportunistic-fallback: "
				 "no longer skipped (was ", 72) == 0, "%s", h->summary);
	ck_assert_ptr_nonnull(strstr(h->summary, "sts_mx_mismatch), plaintext allowed"));
	ms_rtls_replan_free(rp);
	ms_rtls_route_free(r);
	ms_sts_free(sts);
	ms_dns_ctx_free(dns);
}
END_TEST

START_TEST(raise_default_nostarttls)
{
	struct ms_rtls_replan *rp = replan(NULL, MSG, "BODY=8BITMIME", MS_RTLS_REQ_REQUIRED);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_DEFAULT);
	ck_assert_str_eq(ms_rtls_replan_mail_params(rp), "BODY=8BITMIME REQUIRETLS");
	ck_assert_str_eq(header_of(rp), "From: alice@example.test\r\nSubject: queued\r\n\r\n");
	struct ms_rtls_route *r = route_sts("nostarttls.test", MS_RTLS_REQ_DEFAULT, NULL);
	char why[256] = "";
	ck_assert_msg(ms_rtls_replan_route(rp, r, why, sizeof(why)) == MS_OK, "%s", why);
	const struct ms_rtls_replan_domain *d = ms_rtls_replan_domain(rp, 0);
	ck_assert_uint_eq(d->nhosts, 1);
	const struct ms_rtls_replan_host *h = &d->hosts[0];
	ck_assert_int_eq(h->before.mode, MS_RTLS_MODE_OPPORTUNISTIC);
	ck_assert_int_eq(h->plaintext_before, 1);
	ck_assert_int_eq(h->after.mode, MS_RTLS_MODE_SKIP);
	ck_assert_int_eq(h->after.reason, MS_RTLS_R_NO_VERIFIED_PATH);
	ck_assert_str_eq(h->after.enhanced, "5.7.30");
	ck_assert_int_eq(h->plaintext_after, 0);
	ck_assert_str_eq(h->summary, "mx.nostarttls.test: opportunistic -> skip: skipped 5.7.30 "
				     "(no_verified_path)");
	/* the domain cannot take the message any more: returned, 5.7.30 */
	ck_assert_int_eq(d->undeliverable_before, 0);
	ck_assert_int_eq(d->undeliverable_after, 1);
	ck_assert_int_eq(d->outcome_after.verdict, MS_RTLS_PERMFAIL);
	ck_assert_str_eq(d->outcome_after.enhanced, "5.7.30");
	ck_assert_str_eq(d->outcome_before.enhanced, "");
	ck_assert(d->changed);
	ms_rtls_route_free(r);

	/* the route must be the stored requirement's */
	r = route_sts("nostarttls.test", MS_RTLS_REQ_REQUIRED, NULL);
	ck_assert_int_eq(ms_rtls_replan_route(rp, r, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_str_eq(why, "replan: the route of nostarttls.test was planned for required, "
			      "the message is default");
	ms_rtls_route_free(r);
	ms_rtls_replan_free(rp);
}
END_TEST

/* ---- the rewrite ------------------------------------------------------ */

START_TEST(rewrite_folded_and_obsolete)
{
	/* a folded field: read as "No", removed whole (both lines) */
	static const char folded[] = "From: a@example.test\r\nTLS-Required:\r\n  No\r\n"
				     "X-TLS-Required: keep\r\n\r\nbody\r\n";
	struct ms_rtls_replan *rp = replan(NULL, folded, "", MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_replan_tlsreq(rp), MS_RTLS_TLSREQ_NO);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_str_eq(header_of(rp), "From: a@example.test\r\nX-TLS-Required: keep\r\n\r\n");
	ck_assert_uint_eq(ms_rtls_replan_removed(rp), 1);
	ck_assert_int_eq(ms_rtls_replan_added(rp), 0);
	ck_assert_str_eq(ms_rtls_replan_mail_params(rp), "");
	ms_rtls_replan_free(rp);

	rp = replan(NULL, folded, "", MS_RTLS_REQ_REQUIRED);
	ck_assert_str_eq(header_of(rp), "From: a@example.test\r\nX-TLS-Required: keep\r\n\r\n");
	ck_assert_str_eq(ms_rtls_replan_mail_params(rp), "REQUIRETLS");
	ms_rtls_replan_free(rp);

	/* the obsolete "Name :" form (RFC 5322 s4.5) is the same field */
	static const char obs[] = "Subject: x\nTLS-Required : No\nTo: b@example.test\n\nbody\n";
	rp = replan(NULL, obs, NULL, MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_NOT_REQUIRED);
	/* re-planned to the same requirement: one field, at the end, LF */
	ck_assert_str_eq(header_of(rp), "Subject: x\nTo: b@example.test\nTLS-Required: No\n\n");
	ck_assert_uint_eq(ms_rtls_replan_removed(rp), 1);
	ms_rtls_replan_free(rp);
	rp = replan(NULL, obs, NULL, MS_RTLS_REQ_REQUIRED);
	ck_assert_str_eq(header_of(rp), "Subject: x\nTo: b@example.test\n\n");
	ms_rtls_replan_free(rp);
}
END_TEST

START_TEST(rewrite_multiple_and_overridden)
{
	/* two fields: ignored (RFC 8689 s3), so default; not-required keeps one */
	static const char two[] = "TLS-Required: No\r\nSubject: x\r\nTLS-Required: no\r\n\r\nb\r\n";
	struct ms_rtls_replan *rp = replan(NULL, two, NULL, MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_replan_tlsreq(rp), MS_RTLS_TLSREQ_MULTIPLE);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_DEFAULT);
	size_t n = 0;
	const uint8_t *h = ms_rtls_replan_header(rp, &n);
	ck_assert_int_eq(ms_rtls_tlsreq_scan(h, n, 0), MS_RTLS_TLSREQ_NO);
	ck_assert_str_eq(header_of(rp), "Subject: x\r\nTLS-Required: No\r\n\r\n");
	ck_assert_uint_eq(ms_rtls_replan_removed(rp), 2);
	ms_rtls_replan_free(rp);

	/* REQUIRETLS wins over the header (RFC 8689 s2): required */
	static const char one[] = "TLS-Required: No\r\nSubject: x\r\n\r\nb\r\n";
	rp = replan(NULL, one, " REQUIRETLS  ENVID=q1", MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_replan_tlsreq(rp), MS_RTLS_TLSREQ_OVERRIDDEN);
	ck_assert_int_eq(ms_rtls_replan_before(rp), MS_RTLS_REQ_REQUIRED);
	ck_assert_str_eq(ms_rtls_replan_mail_params(rp), "ENVID=q1");
	ck_assert_str_eq(header_of(rp), "Subject: x\r\n\r\n");
	ms_rtls_replan_free(rp);

	/* a header section alone, its last line without a line end */
	rp = replan(NULL, "Subject: x\nFrom: a@example.test", NULL, MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_str_eq(header_of(rp), "Subject: x\nFrom: a@example.test\nTLS-Required: No\n");
	ck_assert_uint_eq(ms_rtls_replan_body_offset(rp), 31);
	ms_rtls_replan_free(rp);
}
END_TEST

static void expect_error(const char *msg, size_t len, const char *params, int req, ms_status want,
			 const char *why_want)
{
	struct ms_rtls_replan *rp = (struct ms_rtls_replan *)1;
	char why[256] = "";
	ms_status st = ms_rtls_replan_new(NULL, (const uint8_t *)msg, len, params,
					  (enum ms_rtls_requirement)req, &rp, why, sizeof(why));
	ck_assert_msg(st == want, "%s: got %d (%s)", why_want, st, why);
	ck_assert_ptr_null(rp);
	ck_assert_str_eq(why, why_want);
}

START_TEST(errors)
{
	expect_error(MSG, strlen(MSG), "REQUIRETLS=yes", MS_RTLS_REQ_DEFAULT, MS_ERR_PARSE,
		     "bad MAIL FROM parameters: REQUIRETLS takes no value");
	expect_error(MSG, strlen(MSG), "SIZE=1 SIZE=2", MS_RTLS_REQ_DEFAULT, MS_ERR_PARSE,
		     "bad MAIL FROM parameters: parameter SIZE given twice");
	expect_error(MSG, strlen(MSG), NULL, 7, MS_ERR_INVALID, "replan: unknown requirement 7");
	expect_error("", 0, NULL, MS_RTLS_REQ_DEFAULT, MS_ERR_PARSE, "empty message");
	expect_error("this is not a header\r\n\r\nbody\r\n", 30, NULL, MS_RTLS_REQ_DEFAULT,
		     MS_ERR_PARSE, "header line 1 is not a field (no name and colon)");
	expect_error(" Subject: x\r\n\r\n", 15, NULL, MS_RTLS_REQ_DEFAULT, MS_ERR_PARSE,
		     "the message starts with a continuation line");
	expect_error("Subject: x\r\nTo: a\0b\r\n\r\n", 22, NULL, MS_RTLS_REQ_DEFAULT,
		     MS_ERR_PARSE, "header line 2 holds a NUL byte");
	expect_error("Subject: x\rTLS-Required: No\r\n\r\n", 31, NULL, MS_RTLS_REQ_DEFAULT,
		     MS_ERR_PARSE, "header line 1 holds a bare CR");
	expect_error(NULL, 0, NULL, MS_RTLS_REQ_DEFAULT, MS_ERR_INVALID, "replan: NULL argument");
	char why[64] = "";
	ck_assert_int_eq(ms_rtls_replan_route(NULL, NULL, why, sizeof(why)), MS_ERR_INVALID);
	/* the getters are NULL-safe */
	ms_rtls_replan_free(NULL);
	ck_assert_uint_eq(ms_rtls_replan_domain_count(NULL), 0);
	ck_assert_ptr_null(ms_rtls_replan_domain(NULL, 0));
	ck_assert_ptr_null(ms_rtls_replan_mail_params(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("requiretls-replan");
	TCase *t = tcase_create("world");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, lower_required_dane);
	tcase_add_test(t, lower_default_sts_enforce);
	tcase_add_test(t, raise_default_nostarttls);
	suite_add_tcase(s, t);
	t = tcase_create("rewrite");
	tcase_add_test(t, rewrite_folded_and_obsolete);
	tcase_add_test(t, rewrite_multiple_and_overridden);
	tcase_add_test(t, errors);
	suite_add_tcase(s, t);
	return mstest_run(s);
}
