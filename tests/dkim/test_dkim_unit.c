/*
 * test_dkim_unit.c - DKIM unit tests on an injected resolver: tag lists,
 * canonicalization vectors fed at every split point, sign/verify round
 * trips (RSA, Ed25519, both on one message), tampering, time checks, every
 * key-record rule, DNS failures and DNSSEC status, key cache, limits and
 * key loading.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkim_internal.h"
#include "dkimtest.h"

static struct ms_dkim_key *rsa_key, *ed_key;
static char *rsa_txt, *ed_txt;
static struct fz *zone;
static struct ms_dkim_verifier *ver;
static struct ms_env tenv;

static const char MSG[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner\r\n ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost  the game.\t Are you hungry yet?  \r\n"
	"\r\n"
	"Joe.\r\n"
	"\r\n\r\n";

static void setup(void)
{
	zone = fz_new();
	fz_txt(zone, "rsa._domainkey.football.example.com", rsa_txt, 0);
	fz_txt(zone, "ed._domainkey.football.example.com", ed_txt, 0);
	tenv = test_env_with_clock();
	test_clock = 1700000000;
	ck_assert_int_eq(ms_dkim_verifier_new(&tenv, fz_ctx(zone), &ver), MS_OK);
}

static void teardown(void)
{
	ms_dkim_verifier_free(ver);
	fz_free(zone);
}

static struct ms_dkim_sign_opts opts(const struct ms_dkim_key *k, const char *sel,
				     enum ms_dkim_canon h, enum ms_dkim_canon b)
{
	struct ms_dkim_sign_opts o;
	memset(&o, 0, sizeof(o));
	o.version = MS_DKIM_SIGN_OPTS_VERSION;
	o.key = k;
	o.domain = "football.example.com";
	o.selector = sel;
	o.header_canon = h;
	o.body_canon = b;
	return o;
}

static char *sign1(const char *msg, const struct ms_dkim_sign_opts *o)
{
	const struct ms_dkim_sign_opts *list[1] = { o };
	char *s = test_sign(msg, strlen(msg), list, 1, NULL);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Verify and check signature i's result (and reason substring). */
static void expect(const char *msg, size_t i, enum ms_dkim_result r, const char *reason)
{
	struct ms_dkim_verify *vf = test_verify(ver, msg, strlen(msg), 0);
	ck_assert_ptr_nonnull(vf);
	const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(ms_dkim_sig_result(s) == r, "sig %zu: got %s (%s), want %s", i,
		      ms_dkim_result_str(ms_dkim_sig_result(s)), ms_dkim_sig_reason(s),
		      ms_dkim_result_str(r));
	if (reason)
		ck_assert_msg(strstr(ms_dkim_sig_reason(s), reason) != NULL,
			      "reason \"%s\" lacks \"%s\"", ms_dkim_sig_reason(s), reason);
	ms_dkim_verify_free(vf);
}

/* ---- tag lists ---------------------------------------------------------- */

START_TEST(taglist_ok)
{
	struct dkim_taglist tl;
	const char *s = " v = 1 ;a=rsa-sha256;\r\n\tb= ab\r\n cd ; x=;";
	ck_assert_int_eq(dkim_taglist_parse((const uint8_t *)s, strlen(s), &tl, NULL, 0), MS_OK);
	ck_assert_uint_eq(tl.n, 4);
	const struct dkim_tag *b = dkim_tag_get(&tl, "b");
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->vallen, 7); /* "ab\r\n cd" */
	ck_assert_uint_eq(dkim_tag_get(&tl, "x")->vallen, 0);
	ck_assert_ptr_null(dkim_tag_get(&tl, "z"));
}
END_TEST

START_TEST(taglist_errors)
{
	static const char *bad[] = { "a=1; a=2", "=1", "a 1", "1a=2", "a=b\r\nc", "a=\x01",
				     "a=1;;" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dkim_taglist tl;
		char why[128] = "";
		ck_assert_msg(dkim_taglist_parse((const uint8_t *)bad[i], strlen(bad[i]), &tl,
						 why, sizeof(why)) != MS_OK, "accepted %s", bad[i]);
		ck_assert_msg(why[0] != '\0', "no reason for %s", bad[i]);
	}
}
END_TEST

/* q= is a colon-separated list that must name dns/txt (RFC 6376 s3.5),
 * walked without strtok (the TSan test conc-spfdkim runs it in 8 threads). */
START_TEST(q_list)
{
	static const struct { const char *q; ms_status st; } t[] = {
		{ "dns/txt", MS_OK }, { "DNS/TXT", MS_OK }, { "x-foo:dns/txt", MS_OK },
		{ "dns/txt:x-foo", MS_OK }, { "x-a:dns/txt:x-b", MS_OK },
		{ "http", MS_ERR_UNSUPPORTED }, { "dns/txtx", MS_ERR_UNSUPPORTED },
		{ "dns/tx", MS_ERR_UNSUPPORTED }, { "x:y", MS_ERR_UNSUPPORTED },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char v[256];
		snprintf(v, sizeof(v), "v=1; a=rsa-sha256; d=example.com; s=s; h=from; q=%s; "
			 "bh=%s; b=AAAA", t[i].q,
			 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
		struct dkim_sigparams *p = calloc(1, sizeof(*p));
		char why[128] = "";
		ms_status st = dkim_sig_parse((const uint8_t *)v, strlen(v), p, why, sizeof(why));
		ck_assert_msg(st == t[i].st, "q=%s: %d (%s)", t[i].q, st, why);
		free(p);
	}
}
END_TEST

START_TEST(base64)
{
	uint8_t out[16];
	ck_assert_int_eq(dkim_b64_decode((const uint8_t *)"YW Jj\r\n ZA==", 12, out, 16), 4);
	ck_assert_int_eq(memcmp(out, "abcd", 4), 0);
	ck_assert_int_eq(dkim_b64_decode((const uint8_t *)"YWJjZA=", 7, out, 16), -1);
	ck_assert_int_eq(dkim_b64_decode((const uint8_t *)"YW=Jj", 5, out, 16), -1);
	ck_assert_int_eq(dkim_b64_decode((const uint8_t *)"YW*j", 4, out, 16), -1);
	char enc[16];
	dkim_b64_encode((const uint8_t *)"abcd", 4, enc);
	ck_assert_str_eq(enc, "YWJjZA==");
}
END_TEST

/* ---- canonicalization --------------------------------------------------- */

struct cbuf {
	char d[4096];
	size_t n;
};

static void csink(void *u, const uint8_t *p, size_t n)
{
	struct cbuf *b = u;
	ck_assert_uint_le(b->n + n, sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

struct cvec {
	const char *in, *simple, *relaxed;
};

static const struct cvec body_vectors[] = {
	{ "", "\r\n", "" },
	{ "\r\n", "\r\n", "" },
	{ "\r\n\r\n\r\n", "\r\n", "" },
	{ "abc", "abc\r\n", "abc\r\n" },
	/* RFC 6376 s3.4.5 */
	{ " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
	{ "  \r\n", "  \r\n", "" },
	{ " \t \r\n\t\r\n", " \t \r\n\t\r\n", "" },
	{ "a\r\r\nb\n", "a\r\r\nb\r\n", "a\r\r\nb\r\n" },
	{ "\r\n\r\nx\r\n", "\r\n\r\nx\r\n", "\r\n\r\nx\r\n" },
	{ "a \r\n \r\nb", "a \r\n \r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "x\r", "x\r\r\n", "x\r\r\n" },
	{ "l1\nl2\n\n", "l1\r\nl2\r\n", "l1\r\nl2\r\n" },
	{ "a \r b", "a \r b\r\n", "a \r b\r\n" },
	{ "\xc3\xa9t\xc3\xa9  \xe2\x82\xac\r\n", "\xc3\xa9t\xc3\xa9  \xe2\x82\xac\r\n",
	  "\xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\n" },
	{ "a\r\n\r\n \r\n", "a\r\n\r\n \r\n", "a\r\n" },
};

static void run_body(const char *in, enum ms_dkim_canon c, const char *want)
{
	size_t n = strlen(in);
	/* every split into two chunks, and byte by byte */
	for (size_t split = 0; split <= n + 1; split++) {
		struct dkim_bodycanon bc;
		struct cbuf out = { .n = 0 };
		dkim_bodycanon_init(&bc, c, csink, &out);
		if (split <= n) {
			dkim_bodycanon_update(&bc, (const uint8_t *)in, split);
			dkim_bodycanon_update(&bc, (const uint8_t *)in + split, n - split);
		} else {
			for (size_t i = 0; i < n; i++)
				dkim_bodycanon_update(&bc, (const uint8_t *)in + i, 1);
		}
		dkim_bodycanon_final(&bc);
		ck_assert_msg(out.n == strlen(want) && memcmp(out.d, want, out.n) == 0,
			      "%s canon of \"%s\" (split %zu): got \"%.*s\"",
			      ms_dkim_canon_str(c), in, split, (int)out.n, out.d);
	}
}

/* dkim_pubkey_decode's DER walk for rsaEncryption SPKI (the fast path)
 * against d2i_PUBKEY: the same key for a well-formed record, and exactly
 * d2i_PUBKEY's verdict (through the fallback) for the altered ones. */
static EVP_PKEY *decode_der(const uint8_t *der, size_t n)
{
	static char b64[4096];
	EVP_EncodeBlock((unsigned char *)b64, der, (int)n);
	struct dkim_keyrec kr = { .h_sha1 = 1, .h_sha256 = 1,
				  .p = (const uint8_t *)b64, .plen = strlen(b64) };
	return dkim_pubkey_decode(&kr, NULL, 0);
}

/* d2i_PUBKEY's reading of the bytes (NULL: refused), as before the walk */
static EVP_PKEY *openssl_key(const uint8_t *der, size_t n)
{
	const unsigned char *q = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)n);
	if (pk && (q != der + n || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

START_TEST(rsa_spki_fast_path)
{
	static const int bits[] = { 1024, 2048 }; /* 0x81 and 0x82 length forms */
	for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
		EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits[b]);
		ck_assert_ptr_nonnull(key);
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(key, &der);
		ck_assert_int_gt(n, 0);
		EVP_PKEY *got = decode_der(der, (size_t)n);
		ck_assert_ptr_nonnull(got);
		ck_assert_int_eq(EVP_PKEY_eq(got, key), 1);
		ck_assert_int_eq(EVP_PKEY_get_bits(got), bits[b]);
		EVP_PKEY_free(got);

		uint8_t alt[1200];
		ck_assert_uint_lt((size_t)n + 1, sizeof(alt));
		/* trailing byte; truncated; unused bits in the BIT STRING;
		 * the rsaEncryption OID changed to RSASSA-PSS (1.2.840.113549.1.1.10);
		 * parameters other than NULL */
		struct { size_t len; size_t at; uint8_t val; } mut[] = {
			{ (size_t)n + 1, (size_t)n, 0x00 },
			{ (size_t)n - 1, 0, 0x30 },
			{ (size_t)n, 0, 0 },  /* unused-bits byte, found below */
			{ (size_t)n, 0, 0x0a },
			{ (size_t)n, 0, 0x04 },
		};
		size_t oid_last = 0, unused = 0, null_tag = 0;
		for (int i = 0; i + 1 < n; i++)
			if (der[i] == 0x01 && der[i + 1] == 0x05 && !oid_last)
				oid_last = (size_t)i, null_tag = (size_t)i + 1;
		for (int i = (int)null_tag + 2; i < n; i++)
			if (der[i] == 0x03) {
				unused = (size_t)i + (der[i + 1] == 0x82 ? 4 : der[i + 1] == 0x81 ? 3 : 2);
				break;
			}
		ck_assert(oid_last && unused);
		mut[2].at = unused, mut[2].val = 0x01;
		mut[3].at = oid_last;
		mut[4].at = null_tag;
		for (size_t m = 0; m < sizeof(mut) / sizeof(mut[0]); m++) {
			memcpy(alt, der, (size_t)n);
			alt[(size_t)n] = 0;
			if (mut[m].at || m == 1)
				alt[mut[m].at] = mut[m].val;
			EVP_PKEY *pk = decode_der(alt, mut[m].len);
			EVP_PKEY *want = openssl_key(alt, mut[m].len);
			/* a PKCS#1 reading of the altered bytes is not possible here;
			 * OpenSSL clears the unused bits (the exponent changes) */
			ck_assert_msg((pk != NULL) == (want != NULL),
				      "%d bits, change %zu: ours %d openssl %d", bits[b], m,
				      pk != NULL, want != NULL);
			if (pk)
				ck_assert_int_eq(EVP_PKEY_eq(pk, want), 1);
			EVP_PKEY_free(pk);
			EVP_PKEY_free(want);
		}
		OPENSSL_free(der);
		EVP_PKEY_free(key);
	}
}
END_TEST

START_TEST(body_canon)
{
	for (size_t i = 0; i < sizeof(body_vectors) / sizeof(body_vectors[0]); i++) {
		run_body(body_vectors[i].in, MS_DKIM_CANON_SIMPLE, body_vectors[i].simple);
		run_body(body_vectors[i].in, MS_DKIM_CANON_RELAXED, body_vectors[i].relaxed);
	}
}
END_TEST


/* A plain reference: whole body, line by line, straight from RFC 6376
 * s3.4.3/s3.4.4 (bare LF taken as a line end, as the library documents). */
static size_t ref_canon(const char *in, size_t n, int relaxed, char *out)
{
	static char lines[400][400];
	size_t nl = 0, o = 0;
	size_t i = 0;
	while (i < n) {
		const char *lf = memchr(in + i, '\n', n - i);
		size_t e = lf ? (size_t)(lf - in) : n;
		size_t le = e;
		if (lf && le > i && in[le - 1] == '\r')
			le--;
		char *l = lines[nl++];
		size_t k = 0;
		for (size_t j = i; j < le; j++) {
			char ch = in[j];
			if (relaxed && (ch == ' ' || ch == '\t')) {
				if (k == 0 || l[k - 1] != ' ')
					l[k++] = ' ';
			} else {
				l[k++] = ch;
			}
		}
		if (relaxed)
			while (k && l[k - 1] == ' ')
				k--;
		l[k] = '\0';
		/* remember length in the first byte slot after NUL */
		i = lf ? e + 1 : n;
	}
	while (nl && lines[nl - 1][0] == '\0')
		nl--;
	for (size_t k = 0; k < nl; k++) {
		size_t len = strlen(lines[k]);
		memcpy(out + o, lines[k], len);
		o += len;
		out[o++] = '\r';
		out[o++] = '\n';
	}
	if (nl == 0 && !relaxed) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

START_TEST(body_canon_differential)
{
	/* random bodies over the bytes that matter, random chunking */
	static const char alpha[] = "ab \t\r\n";
	srand(12345);
	static char in[400], want[2000];
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)(rand() % (iter % 2 ? 390 : 60));
		for (size_t i = 0; i < n; i++)
			in[i] = alpha[rand() % 6];
		/* NUL bytes would end the reference's lines early: none used */
		for (int relaxed = 0; relaxed < 2; relaxed++) {
			size_t wl = ref_canon(in, n, relaxed, want);
			struct dkim_bodycanon bc;
			struct cbuf out = { .n = 0 };
			dkim_bodycanon_init(&bc, relaxed ? MS_DKIM_CANON_RELAXED : MS_DKIM_CANON_SIMPLE,
					    csink, &out);
			for (size_t o = 0; o < n;) {
				size_t c = (size_t)(rand() % (iter % 3 ? 200 : 20)) + 1;
				if (c > n - o)
					c = n - o;
				dkim_bodycanon_update(&bc, (const uint8_t *)in + o, c);
				o += c;
			}
			dkim_bodycanon_final(&bc);
			ck_assert_msg(out.n == wl && memcmp(out.d, want, wl) == 0,
				      "iter %d relaxed %d: \"%.*s\" gave \"%.*s\" want \"%.*s\"", iter,
				      relaxed, (int)n, in, (int)out.n, out.d, (int)wl, want);
		}
	}
}
END_TEST

START_TEST(header_canon)
{
	static const struct { const char *in, *relaxed; } v[] = {
		{ "A: X", "a:X\r\n" },                       /* RFC 6376 s3.4.5 */
		{ "B : Y\t\r\n\tZ  ", "b:Y Z\r\n" },
		{ "Subject:", "subject:\r\n" },
		{ "X-Long:  a\r\n   b \r\n\tc", "x-long:a b c\r\n" },
		{ "To:\xc3\xa9\t \xc3\xa9", "to:\xc3\xa9 \xc3\xa9\r\n" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct ms_buf b;
		ms_buf_init(&b, NULL, 4096);
		ck_assert_int_eq(dkim_headercanon(MS_DKIM_CANON_RELAXED, (const uint8_t *)v[i].in,
						  strlen(v[i].in), 1, &b), MS_OK);
		ck_assert_str_eq((const char *)b.data, v[i].relaxed);
		ms_buf_free(&b);
		ms_buf_init(&b, NULL, 4096);
		ck_assert_int_eq(dkim_headercanon(MS_DKIM_CANON_SIMPLE, (const uint8_t *)v[i].in,
						  strlen(v[i].in), 1, &b), MS_OK);
		ck_assert_uint_eq(b.len, strlen(v[i].in) + 2);
		ms_buf_free(&b);
	}
}
END_TEST

START_TEST(message_splitter)
{
	static const char m[] = "A: 1\nB: 2\r\n\tcont\r\nC:3\n\nbody";
	for (size_t chunk = 1; chunk <= sizeof(m); chunk++) {
		struct dkim_msg msg;
		dkim_msg_init(&msg, NULL);
		size_t o = 0, bodystart = 0;
		while (o < sizeof(m) - 1 && !msg.in_body) {
			size_t n = sizeof(m) - 1 - o < chunk ? sizeof(m) - 1 - o : chunk;
			long used = dkim_msg_feed_header(&msg, (const uint8_t *)m + o, n);
			ck_assert_int_ge(used, 0);
			o += (size_t)used;
			bodystart = o;
		}
		ck_assert(msg.in_body);
		ck_assert_str_eq(m + bodystart, "body");
		ck_assert_uint_eq(msg.nfields, 3);
		ck_assert(dkim_field_is(&msg, 1, "b", 1));
		ck_assert_uint_eq(msg.fields[1].len, strlen("B: 2\r\n\tcont"));
		ck_assert_int_eq(memcmp(msg.hdr.data + msg.fields[1].off, "B: 2\r\n\tcont", 11), 0);
		dkim_msg_free(&msg);
	}
}
END_TEST

/* ---- round trips ---------------------------------------------------------- */

START_TEST(roundtrip)
{
	const struct ms_dkim_key *keys[2] = { rsa_key, ed_key };
	const char *sels[2] = { "rsa", "ed" };
	const size_t chunks[] = { 0, 1, 7, 64 };
	for (int k = 0; k < 2; k++)
		for (int h = 0; h < 2; h++)
			for (int b = 0; b < 2; b++) {
				struct ms_dkim_sign_opts o = opts(keys[k], sels[k], h, b);
				char *s = sign1(MSG, &o);
				for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
					struct ms_dkim_verify *vf = test_verify(ver, s, strlen(s), chunks[c]);
					ck_assert_uint_eq(ms_dkim_verify_count(vf), 1);
					const struct ms_dkim_sig *sg = ms_dkim_verify_sig(vf, 0);
					ck_assert_msg(ms_dkim_sig_result(sg) == MS_DKIM_PASS,
						      "key %d c=%d/%d chunk %zu: %s", k, h, b, chunks[c],
						      ms_dkim_sig_reason(sg));
					ck_assert_int_eq(ms_dkim_sig_algorithm(sg),
							 k ? MS_DKIM_ED25519_SHA256 : MS_DKIM_RSA_SHA256);
					ck_assert_str_eq(ms_dkim_sig_domain(sg), "football.example.com");
					ck_assert_str_eq(ms_dkim_sig_selector(sg), sels[k]);
					ck_assert_int_eq(ms_dkim_sig_dnssec(sg), MS_DNS_INSECURE);
					ck_assert_uint_eq(ms_dkim_sig_key_bits(sg), k ? 256 : 2048);
					ms_dkim_verify_free(vf);
				}
				free(s);
			}
}
END_TEST

START_TEST(two_signatures)
{
	struct ms_dkim_sign_opts a = opts(rsa_key, "rsa", 1, 1);
	struct ms_dkim_sign_opts b = opts(ed_key, "ed", 1, 0);
	const struct ms_dkim_sign_opts *list[2] = { &a, &b };
	char *s = test_sign(MSG, strlen(MSG), list, 2, NULL);
	ck_assert_ptr_nonnull(s);
	struct ms_dkim_verify *vf = test_verify(ver, s, strlen(s), 3);
	ck_assert_uint_eq(ms_dkim_verify_count(vf), 2);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_PASS);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 1)), MS_DKIM_PASS);
	ck_assert_int_eq(ms_dkim_sig_algorithm(ms_dkim_verify_sig(vf, 0)), MS_DKIM_RSA_SHA256);
	ck_assert_int_eq(ms_dkim_sig_algorithm(ms_dkim_verify_sig(vf, 1)), MS_DKIM_ED25519_SHA256);
	ms_dkim_verify_free(vf);
	/* Breaking the RSA key record leaves the Ed25519 signature passing. */
	fz_clear(zone);
	fz_txt(zone, "ed._domainkey.football.example.com", ed_txt, 0);
	ms_dkim_verifier_flush_cache(ver);
	expect(s, 0, MS_DKIM_PERMERROR, "no key record");
	expect(s, 1, MS_DKIM_PASS, NULL);
	free(s);
}
END_TEST

START_TEST(unsigned_message)
{
	struct ms_dkim_verify *vf = test_verify(ver, MSG, strlen(MSG), 0);
	ck_assert_uint_eq(ms_dkim_verify_count(vf), 0);
	ck_assert_ptr_null(ms_dkim_verify_sig(vf, 0));
	ms_dkim_verify_free(vf);
	/* header only, no separator */
	vf = test_verify(ver, "From: a@b\r\nSubject: x", 21, 0);
	ck_assert_uint_eq(ms_dkim_verify_count(vf), 0);
	ms_dkim_verify_free(vf);
}
END_TEST

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	ck_assert_ptr_nonnull(p);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *r = malloc(n + 1);
	size_t pre = (size_t)(p - s);
	memcpy(r, s, pre);
	strcpy(r + pre, to);
	strcat(r, p + strlen(from));
	return r;
}

START_TEST(tampering)
{
	struct ms_dkim_sign_opts o = opts(rsa_key, "rsa", 1, 1);
	char *s = sign1(MSG, &o);
	char *t = replace(s, "We lost", "We won");
	expect(t, 0, MS_DKIM_FAIL, "body hash mismatch");
	free(t);
	t = replace(s, "Is dinner", "Is lunch");
	expect(t, 0, MS_DKIM_FAIL, "signature did not verify");
	free(t);
	/* relaxed header canon tolerates re-folding and case of names */
	t = replace(s, "Subject: Is dinner\r\n ready?", "SUBJECT:   Is dinner ready?");
	expect(t, 0, MS_DKIM_PASS, NULL);
	free(t);
	/* an added From: From is oversigned by default, so this breaks */
	t = replace(s, "From: Joe", "From: evil@attacker.example\r\nFrom: Joe");
	expect(t, 0, MS_DKIM_FAIL, "signature did not verify");
	free(t);
	/* an unsigned, unknown field may be added */
	t = replace(s, "From: Joe", "X-Added: yes\r\nFrom: Joe");
	expect(t, 0, MS_DKIM_PASS, NULL);
	free(t);
	/* body: trailing empty lines do not matter, a new line does */
	t = malloc(strlen(s) + 8);
	strcpy(t, s);
	strcat(t, "\r\n\r\n");
	expect(t, 0, MS_DKIM_PASS, NULL);
	strcat(t, "x\r\n");
	expect(t, 0, MS_DKIM_FAIL, "body hash mismatch");
	free(t);
	free(s);

	/* Without oversigning, an added From keeps the signature valid but the
	 * extra From is reported as unsigned. */
	o.oversign = "";
	s = sign1(MSG, &o);
	t = replace(s, "From: Joe", "From: evil@attacker.example\r\nFrom: Joe");
	expect(t, 0, MS_DKIM_POLICY, "2 From fields, only 1 signed");
	free(t);
	free(s);
}
END_TEST

START_TEST(oversigned_h)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", 1, 1);
	char *s = sign1(MSG, &o);
	/* From, Subject and Date are listed once more than they occur */
	char *h = strstr(s, " h=");
	ck_assert_ptr_nonnull(h);
	char hv[1024];
	size_t n = 0;
	for (const char *p = h + 3; *p != ';'; p++)
		if (*p > ' ')
			hv[n++] = *p;
	hv[n] = '\0';
	ck_assert_msg(strstr(hv, "from:from") && strstr(hv, "subject:subject") &&
		      strstr(hv, "date:date") && strstr(hv, "to:to"), "h=%s", hv);
	ck_assert_ptr_null(strstr(hv, "received"));
	free(s);
}
END_TEST

START_TEST(times)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", 1, 1);
	o.expire_after = 3600;
	char *s = sign1(MSG, &o);
	ck_assert_ptr_nonnull(strstr(s, " x=1700003600;"));
	test_clock = 1700001000;
	expect(s, 0, MS_DKIM_PASS, NULL);
	test_clock = 1700003601;
	expect(s, 0, MS_DKIM_PERMERROR, "expired");
	test_clock = 1700000000 - 200; /* within the allowed skew */
	expect(s, 0, MS_DKIM_PASS, NULL);
	test_clock = 1700000000 - 1000;
	expect(s, 0, MS_DKIM_PERMERROR, "in the future");
	ms_dkim_verifier_set_clock_skew(ver, 2000);
	expect(s, 0, MS_DKIM_PASS, NULL);
	free(s);
}
END_TEST

START_TEST(identity)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", 1, 1);
	o.identity = "joe@news.football.example.com";
	char *s = sign1(MSG, &o);
	expect(s, 0, MS_DKIM_PASS, NULL);
	struct ms_dkim_verify *vf = test_verify(ver, s, strlen(s), 0);
	ck_assert_str_eq(ms_dkim_sig_identity(ms_dkim_verify_sig(vf, 0)),
			 "joe@news.football.example.com");
	ms_dkim_verify_free(vf);
	/* t=s: i= must be exactly d= */
	fz_clear(zone);
	char rec[1024];
	snprintf(rec, sizeof(rec), "%s; t=s", ed_txt);
	fz_txt(zone, "ed._domainkey.football.example.com", rec, 0);
	ms_dkim_verifier_flush_cache(ver);
	expect(s, 0, MS_DKIM_PERMERROR, "t=s");
	free(s);
	o.identity = "@football.example.com";
	s = sign1(MSG, &o);
	expect(s, 0, MS_DKIM_PASS, NULL);
	free(s);
	/* the signer refuses an identity outside d= */
	o.identity = "joe@example.org";
	struct ms_dkim_signer *sg;
	char why[128] = "";
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &sg), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_add(sg, &o, why, sizeof(why)), MS_ERR_INVALID);
	ms_dkim_signer_free(sg);
}
END_TEST

/* ---- key records ---------------------------------------------------------- */

static void with_key(const char *rec, size_t split)
{
	fz_clear(zone);
	fz_txt(zone, "rsa._domainkey.football.example.com", rec, split);
	ms_dkim_verifier_flush_cache(ver);
}

START_TEST(key_records)
{
	struct ms_dkim_sign_opts o = opts(rsa_key, "rsa", 1, 1);
	char *s = sign1(MSG, &o);
	const char *p = strstr(rsa_txt, "p=") + 2;
	char rec[2048];

	with_key(rsa_txt, 50); /* several strings, joined */
	expect(s, 0, MS_DKIM_PASS, NULL);
	snprintf(rec, sizeof(rec), "p=%s", p); /* only p= */
	with_key(rec, 0);
	expect(s, 0, MS_DKIM_PASS, NULL);
	snprintf(rec, sizeof(rec), "v=DKIM1; h=sha1:sha256; s=email; n=note; z=1; p=%s", p);
	with_key(rec, 0);
	expect(s, 0, MS_DKIM_PASS, NULL);
	snprintf(rec, sizeof(rec), "v=DKIM1; s=*; p=%s", p);
	with_key(rec, 0);
	expect(s, 0, MS_DKIM_PASS, NULL);

	snprintf(rec, sizeof(rec), "v=DKIM1; t=y; p=%s", p);
	with_key(rec, 0);
	struct ms_dkim_verify *vf = test_verify(ver, s, strlen(s), 0);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_PASS);
	ck_assert_int_eq(ms_dkim_sig_testing(ms_dkim_verify_sig(vf, 0)), 1);
	ms_dkim_verify_free(vf);
	char *t = replace(s, "We lost", "We won");
	expect(t, 0, MS_DKIM_NEUTRAL, "testing");
	free(t);

	static const struct { const char *fmt; const char *reason; } bad[] = {
		{ "v=DKIM1; p=", "revoked" },
		{ "v=DKIM1; h=sha1; p=%s", "h=" },
		{ "v=DKIM1; s=tlsrpt; p=%s", "s=" },
		{ "v=DKIM1; k=ed25519; p=%s", "Ed25519" },
		{ "v=DKIM2; p=%s", "v=" },
		{ "k=rsa; v=DKIM1; p=%s", "v=" },
		{ "v=DKIM1; k=dsa; p=%s", "k=" },
		{ "v=DKIM1; p=%s!!", "base64" },
		{ "v=DKIM1; p=AAAA%s", "RSA" },
		{ "v=DKIM1; k=rsa", "p=" },
		{ "v=DKIM1; k=rsa; k=rsa; p=%s", "duplicate" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(rec, sizeof(rec), bad[i].fmt, p);
#pragma GCC diagnostic pop
		with_key(rec, 0);
		expect(s, 0, MS_DKIM_PERMERROR, bad[i].reason);
	}
	/* The first usable record of several wins. */
	fz_clear(zone);
	fz_txt(zone, "rsa._domainkey.football.example.com", "v=DKIM1; k=rsa", 0);
	fz_txt(zone, "rsa._domainkey.football.example.com", rsa_txt, 0);
	ms_dkim_verifier_flush_cache(ver);
	expect(s, 0, MS_DKIM_PASS, NULL);
	free(s);
}
END_TEST

START_TEST(key_forms)
{
	/* The same RSA key as bare PKCS#1 RSAPublicKey. */
	EVP_PKEY *pk = NULL;
	char *pem = NULL;
	ck_assert_int_eq(ms_dkim_key_private_pem(rsa_key, &pem), MS_OK);
	BIO *b = BIO_new_mem_buf(pem, -1);
	pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	ms_dkim_string_free(pem);
	ck_assert_ptr_nonnull(pk);
	unsigned char *der = NULL;
	int n = i2d_PublicKey(pk, &der); /* PKCS#1 for RSA */
	ck_assert_int_gt(n, 0);
	char b64[2048], rec[2200];
	dkim_b64_encode(der, (size_t)n, b64);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", b64);
	struct ms_dkim_sign_opts o = opts(rsa_key, "rsa", 0, 0);
	char *s = sign1(MSG, &o);
	with_key(rec, 0);
	expect(s, 0, MS_DKIM_PASS, NULL);
	/* a stronger minimum makes the 2048-bit key a policy refusal */
	ms_dkim_verifier_set_min_rsa_bits(ver, 3072);
	expect(s, 0, MS_DKIM_POLICY, "too short");
	free(s);
}
END_TEST

START_TEST(dns_failures)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", 1, 1);
	char *s = sign1(MSG, &o);
	fz_clear(zone);
	fz_outcome(zone, "ed._domainkey.football.example.com", MS_DNS_TIMEOUT,
		   MS_DNS_INDETERMINATE);
	expect(s, 0, MS_DKIM_TEMPERROR, "temporarily");
	fz_clear(zone);
	fz_outcome(zone, "ed._domainkey.football.example.com", MS_DNS_SERVFAIL, MS_DNS_BOGUS);
	struct ms_dkim_verify *vf = test_verify(ver, s, strlen(s), 0);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_TEMPERROR);
	ck_assert_int_eq(ms_dkim_sig_dnssec(ms_dkim_verify_sig(vf, 0)), MS_DNS_BOGUS);
	ms_dkim_verify_free(vf);
	fz_clear(zone);
	fz_outcome(zone, "ed._domainkey.football.example.com", MS_DNS_NODATA, MS_DNS_SECURE);
	vf = test_verify(ver, s, strlen(s), 0);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_PERMERROR);
	ck_assert_int_eq(ms_dkim_sig_dnssec(ms_dkim_verify_sig(vf, 0)), MS_DNS_SECURE);
	ms_dkim_verify_free(vf);
	/* a secure answer is reported as such */
	fz_clear(zone);
	fz_set_security(zone, MS_DNS_SECURE);
	fz_txt(zone, "ed._domainkey.football.example.com", ed_txt, 0);
	vf = test_verify(ver, s, strlen(s), 0);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_PASS);
	ck_assert_int_eq(ms_dkim_sig_dnssec(ms_dkim_verify_sig(vf, 0)), MS_DNS_SECURE);
	ms_dkim_verify_free(vf);
	free(s);
}
END_TEST

START_TEST(key_cache)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", 1, 1);
	char *s = sign1(MSG, &o);
	fz_set_ttl(zone, 600);
	unsigned q0 = fz_queries(zone);
	expect(s, 0, MS_DKIM_PASS, NULL);
	expect(s, 0, MS_DKIM_PASS, NULL);
	ck_assert_uint_eq(fz_queries(zone) - q0, 1);
	test_clock += 601; /* TTL over: looked up again */
	expect(s, 0, MS_DKIM_PASS, NULL);
	ck_assert_uint_eq(fz_queries(zone) - q0, 2);
	free(s);
}
END_TEST

/* ---- malformed signatures --------------------------------------------------- */

static void expect_sig(const char *sigval, enum ms_dkim_result r, const char *reason)
{
	char m[4096];
	snprintf(m, sizeof(m), "DKIM-Signature: %s\r\n%s", sigval, MSG);
	expect(m, 0, r, reason);
}

START_TEST(bad_signatures)
{
	static const char BH[] = "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
	char v[1024];
	struct { const char *fmt; const char *reason; } c[] = {
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; %s", "b= missing" },
		{ "v=2; a=rsa-sha256; d=football.example.com; s=rsa; h=from; %s; b=AAAA", "v=" },
		{ "v=1; a=rsa-md5; d=football.example.com; s=rsa; h=from; %s; b=AAAA", "algorithm" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=to:subject; %s; b=AAAA",
		  "From" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; i=joe@example.org; "
		  "%s; b=AAAA", "subdomain" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; i=joe; %s; b=AAAA",
		  "@" },
		{ "v=1; a=rsa-sha256; d=foot ball.example.com; s=rsa; h=from; %s; b=AAAA",
		  "d=" },
		{ "v=1; a=rsa-sha256; d=-x.example.com; s=rsa; h=from; %s; b=AAAA", "d=" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; t=100; x=50; %s; b=AAAA",
		  "x=" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; l=12a; %s; b=AAAA",
		  "l=" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; c=fancy; %s; b=AAAA",
		  "c=" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; q=http; %s; b=AAAA",
		  "q=" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; bh=AAAA; b=AAAA",
		  "bh=" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from; %s; b=", "b=" },
		{ "v=1; a=rsa-sha256; a=rsa-sha256; d=football.example.com; s=rsa; h=from; %s; b=AAAA",
		  "duplicate" },
		{ "v=1; a=rsa-sha256; d=football.example.com; s=rsa; h=from::to; %s; b=AAAA",
		  "h=" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(v, sizeof(v), c[i].fmt, BH);
#pragma GCC diagnostic pop
		expect_sig(v, MS_DKIM_PERMERROR, c[i].reason);
	}
	/* a well-formed signature with a wrong b= fails the crypto check */
	snprintf(v, sizeof(v),
		 "v=1; a=ed25519-sha256; d=football.example.com; s=ed; h=from; %s; b=%s", BH,
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==");
	char m[4096];
	snprintf(m, sizeof(m), "DKIM-Signature: %s\r\n%s", v, MSG);
	struct ms_dkim_verify *vf = test_verify(ver, m, strlen(m), 0);
	const struct ms_dkim_sig *sg = ms_dkim_verify_sig(vf, 0);
	ck_assert_int_ne(ms_dkim_sig_result(sg), MS_DKIM_PASS);
	ck_assert_int_ne(ms_dkim_sig_result(sg), MS_DKIM_PERMERROR);
	ms_dkim_verify_free(vf);
	/* rsa-sha1 is refused by default (RFC 8301) */
	snprintf(v, sizeof(v), "v=1; a=rsa-sha1; d=football.example.com; s=rsa; h=from; "
		 "bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA");
	expect_sig(v, MS_DKIM_POLICY, "rsa-sha1");
}
END_TEST

START_TEST(limits)
{
	/* more signatures than evaluated */
	size_t cap = 64 * 1024;
	char *m = malloc(cap);
	m[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(m, "DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from; "
			  "bh=AAAA; b=AAAA\r\n");
	strcat(m, MSG);
	struct ms_dkim_verify *vf = test_verify(ver, m, strlen(m), 0);
	ck_assert_uint_eq(ms_dkim_verify_count(vf), MS_DKIM_MAX_SIGNATURES);
	ck_assert_uint_eq(ms_dkim_verify_ignored(vf), 40 - MS_DKIM_MAX_SIGNATURES);
	ms_dkim_verify_free(vf);
	free(m);
}
END_TEST

/* A header block over a bound (bytes or fields) is a result, not an
 * error: feed and finish succeed, every signature is permerror naming the
 * limit, and an unsigned padded message still gets one permerror entry
 * (a signature may hide past the limit: never "none").  The caller's other
 * checks (SPF, DMARC, iprev) go on. */
static void expect_limited(const char *prefix, const char *pad, size_t padlen, size_t count,
			   const char *rest, size_t nsig, const char *domain, const char *reason)
{
	struct ms_dkim_verify *vf = NULL;
	char why[128] = "";
	ck_assert_int_eq(ms_dkim_verify_new(ver, &vf), MS_OK);
	ck_assert_int_eq(ms_dkim_verify_feed(vf, (const uint8_t *)prefix, strlen(prefix), why,
					     sizeof(why)), MS_OK);
	for (size_t i = 0; i < count; i++)
		ck_assert_msg(ms_dkim_verify_feed(vf, (const uint8_t *)pad, padlen, why,
						  sizeof(why)) == MS_OK, "feed %zu: %s", i, why);
	ck_assert_int_eq(ms_dkim_verify_feed(vf, (const uint8_t *)rest, strlen(rest), why,
					     sizeof(why)), MS_OK);
	ck_assert_msg(ms_dkim_verify_finish(vf, why, sizeof(why)) == MS_OK, "finish: %s", why);
	ck_assert_ptr_nonnull(ms_dkim_verify_limit(vf));
	ck_assert_msg(strstr(ms_dkim_verify_limit(vf), reason), "limit: %s",
		      ms_dkim_verify_limit(vf));
	ck_assert_uint_eq(ms_dkim_verify_count(vf), nsig);
	for (size_t i = 0; i < nsig; i++) {
		const struct ms_dkim_sig *sg = ms_dkim_verify_sig(vf, i);
		ck_assert_int_eq(ms_dkim_sig_result(sg), MS_DKIM_PERMERROR);
		ck_assert_msg(strstr(ms_dkim_sig_reason(sg), reason), "reason: %s",
			      ms_dkim_sig_reason(sg));
	}
	if (domain)
		ck_assert_str_eq(ms_dkim_sig_domain(ms_dkim_verify_sig(vf, 0)), domain);
	else
		ck_assert_ptr_null(ms_dkim_sig_domain(ms_dkim_verify_sig(vf, 0)));
	ms_dkim_verify_free(vf);
}

START_TEST(header_limits_are_permerror)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", MS_DKIM_CANON_RELAXED,
					  MS_DKIM_CANON_RELAXED);
	char *signed_msg = sign1(MSG, &o);
	/* the signature fields, then padding inside the header */
	char *body = strstr(signed_msg, "From: Joe");
	ck_assert_ptr_nonnull(body);
	size_t hl = (size_t)(body - signed_msg);
	char *sigs = strndup(signed_msg, hl);
	char line[2048];
	memset(line, 'a', sizeof(line));
	memcpy(line, "X-Pad: ", 7);
	line[2046] = '\r';
	line[2047] = '\n';
	/* too many fields, signed and unsigned */
	expect_limited(sigs, "X: y\r\n", 6, 1100, body, 1, "football.example.com",
		       "header fields");
	expect_limited("", "X: y\r\n", 6, 1100, MSG, 1, NULL, "header fields");
	/* more bytes than the bound (fewer than 1000 fields) */
	expect_limited(sigs, line, sizeof(line), 600, body, 1, "football.example.com",
		       "header block");
	expect_limited("", line, sizeof(line), 600, MSG, 1, NULL, "header block");
	/* the same message under the bounds passes */
	expect(signed_msg, 0, MS_DKIM_PASS, NULL);
	free(sigs);
	free(signed_msg);
	/* signing a message over the bound is still refused */
	struct ms_dkim_signer *sn = NULL;
	char why[128] = "";
	ms_status st = MS_OK;
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &sn), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_add(sn, &o, why, sizeof(why)), MS_OK);
	for (int i = 0; i < 1100 && st == MS_OK; i++)
		st = ms_dkim_signer_feed(sn, (const uint8_t *)"X: y\r\n", 6, why, sizeof(why));
	ck_assert_int_eq(st, MS_ERR_LIMIT);
	ms_dkim_signer_free(sn);
}
END_TEST

/* "From :" (WSP before the colon, RFC 5322 s4.5) is a From field: an
 * unsigned one added above a signed message makes the signature "policy". */
START_TEST(obs_from_counted)
{
	struct ms_dkim_sign_opts o = opts(ed_key, "ed", MS_DKIM_CANON_RELAXED,
					  MS_DKIM_CANON_RELAXED);
	o.oversign = "";
	char *signed_msg = sign1(MSG, &o);
	char *m = malloc(strlen(signed_msg) + 64);
	strcpy(m, "From : \"Bank CEO\" <ceo@example.test>\r\n");
	strcat(m, signed_msg);
	expect(m, 0, MS_DKIM_POLICY, "2 From fields");
	strcpy(m, "FROM\t: <ceo@example.test>\r\n");
	strcat(m, signed_msg);
	expect(m, 0, MS_DKIM_POLICY, "2 From fields");
	free(m);
	free(signed_msg);
}
END_TEST

START_TEST(big_body)
{
	/* 10 MiB body of text lines with runs of whitespace, signed and
	 * verified in uneven chunks; the canonicalizers keep no body. */
	size_t n = 10u << 20;
	char *m = malloc(n + 512);
	size_t o = (size_t)sprintf(m, "From: a@football.example.com\r\nSubject: big\r\n\r\n");
	while (o < n) {
		o += (size_t)sprintf(m + o, "line %zu  with\t some   spaces \r\n", o);
	}
	m[o] = '\0';
	struct ms_dkim_sign_opts a = opts(rsa_key, "rsa", 1, 1);
	struct ms_dkim_sign_opts b = opts(ed_key, "ed", 0, 0);
	const struct ms_dkim_sign_opts *list[2] = { &a, &b };
	size_t slen;
	char *s = test_sign(m, o, list, 2, &slen);
	ck_assert_ptr_nonnull(s);
	struct ms_dkim_verify *vf = test_verify(ver, s, slen, 65537);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_PASS);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 1)), MS_DKIM_PASS);
	ms_dkim_verify_free(vf);
	free(s);
	free(m);
}
END_TEST


/* ---- memory does not grow with the body ------------------------------------- */

static size_t mem_cur, mem_peak, mem_left;

static void *t_alloc(void *u, size_t n)
{
	(void)u;
	size_t *p = malloc(n + sizeof(size_t) * 2);
	if (p == NULL)
		return NULL;
	p[0] = n;
	mem_cur += n;
	if (mem_cur > mem_peak)
		mem_peak = mem_cur;
	return p + 2;
}

static void t_free(void *u, void *ptr)
{
	(void)u;
	if (ptr == NULL)
		return;
	size_t *p = (size_t *)ptr - 2;
	mem_cur -= p[0];
	free(p);
}

static void *t_realloc(void *u, void *ptr, size_t n)
{
	if (ptr == NULL)
		return t_alloc(u, n);
	size_t *p = (size_t *)ptr - 2;
	size_t old = p[0];
	size_t *q = realloc(p, n + sizeof(size_t) * 2);
	if (q == NULL)
		return NULL;
	q[0] = n;
	mem_cur = mem_cur - old + n;
	if (mem_cur > mem_peak)
		mem_peak = mem_cur;
	return q + 2;
}

/* Peak bytes the library allocates (through the env hooks) to verify a
 * message whose body has `mib` MiB, fed in 64 KiB chunks. */
static size_t peak_for(struct ms_dkim_verifier *v, size_t mib)
{
	size_t n = mib << 20;
	char *m = malloc(n + 256);
	size_t o = (size_t)sprintf(m, "From: a@football.example.com\r\nSubject: mem\r\n\r\n");
	while (o < n)
		o += (size_t)sprintf(m + o, "some  text\there %zu \r\n", o);
	struct ms_dkim_sign_opts a = opts(ed_key, "ed", 1, 1);
	const struct ms_dkim_sign_opts *list[1] = { &a };
	size_t slen;
	char *s = test_sign(m, o, list, 1, &slen);
	free(m);
	mem_peak = mem_cur;
	size_t base = mem_cur;
	struct ms_dkim_verify *vf = test_verify(v, s, slen, 65536);
	ck_assert_int_eq(ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)), MS_DKIM_PASS);
	ms_dkim_verify_free(vf);
	free(s);
	mem_left = mem_cur - base;
	return mem_peak - base;
}

START_TEST(constant_memory)
{
	struct ms_env e = test_env_with_clock();
	e.alloc = t_alloc;
	e.realloc = t_realloc;
	e.free = t_free;
	struct ms_dkim_verifier *v = NULL;
	ck_assert_int_eq(ms_dkim_verifier_new(&e, fz_ctx(zone), &v), MS_OK);
	peak_for(v, 1); /* warm the key cache (allocated on first use) */
	size_t p1 = peak_for(v, 1);
	ck_assert_uint_eq(mem_left, 0); /* everything given back */
	size_t p8 = peak_for(v, 8);
	ck_assert_uint_eq(mem_left, 0);
	ck_assert_msg(p1 == p8, "peak %zu bytes for 1 MiB, %zu for 8 MiB", p1, p8);
	ck_assert_uint_lt(p8, 128 * 1024);
	ms_dkim_verifier_free(v);
	ck_assert_uint_eq(mem_cur, 0);
}
END_TEST

/* ---- keys ------------------------------------------------------------------ */

START_TEST(key_loading)
{
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)"garbage", 7, &k, why,
					      sizeof(why)), MS_ERR_PARSE);
	ck_assert_ptr_null(k);
	/* public key instead of private */
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(b, pk);
	char *data;
	long n = BIO_get_mem_data(b, &data);
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)data, (size_t)n, &k, why,
					      sizeof(why)), MS_ERR_PARSE);
	ck_assert_ptr_nonnull(strstr(why, "public key"));
	BIO_free(b);
	EVP_PKEY_free(pk);
	/* weak RSA */
	pk = EVP_RSA_gen(1024);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &data);
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)data, (size_t)n, &k, why,
					      sizeof(why)), MS_ERR_LIMIT);
	ck_assert_ptr_nonnull(strstr(why, "1024"));
	BIO_free(b);
	EVP_PKEY_free(pk);
	/* wrong key type */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &data);
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)data, (size_t)n, &k, why,
					      sizeof(why)), MS_ERR_UNSUPPORTED);
	BIO_free(b);
	EVP_PKEY_free(pk);
	/* PEM round trip of a generated key */
	char *pem = NULL;
	ck_assert_int_eq(ms_dkim_key_private_pem(ed_key, &pem), MS_OK);
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, strlen(pem), &k, why,
					      sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_key_algorithm(k), MS_DKIM_ED25519_SHA256);
	char *txt = test_txt(k);
	ck_assert_str_eq(txt, ed_txt);
	free(txt);
	ms_dkim_key_free(k);
	ms_dkim_string_free(pem);
	ck_assert_int_eq(ms_dkim_key_generate(NULL, MS_DKIM_RSA_SHA256, 1024, &k, why,
					      sizeof(why)), MS_ERR_INVALID);
	ms_dkim_key_free(NULL);
	ck_assert_str_eq(ms_dkim_result_str(MS_DKIM_TEMPERROR), "temperror");
	ck_assert_int_eq(ms_dkim_algorithm_from_str("ed25519"), MS_DKIM_ED25519_SHA256);
}
END_TEST

/* The strings a key hands out come from the key's env allocator and go
 * back to it through ms_dkim_string_free (which takes no env). */
struct str_count {
	int allocs, frees;
};

static void *sc_alloc(void *user, size_t n)
{
	((struct str_count *)user)->allocs++;
	return malloc(n);
}

static void *sc_realloc(void *user, void *p, size_t n)
{
	if (p == NULL)
		((struct str_count *)user)->allocs++;
	return realloc(p, n);
}

static void sc_free(void *user, void *p)
{
	if (p != NULL)
		((struct str_count *)user)->frees++;
	free(p);
}

START_TEST(strings_env_allocator)
{
	struct str_count sc = { 0, 0 };
	struct ms_env env = { .version = MS_ENV_VERSION, .user = &sc, .alloc = sc_alloc,
			      .realloc = sc_realloc, .free = sc_free };
	struct ms_dkim_key *k = NULL;
	char why[200] = "";
	ck_assert_int_eq(ms_dkim_key_generate(&env, MS_DKIM_ED25519_SHA256, 0, &k, why,
					      sizeof(why)), MS_OK);
	int base = sc.allocs, freed = sc.frees;
	char *pem = NULL, *txt = NULL;
	ck_assert_int_eq(ms_dkim_key_private_pem(k, &pem), MS_OK);
	ck_assert_int_eq(ms_dkim_key_txt_record(k, &txt), MS_OK);
	ck_assert_ptr_nonnull(strstr(pem, "PRIVATE KEY"));
	ck_assert_ptr_nonnull(strstr(txt, "k=ed25519"));
	ck_assert_int_eq(sc.allocs, base + 2);
	ms_dkim_key_free(k); /* the strings outlive the key */
	ms_dkim_string_free(pem);
	ms_dkim_string_free(txt);
	ms_dkim_string_free(NULL);
	ck_assert_int_eq(sc.frees, freed + 3); /* the key and both strings */
	ck_assert_int_eq(sc.allocs, sc.frees);
}
END_TEST

int main(void)
{
	char why[256] = "";
	if (ms_dkim_key_generate(NULL, MS_DKIM_RSA_SHA256, 2048, &rsa_key, why, sizeof(why)) ||
	    ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, &ed_key, why, sizeof(why))) {
		fprintf(stderr, "keygen: %s\n", why);
		return 1;
	}
	rsa_txt = test_txt(rsa_key);
	ed_txt = test_txt(ed_key);

	Suite *s = suite_create("dkim-unit");
	TCase *p = tcase_create("parsers");
	tcase_add_test(p, taglist_ok);
	tcase_add_test(p, taglist_errors);
	tcase_add_test(p, base64);
	tcase_add_test(p, rsa_spki_fast_path);
	tcase_add_test(p, q_list);
	tcase_add_test(p, body_canon);
	tcase_add_test(p, body_canon_differential);
	tcase_add_test(p, header_canon);
	tcase_add_test(p, message_splitter);
	suite_add_tcase(s, p);
	TCase *t = tcase_create("verify");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, roundtrip);
	tcase_add_test(t, header_limits_are_permerror);
	tcase_add_test(t, obs_from_counted);
	tcase_add_test(t, two_signatures);
	tcase_add_test(t, unsigned_message);
	tcase_add_test(t, tampering);
	tcase_add_test(t, oversigned_h);
	tcase_add_test(t, times);
	tcase_add_test(t, identity);
	tcase_add_test(t, key_records);
	tcase_add_test(t, key_forms);
	tcase_add_test(t, dns_failures);
	tcase_add_test(t, key_cache);
	tcase_add_test(t, bad_signatures);
	tcase_add_test(t, limits);
	tcase_add_test(t, big_body);
	tcase_add_test(t, constant_memory);
	tcase_add_test(t, key_loading);
	tcase_add_test(t, strings_env_allocator);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	ms_dkim_key_free(rsa_key);
	ms_dkim_key_free(ed_key);
	free(rsa_txt);
	free(ed_txt);
	return failed ? 1 : 0;
}
