/**
 * @file
 * mailsec/requiretls_decide.h - the delivery TLS decision engine.
 *
 * Pure functions, no I/O, no allocation: given what the caller learnt from
 * DNS, DANE (RFC 7672) and MTA-STS (RFC 8461) as plain values, and the
 * message requirement (RFC 8689), they say per MX host what TLS to demand
 * before connecting (ms_rtls_plan), and after an attempt whether to deliver
 * and with which MAIL FROM parameters, or why not (ms_rtls_judge), and over
 * all hosts the final verdict with its DSN code (ms_rtls_conclude).
 *
 * The DANE state and MTA-STS policy are this header's own enums so that the
 * engine has no link dependency on libdane or libmtasts: the caller maps
 * their results onto these values.
 *
 * All functions are thread-safe (they touch only their arguments).
 */
#ifndef MAILSEC_REQUIRETLS_DECIDE_H
#define MAILSEC_REQUIRETLS_DECIDE_H

#include <mailsec/requiretls.h>

#ifdef __cplusplus
extern "C" {
#endif

/** DANE state of one MX host (RFC 7672 s2.2). */
enum ms_rtls_dane {
	MS_RTLS_DANE_NONE = 0,     /**< not looked up (e.g. DNSSEC not available) */
	MS_RTLS_DANE_USABLE = 1,   /**< secure TLSA RRset with a usable record */
	MS_RTLS_DANE_UNUSABLE = 2, /**< secure TLSA RRset, every record unusable */
	MS_RTLS_DANE_INSECURE = 3, /**< no secure TLSA RRset (insecure, or a
				      secure denial of existence) */
	MS_RTLS_DANE_FAILED = 4    /**< TLSA lookup bogus or failed (SERVFAIL,
				      timeout) */
};

/** The recipient domain's MTA-STS policy mode (RFC 8461 s3.2, s5). */
enum ms_rtls_sts_mode {
	MS_RTLS_STS_NO_POLICY = 0, /**< no (valid, cached) policy */
	MS_RTLS_STS_NONE = 1,      /**< mode: none */
	MS_RTLS_STS_TESTING = 2,   /**< mode: testing */
	MS_RTLS_STS_ENFORCE = 3,   /**< mode: enforce */
	/** The domain publishes MTA-STS but its policy is unknown now (fetch
	 * failed and the policy store unreachable, MS_STS_UNKNOWN): the
	 * domain is deferred (issue 19) */
	MS_RTLS_STS_UNKNOWN = 4
};

/** What the domain's MX lookup established. */
struct ms_rtls_domain {
	enum ms_rtls_requirement requirement;
	const char *domain;             /**< recipient domain (for DSN text) */
	enum ms_dns_security mx_security; /**< DNSSEC status of the MX RRset */
	enum ms_rtls_sts_mode sts_mode;
	/** This message is a non-delivery report for a REQUIRETLS message
	 * (RFC 8689 s5): see ms_rtls_plan(). */
	int dsn_of_requiretls;
};

/** One MX host. */
struct ms_rtls_host {
	const char *name;                  /**< MX host name (for DSN text) */
	/** DNSSEC status of the addresses the sender will use
	 * (ms_dns_result_records_security of ms_dns_lookup_addr): bogus or
	 * indeterminate means the lookup failed and left no address, and the
	 * host is skipped for now, never tried without DANE. */
	enum ms_dns_security addr_security;
	enum ms_rtls_dane dane;
	int sts_match;                     /**< host matches an mx: line of the
					      policy (RFC 8461 s4.1) */
};

/** TLS demanded from a host. */
enum ms_rtls_tls_mode {
	MS_RTLS_MODE_SKIP = 0,             /**< do not connect to this host */
	MS_RTLS_MODE_DANE = 1,             /**< TLS verified by DANE required */
	MS_RTLS_MODE_PKIX = 2,             /**< TLS verified by PKIX (WebPKI) required */
	MS_RTLS_MODE_ENCRYPTED = 3,        /**< TLS required, not verified */
	MS_RTLS_MODE_OPPORTUNISTIC = 4,    /**< STARTTLS if offered, else plaintext */
	MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK = 5 /**< ... and plaintext again after
					      a failed handshake */
};

enum ms_rtls_verdict {
	MS_RTLS_DELIVER = 0,         /**< go on: send MAIL FROM with `mail_requiretls` */
	MS_RTLS_RETRY_PLAINTEXT = 1, /**< reconnect to this host without STARTTLS */
	MS_RTLS_TRY_NEXT = 2,        /**< this host failed, try the next MX */
	MS_RTLS_TEMPFAIL = 3,        /**< keep the message queued, retry later */
	MS_RTLS_PERMFAIL = 4         /**< return the message (DSN) */
};

/** Why a policy failure happened; also the label of the metrics. */
enum ms_rtls_reason {
	MS_RTLS_R_NONE = 0,
	MS_RTLS_R_MX_LOOKUP,          /**< MX RRset bogus or unresolvable */
	MS_RTLS_R_TLSA_LOOKUP,        /**< TLSA lookup bogus/failed (DANE) */
	MS_RTLS_R_STS_MX_MISMATCH,    /**< host not in the MTA-STS policy */
	MS_RTLS_R_NO_VERIFIED_PATH,   /**< REQUIRETLS: no DANE nor STS enforce */
	MS_RTLS_R_CONNECT,            /**< could not connect / no greeting */
	MS_RTLS_R_STARTTLS_MISSING,   /**< STARTTLS not offered */
	MS_RTLS_R_HANDSHAKE,          /**< TLS handshake failed */
	MS_RTLS_R_DANE_VERIFY,        /**< DANE authentication failed */
	MS_RTLS_R_PKIX_VERIFY,        /**< PKIX authentication failed */
	MS_RTLS_R_REQUIRETLS_MISSING, /**< REQUIRETLS not in the post-TLS EHLO */
	MS_RTLS_R_ADDR_LOOKUP,        /**< the host's address lookup failed or was bogus */
	MS_RTLS_R_STS_UNKNOWN         /**< MTA-STS published, policy unknown (store down) */
};

/** Observations of a connection attempt. */
enum ms_rtls_step {
	MS_RTLS_STEP_NOT_DONE = 0,  /**< not attempted / not checked */
	MS_RTLS_STEP_OK = 1,
	MS_RTLS_STEP_FAILED = 2
};

struct ms_rtls_observed {
	int connected;                /**< TCP connection and 220 greeting */
	int starttls_offered;         /**< STARTTLS in the first EHLO */
	enum ms_rtls_step handshake;  /**< TLS handshake */
	enum ms_rtls_step dane;       /**< DANE verification of the chain */
	enum ms_rtls_step pkix;       /**< PKIX verification incl. the name */
	int requiretls_offered;       /**< REQUIRETLS in the post-STARTTLS EHLO */
	int plaintext;                /**< this was the plaintext retry; keep
					 `handshake` as seen on the TLS try */
};

/**
 * Output structs the caller allocates (struct ms_rtls_plan, struct
 * ms_rtls_outcome) carry a `version` the caller sets before the call, e.g.
 * `struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };`.  Later
 * versions only append members; the library fills only the members the
 * caller's version has (an older caller's smaller struct is never overrun),
 * never rewrites `version`, and refuses 0 with MS_ERR_INVALID.  As inputs
 * (a plan to ms_rtls_judge, outcomes to ms_rtls_conclude) version 0 reads
 * as 1.  Plans and outcomes the library hands out itself (routes,
 * deliveries, re-plans) carry the current version.
 */
#define MS_RTLS_PLAN_VERSION 1
#define MS_RTLS_OUTCOME_VERSION 1

/** The plan for one host before connecting. */
struct ms_rtls_plan {
	unsigned version;         /**< MS_RTLS_PLAN_VERSION, set by the caller */
	enum ms_rtls_tls_mode mode;
	int verify_dane;          /**< DANE verification must pass */
	int verify_pkix;          /**< PKIX verification must pass */
	int report_pkix;          /**< MTA-STS testing: check and report only */
	int need_requiretls;      /**< the host must advertise REQUIRETLS */
	int headers_only;         /**< RFC 8689 s5: send the DSN with headers only */
	/** What the domain's policy alone would demand; kept for TLS-Required:
	 * No, whose ignored failures are reported (metrics, logs). */
	enum ms_rtls_tls_mode policy_mode;
	int policy_dane;
	int policy_pkix;
	enum ms_rtls_reason policy_reason; /**< why the policy alone skips */
	/** For MS_RTLS_MODE_SKIP: why, with the status as in ms_rtls_outcome. */
	enum ms_rtls_reason reason;
	enum ms_rtls_verdict skip_verdict; /**< TRY_NEXT or TEMPFAIL/PERMFAIL */
	char enhanced[8];
	char text[256];
};

/** The judgement of one attempt (or of all hosts). */
struct ms_rtls_outcome {
	unsigned version;         /**< MS_RTLS_OUTCOME_VERSION, set by the caller */
	enum ms_rtls_verdict verdict;
	int mail_requiretls;      /**< DELIVER: add REQUIRETLS to MAIL FROM */
	int temporary;            /**< failure class when verdict is TRY_NEXT */
	enum ms_rtls_reason reason;       /**< failure cause (MS_RTLS_R_NONE if none) */
	enum ms_rtls_reason ignored;      /**< TLS-Required: No let this through */
	int sts_testing_failure;  /**< MTA-STS testing mode saw a failure: report it */
	int basic;                /**< reply code class for a DSN: 4 or 5 (0: none) */
	char enhanced[8];         /**< RFC 3463 code, e.g. "5.7.30" ("" on success) */
	/** The code for the DSN when the message is finally returned (now, or
	 * when a temporary failure outlives the queue lifetime): "5.7.30" for
	 * REQUIRETLS messages (RFC 8689 s7), else `enhanced` made permanent. */
	char bounce_enhanced[8];
	char text[256];           /**< DSN diagnostic text saying why */
	/** DELIVER over a plaintext reconnection after STARTTLS was offered
	 * and the handshake failed (RFC 7435 opportunistic fallback, or
	 * TLS-Required: No): counted by ms_rtls_outcome_count. */
	int plaintext_fallback;
};

/**
 * Fill the EHLO-derived observations from a parsed capability set: a set
 * from before TLS gives `starttls_offered`; only a set received over TLS
 * gives `requiretls_offered` (RFC 3207 s4.2: what came before STARTTLS
 * may be forged; RFC 8689 s4.2.1 asks for REQUIRETLS after STARTTLS).
 * Other members are left alone.
 */
MS_RTLS_API void ms_rtls_observe_ehlo(const struct ms_rtls_ehlo *set,
				      struct ms_rtls_observed *o);

/**
 * Plan one host (RFC 7672 s2.2, RFC 8461 s5, RFC 8689 s4.2).  Returns
 * MS_ERR_INVALID for NULL arguments, else MS_OK with *out filled.
 * The rules (each is cited again where the code applies it):
 *  - MX RRset bogus/indeterminate: skip, temporary (RFC 7672 s2.1.1).
 *  - DANE applies when the MX RRset and the host address are secure and
 *    the TLSA state is usable/unusable/failed (RFC 7672 s2.2); a failed
 *    TLSA lookup skips the host (temporary); all-unusable means encrypted
 *    but unauthenticated TLS (RFC 7672 s2.2).
 *  - MTA-STS enforce: host must match the policy, else skip; PKIX must
 *    pass (RFC 8461 s4.1, s5.1).  testing only reports (RFC 8461 s5.2).
 *  - DANE and MTA-STS enforce both must pass when both apply; MTA-STS never
 *    overrides a failing DANE check (RFC 8461 s2).
 *  - REQUIRED: verified TLS via DNSSEC-secure MX + usable DANE, or via an
 *    MTA-STS enforce policy the host matches; else skip with 5.7.30; the
 *    host must then advertise REQUIRETLS (RFC 8689 s4.2.1).
 *  - NOT_REQUIRED: opportunistic with plaintext fallback, policy failures
 *    ignored but reported (RFC 8689 s4.2.2).
 *  - opportunistic (no DANE, no MTA-STS enforce, not REQUIRED): STARTTLS
 *    when offered; a failed handshake reconnects in plaintext
 *    (RETRY_PLAINTEXT, RFC 7435 s1.2 / RFC 3207 s4.1), as Postfix's "may"
 *    and mox do.  Never under DANE, enforce, unusable TLSA or REQUIRETLS.
 *  - dsn_of_requiretls: the DSN uses the default rules, sends REQUIRETLS
 *    where offered, is never refused for lack of it, carries headers only
 *    (RFC 8689 s5).
 */
MS_RTLS_API ms_status ms_rtls_plan(const struct ms_rtls_domain *d,
				   const struct ms_rtls_host *h,
				   struct ms_rtls_plan *out);

/**
 * Judge an attempt on a host planned with `p`: DELIVER (with
 * mail_requiretls), RETRY_PLAINTEXT or TRY_NEXT with the reason, class,
 * enhanced code and DSN text.  Call it when the attempt ended, or as soon as
 * an observation decides (e.g. right after the post-TLS EHLO, before MAIL).
 */
MS_RTLS_API ms_status ms_rtls_judge(const struct ms_rtls_domain *d,
				    const struct ms_rtls_host *h,
				    const struct ms_rtls_plan *p,
				    const struct ms_rtls_observed *o,
				    struct ms_rtls_outcome *out);

/**
 * After every host was planned (and tried, where not skipped) without a
 * DELIVER: the final verdict.  `fails` holds one outcome per host (for a
 * skipped host, ms_rtls_outcome_from_plan()).  TEMPFAIL when any host
 * failed for a reason that may go away, else PERMFAIL; the code and text
 * are those of the first failure of the chosen class.  With no hosts:
 * TEMPFAIL 4.4.4 (RFC 3463: unable to route).
 */
MS_RTLS_API ms_status ms_rtls_conclude(const struct ms_rtls_outcome *fails,
				       size_t n, struct ms_rtls_outcome *out);

/** The outcome of a host that the plan skips (mode MS_RTLS_MODE_SKIP).
 * MS_ERR_INVALID (and *out untouched) when out->version is 0. */
MS_RTLS_API ms_status ms_rtls_outcome_from_plan(const struct ms_rtls_plan *p,
						struct ms_rtls_outcome *out);

/** Add or remove REQUIRETLS in `m` as an outcome says (RFC 8689 s4.2.1). */
MS_RTLS_API ms_status ms_rtls_outcome_apply(const struct ms_rtls_outcome *o,
					    struct ms_rtls_mail *m);

/**
 * Emit the metrics of an outcome through env's metric hook:
 * requiretls_errors_total{reason} when a REQUIRETLS message failed on a
 * host, tls_required_no_ignored_total{reason} when TLS-Required: No let a
 * TLS or verification error through.  `requirement` is the message's.
 */
MS_RTLS_API void ms_rtls_outcome_count(const struct ms_env *env,
				       enum ms_rtls_requirement requirement,
				       const struct ms_rtls_outcome *o);

/** Static names: "skip", "dane", "pkix", "encrypted", "opportunistic",
 * "opportunistic-fallback"; "deliver", ...; reason labels as used by the
 * metrics ("starttls_missing", ...). */
MS_RTLS_API const char *ms_rtls_mode_str(enum ms_rtls_tls_mode m);
MS_RTLS_API const char *ms_rtls_verdict_str(enum ms_rtls_verdict v);
MS_RTLS_API const char *ms_rtls_reason_str(enum ms_rtls_reason r);
/** "ok", "failed", "not-done". */
MS_RTLS_API const char *ms_rtls_step_str(enum ms_rtls_step s);

/**
 * The delivery status notification of a recipient not delivered with
 * outcome `o` (RFC 3464): the Action field (s2.3.3), "failed" for a
 * permanent failure and "delayed" while the message stays queued; and the
 * Status field (s2.3.4), `bounce_enhanced` for a permanent failure, else
 * `enhanced` (the bounce code is what a later "failed" DSN carries when the
 * retries run out).  Static / borrowed from `o`.
 */
MS_RTLS_API const char *ms_rtls_dsn_action(const struct ms_rtls_outcome *o);
MS_RTLS_API const char *ms_rtls_dsn_status(const struct ms_rtls_outcome *o);

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_REQUIRETLS_DECIDE_H */
