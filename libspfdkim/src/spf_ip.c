/* spf_ip.c - client address parsing, CIDR matching and the %{i}/%{c}
 * renderings (RFC 7208 s5.6, s7.3). */
#include "spf_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) is evaluated as IPv4 (s5). */
int spf_ip_parse(const char *text, struct spf_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (text == NULL)
		return -1;
	if (inet_pton(AF_INET, text, ip->b) == 1) {
		ip->v4 = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, text, ip->b) != 1)
		return -1;
	/* %{i} nibbles keep the case the address was written in (the RFC 7208
	 * suite expects it; DNS does not care). */
	for (const char *p = text; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			ip->upper = 1;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(ip->b, mapped, 12) == 0) {
		memmove(ip->b, ip->b + 12, 4);
		memset(ip->b + 4, 0, 12);
		ip->v4 = 1;
	}
	return 0;
}

int spf_ip_match(const struct spf_ip *ip, const uint8_t *net, int v4, int bits)
{
	if (ip->v4 != v4)
		return 0;
	int full = bits / 8, rest = bits % 8;
	if (memcmp(ip->b, net, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (ip->b[full] & mask) == (net[full] & mask);
}

/* Dotted quad without stdio: this runs on every check. */
static void format_v4(const uint8_t *b, char *buf, size_t buflen)
{
	char tmp[16];
	size_t o = 0;
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (v >= 100)
			tmp[o++] = (char)('0' + v / 100);
		if (v >= 10)
			tmp[o++] = (char)('0' + v / 10 % 10);
		tmp[o++] = (char)('0' + v % 10);
		if (i < 3)
			tmp[o++] = '.';
	}
	if (buflen == 0)
		return;
	if (o >= buflen)
		o = buflen - 1;
	memcpy(buf, tmp, o);
	buf[o] = '\0';
}

void spf_ip_format_i(const struct spf_ip *ip, char *buf, size_t buflen)
{
	if (ip->v4) {
		format_v4(ip->b, buf, buflen);
		return;
	}
	const char *hex = ip->upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16 && o + 4 < buflen; i++) {
		buf[o++] = hex[ip->b[i] >> 4];
		buf[o++] = '.';
		buf[o++] = hex[ip->b[i] & 15];
		if (i < 15)
			buf[o++] = '.';
	}
	buf[o] = '\0';
}

void spf_ip_format_c(const struct spf_ip *ip, char *buf, size_t buflen)
{
	if (ip->v4) {
		format_v4(ip->b, buf, buflen);
		return;
	}
	if (inet_ntop(ip->v4 ? AF_INET : AF_INET6, ip->b, buf, (socklen_t)buflen) == NULL && buflen)
		buf[0] = '\0';
}

ms_status spf_wire_name(const uint8_t *p, size_t len, char *buf, size_t buflen)
{
	size_t off = 0, o = 0;
	while (off < len && p[off] != 0) {
		size_t l = p[off];
		if (l > 63 || off + 1 + l > len)
			return MS_ERR_PARSE;
		if (o && o + 1 < buflen)
			buf[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[off + 1 + k];
			if (c < 0x20 || c >= 0x7f || c == '.' || c == '\\' || o + 1 >= buflen)
				return MS_ERR_PARSE;
			buf[o++] = (char)c;
		}
		off += 1 + l;
	}
	if (off >= len || off + 1 != len || buflen == 0)
		return MS_ERR_PARSE;
	buf[o] = '\0';
	return MS_OK;
}
