/*
 * der.c - a bounded DER walker that finds the SubjectPublicKeyInfo of a
 * certificate without a full X.509 parse.  DANE-EE(3) SPKI(1) records are
 * checked on every connection, and OpenSSL 3 spends most of d2i_X509 on
 * decoding the public key; hashing the SPKI bytes in place is enough.
 *
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... }
 * TBSCertificate ::= SEQUENCE { [0] EXPLICIT version OPTIONAL, serial
 *   INTEGER, signature AlgorithmIdentifier, issuer Name, validity Validity,
 *   subject Name, subjectPublicKeyInfo SEQUENCE, ... }  (RFC 5280 s4.1)
 */
#include "dane_internal.h"

/* Read one TLV header at buf[*pos] within [0, end): tag, content offset and
 * length.  DER only: definite lengths, minimal long form up to 4 bytes,
 * single-byte tags (every tag we walk is low-numbered). */
static int tlv(const uint8_t *buf, size_t end, size_t *pos, uint8_t *tag,
	       size_t *clen)
{
	size_t p = *pos;
	if (p >= end || end - p < 2)
		return -1;
	*tag = buf[p++];
	if ((*tag & 0x1f) == 0x1f)
		return -1;
	uint8_t l = buf[p++];
	size_t len;
	if (l < 0x80) {
		len = l;
	} else {
		size_t n = l & 0x7f;
		if (n == 0 || n > 4 || end - p < n)
			return -1; /* indefinite length or too long */
		if (buf[p] == 0)
			return -1; /* not minimal */
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = (len << 8) | buf[p++];
		if (len < 0x80)
			return -1; /* not minimal */
	}
	if (len > end - p)
		return -1;
	*pos = p;
	*clen = len;
	return 0;
}

/*
 * Walk the TBSCertificate up to the SubjectPublicKeyInfo; fills the spans
 * (offset, length of the whole TLV) of issuer, subject and SPKI.
 */
static int walk(const uint8_t *der, size_t len, size_t span[3][2])
{
	size_t pos = 0, clen;
	uint8_t tag;
	/* Certificate SEQUENCE, spanning the whole input. */
	if (tlv(der, len, &pos, &tag, &clen) != 0 || tag != 0x30 || pos + clen != len)
		return -1;
	/* tbsCertificate SEQUENCE */
	if (tlv(der, len, &pos, &tag, &clen) != 0 || tag != 0x30)
		return -1;
	size_t tbs_end = pos + clen;
	size_t start = pos;
	if (tlv(der, tbs_end, &pos, &tag, &clen) != 0)
		return -1;
	if (tag == 0xa0) { /* [0] version: skip */
		pos += clen;
		start = pos;
		if (tlv(der, tbs_end, &pos, &tag, &clen) != 0)
			return -1;
	}
	/* serial INTEGER, signature SEQ, issuer SEQ, validity SEQ, subject
	 * SEQ, subjectPublicKeyInfo SEQ */
	static const uint8_t want[6] = { 0x02, 0x30, 0x30, 0x30, 0x30, 0x30 };
	for (int i = 0; i < 6; i++) {
		if (i > 0) {
			start = pos;
			if (tlv(der, tbs_end, &pos, &tag, &clen) != 0)
				return -1;
		}
		if (tag != want[i])
			return -1;
		pos += clen;
		int k = i == 2 ? 0 : i == 4 ? 1 : i == 5 ? 2 : -1;
		if (k >= 0) {
			span[k][0] = start;
			span[k][1] = pos - start;
		}
	}
	return 0;
}

ms_status ms_dane_cert_spki(const uint8_t *der, size_t len, size_t *off,
			    size_t *spki_len)
{
	if (der == NULL || off == NULL || spki_len == NULL)
		return MS_ERR_INVALID;
	size_t span[3][2];
	if (walk(der, len, span) != 0)
		return MS_ERR_PARSE;
	*off = span[2][0];
	*spki_len = span[2][1];
	return MS_OK;
}

int ms_dane_cert_names(const uint8_t *der, size_t len, size_t names[2][2])
{
	size_t span[3][2];
	if (der == NULL || walk(der, len, span) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		names[i][0] = span[i][0];
		names[i][1] = span[i][1];
	}
	return 0;
}
