/*
 * test_corpus.c - OpenSSL's DANE corpus (danetest-fixed.in, dane-cross.in)
 * under SMTP rules (RFC 7672).  Each block is run through ms_dane_verify and
 * through OpenSSL's native DANE code fed the SMTP-usable records (the
 * differential oracle), and compared with the corpus expectation mapped to
 * SMTP rules; docs/dane.md explains each mapped case.
 *
 * Corpus block: <ntlsa> <ncerts> <nonamechecks> <X509_V_ERR> <depth>, the
 * records "u s m hex", then the PEM certificates.  Base domain example.com
 * (dane-cross.in: server.example); OpenSSL's driver ranks SHA-256 above
 * SHA-512, and so do we here.
 */
#include "dtest.h"

#include <ctype.h>

#define MAX_CASES 128

struct ccase {
	int line;
	int ntlsa, ncerts, nonamechecks, err, depth;
	struct ms_dane_tlsa t[MS_DANE_MAX_RECORDS];
	uint8_t data[MS_DANE_MAX_RECORDS][2048];
	X509 *certs[MS_DANE_MAX_CHAIN];
};

/* What SMTP rules expect where OpenSSL's corpus expects something else.
 * Keyed by file and case number (1-based, in file order). */
struct smtp_map {
	const char *file;
	int num;
	enum ms_dane_verdict verdict;
	int depth;
	const char *rule;
};

static const struct smtp_map smtp_maps[] = {
#include "corpus_map.inc"
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Next line that is not blank and not a comment; NULL at the end. */
static char *next_line(char **p)
{
	while (**p) {
		char *s = *p;
		char *e = strchr(s, '\n');
		if (e) {
			*e = '\0';
			*p = e + 1;
		} else {
			*p = s + strlen(s);
		}
		while (*s && isspace((unsigned char)*s))
			s++;
		if (*s && *s != '#')
			return s;
	}
	return NULL;
}

static size_t parse_file(const char *name, struct ccase *cases)
{
	char path[4096];
	const char *src = getenv("MS_SOURCE_ROOT");
	ck_assert_ptr_nonnull(src);
	snprintf(path, sizeof(path), "%s/tests/dane/corpus/%s", src, name);
	size_t len;
	char *buf = slurp(path, &len);
	char *p = buf;
	size_t n = 0;
	char *line;
	while ((line = next_line(&p)) != NULL) {
		ck_assert_uint_lt(n, MAX_CASES);
		struct ccase *c = &cases[n];
		memset(c, 0, sizeof(*c));
		ck_assert_msg(sscanf(line, "%d %d %d %d %d", &c->ntlsa, &c->ncerts,
				     &c->nonamechecks, &c->err, &c->depth) == 5,
			      "%s: bad block header '%s'", name, line);
		for (int i = 0; i < c->ntlsa; i++) {
			char *r = next_line(&p);
			ck_assert_ptr_nonnull(r);
			char why[128];
			ck_assert_msg(ms_dane_tlsa_parse_text(r, strlen(r), &c->t[i], c->data[i],
							      sizeof(c->data[i]), why,
							      sizeof(why)) == MS_OK,
				      "%s: %s", name, why);
		}
		for (int i = 0; i < c->ncerts; i++) {
			char *b = strstr(p, "-----BEGIN CERTIFICATE-----");
			ck_assert_ptr_nonnull(b);
			char *e = strstr(b, "-----END CERTIFICATE-----");
			ck_assert_ptr_nonnull(e);
			e += strlen("-----END CERTIFICATE-----");
			BIO *bio = BIO_new_mem_buf(b, (int)(e - b));
			c->certs[i] = PEM_read_bio_X509(bio, NULL, NULL, NULL);
			BIO_free(bio);
			ck_assert_ptr_nonnull(c->certs[i]);
			p = e;
		}
		n++;
	}
	free(buf);
	return n;
}

static const struct smtp_map *find_map(const char *file, int num)
{
	for (size_t i = 0; i < sizeof(smtp_maps) / sizeof(smtp_maps[0]); i++)
		if (strcmp(smtp_maps[i].file, file) == 0 && smtp_maps[i].num == num)
			return &smtp_maps[i];
	return NULL;
}

static int run_file(const char *file, const char *base)
{
	static struct ccase cases[MAX_CASES];
	size_t n = parse_file(file, cases);
	ck_assert_uint_gt(n, 0);
	struct ms_dane_ctx *ctx = NULL;
	ck_assert_int_eq(ms_dane_ctx_new(NULL, &ctx), MS_OK);
	/* As OpenSSL's driver: SHA-256 above SHA-512. */
	ck_assert_int_eq(ms_dane_ctx_set_mtype_rank(ctx, MS_DANE_MT_SHA256, 2), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_mtype_rank(ctx, MS_DANE_MT_SHA512, 1), MS_OK);
	/* The decoded-certificate cache on, shared by the file's cases (they
	 * reuse the same CA certificates): verdicts must not change. */
	ck_assert_int_eq(ms_dane_ctx_set_cert_cache(ctx, 32), MS_OK);
	ck_assert_int_eq(ms_dane_ctx_set_leaf_cache(ctx, 32), MS_OK);
	int64_t now = (int64_t)time(NULL);
	int failures = 0;
	for (size_t k = 0; k < n; k++) {
		struct ccase *c = &cases[k];
		int num = (int)k + 1;
		struct dchain ch = { .n = 0 };
		for (int i = 0; i < c->ncerts; i++)
			dchain_add(&ch, c->certs[i]);
		const char *names[1] = { base };
		struct ms_dane_input in = {
			.version = MS_DANE_INPUT_VERSION,
			.chain = ch.c, .nchain = ch.n,
			.tlsa = c->t, .ntlsa = (size_t)c->ntlsa,
			.authentic = 1,
			.names = names, .nnames = 1,
			.now = now,
		};
		struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
		char why[256] = "";
		ck_assert_int_eq(ms_dane_verify(ctx, &in, &res, why, sizeof(why)), MS_OK);
		/* again, warm: the same result from cached certificates */
		struct ms_dane_result again = { .version = MS_DANE_RESULT_VERSION };
		ck_assert_int_eq(ms_dane_verify(ctx, &in, &again, why, sizeof(why)), MS_OK);
		if (again.verdict != res.verdict || again.depth != res.depth ||
		    again.x509_error != res.x509_error || again.matched != res.matched) {
			fprintf(stderr, "%s case %d: warm %s depth %d, cold %s depth %d\n", file, num,
				ms_dane_verdict_str(again.verdict), again.depth,
				ms_dane_verdict_str(res.verdict), res.depth);
			failures++;
		}

		/* The corpus expectation, as a verdict. */
		enum ms_dane_verdict want = c->err == 0 ? MS_DANE_VERIFIED :
					    c->err == X509_V_ERR_DANE_NO_MATCH ? MS_DANE_NO_MATCH :
					    c->err == X509_V_ERR_HOSTNAME_MISMATCH ? MS_DANE_NAME_MISMATCH :
					    MS_DANE_CHAIN_INVALID;
		int want_depth = c->err == 0 ? c->depth : -1;
		const char *rule = NULL;
		const struct smtp_map *m = find_map(file, num);
		if (m) {
			want = m->verdict;
			want_depth = m->depth;
			rule = m->rule;
		}
		if (res.verdict != want || res.depth != want_depth) {
			fprintf(stderr, "%s case %d: got %s depth %d (%s), want %s depth %d%s%s\n",
				file, num, ms_dane_verdict_str(res.verdict), res.depth, res.reason,
				ms_dane_verdict_str(want), want_depth, rule ? " by " : "",
				rule ? rule : "");
			failures++;
		}

		/* Differential: OpenSSL's native DANE on the SMTP-usable records. */
		struct ms_dane_tlsa usable[MS_DANE_MAX_RECORDS];
		size_t nu = smtp_usable(c->t, (size_t)c->ntlsa, usable);
		if (res.verdict != MS_DANE_ALL_UNUSABLE) {
			struct oracle o = oracle_verify(c->certs, (size_t)c->ncerts, usable, nu,
							names, 1, now, 2, 1);
			int ours_ok = res.verdict == MS_DANE_VERIFIED;
			if (o.ok != ours_ok || (o.ok && o.depth != res.depth)) {
				fprintf(stderr, "%s case %d: differs from OpenSSL: ours %s depth %d, "
					"openssl ok=%d err=%d depth=%d\n", file, num,
					ms_dane_verdict_str(res.verdict), res.depth, o.ok, o.err,
					o.depth);
				failures++;
			}
		}
		dchain_free(&ch);
		for (int i = 0; i < c->ncerts; i++)
			X509_free(c->certs[i]);
	}
	ms_dane_ctx_free(ctx);
	return failures;
}

START_TEST(danetest_fixed)
{
	ck_assert_int_eq(run_file("danetest-fixed.in", "example.com"), 0);
}
END_TEST

START_TEST(dane_cross)
{
	ck_assert_int_eq(run_file("dane-cross.in", "server.example"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dane-corpus");
	TCase *tc = tcase_create("corpus");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, danetest_fixed);
	tcase_add_test(tc, dane_cross);
	suite_add_tcase(s, tc);
	return mstest_run(s);
}
