/*
 * check_int.h - libmailsec-check internals: the report under construction.
 * Findings are collected per area (mx, dnssec, dane, mta-sts, tls, spf,
 * dmarc, dkim), each with its internet.nl key, a status, the reason and a
 * one-line fix; report.c orders them, render.c prints them.
 */
#ifndef MAILSEC_CHECK_INT_H
#define MAILSEC_CHECK_INT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <mailsec/check.h>
#include <mailsec/env.h>

#include <mailsec/dane.h>
#include <mailsec/dns.h>
#include <mailsec/requiretls_route.h>

#define check_status ms_check_status
#define CHECK_PASS MS_CHECK_PASS
#define CHECK_INFO MS_CHECK_INFO
#define CHECK_WARN MS_CHECK_WARN
#define CHECK_FAIL MS_CHECK_FAIL

#define CHECK_MAX_MX MS_CHECK_MAX_MX
#define CHECK_MAX_ADDRS MS_CHECK_MAX_ADDRS
#define CHECK_MAX_TLSA 8
#define CHECK_MAX_SELECTORS MS_CHECK_MAX_SELECTORS
#define CHECK_MAX_CONNECT_TO MS_CHECK_MAX_CONNECT_TO

struct ms_check_finding {
	struct ms_check_finding *next;
	int order;      /* 0: domain-wide, i+1: from MX host i (threads) */
	unsigned seq;   /* insertion order, for a stable sort */
	char key[32];   /* internet.nl subtest name, or x_... */
	char area[16];
	char item[320];
	enum check_status status;
	char *message;  /* why */
	char *fix;      /* what to do; NULL for pass/info */
};

/* What we learnt about one MX host. */
struct mx_host {
	const struct ms_rtls_route_host *route_host; /* owned by check.route */
	char name[256];
	uint16_t preference;
	char addrs[CHECK_MAX_ADDRS][64];
	size_t naddrs;
	enum ms_dns_security addr_security;
	/* DANE (RFC 7672) */
	enum ms_dane_dns_state dane_state;
	char dane_reason[160];
	char tlsa[CHECK_MAX_TLSA][160];
	size_t ntlsa;
	size_t usable_tlsa;
	/* probe */
	int probed;
	int starttls;            /* 1 offered and handshake done, 0 not, -1 unknown */
	int requiretls;          /* REQUIRETLS after STARTTLS */
	char tls[96];            /* protocol and cipher */
	char probe_error[200];
	enum ms_dane_verdict dane_verdict;
	int dane_ok;             /* the probed chain verified against the TLSA records */
	int dane_depth;
	char dane_matched[160];
	char dane_why[160];
	int pkix_ok;             /* certificate valid for the MX name (WebPKI) */
	char pkix_why[160];
};

struct ms_check_report {
	struct ms_env env;
	char domain[256];
	int64_t now;
	unsigned timeout_ms;
	void (*progress)(void *user, const char *line);
	void *progress_user;
	struct ms_dns_ctx *dns;
	uint16_t port;
	const char *ca_file;
	const char *connect_to[CHECK_MAX_CONNECT_TO];
	size_t nconnect_to;
	const char *selectors[CHECK_MAX_SELECTORS];
	size_t nselectors;
	int probe;               /* run live SMTP probes */
	/* results */
	struct ms_rtls_route *route; /* MX set, addresses, TLSA (mx.c) */
	enum ms_dns_security mx_security;
	int null_mx;
	int implicit_mx;
	struct mx_host mx[CHECK_MAX_MX];
	size_t nmx;
	/* MTA-STS */
	int sts_policy;          /* a policy applies */
	char sts_mode[16];
	char sts_id[40];
	char *sts_mx;            /* the policy's mx lines, comma separated */
	/* findings */
	pthread_mutex_t lock;
	struct ms_check_finding *findings, **tail;
	unsigned seq;
	/* after the run: the findings in report order */
	struct ms_check_finding **index;
	size_t nfindings;
};

/* The MX index + 1 of the host the calling thread works on (0: none), so
 * that the report lists findings in MX order whatever the thread timing. */
extern __thread int check_current_order;

/* Add a finding (thread-safe).  `key`: the internet.nl subtest name (or
 * x_...); `fix` may be NULL. */
void check_add(struct ms_check_report *c, const char *key, const char *area, const char *item,
	       enum check_status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* A progress line (serialised), when the caller asked for them. */
void check_progress(struct ms_check_report *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void check_mx(struct ms_check_report *c);
void check_dane_and_tls(struct ms_check_report *c);
void check_mtasts(struct ms_check_report *c);
void check_tlsrpt(struct ms_check_report *c);
void check_spf(struct ms_check_report *c);
void check_dmarc(struct ms_check_report *c);
void check_dkim(struct ms_check_report *c);

/* TLS quality of one MX address (tlsq.c) and the leaf certificate's own
 * properties. */
void check_tls_quality(struct ms_check_report *c, const char *item, const char *addr,
		       const char *sni);
void check_cert(struct ms_check_report *c, const char *item, const char *host,
		const struct ms_dane_cert *chain, size_t n);
void check_ns(struct ms_check_report *c);
void check_caa(struct ms_check_report *c);

/* Parsers of untrusted DNS data (parse.c; fuzz/check).
 * A TLSRPT record (RFC 8460 s3): 1 valid, 0 invalid with the reason. */
int check_tlsrpt_parse(const uint8_t *buf, size_t len, char *bad, size_t badlen);
/* A CAA rdata (RFC 8659 s4.1): 1 an "issue" property (its value, printable
 * bytes only, in out), 0 another property, -1 malformed. */
int check_caa_issue(const uint8_t *rd, size_t len, char *out, size_t outlen);

/* A DKIM key record (RFC 6376 s3.6.1 tag-list; RSA keys as
 * SubjectPublicKeyInfo, Ed25519 as 32 raw bytes, RFC 8463 s4.2): 1 parsed
 * (revoked: empty p=), 0 unusable with the reason in problem. */
enum { CHECK_DKIM_RSA = 0, CHECK_DKIM_ED25519 = 1, CHECK_DKIM_OTHER = 2 };
#define CHECK_DKIM_MAX_B64 4096 /* RSA-16384 SPKI is ~2800 characters */
struct check_dkim_key {
	int alg;
	unsigned bits;
	int revoked;
	int testing;   /* t=y */
	char problem[96];
};
int check_dkim_key_parse(const uint8_t *buf, size_t len, struct check_dkim_key *k);

/* Put the findings in report order and index them. */
void check_finish(struct ms_check_report *c);
void check_free(struct ms_check_report *c);

/* Renderings (render.c) into a stream. */
void check_render_text(const struct ms_check_report *c, FILE *f, int colour);
void check_render_json(const struct ms_check_report *c, FILE *f);

/* TXT records at `name` that start with `prefix` (case-insensitive),
 * joined; returns the number found (texts in *out, caller frees each and
 * the array), or -1 when the lookup failed (reason in why). */
int check_txt(struct ms_check_report *c, const char *name, const char *prefix,
	      char ***out, enum ms_dns_security *sec, char *why, size_t whylen);
void check_txt_free(char **txt, int n);

#endif
