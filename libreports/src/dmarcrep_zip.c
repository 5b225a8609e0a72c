/*
 * dmarcrep_zip.c - gzip out, and gzip / zip / plain XML in, with zlib.
 * Every output is bounded by the caller's maximum however the input is
 * compressed (a zip bomb stops at the bound with MS_ERR_LIMIT).  Zip: the
 * central directory is read from the end-of-central-directory record, the
 * first ".xml" entry is inflated raw (method 8) or copied (method 0);
 * zip64, encryption and multi-disk archives are refused.
 */
#include "dmarcrep_internal.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

ms_status ms_dmarcrep_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen,
			   char *why, size_t whylen)
{
	if ((in == NULL && len) || out == NULL || outlen == NULL || len > UINT32_MAX)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	*outlen = 0;
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return ms_why(why, whylen, MS_ERR_NOMEM, "zlib: deflateInit2");
	size_t cap = deflateBound(&z, (uLong)len) + 32;
	uint8_t *b = malloc(cap);
	if (b == NULL) {
		deflateEnd(&z);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = b;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(b);
		return ms_why(why, whylen, MS_ERR_INTERNAL, "zlib: deflate %d", rc);
	}
	*out = b;
	*outlen = n;
	return MS_OK;
}

/* Inflate `len` bytes (windowBits as zlib takes them) into at most `max`
 * bytes.  `whole`: the stream must end exactly at the input's end. */
static ms_status inflate_bounded(const uint8_t *in, size_t len, int wbits, size_t max,
				 uint8_t **out, size_t *outlen, char *why, size_t whylen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wbits) != Z_OK)
		return ms_why(why, whylen, MS_ERR_NOMEM, "zlib: inflateInit2");
	size_t cap = len * 4 + 1024 < max ? len * 4 + 1024 : max;
	uint8_t *b = malloc(cap + 1);
	ms_status st = MS_OK;
	if (b == NULL) {
		inflateEnd(&z);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	size_t n = 0;
	const uint8_t *p = in;
	size_t left = len;
	int rc = Z_OK;
	while (rc != Z_STREAM_END) {
		if (n == cap) {
			if (cap >= max) {
				st = ms_why(why, whylen, MS_ERR_LIMIT,
					    "decompressed report larger than %zu bytes", max);
				break;
			}
			size_t nc = cap * 2 < max ? cap * 2 : max;
			uint8_t *nb = realloc(b, nc + 1);
			if (nb == NULL) {
				st = ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
				break;
			}
			b = nb;
			cap = nc;
		}
		/* feed the input in pieces: avail_in is 32 bits */
		uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
		z.next_in = (Bytef *)(uintptr_t)p;
		z.avail_in = chunk;
		z.next_out = b + n;
		z.avail_out = (uInt)(cap - n);
		rc = inflate(&z, Z_NO_FLUSH);
		p += chunk - z.avail_in;
		left -= chunk - z.avail_in;
		n = cap - z.avail_out;
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_BUF_ERROR && z.avail_out != 0 && left == 0) {
			st = ms_why(why, whylen, MS_ERR_PARSE, "compressed data truncated");
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			st = ms_why(why, whylen, MS_ERR_PARSE, "compressed data damaged (zlib %d%s%s)",
				    rc, z.msg ? ": " : "", z.msg ? z.msg : "");
			break;
		}
	}
	inflateEnd(&z);
	if (st != MS_OK) {
		free(b);
		return st;
	}
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return MS_OK;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static ms_status unzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen,
		       char *why, size_t whylen)
{
	/* end of central directory: 22 bytes plus a comment of up to 65535 */
	if (len < 22)
		return ms_why(why, whylen, MS_ERR_PARSE, "zip: too short");
	size_t eocd = SIZE_MAX;
	size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
	for (size_t i = len - 22 + 1; i-- > lo;)
		if (le32(in + i) == 0x06054b50u) {
			eocd = i;
			break;
		}
	if (eocd == SIZE_MAX)
		return ms_why(why, whylen, MS_ERR_PARSE, "zip: no end of central directory");
	const uint8_t *e = in + eocd;
	if (le16(e + 4) != 0 || le16(e + 6) != 0)
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "zip: multi-disk archive");
	size_t nent = le16(e + 10);
	uint32_t cdsize = le32(e + 12), cdoff = le32(e + 16);
	if (cdoff == 0xffffffffu || nent == 0xffff)
		return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "zip: zip64 archive");
	if ((size_t)cdoff > eocd || (size_t)cdsize > eocd - cdoff)
		return ms_why(why, whylen, MS_ERR_PARSE, "zip: central directory out of range");
	size_t off = cdoff, end = (size_t)cdoff + cdsize;
	for (size_t k = 0; k < nent; k++) {
		if (end - off < 46 || le32(in + off) != 0x02014b50u)
			return ms_why(why, whylen, MS_ERR_PARSE, "zip: bad central directory entry");
		const uint8_t *c = in + off;
		uint16_t flags = le16(c + 8), method = le16(c + 10);
		uint32_t csize = le32(c + 20), usize = le32(c + 24);
		size_t nlen = le16(c + 28), xlen = le16(c + 30), clen = le16(c + 32);
		uint32_t loff = le32(c + 42);
		if (end - off - 46 < nlen + xlen + clen)
			return ms_why(why, whylen, MS_ERR_PARSE, "zip: entry name out of range");
		const char *name = (const char *)c + 46;
		off += 46 + nlen + xlen + clen;
		if (nlen < 4 || ms_ascii_ncasecmp(name + nlen - 4, ".xml", 4) != 0)
			continue;
		if (flags & 1)
			return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "zip: encrypted entry");
		if (csize == 0xffffffffu || usize == 0xffffffffu || loff == 0xffffffffu)
			return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "zip: zip64 entry");
		if ((size_t)loff > len || len - loff < 30 || le32(in + loff) != 0x04034b50u)
			return ms_why(why, whylen, MS_ERR_PARSE, "zip: bad local header");
		size_t data = (size_t)loff + 30 + le16(in + loff + 26) + le16(in + loff + 28);
		if (data > len || len - data < csize)
			return ms_why(why, whylen, MS_ERR_PARSE, "zip: entry data out of range");
		if (usize > max)
			return ms_why(why, whylen, MS_ERR_LIMIT,
				      "zip: entry larger than %zu bytes", max);
		if (method == 0) {
			if (csize != usize)
				return ms_why(why, whylen, MS_ERR_PARSE, "zip: stored sizes differ");
			uint8_t *b = malloc((size_t)csize + 1);
			if (b == NULL)
				return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
			memcpy(b, in + data, csize);
			b[csize] = '\0';
			*out = b;
			*outlen = csize;
			return MS_OK;
		}
		if (method != 8)
			return ms_why(why, whylen, MS_ERR_UNSUPPORTED, "zip: method %u", method);
		/* the declared size bounds the output too: a lying entry stops */
		return inflate_bounded(in + data, csize, -15, usize, out, outlen, why, whylen);
	}
	return ms_why(why, whylen, MS_ERR_PARSE, "zip: no .xml entry");
}

ms_status ms_dmarcrep_unpack(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
			     size_t *outlen, char *why, size_t whylen)
{
	if ((in == NULL && len) || out == NULL || outlen == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	*out = NULL;
	*outlen = 0;
	size_t max = max_out ? max_out : MS_DMARCREP_MAX_XML;
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b)
		return inflate_bounded(in, len, 15 + 16, max, out, outlen, why, whylen);
	if (len >= 4 && memcmp(in, "PK\3\4", 4) == 0)
		return unzip(in, len, max, out, outlen, why, whylen);
	if (len > max)
		return ms_why(why, whylen, MS_ERR_LIMIT, "report larger than %zu bytes", max);
	uint8_t *b = malloc(len + 1);
	if (b == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	if (len)
		memcpy(b, in, len);
	b[len] = '\0';
	*out = b;
	*outlen = len;
	return MS_OK;
}
