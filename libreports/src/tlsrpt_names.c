/* tlsrpt_names.c - days, times, names and the s5.1 file name. */
#include "tlsrpt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ms_tlsrpt_free(void *p)
{
	free(p);
}

void tlsrpt_day_of(int64_t t, char day[11])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	snprintf(day, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

int64_t tlsrpt_day_start(const char *day)
{
	if (day == NULL || strlen(day) != 10 || day[4] != '-' || day[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9'))
			return -1;
	struct tm tm = { 0 };
	tm.tm_year = atoi(day) - 1900;
	tm.tm_mon = atoi(day + 5) - 1;
	tm.tm_mday = atoi(day + 8);
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	time_t t = timegm(&tm);
	char back[11];
	tlsrpt_day_of((int64_t)t, back);
	return strcmp(back, day) == 0 ? (int64_t)t : -1; /* 2026-02-31 is not a day */
}

void tlsrpt_rfc3339(int64_t t, char buf[21])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	snprintf(buf, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

int tlsrpt_hostname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

ms_status ms_tlsrpt_filename(const char *submitter, const char *policy_domain, int64_t begin,
			     int64_t end, const char *unique, int gzip, char *buf, size_t buflen)
{
	/* s5.1: sender "!" policy-domain "!" begin-timestamp "!" end-timestamp
	 * [ "!" unique-id ] "." extension, timestamps in seconds since the
	 * epoch, unique-id 1*(ALPHA / DIGIT), extension "json" / "json.gz". */
	if (buf == NULL || !tlsrpt_hostname_ok(submitter) || !tlsrpt_hostname_ok(policy_domain) ||
	    begin < 0 || end < begin)
		return MS_ERR_INVALID;
	if (unique) {
		if (unique[0] == '\0')
			return MS_ERR_INVALID;
		for (const char *p = unique; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9')))
				return MS_ERR_INVALID;
	}
	int n = snprintf(buf, buflen, "%s!%s!%lld!%lld%s%s.json%s", submitter, policy_domain,
			 (long long)begin, (long long)end, unique ? "!" : "", unique ? unique : "",
			 gzip ? ".gz" : "");
	if (n < 0 || (size_t)n >= buflen)
		return MS_ERR_LIMIT;
	return MS_OK;
}
