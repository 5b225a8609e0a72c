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

ms_status ms_dane_cert_spki(const uint8_t *der, size_t len, size_t *off,
			    size_t *spki_len)
{
	if (der == NULL || off == NULL || spki_len == NULL)
		return MS_ERR_INVALID;
	size_t pos = 0, clen;
	uint8_t tag;
	/* Certificate SEQUENCE, spanning the whole input. */
	if (tlv(der, len, &pos, &tag, &clen) != 0 || tag != 0x30 || pos + clen != len)
		return MS_ERR_PARSE;
	/* tbsCertificate SEQUENCE */
	if (tlv(der, len, &pos, &tag, &clen) != 0 || tag != 0x30)
		return MS_ERR_PARSE;
	size_t tbs_end = pos + clen;
	if (tlv(der, tbs_end, &pos, &tag, &clen) != 0)
		return MS_ERR_PARSE;
	if (tag == 0xa0) { /* [0] version: skip */
		pos += clen;
		if (tlv(der, tbs_end, &pos, &tag, &clen) != 0)
			return MS_ERR_PARSE;
	}
	/* serial INTEGER, signature SEQ, issuer SEQ, validity SEQ, subject SEQ */
	static const uint8_t want[5] = { 0x02, 0x30, 0x30, 0x30, 0x30 };
	for (int i = 0; i < 5; i++) {
		if (i > 0 && tlv(der, tbs_end, &pos, &tag, &clen) != 0)
			return MS_ERR_PARSE;
		if (tag != want[i])
			return MS_ERR_PARSE;
		pos += clen;
	}
	/* subjectPublicKeyInfo SEQUENCE */
	size_t start = pos;
	if (tlv(der, tbs_end, &pos, &tag, &clen) != 0 || tag != 0x30)
		return MS_ERR_PARSE;
	*off = start;
	*spki_len = pos + clen - start;
	return MS_OK;
}
