/*
 * auth_async.c - the lookups of one inbound verdict in parallel, under one
 * deadline, driven by an event loop (ms_auth_start / ms_auth_step).
 *
 * Design: the evaluators the handle owns (SPF, iprev, DMARC, the DKIM
 * verifier) are bound to the view of a lookup batch (libdnssec-stub,
 * ms_dns_batch_*: dns.h and docs/dns.md), whose resolver answers from the
 * batch's table of fetched results and records every other name as wanted.
 * A round re-runs the cheap evaluators (SPF, iprev and DMARC's policy
 * discovery) against the table; the batch then submits what they wanted,
 * all at once.  Whenever answers arrive the next step runs another round:
 * each chain (SPF's includes, iprev's PTR then A/AAAA, DMARC's
 * organisational fallback) advances one link per round trip, all chains
 * and every DKIM key (taken from the DKIM-Signature fields before the
 * first round) in parallel.  When the batch settles (a round wanted
 * nothing new and nothing is in flight), the final step verifies DKIM
 * (keys from the table), runs DMARC with the real DKIM results and writes
 * the fields.
 *
 * The deadline (the batch's) closes the table: the last round and the
 * final step then read every name not answered in time as "timeout", so
 * that method is temperror (RFC 7208 s2.6.6, RFC 6376 s6.1.2, RFC 7489
 * s6.6.3) and never "absent"; the other methods are reported as usual.
 * Lookups still in flight are cancelled; ms_auth_free cancels too.
 */
#include "auth_internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

ms_status ms_auth_view_new(struct ms_auth *a)
{
	ms_status st = ms_dns_batch_new(&a->env, a->dns, MS_DNS_BATCH_LATE_LOOKUP, &a->batch,
					NULL, 0);
	a->view = ms_dns_batch_view(a->batch);
	return st;
}

/* Free the table (cancels lookups in flight; waits for deliveries another
 * thread has already taken off the context's queue). */
void ms_auth_view_free(struct ms_auth *a)
{
	ms_dns_batch_free(a->batch);
	a->batch = NULL;
	a->view = NULL;
}

/* ---- DKIM keys named by the header section ---------------------------- */

static int tag_value(const char *v, size_t n, char *out, size_t outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')
			continue;
		if (k + 1 >= outlen)
			return -1;
		out[k++] = v[i];
	}
	out[k] = '\0';
	return k ? 0 : -1;
}

/* One field's value: d= and s= into the key name s._domainkey.d. */
static void want_key(struct ms_auth *a, const char *v, size_t n)
{
	char d[254] = "", s[128] = "";
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && v[j] != ';')
			j++;
		const char *eq = memchr(v + i, '=', j - i);
		if (eq) {
			char tag[8];
			if (tag_value(v + i, (size_t)(eq - (v + i)), tag, sizeof(tag)) == 0) {
				size_t vl = (size_t)(v + j - eq - 1);
				if (strcmp(tag, "d") == 0)
					tag_value(eq + 1, vl, d, sizeof(d));
				else if (strcmp(tag, "s") == 0)
					tag_value(eq + 1, vl, s, sizeof(s));
			}
		}
		i = j + 1;
	}
	char name[400];
	if (d[0] && s[0] && (size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s, d) <
	    sizeof(name)) {
		/* a refused name or allocation: the verifier asks again in a round */
		(void)ms_dns_batch_want(a->batch, name, MS_DNS_T_TXT, NULL, 0);
	}
}

/* Every DKIM-Signature field of the kept header section (the first
 * MS_DKIM_MAX_SIGNATURES): what the verifier will ask for. */
static void want_keys(struct ms_auth *a)
{
	const char *h = (const char *)a->hdr.data;
	size_t len = a->hdr.len, i = 0, nsig = 0;
	static const char name[] = "dkim-signature";
	while (i < len && nsig < MS_DKIM_MAX_SIGNATURES) {
		size_t j = i;   /* end of the field: a line end not followed by WSP */
		for (;;) {
			while (j < len && h[j] != '\n')
				j++;
			if (j + 1 < len && (h[j + 1] == ' ' || h[j + 1] == '\t')) {
				j++;
				continue;
			}
			break;
		}
		const char *colon = memchr(h + i, ':', j - i);
		if (colon) {
			size_t nl = (size_t)(colon - (h + i));
			while (nl && (h[i + nl - 1] == ' ' || h[i + nl - 1] == '\t'))
				nl--;
			if (nl == sizeof(name) - 1 && strncasecmp(h + i, name, nl) == 0) {
				want_key(a, colon + 1, (size_t)(h + j - colon - 1));
				nsig++;
			}
		} else if (j - i <= 1) {
			break;   /* the empty line */
		}
		i = j + 1;
	}
}

/* ---- rounds ----------------------------------------------------------- */

/* One round: SPF, iprev and DMARC's policy discovery against the table. */
static ms_status round_run(struct ms_auth *a)
{
	char w[256] = "";
	if (a->spf == a->spf_own) {
		ms_spf_verdict_free(a->sv);
		a->sv = NULL;
		ms_status st = ms_spf_check_mailfrom(a->spf, a->ip, a->helo, a->mail_from,
						     &a->sv, w, sizeof(w));
		if (st != MS_OK)
			return ms_why(a->why, sizeof(a->why), st, "spf: %s",
				      w[0] ? w : "out of memory");
	}
	ms_iprev_verdict_free(a->iv);
	a->iv = NULL;
	ms_status st = ms_iprev_check(&a->env, a->view, a->ip, a->iprev_max_names, &a->iv, w,
				      sizeof(w));
	if (st != MS_OK)
		return ms_why(a->why, sizeof(a->why), st, "iprev: %s", w[0] ? w : "out of memory");
	if (a->dmarc != NULL && a->dmarc == a->dmarc_own && a->from_outcome == MS_DMARC_FROM_OK &&
	    !a->final) {
		/* only to learn the names DMARC will ask for; the verdict comes
		 * in the final step with the DKIM results */
		struct ms_dmarc_verdict *mv = NULL;
		st = ms_dmarc_check(a->dmarc, a->from_domain, MS_SPF_NONE, NULL, NULL, NULL, NULL,
				    0, &mv, w, sizeof(w));
		ms_dmarc_verdict_free(mv);
		if (st != MS_OK)
			return ms_why(a->why, sizeof(a->why), st, "dmarc: %s",
				      w[0] ? w : "out of memory");
	}
	return MS_OK;
}

static void complete(struct ms_auth *a, ms_status st)
{
	a->state = MS_AUTH_DONE;
	a->status = st;
	if (st == MS_OK)
		a->why[0] = '\0';
}

/* Advance as far as possible without waiting: rounds while the batch asks
 * for them, the final step once it settled. */
static void advance(struct ms_auth *a)
{
	for (;;) {
		enum ms_dns_batch_state bs;
		ms_status st = ms_dns_batch_step(a->batch, &bs);
		if (st != MS_OK) {
			complete(a, ms_why(a->why, sizeof(a->why), st, "out of memory"));
			return;
		}
		if (bs == MS_DNS_BATCH_PENDING)
			return;   /* wait for answers */
		if (bs == MS_DNS_BATCH_ROUND) {
			if ((st = round_run(a)) != MS_OK) {
				complete(a, st);
				return;
			}
			continue;
		}
		a->final = 1;
		complete(a, ms_auth_conclude(a));
		return;
	}
}

ms_status ms_auth_start(struct ms_auth *a, ms_auth_done_fn done, void *user, char *why,
			size_t whylen)
{
	if (a == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (a->finished)
		return ms_why(why, whylen, MS_ERR_STATE, "message already finished");
	a->finished = 1;
	a->done = done;
	a->done_user = user;
	a->state = MS_AUTH_PENDING;
	ms_dns_batch_set_deadline(a->batch, a->deadline_ms);
	ms_status st = ms_auth_scan_from(a);
	if (st != MS_OK) {
		complete(a, st);
		a->notified = 1;   /* reported here, not through `done` */
		return ms_why(why, whylen, st, "dmarc: %s", a->from_why);
	}
	if (a->dkim == a->dkim_own)
		want_keys(a);
	advance(a);   /* the first round runs now, with the keys in flight */
	return MS_OK;
}

int ms_auth_fd(const struct ms_auth *a)
{
	return a ? ms_dns_fd(a->dns) : -1;
}

enum ms_auth_state ms_auth_step(struct ms_auth *a, int *timeout_ms)
{
	if (timeout_ms)
		*timeout_ms = 0;
	if (a == NULL || !a->finished)
		return MS_AUTH_DONE;
	if (a->state == MS_AUTH_PENDING) {
		ms_dns_process(a->dns);
		advance(a);
	}
	if (a->state == MS_AUTH_DONE) {
		if (!a->notified) {
			a->notified = 1;
			if (a->done)
				a->done(a->done_user, a, a->status);
		}
		return MS_AUTH_DONE;
	}
	if (timeout_ms) {
		/* the batch has a deadline, so this is never -1 while pending */
		int t = ms_dns_batch_timeout_ms(a->batch);
		*timeout_ms = t < 0 ? 0 : t;
	}
	return MS_AUTH_PENDING;
}

ms_status ms_auth_status(const struct ms_auth *a, char *why, size_t whylen)
{
	if (a == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "bad arguments");
	if (!a->finished || a->state != MS_AUTH_DONE)
		return ms_why(why, whylen, MS_ERR_STATE, "verdict not finished");
	if (a->status != MS_OK)
		return ms_why(why, whylen, a->status, "%s", a->why);
	return MS_OK;
}

/* The synchronous call: the same steps, waiting on the context's fd.  The
 * wait is cut into short slices because, on a context shared by threads,
 * another thread's ms_dns_process may deliver our answers. */
ms_status ms_auth_finish(struct ms_auth *a, char *why, size_t whylen)
{
	ms_status st = ms_auth_start(a, NULL, NULL, why, whylen);
	if (st != MS_OK)
		return st;
	int t = 0;
	while (ms_auth_step(a, &t) == MS_AUTH_PENDING) {
		struct pollfd p = { .fd = ms_auth_fd(a), .events = POLLIN };
		poll(&p, p.fd >= 0 ? 1 : 0, t < 10 ? t : 10);
	}
	return ms_auth_status(a, why, whylen);
}
