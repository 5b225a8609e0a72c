/*
 * test_dns_world.c - libdnssec-stub against real DNSSEC validation: the
 * signed zones of the test world loaded into libunbound as auth-zones under
 * the test trust anchor.  Each case names the zone property it exercises.
 */
#include "mstest.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static struct ms_dns_ctx *ctx;

static void setup(void)
{
	ctx = mstest_world_resolver(NULL, mstest_scale_ms(3000), 0);
}

static void teardown(void)
{
	ms_dns_ctx_free(ctx);
	ctx = NULL;
}

static struct ms_dns_result *q(const char *name, uint16_t type)
{
	struct ms_dns_result *r = NULL;
	char why[256] = "";
	ms_status st = ms_dns_lookup(ctx, name, type, &r, why, sizeof(why));
	ck_assert_msg(st == MS_OK, "lookup %s: %s", name, why);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void expect(const struct ms_dns_result *r, enum ms_dns_outcome o,
		   enum ms_dns_security s)
{
	ck_assert_msg(ms_dns_result_outcome(r) == o, "%s: outcome %s, want %s",
		      ms_dns_result_qname(r), ms_dns_outcome_str(ms_dns_result_outcome(r)),
		      ms_dns_outcome_str(o));
	ck_assert_msg(ms_dns_result_security(r) == s, "%s: security %s, want %s",
		      ms_dns_result_qname(r), ms_dns_security_str(ms_dns_result_security(r)),
		      ms_dns_security_str(s));
}

static void expect_addr(const struct ms_dns_result *r, size_t i, const char *want)
{
	char buf[64];
	ck_assert_int_eq(ms_dns_result_addr(r, i, buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, want);
}

START_TEST(secure_answer_ecdsa_nsec)
{
	struct ms_dns_result *r = q("www.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 1);
	expect_addr(r, 0, "192.0.2.1");
	ck_assert_int_eq(ms_dns_result_ede(r), -1);
	ck_assert_uint_eq(ms_dns_result_ttl(r), 3600);
	ck_assert_str_eq(ms_dns_result_canonical(r), "www.example.test");
	ck_assert_int_eq(ms_dns_result_cname_secure(r), -1);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(secure_nxdomain_and_nodata)
{
	struct ms_dns_result *r = q("nosuch.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_NXDOMAIN, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);
	r = q("v4only.example.test", MS_DNS_T_AAAA);
	expect(r, MS_DNS_NODATA, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(rsa_nsec3_zone)
{
	struct ms_dns_result *r = q("www.rsa.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	expect_addr(r, 0, "192.0.2.20");
	ms_dns_result_free(r);
	/* NSEC3 denial of existence, validated */
	r = q("nosuch.rsa.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_NXDOMAIN, MS_DNS_SECURE);
	ms_dns_result_free(r);
	r = q("www.rsa.example.test", MS_DNS_T_TXT);
	expect(r, MS_DNS_NODATA, MS_DNS_SECURE);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(insecure_delegation)
{
	struct ms_dns_result *r = q("www.insecure.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_INSECURE);
	expect_addr(r, 0, "192.0.2.10");
	ms_dns_result_free(r);
	/* the absence of a DS is itself proven */
	r = q("insecure.example.test", MS_DNS_T_DS);
	expect(r, MS_DNS_NODATA, MS_DNS_SECURE);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(bogus_tampered_record_is_never_handed_out)
{
	struct ms_dns_result *r = q("tampered.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_SERVFAIL, MS_DNS_BOGUS);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ck_assert_ptr_null(ms_dns_result_rdata(r, 0, NULL));
	ck_assert_int_eq(ms_dns_result_ede(r), 6); /* DNSSEC Bogus */
	ck_assert_ptr_nonnull(ms_dns_result_ede_text(r));
	ck_assert_ptr_nonnull(strstr(ms_dns_result_ede_text(r), "tampered.example.test"));
	ms_dns_result_free(r);
}
END_TEST

START_TEST(bogus_expired_signatures)
{
	struct ms_dns_result *r = q("www.expired.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_SERVFAIL, MS_DNS_BOGUS);
	ck_assert_int_eq(ms_dns_result_ede(r), 7); /* Signature Expired */
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(bogus_wrong_ds)
{
	struct ms_dns_result *r = q("www.badds.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_SERVFAIL, MS_DNS_BOGUS);
	ck_assert_int_eq(ms_dns_result_ede(r), 9); /* DNSKEY Missing */
	ms_dns_result_free(r);
}
END_TEST

START_TEST(validation_time_before_inception)
{
	/* Signatures start in 2024: validating as of 2023 must fail with
	 * "Signature Not Yet Valid", proving --now reaches the validator. */
	struct ms_dns_ctx *old = mstest_world_resolver(NULL, 3000, 1672531200);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(old, "www.example.test", MS_DNS_T_A, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_BOGUS);
	ck_assert_int_eq(ms_dns_result_ede(r), 8);
	ms_dns_result_free(r);
	ms_dns_ctx_free(old);
}
END_TEST

START_TEST(cname_secure_chain)
{
	struct ms_dns_result *r = q("chain1.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_str_eq(ms_dns_result_canonical(r), "www.example.test");
	ck_assert_int_eq(ms_dns_result_cname_secure(r), 1);
	expect_addr(r, 0, "192.0.2.1");
	ms_dns_result_free(r);
	/* across into the RSA/NSEC3 child */
	r = q("rsaalias.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_str_eq(ms_dns_result_canonical(r), "mail.rsa.example.test");
	ms_dns_result_free(r);
}
END_TEST

START_TEST(cname_into_insecure_zone)
{
	/* The alias is signed, its target is not: the answer is insecure but
	 * the CNAME step itself was secure (what DANE's base domain needs). */
	struct ms_dns_result *r = q("insalias.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_INSECURE);
	ck_assert_str_eq(ms_dns_result_canonical(r), "www.insecure.example.test");
	ck_assert_int_eq(ms_dns_result_cname_secure(r), 1);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(cname_into_bogus_name)
{
	struct ms_dns_result *r = q("bogalias.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_SERVFAIL, MS_DNS_BOGUS);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(cname_dangling)
{
	struct ms_dns_result *r = q("dangling.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_NXDOMAIN, MS_DNS_SECURE);
	ck_assert_str_eq(ms_dns_result_canonical(r), "nosuch.example.test");
	ck_assert_int_eq(ms_dns_result_cname_secure(r), 1);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(tlsa_at_port_25)
{
	struct ms_dns_result *r = q("_25._tcp.mx.example.test", MS_DNS_T_TLSA);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 1);
	struct ms_dns_tlsa t;
	ck_assert_int_eq(ms_dns_result_tlsa(r, 0, &t), MS_OK);
	ck_assert_uint_eq(t.usage, 3);
	ck_assert_uint_eq(t.selector, 1);
	ck_assert_uint_eq(t.mtype, 1);
	ck_assert_uint_eq(t.datalen, 32);
	ck_assert_uint_eq(t.data[0], 0x0c);
	ms_dns_result_free(r);
	/* TLSA through a CNAME at _25._tcp */
	r = q("_25._tcp.mxalias.example.test", MS_DNS_T_TLSA);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_str_eq(ms_dns_result_canonical(r), "_25._tcp.mx.example.test");
	ms_dns_result_free(r);
	/* unsigned zone: present but insecure */
	r = q("_25._tcp.mx.insecure.example.test", MS_DNS_T_TLSA);
	expect(r, MS_DNS_ANSWER, MS_DNS_INSECURE);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(mx_and_null_mx)
{
	struct ms_dns_result *r = q("example.test", MS_DNS_T_MX);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	uint16_t pref = 0;
	char host[256];
	ck_assert_int_eq(ms_dns_result_mx(r, 0, &pref, host, sizeof(host)), MS_OK);
	ck_assert_uint_eq(pref, 10);
	ck_assert_str_eq(host, "mx.example.test");
	ck_assert_int_eq(ms_dns_result_is_null_mx(r), 0);
	ms_dns_result_free(r);

	r = q("nullmx.example.test", MS_DNS_T_MX);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_int_eq(ms_dns_result_is_null_mx(r), 1);
	ck_assert_int_eq(ms_dns_result_mx(r, 0, &pref, host, sizeof(host)), MS_OK);
	ck_assert_uint_eq(pref, 0);
	ck_assert_str_eq(host, "");
	ms_dns_result_free(r);
}
END_TEST

START_TEST(txt_joined_and_strings)
{
	struct ms_dns_result *r = q("multi.example.test", MS_DNS_T_TXT);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	char buf[512];
	size_t len = 0, n = 0;
	ck_assert_int_eq(ms_dns_result_txt(r, 0, buf, sizeof(buf), &len), MS_OK);
	ck_assert_str_eq(buf, "v=spf1 ip4:192.0.2.0/24 -all");
	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_int_eq(ms_dns_result_txt_strings(r, 0, &n), MS_OK);
	ck_assert_uint_eq(n, 3);
	const uint8_t *s;
	ck_assert_int_eq(ms_dns_result_txt_string(r, 0, 1, &s, &len), MS_OK);
	ck_assert_uint_eq(len, 16);
	ck_assert_int_eq(memcmp(s, "ip4:192.0.2.0/24", 16), 0);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(addr_both_families_secure)
{
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup_addr(ctx, "www.example.test", &r, NULL, 0), MS_OK);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 2);
	ck_assert_uint_eq(ms_dns_result_rtype(r, 0), MS_DNS_T_A);
	ck_assert_uint_eq(ms_dns_result_rtype(r, 1), MS_DNS_T_AAAA);
	expect_addr(r, 1, "2001:db8::1");
	ms_dns_result_free(r);
	/* one family proven absent: still secure */
	ck_assert_int_eq(ms_dns_lookup_addr(ctx, "v4only.example.test", &r, NULL, 0), MS_OK);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 1);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(addr_one_family_insecure)
{
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup_addr(ctx, "mixed.example.test", &r, NULL, 0), MS_OK);
	/* A is signed, AAAA comes from unsigned local-data */
	expect(r, MS_DNS_ANSWER, MS_DNS_INSECURE);
	ck_assert_uint_eq(ms_dns_result_count(r), 2);
	ms_dns_result_free(r);
	r = q("mixed.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(addr_one_family_bogus_hides_everything)
{
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup_addr(ctx, "tampered.example.test", &r, NULL, 0), MS_OK);
	expect(r, MS_DNS_SERVFAIL, MS_DNS_BOGUS);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(idn_names)
{
	struct ms_dns_result *r = q("bücher.example.test", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ck_assert_str_eq(ms_dns_result_qname(r), "xn--bcher-kva.example.test");
	expect_addr(r, 0, "192.0.2.80");
	ms_dns_result_free(r);
	/* the same name in A-label form, upper case, trailing dot */
	r = q("XN--BCHER-KVA.Example.Test.", MS_DNS_T_A);
	expect(r, MS_DNS_ANSWER, MS_DNS_SECURE);
	ms_dns_result_free(r);
}
END_TEST

START_TEST(malformed_names_rejected)
{
	static const char *bad[] = {
		"", "a..b", ".leading", "ctl\x01.example", "del\x7f.example",
		"xn--a.example\xff", "back\\slash.example",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ms_dns_result *r = (void *)1;
		char why[128] = "";
		ck_assert_int_eq(ms_dns_lookup(ctx, bad[i], MS_DNS_T_A, &r, why, sizeof(why)),
				 MS_ERR_INVALID);
		ck_assert_ptr_null(r);
		ck_assert_msg(why[0] != '\0', "no reason for bad name %zu", i);
	}
}
END_TEST

START_TEST(ptr_lookup)
{
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup_ptr(ctx, "192.0.2.1", &r, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_ANSWER);
	ck_assert_str_eq(ms_dns_result_qname(r), "1.2.0.192.in-addr.arpa");
	char name[256];
	ck_assert_int_eq(ms_dns_result_name(r, 0, name, sizeof(name)), MS_OK);
	ck_assert_str_eq(name, "www.example.test");
	/* the reverse zone has no DS chain from our anchor */
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_INSECURE);
	ms_dns_result_free(r);
	ck_assert_int_eq(ms_dns_lookup_ptr(ctx, "not-an-ip", &r, NULL, 0), MS_ERR_INVALID);
}
END_TEST

START_TEST(outside_the_world_is_refused)
{
	struct ms_dns_result *r = q("example.com", MS_DNS_T_A);
	ck_assert_int_eq(ms_dns_result_outcome(r), MS_DNS_REFUSED);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_INDETERMINATE);
	ms_dns_result_free(r);
}
END_TEST

/*
 * slow.example.test is delegated to 127.0.0.9, where nothing answers.  As
 * root we also bind a silent UDP/TCP sink on 127.0.0.9:53 so that queries
 * are swallowed rather than refused; either way the lookup must end at the
 * configured deadline as a temporary failure, never hang or pass.
 */
START_TEST(timeout_on_unreachable_authority)
{
	int sink = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	inet_pton(AF_INET, "127.0.0.9", &sa.sin_addr);
	int have_sink = bind(sink, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	struct ms_dns_ctx *fast = mstest_world_resolver(NULL, 1000, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(fast, "www.slow.example.test", MS_DNS_T_A, &r, NULL, 0), MS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	if (have_sink)
		ck_assert_int_eq(o, MS_DNS_TIMEOUT);
	else
		ck_assert(o == MS_DNS_TIMEOUT || o == MS_DNS_SERVFAIL);
	ck_assert_int_eq(ms_dns_result_security(r), MS_DNS_INDETERMINATE);
	ck_assert_uint_eq(ms_dns_result_count(r), 0);
	/* bounded: far below unbound's own retry schedule (tens of seconds) */
	ck_assert_msg(secs < mstest_scale_ms(10000) / 1000.0, "lookup took %.1f s", secs);
	ms_dns_result_free(r);
	ms_dns_ctx_free(fast);
	close(sink);
}
END_TEST

START_TEST(config_errors_are_clear)
{
	struct ms_dns_config cfg = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_CONFIG_FILE,
				     .config_file = "/nonexistent/auth.conf" };
	struct ms_dns_ctx *c = (void *)1;
	char why[512] = "";
	ck_assert_int_eq(ms_dns_ctx_new(NULL, &cfg, &c, why, sizeof(why)), MS_ERR_CONFIG);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(why, "/nonexistent/auth.conf"));

	struct ms_dns_config noanchor = { .version = MS_DNS_CONFIG_VERSION,
					  .mode = MS_DNS_MODE_RECURSIVE,
					  .root_anchor_file = "/nonexistent/root.key" };
	ck_assert_int_eq(ms_dns_ctx_new(NULL, &noanchor, &c, why, sizeof(why)), MS_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(why, "trust anchor"));

	struct ms_dns_config badver = { .version = 99 };
	ck_assert_int_eq(ms_dns_ctx_new(NULL, &badver, &c, why, sizeof(why)), MS_ERR_INVALID);

	struct ms_dns_config fwd = { .version = MS_DNS_CONFIG_VERSION,
				     .mode = MS_DNS_MODE_FORWARD };
	ck_assert_int_eq(ms_dns_ctx_new(NULL, &fwd, &c, why, sizeof(why)), MS_ERR_CONFIG);
}
END_TEST

/* Metrics and logs arrive through the env hooks with the documented names. */
struct seen {
	int lookups_total, durations, logs;
	char last_labels[256];
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct seen *s = user;
	if (strcmp(ev->name, "dns_lookups_total") == 0) {
		s->lookups_total++;
		ck_assert_int_eq(ev->kind, MS_METRIC_COUNTER);
		ck_assert_uint_eq(ev->nlabels, 3);
		snprintf(s->last_labels, sizeof(s->last_labels), "%s=%s,%s=%s,%s=%s",
			 ev->labels[0].key, ev->labels[0].value, ev->labels[1].key,
			 ev->labels[1].value, ev->labels[2].key, ev->labels[2].value);
	} else if (strcmp(ev->name, "dns_lookup_duration_seconds") == 0) {
		s->durations++;
		ck_assert_int_eq(ev->kind, MS_METRIC_HISTOGRAM);
		ck_assert(ev->value >= 0);
	}
}

static void on_log(void *user, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv)
{
	struct seen *s = user;
	if (level == MS_LOG_DEBUG && strcmp(subsystem, "dns") == 0 &&
	    strcmp(msg, "lookup") == 0) {
		s->logs++;
		ck_assert_uint_ge(nkv, 5);
		ck_assert_str_eq(kv[0].key, "type");
	}
}

START_TEST(hooks_receive_logs_and_metrics)
{
	struct seen s = { 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &s,
			      .log = on_log, .log_level = MS_LOG_DEBUG,
			      .metric = on_metric };
	struct ms_dns_ctx *c = mstest_world_resolver(&env, 3000, 0);
	struct ms_dns_result *r = NULL;
	ck_assert_int_eq(ms_dns_lookup(c, "tampered.example.test", MS_DNS_T_A, &r, NULL, 0), MS_OK);
	ms_dns_result_free(r);
	ck_assert_int_eq(s.lookups_total, 1);
	ck_assert_int_eq(s.durations, 1);
	ck_assert_int_eq(s.logs, 1);
	ck_assert_str_eq(s.last_labels, "type=A,outcome=servfail,security=bogus");
	ms_dns_ctx_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns-world");
	TCase *tc = tcase_create("world");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, secure_answer_ecdsa_nsec);
	tcase_add_test(tc, secure_nxdomain_and_nodata);
	tcase_add_test(tc, rsa_nsec3_zone);
	tcase_add_test(tc, insecure_delegation);
	tcase_add_test(tc, bogus_tampered_record_is_never_handed_out);
	tcase_add_test(tc, bogus_expired_signatures);
	tcase_add_test(tc, bogus_wrong_ds);
	tcase_add_test(tc, validation_time_before_inception);
	tcase_add_test(tc, cname_secure_chain);
	tcase_add_test(tc, cname_into_insecure_zone);
	tcase_add_test(tc, cname_into_bogus_name);
	tcase_add_test(tc, cname_dangling);
	tcase_add_test(tc, tlsa_at_port_25);
	tcase_add_test(tc, mx_and_null_mx);
	tcase_add_test(tc, txt_joined_and_strings);
	tcase_add_test(tc, addr_both_families_secure);
	tcase_add_test(tc, addr_one_family_insecure);
	tcase_add_test(tc, addr_one_family_bogus_hides_everything);
	tcase_add_test(tc, idn_names);
	tcase_add_test(tc, malformed_names_rejected);
	tcase_add_test(tc, ptr_lookup);
	tcase_add_test(tc, outside_the_world_is_refused);
	tcase_add_test(tc, timeout_on_unreachable_authority);
	tcase_add_test(tc, config_errors_are_clear);
	tcase_add_test(tc, hooks_receive_logs_and_metrics);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mstest_run(suite());
}
