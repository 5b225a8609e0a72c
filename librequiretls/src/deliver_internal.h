/* deliver_internal.h - the state of a delivery (requiretls_deliver.h),
 * shared by deliver_attempt.c (one SMTP session) and deliver_domain.c (the
 * host loop and the getters).  Not installed. */
#ifndef RTLS_DELIVER_INTERNAL_H
#define RTLS_DELIVER_INTERNAL_H

#include "mailsec/requiretls_deliver.h"
#include "ms_common.h"
#include "rtls_internal.h"

#include <openssl/ssl.h>

/* Two attempts per host at most (TLS, then the plaintext retry). */
#define DELIVER_MAX_ATTEMPTS (2 * MS_RTLS_ROUTE_MAX_MX)

enum rcpt_state { RCPT_PENDING = 0, RCPT_DONE = 1 };

struct rcpt {
	struct ms_rtls_rcpt_result res;
	enum rcpt_state state;
	int accepted; /* 2xx to RCPT in the current attempt */
};

struct ms_rtls_delivery {
	struct ms_env env;
	const struct ms_rtls_route *route;
	enum ms_rtls_requirement requirement;
	char *from, *helo, *ca_file, *account;
	uint16_t port;
	int64_t now;
	unsigned timeout_ms;
	struct ms_rtls_store *memory;
	ms_rtls_attempt_observer_fn observer; /* TLSRPT, NULL: none */
	void *observer_arg;
	SSL_CTX *tls;
	int own_tls;
	/* PKIX trust store and DANE context of every connection (issue 20):
	 * the caller's (borrowed), or a store loaded from ca_file at the
	 * first TLS session and kept for the others (own_store) */
	X509_STORE *ca_store;
	int own_store;
	const struct ms_dane_ctx *dane_ctx;
	const uint8_t *msg;
	size_t msglen;
	struct rcpt *rcpts;
	size_t nrcpt;
	/* the host loop */
	size_t next_host;
	int done;
	struct ms_rtls_attempt attempts[DELIVER_MAX_ATTEMPTS];
	size_t nattempts;
	struct ms_rtls_outcome fails[DELIVER_MAX_ATTEMPTS];
	size_t nfails;
	struct ms_rtls_outcome final;
	/* a 4xx to RCPT in an attempt that delivered to others */
	struct ms_rtls_outcome temp_refusal;
	/* the attempt in progress (deliver_attempt.c), NULL between hosts */
	struct rtls_attempt_sm *sm;
	struct ms_rtls_attempt *cur; /* its attempt, NULL when none runs */
	const struct ms_rtls_route_host *cur_host;
};

/* plain_address of deliver_domain.c, for the multi-domain call. */
int rtls_plain_address(const char *a, int allow_empty);

/* One attempt on `h` (never skipped by its plan): connect, EHLO,
 * STARTTLS, peer checks, EHLO, judge, and on DELIVER the transaction for
 * the pending recipients.  `plaintext`: the retry without STARTTLS, with
 * `prev` the TLS attempt's observations.  Started here, advanced by
 * rtls_attempt_step (MS_ERR_NOMEM: nothing started). */
ms_status rtls_attempt_start(struct ms_rtls_delivery *d, const struct ms_rtls_route_host *h,
			     int plaintext, const struct ms_rtls_observed *prev,
			     struct ms_rtls_attempt *a);
/* Advance the attempt as far as it goes without waiting: 1 when it is
 * over (its session closed), 0 to wait for rtls_attempt_fd/_events (or
 * only the time, fd -1) at most rtls_attempt_wait_ms. */
int rtls_attempt_step(struct ms_rtls_delivery *d);
int rtls_attempt_fd(const struct ms_rtls_delivery *d);
short rtls_attempt_events(const struct ms_rtls_delivery *d);
int rtls_attempt_wait_ms(const struct ms_rtls_delivery *d);
/* Close the session of an attempt in progress and free the machine. */
void rtls_attempt_cancel(struct ms_rtls_delivery *d);

/* A server's refusal (code, text) as an outcome: 4xx TRY_NEXT, 5xx
 * PERMFAIL, with the server's enhanced code when it gave one. */
void rtls_refusal(struct ms_rtls_outcome *o, const char *host, int code, const char *text,
		  const char *step);

/* TLSRPT (deliver_tlsrpt.c): the policy type RFC 8460 reports host `h`
 * under, the s4.3 result of a finished handshake's peer checks, and the
 * hand-over of an attempt to the caller's observer (nothing without one). */
struct ms_rtls_peer;
enum ms_tlsrpt_policy_type rtls_tlsrpt_policy(const struct ms_rtls_route *r,
					      const struct ms_rtls_route_host *h);
enum ms_tlsrpt_result rtls_tlsrpt_of_peer(enum ms_tlsrpt_policy_type type,
					  const struct ms_rtls_peer *peer);
void rtls_tlsrpt_notify(struct ms_rtls_delivery *d, const struct ms_rtls_attempt *a);

#endif
