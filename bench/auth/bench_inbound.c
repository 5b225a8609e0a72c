/*
 * bench_inbound.c - `bench-inbound`: the CPU cost of one inbound verdict
 * (SPF, DKIM, DMARC, iprev) with every answer already at hand, ours
 * (ms_auth_run, mailsec/auth.h) against the C stack a Postfix site runs
 * today: libspf2 + libopendkim + OpenDMARC's library (libopendmarc), in
 * this process, on the same message and the same answers.
 *
 * The message: 8 DKIM signatures (relaxed/relaxed, RSA-2048, 8 selectors in
 * 8 domains under bench.test, one key), MAIL FROM alice@bench.test whose SPF
 * record has 3 includes (the last one matches), DMARC p=reject at
 * _dmarc.bench.test, a client whose PTR and forward A agree (iprev).  Both
 * sides must reach SPF pass, 8 DKIM passes, DMARC pass, iprev pass (checked
 * before timing).
 *
 * Where each side's DNS comes from (one table, bench_zone of bench_world.c):
 *  - ours: ms_dns_ctx_new_custom with a resolver that builds each answer
 *    from the table (ms_dns_result_create/add, as a cache would hand it out);
 *    ms_auth_run does everything else (it builds its evaluators per message).
 *  - libspf2: an SPF_dns_zone layer filled from the table once
 *    (SPF_server_new_dns); SPF_request_query_mailfrom per message.
 *  - iprev (no library in the C stack; Postfix does it in smtpd): the PTR
 *    and the forward A through the same libspf2 zone layer (SPF_dns_lookup),
 *    the address compared.
 *  - libopendkim: one DKIM_LIB (as the milter keeps one), its key lookup
 *    hook (dkim_set_key_lookup) copies the TXT record from the table;
 *    dkim_verify, the header fields, dkim_eoh, the body, dkim_eom per
 *    message; every signature checked passed.
 *  - libopendmarc: opendmarc_policy_library_init once with the Mozilla PSL;
 *    per message connect_init, the From domain, the _dmarc record (TXT from
 *    the libspf2 zone layer, handed over with opendmarc_policy_store_dmarc),
 *    the SPF and the 8 DKIM results, opendmarc_get_policy_to_enforce.
 *
 * Prints, medians of ROUNDS rounds of process CPU time per verdict:
 *   bench inbound-verdict/c-stack ours_ns=... c-stack_ns=... ratio=<c-stack/ours>
 *     (ms_auth_run making its evaluators per message)
 *   bench inbound-verdict-kept/c-stack ...
 *     (ms_auth_opts.dkim/spf/dmarc kept across messages, as the C stack
 *     keeps its DKIM_LIB, SPF_server and libopendmarc's PSL)
 * Usage: bench-inbound [VERDICTS_PER_ROUND]
 */
#include "bench_world.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#define ROUNDS 11

/* ---- the message ------------------------------------------------------- */
static char msg[32768];

static void build_world(void)
{
	/* a short but ordinary message: the header fields a list or a
	 * forwarding chain leaves, and a few lines of text */
	static const char body[] =
		"From: Alice <alice@bench.test>\r\nTo: bob@example.net\r\n"
		"Subject: eight signatures\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
		"Message-ID: <bench-inbound-1@bench.test>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n\r\n"
		"Hello Bob,\r\n\r\nthe figures for the quarter are attached to the ticket;\r\n"
		"the summary is below.  Nothing changed since last week.\r\n\r\n"
		"  revenue    up 3 %\r\n  costs      flat\r\n\r\n-- \r\nAlice\r\n";
	bench_build_world(MS_DKIM_RSA_SHA256, 2048, body, msg, sizeof(msg));
}

/* ---- ours -------------------------------------------------------------- */
static struct ms_dns_ctx *dns;
/* evaluators kept across messages (ms_auth_opts.dkim/spf/dmarc), as a
 * long-running MTA keeps them; NULL: ms_auth_run makes its own each time */
static struct ms_dkim_verifier *keep_dkim;
static struct ms_spf *keep_spf;
static struct ms_dmarc *keep_dmarc;

static int ours(int verify)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = CLIENT,
				  .helo = HELO, .mail_from = MAILFROM, .deadline_ms = 20000,
				  .dkim = keep_dkim, .spf = keep_spf, .dmarc = keep_dmarc };
	struct ms_auth *a = NULL;
	char why[256] = "";
	check(ms_auth_run(NULL, &o, (const uint8_t *)msg, strlen(msg), &a, why, sizeof(why)) ==
	      MS_OK, why);
	int ok = 1;
	if (verify) {
		ok = ms_auth_spf_result(a) == MS_SPF_PASS && ms_auth_dkim_count(a) == BENCH_NSIG &&
		     ms_auth_dmarc_result(a) == MS_DMARC_PASS &&
		     ms_auth_iprev_result(a) == MS_IPREV_PASS;
		for (size_t i = 0; i < BENCH_NSIG && ok; i++)
			ok = ms_auth_dkim_result(a, i) == MS_DMARC_DKIM_PASS;
	}
	ms_auth_free(a);
	return ok;
}

/* ---- the C stack ------------------------------------------------------- */
static SPF_server_t *spf;
static SPF_dns_server_t *spf_dns;
static DKIM_LIB *dkim_lib;
static size_t hdr_off[64], hdr_len[64], nhdr, body_off;

/* libopendkim's key lookup hook: the TXT record from the table. */
static DKIM_CBSTAT key_lookup(DKIM *d, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	(void)d;
	char name[256];
	snprintf(name, sizeof(name), "%s._domainkey.%s", dkim_sig_getselector(sig),
		 dkim_sig_getdomain(sig));
	const struct bench_rr *hits[8];
	size_t n;
	if (bench_lookup(name, MS_DNS_T_TXT, hits, &n) != 0 || strlen(hits[0]->value) >= buflen)
		return DKIM_CBSTAT_NOTFOUND;
	memcpy(buf, hits[0]->value, strlen(hits[0]->value) + 1);
	return DKIM_CBSTAT_CONTINUE;
}

static void split_msg(void)
{
	size_t len = strlen(msg), i = 0;
	nhdr = 0;
	while (i < len) {
		if (msg[i] == '\r' && msg[i + 1] == '\n') {
			body_off = i + 2;
			return;
		}
		size_t s = i;
		for (;;) {
			const char *nl = memchr(msg + i, '\n', len - i);
			i = (size_t)(nl - msg) + 1;
			if (msg[i] != ' ' && msg[i] != '\t')
				break;
		}
		check(nhdr < 64, "too many header fields");
		hdr_off[nhdr] = s;
		hdr_len[nhdr++] = i - 2 - s;
	}
}

/* iprev as smtpd does it: PTR, then the name's A records hold the client. */
static int c_iprev(void)
{
	SPF_dns_rr_t *p = SPF_dns_lookup(spf_dns, PTRNAME, ns_t_ptr, 0);
	int ok = 0;
	if (p && p->herrno == NETDB_SUCCESS && p->num_rr > 0) {
		SPF_dns_rr_t *a = SPF_dns_lookup(spf_dns, p->rr[0]->ptr, ns_t_a, 0);
		struct in_addr want;
		inet_pton(AF_INET, CLIENT, &want);
		for (int i = 0; a && a->herrno == NETDB_SUCCESS && i < a->num_rr; i++)
			if (a->rr[i]->a.s_addr == want.s_addr)
				ok = 1;
		SPF_dns_rr_free(a);
	}
	SPF_dns_rr_free(p);
	return ok;
}

static int c_stack(int verify)
{
	/* SPF */
	SPF_request_t *req = SPF_request_new(spf);
	SPF_response_t *resp = NULL;
	SPF_request_set_ipv4_str(req, CLIENT);
	SPF_request_set_helo_dom(req, HELO);
	SPF_request_set_env_from(req, MAILFROM);
	SPF_request_query_mailfrom(req, &resp);
	int spf_pass = resp && SPF_response_result(resp) == SPF_RESULT_PASS;
	SPF_response_free(resp);
	SPF_request_free(req);

	int iprev = c_iprev();

	/* DKIM */
	DKIM_STAT st;
	DKIM *d = dkim_verify(dkim_lib, (const unsigned char *)"bench", NULL, &st);
	check(d != NULL, "dkim_verify");
	for (size_t i = 0; i < nhdr; i++)
		dkim_header(d, (u_char *)msg + hdr_off[i], hdr_len[i]);
	dkim_eoh(d);
	dkim_body(d, (u_char *)msg + body_off, strlen(msg) - body_off);
	st = dkim_eom(d, NULL);
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	dkim_getsiglist(d, &sigs, &nsigs);

	/* DMARC: the record from the same answers, then the results */
	DMARC_POLICY_T *pc = opendmarc_policy_connect_init((u_char *)CLIENT, 0);
	check(pc != NULL, "opendmarc_policy_connect_init");
	opendmarc_policy_store_from_domain(pc, (u_char *)"bench.test");
	SPF_dns_rr_t *t = SPF_dns_lookup(spf_dns, "_dmarc.bench.test", ns_t_txt, 0);
	check(t && t->herrno == NETDB_SUCCESS && t->num_rr == 1, "_dmarc TXT");
	opendmarc_policy_store_dmarc(pc, (u_char *)t->rr[0]->txt, (u_char *)"bench.test", NULL);
	SPF_dns_rr_free(t);
	opendmarc_policy_store_spf(pc, (u_char *)"bench.test",
				   spf_pass ? DMARC_POLICY_SPF_OUTCOME_PASS
					    : DMARC_POLICY_SPF_OUTCOME_FAIL,
				   DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
	int dkim_ok = st == DKIM_STAT_OK && nsigs == BENCH_NSIG;
	for (int i = 0; i < nsigs; i++) {
		int pass = DKIM_SIG_CHECK(sigs[i]);
		dkim_ok = dkim_ok && pass;
		opendmarc_policy_store_dkim(pc, dkim_sig_getdomain(sigs[i]),
					    dkim_sig_getselector(sigs[i]),
					    pass ? DMARC_POLICY_DKIM_OUTCOME_PASS
						 : DMARC_POLICY_DKIM_OUTCOME_FAIL, NULL);
	}
	int dmarc_pass = opendmarc_get_policy_to_enforce(pc) == DMARC_POLICY_PASS;
	opendmarc_policy_connect_shutdown(pc);
	dkim_free(d);
	return !verify || (spf_pass && iprev && dkim_ok && dmarc_pass);
}

static void c_stack_setup(void)
{
	spf_dns = SPF_dns_zone_new(NULL, "bench", 0);
	check(spf_dns != NULL, "SPF_dns_zone_new");
	for (size_t i = 0; i < bench_nzone; i++) {
		const struct bench_rr *r = &bench_zone[i];
		ns_type t = r->type == MS_DNS_T_TXT ? ns_t_txt :
			    r->type == MS_DNS_T_A ? ns_t_a : ns_t_ptr;
		check(SPF_dns_zone_add_str(spf_dns, r->name, t, NETDB_SUCCESS, r->value) ==
		      SPF_E_SUCCESS, "SPF_dns_zone_add_str");
	}
	spf = SPF_server_new_dns(spf_dns, 0);
	check(spf != NULL, "SPF_server_new_dns");

	dkim_lib = dkim_init(NULL, NULL);
	check(dkim_lib != NULL, "dkim_init");
	check(dkim_set_key_lookup(dkim_lib, key_lookup) == DKIM_STAT_OK, "dkim_set_key_lookup");

	static OPENDMARC_LIB_T lib;
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	snprintf((char *)lib.tld_source_file, sizeof(lib.tld_source_file), "%s",
		 "/usr/share/publicsuffix/public_suffix_list.dat");
	check(opendmarc_policy_library_init(&lib) == DMARC_PARSE_OKAY,
	      "opendmarc_policy_library_init");
	split_msg();
}

/* ---- timing ------------------------------------------------------------ */
static void run(const char *name, int per)
{
	uint64_t o[ROUNDS], c[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = bench_cpu_ns();
		for (int i = 0; i < per; i++)
			ours(0);
		uint64_t t1 = bench_cpu_ns();
		for (int i = 0; i < per; i++)
			c_stack(0);
		uint64_t t2 = bench_cpu_ns();
		o[r] = (t1 - t0) / (uint64_t)per;
		c[r] = (t2 - t1) / (uint64_t)per;
	}
	qsort(o, ROUNDS, sizeof(o[0]), bench_cmp_u64);
	qsort(c, ROUNDS, sizeof(c[0]), bench_cmp_u64);
	uint64_t om = o[ROUNDS / 2], cm = c[ROUNDS / 2];
	printf("bench %s/c-stack ours_ns=%llu c-stack_ns=%llu ratio=%.2f\n", name,
	       (unsigned long long)om, (unsigned long long)cm, (double)cm / (double)om);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	bench_prog = "bench-inbound";
	int per = argc > 1 ? atoi(argv[1]) : 50;
	if (per < 1)
		per = 1;
	build_world();
	check(ms_dns_ctx_new_custom(NULL, bench_mem_resolve, NULL, &dns) == MS_OK, "custom ctx");
	c_stack_setup();
	check(ours(1), "ours: not SPF, 8 DKIM, DMARC and iprev pass");
	check(c_stack(1), "c-stack: not SPF, 8 DKIM, DMARC and iprev pass");

	run("inbound-verdict", per);
	/* the same with our evaluators kept across messages: the DKIM
	 * verifier's parsed-key cache (for the key record's TTL) and the DMARC
	 * evaluator's public suffix list are then not rebuilt per message */
	char why[256] = "";
	check(ms_dkim_verifier_new(NULL, dns, &keep_dkim) == MS_OK &&
	      ms_spf_new(NULL, dns, &keep_spf) == MS_OK &&
	      ms_dmarc_new(NULL, dns, &keep_dmarc, why, sizeof(why)) == MS_OK, "evaluators");
	check(ours(1), "ours (kept evaluators): not SPF, 8 DKIM, DMARC and iprev pass");
	run("inbound-verdict-kept", per);
	ms_dmarc_free(keep_dmarc);
	ms_spf_free(keep_spf);
	ms_dkim_verifier_free(keep_dkim);
	ms_dns_ctx_free(dns);
	dkim_close(dkim_lib);
	SPF_server_free(spf); /* and its zone layer */
	return 0;
}
