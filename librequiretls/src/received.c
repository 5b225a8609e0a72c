/*
 * received.c - the Received header field a REQUIRETLS-aware receiver adds:
 * RFC 5321 s4.4 (stamp syntax), RFC 3848 (ESMTPS/ESMTPSA "with" values),
 * RFC 6531 s3.7.3 (UTF8SMTP*), RFC 8689 s4.1 ("(requiretls)" comment after
 * the "with" clause, before "id").
 */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

#include <stdio.h>
#include <string.h>

/* Append text to `out`, counting the full length even past its end. */
struct sink {
	char *out;
	size_t size;
	size_t len;
};

static void put(struct sink *s, const char *t)
{
	size_t n = strlen(t);
	if (s->len < s->size) {
		size_t room = s->size - s->len;
		memcpy(s->out + s->len, t, n < room ? n : room);
	}
	s->len += n;
}

/* Text that may go into a header comment or token: printable ASCII with
 * no parentheses or backslash (so it cannot end the comment early). */
static int safe_text(const char *t, int allow_space)
{
	if (t == NULL || *t == '\0' || strlen(t) > 255)
		return 0;
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if (c < 33 || c > 126) {
			if (!(allow_space && c == ' '))
				return 0;
		}
		if (c == '(' || c == ')' || c == '\\' || c == ';')
			return 0;
	}
	return 1;
}

static int safe_label(const char *t)
{
	if (t == NULL || *t == '\0' || strlen(t) > 32)
		return 0;
	for (; *t; t++)
		if (!rtls_is_alnum((unsigned char)*t) && *t != '-' && *t != '_' &&
		    *t != '.')
			return 0;
	return 1;
}

/* RFC 5322 s3.3 date-time in UTC, locale independent. */
static void format_date(int64_t t, char *buf, size_t n)
{
	static const char *wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days = t / 86400, secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int dow = (int)(((days % 7) + 7) % 7);
	/* civil_from_days (H. Hinnant), valid for the proleptic Gregorian calendar */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	snprintf(buf, n, "%s, %d %s %04lld %02d:%02d:%02d +0000", wd[dow], (int)d,
		 mon[m - 1], (long long)y, (int)(secs / 3600),
		 (int)(secs / 60 % 60), (int)(secs % 60));
}

static const char *sec_str(enum ms_dns_security s)
{
	/* Local names so this file needs no symbol from libmailsec-dns. */
	switch (s) {
	case MS_DNS_SECURE: return "secure";
	case MS_DNS_INSECURE: return "insecure";
	case MS_DNS_BOGUS: return "bogus";
	case MS_DNS_INDETERMINATE: return "indeterminate";
	}
	return "indeterminate";
}

ms_status ms_rtls_received_format(const struct ms_rtls_received *r, char *out,
				  size_t outsize, size_t *needed, char *why,
				  size_t whylen)
{
	if (r == NULL || (out == NULL && outsize > 0))
		return ms_why(why, whylen, MS_ERR_INVALID, "null argument");
	if (r->version < 1)
		return ms_why(why, whylen, MS_ERR_INVALID, "version not set");
	if (!safe_text(r->helo, 0) || !safe_text(r->client_ip, 0) ||
	    !safe_text(r->by, 0))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "helo, client_ip and by are required header-safe tokens");
	if ((r->client_rdns && !safe_text(r->client_rdns, 0)) ||
	    (r->id && !safe_text(r->id, 0)) ||
	    (r->for_addr && (!safe_text(r->for_addr, 0) ||
			     strpbrk(r->for_addr, "<>") != NULL)) ||
	    (r->tls_version && !safe_text(r->tls_version, 0)) ||
	    (r->tls_cipher && !safe_text(r->tls_cipher, 0)))
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "a field holds characters not allowed in a header");
	if (r->nlookups > 16 || (r->nlookups && r->lookups == NULL))
		return ms_why(why, whylen, MS_ERR_INVALID, "bad lookups list");
	for (size_t i = 0; i < r->nlookups; i++)
		if (!safe_label(r->lookups[i].what))
			return ms_why(why, whylen, MS_ERR_INVALID,
				      "bad lookup label %zu", i);

	struct sink s = {out, outsize, 0};
	put(&s, "Received: from ");
	put(&s, r->helo);
	put(&s, " (");
	if (r->client_rdns) {
		put(&s, r->client_rdns);
		put(&s, " ");
	}
	put(&s, "[");
	put(&s, r->client_ip);
	put(&s, "])\r\n\tby ");
	put(&s, r->by);
	/* RFC 3848 s1 / RFC 6531 s3.7.3: protocol name from TLS and AUTH. */
	char proto[16];
	snprintf(proto, sizeof(proto), "%s%s%s", r->smtputf8 ? "UTF8SMTP" : "ESMTP",
		 r->tls ? "S" : "", r->authenticated ? "A" : "");
	put(&s, " with ");
	put(&s, proto);
	if (r->requiretls)
		put(&s, " (requiretls)"); /* RFC 8689 s4.1 */
	if (r->tls && (r->tls_version || r->tls_cipher)) {
		put(&s, "\r\n\t(");
		if (r->tls_version)
			put(&s, r->tls_version);
		if (r->tls_version && r->tls_cipher)
			put(&s, " ");
		if (r->tls_cipher)
			put(&s, r->tls_cipher);
		put(&s, ")");
	}
	if (r->nlookups) {
		/* The DNSSEC status of the receiver's own lookups, so a
		 * reader can tell which checks rested on validated data. */
		put(&s, r->tls && (r->tls_version || r->tls_cipher) ? " (dnssec" : "\r\n\t(dnssec");
		for (size_t i = 0; i < r->nlookups; i++) {
			put(&s, " ");
			put(&s, r->lookups[i].what);
			put(&s, "=");
			put(&s, sec_str(r->lookups[i].security));
		}
		put(&s, ")");
	}
	put(&s, "\r\n\t");
	int need_space = 0;
	if (r->id) {
		put(&s, "id ");
		put(&s, r->id);
		need_space = 1;
	}
	if (r->for_addr) {
		put(&s, need_space ? " for <" : "for <");
		put(&s, r->for_addr);
		put(&s, ">");
	}
	char date[64];
	format_date(r->when, date, sizeof(date));
	put(&s, "; ");
	put(&s, date);
	if (needed)
		*needed = s.len;
	if (s.len + 1 > outsize) {
		if (outsize)
			out[0] = '\0';
		return ms_why(why, whylen, MS_ERR_LIMIT, "output buffer too small (%zu needed)",
			      s.len + 1);
	}
	out[s.len] = '\0';
	return MS_OK;
}
