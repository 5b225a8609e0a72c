/*
 * rdata.c - bounded parsers for the rdata of the types we interpret, and
 * presentation-format output.  All input is untrusted: every read is
 * checked against `len`, nothing assumes NUL termination.
 */
#include "dns_internal.h"

#include <arpa/inet.h>
#include <string.h>

/* Text of an uncompressed wire name that must span exactly `len` bytes.
 * Characters outside the plain hostname set are written as \DDD. */
static ms_status wire_name(const uint8_t *p, size_t len, size_t *used,
			   char *buf, size_t buflen, int dot)
{
	size_t off = 0, o = 0;
	if (buf == NULL || buflen == 0)
		return MS_ERR_INVALID;
	for (;;) {
		if (off >= len)
			return MS_ERR_PARSE;      /* missing root label */
		size_t l = p[off];
		if (l == 0) {
			off++;
			break;
		}
		if (l > 63)
			return MS_ERR_PARSE;      /* compression or extended label */
		if (off + 1 + l > len)
			return MS_ERR_PARSE;
		if (off + 1 + l > 255)
			return MS_ERR_PARSE;      /* name longer than 255 octets */
		if (o > 0) {
			if (o + 1 >= buflen)
				return MS_ERR_LIMIT;
			buf[o++] = '.';
		}
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[off + 1 + k];
			int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
			if (plain) {
				if (o + 1 >= buflen)
					return MS_ERR_LIMIT;
				buf[o++] = (char)ms_ascii_lower(c);
			} else {
				if (o + 4 >= buflen)
					return MS_ERR_LIMIT;
				snprintf(buf + o, 5, "\\%03u", c);
				o += 4;
			}
		}
		off += 1 + l;
	}
	if (dot || o == 0) {
		if (o + 1 >= buflen)
			return MS_ERR_LIMIT;
		buf[o++] = '.';
	}
	buf[o] = '\0';
	if (used)
		*used = off;
	return MS_OK;
}

ms_status ms_dns_parse_name(const uint8_t *rdata, size_t len, char *buf,
			    size_t buflen)
{
	size_t used = 0;
	if (rdata == NULL)
		return MS_ERR_INVALID;
	ms_status st = wire_name(rdata, len, &used, buf, buflen, 0);
	if (st == MS_OK && used != len)
		return MS_ERR_PARSE;              /* trailing bytes */
	if (st == MS_OK && strcmp(buf, ".") == 0)
		buf[0] = '\0';                    /* the root: "" in our API */
	return st;
}

ms_status ms_dns_parse_mx(const uint8_t *rdata, size_t len,
			  uint16_t *preference, char *host, size_t hostlen)
{
	if (rdata == NULL || len < 3)
		return MS_ERR_PARSE;
	if (preference)
		*preference = (uint16_t)(rdata[0] << 8 | rdata[1]);
	char tmp[1024];
	ms_status st = ms_dns_parse_name(rdata + 2, len - 2, tmp, sizeof(tmp));
	if (st != MS_OK)
		return st;
	if (host) {
		size_t n = strlen(tmp);
		if (n + 1 > hostlen)
			return MS_ERR_LIMIT;
		memcpy(host, tmp, n + 1);
	}
	return MS_OK;
}

ms_status ms_dns_parse_tlsa(const uint8_t *rdata, size_t len,
			    struct ms_dns_tlsa *out)
{
	/* RFC 6698 s2.1: three octets then the association data; an empty
	 * association field is malformed (RFC 6698 s2.1.4 leaves no room). */
	if (rdata == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (len < 4)
		return MS_ERR_PARSE;
	out->usage = rdata[0];
	out->selector = rdata[1];
	out->mtype = rdata[2];
	out->data = rdata + 3;
	out->datalen = len - 3;
	return MS_OK;
}

ms_status ms_dns_parse_txt(const uint8_t *rdata, size_t len, char *buf,
			   size_t buflen, size_t *outlen)
{
	if (rdata == NULL || buf == NULL || buflen == 0)
		return MS_ERR_INVALID;
	if (len == 0)
		return MS_ERR_PARSE;              /* TXT holds at least one string */
	size_t off = 0, o = 0;
	while (off < len) {
		size_t l = rdata[off];
		if (off + 1 + l > len)
			return MS_ERR_PARSE;
		if (o + l + 1 > buflen)
			return MS_ERR_LIMIT;
		memcpy(buf + o, rdata + off + 1, l);
		o += l;
		off += 1 + l;
	}
	buf[o] = '\0';
	if (outlen)
		*outlen = o;
	return MS_OK;
}

/* Appending writer for presentation format. */
struct out {
	char *buf;
	size_t len, cap;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...) MS_PRINTF(2, 3);
static void put(struct out *o, const char *fmt, ...)
{
	if (o->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

static void put_hex(struct out *o, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && !o->overflow; i++)
		put(o, "%02x", p[i]);
}

static ms_status put_name(struct out *o, const uint8_t *p, size_t len,
			  size_t *used)
{
	char name[1024];
	ms_status st = wire_name(p, len, used, name, sizeof(name), 1);
	if (st == MS_OK)
		put(o, "%s", name);
	return st;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static ms_status put_txt(struct out *o, const uint8_t *p, size_t len)
{
	size_t off = 0;
	if (len == 0)
		return MS_ERR_PARSE;
	while (off < len) {
		size_t l = p[off];
		if (off + 1 + l > len)
			return MS_ERR_PARSE;
		put(o, "%s\"", off ? " " : "");
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[off + 1 + k];
			if (c == '"' || c == '\\')
				put(o, "\\%c", c);
			else if (c < 0x20 || c > 0x7e)
				put(o, "\\%03u", c);
			else
				put(o, "%c", c);
		}
		put(o, "\"");
		off += 1 + l;
	}
	return MS_OK;
}

static ms_status typed_text(struct out *o, uint16_t type, const uint8_t *p,
			    size_t len)
{
	char a[INET6_ADDRSTRLEN];
	size_t used = 0;
	ms_status st;
	switch (type) {
	case MS_DNS_T_A:
	case MS_DNS_T_AAAA:
		if (len != (type == MS_DNS_T_A ? 4u : 16u))
			return MS_ERR_PARSE;
		inet_ntop(type == MS_DNS_T_A ? AF_INET : AF_INET6, p, a, sizeof(a));
		put(o, "%s", a);
		return MS_OK;
	case MS_DNS_T_NS:
	case MS_DNS_T_CNAME:
	case MS_DNS_T_PTR:
		st = put_name(o, p, len, &used);
		return st == MS_OK && used != len ? MS_ERR_PARSE : st;
	case MS_DNS_T_MX:
		if (len < 3)
			return MS_ERR_PARSE;
		put(o, "%u ", (unsigned)(p[0] << 8 | p[1]));
		st = put_name(o, p + 2, len - 2, &used);
		return st == MS_OK && used != len - 2 ? MS_ERR_PARSE : st;
	case MS_DNS_T_TXT:
		return put_txt(o, p, len);
	case MS_DNS_T_TLSA:
		if (len < 4)
			return MS_ERR_PARSE;
		put(o, "%u %u %u ", p[0], p[1], p[2]);
		put_hex(o, p + 3, len - 3);
		return MS_OK;
	case MS_DNS_T_DS:
		if (len < 5)
			return MS_ERR_PARSE;
		put(o, "%u %u %u ", (unsigned)(p[0] << 8 | p[1]), p[2], p[3]);
		put_hex(o, p + 4, len - 4);
		return MS_OK;
	case MS_DNS_T_SOA: {
		size_t u1 = 0, u2 = 0;
		if ((st = put_name(o, p, len, &u1)) != MS_OK)
			return st;
		put(o, " ");
		if ((st = put_name(o, p + u1, len - u1, &u2)) != MS_OK)
			return st;
		if (len - u1 - u2 != 20)
			return MS_ERR_PARSE;
		const uint8_t *n = p + u1 + u2;
		put(o, " %u %u %u %u %u", be32(n), be32(n + 4), be32(n + 8),
		    be32(n + 12), be32(n + 16));
		return MS_OK;
	}
	default:
		return MS_ERR_UNSUPPORTED;
	}
}

ms_status ms_dns_rdata_to_text(uint16_t type, const uint8_t *rdata, size_t len,
			       char *buf, size_t buflen)
{
	if (buf == NULL || buflen == 0 || (rdata == NULL && len > 0))
		return MS_ERR_INVALID;
	struct out o = { buf, 0, buflen, 0 };
	ms_status st = typed_text(&o, type, rdata, len);
	if (st == MS_ERR_UNSUPPORTED || st == MS_ERR_PARSE) {
		/* RFC 3597 s5: the generic form keeps malformed data visible. */
		ms_status generic = st;
		o.len = 0;
		o.overflow = 0;
		put(&o, "\\# %zu", len);
		if (len)
			put(&o, " ");
		put_hex(&o, rdata, len);
		st = generic == MS_ERR_PARSE ? MS_ERR_PARSE : MS_OK;
	}
	buf[o.len < buflen ? o.len : buflen - 1] = '\0';
	if (o.overflow)
		return MS_ERR_LIMIT;
	return st;
}
