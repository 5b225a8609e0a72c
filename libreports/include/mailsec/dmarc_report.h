/**
 * @file
 * mailsec/dmarc_report.h - DMARC aggregate reports (RFC 7489 s7.2 and
 * Appendix C; DMARCbis aggregate-reporting draft), recorded, generated,
 * sent and received.
 *
 * The data flow (docs/dmarc-reports.md):
 *   inbound verdict (ms_auth, mailsec/auth.h)
 *     -> ms_dmarcrep_record_auth(): one row per message (source IP, header
 *        From, envelope from, SPF and DKIM results, DMARC evaluation and
 *        disposition), aggregated in memory and written in batches
 *     -> the store (struct ms_dmarcrep_store_ops; SQLite by default), one
 *        row per identical tuple with a count, per UTC hour
 *     -> ms_dmarcrep_report_from_store(): one report per policy domain
 *        and period -> ms_dmarcrep_report_xml() (libxml2), gzip
 *     -> ms_dmarcrep_send(): the rua= destinations of the domain's
 *        current record, each checked (external destinations need
 *        DOMAIN._report._dmarc.DEST TXT "v=DMARC1", RFC 7489 s7.1;
 *        a failed lookup means "not sent", never "authorised"), its size
 *        limit (!10m) honoured, mailed through librequiretls.
 *   Receiving: ms_dmarcrep_parse() reads a report (XML, gzip or zip) into
 *   the same report structure, with bounded memory (no DTD, no entities,
 *   no network, size caps), and ms_dmarcrep_report_json() prints it.
 *
 * Strings in rows and metadata are NUL-terminated and fit their arrays;
 * result keywords are the RFC 7489 Appendix C values (lower case).
 *
 * Thread safety: a store may be shared by threads (the SQLite default
 * serialises its calls); a recorder and a report are used by one thread
 * at a time.
 */
#ifndef MAILSEC_DMARC_REPORT_H
#define MAILSEC_DMARC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MS_REPORTS_BUILDING) && defined(__GNUC__)
#define MS_DMARCREP_API __attribute__((visibility("default")))
#else
#define MS_DMARCREP_API
#endif

struct ms_auth;
struct ms_sts;
struct ms_rtls_send_opts;

#define MS_DMARCREP_MAX_NAME 254   /**< a domain name and its NUL */
#define MS_DMARCREP_MAX_DKIM 8     /**< DKIM results kept per row */
#define MS_DMARCREP_ROW_VERSION 1

/** One DKIM result of a row (auth_results/dkim). */
struct ms_dmarcrep_dkim {
	char domain[MS_DMARCREP_MAX_NAME];   /**< d= */
	char selector[64];                   /**< s= ("" when unknown) */
	char result[12];                     /**< none|pass|fail|policy|neutral|
						temperror|permerror */
};

/**
 * One report row: the tuple that identifies a class of messages and how
 * many there were.  Rows that are equal in every field but `count` are
 * one row (their counts add up).  A value struct: zero it, set `version`.
 */
struct ms_dmarcrep_row {
	unsigned version;                     /**< MS_DMARCREP_ROW_VERSION */
	int64_t hour;       /**< store: Unix time of the UTC hour the messages
			       arrived in (a multiple of 3600); 0 in reports */
	char policy_domain[MS_DMARCREP_MAX_NAME]; /**< whose _dmarc record applied */
	/** The published policy that applied: "p=reject sp=none adkim=r
	 * aspf=r pct=100" (np= when present), as recorded. */
	char policy[96];
	char source_ip[46];                   /**< row/source_ip */
	char header_from[MS_DMARCREP_MAX_NAME];   /**< identifiers/header_from */
	char envelope_from[MS_DMARCREP_MAX_NAME]; /**< identifiers/envelope_from
						     ("" for the null sender) */
	char disposition[12];  /**< policy_evaluated: none|quarantine|reject */
	char dkim_eval[6];     /**< policy_evaluated/dkim: pass|fail (aligned) */
	char spf_eval[6];      /**< policy_evaluated/spf: pass|fail (aligned) */
	/** policy_evaluated/reason/type when the disposition differs from the
	 * policy: local_policy|sampled_out|forwarded|trusted_forwarder|
	 * mailing_list|other; "" for none. */
	char reason[20];
	char spf_domain[MS_DMARCREP_MAX_NAME];    /**< auth_results/spf/domain */
	char spf_scope[6];     /**< mfrom|helo ("": not given; written as mfrom) */
	char spf_result[12];   /**< none|neutral|pass|fail|softfail|temperror|
				  permerror */
	size_t ndkim;
	struct ms_dmarcrep_dkim dkim[MS_DMARCREP_MAX_DKIM];
	uint64_t count;        /**< messages (>= 1) */
};

/** Check a row: every keyword known, strings non-empty where the schema
 * requires them, an IP address in source_ip.  MS_ERR_INVALID with `why`. */
MS_DMARCREP_API ms_status ms_dmarcrep_row_check(const struct ms_dmarcrep_row *row,
						char *why, size_t whylen);

/**
 * The row of one finished inbound verdict (ms_auth_finish returned MS_OK)
 * received at `when` (Unix time; the row's hour is taken from it), with
 * count 1.  *reportable = 0 (row untouched) when there is nothing to
 * report: no DMARC record applied (dmarc=none), or the author domain or
 * the policy could not be determined (permerror/temperror without a
 * verdict).  The disposition is what the MTA applies (ms_auth_disposition;
 * "none" for accept) with reason local_policy when that is milder than
 * the DMARC disposition, sampled_out when pct= or t=y lowered it.
 */
MS_DMARCREP_API ms_status ms_dmarcrep_row_from_auth(const struct ms_auth *a, int64_t when,
						    struct ms_dmarcrep_row *row,
						    int *reportable,
						    char *why, size_t whylen);

/* ---- the store ------------------------------------------------------------ */

/** Called for each row; return nonzero to stop. */
typedef int (*ms_dmarcrep_row_fn)(void *user, const struct ms_dmarcrep_row *row);

#define MS_DMARCREP_STORE_OPS_VERSION 1

/**
 * A store (the shape every mailsec store takes, issue 19).  Rows passed in
 * are checked (ms_dmarcrep_row_check) and valid only during the call.
 *  - open:   open or create the store at `location` (its meaning is the
 *            store's: a file path, a URI); *impl is handed to the others.
 *  - get:    call fn for every row of `domain` (NULL: every domain) whose
 *            hour is in [begin, end), ordered by policy domain (fn
 *            must not call into the same store: SQLite holds its lock).
 *  - put:    add row->count to the row equal to `row` (creating it).
 *  - batch:  put `n` rows atomically (all or none).
 *  - expire: delete rows whose hour is before `before`.
 *  - close:  release impl (NULL-safe).
 * Errors return a negative ms_status (MS_ERR_IO: temporary) and fill why.
 */
struct ms_dmarcrep_store_ops {
	unsigned version;  /**< MS_DMARCREP_STORE_OPS_VERSION */
	ms_status (*open)(const struct ms_env *env, const char *location, void **impl,
			  char *why, size_t whylen);
	ms_status (*get)(void *impl, const char *domain, int64_t begin, int64_t end,
			 ms_dmarcrep_row_fn fn, void *user, char *why, size_t whylen);
	ms_status (*put)(void *impl, const struct ms_dmarcrep_row *row, char *why,
			 size_t whylen);
	ms_status (*batch)(void *impl, const struct ms_dmarcrep_row *rows, size_t n,
			   char *why, size_t whylen);
	ms_status (*expire)(void *impl, int64_t before, char *why, size_t whylen);
	void (*close)(void *impl);
};

struct ms_dmarcrep_store;

/** The SQLite store: `location` is a file path; WAL mode, busy timeout 5 s,
 * a schema version (table mailsec_schema) checked on open; a batch is one
 * transaction of upserts (count = count + excluded.count).  Static. */
MS_DMARCREP_API const struct ms_dmarcrep_store_ops *ms_dmarcrep_store_sqlite(void);

/** The PostgreSQL store (issue 19, when built with libpq): `location` is
 * a libpq URI ("postgresql://..."); the schema is created or migrated on
 * open; a put is one upsert (count = count + EXCLUDED.count), a batch one
 * transaction, so the MTAs of a fleet share the rows of each domain and
 * day.  A server that cannot be reached: MS_ERR_UNAVAILABLE (temporary).
 * Static. */
MS_DMARCREP_API const struct ms_dmarcrep_store_ops *ms_dmarcrep_store_postgresql(void);

/** Open a store through `ops` (copied) at `location`.  `ops` NULL: the
 * location picks the store (mailsec/store.h): "postgresql://..." the
 * PostgreSQL store, "sqlite:PATH" or a plain path the SQLite one.
 * Caller frees *out with ms_dmarcrep_store_free. */
MS_DMARCREP_API ms_status ms_dmarcrep_store_open(const struct ms_env *env,
						 const struct ms_dmarcrep_store_ops *ops,
						 const char *location,
						 struct ms_dmarcrep_store **out,
						 char *why, size_t whylen);
MS_DMARCREP_API void ms_dmarcrep_store_free(struct ms_dmarcrep_store *s);
/** The store's get and expire (see the ops). */
MS_DMARCREP_API ms_status ms_dmarcrep_store_each(struct ms_dmarcrep_store *s, const char *domain,
						 int64_t begin, int64_t end,
						 ms_dmarcrep_row_fn fn, void *user,
						 char *why, size_t whylen);
MS_DMARCREP_API ms_status ms_dmarcrep_store_expire(struct ms_dmarcrep_store *s, int64_t before,
						   char *why, size_t whylen);

/* ---- recording (the MTA's per-message call) ------------------------------ */

struct ms_dmarcrep_recorder;

/** Batching: up to `batch_max` distinct rows (0: 256) are aggregated in
 * memory and written with one ops->batch call when full, on
 * ms_dmarcrep_flush and on free.  `store` is borrowed. */
MS_DMARCREP_API ms_status ms_dmarcrep_recorder_new(const struct ms_env *env,
						   struct ms_dmarcrep_store *store,
						   size_t batch_max,
						   struct ms_dmarcrep_recorder **out,
						   char *why, size_t whylen);
/** Flushes (a failed last write is logged through the env, and lost:
 * call ms_dmarcrep_flush first to see it).  NULL-safe. */
MS_DMARCREP_API void ms_dmarcrep_recorder_free(struct ms_dmarcrep_recorder *r);
/** Record one row (checked).  A failed batch write keeps the rows in
 * memory for the next try and returns the store's error. */
MS_DMARCREP_API ms_status ms_dmarcrep_record(struct ms_dmarcrep_recorder *r,
					     const struct ms_dmarcrep_row *row,
					     char *why, size_t whylen);
/** The one-call recorder: ms_dmarcrep_row_from_auth + ms_dmarcrep_record.
 * *recorded (may be NULL): 1 when a row was recorded. */
MS_DMARCREP_API ms_status ms_dmarcrep_record_auth(struct ms_dmarcrep_recorder *r,
						  const struct ms_auth *a, int64_t when,
						  int *recorded, char *why, size_t whylen);
MS_DMARCREP_API ms_status ms_dmarcrep_flush(struct ms_dmarcrep_recorder *r,
					    char *why, size_t whylen);

/* ---- reports -------------------------------------------------------------- */

#define MS_DMARCREP_META_VERSION 1

/** report_metadata and policy_published (RFC 7489 Appendix C). */
struct ms_dmarcrep_meta {
	unsigned version;         /**< MS_DMARCREP_META_VERSION */
	char org_name[128];       /**< the reporting organisation */
	char email[256];          /**< its contact address */
	char extra_contact_info[256]; /**< optional ("") */
	char report_id[128];      /**< unique per report ("" when generating:
				     one is made from domain, period and a
				     random part) */
	int64_t begin, end;       /**< date_range (Unix time) */
	/** policy_published */
	char domain[MS_DMARCREP_MAX_NAME];
	char adkim[2], aspf[2];   /**< "r" | "s" */
	char p[12], sp[12];       /**< none|quarantine|reject */
	char np[12];              /**< DMARCbis; "" when not published */
	unsigned pct;             /**< 0-100 */
	char fo[8];               /**< "0" when not known */
};

struct ms_dmarcrep_report;

/** An empty report: org_name, email, begin < end and domain required
 * (policy_published defaults: p=none, adkim=r, aspf=r, pct=100). */
MS_DMARCREP_API ms_status ms_dmarcrep_report_new(const struct ms_env *env,
						 const struct ms_dmarcrep_meta *meta,
						 struct ms_dmarcrep_report **out,
						 char *why, size_t whylen);
MS_DMARCREP_API void ms_dmarcrep_report_free(struct ms_dmarcrep_report *r);
/** Add a row (checked; its hour and policy_domain are not part of the
 * report row: rows equal otherwise are merged).  MS_ERR_LIMIT past
 * MS_DMARCREP_MAX_ROWS rows. */
#define MS_DMARCREP_MAX_ROWS 100000u
MS_DMARCREP_API ms_status ms_dmarcrep_report_add(struct ms_dmarcrep_report *r,
						 const struct ms_dmarcrep_row *row,
						 char *why, size_t whylen);
/**
 * The report of `meta->domain` for [meta->begin, meta->end) from the
 * store: every row of that policy domain whose hour is in the period;
 * policy_published from the rows' recorded policy (the most recent hour's).
 * MS_OK with an empty report when there are no rows
 * (ms_dmarcrep_report_row_count() == 0: nothing to send).
 */
MS_DMARCREP_API ms_status ms_dmarcrep_report_from_store(const struct ms_env *env,
							struct ms_dmarcrep_store *store,
							const struct ms_dmarcrep_meta *meta,
							struct ms_dmarcrep_report **out,
							char *why, size_t whylen);
/** Borrowed, valid until the report is freed. */
MS_DMARCREP_API const struct ms_dmarcrep_meta *ms_dmarcrep_report_meta(const struct ms_dmarcrep_report *r);
MS_DMARCREP_API size_t ms_dmarcrep_report_row_count(const struct ms_dmarcrep_report *r);
MS_DMARCREP_API const struct ms_dmarcrep_row *ms_dmarcrep_report_row(const struct ms_dmarcrep_report *r,
								     size_t i);
/** Messages over all rows. */
MS_DMARCREP_API uint64_t ms_dmarcrep_report_messages(const struct ms_dmarcrep_report *r);

/** Buffers returned by the calls below; free with this (or
 * ms_render_free, the same: C library allocator).  NULL-safe. */
MS_DMARCREP_API void ms_dmarcrep_buf_free(void *p);

/**
 * The XML aggregate report (RFC 7489 Appendix C: feedback with
 * report_metadata, policy_published and one record per row), UTF-8,
 * written with libxml2's writer (escaping is libxml2's).  *out is
 * NUL-terminated, *len excludes the NUL.
 */
MS_DMARCREP_API ms_status ms_dmarcrep_report_xml(const struct ms_dmarcrep_report *r,
						 uint8_t **out, size_t *len,
						 char *why, size_t whylen);
/** A JSON view: {"org_name", "email", "report_id", "begin", "end",
 * "policy": {...}, "messages", "records": [{"source_ip", "count", ...}]}. */
MS_DMARCREP_API ms_status ms_dmarcrep_report_json(const struct ms_dmarcrep_report *r,
						  char **out, char *why, size_t whylen);
/** The default report period: the UTC day before `now` ([begin, end),
 * end at 00:00 UTC of now's day; RFC 7489 s7.2 asks for daily reports). */
MS_DMARCREP_API void ms_dmarcrep_default_period(int64_t now, int64_t *begin, int64_t *end);
/** A text view (what `mailsec dmarc-report parse` prints): lines org,
 * report, period, policy, messages, then one line per record (source IP,
 * count, disposition, dkim, spf, reason, header from).  Free *out with
 * ms_render_free (mailsec/dns.h) or ms_dmarcrep_buf_free. */
MS_DMARCREP_API ms_status ms_dmarcrep_report_text(const struct ms_dmarcrep_report *r,
						  char **out, char *why, size_t whylen);
/**
 * The file name of RFC 7489 s7.2.1.1:
 *   receiver "!" policy-domain "!" begin "!" end [ "!" unique-id ] "." ext
 * with `receiver` the reporting domain, `unique_id` optional (NULL), ext
 * "xml.gz" or "xml".  MS_ERR_LIMIT when buflen is too small,
 * MS_ERR_INVALID for a receiver or id with characters outside
 * [A-Za-z0-9.-].
 */
MS_DMARCREP_API ms_status ms_dmarcrep_filename(const struct ms_dmarcrep_report *r,
					       const char *receiver, const char *unique_id,
					       const char *ext, char *buf, size_t buflen);

/** gzip (RFC 1952) of `len` bytes. */
MS_DMARCREP_API ms_status ms_dmarcrep_gzip(const uint8_t *in, size_t len, uint8_t **out,
					   size_t *outlen, char *why, size_t whylen);
/**
 * Unpack a received report: gzip (1f 8b), zip ("PK\3\4": the first entry
 * whose name ends in ".xml", stored or deflated; no zip64, no encryption)
 * or plain XML (returned as a copy).  At most `max_out` bytes of output
 * (0: MS_DMARCREP_MAX_XML), else MS_ERR_LIMIT: the bound holds however the
 * input is compressed.  MS_ERR_PARSE for a damaged archive.
 */
#define MS_DMARCREP_MAX_XML (32u * 1024u * 1024u)
MS_DMARCREP_API ms_status ms_dmarcrep_unpack(const uint8_t *in, size_t len, size_t max_out,
					     uint8_t **out, size_t *outlen,
					     char *why, size_t whylen);
/**
 * Parse a received aggregate report (XML, gzip or zip as in
 * ms_dmarcrep_unpack, `max_xml` bytes of XML at most, 0: the default)
 * into a report.  Hostile input: a document type declaration (and with
 * it every entity: billion laughs, external entities) is refused before
 * anything is expanded, the network is never used, the XML is read as
 * UTF-8, depth and text node sizes are libxml2's default limits, rows are
 * capped at MS_DMARCREP_MAX_ROWS.  Elements the schema does not require
 * may be missing; unknown elements are skipped (extensions).
 * MS_ERR_PARSE with `why` for a document that is not a feedback report
 * (no feedback root, no report_metadata/policy_published, a record
 * without source_ip or count, a count that is not a number), MS_ERR_LIMIT.
 */
MS_DMARCREP_API ms_status ms_dmarcrep_parse(const struct ms_env *env, const uint8_t *buf,
					    size_t len, size_t max_xml,
					    struct ms_dmarcrep_report **out,
					    char *why, size_t whylen);

/* ---- sending --------------------------------------------------------------- */

#define MS_DMARCREP_SEND_OPTS_VERSION 1

struct ms_dmarcrep_send_opts {
	unsigned version;             /**< MS_DMARCREP_SEND_OPTS_VERSION */
	struct ms_dns_ctx *dns;       /**< required, borrowed */
	struct ms_sts *sts;           /**< MTA-STS for the delivery; NULL: none */
	const char *from;             /**< required: the report's sender address */
	const char *receiver;         /**< required: the reporting domain (file
					 name, Subject Submitter, Message-ID) */
	/** Delivery options (port, CA file, timeouts); NULL: defaults. */
	const struct ms_rtls_send_opts *send;
	/** Send to these URIs instead of the record's rua= (tests, operator
	 * overrides); they are still verified as rua= entries.  NULL: rua=. */
	const char *const *rua;
	size_t nrua;
	int64_t now;                  /**< Date header; 0: the env clock */
};

enum ms_dmarcrep_dest_status {
	MS_DMARCREP_SENT = 0,            /**< accepted by the destination's MX */
	MS_DMARCREP_NOT_AUTHORIZED = 1,  /**< external, no _report._dmarc record */
	MS_DMARCREP_LOOKUP_FAILED = 2,   /**< the authorisation lookup failed:
					    not sent (retry later) */
	MS_DMARCREP_TOO_LARGE = 3,       /**< the message exceeds the !size */
	MS_DMARCREP_UNSUPPORTED = 4,     /**< not a mailto: URI */
	MS_DMARCREP_DELIVERY_FAILED = 5  /**< the delivery failed (detail) */
};

/** One destination's outcome. */
struct ms_dmarcrep_dest {
	char uri[300];                 /**< the rua= entry */
	enum ms_dmarcrep_dest_status status;
	uint64_t limit;                /**< its !size in bytes, 0: none */
	size_t size;                   /**< the message size */
	char detail[300];
};
MS_DMARCREP_API const char *ms_dmarcrep_dest_status_str(enum ms_dmarcrep_dest_status s);

/**
 * Send a report (with rows) by mail to the destinations of
 * meta->domain: its current DMARC record's rua= (or opts->rua), each
 * verified (RFC 7489 s7.1), size-checked and delivered through
 * librequiretls (ms_rtls_send) as multipart/mixed with a text part and
 * the gzip attachment (application/gzip, the s7.2.1.1 file name; Subject
 * "Report Domain: D Submitter: R Report-ID: <ID>").  Outcomes go to
 * dests[0 .. *ndest) (at most maxdest; more destinations are ignored).
 * Returns MS_OK when every destination got a final outcome,
 * MS_ERR_NETWORK (temporary: retry) when the DMARC record lookup failed,
 * or a destination's authorisation lookup or delivery failed temporarily,
 * MS_ERR_STATE for a report without rows, MS_ERR_INVALID, MS_ERR_NOMEM.
 */
MS_DMARCREP_API ms_status ms_dmarcrep_send(const struct ms_env *env,
					   const struct ms_dmarcrep_report *r,
					   const struct ms_dmarcrep_send_opts *opts,
					   struct ms_dmarcrep_dest *dests, size_t maxdest,
					   size_t *ndest, char *why, size_t whylen);
/**
 * The mail message ms_dmarcrep_send sends to `to` (CRLF line ends):
 * headers, a text part and the base64 gzip attachment.
 */
MS_DMARCREP_API ms_status ms_dmarcrep_message(const struct ms_env *env,
					      const struct ms_dmarcrep_report *r,
					      const char *from, const char *to,
					      const char *receiver, int64_t now,
					      uint8_t **out, size_t *len,
					      char *why, size_t whylen);
/** The !size suffix of a rua URI in bytes (k, m, g, t: powers of 2 as in
 * RFC 7489 s6.2), 0 when there is none; -1 for a malformed suffix. */
MS_DMARCREP_API int64_t ms_dmarcrep_uri_limit(const char *uri);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_DMARC_REPORT_H */
