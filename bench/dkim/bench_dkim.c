/*
 * bench_dkim.c - DKIM verification: libspfdkim against libopendkim (peer
 * `opendkim`) and against the physical floor (peer `floor`: OpenSSL
 * SHA-256 over the already canonicalized header and body bytes plus one
 * signature check with the key already parsed), on the same messages and
 * keys in one run.  Every peer must reach "pass" on every message.
 *
 * Both libraries get the key without DNS: ours through an injected
 * resolver and its parsed-key cache (as a running MTA would have it),
 * libopendkim through its file query method (DKIM_QUERY_FILE).
 *
 * Usage: bench-dkim [CASE-SUBSTRING].  Output (DESIGN.md):
 * bench <case>/<peer> ours_ns=N <peer>_ns=N ratio=peer/ours
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opendkim/dkim.h>
#include <openssl/rsa.h>

#include "dkim_internal.h"

#define ROUNDS 7

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v)
{
	qsort(v, ROUNDS, sizeof(*v), cmp64);
	return v[ROUNDS / 2];
}

/* ---- the message and its key --------------------------------------------- */

static char txt_rec[2048];

static ms_status resolve(void *user, const char *name, uint16_t type,
			 struct ms_dns_result **out)
{
	(void)user;
	uint8_t rd[2100];
	size_t n = strlen(txt_rec), o = 0;
	for (size_t i = 0; i < n; i += 255) {
		size_t take = n - i < 255 ? n - i : 255;
		rd[o++] = (uint8_t)take;
		memcpy(rd + o, txt_rec + i, take);
		o += take;
	}
	ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, MS_DNS_INSECURE, out);
	if (st == MS_OK) {
		ms_dns_result_add(*out, MS_DNS_T_TXT, rd, o);
		ms_dns_result_set_meta(*out, 86400, NULL, -1, -1, NULL);
	}
	return st;
}

/* A body of `size` bytes of text lines, with the usual double spaces and
 * trailing blanks that relaxed canonicalization removes. */
static char *make_message(size_t size, size_t *len)
{
	char *m = malloc(size + 4096);
	if (m == NULL)
		abort();
	size_t o = (size_t)sprintf(m,
		"Received: from mail.example.test (mail.example.test [192.0.2.1])\r\n"
		"\tby mx.example.net with ESMTPS id 4Xyz; Sat, 28 Nov 2026 12:00:00 +0000\r\n"
		"From: Joe Sender <joe@example.test>\r\nTo: Suzie <suzie@example.net>\r\n"
		"Subject: quarterly numbers\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
		"Message-ID: <20261128120000.1234@example.test>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n\r\n");
	size_t body0 = o;
	static const char *words[] = { "the", "quarterly", "numbers", "are", "in,", "and",
				       "they", "look", "good.", "Revenue", "grew", "by", "12%" };
	unsigned w = 0;
	while (o - body0 < size) {
		size_t line = 0;
		while (line < 68) {
			const char *x = words[w++ % 13];
			line += (size_t)sprintf(m + o + line, "%s%s", x, w % 11 == 0 ? "  " : " ");
		}
		if (w % 5 == 0)
			line += (size_t)sprintf(m + o + line, " \t");
		o += line;
		m[o++] = '\r';
		m[o++] = '\n';
	}
	*len = o;
	return m;
}

static char *sign(const char *m, size_t len, struct ms_dkim_key *k, enum ms_dkim_canon c,
		  size_t *slen)
{
	struct ms_dkim_signer *s;
	struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = k,
				       .domain = "example.test", .selector = "bench",
				       .header_canon = c, .body_canon = c };
	ms_dkim_signer_new(NULL, &s);
	ms_dkim_signer_add(s, &o, NULL, 0);
	ms_dkim_signer_feed(s, (const uint8_t *)m, len, NULL, 0);
	if (ms_dkim_signer_finish(s, NULL, 0) != MS_OK)
		abort();
	const char *h = ms_dkim_signer_headers(s);
	size_t hl = strlen(h);
	char *out = malloc(hl + len);
	memcpy(out, h, hl);
	memcpy(out + hl, m, len);
	*slen = hl + len;
	ms_dkim_signer_free(s);
	return out;
}

/* ---- ours ------------------------------------------------------------------ */

static int ours(struct ms_dkim_verifier *v, const char *m, size_t len)
{
	struct ms_dkim_verify *vf;
	ms_dkim_verify_new(v, &vf);
	ms_dkim_verify_feed(vf, (const uint8_t *)m, len, NULL, 0);
	ms_dkim_verify_finish(vf, NULL, 0);
	int ok = ms_dkim_verify_count(vf) == 1 &&
		 ms_dkim_sig_result(ms_dkim_verify_sig(vf, 0)) == MS_DKIM_PASS;
	ms_dkim_verify_free(vf);
	return ok;
}

/* ---- libopendkim ------------------------------------------------------------ */

struct split {
	size_t nf;
	size_t off[64], len[64];
	size_t body;
};

static void split_msg(const char *m, size_t len, struct split *sp)
{
	sp->nf = 0;
	size_t i = 0;
	while (i < len) {
		if (m[i] == '\r' && m[i + 1] == '\n') {
			sp->body = i + 2;
			return;
		}
		size_t s = i;
		for (;;) {
			const char *nl = memchr(m + i, '\n', len - i);
			i = (size_t)(nl - m) + 1;
			if (m[i] != ' ' && m[i] != '\t')
				break;
		}
		sp->off[sp->nf] = s;
		sp->len[sp->nf++] = i - 2 - s;
	}
}

static int opendkim(DKIM_LIB *lib, const char *m, size_t len, const struct split *sp)
{
	DKIM_STAT st;
	DKIM *d = dkim_verify(lib, (const unsigned char *)"bench", NULL, &st);
	if (d == NULL)
		return 0;
	for (size_t i = 0; i < sp->nf; i++)
		dkim_header(d, (u_char *)m + sp->off[i], sp->len[i]);
	dkim_eoh(d);
	dkim_body(d, (u_char *)m + sp->body, len - sp->body);
	st = dkim_eom(d, NULL);
	DKIM_SIGINFO *sig = dkim_getsignature(d);
	int ok = st == DKIM_STAT_OK && sig && DKIM_SIG_CHECK(sig);
	dkim_free(d);
	return ok;
}

/* ---- the floor ------------------------------------------------------------- */

struct floor {
	uint8_t *body;      /* canonical body */
	size_t blen;
	struct ms_buf hdr;  /* canonical header data */
	EVP_PKEY *pk;
	enum ms_dkim_algorithm alg;
	uint8_t sig[1024];
	size_t siglen;
	uint8_t bh[32];
};

static void grow(void *u, const uint8_t *p, size_t n)
{
	struct floor *f = u;
	f->body = realloc(f->body, f->blen + n);
	memcpy(f->body + f->blen, p, n);
	f->blen += n;
}

static void floor_setup(struct floor *f, const char *m, size_t len, const char *rec)
{
	memset(f, 0, sizeof(*f));
	struct dkim_msg msg;
	dkim_msg_init(&msg, NULL);
	long used = dkim_msg_feed_header(&msg, (const uint8_t *)m, len);
	const struct dkim_field *sf = &msg.fields[0]; /* the DKIM-Signature */
	const uint8_t *fv = msg.hdr.data + sf->off;
	size_t colon = 0;
	while (fv[colon] != ':')
		colon++;
	static struct dkim_sigparams sp;
	if (dkim_sig_parse(fv + colon + 1, sf->len - colon - 1, &sp, NULL, 0) != MS_OK)
		abort();
	f->alg = sp.alg;
	memcpy(f->sig, sp.b, sp.blen);
	f->siglen = sp.blen;
	memcpy(f->bh, sp.bh, 32);
	struct dkim_bodycanon *bc = malloc(sizeof(*bc));
	dkim_bodycanon_init(bc, sp.bcanon, grow, f);
	dkim_bodycanon_update(bc, (const uint8_t *)m + used, len - (size_t)used);
	dkim_bodycanon_final(bc);
	free(bc);
	/* header data as dkim_header_digest builds it */
	size_t idx[DKIM_MAX_H];
	ms_buf_init(&f->hdr, NULL, 1 << 24);
	dkim_select_fields(&msg, sp.h, sp.hlen, sp.nh, idx);
	for (size_t k = 0; k < sp.nh; k++)
		if (idx[k] != SIZE_MAX)
			dkim_headercanon(sp.hcanon, msg.hdr.data + msg.fields[idx[k]].off,
					 msg.fields[idx[k]].len, 1, &f->hdr);
	uint8_t *tmp = malloc(sf->len);
	size_t bo = colon + 1 + sp.b_vstart, bl = sp.b_vend - sp.b_vstart;
	memcpy(tmp, fv, bo);
	memcpy(tmp + bo, fv + bo + bl, sf->len - bo - bl);
	dkim_headercanon(sp.hcanon, tmp, sf->len - bl, 0, &f->hdr);
	free(tmp);
	struct dkim_keyrec kr;
	dkim_keyrec_parse((const uint8_t *)rec, strlen(rec), &kr, NULL, 0);
	f->pk = dkim_pubkey_decode(&kr, NULL, 0);
	dkim_msg_free(&msg);
}

static int floor_op(const struct floor *f)
{
	uint8_t d[32], h[32];
	unsigned dl;
	EVP_Digest(f->body, f->blen, d, &dl, EVP_sha256(), NULL);
	EVP_Digest(f->hdr.data, f->hdr.len, h, &dl, EVP_sha256(), NULL);
	int ok = memcmp(d, f->bh, 32) == 0;
	if (f->alg == MS_DKIM_ED25519_SHA256) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		ok &= EVP_DigestVerifyInit(c, NULL, NULL, NULL, f->pk) == 1 &&
		      EVP_DigestVerify(c, f->sig, f->siglen, h, 32) == 1;
		EVP_MD_CTX_free(c);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(f->pk, NULL);
		ok &= EVP_PKEY_verify_init(c) == 1 &&
		      EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		      EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		      EVP_PKEY_verify(c, f->sig, f->siglen, h, 32) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok;
}

/* ---- one case -------------------------------------------------------------- */

static const char *filter; /* argv[1]: run only the cases whose name has it */

static void run_case(const char *name, struct ms_dkim_key *key, size_t size,
		     enum ms_dkim_canon c, int iters)
{
	if (filter && strstr(name, filter) == NULL)
		return;
	char *t = NULL;
	ms_dkim_key_txt_record(key, &t);
	snprintf(txt_rec, sizeof(txt_rec), "%s", t);
	ms_dkim_string_free(t);
	size_t len, slen;
	char *m0 = make_message(size, &len);
	char *m = sign(m0, len, key, c, &slen);
	free(m0);

	struct ms_dns_ctx *dns;
	struct ms_dkim_verifier *v;
	ms_dns_ctx_new_custom(NULL, resolve, NULL, &dns);
	ms_dkim_verifier_new(NULL, dns, &v);

	char keyfile[] = "/tmp/bench-dkim-keys-XXXXXX";
	int fd = mkstemp(keyfile);
	FILE *kf = fdopen(fd, "w");
	fprintf(kf, "bench._domainkey.example.test %s\n", txt_rec);
	fclose(kf);
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	dkim_query_t qt = DKIM_QUERY_FILE;
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qt, sizeof(qt));
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, keyfile, strlen(keyfile));
	int have_odkim = ms_dkim_key_algorithm(key) != MS_DKIM_ED25519_SHA256 ||
			 dkim_libfeature(lib, DKIM_FEATURE_ED25519);
	struct split sp;
	split_msg(m, slen, &sp);
	struct floor fl;
	floor_setup(&fl, m, slen, txt_rec);

	if (!ours(v, m, slen) || !floor_op(&fl) || (have_odkim && !opendkim(lib, m, slen, &sp))) {
		fprintf(stderr, "%s: verdicts differ (ours %d floor %d opendkim %d)\n", name,
			ours(v, m, slen), floor_op(&fl), have_odkim ? opendkim(lib, m, slen, &sp) : -1);
		exit(1);
	}
	uint64_t o[ROUNDS], p[ROUNDS], f[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < iters; i++)
			ours(v, m, slen);
		uint64_t t1 = now_ns();
		for (int i = 0; i < iters && have_odkim; i++)
			opendkim(lib, m, slen, &sp);
		uint64_t t2 = now_ns();
		for (int i = 0; i < iters; i++)
			floor_op(&fl);
		uint64_t t3 = now_ns();
		o[r] = (t1 - t0) / (uint64_t)iters;
		p[r] = (t2 - t1) / (uint64_t)iters;
		f[r] = (t3 - t2) / (uint64_t)iters;
	}
	uint64_t om = median(o), pm = median(p), fm = median(f);
	if (have_odkim)
		printf("bench %s/opendkim ours_ns=%llu opendkim_ns=%llu ratio=%.2f\n", name,
		       (unsigned long long)om, (unsigned long long)pm, (double)pm / (double)om);
	else
		printf("# %s/opendkim: this libopendkim has no Ed25519 support\n", name);
	printf("bench %s/floor ours_ns=%llu floor_ns=%llu ratio=%.2f\n", name,
	       (unsigned long long)om, (unsigned long long)fm, (double)fm / (double)om);
	fflush(stdout);
	dkim_close(lib);
	unlink(keyfile);
	EVP_PKEY_free(fl.pk);
	free(fl.body);
	ms_buf_free(&fl.hdr);
	ms_dkim_verifier_free(v);
	ms_dns_ctx_free(dns);
	free(m);
}

int main(int argc, char **argv)
{
	filter = argc > 1 ? argv[1] : NULL;
	struct ms_dkim_key *rsa, *ed;
	if (ms_dkim_key_generate(NULL, MS_DKIM_RSA_SHA256, 2048, &rsa, NULL, 0) != MS_OK ||
	    ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, &ed, NULL, 0) != MS_OK)
		return 1;
	run_case("rsa2048-1k-relaxed", rsa, 1024, MS_DKIM_CANON_RELAXED, 2000);
	run_case("rsa2048-100k-relaxed", rsa, 100 * 1024, MS_DKIM_CANON_RELAXED, 300);
	run_case("rsa2048-1m-relaxed", rsa, 1024 * 1024, MS_DKIM_CANON_RELAXED, 40);
	run_case("rsa2048-1m-simple", rsa, 1024 * 1024, MS_DKIM_CANON_SIMPLE, 40);
	run_case("ed25519-1k-relaxed", ed, 1024, MS_DKIM_CANON_RELAXED, 2000);
	ms_dkim_key_free(rsa);
	ms_dkim_key_free(ed);
	return 0;
}
