/*
 * test_decide.c - table tests over the decision matrix of the TLS decision
 * engine: message requirement x MX/host DNSSEC status x DANE state x
 * MTA-STS mode/match x observations of the attempt.  Each row names the
 * rule (and RFC section) it pins down.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_verify.h>

enum obs {
	O_NONE,       /* plan skips the host: no attempt */
	O_GOOD,       /* STARTTLS, handshake, DANE and PKIX ok, REQUIRETLS offered */
	O_NORT,       /* as GOOD without REQUIRETLS after STARTTLS */
	O_NOSTARTTLS, /* no STARTTLS offered */
	O_HSFAIL,     /* handshake failed */
	O_DANEFAIL,   /* DANE no match, PKIX ok, REQUIRETLS offered */
	O_PKIXFAIL,   /* DANE ok, PKIX failed, REQUIRETLS offered */
	O_HSONLY,     /* handshake ok, neither DANE nor PKIX verified */
	O_PLAIN_AFTER_HS, /* plaintext retry after a failed handshake */
	O_NOCONN      /* no connection */
};

static struct ms_rtls_observed observe(enum obs o)
{
	struct ms_rtls_observed x;
	memset(&x, 0, sizeof(x));
	x.connected = o != O_NOCONN;
	x.starttls_offered = o != O_NOSTARTTLS && o != O_NOCONN;
	x.handshake = MS_RTLS_STEP_OK;
	x.dane = MS_RTLS_STEP_OK;
	x.pkix = MS_RTLS_STEP_OK;
	x.requiretls_offered = 1;
	switch (o) {
	case O_NORT: x.requiretls_offered = 0; break;
	case O_NOSTARTTLS: x.handshake = MS_RTLS_STEP_NOT_DONE; x.requiretls_offered = 0;
		x.dane = x.pkix = MS_RTLS_STEP_NOT_DONE; break;
	case O_HSFAIL: x.handshake = MS_RTLS_STEP_FAILED; x.requiretls_offered = 0;
		x.dane = x.pkix = MS_RTLS_STEP_NOT_DONE; break;
	case O_DANEFAIL: x.dane = MS_RTLS_STEP_FAILED; break;
	case O_PKIXFAIL: x.pkix = MS_RTLS_STEP_FAILED; break;
	case O_HSONLY: x.dane = x.pkix = MS_RTLS_STEP_FAILED; break;
	case O_PLAIN_AFTER_HS: x.plaintext = 1; x.handshake = MS_RTLS_STEP_FAILED;
		x.requiretls_offered = 0; x.dane = x.pkix = MS_RTLS_STEP_NOT_DONE; break;
	default: break;
	}
	return x;
}

#define DEF MS_RTLS_REQ_DEFAULT
#define REQ MS_RTLS_REQ_REQUIRED
#define NOT MS_RTLS_REQ_NOT_REQUIRED
#define SEC MS_DNS_SECURE
#define INS MS_DNS_INSECURE
#define BOG MS_DNS_BOGUS
#define IND MS_DNS_INDETERMINATE
#define D_NONE MS_RTLS_DANE_NONE
#define D_USE MS_RTLS_DANE_USABLE
#define D_UNUSE MS_RTLS_DANE_UNUSABLE
#define D_INS MS_RTLS_DANE_INSECURE
#define D_FAIL MS_RTLS_DANE_FAILED
#define S_NOP MS_RTLS_STS_NO_POLICY
#define S_NONE MS_RTLS_STS_NONE
#define S_TEST MS_RTLS_STS_TESTING
#define S_ENF MS_RTLS_STS_ENFORCE
#define M_SKIP MS_RTLS_MODE_SKIP
#define M_DANE MS_RTLS_MODE_DANE
#define M_PKIX MS_RTLS_MODE_PKIX
#define M_ENC MS_RTLS_MODE_ENCRYPTED
#define M_OPP MS_RTLS_MODE_OPPORTUNISTIC
#define M_FB MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK
#define V_DEL MS_RTLS_DELIVER
#define V_PLAIN MS_RTLS_RETRY_PLAINTEXT
#define V_NEXT MS_RTLS_TRY_NEXT
#define V_TEMP MS_RTLS_TEMPFAIL
#define R_NONE MS_RTLS_R_NONE

struct row {
	const char *rule;
	enum ms_rtls_requirement req;
	int dsn;
	enum ms_dns_security mx, addr;
	enum ms_rtls_dane dane;
	enum ms_rtls_sts_mode sts;
	int match;
	/* plan */
	enum ms_rtls_tls_mode mode;
	int vdane, vpkix, needrt;
	/* attempt */
	enum obs obs;
	enum ms_rtls_verdict verdict;
	const char *enhanced;
	int mail_rt;
	enum ms_rtls_reason reason;  /* failure reason (plan skip or judge) */
	enum ms_rtls_reason ignored; /* TLS-Required: No let this through */
	int sts_testing;
};

static const struct row rows[] = {
	/* ---- default requirement: the recipient domain's policy decides ---- */
	{"RFC7672 s2.2 DANE usable -> verified TLS", DEF, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC7672 s3 DANE mismatch -> next host", DEF, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 0, O_DANEFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_DANE_VERIFY, R_NONE, 0},
	{"RFC7672 s2.2 DANE, STARTTLS stripped", DEF, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 0, O_NOSTARTTLS, V_NEXT, "4.7.4", 0, MS_RTLS_R_STARTTLS_MISSING, R_NONE, 0},
	{"RFC7672 s2.2 DANE, handshake failure", DEF, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 0, O_HSFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_HANDSHAKE, R_NONE, 0},
	{"RFC8461 s2 DANE+enforce: both must pass (PKIX fails)", DEF, 0, SEC, SEC, D_USE, S_ENF, 1,
	 M_DANE, 1, 1, 0, O_PKIXFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_PKIX_VERIFY, R_NONE, 0},
	{"RFC8461 s2 MTA-STS never overrides failing DANE", DEF, 0, SEC, SEC, D_USE, S_ENF, 1,
	 M_DANE, 1, 1, 0, O_DANEFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_DANE_VERIFY, R_NONE, 0},
	{"DANE+enforce both pass", DEF, 0, SEC, SEC, D_USE, S_ENF, 1,
	 M_DANE, 1, 1, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8461 s4.1 DANE host not in enforce policy -> skip", DEF, 0, SEC, SEC, D_USE, S_ENF, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.7.5", 0, MS_RTLS_R_STS_MX_MISMATCH, R_NONE, 0},
	{"RFC7672 s2.2 all TLSA unusable -> encrypted, unverified", DEF, 0, SEC, SEC, D_UNUSE, S_NOP, 0,
	 M_ENC, 0, 0, 0, O_HSONLY, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC7672 s2.2 unusable TLSA still mandates TLS", DEF, 0, SEC, SEC, D_UNUSE, S_NOP, 0,
	 M_ENC, 0, 0, 0, O_NOSTARTTLS, V_NEXT, "4.7.4", 0, MS_RTLS_R_STARTTLS_MISSING, R_NONE, 0},
	{"unusable TLSA + enforce -> PKIX", DEF, 0, SEC, SEC, D_UNUSE, S_ENF, 1,
	 M_PKIX, 0, 1, 0, O_HSONLY, V_NEXT, "4.7.5", 0, MS_RTLS_R_PKIX_VERIFY, R_NONE, 0},
	{"RFC7672 s2.2 TLSA lookup failed -> skip host", DEF, 0, SEC, SEC, D_FAIL, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.7.5", 0, MS_RTLS_R_TLSA_LOOKUP, R_NONE, 0},
	{"RFC8461 s2 TLSA failure not overridden by enforce", DEF, 0, SEC, SEC, D_FAIL, S_ENF, 1,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.7.5", 0, MS_RTLS_R_TLSA_LOOKUP, R_NONE, 0},
	{"RFC7672 s2.2 insecure address records: no DANE", DEF, 0, SEC, INS, D_FAIL, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC7672 s2.1 insecure MX: no DANE", DEF, 0, INS, SEC, D_USE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC7435 opportunistic, handshake failure -> plaintext retry", DEF, 0, SEC, SEC, D_INS, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_HSFAIL, V_PLAIN, "", 0, R_NONE, R_NONE, 0},
	{"RFC7435 opportunistic plaintext retry delivers", DEF, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_PLAIN_AFTER_HS, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8461 s5.2 testing: plaintext retry, reported", DEF, 0, INS, INS, D_NONE, S_TEST, 1,
	 M_OPP, 0, 0, 0, O_HSFAIL, V_PLAIN, "", 0, R_NONE, R_NONE, 0},
	{"opportunistic: plaintext when no STARTTLS", DEF, 0, SEC, SEC, D_NONE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8461 s5.1 enforce -> PKIX", DEF, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_PKIX, 0, 1, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8461 s5.1 enforce, PKIX fails", DEF, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_PKIX, 0, 1, 0, O_PKIXFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_PKIX_VERIFY, R_NONE, 0},
	{"RFC8461 s5.1 enforce, no STARTTLS", DEF, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_PKIX, 0, 1, 0, O_NOSTARTTLS, V_NEXT, "4.7.4", 0, MS_RTLS_R_STARTTLS_MISSING, R_NONE, 0},
	{"RFC8461 s4.1 enforce, host not matching", DEF, 0, INS, INS, D_NONE, S_ENF, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.7.5", 0, MS_RTLS_R_STS_MX_MISMATCH, R_NONE, 0},
	{"RFC8461 s5.2 testing only reports PKIX failure", DEF, 0, INS, INS, D_NONE, S_TEST, 1,
	 M_OPP, 0, 0, 0, O_PKIXFAIL, V_DEL, "", 0, R_NONE, R_NONE, 1},
	{"RFC8461 s5.2 testing only reports mismatch", DEF, 0, INS, INS, D_NONE, S_TEST, 0,
	 M_OPP, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 1},
	{"testing, all good: nothing to report", DEF, 0, INS, INS, D_NONE, S_TEST, 1,
	 M_OPP, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8461 s5.2 testing reports missing STARTTLS", DEF, 0, INS, INS, D_NONE, S_TEST, 1,
	 M_OPP, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, R_NONE, 1},
	{"mode none is no policy", DEF, 0, INS, INS, D_NONE, S_NONE, 0,
	 M_OPP, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC7672 s2.1.1 bogus MX -> defer", DEF, 0, BOG, SEC, D_USE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_TEMP, "4.4.3", 0, MS_RTLS_R_MX_LOOKUP, R_NONE, 0},
	{"RFC7672 s2.1.1 indeterminate MX -> defer", DEF, 0, IND, SEC, D_NONE, S_ENF, 1,
	 M_SKIP, 0, 0, 0, O_NONE, V_TEMP, "4.4.3", 0, MS_RTLS_R_MX_LOOKUP, R_NONE, 0},
	/* issue 13.1: a dropped AAAA query once made the addresses
	 * "indeterminate", DANE was dropped and the host went plaintext */
	{"RFC7672 s2.2.1 failed address lookup -> skip, never plaintext", DEF, 0, SEC, IND, D_FAIL, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.4.3", 0, MS_RTLS_R_ADDR_LOOKUP, R_NONE, 0},
	{"RFC7672 s2.2.1 bogus address records -> skip", DEF, 0, SEC, BOG, D_NONE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.4.3", 0, MS_RTLS_R_ADDR_LOOKUP, R_NONE, 0},
	{"failed address lookup under insecure MX -> skip too", DEF, 0, INS, IND, D_NONE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.4.3", 0, MS_RTLS_R_ADDR_LOOKUP, R_NONE, 0},
	{"connection failure -> next host", DEF, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_NOCONN, V_NEXT, "4.4.1", 0, MS_RTLS_R_CONNECT, R_NONE, 0},
	{"default message never sends REQUIRETLS", DEF, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},

	/* ---- REQUIRETLS (RFC 8689 s4.2.1) ---- */
	{"RFC8689 failed address lookup: temporary, not 5.7.30 now", REQ, 0, SEC, IND, D_FAIL, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.4.3", 0, MS_RTLS_R_ADDR_LOOKUP, R_NONE, 0},
	{"RFC8689 s4.2.1 DANE path, REQUIRETLS offered", REQ, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 1, O_GOOD, V_DEL, "", 1, R_NONE, R_NONE, 0},
	{"RFC8689 s4.2.1 REQUIRETLS not after STARTTLS", REQ, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 1, O_NORT, V_NEXT, "5.7.30", 0, MS_RTLS_R_REQUIRETLS_MISSING, R_NONE, 0},
	{"RFC8689 s4.2.1 DANE mismatch", REQ, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 1, O_DANEFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_DANE_VERIFY, R_NONE, 0},
	{"RFC8689 s4.2.1 no STARTTLS", REQ, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 1, O_NOSTARTTLS, V_NEXT, "4.7.4", 0, MS_RTLS_R_STARTTLS_MISSING, R_NONE, 0},
	{"RFC8689 s4.2.1 MTA-STS enforce path", REQ, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_PKIX, 0, 1, 1, O_GOOD, V_DEL, "", 1, R_NONE, R_NONE, 0},
	{"RFC8689 s4.2.1 enforce path, REQUIRETLS missing", REQ, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_PKIX, 0, 1, 1, O_NORT, V_NEXT, "5.7.30", 0, MS_RTLS_R_REQUIRETLS_MISSING, R_NONE, 0},
	{"RFC8689 s4.2.1 enforce path, PKIX fails", REQ, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_PKIX, 0, 1, 1, O_PKIXFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_PKIX_VERIFY, R_NONE, 0},
	{"RFC8689 s4.2.1 no DANE, no policy -> 5.7.30", REQ, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "5.7.30", 0, MS_RTLS_R_NO_VERIFIED_PATH, R_NONE, 0},
	{"RFC8689 s4.2.1 testing policy is not enough", REQ, 0, INS, INS, D_NONE, S_TEST, 1,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "5.7.30", 0, MS_RTLS_R_NO_VERIFIED_PATH, R_NONE, 0},
	{"RFC8689 s4.2.1 unusable TLSA is not verification", REQ, 0, SEC, SEC, D_UNUSE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "5.7.30", 0, MS_RTLS_R_NO_VERIFIED_PATH, R_NONE, 0},
	{"RFC8689 s4.2.1 unusable TLSA + enforce -> PKIX", REQ, 0, SEC, SEC, D_UNUSE, S_ENF, 1,
	 M_PKIX, 0, 1, 1, O_GOOD, V_DEL, "", 1, R_NONE, R_NONE, 0},
	{"RFC7672 s2.2 TLSA failure skips even with enforce", REQ, 0, SEC, SEC, D_FAIL, S_ENF, 1,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.7.5", 0, MS_RTLS_R_TLSA_LOOKUP, R_NONE, 0},
	{"RFC8461 s4.1 REQUIRETLS, host not in policy", REQ, 0, INS, INS, D_NONE, S_ENF, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "4.7.5", 0, MS_RTLS_R_STS_MX_MISMATCH, R_NONE, 0},
	{"RFC8689 s4.2.1 insecure host address: no DANE path", REQ, 0, SEC, INS, D_USE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "5.7.30", 0, MS_RTLS_R_NO_VERIFIED_PATH, R_NONE, 0},
	{"RFC8689 s4.2.1 insecure MX: no DANE path", REQ, 0, INS, SEC, D_USE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "5.7.30", 0, MS_RTLS_R_NO_VERIFIED_PATH, R_NONE, 0},
	{"RFC8689 s4.2.1 DANE+enforce both must pass", REQ, 0, SEC, SEC, D_USE, S_ENF, 1,
	 M_DANE, 1, 1, 1, O_PKIXFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_PKIX_VERIFY, R_NONE, 0},
	{"RFC8689 s4.2.1 no TLSA records", REQ, 0, SEC, SEC, D_INS, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_NEXT, "5.7.30", 0, MS_RTLS_R_NO_VERIFIED_PATH, R_NONE, 0},
	{"RFC7672 s2.1.1 REQUIRETLS, bogus MX", REQ, 0, BOG, SEC, D_USE, S_ENF, 1,
	 M_SKIP, 0, 0, 0, O_NONE, V_TEMP, "4.4.3", 0, MS_RTLS_R_MX_LOOKUP, R_NONE, 0},

	/* ---- TLS-Required: No (RFC 8689 s4.2.2) ---- */
	{"RFC8689 s4.2.2 DANE mismatch ignored", NOT, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_DANEFAIL, V_DEL, "", 0, R_NONE, MS_RTLS_R_DANE_VERIFY, 0},
	{"RFC8689 s4.2.2 missing STARTTLS ignored", NOT, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, MS_RTLS_R_STARTTLS_MISSING, 0},
	{"RFC8689 s4.2.2 handshake failure -> plaintext retry", NOT, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_HSFAIL, V_PLAIN, "", 0, R_NONE, R_NONE, 0},
	{"RFC8689 s4.2.2 plaintext retry delivers", NOT, 0, SEC, SEC, D_USE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_PLAIN_AFTER_HS, V_DEL, "", 0, R_NONE, MS_RTLS_R_HANDSHAKE, 0},
	{"RFC8689 s4.2.2 PKIX failure under enforce ignored", NOT, 0, INS, INS, D_NONE, S_ENF, 1,
	 M_FB, 0, 0, 0, O_PKIXFAIL, V_DEL, "", 0, R_NONE, MS_RTLS_R_PKIX_VERIFY, 0},
	{"RFC8689 s4.2.2 policy mismatch ignored", NOT, 0, INS, INS, D_NONE, S_ENF, 0,
	 M_FB, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, MS_RTLS_R_STS_MX_MISMATCH, 0},
	{"RFC8689 s4.2.2 TLSA lookup failure ignored", NOT, 0, SEC, SEC, D_FAIL, S_NOP, 0,
	 M_FB, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, MS_RTLS_R_TLSA_LOOKUP, 0},
	{"RFC8689 s4.2.2 nothing to ignore without policy", NOT, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8689 s4.2.2 failed handshake then plaintext is counted without policy", NOT, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_PLAIN_AFTER_HS, V_DEL, "", 0, R_NONE, MS_RTLS_R_HANDSHAKE, 0},
	{"RFC8689 s4.2.2 good TLS, nothing ignored", NOT, 0, SEC, SEC, D_USE, S_ENF, 1,
	 M_FB, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8689 s4.2.2 no REQUIRETLS sent", NOT, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_GOOD, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC7672 s2.1.1 bogus MX still defers", NOT, 0, BOG, SEC, D_NONE, S_NOP, 0,
	 M_SKIP, 0, 0, 0, O_NONE, V_TEMP, "4.4.3", 0, MS_RTLS_R_MX_LOOKUP, R_NONE, 0},
	{"TLS-Required: No, no connection", NOT, 0, INS, INS, D_NONE, S_NOP, 0,
	 M_FB, 0, 0, 0, O_NOCONN, V_NEXT, "4.4.1", 0, MS_RTLS_R_CONNECT, R_NONE, 0},

	/* ---- DSN about a REQUIRETLS message (RFC 8689 s5) ---- */
	{"RFC8689 s5 DSN not dropped without REQUIRETLS", DEF, 1, INS, INS, D_NONE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_NORT, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8689 s5 DSN uses REQUIRETLS where offered", DEF, 1, INS, INS, D_NONE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_GOOD, V_DEL, "", 1, R_NONE, R_NONE, 0},
	{"RFC8689 s5 DSN over plaintext", DEF, 1, INS, INS, D_NONE, S_NOP, 0,
	 M_OPP, 0, 0, 0, O_NOSTARTTLS, V_DEL, "", 0, R_NONE, R_NONE, 0},
	{"RFC8689 s5 DSN still honours DANE", DEF, 1, SEC, SEC, D_USE, S_NOP, 0,
	 M_DANE, 1, 0, 0, O_DANEFAIL, V_NEXT, "4.7.5", 0, MS_RTLS_R_DANE_VERIFY, R_NONE, 0},
};

/* Plans and outcomes belong to the caller, who sets their version: 0 is
 * refused with nothing written, the library never rewrites it, and a
 * caller of a newer version than the library's gets what the library has
 * without anything past the library's struct touched. */
/* Issue 19: an MTA-STS policy that is unknown (published, not fetched,
 * the policy store unreachable) defers the host - not when DANE
 * authenticates it, not for TLS-Required: No. */
START_TEST(test_sts_unknown_defers)
{
	struct ms_rtls_domain d = { MS_RTLS_REQ_DEFAULT, "example.org", MS_DNS_SECURE,
				    MS_RTLS_STS_UNKNOWN, 0 };
	struct ms_rtls_host h = { "mx1.example.org", MS_DNS_SECURE, MS_RTLS_DANE_INSECURE, 0 };
	struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &p), MS_OK);
	ck_assert_int_eq(p.mode, MS_RTLS_MODE_SKIP);
	ck_assert_int_eq(p.reason, MS_RTLS_R_STS_UNKNOWN);
	ck_assert_int_eq(p.skip_verdict, MS_RTLS_TEMPFAIL);
	ck_assert_str_eq(ms_rtls_reason_str(p.reason), "sts_unknown");
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_outcome_from_plan(&p, &o), MS_OK);
	ck_assert_int_eq(o.verdict, MS_RTLS_TEMPFAIL);
	ck_assert(o.temporary);
	/* REQUIRED is held the same way */
	d.requirement = MS_RTLS_REQ_REQUIRED;
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &p), MS_OK);
	ck_assert_int_eq(p.reason, MS_RTLS_R_STS_UNKNOWN);
	/* DANE authenticates the host: MTA-STS is not needed */
	d.requirement = MS_RTLS_REQ_DEFAULT;
	h.dane = MS_RTLS_DANE_USABLE;
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &p), MS_OK);
	ck_assert_int_eq(p.mode, MS_RTLS_MODE_DANE);
	/* TLS-Required: No: the sender opted out */
	h.dane = MS_RTLS_DANE_INSECURE;
	d.requirement = MS_RTLS_REQ_NOT_REQUIRED;
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &p), MS_OK);
	ck_assert_int_eq(p.mode, MS_RTLS_MODE_OPPORTUNISTIC_FALLBACK);
	ck_assert_str_eq(ms_rtls_sts_mode_str(MS_RTLS_STS_UNKNOWN), "unknown");
}
END_TEST

START_TEST(test_caller_versions)
{
	struct ms_rtls_domain d = { MS_RTLS_REQ_REQUIRED, "example.org", MS_DNS_INSECURE,
				    MS_RTLS_STS_NONE, 0 };
	struct ms_rtls_host h = { "mx1.example.org", MS_DNS_INSECURE, MS_RTLS_DANE_NONE, 0 };
	struct {
		struct ms_rtls_plan p;
		unsigned char canary[16];
	} bp;
	struct {
		struct ms_rtls_outcome o;
		unsigned char canary[16];
	} bo;
	memset(&bp, 0x5A, sizeof(bp));
	memset(&bo, 0x5A, sizeof(bo));
	bp.p.version = 0;
	bo.o.version = 0;
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &bp.p), MS_ERR_INVALID);
	ck_assert_int_eq((int)bp.p.mode, (int)0x5A5A5A5A);
	bp.p.version = MS_RTLS_PLAN_VERSION + 3;
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &bp.p), MS_OK);
	ck_assert_int_eq(bp.p.version, MS_RTLS_PLAN_VERSION + 3);
	ck_assert_int_eq(bp.p.mode, MS_RTLS_MODE_SKIP); /* REQUIRETLS, no verified path */
	ck_assert_int_eq(ms_rtls_outcome_from_plan(&bp.p, &bo.o), MS_ERR_INVALID);
	ck_assert_int_eq((int)bo.o.verdict, (int)0x5A5A5A5A);
	struct ms_rtls_observed x = { 0 };
	ck_assert_int_eq(ms_rtls_judge(&d, &h, &bp.p, &x, &bo.o), MS_ERR_INVALID);
	struct ms_rtls_outcome one = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_conclude(NULL, 0, &bo.o), MS_ERR_INVALID);
	bo.o.version = MS_RTLS_OUTCOME_VERSION + 3;
	ck_assert_int_eq(ms_rtls_outcome_from_plan(&bp.p, &bo.o), MS_OK);
	ck_assert_int_eq(bo.o.version, MS_RTLS_OUTCOME_VERSION + 3);
	ck_assert_int_eq(bo.o.verdict, MS_RTLS_TRY_NEXT);
	ck_assert_str_eq(bo.o.enhanced, "5.7.30");
	/* an input plan of version 0 reads as version 1 */
	struct ms_rtls_plan p0 = bp.p;
	p0.version = 0;
	ck_assert_int_eq(ms_rtls_outcome_from_plan(&p0, &one), MS_OK);
	ck_assert_int_eq(one.verdict, MS_RTLS_TRY_NEXT);
	/* conclude: the array's elements must agree on their version */
	struct ms_rtls_outcome f[2] = { one, one };
	f[1].version = MS_RTLS_OUTCOME_VERSION + 1;
	ck_assert_int_eq(ms_rtls_conclude(f, 2, &bo.o), MS_ERR_INVALID);
	f[1].version = MS_RTLS_OUTCOME_VERSION;
	ck_assert_int_eq(ms_rtls_conclude(f, 2, &bo.o), MS_OK);
	ck_assert_int_eq(bo.o.verdict, MS_RTLS_PERMFAIL);
	for (size_t i = 0; i < sizeof(bp.canary); i++) {
		ck_assert_int_eq(bp.canary[i], 0x5A);
		ck_assert_int_eq(bo.canary[i], 0x5A);
	}
	/* the peer facts of ms_rtls_verify_chain likewise */
	struct ms_rtls_peer peer;
	char why[200] = "";
	memset(&peer, 0x5A, sizeof(peer));
	peer.version = 0;
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, NULL, 0, "mx1.example.org", NULL, NULL, &peer,
					      why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "MS_RTLS_PEER_VERSION"));
	ck_assert_int_eq((int)peer.pkix, (int)0x5A5A5A5A);
	peer.version = MS_RTLS_PEER_VERSION;
	ck_assert_int_eq(ms_rtls_verify_chain(NULL, NULL, 0, "mx1.example.org", NULL, NULL, &peer,
					      why, sizeof(why)), MS_OK);
	ck_assert_int_eq(peer.version, MS_RTLS_PEER_VERSION);
	ck_assert_int_eq(peer.dane, MS_RTLS_STEP_NOT_DONE);
	ck_assert_int_eq(peer.pkix, MS_RTLS_STEP_FAILED); /* no certificate at all */
}
END_TEST

START_TEST(test_matrix)
{
	const struct row *r = &rows[_i];
	struct ms_rtls_domain d = {r->req, "example.org", r->mx, r->sts, r->dsn};
	struct ms_rtls_host h = {"mx1.example.org", r->addr, r->dane, r->match};
	struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	ck_assert_int_eq(ms_rtls_plan(&d, &h, &p), MS_OK);
	ck_assert_msg(p.mode == r->mode, "%s: mode %s, want %s", r->rule,
		      ms_rtls_mode_str(p.mode), ms_rtls_mode_str(r->mode));
	ck_assert_msg(p.verify_dane == r->vdane && p.verify_pkix == r->vpkix &&
		      p.need_requiretls == r->needrt,
		      "%s: dane %d pkix %d requiretls %d", r->rule, p.verify_dane,
		      p.verify_pkix, p.need_requiretls);
	ck_assert_int_eq(p.headers_only, r->dsn);
	if (r->mode == M_SKIP) {
		ck_assert_msg(r->obs == O_NONE, "%s: a skipped host has no attempt", r->rule);
		ms_rtls_outcome_from_plan(&p, &o);
	} else {
		struct ms_rtls_observed x = observe(r->obs);
		ck_assert_int_eq(ms_rtls_judge(&d, &h, &p, &x, &o), MS_OK);
	}
	ck_assert_msg(o.verdict == r->verdict, "%s: verdict %s, want %s", r->rule,
		      ms_rtls_verdict_str(o.verdict), ms_rtls_verdict_str(r->verdict));
	ck_assert_msg(strcmp(o.enhanced, r->enhanced) == 0, "%s: code %s, want %s",
		      r->rule, o.enhanced, r->enhanced);
	ck_assert_int_eq(o.mail_requiretls, r->mail_rt);
	ck_assert_msg(o.reason == r->reason, "%s: reason %s, want %s", r->rule,
		      ms_rtls_reason_str(o.reason), ms_rtls_reason_str(r->reason));
	ck_assert_msg(o.ignored == r->ignored, "%s: ignored %s, want %s", r->rule,
		      ms_rtls_reason_str(o.ignored), ms_rtls_reason_str(r->ignored));
	ck_assert_int_eq(o.sts_testing_failure, r->sts_testing);
	if (r->enhanced[0]) {
		/* a failure says why, naming the host or domain */
		ck_assert(strstr(o.text, "mx1.example.org") || strstr(o.text, "example.org"));
		ck_assert_int_eq(o.temporary, r->enhanced[0] == '4');
		ck_assert_int_eq(o.basic, r->enhanced[0] - '0');
		/* RFC 8689 s7: a returned REQUIRETLS message carries 5.7.30 */
		if (r->req == REQ) {
			ck_assert_str_eq(o.bounce_enhanced, "5.7.30");
			ck_assert(strncmp(o.text, "REQUIRETLS: ", 12) == 0);
		} else {
			ck_assert_int_eq(o.bounce_enhanced[0], '5');
			ck_assert_str_eq(o.bounce_enhanced + 1, r->enhanced + 1);
		}
	} else {
		ck_assert_str_eq(o.text, "");
	}
}
END_TEST

START_TEST(test_conclude)
{
	struct ms_rtls_domain d = {REQ, "example.org", INS, S_ENF, 0};
	struct ms_rtls_host h1 = {"mx1.example.org", INS, D_NONE, 1};
	struct ms_rtls_host h2 = {"mx2.example.org", INS, D_NONE, 1};
	struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
	struct ms_rtls_outcome f[2] = { { .version = MS_RTLS_OUTCOME_VERSION },
					 { .version = MS_RTLS_OUTCOME_VERSION } },
			       fin = { .version = MS_RTLS_OUTCOME_VERSION };
	struct ms_rtls_observed nort = observe(O_NORT), hs = observe(O_HSFAIL);

	/* every host lacks REQUIRETLS: returned now with 5.7.30 */
	ms_rtls_plan(&d, &h1, &p);
	ms_rtls_judge(&d, &h1, &p, &nort, &f[0]);
	ms_rtls_plan(&d, &h2, &p);
	ms_rtls_judge(&d, &h2, &p, &nort, &f[1]);
	ck_assert_int_eq(ms_rtls_conclude(f, 2, &fin), MS_OK);
	ck_assert_int_eq(fin.verdict, MS_RTLS_PERMFAIL);
	ck_assert_str_eq(fin.enhanced, "5.7.30");
	ck_assert_ptr_nonnull(strstr(fin.text, "mx1.example.org"));

	/* one host failed temporarily: the message stays queued */
	ms_rtls_judge(&d, &h2, &p, &hs, &f[1]);
	ck_assert_int_eq(ms_rtls_conclude(f, 2, &fin), MS_OK);
	ck_assert_int_eq(fin.verdict, MS_RTLS_TEMPFAIL);
	ck_assert_str_eq(fin.enhanced, "4.7.5");
	ck_assert_str_eq(fin.bounce_enhanced, "5.7.30");
	ck_assert_ptr_nonnull(strstr(fin.text, "mx2.example.org"));

	/* no hosts at all */
	ck_assert_int_eq(ms_rtls_conclude(NULL, 0, &fin), MS_OK);
	ck_assert_int_eq(fin.verdict, MS_RTLS_TEMPFAIL);
	ck_assert_str_eq(fin.enhanced, "4.4.4");

	/* a DELIVER outcome is not a failure */
	struct ms_rtls_observed good = observe(O_GOOD);
	ms_rtls_judge(&d, &h1, &p, &good, &f[0]);
	ck_assert_int_eq(f[0].verdict, MS_RTLS_DELIVER);
	ck_assert_int_eq(ms_rtls_conclude(f, 2, &fin), MS_ERR_INVALID);

	/* bogus MX plan: the skip outcome is already a TEMPFAIL */
	struct ms_rtls_domain bog = {DEF, "example.org", BOG, S_NOP, 0};
	ms_rtls_plan(&bog, &h1, &p);
	ms_rtls_outcome_from_plan(&p, &f[0]);
	ck_assert_int_eq(ms_rtls_conclude(f, 1, &fin), MS_OK);
	ck_assert_int_eq(fin.verdict, MS_RTLS_TEMPFAIL);
	ck_assert_str_eq(fin.enhanced, "4.4.3");

	ck_assert_int_eq(ms_rtls_plan(NULL, &h1, &p), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_judge(&d, &h1, &p, NULL, &fin), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_conclude(NULL, 1, &fin), MS_ERR_INVALID);
}
END_TEST

START_TEST(test_apply_params)
{
	struct ms_rtls_domain d = {REQ, "example.org", SEC, S_NOP, 0};
	struct ms_rtls_host h = {"mx1.example.org", SEC, D_USE, 0};
	struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	struct ms_rtls_observed good = observe(O_GOOD);
	struct ms_rtls_mail *m = NULL;
	char out[128];
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_parse_params(m, (const uint8_t *)"SIZE=10", 7, NULL, 0), MS_OK);
	ms_rtls_plan(&d, &h, &p);
	ms_rtls_judge(&d, &h, &p, &good, &o);
	ck_assert_int_eq(ms_rtls_outcome_apply(&o, m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_format(m, out, sizeof(out), NULL), MS_OK);
	ck_assert_str_eq(out, "SIZE=10 REQUIRETLS");
	/* a default message relayed on must not carry a stale REQUIRETLS */
	d.requirement = DEF;
	ms_rtls_plan(&d, &h, &p);
	ms_rtls_judge(&d, &h, &p, &good, &o);
	ck_assert_int_eq(ms_rtls_outcome_apply(&o, m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_format(m, out, sizeof(out), NULL), MS_OK);
	ck_assert_str_eq(out, "SIZE=10");
	ms_rtls_mail_free(m);
}
END_TEST

/* Metric capture for ms_rtls_outcome_count. */
struct seen {
	int n;
	char name[64];
	char label[64];
};

static void on_metric(void *user, const struct ms_metric_event *ev)
{
	struct seen *s = user;
	s->n++;
	snprintf(s->name, sizeof(s->name), "%s", ev->name);
	ck_assert_uint_eq(ev->nlabels, 1);
	ck_assert_str_eq(ev->labels[0].key, "reason");
	snprintf(s->label, sizeof(s->label), "%s", ev->labels[0].value);
	ck_assert_int_eq(ev->kind, MS_METRIC_COUNTER);
}

static void on_fallback_metric(void *user, const struct ms_metric_event *ev)
{
	char *out = user;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%s{%s=%s} ", ev->name, ev->nlabels ? ev->labels[0].key : "",
		 ev->nlabels ? ev->labels[0].value : "");
}

/* RFC 7435 fallback and TLS-Required: No: a delivery in plaintext after a
 * failed handshake is counted, and under TLS-Required: No it is also an
 * ignored TLS error (issue 14: the handshake case was not counted). */
START_TEST(test_fallback_metrics)
{
	char seen[256] = "";
	struct ms_env env = {0};
	env.version = MS_ENV_VERSION;
	env.user = seen;
	env.metric = on_fallback_metric;
	struct ms_rtls_domain d = {DEF, "example.org", INS, S_NOP, 0};
	struct ms_rtls_host h = {"mx1.example.org", INS, D_NONE, 0};
	struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	struct ms_rtls_observed x = observe(O_PLAIN_AFTER_HS);
	ms_rtls_plan(&d, &h, &p);
	ms_rtls_judge(&d, &h, &p, &x, &o);
	ck_assert_int_eq(o.plaintext_fallback, 1);
	ms_rtls_outcome_count(&env, d.requirement, &o);
	ck_assert_str_eq(seen, "smtp_plaintext_fallback_total{requirement=default} ");
	seen[0] = '\0';
	d.requirement = NOT;
	ms_rtls_plan(&d, &h, &p);
	ms_rtls_judge(&d, &h, &p, &x, &o);
	ms_rtls_outcome_count(&env, d.requirement, &o);
	ck_assert_str_eq(seen, "tls_required_no_ignored_total{reason=handshake} "
			       "smtp_plaintext_fallback_total{requirement=not-required} ");
}
END_TEST

START_TEST(test_metrics)
{
	struct seen s = {0};
	struct ms_env env = {0};
	env.version = MS_ENV_VERSION;
	env.user = &s;
	env.metric = on_metric;
	struct ms_rtls_domain d = {NOT, "example.org", SEC, S_NOP, 0};
	struct ms_rtls_host h = {"mx1.example.org", SEC, D_USE, 0};
	struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	struct ms_rtls_observed x = observe(O_DANEFAIL);
	ms_rtls_plan(&d, &h, &p);
	ms_rtls_judge(&d, &h, &p, &x, &o);
	ms_rtls_outcome_count(&env, d.requirement, &o);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.name, "tls_required_no_ignored_total");
	ck_assert_str_eq(s.label, "dane_verify");

	d.requirement = REQ;
	x = observe(O_NORT);
	ms_rtls_plan(&d, &h, &p);
	ms_rtls_judge(&d, &h, &p, &x, &o);
	ms_rtls_outcome_count(&env, d.requirement, &o);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.name, "requiretls_errors_total");
	ck_assert_str_eq(s.label, "requiretls_missing");

	/* a successful delivery counts nothing; NULL env is quiet */
	x = observe(O_GOOD);
	ms_rtls_judge(&d, &h, &p, &x, &o);
	ms_rtls_outcome_count(&env, d.requirement, &o);
	ck_assert_int_eq(s.n, 2);
	x = observe(O_NORT);
	ms_rtls_judge(&d, &h, &p, &x, &o);
	ms_rtls_outcome_count(NULL, d.requirement, &o);
	ck_assert_int_eq(s.n, 2);
}
END_TEST

START_TEST(test_observe_ehlo)
{
	/* RFC 3207 s4.2 / RFC 8689 s4.2.1: REQUIRETLS counts only after TLS */
	static const char rep[] = "250-mx\r\n250-STARTTLS\r\n250 REQUIRETLS\r\n";
	struct ms_rtls_ehlo *e = NULL;
	struct ms_rtls_observed o;
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(ms_rtls_ehlo_new(NULL, &e), MS_OK);
	ck_assert_int_eq(ms_rtls_ehlo_parse(e, (const uint8_t *)rep, strlen(rep), 0, NULL, 0), MS_OK);
	ms_rtls_observe_ehlo(e, &o);
	ck_assert(o.starttls_offered);
	ck_assert(!o.requiretls_offered);
	ms_rtls_ehlo_discard(e);
	ms_rtls_observe_ehlo(e, &o); /* an empty set changes nothing */
	ck_assert(o.starttls_offered && !o.requiretls_offered);
	ck_assert_int_eq(ms_rtls_ehlo_parse(e, (const uint8_t *)rep, strlen(rep), 1, NULL, 0), MS_OK);
	ms_rtls_observe_ehlo(e, &o);
	ck_assert(o.starttls_offered && o.requiretls_offered);
	ck_assert_int_eq(ms_rtls_ehlo_parse(e, (const uint8_t *)"250 mx\r\n", 8, 1, NULL, 0), MS_OK);
	ms_rtls_observe_ehlo(e, &o);
	ck_assert(!o.requiretls_offered);
	ms_rtls_ehlo_free(e);
	ms_rtls_observe_ehlo(NULL, &o);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(ms_rtls_mode_str(M_FB), "opportunistic-fallback");
	ck_assert_str_eq(ms_rtls_mode_str(M_DANE), "dane");
	ck_assert_str_eq(ms_rtls_verdict_str(V_PLAIN), "retry-plaintext");
	ck_assert_str_eq(ms_rtls_verdict_str(MS_RTLS_PERMFAIL), "permfail");
	ck_assert_str_eq(ms_rtls_reason_str(MS_RTLS_R_NO_VERIFIED_PATH), "no_verified_path");
	ck_assert_str_eq(ms_rtls_mode_str((enum ms_rtls_tls_mode)99), "unknown");
}
END_TEST

/* An assertion without libcheck's per-call bookkeeping (millions of calls);
 * a failure names the line and the combination being checked. */
#define MUST(c) do { if (!(c)) ck_abort_msg("line %d: %s (req %d dsn %d mx %d addr %d dane %d sts %d match %d)", \
	__LINE__, #c, req, dsn, mx, ad, dane, sts, match); } while (0)

/*
 * Every combination of inputs and observations (about 1.6 million), checked
 * against the invariants the RFCs demand whatever the row tables say.
 */
START_TEST(test_exhaustive_invariants)
{
	static const enum ms_dns_security secs[] = {SEC, INS, BOG, IND};
	static const enum ms_rtls_step steps[] = {MS_RTLS_STEP_NOT_DONE, MS_RTLS_STEP_OK,
						  MS_RTLS_STEP_FAILED};
	unsigned long n = 0;
	for (int req = 0; req < 3; req++)
	for (int dsn = 0; dsn < 2; dsn++)
	for (int mx = 0; mx < 4; mx++)
	for (int ad = 0; ad < 4; ad++)
	for (int dane = 0; dane < 5; dane++)
	for (int sts = 0; sts < 4; sts++)
	for (int match = 0; match < 2; match++) {
		struct ms_rtls_domain d = {(enum ms_rtls_requirement)req, "example.org", secs[mx],
					   (enum ms_rtls_sts_mode)sts, dsn};
		struct ms_rtls_host h = {"mx1.example.org", secs[ad], (enum ms_rtls_dane)dane, match};
		struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
		MUST(ms_rtls_plan(&d, &h, &p) == MS_OK);
		int dane_usable = secs[mx] == SEC && secs[ad] == SEC && dane == D_USE;
		int mx_bad = secs[mx] == BOG || secs[mx] == IND;
		int addr_bad = secs[ad] == BOG || secs[ad] == IND;
		/* RFC 7672 s2.2.1, fail closed: a failed address lookup skips
		 * the host for now (temporary), whatever the requirement; it is
		 * never tried as if it were insecure */
		if (addr_bad && !mx_bad) {
			MUST(p.mode == M_SKIP && p.skip_verdict == MS_RTLS_TRY_NEXT);
			MUST(p.reason == MS_RTLS_R_ADDR_LOOKUP && p.enhanced[0] == '4');
		}
		/* RFC 8689 s4.2.2: TLS-Required: No never skips a host it can reach */
		if (req == NOT && !mx_bad && !addr_bad)
			MUST(p.mode == M_FB);
		if (req == REQ && p.mode != M_SKIP)
			MUST(p.need_requiretls && (dane_usable || (sts == S_ENF && match)));
		for (int x = 0; x < 2 * 2 * 3 * 3 * 3 * 2 * 2; x++) {
			struct ms_rtls_observed o;
			int k = x;
			o.connected = k % 2; k /= 2;
			o.starttls_offered = k % 2; k /= 2;
			o.handshake = steps[k % 3]; k /= 3;
			o.dane = steps[k % 3]; k /= 3;
			o.pkix = steps[k % 3]; k /= 3;
			o.requiretls_offered = k % 2; k /= 2;
			o.plaintext = k % 2;
			struct ms_rtls_outcome out = { .version = MS_RTLS_OUTCOME_VERSION };
			MUST(ms_rtls_judge(&d, &h, &p, &o, &out) == MS_OK);
			n++;
			int tls = o.connected && o.starttls_offered && !o.plaintext &&
				  o.handshake == MS_RTLS_STEP_OK;
			if (out.verdict == V_DEL) {
				MUST(o.connected);
				/* plaintext after a failed handshake only where
				 * nothing requires TLS */
				if (out.plaintext_fallback)
					MUST((p.mode == M_OPP || p.mode == M_FB) && o.plaintext);
				MUST(out.enhanced[0] == '\0');
				/* never send an extension the server did not offer */
				if (out.mail_requiretls)
					MUST(tls && o.requiretls_offered);
				if (req == REQ) {
					/* RFC 8689 s4.2.1: verified TLS + REQUIRETLS */
					MUST(out.mail_requiretls && tls);
					MUST((dane_usable && o.dane == MS_RTLS_STEP_OK) ||
						  (sts == S_ENF && match && o.pkix == MS_RTLS_STEP_OK));
				}
				if (req != NOT) {
					/* RFC 7672 s2.2: usable TLSA must match */
					if (dane_usable)
						MUST(tls && o.dane == MS_RTLS_STEP_OK);
					/* RFC 8461 s5.1: enforce needs PKIX and a listed host */
					if (sts == S_ENF)
						MUST(tls && match && o.pkix == MS_RTLS_STEP_OK);
					/* RFC 7672 s2.2: a failed TLSA lookup is never ignored */
					MUST(!(secs[mx] == SEC && secs[ad] == SEC && dane == D_FAIL));
				}
				MUST(!mx_bad);
				if (req != NOT)
					MUST(out.ignored == R_NONE);
			} else if (out.verdict == V_PLAIN) {
				/* RFC 7435 / RFC 8689 s4.2.2: plaintext only where
				 * nothing requires TLS, never under DANE, enforce,
				 * unusable TLSA or REQUIRETLS */
				MUST((p.mode == M_OPP || p.mode == M_FB) && req != REQ && !o.plaintext);
				MUST(!p.verify_dane && !p.verify_pkix && !p.need_requiretls);
			} else {
				/* a failure says why, with a consistent class */
				MUST(out.text[0] != '\0');
				MUST(out.temporary == (out.enhanced[0] == '4'));
				MUST(out.enhanced[0] == '4' || out.enhanced[0] == '5');
				MUST(out.bounce_enhanced[0] == '5');
				if (req == REQ)
					MUST(strcmp(out.bounce_enhanced, "5.7.30") == 0);
				MUST(!out.mail_requiretls);
				/* TLS-Required: No only fails on things TLS cannot fix */
				if (req == NOT)
					MUST(!o.connected || mx_bad || addr_bad);
			}
		}
	}
	ck_assert_uint_eq(n, 3ul * 2 * 4 * 4 * 5 * 4 * 2 * 432);
}
END_TEST

/* RFC 3464: Action and Status of the DSN of an undelivered recipient. */
START_TEST(test_dsn)
{
	struct ms_rtls_outcome o = { .verdict = MS_RTLS_PERMFAIL, .enhanced = "5.7.30",
				     .bounce_enhanced = "5.7.31" };
	ck_assert_str_eq(ms_rtls_dsn_action(&o), "failed");
	ck_assert_str_eq(ms_rtls_dsn_status(&o), "5.7.31");
	o.verdict = MS_RTLS_TEMPFAIL;
	strcpy(o.enhanced, "4.7.4");
	ck_assert_str_eq(ms_rtls_dsn_action(&o), "delayed");
	ck_assert_str_eq(ms_rtls_dsn_status(&o), "4.7.4");
	o.verdict = MS_RTLS_TRY_NEXT;
	ck_assert_str_eq(ms_rtls_dsn_action(&o), "delayed");
	ck_assert_str_eq(ms_rtls_step_str(MS_RTLS_STEP_OK), "ok");
	ck_assert_str_eq(ms_rtls_step_str(MS_RTLS_STEP_FAILED), "failed");
	ck_assert_str_eq(ms_rtls_step_str(MS_RTLS_STEP_NOT_DONE), "not-done");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("requiretls-decide");
	TCase *tc = tcase_create("decide");
	tcase_add_loop_test(tc, test_matrix, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_conclude);
	tcase_add_test(tc, test_caller_versions);
	tcase_add_test(tc, test_sts_unknown_defers);
	tcase_add_test(tc, test_apply_params);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_fallback_metrics);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_dsn);
	tcase_add_test(tc, test_observe_ehlo);
	tcase_add_test(tc, test_exhaustive_invariants);
	tcase_set_timeout(tc, 120); /* the exhaustive run, also under valgrind */
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
