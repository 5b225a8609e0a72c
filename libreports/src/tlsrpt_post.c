/*
 * tlsrpt_post.c - a report by HTTPS POST (RFC 8460 s5.2): the gzip as
 * application/tlsrpt+gzip, HTTPS only (TLS 1.2 or later, the server's
 * certificate checked for the URI's host), no redirects, the host's
 * addresses from libdnssec-stub (CURLOPT_RESOLVE: the system resolver is
 * never asked, a failed lookup fails the POST), 2xx is success.
 */
#include "tlsrpt_internal.h"
#include "tlsrpt_send_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The response body is not needed (a 2xx is the whole answer): discarded. */
static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* "host" and port of an https: URI. */
static int uri_host(const char *uri, char *host, size_t hostlen, long *port)
{
	const char *h = uri + 8;
	size_t hl = strcspn(h, ":/?#");
	if (hl == 0 || hl >= hostlen)
		return 0;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = 443;
	if (h[hl] == ':') {
		char *end;
		*port = strtol(h + hl + 1, &end, 10);
		if (*port <= 0 || *port > 65535 || (*end && *end != '/' && *end != '?' && *end != '#'))
			return 0;
	}
	return 1;
}

/* The port a test's CONNECT_TO "HOST:PORT::CPORT" moves to, else 0. */
static long connect_port(const char *ct)
{
	const char *p = ct;
	for (int i = 0; i < 3 && p; i++) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	return p ? strtol(p, NULL, 10) : 0;
}

ms_status tlsrpt_post(struct ms_dns_ctx *dns, const char *uri, const struct ms_tlsrpt_report *rep,
		      const struct ms_tlsrpt_send_opts *o, char *detail, size_t dlen)
{
	char host[256];
	long port;
	if (!uri_host(uri, host, sizeof(host), &port))
		return ms_why(detail, dlen, MS_ERR_INVALID, "bad https URI");
	/* the host's addresses from our validating resolver, fail closed */
	struct ms_dns_result *res = NULL;
	char why[200] = "";
	ms_status st = ms_dns_lookup_addr(dns, host, &res, why, sizeof(why));
	if (st != MS_OK)
		return ms_why(detail, dlen, st, "address lookup of %s: %s", host, why);
	if (ms_dns_result_failed(res) || ms_dns_result_count(res) == 0) {
		/* fail closed: a failed lookup and "no address" both stop the POST */
		st = ms_dns_result_outcome(res) == MS_DNS_TIMEOUT ? MS_ERR_TIMEOUT : MS_ERR_NETWORK;
		ms_why(detail, dlen, st, "address lookup of %s: %s, %s", host,
		       ms_dns_outcome_str(ms_dns_result_outcome(res)),
		       ms_dns_security_str(ms_dns_result_security(res)));
		ms_dns_result_free(res);
		return st;
	}
	char addrs[1024] = "";
	size_t al = 0;
	for (size_t i = 0; i < ms_dns_result_count(res) && i < 8; i++) {
		char a[64];
		if (ms_dns_result_addr(res, i, a, sizeof(a)) != MS_OK)
			continue;
		int v6 = strchr(a, ':') != NULL;
		al += (size_t)snprintf(addrs + al, sizeof(addrs) - al, "%s%s%s%s", al ? "," : "",
				       v6 ? "[" : "", a, v6 ? "]" : "");
	}
	ms_dns_result_free(res);

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return ms_why(detail, dlen, MS_ERR_INTERNAL, "curl_global_init failed");
	CURL *c = curl_easy_init();
	if (c == NULL)
		return ms_why(detail, dlen, MS_ERR_NOMEM, "curl_easy_init failed");
	struct curl_slist *hdrs = NULL, *resolve = NULL, *connect_to = NULL;
	char entry[1400], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(entry, sizeof(entry), "%s:%ld:%s", host, port, addrs);
	resolve = curl_slist_append(resolve, entry);
	long cport = o->https_connect_to ? connect_port(o->https_connect_to) : 0;
	if (cport > 0 && cport != port) {
		snprintf(entry, sizeof(entry), "%s:%ld:%s", host, cport, addrs);
		resolve = curl_slist_append(resolve, entry);
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/tlsrpt+gzip");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (o->https_connect_to)
		connect_to = curl_slist_append(NULL, o->https_connect_to);
	unsigned timeout = o->timeout_ms ? o->timeout_ms : 60000;
	curl_easy_setopt(c, CURLOPT_URL, uri);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	if (connect_to)
		curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
	if (o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)rep->gz);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rep->gz_len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "libmailsec-reports/0");
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	curl_slist_free_all(connect_to);
	if (rc != CURLE_OK) {
		st = rc == CURLE_OPERATION_TIMEDOUT ? MS_ERR_TIMEOUT
		     : (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR)
			     ? MS_ERR_TLS
			     : MS_ERR_NETWORK;
		return ms_why(detail, dlen, st, "POST failed: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	if (code < 200 || code > 299)
		return ms_why(detail, dlen, MS_ERR_PROTOCOL, "HTTP %ld", code);
	ms_why(detail, dlen, MS_OK, "HTTP %ld", code);
	return MS_OK;
}
