/*
 * libspfdkim under 8 threads.
 * DKIM: one verifier shared (dkim.h: its key cache is locked once the
 * policy is set), messages signed once up front with an RSA and an Ed25519
 * key generated here with OpenSSL, key records served by an injected
 * resolver.  Every verification of a signed copy passes, of a tampered
 * copy fails; one thread flushes the key cache now and then so lookups and
 * cache fills race with the flush.  Two more copies carry q=dns/txt
 * (inserted after signing, so the header hash no longer matches: "fail"
 * with that exact reason, where a q= parse gone wrong in one thread would
 * be a permerror): the q= parser runs in every thread at once.
 * SPF: struct ms_spf is single-threaded by contract, so each thread has
 * its own evaluator, all over ONE shared resolver context.
 * The inbound call (auth.h): every thread runs verdicts over ONE shared
 * context, synchronously and through the async shape (several at once,
 * some freed while pending): answers are delivered by whichever thread
 * calls ms_dns_process, so they land in other threads' handles.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sched.h>
#include <stdlib.h>

#include "conc.h"
#include <mailsec/auth.h>
#include <mailsec/dkim.h>
#include <mailsec/spf.h>

#define DKIM_OPS 200
#define SPF_OPS 300
#define NMSG 6

static const char body_msg[] =
	"From: Alice <alice@example.test>\r\n"
	"To: bob@example.net\r\n"
	"Subject: concurrency\r\n"
	"Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
	"Message-ID: <conc@example.test>\r\n"
	"\r\n"
	"Eight threads, one verifier.\r\n"
	"Every result is checked.\r\n";

/* A private key generated with OpenSSL, as PEM, loaded into libspfdkim. */
static struct ms_dkim_key *gen_key(int ed25519)
{
	EVP_PKEY *pk = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			       : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ck_assert_ptr_nonnull(pk);
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	char *pem = NULL;
	long len = BIO_get_mem_data(b, &pem);
	ck_assert_int_gt(len, 0);
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	ck_assert_msg(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, (size_t)len, &k, why,
					   sizeof(why)) == MS_OK, "load: %s", why);
	BIO_free(b);
	EVP_PKEY_free(pk);
	return k;
}

/* The message with one signature by `k` under selector `sel`. */
static char *sign(const struct ms_dkim_key *k, const char *sel)
{
	struct ms_dkim_signer *s = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &s), MS_OK);
	struct ms_dkim_sign_opts o = {
		.version = MS_DKIM_SIGN_OPTS_VERSION, .key = k, .domain = "example.test",
		.selector = sel, .header_canon = MS_DKIM_CANON_RELAXED,
		.body_canon = MS_DKIM_CANON_RELAXED,
	};
	ck_assert_msg(ms_dkim_signer_add(s, &o, why, sizeof(why)) == MS_OK, "add: %s", why);
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)body_msg, strlen(body_msg),
					     why, sizeof(why)), MS_OK);
	ck_assert_msg(ms_dkim_signer_finish(s, why, sizeof(why)) == MS_OK, "finish: %s", why);
	const char *h = ms_dkim_signer_headers(s);
	ck_assert_ptr_nonnull(h);
	size_t hl = strlen(h), bl = strlen(body_msg);
	char *m = malloc(hl + bl + 1);
	ck_assert_ptr_nonnull(m);
	memcpy(m, h, hl);
	memcpy(m + hl, body_msg, bl + 1);
	ms_dkim_signer_free(s);
	return m;
}

/* ---- DKIM ------------------------------------------------------------------ */

struct dkim_shared {
	struct ms_dkim_verifier *v;
	/* rsa, ed25519, tampered rsa, tampered ed25519, the two with q=dns/txt */
	const char *msg[NMSG];
	enum ms_dkim_algorithm alg[NMSG];
};

static void *dkim_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct dkim_shared *s = t->shared;
	conc_wait_start(t);
	for (unsigned i = 0; i < DKIM_OPS; i++) {
		unsigned m = (i + (unsigned)t->id) % NMSG;
		if (t->id == 0 && i % 25 == 24)
			ms_dkim_verifier_flush_cache(s->v);
		struct ms_dkim_verify *vf = NULL;
		char why[256] = "";
		ms_status st = ms_dkim_verify_new(s->v, &vf);
		CONC_CHECK(t, st == MS_OK, "verify_new: %d", st);
		if (st != MS_OK)
			continue;
		/* feed in two chunks split at a thread-dependent place */
		size_t len = strlen(s->msg[m]), cut = (i * 7 + (unsigned)t->id) % len;
		st = ms_dkim_verify_feed(vf, (const uint8_t *)s->msg[m], cut, why, sizeof(why));
		if (st == MS_OK)
			st = ms_dkim_verify_feed(vf, (const uint8_t *)s->msg[m] + cut, len - cut,
						 why, sizeof(why));
		if (st == MS_OK)
			st = ms_dkim_verify_finish(vf, why, sizeof(why));
		CONC_CHECK(t, st == MS_OK, "op %u msg %u: %d %s", i, m, st, why);
		if (st == MS_OK) {
			CONC_CHECK(t, ms_dkim_verify_count(vf) == 1, "op %u msg %u: %zu signatures",
				   i, m, ms_dkim_verify_count(vf));
			const struct ms_dkim_sig *sig = ms_dkim_verify_sig(vf, 0);
			enum ms_dkim_result want = m < 2 ? MS_DKIM_PASS : MS_DKIM_FAIL;
			CONC_CHECK(t, sig != NULL && ms_dkim_sig_result(sig) == want,
				   "op %u msg %u: %s (%s), want %s", i, m,
				   sig ? ms_dkim_result_str(ms_dkim_sig_result(sig)) : "-",
				   sig ? ms_dkim_sig_reason(sig) : "-", ms_dkim_result_str(want));
			CONC_CHECK(t, sig == NULL || m < 4 ||
				   strcmp(ms_dkim_sig_reason(sig), "signature did not verify") == 0,
				   "op %u msg %u: reason %s", i, m, sig ? ms_dkim_sig_reason(sig) : "-");
			CONC_CHECK(t, sig != NULL && ms_dkim_sig_algorithm(sig) == s->alg[m] &&
				   ms_dkim_sig_key_bits(sig) == (s->alg[m] == MS_DKIM_RSA_SHA256 ? 2048u : 256u),
				   "op %u msg %u: algorithm or key size", i, m);
			CONC_CHECK(t, sig != NULL && ms_dkim_sig_domain(sig) != NULL &&
				   strcmp(ms_dkim_sig_domain(sig), "example.test") == 0,
				   "op %u msg %u: d=", i, m);
		}
		ms_dkim_verify_free(vf);
		t->ops++;
	}
	return NULL;
}

/* Flip one body character: the body hash no longer matches. */
static char *tamper(const char *m)
{
	char *c = strdup(m);
	ck_assert_ptr_nonnull(c);
	char *p = strstr(c, "Eight");
	ck_assert_ptr_nonnull(p);
	p[0] = 'N';
	return c;
}

/* The signed message with "q=dns/txt; " added to its signature. */
static char *with_q(const char *m)
{
	const char *at = strstr(m, "v=1; ");
	ck_assert_ptr_nonnull(at);
	size_t pre = (size_t)(at - m) + 5, len = strlen(m);
	static const char q[] = "q=dns/txt; ";
	char *c = malloc(len + sizeof(q));
	ck_assert_ptr_nonnull(c);
	memcpy(c, m, pre);
	memcpy(c + pre, q, sizeof(q) - 1);
	memcpy(c + pre + sizeof(q) - 1, m + pre, len - pre + 1);
	return c;
}

START_TEST(dkim_shared_verifier)
{
	struct ms_dkim_key *rsa = gen_key(0), *ed = gen_key(1);
	ck_assert_int_eq(ms_dkim_key_algorithm(rsa), MS_DKIM_RSA_SHA256);
	ck_assert_int_eq(ms_dkim_key_algorithm(ed), MS_DKIM_ED25519_SHA256);
	char *rec_rsa = NULL, *rec_ed = NULL;
	ck_assert_int_eq(ms_dkim_key_txt_record(rsa, &rec_rsa), MS_OK);
	ck_assert_int_eq(ms_dkim_key_txt_record(ed, &rec_ed), MS_OK);
	struct conc_rr rrs[] = {
		{"rsa._domainkey.example.test", MS_DNS_T_TXT, rec_rsa},
		{"ed._domainkey.example.test", MS_DNS_T_TXT, rec_ed},
	};
	struct conc_zone zone = {rrs, 2, MS_DNS_INSECURE, 0};
	struct ms_dns_ctx *dns = conc_zone_ctx(&zone);

	struct dkim_shared s;
	memset(&s, 0, sizeof(s));
	char *m_rsa = sign(rsa, "rsa"), *m_ed = sign(ed, "ed");
	char *t_rsa = tamper(m_rsa), *t_ed = tamper(m_ed);
	char *q_rsa = with_q(m_rsa), *q_ed = with_q(m_ed);
	s.msg[0] = m_rsa, s.msg[1] = m_ed, s.msg[2] = t_rsa, s.msg[3] = t_ed;
	s.msg[4] = q_rsa, s.msg[5] = q_ed;
	s.alg[0] = s.alg[2] = s.alg[4] = MS_DKIM_RSA_SHA256;
	s.alg[1] = s.alg[3] = s.alg[5] = MS_DKIM_ED25519_SHA256;
	ck_assert_int_eq(ms_dkim_verifier_new(NULL, dns, &s.v), MS_OK);

	conc_run(dkim_worker, &s, DKIM_OPS);
	/* the cache did its job: far fewer lookups than verifications */
	ck_assert_uint_ge(atomic_load(&zone.queries), 2);
	ck_assert_uint_lt(atomic_load(&zone.queries), CONC_THREADS * DKIM_OPS);

	ms_dkim_verifier_free(s.v);
	ms_dns_ctx_free(dns);
	free(m_rsa), free(m_ed), free(t_rsa), free(t_ed), free(q_rsa), free(q_ed);
	ms_dkim_string_free(rec_rsa);
	ms_dkim_string_free(rec_ed);
	ms_dkim_key_free(rsa);
	ms_dkim_key_free(ed);
}
END_TEST

/* ---- SPF ------------------------------------------------------------------- */

static const struct conc_rr spf_rrs[] = {
	{"example.test", MS_DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 a:mx.example.test mx -all"},
	{"example.test", MS_DNS_T_MX, "10 mx2.example.test"},
	{"mx.example.test", MS_DNS_T_A, "198.51.100.7"},
	{"mx2.example.test", MS_DNS_T_A, "198.51.100.8"},
	{"mx2.example.test", MS_DNS_T_AAAA, "2001:db8::8"},
	{"inc.test", MS_DNS_T_TXT, "v=spf1 include:example.test ~all"},
	{"neutral.test", MS_DNS_T_TXT, "v=spf1 ?all"},
	{"broken.test", MS_DNS_T_TXT, "v=spf1 ip4:300.1.1.1 -all"},
};

struct spf_case {
	const char *ip, *sender;
	enum ms_spf_result want;
};

static const struct spf_case spf_cases[] = {
	{"192.0.2.5", "a@example.test", MS_SPF_PASS},
	{"198.51.100.7", "a@example.test", MS_SPF_PASS},
	{"198.51.100.8", "a@example.test", MS_SPF_PASS},
	{"2001:db8::8", "a@example.test", MS_SPF_PASS},
	{"203.0.113.1", "a@example.test", MS_SPF_FAIL},
	{"192.0.2.200", "b@inc.test", MS_SPF_PASS},
	{"203.0.113.1", "b@inc.test", MS_SPF_SOFTFAIL},
	{"203.0.113.1", "c@neutral.test", MS_SPF_NEUTRAL},
	{"203.0.113.1", "d@none.test", MS_SPF_NONE},
	{"203.0.113.1", "e@broken.test", MS_SPF_PERMERROR},
};
#define NCASES (sizeof(spf_cases) / sizeof(spf_cases[0]))

static void *spf_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct ms_dns_ctx *dns = t->shared;
	struct ms_spf *spf = NULL;
	ms_status st = ms_spf_new(NULL, dns, &spf);
	CONC_CHECK(t, st == MS_OK, "ms_spf_new: %d", st);
	if (st != MS_OK)
		return NULL;
	/* half the evaluators cache answers: verdicts must not change */
	if (t->id % 2)
		CONC_CHECK(t, ms_spf_set_cache(spf, 64) == MS_OK, "set_cache");
	conc_wait_start(t);
	for (unsigned i = 0; i < SPF_OPS; i++) {
		const struct spf_case *c = &spf_cases[(i + (unsigned)t->id) % NCASES];
		struct ms_spf_verdict *v = NULL;
		char why[256] = "";
		st = ms_spf_check_mailfrom(spf, c->ip, "helo.example.net", c->sender, &v, why,
					   sizeof(why));
		CONC_CHECK(t, st == MS_OK && v != NULL, "op %u %s %s: %d %s", i, c->ip, c->sender,
			   st, why);
		if (st != MS_OK || v == NULL)
			continue;
		CONC_CHECK(t, ms_spf_verdict_result(v) == c->want, "op %u %s %s: %s, want %s (%s)",
			   i, c->ip, c->sender, ms_spf_result_str(ms_spf_verdict_result(v)),
			   ms_spf_result_str(c->want),
			   ms_spf_verdict_problem(v) ? ms_spf_verdict_problem(v) : "");
		ms_spf_verdict_free(v);
		t->ops++;
	}
	ms_spf_free(spf);
	return NULL;
}

START_TEST(spf_shared_resolver)
{
	static struct conc_zone zone = {spf_rrs, sizeof(spf_rrs) / sizeof(spf_rrs[0]),
					MS_DNS_INSECURE, 0};
	struct ms_dns_ctx *dns = conc_zone_ctx(&zone);
	conc_run(spf_worker, dns, SPF_OPS);
	ms_dns_ctx_free(dns);
}
END_TEST

/* ---- the inbound call ------------------------------------------------------ */

#define AUTH_OPS 40
#define AUTH_BATCH 3

static const char *auth_msg;

static void auth_done(void *user, struct ms_auth *a, ms_status st)
{
	(void)a;
	(void)st;
	(*(int *)user)++;
}

static void auth_check(struct conc_thread *t, struct ms_auth *a, unsigned i)
{
	const char *h = ms_auth_header(a);
	CONC_CHECK(t, ms_auth_spf_result(a) == MS_SPF_PASS &&
		   ms_auth_dkim_result(a, 0) == MS_DMARC_DKIM_PASS &&
		   ms_auth_dmarc_result(a) == MS_DMARC_PASS &&
		   ms_auth_iprev_result(a) == MS_IPREV_PASS, "op %u: %s", i, h ? h : "(none)");
}

static struct ms_auth *auth_new(struct conc_thread *t, struct ms_dns_ctx *dns)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = "198.51.100.7",
				  .helo = "mx.example.test", .mail_from = "a@example.test" };
	struct ms_auth *a = NULL;
	char why[256] = "";
	ms_status st = ms_auth_new(NULL, &o, &a, why, sizeof(why));
	if (st == MS_OK)
		st = ms_auth_feed(a, (const uint8_t *)auth_msg, strlen(auth_msg), why, sizeof(why));
	CONC_CHECK(t, st == MS_OK, "auth new/feed: %s", why);
	return a;
}

static void *auth_worker(void *arg)
{
	struct conc_thread *t = arg;
	struct ms_dns_ctx *dns = t->shared;
	conc_wait_start(t);
	for (unsigned i = 0; i < AUTH_OPS; i++) {
		if (i % 2 == 0) {
			struct ms_auth *a = auth_new(t, dns);
			char why[256] = "";
			ms_status st = a ? ms_auth_finish(a, why, sizeof(why)) : MS_ERR_NOMEM;
			CONC_CHECK(t, st == MS_OK, "op %u finish: %s", i, why);
			if (st == MS_OK)
				auth_check(t, a, i);
			ms_auth_free(a);
			t->ops++;
			continue;
		}
		struct ms_auth *a[AUTH_BATCH];
		int done[AUTH_BATCH] = { 0 };
		for (int k = 0; k < AUTH_BATCH; k++) {
			a[k] = auth_new(t, dns);
			if (a[k] && ms_auth_start(a[k], auth_done, &done[k], NULL, 0) != MS_OK)
				CONC_CHECK(t, 0, "op %u start", i);
		}
		/* one of them is cancelled while its lookups are in flight */
		if (i % 4 == 3) {
			ms_auth_free(a[0]);
			a[0] = NULL;
		}
		for (int pending = 1, guard = 0; pending && guard < 100000; guard++) {
			pending = 0;
			for (int k = 0; k < AUTH_BATCH; k++)
				if (a[k] && ms_auth_step(a[k], NULL) == MS_AUTH_PENDING)
					pending = 1;
			if (pending)
				sched_yield();
		}
		for (int k = 0; k < AUTH_BATCH; k++) {
			if (a[k] == NULL)
				continue;
			CONC_CHECK(t, done[k] == 1 && ms_auth_status(a[k], NULL, 0) == MS_OK,
				   "op %u verdict %d: done %d", i, k, done[k]);
			if (done[k] == 1)
				auth_check(t, a[k], i);
			ms_auth_free(a[k]);
		}
		t->ops++;
	}
	return NULL;
}

START_TEST(auth_shared_context)
{
	struct ms_dkim_key *ed = gen_key(1);
	char *rec = NULL;
	ck_assert_int_eq(ms_dkim_key_txt_record(ed, &rec), MS_OK);
	struct conc_rr rrs[] = {
		{"ed._domainkey.example.test", MS_DNS_T_TXT, rec},
		{"example.test", MS_DNS_T_TXT, "v=spf1 include:inc.example.test -all"},
		{"inc.example.test", MS_DNS_T_TXT, "v=spf1 a:mx.example.test -all"},
		{"mx.example.test", MS_DNS_T_A, "198.51.100.7"},
		{"7.100.51.198.in-addr.arpa", MS_DNS_T_PTR, "mx.example.test"},
		{"_dmarc.example.test", MS_DNS_T_TXT, "v=DMARC1; p=reject"},
	};
	struct conc_zone zone = {rrs, sizeof(rrs) / sizeof(rrs[0]), MS_DNS_INSECURE, 0};
	struct ms_dns_ctx *dns = conc_zone_ctx(&zone);
	char *m = sign(ed, "ed");
	auth_msg = m;
	conc_run(auth_worker, dns, AUTH_OPS);
	ck_assert_uint_eq(ms_dns_pending(dns), 0);
	ms_dns_ctx_free(dns);
	free(m);
	ms_dkim_string_free(rec);
	ms_dkim_key_free(ed);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency-spfdkim");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, mstest_scale_ms(300000) / 1000.0);
	tcase_add_test(tc, dkim_shared_verifier);
	tcase_add_test(tc, spf_shared_resolver);
	tcase_add_test(tc, auth_shared_context);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
