/**
 * @file
 * mailsec/tlsrpt.h - SMTP TLS Reporting (RFC 8460), the sending side and
 * the receiving side, in libmailsec-reports.
 *
 * Data flow (docs/reports.md):
 *   delivery attempt (librequiretls, ms_rtls_deliver_opts.observer)
 *     -> recorder (ms_tlsrpt_recorder_observe: buffered, one transaction
 *        per batch) -> store (struct ms_tlsrpt_store_ops, SQLite default)
 *     -> report of one UTC day and policy domain (ms_tlsrpt_report_build:
 *        the s4 JSON, gzip, the s5.1 file name, the Report-ID)
 *     -> delivery (ms_tlsrpt_send: the domain's own _smtp._tls rua, s3,
 *        over HTTPS POST s5.2 and mail s5.3 with TLS-Required: No)
 *   received report (JSON, gzip, or the whole multipart/report mail)
 *     -> ms_tlsrpt_parse -> struct ms_tlsrpt_parsed -> JSON or table.
 *
 * Result and policy types are enum ms_tlsrpt_result and enum
 * ms_tlsrpt_policy_type of mailsec/tlsrpt_result.h (libmailsec-dns).
 *
 * Conventions: calls return ms_status and fill a `why` buffer; opaque
 * handles are freed with their *_free call (NULL-safe); strings and
 * buffers a call returns are the caller's, freed with ms_tlsrpt_free().
 * Thread safety: a recorder may be shared by threads (a mutex guards its
 * buffer); the SQLite store serialises its own calls; other handles are
 * not thread-safe.
 */
#ifndef MAILSEC_TLSRPT_H
#define MAILSEC_TLSRPT_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/requiretls_deliver.h>
#include <mailsec/status.h>
#include <mailsec/tlsrpt_result.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MS_REPORTS_BUILDING) && defined(__GNUC__)
#define MS_TLSRPT_API __attribute__((visibility("default")))
#else
#define MS_TLSRPT_API
#endif

struct ms_dkim_key; /**< mailsec/dkim.h */
struct ms_sts;      /**< mailsec/mtasts.h */

/** Hard bounds. */
#define MS_TLSRPT_MAX_REPORT (8u << 20)     /**< bytes of a report's JSON */
#define MS_TLSRPT_MAX_MAIL (12u << 20)      /**< bytes of a report mail parsed */
#define MS_TLSRPT_MAX_POLICIES 1000         /**< policies per report */
#define MS_TLSRPT_MAX_DETAILS 10000         /**< failure-details per policy */
#define MS_TLSRPT_MAX_STRINGS 64            /**< policy-strings / mx-hosts per policy */
#define MS_TLSRPT_MAX_RUA 8                 /**< rua destinations per record */
#define MS_TLSRPT_MAX_FIELD 1024            /**< bytes of a reason, a name */
#define MS_TLSRPT_MAX_STRING 16384          /**< bytes of one policy string (a TLSA
					       record with a whole certificate) */

/** Free a string or buffer this library returned; NULL-safe. */
MS_TLSRPT_API void ms_tlsrpt_free(void *p);

/* ---- the store (the one store shape of issue 19) ------------------------ */

/**
 * One aggregated counter row: how many sessions of UTC day `day` for one
 * policy (domain, type, strings) went to one MX host and address with one
 * result and reason.  Strings are NUL-terminated; policy_strings and
 * mx_patterns are joined with '\n' (as stored, bounded by
 * MS_TLSRPT_MAX_STRINGS * MS_TLSRPT_MAX_STRING).
 */
struct ms_tlsrpt_row {
	char day[11];                     /**< "YYYY-MM-DD" (UTC) */
	const char *policy_domain;        /**< A-labels, lower case */
	enum ms_tlsrpt_policy_type policy_type;
	const char *policy_strings;       /**< "" for no-policy-found */
	const char *mx_patterns;          /**< STS "mx" values, "" otherwise */
	const char *mx_host;              /**< receiving-mx-hostname */
	const char *addr;                 /**< receiving-ip, "" when none */
	enum ms_tlsrpt_result result;     /**< SUCCESS for a successful session */
	const char *reason;               /**< failure-reason-code, "" on success */
	uint64_t count;
};

/** Called by get for each row; return nonzero to stop. */
typedef int (*ms_tlsrpt_row_fn)(void *arg, const struct ms_tlsrpt_row *row);

#define MS_TLSRPT_STORE_OPS_VERSION 1

/**
 * A store.  `impl` is the store's own state.  Every call returns MS_OK or
 * a negative ms_status with `why` filled; a store that cannot be reached
 * answers MS_ERR_IO (temporary).
 *  - open: prepare (create the schema); called once by ms_tlsrpt_store_new.
 *  - get: every row of `day` for `policy_domain` (NULL: every domain), in
 *    a stable order, to `fn`.
 *  - put: add row->count to the row with the same key (day, domain, type,
 *    strings, mx patterns, host, address, result, reason), atomically.
 *  - batch: put `n` rows in one transaction (all or none).
 *  - expire: delete the rows of days before `before_day`.
 *  - close: release `impl` (may be NULL).
 */
struct ms_tlsrpt_store_ops {
	unsigned version; /**< MS_TLSRPT_STORE_OPS_VERSION */
	ms_status (*open)(void *impl, char *why, size_t whylen);
	ms_status (*get)(void *impl, const char *day, const char *policy_domain,
			 ms_tlsrpt_row_fn fn, void *arg, char *why, size_t whylen);
	ms_status (*put)(void *impl, const struct ms_tlsrpt_row *row, char *why, size_t whylen);
	ms_status (*batch)(void *impl, const struct ms_tlsrpt_row *rows, size_t n, char *why,
			   size_t whylen);
	ms_status (*expire)(void *impl, const char *before_day, char *why, size_t whylen);
	void (*close)(void *impl);
};

struct ms_tlsrpt_store;

/**
 * Wrap a custom store and open it.
 * @param env hooks (NULL: defaults)
 * @param ops the store's functions (copied)
 * @param impl owned by the store from now on (closed by
 * ms_tlsrpt_store_free, also when this call fails)
 * @param out receives the store (free with ms_tlsrpt_store_free)
 * @param why receives a reason on failure
 * @param whylen size of why
 * @return MS_OK, MS_ERR_INVALID (NULL or incomplete ops, unknown version),
 *         MS_ERR_NOMEM, or open's error
 */
MS_TLSRPT_API ms_status ms_tlsrpt_store_new(const struct ms_env *env,
					    const struct ms_tlsrpt_store_ops *ops, void *impl,
					    struct ms_tlsrpt_store **out, char *why, size_t whylen);
/**
 * Open (creating if needed) the SQLite store at `path` (WAL mode, busy
 * timeout 5 s, schema version checked: MS_ERR_IO for a file that is not a
 * TLSRPT store of this version).
 */
MS_TLSRPT_API ms_status ms_tlsrpt_store_open_sqlite(const struct ms_env *env, const char *path,
						    struct ms_tlsrpt_store **out, char *why,
						    size_t whylen);
/** NULL-safe. */
MS_TLSRPT_API void ms_tlsrpt_store_free(struct ms_tlsrpt_store *s);
/** The store's get, put, batch and expire, argument-checked. */
MS_TLSRPT_API ms_status ms_tlsrpt_store_get(struct ms_tlsrpt_store *s, const char *day,
					    const char *policy_domain, ms_tlsrpt_row_fn fn,
					    void *arg, char *why, size_t whylen);
MS_TLSRPT_API ms_status ms_tlsrpt_store_put(struct ms_tlsrpt_store *s,
					    const struct ms_tlsrpt_row *row, char *why,
					    size_t whylen);
MS_TLSRPT_API ms_status ms_tlsrpt_store_batch(struct ms_tlsrpt_store *s,
					      const struct ms_tlsrpt_row *rows, size_t n,
					      char *why, size_t whylen);
MS_TLSRPT_API ms_status ms_tlsrpt_store_expire(struct ms_tlsrpt_store *s, const char *before_day,
					       char *why, size_t whylen);

/* ---- recording ---------------------------------------------------------- */

#define MS_TLSRPT_RECORDER_OPTS_VERSION 1

struct ms_tlsrpt_recorder_opts {
	unsigned version;      /**< MS_TLSRPT_RECORDER_OPTS_VERSION */
	/** Distinct rows buffered before a flush (0: 256, at most 65536);
	 * attempts with the same key only increment a buffered row. */
	size_t batch_rows;
	/** Seconds after the oldest buffered attempt that the next observed
	 * attempt flushes the buffer (0: 60). */
	unsigned flush_seconds;
};

struct ms_tlsrpt_recorder;

/**
 * A recorder writing through `store` (borrowed; must outlive it).  The env
 * clock dates each attempt (its UTC day).  `opts` may be NULL.
 */
MS_TLSRPT_API ms_status ms_tlsrpt_recorder_new(const struct ms_env *env,
					       struct ms_tlsrpt_store *store,
					       const struct ms_tlsrpt_recorder_opts *opts,
					       struct ms_tlsrpt_recorder **out, char *why,
					       size_t whylen);
/**
 * The attempt observer (ms_rtls_attempt_observer_fn): set
 * ms_rtls_deliver_opts.observer = ms_tlsrpt_recorder_observe and
 * observer_arg = the recorder.  Buffers the attempt (copies what it keeps)
 * and flushes a full or old buffer in one store batch.  A failed write is
 * logged (warning "tlsrpt rows not written") and counted
 * (tlsrpt_record_failed_total), never returned into the delivery.
 */
MS_TLSRPT_API void ms_tlsrpt_recorder_observe(void *recorder,
					      const struct ms_rtls_tlsrpt_event *ev);
/** Write the buffer in one store batch; the rows stay buffered on failure. */
MS_TLSRPT_API ms_status ms_tlsrpt_recorder_flush(struct ms_tlsrpt_recorder *r, char *why,
						 size_t whylen);
/** Attempts observed / rows buffered now (for tests and metrics). */
MS_TLSRPT_API uint64_t ms_tlsrpt_recorder_observed(const struct ms_tlsrpt_recorder *r);
MS_TLSRPT_API size_t ms_tlsrpt_recorder_pending(const struct ms_tlsrpt_recorder *r);
/** Flush (a failure is logged) and free; NULL-safe. */
MS_TLSRPT_API void ms_tlsrpt_recorder_free(struct ms_tlsrpt_recorder *r);

/* ---- reporting ---------------------------------------------------------- */

#define MS_TLSRPT_REPORT_OPTS_VERSION 1

struct ms_tlsrpt_report_opts {
	unsigned version;          /**< MS_TLSRPT_REPORT_OPTS_VERSION */
	const char *org_name;      /**< s4.4 organization-name (required) */
	const char *contact;       /**< s4.4 contact-info (required: mailto or URI) */
	/** The sending domain (the report's "sender" in the s5.1 file name and
	 * the right side of the Report-ID; required, a host name). */
	const char *submitter;
	const char *day;           /**< "YYYY-MM-DD", the UTC day reported */
	const char *policy_domain; /**< the domain reported on */
};

/** A built report; every pointer owned by it. */
struct ms_tlsrpt_report {
	char *json;                /**< RFC 8460 s4 JSON, NUL-terminated */
	size_t json_len;
	uint8_t *gz;               /**< the same, gzip (s5.1) */
	size_t gz_len;
	char *filename;            /**< s5.1: sender!domain!begin!end.json.gz */
	char *report_id;           /**< s4.4 report-id, also the mail's Report-ID */
	char *policy_domain;
	char *submitter;
	int64_t begin, end;        /**< the day's first second, and the next day's */
	uint64_t sessions;         /**< successful + failed sessions in it */
};

/**
 * Build the report of one UTC day and policy domain from the store:
 * policies grouped by (type, strings), each with its summary counts and
 * failure details (result, receiving MX host and IP, reason), s4.
 * @return MS_OK (also with no sessions: *out->sessions == 0, no policy),
 *         MS_ERR_INVALID for missing options or a malformed day/domain,
 *         MS_ERR_LIMIT past the hard bounds, the store's error
 * Free *out with ms_tlsrpt_report_free().
 */
MS_TLSRPT_API ms_status ms_tlsrpt_report_build(const struct ms_env *env,
					       struct ms_tlsrpt_store *store,
					       const struct ms_tlsrpt_report_opts *opts,
					       struct ms_tlsrpt_report **out, char *why,
					       size_t whylen);
MS_TLSRPT_API void ms_tlsrpt_report_free(struct ms_tlsrpt_report *r);

/**
 * The s5.1 file name "sender!policy-domain!begin!end[!unique].json[.gz]"
 * (unique: NULL or 1*(ALPHA/DIGIT)); MS_ERR_INVALID for names with '!' or
 * '/', MS_ERR_LIMIT when it does not fit `buflen`.
 */
MS_TLSRPT_API ms_status ms_tlsrpt_filename(const char *submitter, const char *policy_domain,
					   int64_t begin, int64_t end, const char *unique,
					   int gzip, char *buf, size_t buflen);

/** gzip (RFC 1952) `len` bytes; *out freed with ms_tlsrpt_free. */
MS_TLSRPT_API ms_status ms_tlsrpt_gzip(const uint8_t *in, size_t len, uint8_t **out,
				       size_t *outlen, char *why, size_t whylen);
/** gunzip at most `max` output bytes (MS_ERR_LIMIT beyond, MS_ERR_PARSE
 * for data that is not one complete gzip member). */
MS_TLSRPT_API ms_status ms_tlsrpt_gunzip(const uint8_t *in, size_t len, size_t max,
					 uint8_t **out, size_t *outlen, char *why,
					 size_t whylen);

/* ---- discovery (RFC 8460 s3) ------------------------------------------- */

struct ms_tlsrpt_rua {
	size_t n;                              /**< 0: the domain publishes none */
	char uri[MS_TLSRPT_MAX_RUA][512];      /**< "mailto:..." or "https://..." */
	enum ms_dns_security security;         /**< of the TXT answer */
};

/**
 * Parse one TXT record's text as a TLSRPT policy (s3): "v=TLSRPTv1" first,
 * then "rua=" with comma-separated mailto:/https: URIs (others ignored,
 * "%2C"/"%3B" percent-escapes kept as is).  MS_ERR_PARSE when the record
 * is not a TLSRPT record or has no usable rua.
 */
MS_TLSRPT_API ms_status ms_tlsrpt_record_parse(const uint8_t *txt, size_t len,
					       struct ms_tlsrpt_rua *out, char *why,
					       size_t whylen);
/**
 * Look up _smtp._tls.DOMAIN TXT through libdnssec-stub and parse it.
 * Fail closed: a failed lookup (timeout, SERVFAIL, bogus) is an error
 * (MS_ERR_TIMEOUT / MS_ERR_NETWORK), never "no rua"; NXDOMAIN, NODATA, no
 * TLSRPT record or more than one (s3: then none applies) give MS_OK with
 * out->n == 0 and `why` saying which.
 */
MS_TLSRPT_API ms_status ms_tlsrpt_discover(struct ms_dns_ctx *dns, const char *domain,
					   struct ms_tlsrpt_rua *out, char *why, size_t whylen);

/* ---- sending (RFC 8460 s5) --------------------------------------------- */

#define MS_TLSRPT_SEND_OPTS_VERSION 1

struct ms_tlsrpt_send_opts {
	unsigned version;          /**< MS_TLSRPT_SEND_OPTS_VERSION */
	/** HTTPS (s5.2): trust anchors (NULL: system store), timeout (0: 60 s),
	 * and a test-only CURLOPT_CONNECT_TO entry ("HOST:PORT:CHOST:CPORT"). */
	const char *ca_file;
	unsigned timeout_ms;
	const char *https_connect_to;
	/** Mail (s5.3): the From/MAIL FROM address (required for mailto:), the
	 * delivery options (port, helo, ca_file, memory; version set; the
	 * report is sent with requirement NOT_REQUIRED, TLS-Required: No). */
	const char *from;
	const struct ms_rtls_deliver_opts *deliver;
	/** DKIM (s5.3 SHOULD): a key (NULL: unsigned), d= and s=. */
	const struct ms_dkim_key *dkim_key;
	const char *dkim_domain;
	const char *dkim_selector;
	/** The Date: header and the MIME boundary's seed (0: the env clock). */
	int64_t now;
};

/** What happened per destination. */
struct ms_tlsrpt_send_result {
	size_t n;
	struct {
		char uri[512];
		ms_status status;      /**< MS_OK when delivered / accepted (2xx) */
		char detail[300];      /**< "HTTP 200", "250 ...", or why not */
	} dest[MS_TLSRPT_MAX_RUA];
	char rua_note[200];            /**< discovery's note ("" when found) */
};

/**
 * Send `rep` to every destination the policy domain publishes in its
 * _smtp._tls record, discovered now through `dns` (never to any other
 * destination: there is no way to pass one).  https: by POST with
 * Content-Type application/tlsrpt+gzip (s5.2, 2xx is success); mailto: as
 * multipart/report; report-type="tlsrpt" with TLS-Report-Domain,
 * TLS-Report-Submitter, Report-ID in the Subject and TLS-Required: No
 * (s5.3, RFC 8689 s5), DKIM-signed when a key is set, through
 * librequiretls's send (`sts` borrowed, NULL: no MTA-STS for the route).
 * @return MS_OK when every destination took the report; MS_ERR_NETWORK
 *         (or the first failure's status) when one did not, `res` says
 *         which; discovery's error when the lookup failed; MS_ERR_STATE
 *         when the domain publishes no destination (nothing sent).
 */
MS_TLSRPT_API ms_status ms_tlsrpt_send(const struct ms_env *env, struct ms_dns_ctx *dns,
				       struct ms_sts *sts, const struct ms_tlsrpt_report *rep,
				       const struct ms_tlsrpt_send_opts *opts,
				       struct ms_tlsrpt_send_result *res, char *why,
				       size_t whylen);

/**
 * The report mail (s5.3) as sent to `rcpt`, without DKIM: CRLF line ends;
 * *out freed with ms_tlsrpt_free.  For callers with their own MTA.
 */
MS_TLSRPT_API ms_status ms_tlsrpt_mail_format(const struct ms_tlsrpt_report *rep,
					      const char *from, const char *rcpt, int64_t now,
					      char **out, size_t *outlen, char *why,
					      size_t whylen);

/* ---- receiving ---------------------------------------------------------- */

struct ms_tlsrpt_detail {
	enum ms_tlsrpt_result result;
	char result_name[64];        /**< as written (an unknown type is kept) */
	char sending_ip[64];
	char mx_host[256];           /**< receiving-mx-hostname */
	char receiving_ip[64];
	char helo[256];              /**< receiving-mx-helo */
	uint64_t count;              /**< failed-session-count */
	char reason[MS_TLSRPT_MAX_FIELD]; /**< failure-reason-code */
};

struct ms_tlsrpt_policy {
	enum ms_tlsrpt_policy_type type;
	char domain[256];
	size_t nstrings, nmx;
	char **strings;              /**< policy-string */
	char **mx;                   /**< mx-host */
	uint64_t success, failure;   /**< summary */
	size_t ndetails;
	struct ms_tlsrpt_detail *details;
};

struct ms_tlsrpt_parsed {
	char org_name[256];
	char contact[512];
	char report_id[256];
	char start[40], end[40];     /**< as written (RFC 3339) */
	int64_t start_time, end_time;
	size_t npolicies;
	struct ms_tlsrpt_policy *policies;
};

/**
 * Parse a received report: the JSON, its gzip, or the whole report mail
 * (multipart/report with an application/tlsrpt+gzip or
 * application/tlsrpt+json part, base64 or 7bit).  Bounded: input up to
 * MS_TLSRPT_MAX_MAIL, JSON up to MS_TLSRPT_MAX_REPORT, the counts of
 * MS_TLSRPT_MAX_*; MS_ERR_LIMIT beyond.  Required fields of s4.4 missing or
 * of the wrong type: MS_ERR_PARSE naming the field.
 * Free *out with ms_tlsrpt_parsed_free().
 */
MS_TLSRPT_API ms_status ms_tlsrpt_parse(const struct ms_env *env, const uint8_t *buf,
					size_t len, struct ms_tlsrpt_parsed **out, char *why,
					size_t whylen);
MS_TLSRPT_API void ms_tlsrpt_parsed_free(struct ms_tlsrpt_parsed *p);
/**
 * A view of a parsed report: `json` nonzero gives
 * {"organization-name","report-id","start","end","policies":[{"policy-type",
 * "policy-domain","successful","failed","failures":[...]}]} (docs/cli.md),
 * else an aligned text table.  *out freed with ms_tlsrpt_free.
 */
MS_TLSRPT_API ms_status ms_tlsrpt_parsed_view(const struct ms_tlsrpt_parsed *p, int json,
					      char **out);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_TLSRPT_H */
