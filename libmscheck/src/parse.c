/*
 * parse.c - the bounded parsers of DNS data the report reads on its own:
 * the TLSRPT record grammar (RFC 8460 s3), CAA rdata (RFC 8659 s4.1) and
 * DKIM key records (RFC 6376 s3.6.1).
 * Both take (buffer, length), never assume NUL termination, and write at
 * most the caller's buffer.
 */
#include "check_int.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string.h>
#include <strings.h>

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int prefix_ci(const uint8_t *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n && strncasecmp((const char *)p, lit, n) == 0;
}

/* Printable ASCII copy (others as '?'), for reasons. */
static void show(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	size_t k = 0;
	for (; k < n && k + 1 < outlen; k++)
		out[k] = p[k] >= 0x20 && p[k] < 0x7f ? (char)p[k] : '?';
	if (outlen)
		out[k < outlen ? k : outlen - 1] = '\0';
}

/* tlsrpt-record = "v=TLSRPTv1" *(";" field) [";"], fields name=value,
 * rua = uri *("," uri) with mailto: or https: URIs. */
int check_tlsrpt_parse(const uint8_t *buf, size_t len, char *bad, size_t badlen)
{
	size_t i = 0, rua = 0;
	int first = 1;
	char shown[64];
	if (badlen)
		bad[0] = '\0';
	while (i < len) {
		while (i < len && is_ws(buf[i]))
			i++;
		size_t start = i;
		while (i < len && buf[i] != ';')
			i++;
		size_t end = i;
		while (end > start && is_ws(buf[end - 1]))
			end--;
		i++; /* past ';' (or the end) */
		if (end == start)
			continue;
		const uint8_t *f = buf + start;
		size_t fl = end - start;
		const uint8_t *eq = memchr(f, '=', fl);
		if (eq == NULL || eq == f) {
			show(shown, sizeof(shown), f, fl);
			snprintf(bad, badlen, "field '%s' is not name=value", shown);
			return 0;
		}
		if (first && !(fl == 10 && memcmp(f, "v=TLSRPTv1", 10) == 0)) {
			snprintf(bad, badlen, "the record must start with v=TLSRPTv1");
			return 0;
		}
		first = 0;
		if ((size_t)(eq - f) != 3 || strncasecmp((const char *)f, "rua", 3) != 0)
			continue;
		size_t u = (size_t)(eq - f) + 1;
		while (u < fl) {
			while (u < fl && (is_ws(f[u]) || f[u] == ','))
				u++;
			size_t us = u;
			while (u < fl && f[u] != ',')
				u++;
			size_t ue = u;
			while (ue > us && is_ws(f[ue - 1]))
				ue--;
			if (ue == us)
				continue;
			if (!prefix_ci(f + us, ue - us, "mailto:") && !prefix_ci(f + us, ue - us, "https://")) {
				show(shown, sizeof(shown), f + us, ue - us);
				snprintf(bad, badlen, "rua entry '%s' is neither mailto: nor https:", shown);
				return 0;
			}
			rua++;
		}
	}
	if (first) {
		snprintf(bad, badlen, "empty record");
		return 0;
	}
	if (rua == 0) {
		snprintf(bad, badlen, "no rua= destination");
		return 0;
	}
	return 1;
}

int check_caa_issue(const uint8_t *rd, size_t len, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	/* flags(1) tag-length(1, 1..15) tag value */
	if (rd == NULL || len < 2 || rd[1] == 0 || rd[1] > 15 || (size_t)rd[1] + 2 > len)
		return -1;
	if (!(rd[1] == 5 && strncasecmp((const char *)rd + 2, "issue", 5) == 0))
		return 0;
	show(out, outlen, rd + 7, len - 7);
	return 1;
}

/* ---- DKIM key records (RFC 6376 s3.6.1, RFC 8463 s4.2) ------------------ */

/* Tag names are case-sensitive (RFC 6376 s3.2); values trimmed. */
static int tag_is(const uint8_t *n, size_t nl, const char *t)
{
	return nl == strlen(t) && memcmp(n, t, nl) == 0;
}

int check_dkim_key_parse(const uint8_t *buf, size_t len, struct check_dkim_key *k)
{
	memset(k, 0, sizeof(*k));
	k->alg = CHECK_DKIM_RSA; /* k= default */
	const uint8_t *pv = NULL;
	size_t pl = 0, i = 0;
	int seen_p = 0, seen_k = 0, seen_t = 0, first = 1;
	while (i < len) {
		while (i < len && (is_ws(buf[i]) || buf[i] == '\r' || buf[i] == '\n'))
			i++;
		size_t s = i;
		while (i < len && buf[i] != ';')
			i++;
		size_t e = i++;
		while (e > s && (is_ws(buf[e - 1]) || buf[e - 1] == '\r' || buf[e - 1] == '\n'))
			e--;
		if (e == s)
			continue;
		const uint8_t *eq = memchr(buf + s, '=', e - s);
		if (eq == NULL) {
			snprintf(k->problem, sizeof(k->problem), "a tag without '='");
			return 0;
		}
		size_t nl = (size_t)(eq - (buf + s));
		while (nl && is_ws(buf[s + nl - 1]))
			nl--;
		const uint8_t *v = eq + 1;
		size_t vl = (size_t)(buf + e - v);
		while (vl && is_ws(*v)) {
			v++;
			vl--;
		}
		const uint8_t *n = buf + s;
		if (tag_is(n, nl, "v")) {
			if (!first || !(vl == 5 && memcmp(v, "DKIM1", 5) == 0)) {
				snprintf(k->problem, sizeof(k->problem), "v= must be first and DKIM1");
				return 0;
			}
		} else if (tag_is(n, nl, "k")) {
			if (seen_k++) {
				snprintf(k->problem, sizeof(k->problem), "duplicate k= tag");
				return 0;
			}
			k->alg = vl == 3 && strncasecmp((const char *)v, "rsa", 3) == 0 ? CHECK_DKIM_RSA
				 : vl == 7 && strncasecmp((const char *)v, "ed25519", 7) == 0 ? CHECK_DKIM_ED25519
				 : CHECK_DKIM_OTHER;
		} else if (tag_is(n, nl, "p")) {
			if (seen_p++) {
				snprintf(k->problem, sizeof(k->problem), "duplicate p= tag");
				return 0;
			}
			pv = v;
			pl = vl;
		} else if (tag_is(n, nl, "t")) {
			if (seen_t++) {
				snprintf(k->problem, sizeof(k->problem), "duplicate t= tag");
				return 0;
			}
			/* colon-separated flags; "y": testing */
			for (size_t a = 0; a < vl;) {
				while (a < vl && (is_ws(v[a]) || v[a] == ':'))
					a++;
				size_t b = a;
				while (b < vl && v[b] != ':' && !is_ws(v[b]))
					b++;
				if (b - a == 1 && (v[a] == 'y' || v[a] == 'Y'))
					k->testing = 1;
				a = b;
			}
		}
		first = 0;
	}
	if (!seen_p) {
		snprintf(k->problem, sizeof(k->problem), "no p= tag");
		return 0;
	}
	/* base64 without the folding whitespace; a bounded copy */
	unsigned char b64[CHECK_DKIM_MAX_B64 + 4], der[CHECK_DKIM_MAX_B64];
	size_t nb = 0;
	for (size_t a = 0; a < pl; a++) {
		if (is_ws(pv[a]) || pv[a] == '\r' || pv[a] == '\n')
			continue;
		if (nb == CHECK_DKIM_MAX_B64) {
			snprintf(k->problem, sizeof(k->problem), "p= longer than %d characters", CHECK_DKIM_MAX_B64);
			return 0;
		}
		b64[nb++] = pv[a];
	}
	if (nb == 0) {
		k->revoked = 1;
		return 1;
	}
	if (nb % 4 != 0) {
		snprintf(k->problem, sizeof(k->problem), "p= is not base64");
		return 0;
	}
	b64[nb] = '\0';
	int dl = EVP_DecodeBlock(der, b64, (int)nb);
	if (dl < 0) {
		snprintf(k->problem, sizeof(k->problem), "p= is not base64");
		return 0;
	}
	dl -= (b64[nb - 1] == '=') + (b64[nb - 2] == '=');
	if (k->alg == CHECK_DKIM_ED25519) {
		if (dl != 32) {
			snprintf(k->problem, sizeof(k->problem), "an Ed25519 key is 32 bytes, not %d", dl);
			return 0;
		}
		k->bits = 256;
		return 1;
	}
	if (k->alg != CHECK_DKIM_RSA) {
		snprintf(k->problem, sizeof(k->problem), "unknown key type (k=)");
		return 0;
	}
	const unsigned char *q = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, dl);
	if (pk == NULL || q != der + dl || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		snprintf(k->problem, sizeof(k->problem), "p= is not an RSA SubjectPublicKeyInfo");
		return 0;
	}
	k->bits = (unsigned)EVP_PKEY_get_bits(pk);
	EVP_PKEY_free(pk);
	return 1;
}
