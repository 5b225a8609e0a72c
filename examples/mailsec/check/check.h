/*
 * check.h - `mailsec check DOMAIN`: a mail-domain security report built
 * from the mailsec libraries.  Findings are collected per area (mx, dnssec,
 * dane, mta-sts, tls, spf, dmarc, dkim), each with a status, the reason and
 * a one-line fix; report.c scores and prints them.
 */
#ifndef MAILSEC_CHECK_H
#define MAILSEC_CHECK_H

#include <pthread.h>
#include <stdint.h>

#include "cli.h"

#include <mailsec/dane.h>
#include <mailsec/dns.h>
#include <mailsec/requiretls_route.h>

enum check_status { CHECK_PASS = 0, CHECK_INFO = 1, CHECK_WARN = 2, CHECK_FAIL = 3 };

#define CHECK_MAX_MX 10
#define CHECK_MAX_ADDRS 4
#define CHECK_MAX_TLSA 8
#define CHECK_MAX_SELECTORS 8
#define CHECK_MAX_CONNECT_TO 8

struct finding {
	struct finding *next;
	int order;      /* 0: domain-wide, i+1: from MX host i (threads) */
	unsigned seq;   /* insertion order, for a stable sort */
	char area[16];
	char item[96];
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
	int dane_depth;
	char dane_matched[160];
	char dane_why[160];
	int pkix_ok;             /* certificate valid for the MX name (WebPKI) */
	char pkix_why[160];
};

struct check {
	struct cli *cli;
	const char *domain;
	struct ms_dns_ctx *dns;
	uint16_t port;
	const char *ca_file;
	const char *connect_to[CHECK_MAX_CONNECT_TO];
	size_t nconnect_to;
	const char *selectors[CHECK_MAX_SELECTORS];
	size_t nselectors;
	int probe;               /* run live SMTP probes */
	int progress;            /* progress lines on stderr */
	/* results */
	struct ms_rtls_route *route; /* MX set, addresses, TLSA (check_mx.c) */
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
	struct finding *findings, **tail;
};

/* The MX index + 1 of the host the calling thread works on (0: none), so
 * that the report lists findings in MX order whatever the thread timing. */
extern __thread int check_current_order;

/* Add a finding (thread-safe).  `fix` may be NULL. */
void check_add(struct check *c, const char *area, const char *item,
	       enum check_status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

void check_mx(struct check *c);
void check_dane_and_tls(struct check *c);
void check_mtasts(struct check *c);
void check_tlsrpt(struct check *c);
void check_spf(struct check *c);
void check_dmarc(struct check *c);
void check_dkim(struct check *c);

/* Print the report (human or JSON) and free the findings. */
void check_report(struct check *c);
void check_free(struct check *c);

/* TXT records at `name` that start with `prefix` (case-insensitive),
 * joined; returns the number found (texts in *out, caller frees each and
 * the array), or -1 when the lookup failed (reason in why). */
int check_txt(struct check *c, const char *name, const char *prefix,
	      char ***out, enum ms_dns_security *sec, char *why, size_t whylen);
void check_txt_free(char **txt, int n);

#endif
