/**
 * @file
 * mailsec/check.h - libmailsec-check: the posture report of a mail domain
 * (what `mailsec check DOMAIN` prints) and the records a domain must
 * publish (`mailsec setup DOMAIN`), built on librequiretls, libdane,
 * libmtasts and libspfdkim.
 *
 * A report is a list of findings.  Each finding has a stable key, the name
 * of the internet.nl mail subtest it corresponds to ("tls_version",
 * "dane_valid", "spf_policy", ...; keys of checks internet.nl does not make
 * start with "x_", e.g. "x_mta_sts"), an area (the report section), an item
 * (what was looked at: "MX records", an MX host name, "selector rsa"), a
 * status, a reason and, for warnings and failures, a one-line fix.  The
 * list of keys and their meaning is docs/check.md.
 *
 * Fail closed: a lookup that failed (SERVFAIL, timeout, bogus) is a failing
 * finding of what depended on it, never "absent" or "insecure".
 *
 * Thread safety: a report is immutable once ms_check_run() returned and may
 * be read from any thread; ms_check_run() may run concurrently on different
 * reports sharing one DNS context (the context is shareable).
 */
#ifndef MAILSEC_CHECK_H
#define MAILSEC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h> /* ms_render_free */
#include <mailsec/env.h>
#include <mailsec/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MS_CHECK_BUILDING) && defined(__GNUC__)
#define MS_CHECK_API __attribute__((visibility("default")))
#else
#define MS_CHECK_API
#endif

struct ms_dns_ctx;

/** A finding's status, ordered by severity (info is not a problem). */
enum ms_check_status {
	MS_CHECK_PASS = 0,
	MS_CHECK_INFO = 1,
	MS_CHECK_WARN = 2,
	MS_CHECK_FAIL = 3
};

/** Hard bounds of a run. */
#define MS_CHECK_MAX_MX 10          /**< MX hosts checked (most preferred) */
#define MS_CHECK_MAX_ADDRS 4        /**< addresses per MX host */
#define MS_CHECK_MAX_SELECTORS 8    /**< DKIM selectors */
#define MS_CHECK_MAX_CONNECT_TO 8   /* --connect-to entries */

#define MS_CHECK_OPTS_VERSION 1

/** What to check and how (zero members mean defaults). */
struct ms_check_opts {
	unsigned version;            /**< MS_CHECK_OPTS_VERSION */
	uint16_t port;               /**< SMTP port probed; 0: 25 (TLSA stays _25._tcp) */
	int no_probe;                /**< 1: no SMTP connections (DNS and MTA-STS only) */
	const char *ca_file;         /**< CA bundle for the MTA-STS host and the WebPKI
				      * check of MX certificates; NULL: system store */
	const char *const *connect_to; /**< curl --connect-to entries for the policy host */
	size_t nconnect_to;          /**< at most MS_CHECK_MAX_CONNECT_TO */
	const char *const *dkim_selectors; /**< selectors whose keys are checked */
	size_t ndkim_selectors;      /**< at most MS_CHECK_MAX_SELECTORS */
	int64_t now;                 /**< evaluation time (certificates); 0: the clock */
	unsigned timeout_ms;         /**< per network step; 0: library defaults */
	/** Optional: one line per step started ("probing mx1 (1.2.3.4:25)"), for
	 * a progress display; called from worker threads, serialised. */
	void (*progress)(void *user, const char *line);
	void *progress_user;
};

struct ms_check_report;
struct ms_check_finding;

/**
 * Check `domain` (a host name; normalised) through `dns` (borrowed; must
 * outlive the call) and build the report.  `env` is copied.  MX hosts are
 * probed in parallel, one thread each.  Returns MS_OK whenever a report was
 * built, whatever it found; MS_ERR_INVALID for a bad domain or options,
 * MS_ERR_NOMEM.  Free *out with ms_check_report_free().
 */
MS_CHECK_API ms_status ms_check_run(const struct ms_env *env, struct ms_dns_ctx *dns,
				    const char *domain, const struct ms_check_opts *opts,
				    struct ms_check_report **out, char *why, size_t whylen);
/** NULL-safe. */
MS_CHECK_API void ms_check_report_free(struct ms_check_report *r);

/** The checked domain, normalised (borrowed). */
MS_CHECK_API const char *ms_check_report_domain(const struct ms_check_report *r);
/** The overall verdict: the worst status other than info; *fails and *warns
 * (may be NULL) count failing and warning findings. */
MS_CHECK_API enum ms_check_status ms_check_report_verdict(const struct ms_check_report *r,
							   int *fails, int *warns);
/** Findings in report order (domain-wide, then per MX host in preference
 * order; stable across runs). */
MS_CHECK_API size_t ms_check_report_count(const struct ms_check_report *r);
/** The i-th finding (borrowed, valid until the report is freed); NULL when
 * out of range. */
MS_CHECK_API const struct ms_check_finding *ms_check_report_finding(const struct ms_check_report *r,
								     size_t i);
/** Getters (borrowed strings). fix is NULL for pass and info findings. */
MS_CHECK_API const char *ms_check_finding_key(const struct ms_check_finding *f);
MS_CHECK_API const char *ms_check_finding_area(const struct ms_check_finding *f);
MS_CHECK_API const char *ms_check_finding_item(const struct ms_check_finding *f);
MS_CHECK_API enum ms_check_status ms_check_finding_status(const struct ms_check_finding *f);
MS_CHECK_API const char *ms_check_finding_message(const struct ms_check_finding *f);
MS_CHECK_API const char *ms_check_finding_fix(const struct ms_check_finding *f);

/** "pass", "info", "warn", "fail" (static). */
MS_CHECK_API const char *ms_check_status_str(enum ms_check_status s);

/** Renderings of a report. */
enum ms_check_format {
	MS_CHECK_TEXT = 0,        /**< sections, summary with area scores, fixes */
	MS_CHECK_TEXT_COLOUR = 1, /**< the same with ANSI colours */
	MS_CHECK_JSON = 2         /**< one JSON object on one line, newline-terminated
				   * (keys: docs/cli.md) */
};

/**
 * Render the report.  *out is a NUL-terminated string (free it with ms_render_free),
 * *len (may be NULL) its length.  MS_ERR_INVALID, MS_ERR_NOMEM.
 */
MS_CHECK_API ms_status ms_check_report_render(const struct ms_check_report *r,
					      enum ms_check_format fmt, char **out, size_t *len);

/* ---- setup: what a domain publishes for receiving mail securely ------ */

#define MS_SETUP_CONFIG_VERSION 1

/** The domain's plan.  Arrays have nmx entries; key files are PEM (a private
 * key, a public key or a certificate: TLSA 3 1 1 covers the public key). */
struct ms_setup_config {
	unsigned version;               /**< MS_SETUP_CONFIG_VERSION */
	const char *domain;             /**< required */
	const char *const *mx;          /**< MX host names, most preferred first */
	const char *const *mx_key;      /**< per MX: the current key (NULL: no TLSA) */
	const char *const *mx_next_key; /**< per MX: the next key (NULL: none; then the
					 * report says a rollover record is missing) */
	size_t nmx;                     /**< 1..MS_CHECK_MAX_MX */
	const char *sts_mode;           /**< "enforce" (default), "testing" or "none" */
	uint32_t sts_max_age;           /**< 0: 604800 (one week) */
	const char *report_address;     /**< mailbox for TLSRPT and DMARC rua (required) */
	const char *dkim_selector;      /**< NULL: no DKIM record */
	const char *dkim_key;           /**< PEM private key of the selector */
	int64_t now;                    /**< the MTA-STS id's time; 0: the clock */
};

/**
 * Render every record and file the domain must publish (RFC 7672 TLSA
 * 3 1 1 for the current and the next key at _25._tcp.MX, RFC 8461
 * _mta-sts TXT with a fresh id and the policy file for
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt, RFC 8460 TLSRPT, SPF
 * "mx -all", DMARC p=reject with the report address, the DKIM key record)
 * as zone-file text (MS_CHECK_TEXT) or one JSON object (MS_CHECK_JSON).
 * free *out with ms_render_free.  MS_ERR_INVALID for a bad config,
 * MS_ERR_IO / MS_ERR_PARSE for an unreadable key file, with `why`.
 */
MS_CHECK_API ms_status ms_setup_render(const struct ms_env *env,
				       const struct ms_setup_config *cfg,
				       enum ms_check_format fmt, char **out,
				       char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif
