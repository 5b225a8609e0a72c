/*
 * tlsa.c - TLSA records: parsing (wire and presentation form), the RFC 7672
 * usability rules, RFC 7671 s9 digest agility and matching one record
 * against certificate or key bytes.
 */
#include "dane_internal.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <string.h>

static size_t digest_len(uint8_t mtype)
{
	return mtype == MS_DANE_MT_SHA256 ? 32 : mtype == MS_DANE_MT_SHA512 ? 64 : 0;
}

int ms_dane_tlsa_usable(const struct ms_dane_tlsa *t)
{
	if (t == NULL || t->data == NULL || t->datalen == 0)
		return 0;
	/* RFC 7672 s3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP. */
	if (t->usage != MS_DANE_DANE_TA && t->usage != MS_DANE_DANE_EE)
		return 0;
	if (t->selector > MS_DANE_SEL_SPKI || t->mtype > MS_DANE_MT_SHA512)
		return 0;
	if (t->mtype != MS_DANE_MT_FULL)
		return t->datalen == digest_len(t->mtype);
	if (t->datalen > MS_DANE_MAX_CERT)
		return 0;
	/* Full data must be a whole certificate or SubjectPublicKeyInfo. */
	const unsigned char *p = t->data;
	int ok = 0;
	if (t->selector == MS_DANE_SEL_CERT) {
		X509 *x = d2i_X509(NULL, &p, (long)t->datalen);
		ok = x != NULL && (size_t)(p - t->data) == t->datalen &&
		     X509_get0_pubkey(x) != NULL;
		X509_free(x);
	} else {
		EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)t->datalen);
		ok = k != NULL && (size_t)(p - t->data) == t->datalen;
		EVP_PKEY_free(k);
	}
	return ok;
}

size_t ms_dane_select(const struct ms_dane_ctx *ctx,
		      const struct ms_dane_tlsa *t, size_t n,
		      unsigned char *keep)
{
	/* best[usage-2][selector]: highest digest rank present. */
	unsigned best[2][2] = { { 0, 0 }, { 0, 0 } };
	size_t usable = 0;
	for (size_t i = 0; i < n; i++) {
		keep[i] = 0;
		if (!ms_dane_tlsa_usable(&t[i]))
			continue;
		if (t[i].mtype != MS_DANE_MT_FULL && ctx->mtype_rank[t[i].mtype] == 0)
			continue; /* disabled digest: as if unknown */
		keep[i] = 1;
		usable++;
		if (t[i].mtype != MS_DANE_MT_FULL) {
			unsigned *b = &best[t[i].usage - 2][t[i].selector];
			if (ctx->mtype_rank[t[i].mtype] > *b)
				*b = ctx->mtype_rank[t[i].mtype];
		}
	}
	/* RFC 7671 s9: per usage and selector, weaker digests are ignored
	 * when a stronger one is present; Full(0) always takes part. */
	for (size_t i = 0; i < n; i++)
		if (keep[i] && t[i].mtype != MS_DANE_MT_FULL &&
		    ctx->mtype_rank[t[i].mtype] < best[t[i].usage - 2][t[i].selector])
			keep[i] = 0;
	return usable;
}

int ms_dane_match_data(const struct ms_dane_ctx *ctx,
		       const struct ms_dane_tlsa *t,
		       const uint8_t *data, size_t len)
{
	if (t->mtype == MS_DANE_MT_FULL)
		return len == t->datalen && memcmp(data, t->data, len) == 0;
	const EVP_MD *md = ms_dane_md(ctx, t->mtype);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	if (md == NULL || !EVP_Digest(data, len, d, &dlen, md, NULL))
		return 0;
	return dlen == t->datalen && CRYPTO_memcmp(d, t->data, dlen) == 0;
}

ms_status ms_dane_tlsa_parse_rdata(const uint8_t *rdata, size_t len,
				   struct ms_dane_tlsa *t)
{
	/* one TLSA parser in the suite: libmailsec-dns's */
	return ms_dns_parse_tlsa(rdata, len, t);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ms_ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Read a decimal 0-255 field. */
static int read_u8(const char *s, size_t len, size_t *pos, uint8_t *out)
{
	while (*pos < len && is_space(s[*pos]))
		(*pos)++;
	unsigned v = 0, digits = 0;
	while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
		v = v * 10 + (unsigned)(s[*pos] - '0');
		if (v > 255 || ++digits > 3)
			return -1;
		(*pos)++;
	}
	if (digits == 0 || (*pos < len && !is_space(s[*pos])))
		return -1;
	*out = (uint8_t)v;
	return 0;
}

ms_status ms_dane_tlsa_parse_text(const char *text, size_t len,
				  struct ms_dane_tlsa *t, uint8_t *buf,
				  size_t buflen, char *why, size_t whylen)
{
	if (text == NULL || t == NULL || (buf == NULL && buflen))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	size_t pos = 0;
	if (read_u8(text, len, &pos, &t->usage) || read_u8(text, len, &pos, &t->selector) ||
	    read_u8(text, len, &pos, &t->mtype))
		return ms_why(why, whylen, MS_ERR_PARSE,
			      "want \"USAGE SELECTOR MTYPE HEX\" with fields 0-255");
	size_t n = 0;
	int hi = -1;
	for (; pos < len; pos++) {
		if (is_space(text[pos]))
			continue;
		int v = hexval((unsigned char)text[pos]);
		if (v < 0)
			return ms_why(why, whylen, MS_ERR_PARSE,
				      "bad hex character at offset %zu", pos);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == buflen)
			return ms_why(why, whylen, MS_ERR_LIMIT,
				      "record data longer than %zu bytes", buflen);
		buf[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "odd number of hex digits");
	if (n == 0)
		return ms_why(why, whylen, MS_ERR_PARSE, "no certificate association data");
	t->data = buf;
	t->datalen = n;
	return MS_OK;
}

ms_status ms_dane_tlsa_to_text(const struct ms_dane_tlsa *t, char *buf,
			       size_t buflen)
{
	static const char hex[] = "0123456789abcdef";
	if (t == NULL || buf == NULL)
		return MS_ERR_INVALID;
	int n = snprintf(buf, buflen, "%u %u %u ", t->usage, t->selector, t->mtype);
	if (n < 0 || (size_t)n >= buflen || (buflen - (size_t)n) / 2 <= t->datalen)
		return MS_ERR_LIMIT;
	char *p = buf + n;
	for (size_t i = 0; i < t->datalen; i++) {
		*p++ = hex[t->data[i] >> 4];
		*p++ = hex[t->data[i] & 15];
	}
	*p = '\0';
	return MS_OK;
}
