/*
 * One struct ms_dane_ctx shared by 8 threads (dane.h: read-only after its
 * setters, each call uses its own OpenSSL objects).  Every thread verifies
 * the demo world's mx1.good.test chain against DANE-EE 3 1 1 (match),
 * an unrelated 3 1 1 (no match), DANE-TA 2 1 1 of the issuer (match at
 * depth 1) and the same anchor under a wrong reference name.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include "conc.h"
#include <mailsec/dane.h>

#define OPS 300

struct dane_shared {
	struct ms_dane_ctx *ctx;
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	size_t nchain;
	uint8_t ee[32], other[32], ta[32];
};

static void hex32(const char *hex, uint8_t out[32])
{
	ck_assert_msg(hex != NULL && strlen(hex) == 64, "bad hex value");
	for (int i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* KEY=value from the world's vars file (a static buffer per key). */
static void world_var(const char *key, char *val, size_t cap)
{
	char path[4096], line[1024];
	mstest_world_path(path, sizeof(path), "vars");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t kl = strlen(key);
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			line[strcspn(line, "\r\n")] = 0;
			snprintf(val, cap, "%s", line + kl + 1);
			found = 1;
			break;
		}
	}
	fclose(f);
	ck_assert_msg(found, "%s not in the world's vars", key);
}

static void load_chain(struct dane_shared *s)
{
	char path[4096];
	mstest_world_path(path, sizeof(path), "pki/demo/mx1.good.test.chain.pem");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	X509 *x;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		ck_assert_uint_lt(s->nchain, MS_DANE_MAX_CHAIN);
		unsigned char *der = NULL;
		int len = i2d_X509(x, &der);
		ck_assert_int_gt(len, 0);
		s->chain[s->nchain].der = der;
		s->chain[s->nchain].len = (size_t)len;
		s->nchain++;
		X509_free(x);
	}
	fclose(f);
	ck_assert_uint_ge(s->nchain, 2); /* leaf and issuer: DANE-TA needs depth 1 */
}

static void *worker(void *arg)
{
	struct conc_thread *t = arg;
	struct dane_shared *s = t->shared;
	const char *good[] = {"good.test", "mx1.good.test"};
	const char *wrong[] = {"other.test"};
	struct ms_dane_tlsa ee = {3, 1, 1, s->ee, 32};
	struct ms_dane_tlsa other = {3, 1, 1, s->other, 32};
	struct ms_dane_tlsa ta = {2, 1, 1, s->ta, 32};
	conc_wait_start(t);
	for (unsigned i = 0; i < OPS; i++) {
		struct ms_dane_input in = {
			.version = MS_DANE_INPUT_VERSION,
			.chain = s->chain, .nchain = s->nchain,
			.authentic = 1, .names = good, .nnames = 2,
		};
		struct ms_dane_tlsa set[2];
		struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
		char why[256] = "";
		int kind = (int)((i + (unsigned)t->id) % 4);
		int want_v, want_m, want_d;
		switch (kind) {
		case 0: /* the EE record second, after a non-matching one */
			set[0] = other, set[1] = ee;
			in.ntlsa = 2, want_v = MS_DANE_VERIFIED, want_m = 1, want_d = 0;
			break;
		case 1:
			set[0] = other;
			in.ntlsa = 1, want_v = MS_DANE_NO_MATCH, want_m = -1, want_d = -1;
			break;
		case 2:
			set[0] = ta;
			in.ntlsa = 1, want_v = MS_DANE_VERIFIED, want_m = 0, want_d = 1;
			break;
		default: /* the anchor matches, the leaf is not for this name:
			  * only a verified result names a match */
			set[0] = ta;
			in.ntlsa = 1, in.names = wrong, in.nnames = 1;
			want_v = MS_DANE_NAME_MISMATCH, want_m = -1, want_d = -1;
			break;
		}
		in.tlsa = set;
		ms_status st = ms_dane_verify(s->ctx, &in, &res, why, sizeof(why));
		CONC_CHECK(t, st == MS_OK, "op %u kind %d: status %d: %s", i, kind, st, why);
		CONC_CHECK(t, (int)res.verdict == want_v, "op %u kind %d: verdict %s, want %s (%s)",
			   i, kind, ms_dane_verdict_str(res.verdict),
			   ms_dane_verdict_str((enum ms_dane_verdict)want_v), res.reason);
		CONC_CHECK(t, res.matched == want_m, "op %u kind %d: matched %d, want %d",
			   i, kind, res.matched, want_m);
		CONC_CHECK(t, res.depth == want_d, "op %u kind %d: depth %d, want %d",
			   i, kind, res.depth, want_d);
		CONC_CHECK(t, res.usable == in.ntlsa, "op %u kind %d: usable %zu", i, kind,
			   res.usable);
		if (kind == 3)
			CONC_CHECK(t, res.tlsrpt == MS_TLSRPT_CERTIFICATE_HOST_MISMATCH &&
				   res.x509_error == X509_V_ERR_HOSTNAME_MISMATCH,
				   "op %u: tlsrpt %s x509 %d", i, ms_tlsrpt_result_name(res.tlsrpt),
				   res.x509_error);
		else if (kind == 1)
			CONC_CHECK(t, res.tlsrpt == MS_TLSRPT_CERTIFICATE_NOT_TRUSTED,
				   "op %u: tlsrpt %s", i, ms_tlsrpt_result_name(res.tlsrpt));
		else
			CONC_CHECK(t, res.tlsrpt == MS_TLSRPT_SUCCESS && res.x509_error == 0,
				   "op %u kind %d: tlsrpt %s x509 %d", i, kind,
				   ms_tlsrpt_result_name(res.tlsrpt), res.x509_error);
		t->ops++;
	}
	return NULL;
}

START_TEST(shared_ctx)
{
	struct dane_shared s;
	memset(&s, 0, sizeof(s));
	char hex[256];
	world_var("DEMO_GOOD_MX1_311", hex, sizeof(hex));
	hex32(hex, s.ee);
	world_var("DEMO_OTHER_311", hex, sizeof(hex));
	hex32(hex, s.other);
	world_var("DEMO_ISSUER_211", hex, sizeof(hex));
	hex32(hex, s.ta);
	load_chain(&s);
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &s.ctx), MS_OK);
	conc_run(worker, &s, OPS);
	ms_dane_ctx_free(s.ctx);
	for (size_t i = 0; i < s.nchain; i++)
		OPENSSL_free((void *)s.chain[i].der);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency-dane");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, mstest_scale_ms(300000) / 1000.0);
	tcase_add_test(tc, shared_ctx);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
