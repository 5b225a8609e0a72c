/*
 * test_tlsrpt_unit.c - libreports' TLSRPT half (mailsec/tlsrpt.h, RFC 8460)
 * without a network: the result names (one type for the suite), the s5.1
 * file name, gzip round trips and bounds, the SQLite store and the batched
 * recorder (one store batch per flush, rows aggregated), the s4 JSON shape
 * against the RFC's example, the parser (RFC example, the report mail,
 * bounds and errors naming the field) and the s3 record parser; discovery
 * over the signed test world, where a failed lookup is an error, never
 * "no rua".
 */
#include "mstest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mailsec/tlsrpt.h>

static char tmpdir[256];

static void setup_dir(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/tlsrpt-unit-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static struct ms_tlsrpt_store *open_store(const char *name)
{
	char path[400], why[256] = "";
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	struct ms_tlsrpt_store *s = NULL;
	ck_assert_msg(ms_tlsrpt_store_open_sqlite(NULL, path, &s, why, sizeof(why)) == MS_OK, "%s",
		      why);
	return s;
}

static uint8_t *slurp(const char *rel, size_t *len)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/tests/reports/%s", getenv("MS_SOURCE_ROOT"), rel);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	uint8_t *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

START_TEST(result_names)
{
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_STARTTLS_NOT_SUPPORTED),
			 "starttls-not-supported");
	ck_assert_str_eq(ms_tlsrpt_result_name(MS_TLSRPT_SUCCESS), "");
	ck_assert_str_eq(ms_tlsrpt_result_name((enum ms_tlsrpt_result)99), "");
	/* every name parses back to its value */
	for (int r = 1; r <= MS_TLSRPT_RESULT_MAX; r++) {
		enum ms_tlsrpt_result back;
		ck_assert_int_eq(ms_tlsrpt_result_from_name(ms_tlsrpt_result_name(r), &back), MS_OK);
		ck_assert_int_eq(back, r);
	}
	enum ms_tlsrpt_result x;
	ck_assert_int_eq(ms_tlsrpt_result_from_name("Validation-Failure", &x), MS_ERR_PARSE);
	ck_assert_int_eq(ms_tlsrpt_result_from_name("", &x), MS_ERR_PARSE);
	ck_assert_str_eq(ms_tlsrpt_policy_type_name(MS_TLSRPT_POLICY_NONE), "no-policy-found");
	enum ms_tlsrpt_policy_type t;
	ck_assert_int_eq(ms_tlsrpt_policy_type_from_name("tlsa", &t), MS_OK);
	ck_assert_int_eq(t, MS_TLSRPT_POLICY_TLSA);
}
END_TEST

START_TEST(filename_rules)
{
	char buf[300];
	/* RFC 8460 s5.1's example */
	ck_assert_int_eq(ms_tlsrpt_filename("mail.sender.example.com", "example.com", 1470013207,
					    1470186007, "001", 1, buf, sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "mail.sender.example.com!example.com!1470013207!1470186007!001.json.gz");
	ck_assert_int_eq(ms_tlsrpt_filename("s.example", "d.example", 0, 86399, NULL, 0, buf,
					    sizeof(buf)), MS_OK);
	ck_assert_str_eq(buf, "s.example!d.example!0!86399.json");
	ck_assert_int_eq(ms_tlsrpt_filename("s!x", "d.example", 0, 1, NULL, 1, buf, sizeof(buf)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_tlsrpt_filename("s.example", "d/../x", 0, 1, NULL, 1, buf, sizeof(buf)),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_tlsrpt_filename("s.example", "d.example", 0, 1, "a-b", 1, buf,
					    sizeof(buf)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_tlsrpt_filename("s.example", "d.example", 5, 1, NULL, 1, buf,
					    sizeof(buf)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_tlsrpt_filename("s.example", "d.example", 0, 1, NULL, 1, buf, 10),
			 MS_ERR_LIMIT);
}
END_TEST

START_TEST(gzip_round_trip)
{
	char why[200];
	size_t n = 200000;
	uint8_t *in = malloc(n);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)((i * 7919) % 251);
	uint8_t *gz = NULL, *back = NULL;
	size_t gzlen = 0, blen = 0;
	ck_assert_int_eq(ms_tlsrpt_gzip(in, n, &gz, &gzlen, why, sizeof(why)), MS_OK);
	ck_assert(gz[0] == 0x1f && gz[1] == 0x8b); /* RFC 1952 magic */
	ck_assert_int_eq(ms_tlsrpt_gunzip(gz, gzlen, n, &back, &blen, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(blen, n);
	ck_assert(memcmp(back, in, n) == 0);
	ms_tlsrpt_free(back);
	/* bounded: one byte less than the content is refused */
	ck_assert_int_eq(ms_tlsrpt_gunzip(gz, gzlen, n - 1, &back, &blen, why, sizeof(why)),
			 MS_ERR_LIMIT);
	ck_assert_ptr_null(back);
	/* truncated and corrupted */
	ck_assert_int_eq(ms_tlsrpt_gunzip(gz, gzlen / 2, n, &back, &blen, why, sizeof(why)),
			 MS_ERR_PARSE);
	gz[gzlen - 5] ^= 0xff; /* CRC/ISIZE trailer */
	ck_assert_int_eq(ms_tlsrpt_gunzip(gz, gzlen, n, &back, &blen, why, sizeof(why)),
			 MS_ERR_PARSE);
	ck_assert_int_eq(ms_tlsrpt_gunzip(in, 100, n, &back, &blen, why, sizeof(why)), MS_ERR_PARSE);
	/* empty input round trip */
	ms_tlsrpt_free(gz);
	ck_assert_int_eq(ms_tlsrpt_gzip((const uint8_t *)"", 0, &gz, &gzlen, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_tlsrpt_gunzip(gz, gzlen, 10, &back, &blen, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(blen, 0);
	ms_tlsrpt_free(back);
	ms_tlsrpt_free(gz);
	free(in);
}
END_TEST

/* ---- a store that counts its batches (around the SQLite one) ---- */
struct counting {
	struct ms_tlsrpt_store *inner;
	int batches, puts;
	size_t rows;
	int fail;
};
static ms_status c_get(void *impl, const char *day, const char *d, ms_tlsrpt_row_fn fn, void *a,
		       char *why, size_t wl)
{
	struct counting *c = impl;
	return ms_tlsrpt_store_get(c->inner, day, d, fn, a, why, wl);
}
static ms_status c_put(void *impl, const struct ms_tlsrpt_row *r, char *why, size_t wl)
{
	struct counting *c = impl;
	c->puts++;
	return ms_tlsrpt_store_put(c->inner, r, why, wl);
}
static ms_status c_batch(void *impl, const struct ms_tlsrpt_row *r, size_t n, char *why, size_t wl)
{
	struct counting *c = impl;
	if (c->fail) {
		snprintf(why, wl, "store down");
		return MS_ERR_IO;
	}
	c->batches++;
	c->rows += n;
	return ms_tlsrpt_store_batch(c->inner, r, n, why, wl);
}
static ms_status c_expire(void *impl, const char *b, char *why, size_t wl)
{
	struct counting *c = impl;
	return ms_tlsrpt_store_expire(c->inner, b, why, wl);
}
static void c_close(void *impl)
{
	struct counting *c = impl;
	ms_tlsrpt_store_free(c->inner);
	free(c);
}

static const struct ms_tlsrpt_store_ops counting_ops = {
	.version = MS_TLSRPT_STORE_OPS_VERSION, .get = c_get, .put = c_put, .batch = c_batch,
	.expire = c_expire, .close = c_close,
};

/* 2026-11-28 12:00:00 UTC */
static int64_t fixed_now(void *user)
{
	(void)user;
	return 1795867200;
}

struct logs {
	int warnings, failed_metric;
};
static void on_log(void *user, enum ms_log_level level, const char *sub, const char *msg,
		   const struct ms_kv *kv, size_t nkv)
{
	struct logs *l = user;
	(void)sub, (void)kv, (void)nkv;
	if (level == MS_LOG_WARNING && strcmp(msg, "tlsrpt rows not written") == 0)
		l->warnings++;
}
static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct logs *l = user;
	if (strcmp(ev->name, "tlsrpt_record_failed_total") == 0)
		l->failed_metric++;
}

static void event(struct ms_tlsrpt_recorder *r, const char *domain, enum ms_tlsrpt_policy_type t,
		  const char *host, const char *addr, enum ms_tlsrpt_result res, const char *reason)
{
	const char *strings[] = { "3 1 1 aabb", "3 1 1 ccdd" };
	struct ms_rtls_tlsrpt_event ev = { .policy_domain = domain, .policy_type = t,
					   .policy_strings = strings,
					   .npolicy_strings = t == MS_TLSRPT_POLICY_TLSA ? 2 : 0,
					   .mx_host = host, .addr = addr, .result = res,
					   .reason = reason };
	ms_tlsrpt_recorder_observe(r, &ev);
}

struct sum {
	uint64_t total, ok, failed;
	size_t rows;
	char strings[200];
};
static int add_row(void *arg, const struct ms_tlsrpt_row *r)
{
	struct sum *s = arg;
	s->rows++;
	s->total += r->count;
	if (r->result == MS_TLSRPT_SUCCESS)
		s->ok += r->count;
	else
		s->failed += r->count;
	snprintf(s->strings, sizeof(s->strings), "%s", r->policy_strings);
	return 0;
}

START_TEST(recorder_batches)
{
	struct logs lg = { 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .now = fixed_now, .log = on_log,
			      .metric = on_metric, .user = &lg, .log_level = MS_LOG_DEBUG };
	struct counting *c = calloc(1, sizeof(*c));
	c->inner = open_store("rec.db");
	struct ms_tlsrpt_store *st = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_tlsrpt_store_new(&env, &counting_ops, c, &st, why, sizeof(why)), MS_OK);
	struct ms_tlsrpt_recorder_opts o = { .version = MS_TLSRPT_RECORDER_OPTS_VERSION,
					     .batch_rows = 3 };
	struct ms_tlsrpt_recorder *r = NULL;
	ck_assert_int_eq(ms_tlsrpt_recorder_new(&env, st, &o, &r, why, sizeof(why)), MS_OK);
	for (int i = 0; i < 5; i++)
		event(r, "good.test", MS_TLSRPT_POLICY_TLSA, "mx1.good.test", "127.0.1.1",
		      MS_TLSRPT_SUCCESS, "ignored on success");
	event(r, "good.test", MS_TLSRPT_POLICY_TLSA, "mx2.good.test", "127.0.1.2",
	      MS_TLSRPT_VALIDATION_FAILURE, "handshake failed");
	event(r, "good.test", MS_TLSRPT_POLICY_TLSA, "mx2.good.test", "127.0.1.2",
	      MS_TLSRPT_VALIDATION_FAILURE, "handshake failed");
	/* 7 attempts, 2 rows, nothing written yet: no transaction per attempt */
	ck_assert_uint_eq(ms_tlsrpt_recorder_observed(r), 7);
	ck_assert_uint_eq(ms_tlsrpt_recorder_pending(r), 2);
	ck_assert_int_eq(c->batches + c->puts, 0);
	event(r, "other.test", MS_TLSRPT_POLICY_NONE, "mx.other.test", "127.0.1.6",
	      MS_TLSRPT_STARTTLS_NOT_SUPPORTED, "454 4.7.0 TLS not available");
	ck_assert_uint_eq(ms_tlsrpt_recorder_pending(r), 3);
	/* a fourth distinct row: the three buffered go in one batch */
	event(r, "other.test", MS_TLSRPT_POLICY_NONE, "mx.other.test", "127.0.1.7",
	      MS_TLSRPT_STARTTLS_NOT_SUPPORTED, "454 4.7.0 TLS not available");
	ck_assert_int_eq(c->batches, 1);
	ck_assert_uint_eq(c->rows, 3);
	ck_assert_uint_eq(ms_tlsrpt_recorder_pending(r), 1);
	/* the store is down: the flush fails, the row stays, warned and counted */
	c->fail = 1;
	ck_assert_int_eq(ms_tlsrpt_recorder_flush(r, why, sizeof(why)), MS_ERR_IO);
	ck_assert_uint_eq(ms_tlsrpt_recorder_pending(r), 1);
	event(r, "x.test", MS_TLSRPT_POLICY_NONE, "a.x.test", "", MS_TLSRPT_SUCCESS, "");
	event(r, "x.test", MS_TLSRPT_POLICY_NONE, "b.x.test", "", MS_TLSRPT_SUCCESS, "");
	event(r, "x.test", MS_TLSRPT_POLICY_NONE, "c.x.test", "", MS_TLSRPT_SUCCESS, "");
	ck_assert_int_ge(lg.warnings, 1);
	ck_assert_int_ge(lg.failed_metric, 1);
	c->fail = 0;
	ms_tlsrpt_recorder_free(r); /* flushes the rest */
	ck_assert_int_eq(c->batches, 2);

	struct sum s = { 0 };
	ck_assert_int_eq(ms_tlsrpt_store_get(st, "2026-11-28", "good.test", add_row, &s, why,
					     sizeof(why)), MS_OK);
	ck_assert_uint_eq(s.rows, 2);
	ck_assert_uint_eq(s.ok, 5);
	ck_assert_uint_eq(s.failed, 2);
	ck_assert_str_eq(s.strings, "3 1 1 aabb\n3 1 1 ccdd");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ms_tlsrpt_store_get(st, "2026-11-28", NULL, add_row, &s, why, sizeof(why)),
			 MS_OK);
	ck_assert_uint_eq(s.total, 5 + 2 + 2 + 2); /* x.test: 2 of 3 fitted the buffer */
	/* the same rows again are increments, not new rows */
	struct ms_tlsrpt_row row = { .day = "2026-11-28", .policy_domain = "good.test",
				     .policy_type = MS_TLSRPT_POLICY_TLSA,
				     .policy_strings = "3 1 1 aabb\n3 1 1 ccdd", .mx_patterns = "",
				     .mx_host = "mx1.good.test", .addr = "127.0.1.1",
				     .result = MS_TLSRPT_SUCCESS, .reason = "", .count = 10 };
	ck_assert_int_eq(ms_tlsrpt_store_put(st, &row, why, sizeof(why)), MS_OK);
	memset(&s, 0, sizeof(s));
	ms_tlsrpt_store_get(st, "2026-11-28", "good.test", add_row, &s, why, sizeof(why));
	ck_assert_uint_eq(s.rows, 2);
	ck_assert_uint_eq(s.ok, 15);
	/* bad rows and days are refused before the backend */
	row.day[4] = 'x';
	ck_assert_int_eq(ms_tlsrpt_store_put(st, &row, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_int_eq(ms_tlsrpt_store_expire(st, "2026-13-01", why, sizeof(why)), MS_ERR_INVALID);
	/* expiry */
	ck_assert_int_eq(ms_tlsrpt_store_expire(st, "2026-11-29", why, sizeof(why)), MS_OK);
	memset(&s, 0, sizeof(s));
	ms_tlsrpt_store_get(st, "2026-11-28", NULL, add_row, &s, why, sizeof(why));
	ck_assert_uint_eq(s.rows, 0);
	ms_tlsrpt_store_free(st);
}
END_TEST

/* A TLSA record with a whole certificate (3 0 0) is kilobytes: it goes
 * through the recorder, the store, the report and the parser whole. */
START_TEST(long_policy_strings)
{
	struct ms_env env = { .version = MS_ENV_VERSION, .now = fixed_now };
	struct ms_tlsrpt_store *st = open_store("long.db");
	struct ms_tlsrpt_recorder *r = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_tlsrpt_recorder_new(&env, st, NULL, &r, why, sizeof(why)), MS_OK);
	size_t n = 6 + 2 * 3000;
	char *rec = malloc(n + 1);
	memcpy(rec, "3 0 0 ", 6);
	for (size_t i = 6; i < n; i++)
		rec[i] = "0123456789abcdef"[i % 16];
	rec[n] = '\0';
	const char *strings[] = { rec, "3 1 1 aabb" };
	struct ms_rtls_tlsrpt_event ev = { .policy_domain = "long.example",
					   .policy_type = MS_TLSRPT_POLICY_TLSA,
					   .policy_strings = strings, .npolicy_strings = 2,
					   .mx_host = "mx.long.example", .addr = "192.0.2.9",
					   .result = MS_TLSRPT_SUCCESS, .reason = "" };
	ms_tlsrpt_recorder_observe(r, &ev);
	ms_tlsrpt_recorder_observe(r, &ev);
	/* NULL arrays with counts are taken as empty, never read */
	ev.policy_strings = NULL;
	ev.mx_patterns = NULL;
	ev.nmx_patterns = 3;
	ms_tlsrpt_recorder_observe(r, &ev);
	ck_assert_uint_eq(ms_tlsrpt_recorder_pending(r), 2);
	ms_tlsrpt_recorder_free(r);
	struct ms_tlsrpt_report_opts o = { .version = MS_TLSRPT_REPORT_OPTS_VERSION,
					   .org_name = "o", .contact = "c", .submitter = "s.example",
					   .day = "2026-11-28", .policy_domain = "long.example" };
	struct ms_tlsrpt_report *rep = NULL;
	ck_assert_int_eq(ms_tlsrpt_report_build(NULL, st, &o, &rep, why, sizeof(why)), MS_OK);
	ck_assert(strstr(rep->json, rec) != NULL);
	struct ms_tlsrpt_parsed *p = NULL;
	ck_assert_msg(ms_tlsrpt_parse(NULL, rep->gz, rep->gz_len, &p, why, sizeof(why)) == MS_OK,
		      "%s", why);
	int found = 0;
	for (size_t i = 0; i < p->npolicies; i++)
		for (size_t j = 0; j < p->policies[i].nstrings; j++)
			found += strcmp(p->policies[i].strings[j], rec) == 0;
	ck_assert_int_eq(found, 1);
	ck_assert_uint_eq(p->npolicies, 2);
	ms_tlsrpt_parsed_free(p);
	ms_tlsrpt_report_free(rep);
	ms_tlsrpt_store_free(st);
	free(rec);
}
END_TEST

START_TEST(store_schema_checked)
{
	char path[400], why[256] = "";
	snprintf(path, sizeof(path), "%s/notastore.db", tmpdir);
	FILE *f = fopen(path, "w");
	fputs("this is not SQLite", f);
	fclose(f);
	struct ms_tlsrpt_store *s = NULL;
	ck_assert_int_eq(ms_tlsrpt_store_open_sqlite(NULL, path, &s, why, sizeof(why)), MS_ERR_IO);
	ck_assert_ptr_null(s);
	struct ms_tlsrpt_store_ops bad = { .version = 99 };
	ck_assert_int_eq(ms_tlsrpt_store_new(NULL, &bad, NULL, &s, why, sizeof(why)), MS_ERR_INVALID);
}
END_TEST

/* Sort an array of objects by one string member (the report's order is
 * its own; the RFC's example is in another). */
static json_t *sorted(json_t *a, const char *key)
{
	json_t *out = json_array();
	json_t *copy = json_deep_copy(a);
	while (json_array_size(copy) > 0) {
		size_t best = 0;
		for (size_t i = 1; i < json_array_size(copy); i++)
			if (strcmp(json_string_value(json_object_get(json_array_get(copy, i), key)),
				   json_string_value(json_object_get(json_array_get(copy, best), key))) < 0)
				best = i;
		json_array_append(out, json_array_get(copy, best));
		json_array_remove(copy, best);
	}
	json_decref(copy);
	return out;
}

static void put_row(struct ms_tlsrpt_store *st, const char *host, const char *addr,
		    enum ms_tlsrpt_result res, const char *reason, uint64_t n)
{
	char why[200] = "";
	struct ms_tlsrpt_row row = { .day = "2016-04-01", .policy_domain = "company-y.example",
				     .policy_type = MS_TLSRPT_POLICY_STS,
				     .policy_strings = "version: STSv1\nmode: testing\n"
						       "mx: *.mail.company-y.example\nmax_age: 86400",
				     .mx_patterns = "*.mail.company-y.example",
				     .mx_host = host, .addr = addr, .result = res, .reason = reason,
				     .count = n };
	ck_assert_msg(ms_tlsrpt_store_put(st, &row, why, sizeof(why)) == MS_OK, "%s", why);
}

START_TEST(report_matches_rfc_example)
{
	struct ms_tlsrpt_store *st = open_store("rfc.db");
	put_row(st, "mx1.mail.company-y.example", "", MS_TLSRPT_SUCCESS, "", 5000);
	put_row(st, "mx2.mail.company-y.example", "203.0.113.56", MS_TLSRPT_SUCCESS, "", 326);
	put_row(st, "mx1.mail.company-y.example", "", MS_TLSRPT_CERTIFICATE_EXPIRED, "", 100);
	put_row(st, "mx2.mail.company-y.example", "203.0.113.56", MS_TLSRPT_STARTTLS_NOT_SUPPORTED,
		"", 200);
	put_row(st, "mx-backup.mail.company-y.example", "203.0.113.58", MS_TLSRPT_VALIDATION_FAILURE,
		"X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED", 3);
	struct ms_tlsrpt_report_opts o = { .version = MS_TLSRPT_REPORT_OPTS_VERSION,
					   .org_name = "Company-X",
					   .contact = "sts-reporting@company-x.example",
					   .submitter = "mail.company-x.example", .day = "2016-04-01",
					   .policy_domain = "Company-Y.example" };
	struct ms_tlsrpt_report *rep = NULL;
	char why[256] = "";
	ck_assert_msg(ms_tlsrpt_report_build(NULL, st, &o, &rep, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_uint_eq(rep->sessions, 5629);
	ck_assert_str_eq(rep->filename, "mail.company-x.example!company-y.example!1459468800!1459555199.json.gz");
	ck_assert_str_eq(rep->report_id, "20160401.company-y.example@mail.company-x.example");

	json_error_t err;
	json_t *ours = json_loads(rep->json, JSON_REJECT_DUPLICATES, &err);
	ck_assert_msg(ours != NULL, "%s", err.text);
	size_t elen = 0;
	uint8_t *ex = slurp("rfc8460-example.json", &elen);
	json_t *rfc = json_loadb((const char *)ex, elen, 0, &err);
	free(ex);
	ck_assert_ptr_nonnull(rfc);
	/* what the sender cannot know or chose differently: its own IP, the
	 * extra URI, and the id */
	json_t *d;
	size_t i;
	json_array_foreach(json_object_get(json_array_get(json_object_get(rfc, "policies"), 0),
					   "failure-details"), i, d) {
		json_object_del(d, "sending-mta-ip");
		json_object_del(d, "additional-information");
	}
	ck_assert_str_eq(json_string_value(json_object_get(ours, "report-id")), rep->report_id);
	json_object_del(ours, "report-id");
	json_object_del(rfc, "report-id");
	json_t *pol_o = json_array_get(json_object_get(ours, "policies"), 0);
	json_t *pol_r = json_array_get(json_object_get(rfc, "policies"), 0);
	json_object_set_new(pol_o, "failure-details",
			    sorted(json_object_get(pol_o, "failure-details"), "receiving-mx-hostname"));
	json_object_set_new(pol_r, "failure-details",
			    sorted(json_object_get(pol_r, "failure-details"), "receiving-mx-hostname"));
	char *a = json_dumps(ours, JSON_SORT_KEYS), *b = json_dumps(rfc, JSON_SORT_KEYS);
	ck_assert_msg(json_equal(ours, rfc), "ours: %s\nrfc:  %s", a, b);
	free(a);
	free(b);
	json_decref(ours);
	json_decref(rfc);

	/* the gzip is the JSON */
	uint8_t *back = NULL;
	size_t blen = 0;
	ck_assert_int_eq(ms_tlsrpt_gunzip(rep->gz, rep->gz_len, 1 << 20, &back, &blen, why,
					  sizeof(why)), MS_OK);
	ck_assert_uint_eq(blen, rep->json_len);
	ck_assert(memcmp(back, rep->json, blen) == 0);
	ms_tlsrpt_free(back);
	ms_tlsrpt_report_free(rep);

	/* a day without sessions: a report with no policy */
	o.day = "2016-04-02";
	ck_assert_int_eq(ms_tlsrpt_report_build(NULL, st, &o, &rep, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(rep->sessions, 0);
	ck_assert(strstr(rep->json, "\"policies\":[]") != NULL);
	ms_tlsrpt_report_free(rep);
	o.day = "2016-02-30";
	ck_assert_int_eq(ms_tlsrpt_report_build(NULL, st, &o, &rep, why, sizeof(why)), MS_ERR_INVALID);
	o.day = "2016-04-01";
	o.contact = NULL;
	ck_assert_int_eq(ms_tlsrpt_report_build(NULL, st, &o, &rep, why, sizeof(why)), MS_ERR_INVALID);
	ms_tlsrpt_store_free(st);
}
END_TEST

START_TEST(parse_rfc_example)
{
	size_t len = 0;
	uint8_t *buf = slurp("rfc8460-example.json", &len);
	struct ms_tlsrpt_parsed *p = NULL;
	char why[256] = "";
	ck_assert_msg(ms_tlsrpt_parse(NULL, buf, len, &p, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_str_eq(p->org_name, "Company-X");
	ck_assert_str_eq(p->report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	ck_assert_int_eq(p->start_time, 1459468800);
	ck_assert_int_eq(p->end_time, 1459555199);
	ck_assert_uint_eq(p->npolicies, 1);
	const struct ms_tlsrpt_policy *x = &p->policies[0];
	ck_assert_int_eq(x->type, MS_TLSRPT_POLICY_STS);
	ck_assert_str_eq(x->domain, "company-y.example");
	ck_assert_uint_eq(x->nstrings, 4);
	ck_assert_str_eq(x->strings[1], "mode: testing");
	ck_assert_uint_eq(x->nmx, 1);
	ck_assert_uint_eq(x->success, 5326);
	ck_assert_uint_eq(x->failure, 303);
	ck_assert_uint_eq(x->ndetails, 3);
	ck_assert_int_eq(x->details[1].result, MS_TLSRPT_STARTTLS_NOT_SUPPORTED);
	ck_assert_str_eq(x->details[1].receiving_ip, "203.0.113.56");
	ck_assert_uint_eq(x->details[1].count, 200);
	ck_assert_str_eq(x->details[2].reason, "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
	char *v = NULL;
	ck_assert_int_eq(ms_tlsrpt_parsed_view(p, 1, &v), MS_OK);
	ck_assert(strstr(v, "\"successful\": 5326") != NULL);
	ms_tlsrpt_free(v);
	ck_assert_int_eq(ms_tlsrpt_parsed_view(p, 0, &v), MS_OK);
	ck_assert(strstr(v, "starttls-not-supported") != NULL);
	ms_tlsrpt_free(v);
	ms_tlsrpt_parsed_free(p);

	/* the same as gzip */
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	ck_assert_int_eq(ms_tlsrpt_gzip(buf, len, &gz, &gzlen, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_tlsrpt_parse(NULL, gz, gzlen, &p, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(p->policies[0].failure, 303);
	ms_tlsrpt_parsed_free(p);
	ms_tlsrpt_free(gz);
	free(buf);
}
END_TEST

static ms_status parse_str(const char *s, char *why, size_t wl)
{
	struct ms_tlsrpt_parsed *p = NULL;
	ms_status st = ms_tlsrpt_parse(NULL, (const uint8_t *)s, strlen(s), &p, why, wl);
	ms_tlsrpt_parsed_free(p);
	return st;
}

#define HEAD "{\"organization-name\":\"o\",\"contact-info\":\"c\",\"report-id\":\"r\"," \
	     "\"date-range\":{\"start-datetime\":\"2026-01-01T00:00:00Z\"," \
	     "\"end-datetime\":\"2026-01-01T23:59:59Z\"},"

START_TEST(parse_errors)
{
	char why[256];
	ck_assert_int_eq(parse_str(HEAD "\"policies\":[]}", why, sizeof(why)), MS_OK);
	ck_assert_int_eq(parse_str(HEAD "\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
					"\"policy-domain\":\"d\"}}]}", why, sizeof(why)), MS_ERR_PARSE);
	ck_assert_msg(strstr(why, "summary") != NULL, "%s", why);
	ck_assert_int_eq(parse_str(HEAD "\"policies\":[{\"policy\":{\"policy-type\":\"dane\","
					"\"policy-domain\":\"d\"},\"summary\":{}}]}", why, sizeof(why)),
			 MS_ERR_PARSE);
	ck_assert_msg(strstr(why, "policy-type") != NULL, "%s", why);
	ck_assert_int_eq(parse_str(HEAD "\"policies\":[{\"policy\":{\"policy-type\":\"tlsa\","
					"\"policy-domain\":\"d\"},\"summary\":{"
					"\"total-successful-session-count\":-1,"
					"\"total-failure-session-count\":0}}]}", why, sizeof(why)),
			 MS_ERR_PARSE);
	ck_assert_msg(strstr(why, "total-successful-session-count") != NULL, "%s", why);
	/* duplicate keys are refused (which one would count?) */
	ck_assert_int_eq(parse_str(HEAD "\"report-id\":\"x\",\"policies\":[]}", why, sizeof(why)),
			 MS_ERR_PARSE);
	ck_assert_int_eq(parse_str("{\"organization-name\":\"o\"}", why, sizeof(why)), MS_ERR_PARSE);
	ck_assert_int_eq(parse_str("{not json", why, sizeof(why)), MS_ERR_PARSE);
	ck_assert_int_eq(parse_str("Subject: x\r\n\r\nbody", why, sizeof(why)), MS_ERR_PARSE);
	/* date-range must be RFC 3339 and in order */
	ck_assert_int_eq(parse_str("{\"organization-name\":\"o\",\"contact-info\":\"c\",\"report-id\":\"r\","
				   "\"date-range\":{\"start-datetime\":\"yesterday\","
				   "\"end-datetime\":\"2026-01-01T23:59:59Z\"},\"policies\":[]}",
				   why, sizeof(why)), MS_ERR_PARSE);
	/* bounds: more policies than MS_TLSRPT_MAX_POLICIES */
	struct ms_buf_like {
		char *p;
		size_t n;
	} b = { malloc(1 << 20), 0 };
	b.n += (size_t)sprintf(b.p, HEAD "\"policies\":[");
	for (int i = 0; i <= MS_TLSRPT_MAX_POLICIES; i++)
		b.n += (size_t)sprintf(b.p + b.n, "%s{}", i ? "," : "");
	sprintf(b.p + b.n, "]}");
	ck_assert_int_eq(parse_str(b.p, why, sizeof(why)), MS_ERR_LIMIT);
	free(b.p);
	/* the input bound */
	size_t big = MS_TLSRPT_MAX_MAIL + 1;
	uint8_t *huge = calloc(1, big);
	struct ms_tlsrpt_parsed *p = NULL;
	ck_assert_int_eq(ms_tlsrpt_parse(NULL, huge, big, &p, why, sizeof(why)), MS_ERR_LIMIT);
	free(huge);
	/* a gzip bomb stops at MS_TLSRPT_MAX_REPORT */
	size_t bomb = MS_TLSRPT_MAX_REPORT + 4096;
	uint8_t *zeros = calloc(1, bomb), *gz = NULL;
	size_t gzlen = 0;
	zeros[0] = '{';
	ck_assert_int_eq(ms_tlsrpt_gzip(zeros, bomb, &gz, &gzlen, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_tlsrpt_parse(NULL, gz, gzlen, &p, why, sizeof(why)), MS_ERR_LIMIT);
	free(zeros);
	ms_tlsrpt_free(gz);
}
END_TEST

START_TEST(mail_round_trip)
{
	struct ms_tlsrpt_store *st = open_store("mail.db");
	put_row(st, "mx1.mail.company-y.example", "192.0.2.1", MS_TLSRPT_CERTIFICATE_EXPIRED,
		"certificate expired", 7);
	struct ms_tlsrpt_report_opts o = { .version = MS_TLSRPT_REPORT_OPTS_VERSION,
					   .org_name = "Org", .contact = "mailto:r@x.example",
					   .submitter = "mail.x.example", .day = "2016-04-01",
					   .policy_domain = "company-y.example" };
	struct ms_tlsrpt_report *rep = NULL;
	char why[256] = "", *mail = NULL;
	size_t mlen = 0;
	ck_assert_int_eq(ms_tlsrpt_report_build(NULL, st, &o, &rep, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_tlsrpt_mail_format(rep, "tlsrpt@x.example", "rua@company-y.example",
					       1459555300, &mail, &mlen, why, sizeof(why)), MS_OK);
	/* RFC 8460 s5.3 */
	ck_assert(strstr(mail, "\r\nTLS-Required: No\r\n") != NULL);
	ck_assert(strstr(mail, "Content-Type: multipart/report; report-type=\"tlsrpt\";") != NULL);
	ck_assert(strstr(mail, "\r\nTLS-Report-Domain: company-y.example\r\n") != NULL);
	ck_assert(strstr(mail, "\r\nTLS-Report-Submitter: mail.x.example\r\n") != NULL);
	ck_assert(strstr(mail, "Subject: Report Domain: company-y.example Submitter: mail.x.example "
			       "Report-ID: <20160401.company-y.example@mail.x.example>\r\n") != NULL);
	ck_assert(strstr(mail, "Content-Type: application/tlsrpt+gzip\r\n") != NULL);
	ck_assert(strstr(mail, "filename=\"mail.x.example!company-y.example!1459468800!1459555199.json.gz\"") != NULL);
	/* every line ends in CRLF and is at most 998 bytes (RFC 5322 s2.1.1) */
	for (char *l = mail; *l;) {
		char *e = strstr(l, "\r\n");
		ck_assert_ptr_nonnull(e);
		ck_assert_int_le(e - l, 998);
		l = e + 2;
	}
	struct ms_tlsrpt_parsed *p = NULL;
	ck_assert_msg(ms_tlsrpt_parse(NULL, (uint8_t *)mail, mlen, &p, why, sizeof(why)) == MS_OK,
		      "%s", why);
	ck_assert_str_eq(p->report_id, rep->report_id);
	ck_assert_uint_eq(p->policies[0].failure, 7);
	ck_assert_str_eq(p->policies[0].details[0].reason, "certificate expired");
	ms_tlsrpt_parsed_free(p);
	/* a header field cannot be injected through the addresses */
	ms_tlsrpt_free(mail);
	ck_assert_int_eq(ms_tlsrpt_mail_format(rep, "a@x.example\r\nBcc: e@vil", "r@y.example", 1,
					       &mail, &mlen, why, sizeof(why)), MS_ERR_INVALID);
	ms_tlsrpt_report_free(rep);
	ms_tlsrpt_store_free(st);
}
END_TEST

static ms_status rec(const char *s, struct ms_tlsrpt_rua *r)
{
	char why[200];
	return ms_tlsrpt_record_parse((const uint8_t *)s, strlen(s), r, why, sizeof(why));
}

START_TEST(record_rules)
{
	struct ms_tlsrpt_rua r;
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=mailto:reports@example.com", &r), MS_OK);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.uri[0], "mailto:reports@example.com");
	ck_assert_int_eq(rec("v=TLSRPTv1;rua=mailto:a@example.com, https://reporting.example.com/v1/tlsrpt ;x=y;", &r), MS_OK);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(r.uri[1], "https://reporting.example.com/v1/tlsrpt");
	/* unknown schemes and malformed URIs are never destinations */
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=http://plain.example.com/,ftp://x,mailto:b@example.com", &r), MS_OK);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.uri[0], "mailto:b@example.com");
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=http://plain.example.com/", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=mailto:a@b@example.com", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=https://user@host.example/", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=mailto:x@example.com?subject=hi", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv1", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv1; x=y", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv2; rua=mailto:a@example.com", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=tlsrptv1; rua=mailto:a@example.com", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("rua=mailto:a@example.com; v=TLSRPTv1", &r), MS_ERR_PARSE);
	ck_assert_int_eq(rec("v=TLSRPTv1; rua=mailto:a@x.example; rua=mailto:b@x.example", &r),
			 MS_ERR_PARSE);
}
END_TEST

START_TEST(discovery_fail_closed)
{
	struct ms_dns_ctx *dns = mstest_world_resolver(NULL, mstest_scale_ms(1500), 0);
	struct ms_tlsrpt_rua r;
	char why[300] = "";
	ck_assert_msg(ms_tlsrpt_discover(dns, "good.test", &r, why, sizeof(why)) == MS_OK, "%s", why);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(r.uri[0], "mailto:tlsrpt@good.test");
	ck_assert_str_eq(r.uri[1], "https://mta-sts.good.test/tlsrpt");
	ck_assert_int_eq(r.security, MS_DNS_SECURE);
	/* a domain without a record: no destination, and no error */
	ck_assert_int_eq(ms_tlsrpt_discover(dns, "nostarttls.test", &r, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_msg(strstr(why, "nxdomain") || strstr(why, "nodata"), "%s", why);
	/* a lookup that times out is an error, never "no rua" */
	ms_status st = ms_tlsrpt_discover(dns, "slow.example.test", &r, why, sizeof(why));
	ck_assert_msg(st == MS_ERR_TIMEOUT || st == MS_ERR_NETWORK, "%d %s", st, why);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_int_eq(ms_tlsrpt_discover(dns, "bad name!", &r, why, sizeof(why)), MS_ERR_INVALID);
	ms_dns_ctx_free(dns);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tlsrpt-unit");
	TCase *tc = tcase_create("tlsrpt");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, result_names);
	tcase_add_test(tc, filename_rules);
	tcase_add_test(tc, gzip_round_trip);
	tcase_add_test(tc, recorder_batches);
	tcase_add_test(tc, long_policy_strings);
	tcase_add_test(tc, store_schema_checked);
	tcase_add_test(tc, report_matches_rfc_example);
	tcase_add_test(tc, parse_rfc_example);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, mail_round_trip);
	tcase_add_test(tc, record_rules);
	tcase_add_test(tc, discovery_fail_closed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
