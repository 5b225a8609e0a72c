/**
 * @file
 * mailsec/status.h - status codes shared by every mailsec library.
 *
 * Functions that can fail return an ms_status: MS_OK (0) on success, a
 * negative value on error.  Protocol verdicts (an SPF "permerror", a DNSSEC
 * "bogus" answer, a DANE "no match") are results, never errors: a call that
 * reached a verdict returns MS_OK and reports the verdict in its result.
 *
 * Everything here is header-only (static inline), so that the libraries can
 * share it without a common shared object and without symbol clashes.
 */
#ifndef MAILSEC_STATUS_H
#define MAILSEC_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ms_status {
	MS_OK = 0,
	MS_ERR_INVALID = -1,     /**< the caller passed a bad argument (permanent) */
	MS_ERR_NOMEM = -2,       /**< an allocation failed (temporary) */
	MS_ERR_PARSE = -3,       /**< malformed input data (permanent) */
	MS_ERR_LIMIT = -4,       /**< input exceeds a hard bound (permanent) */
	MS_ERR_TIMEOUT = -5,     /**< a deadline passed (temporary) */
	MS_ERR_NETWORK = -6,     /**< connection or transport failure (temporary) */
	MS_ERR_TLS = -7,         /**< TLS handshake or record failure (temporary) */
	MS_ERR_CONFIG = -8,      /**< configuration cannot be loaded (permanent) */
	MS_ERR_IO = -9,          /**< file or storage I/O failed (temporary) */
	MS_ERR_UNSUPPORTED = -10, /**< feature or algorithm not supported (permanent) */
	MS_ERR_STATE = -11,      /**< call not valid in the handle's state (permanent) */
	MS_ERR_CANCELLED = -12,  /**< the operation was cancelled by the caller */
	MS_ERR_PROTOCOL = -13,   /**< the peer broke the protocol (temporary) */
	MS_ERR_INTERNAL = -14,   /**< a bug or an unexpected library failure */
	MS_ERR_UNAVAILABLE = -15 /**< a shared store (database) cannot be reached (temporary) */
} ms_status;

/**
 * Whether retrying the same call later may succeed.  MTAs map this to a 4xx
 * (temporary) versus 5xx (permanent) outcome.
 */
static inline int ms_status_is_temporary(ms_status s)
{
	switch (s) {
	case MS_ERR_NOMEM:
	case MS_ERR_TIMEOUT:
	case MS_ERR_NETWORK:
	case MS_ERR_TLS:
	case MS_ERR_IO:
	case MS_ERR_PROTOCOL:
	case MS_ERR_CANCELLED:
	case MS_ERR_UNAVAILABLE:
		return 1;
	default:
		return 0;
	}
}

/** The renderings of a result object (the libraries' *_render() calls):
 * human-readable text, or one compact JSON object on one line ending in a
 * newline (the keys are listed with each call). */
enum ms_render_format {
	MS_RENDER_TEXT = 0, /**< human-readable text */
	MS_RENDER_JSON = 1  /**< one compact JSON object on one line */
};

/** A short, static, lower-case name for a status ("ok", "timeout", ...). */
static inline const char *ms_status_str(ms_status s)
{
	switch (s) {
	case MS_OK: return "ok";
	case MS_ERR_INVALID: return "invalid argument";
	case MS_ERR_NOMEM: return "out of memory";
	case MS_ERR_PARSE: return "malformed input";
	case MS_ERR_LIMIT: return "limit exceeded";
	case MS_ERR_TIMEOUT: return "timeout";
	case MS_ERR_NETWORK: return "network error";
	case MS_ERR_TLS: return "tls error";
	case MS_ERR_CONFIG: return "configuration error";
	case MS_ERR_IO: return "i/o error";
	case MS_ERR_UNSUPPORTED: return "unsupported";
	case MS_ERR_STATE: return "invalid state";
	case MS_ERR_CANCELLED: return "cancelled";
	case MS_ERR_PROTOCOL: return "protocol error";
	case MS_ERR_INTERNAL: return "internal error";
	case MS_ERR_UNAVAILABLE: return "store unreachable";
	}
	return "unknown status";
}

#ifdef __cplusplus
}
#endif

#endif /* MAILSEC_STATUS_H */
