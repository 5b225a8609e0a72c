/*
 * fetch.c - the HTTPS policy fetch (RFC 8461 s3.3) over libcurl.
 *
 * The rules, and how each is held:
 *   - HTTPS only, TLS 1.2 or later: CURLOPT_PROTOCOLS_STR "https",
 *     CURLOPT_SSLVERSION TLSv1_2;
 *   - PKIX validation of mta-sts.DOMAIN (RFC 6125) with SNI: libcurl's
 *     default verify-peer/verify-host, the system store or the caller's CA;
 *   - no redirects: CURLOPT_FOLLOWLOCATION 0, and any status but 200 fails;
 *   - media type text/plain (parameters such as charset allowed);
 *   - 64 KiB cap: counted in the write callback, because libcurl 7.88 does
 *     not apply CURLOPT_MAXFILESIZE to chunked bodies;
 *   - a total deadline (60 s by default) and no proxy unless configured
 *     (the *_proxy environment variables are ignored);
 *   - a delimited body: over HTTP/1.x, Content-Length or chunked.  A body
 *     that only the end of the connection delimits (HTTP/1.0 without a
 *     length) cannot be told from one an attacker cut short, because
 *     libcurl ignores a TLS close without close_notify; a cut mx list or
 *     max_age would still parse;
 *   - the domain is a host name (sts_domain_normalize) before it becomes
 *     part of the URL, so it cannot carry a port, user or path;
 *   - with a resolver (ms_sts_fetch_dns, ms_sts_get_policy) mta-sts.DOMAIN
 *     is resolved through it (resolve.c) and libcurl gets the addresses
 *     (CURLOPT_RESOLVE): it never asks the system resolver.
 */
#include "sts_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

/* curl_global_init is not thread-safe in 7.88: run it exactly once. */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	uint8_t *buf;
	size_t size, len;
	int overflow;
	size_t header_bytes;
	int header_overflow;
};

/* A policy response needs a status line and a few header fields; libcurl
 * alone would take 300 KiB of them.  Stop at this bound instead, and say
 * so. */
#define HEADER_MAX (64 * 1024)

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct sink *s = user;
	size_t n = size * nmemb;
	(void)data;
	s->header_bytes += n;
	if (s->header_bytes > HEADER_MAX) {
		s->header_overflow = 1;
		return 0; /* CURLE_WRITE_ERROR */
	}
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user)
{
	struct sink *s = user;
	size_t n = size * nmemb;
	if (n > s->size - s->len) {
		s->overflow = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return n;
}

/* 1 when the end of the body did not depend on the connection closing:
 * HTTP/2 or later (framed), a Content-Length, or chunked coding. */
static int body_delimited(CURL *c)
{
	long ver = 0;
	curl_off_t cl = -1;
	struct curl_header *h = NULL;
	curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &ver);
	if (ver != CURL_HTTP_VERSION_1_0 && ver != CURL_HTTP_VERSION_1_1)
		return 1;
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0)
		return 1;
	if (curl_easy_header(c, "Transfer-Encoding", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
	    h && h->value) {
		/* the last coding must be chunked (RFC 9112 s6.1) */
		const char *v = h->value;
		size_t n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n >= 7 && ms_ascii_ncasecmp(v + n - 7, "chunked", 7) == 0)
			return 1;
	}
	return 0;
}

/* "text/plain" optionally followed by ";" parameters (RFC 9110 s8.3.1). */
static int is_text_plain(const char *ct)
{
	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (ms_ascii_ncasecmp(ct, "text/plain", 10) != 0)
		return 0;
	ct += 10;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static enum ms_tlsrpt_result classify(CURLcode rc, ms_status *st)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		*st = MS_ERR_TLS;
		return MS_TLSRPT_STS_WEBPKI_INVALID;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		*st = MS_ERR_TLS;
		return MS_TLSRPT_STS_POLICY_FETCH_ERROR;
	case CURLE_OPERATION_TIMEDOUT:
		*st = MS_ERR_TIMEOUT;
		return MS_TLSRPT_STS_POLICY_FETCH_ERROR;
	case CURLE_UNSUPPORTED_PROTOCOL:
		*st = MS_ERR_PROTOCOL;
		return MS_TLSRPT_STS_POLICY_FETCH_ERROR;
	case CURLE_OUT_OF_MEMORY:
		/* libcurl's answer to a header line over its 100 KiB bound too */
		*st = MS_ERR_LIMIT;
		return MS_TLSRPT_STS_POLICY_FETCH_ERROR;
	default:
		*st = MS_ERR_NETWORK;
		return MS_TLSRPT_STS_POLICY_FETCH_ERROR;
	}
}

/* One ':'-separated field of a CURLOPT_CONNECT_TO entry ("[v6]" kept
 * whole) into `f`; advances *p past the ':'.  0 if it does not fit. */
static int connect_field(const char **p, char *f, size_t flen)
{
	size_t n = 0;
	int bracket = 0;
	const char *s = *p;
	for (; *s && (bracket || *s != ':'); s++) {
		if (*s == '[')
			bracket = 1;
		else if (*s == ']')
			bracket = 0;
		if (n + 1 >= flen)
			return 0;
		f[n++] = *s;
	}
	f[n] = '\0';
	*p = *s == ':' ? s + 1 : s;
	return 1;
}

/*
 * What the connect_to override "HOST:PORT:CHOST:CPORT" does to host:443:
 * 1 when it names the address to connect to (CHOST set; then no lookup is
 * made: the caller chose the address), else 0, with *port the port libcurl
 * will connect to (CPORT when only the port is replaced, else 443).
 */
static int connect_to_address(const char *connect_to, const char *host, long *port)
{
	char h[260], p[8], ch[260], cp[8];
	const char *s = connect_to;
	*port = 443;
	if (connect_to == NULL || !connect_field(&s, h, sizeof(h)) ||
	    !connect_field(&s, p, sizeof(p)) || !connect_field(&s, ch, sizeof(ch)) ||
	    !connect_field(&s, cp, sizeof(cp)))
		return 0;
	if ((h[0] && ms_ascii_ncasecmp(h, host, strlen(host) + 1) != 0) ||
	    (p[0] && strcmp(p, "443") != 0))
		return 0; /* not for this host and port */
	if (ch[0])
		return 1;
	if (cp[0])
		*port = strtol(cp, NULL, 10);
	return 0;
}

/* CURLOPT_RESOLVE entries "HOST:PORT:ADDRS" for 443 and, if the override
 * moves the port, that port too; NULL with `why` set on failure. */
static ms_status resolve_list(struct ms_dns_ctx *dns, const char *host, long port,
			      struct curl_slist **list, char *why, size_t whylen)
{
	char addrs[1024], entry[1400];
	ms_status st = sts_resolve_host(dns, host, addrs, sizeof(addrs), why, whylen);
	if (st != MS_OK)
		return st;
	long ports[2] = { 443, port };
	for (int i = 0; i < (port == 443 ? 1 : 2); i++) {
		snprintf(entry, sizeof(entry), "%s:%ld:%s", host, ports[i], addrs);
		struct curl_slist *l = curl_slist_append(*list, entry);
		if (l == NULL)
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		*list = l;
	}
	return MS_OK;
}

/* One HTTPS policy transfer: its easy handle and what it owns.  Made by
 * sts_xfer_prepare, performed by curl_easy_perform (the synchronous
 * fetch) or a multi handle (sts_async.c), judged by sts_xfer_finish. */
struct sts_xfer {
	const struct ms_env *env;
	CURL *c;
	struct sink sink;
	struct curl_slist *connect_to, *resolve;
	char errbuf[CURL_ERROR_SIZE];
	char norm[256], host[270], url[320];
	uint64_t t0;
};

void sts_xfer_free(struct sts_xfer *x)
{
	if (x == NULL)
		return;
	curl_slist_free_all(x->connect_to);
	if (x->c)
		curl_easy_cleanup(x->c);
	curl_slist_free_all(x->resolve); /* after the handle: its DNS cache held them */
	ms_free(x->env, x);
}

void *sts_xfer_easy(struct sts_xfer *x)
{
	return x ? x->c : NULL;
}

ms_status sts_curl_global(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_init_rc == CURLE_OK ? MS_OK : MS_ERR_INTERNAL;
}

static ms_status xfer_setup(struct sts_xfer *x, const struct ms_sts_fetch_config *cfg,
			    struct ms_dns_ctx *dns, enum ms_tlsrpt_result *failure, char *why,
			    size_t whylen)
{
	if (sts_curl_global() != MS_OK) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		return ms_why(why, whylen, MS_ERR_INTERNAL, "curl_global_init failed");
	}
	CURL *c = x->c = curl_easy_init();
	if (c == NULL) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		return ms_why(why, whylen, MS_ERR_NOMEM, "curl_easy_init failed");
	}
	unsigned timeout = (cfg && cfg->timeout_ms) ? cfg->timeout_ms : 60000;

	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x->sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "libmailsec-mtasts/" "0");
	/* A 64 KiB body that declares its length is refused up front too. */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)x->sink.size);
	if (cfg && cfg->proxy)
		curl_easy_setopt(c, CURLOPT_PROXY, cfg->proxy);
	else
		curl_easy_setopt(c, CURLOPT_PROXY, ""); /* ignore *_proxy env */
	if (cfg && cfg->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg && cfg->ca_path)
		curl_easy_setopt(c, CURLOPT_CAPATH, cfg->ca_path);
	if (cfg && cfg->connect_to) {
		x->connect_to = curl_slist_append(NULL, cfg->connect_to);
		if (x->connect_to == NULL) {
			*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
			return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
		}
		curl_easy_setopt(c, CURLOPT_CONNECT_TO, x->connect_to);
	}
	/* A proxy resolves the host itself; an override naming the address
	 * replaces the lookup. */
	long port = 443;
	if (dns && !(cfg && cfg->proxy) &&
	    !connect_to_address(cfg ? cfg->connect_to : NULL, x->host, &port)) {
		ms_status st = resolve_list(dns, x->host, port, &x->resolve, why, whylen);
		if (st != MS_OK) {
			*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
			return st;
		}
		curl_easy_setopt(c, CURLOPT_RESOLVE, x->resolve);
	}
	return MS_OK;
}

int sts_fetch_needs_dns(const struct ms_sts_fetch_config *cfg, const char *host)
{
	long port = 443;
	return !(cfg && (cfg->fetch || cfg->proxy)) &&
	       !connect_to_address(cfg ? cfg->connect_to : NULL, host, &port);
}

ms_status sts_xfer_prepare(const struct ms_env *env, const struct ms_sts_fetch_config *cfg,
			   struct ms_dns_ctx *dns, const char *norm, uint8_t *buf, size_t bufsize,
			   struct sts_xfer **out, enum ms_tlsrpt_result *failure, char *why,
			   size_t whylen)
{
	*out = NULL;
	struct sts_xfer *x = ms_calloc(env, 1, sizeof(*x));
	if (x == NULL) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		return ms_why(why, whylen, MS_ERR_NOMEM, "out of memory");
	}
	x->env = env;
	x->sink.buf = buf;
	x->sink.size = bufsize;
	snprintf(x->norm, sizeof(x->norm), "%s", norm);
	snprintf(x->host, sizeof(x->host), "mta-sts.%s", norm);
	snprintf(x->url, sizeof(x->url), "https://%s/.well-known/mta-sts.txt", x->host);
	x->t0 = ms_monotonic_ns();
	ms_status st = xfer_setup(x, cfg, dns, failure, why, whylen);
	if (st != MS_OK) {
		sts_xfer_log(x, st, *failure, why);
		sts_xfer_free(x);
		return st;
	}
	*out = x;
	return MS_OK;
}

void sts_xfer_log(const struct sts_xfer *x, ms_status st, enum ms_tlsrpt_result failure,
		  const char *why)
{
	if (!ms_log_enabled(x->env, MS_LOG_DEBUG))
		return;
	char ms[32];
	snprintf(ms, sizeof(ms), "%.1f", (double)(ms_monotonic_ns() - x->t0) / 1e6);
	struct ms_kv kv[] = {
		{ "domain", x->norm }, { "url", x->url }, { "status", ms_status_str(st) },
		{ "failure", ms_tlsrpt_result_name(failure) }, { "duration_ms", ms },
		{ "why", (st != MS_OK && why) ? why : "" },
	};
	ms_log(x->env, MS_LOG_DEBUG, STS_SUBSYS, "policy fetch", kv, 6);
}

ms_status sts_xfer_finish(struct sts_xfer *x, int curl_rc, size_t *len,
			  enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	CURLcode rc = (CURLcode)curl_rc;
	CURL *c = x->c;
	ms_status st = MS_OK;
	long code = 0;
	char *ct = NULL;
	*len = 0;
	*failure = MS_TLSRPT_SUCCESS;
	if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	}
	if (x->sink.header_overflow) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		st = ms_why(why, whylen, MS_ERR_LIMIT, "response headers larger than %d bytes",
			    HEADER_MAX);
	} else if (rc == CURLE_OK || ((rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED) &&
				      code != 200)) {
		/* The status decides first: a redirect or 404 is what it is. */
		if (code != 200) {
			*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
			st = ms_why(why, whylen, MS_ERR_PROTOCOL,
				    "HTTP status %ld (only 200 is accepted%s)", code,
				    code >= 300 && code < 400 ? ", redirects are not followed" : "");
		} else if (!is_text_plain(ct)) {
			*failure = MS_TLSRPT_STS_POLICY_INVALID;
			st = ms_why(why, whylen, MS_ERR_PROTOCOL,
				    "media type %s, not text/plain", ct ? ct : "(none)");
		} else if (!body_delimited(c)) {
			*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
			st = ms_why(why, whylen, MS_ERR_PROTOCOL,
				    "body length not delimited (no Content-Length, not chunked): "
				    "a truncated policy could not be detected");
		} else {
			*len = x->sink.len;
		}
	} else if (x->sink.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		st = ms_why(why, whylen, MS_ERR_LIMIT, "policy body larger than %zu bytes",
			    x->sink.size);
	} else {
		*failure = classify(rc, &st);
		st = ms_why(why, whylen, st, "%s%s",
			    x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc),
			    rc == CURLE_OUT_OF_MEMORY
				    ? " (libcurl: a response header line over 100 KiB, or no memory)" : "");
	}
	sts_xfer_log(x, st, *failure, why);
	return st;
}

ms_status ms_sts_fetch(const struct ms_env *env, const struct ms_sts_fetch_config *cfg,
		       const char *domain, uint8_t *buf, size_t bufsize, size_t *len,
		       enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	return ms_sts_fetch_dns(env, cfg, NULL, domain, buf, bufsize, len, failure, why, whylen);
}

ms_status ms_sts_fetch_dns(const struct ms_env *env, const struct ms_sts_fetch_config *cfg,
			   struct ms_dns_ctx *dns, const char *domain,
			   uint8_t *buf, size_t bufsize, size_t *len,
			   enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	enum ms_tlsrpt_result dummy;
	if (failure == NULL)
		failure = &dummy;
	*failure = MS_TLSRPT_SUCCESS;
	if (domain == NULL || buf == NULL || len == NULL || bufsize == 0) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		return ms_why(why, whylen, MS_ERR_INVALID, "missing argument");
	}
	*len = 0;
	char norm[256];
	ms_status vst = sts_domain_normalize(domain, norm, sizeof(norm), why, whylen);
	if (vst != MS_OK) {
		*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		return vst;
	}
	if (cfg && cfg->fetch) {
		char host[270], url[320];
		snprintf(host, sizeof(host), "mta-sts.%s", norm);
		snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);
		uint64_t t0 = ms_monotonic_ns();
		size_t n = 0;
		ms_status st = cfg->fetch(cfg->fetch_user, url, buf, bufsize, &n, failure, why,
					  whylen);
		if (st == MS_OK && n > bufsize) {
			st = ms_why(why, whylen, MS_ERR_INTERNAL, "fetch callback overran its buffer");
			n = 0;
		}
		if (st == MS_OK)
			*len = n;
		else if (*failure == MS_TLSRPT_SUCCESS)
			*failure = MS_TLSRPT_STS_POLICY_FETCH_ERROR;
		if (ms_log_enabled(env, MS_LOG_DEBUG)) {
			char ms[32];
			snprintf(ms, sizeof(ms), "%.1f", (double)(ms_monotonic_ns() - t0) / 1e6);
			struct ms_kv kv[] = {
				{ "domain", norm }, { "url", url }, { "status", ms_status_str(st) },
				{ "failure", ms_tlsrpt_result_name(*failure) }, { "duration_ms", ms },
				{ "why", (st != MS_OK && why) ? why : "" },
			};
			ms_log(env, MS_LOG_DEBUG, STS_SUBSYS, "policy fetch", kv, 6);
		}
		return st;
	}
	struct ms_env e;
	ms_env_init(&e, env);
	struct sts_xfer *x = NULL;
	ms_status st = sts_xfer_prepare(&e, cfg, dns, norm, buf, bufsize, &x, failure, why,
					whylen);
	if (st != MS_OK)
		return st;
	CURLcode rc = curl_easy_perform(x->c);
	st = sts_xfer_finish(x, (int)rc, len, failure, why, whylen);
	sts_xfer_free(x);
	return st;
}
