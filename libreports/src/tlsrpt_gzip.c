/* tlsrpt_gzip.c - the gzip (RFC 1952) of a report (RFC 8460 s5.1), and
 * the bounded gunzip of a received one. */
#include "tlsrpt_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

ms_status ms_tlsrpt_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen,
			 char *why, size_t whylen)
{
	if (out == NULL || outlen == NULL || (in == NULL && len > 0) || len > UINT32_MAX)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad gzip arguments");
	*out = NULL;
	*outlen = 0;
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return ms_why(why, whylen, MS_ERR_NOMEM, "deflateInit2 failed");
	uLong cap = deflateBound(&z, (uLong)len);
	uint8_t *buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t n = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return ms_why(why, whylen, MS_ERR_INTERNAL, "deflate did not finish (%d)", rc);
	}
	*out = buf;
	*outlen = n;
	return MS_OK;
}

ms_status ms_tlsrpt_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out,
			   size_t *outlen, char *why, size_t whylen)
{
	if (out == NULL || outlen == NULL || (in == NULL && len > 0) || len > UINT32_MAX)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad gunzip arguments");
	*out = NULL;
	*outlen = 0;
	if (len < 18 || in[0] != 0x1f || in[1] != 0x8b)
		return ms_why(why, whylen, MS_ERR_PARSE, "not gzip data");
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return ms_why(why, whylen, MS_ERR_NOMEM, "inflateInit2 failed");
	struct ms_buf b;
	ms_buf_init(&b, NULL, max);
	uint8_t chunk[16384];
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	ms_status st = MS_OK;
	int rc;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			st = ms_why(why, whylen, rc == Z_MEM_ERROR ? MS_ERR_NOMEM : MS_ERR_PARSE,
				    "corrupt gzip data (%s)", z.msg ? z.msg : "inflate error");
			break;
		}
		size_t got = sizeof(chunk) - z.avail_out;
		if (got && (st = ms_buf_append(&b, chunk, got)) != MS_OK) {
			st = ms_why(why, whylen, st, "gzip expands past %zu bytes", max);
			break;
		}
		if (rc == Z_OK && z.avail_in == 0 && got == 0) {
			st = ms_why(why, whylen, MS_ERR_PARSE, "truncated gzip data");
			break;
		}
	} while (rc != Z_STREAM_END);
	/* exactly one member: trailing bytes are not part of a report */
	if (st == MS_OK && z.avail_in != 0)
		st = ms_why(why, whylen, MS_ERR_PARSE, "%u bytes after the gzip member",
			    (unsigned)z.avail_in);
	inflateEnd(&z);
	if (st != MS_OK) {
		ms_buf_free(&b);
		return st;
	}
	*outlen = b.len;
	*out = (uint8_t *)ms_buf_steal(&b);
	if (*out == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	return MS_OK;
}
