/*
 * test_alloc_failures.c - allocation-failure loops over the public APIs
 * that allocate through the env allocator (issue 9).  For every n, the
 * env allocator fails the n-th allocation of one call, until the call
 * succeeds.  Each failing call must return MS_ERR_NOMEM (never a verdict:
 * an allocation failure must not turn into "no policy", "none" or "pass"),
 * leave the live-block count where it was (nothing leaked; ASan/LSan runs
 * see the rest), and leave its handle usable: the same call without
 * failures right after gives the reference answer.  Calls that can
 * legitimately succeed despite a failed allocation (a fallback path) must
 * then give exactly the reference answer.
 *
 * Compiled per component (HARD_HAVE_MTASTS, ...): the DNS part always.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/dns.h>
#ifdef HARD_HAVE_MTASTS
#include <mailsec/mtasts.h>
#endif
#ifdef HARD_HAVE_DANE
#include <mailsec/dane.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#endif
#ifdef HARD_HAVE_RTLS
#include <mailsec/requiretls.h>
#include <mailsec/requiretls_deliver.h>
#include <mailsec/requiretls_route.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#endif
#ifdef HARD_HAVE_SPFDKIM
#include <mailsec/auth.h>
#include <mailsec/authres.h>
#include <mailsec/dkim.h>
#include <mailsec/dmarc.h>
#include <mailsec/iprev.h>
#include <mailsec/spf.h>
#endif

#define MAX_N 100000 /* a loop that never succeeds is a failure */

/* ---- the counting allocator ------------------------------------------ */
struct counting {
	long live;    /* blocks allocated and not yet freed */
	long calls;   /* allocations since the last arm() */
	long fail_at; /* fail the n-th allocation (1-based); 0: never */
	long failed;  /* how many allocations were refused */
};

static void *c_alloc(void *user, size_t n)
{
	struct counting *c = user;
	if (c->fail_at && ++c->calls == c->fail_at) {
		c->failed++;
		return NULL;
	}
	void *p = malloc(n ? n : 1);
	if (p)
		c->live++;
	return p;
}

static void *c_realloc(void *user, void *p, size_t n)
{
	struct counting *c = user;
	if (c->fail_at && ++c->calls == c->fail_at) {
		c->failed++;
		return NULL;
	}
	void *q = realloc(p, n ? n : 1);
	if (q && p == NULL)
		c->live++;
	return q;
}

static void c_free(void *user, void *p)
{
	struct counting *c = user;
	if (p)
		c->live--;
	free(p);
}

static struct counting cnt;
static const struct ms_env env = { .version = MS_ENV_VERSION, .user = &cnt,
				   .alloc = c_alloc, .realloc = c_realloc, .free = c_free };

static void arm(long n)
{
	cnt.calls = 0;
	cnt.failed = 0;
	cnt.fail_at = n;
}

static void disarm(void)
{
	cnt.fail_at = 0;
}

/*
 * The loop.  `call` makes one call (allocating through `env`), frees what
 * it returned and reports: its status, and in *same whether its answer is
 * the reference answer (1), a documented fail-safe answer (2: accepted only
 * when an allocation was refused), or something else (0); *same is only
 * looked at on MS_OK.  `stateful`: the call keeps what it parsed in its
 * handle (replaced by the next call), so the live count settles at the
 * reference call's level and a failed call may only leave it lower.
 * Returns the number of allocations the successful call made.
 */
typedef ms_status (*call_fn)(void *ctx, int *same);

static long loop_impl(const char *what, call_fn call, void *ctx, int stateful)
{
	int same = 0;
	long base = cnt.live;
	arm(0);
	ms_status st = call(ctx, &same);
	ck_assert_msg(st == MS_OK && same == 1, "%s: reference call: %s", what,
		      ms_status_str(st));
	if (stateful)
		base = cnt.live;
	else
		ck_assert_msg(cnt.live == base, "%s: reference call leaks %ld blocks", what,
			      cnt.live - base);
	long n;
	for (n = 1; n < MAX_N; n++) {
		arm(n);
		same = 0;
		st = call(ctx, &same);
		long refused = cnt.failed;
		disarm();
		if (stateful)
			ck_assert_msg(cnt.live <= base, "%s: %ld blocks leaked when allocation %ld "
				      "failed", what, cnt.live - base, n);
		else
			ck_assert_msg(cnt.live == base, "%s: %ld blocks leaked when allocation %ld "
				      "failed", what, cnt.live - base, n);
		if (refused == 0) {
			/* got past the n-th allocation: the loop is done */
			ck_assert_msg(st == MS_OK && same == 1, "%s: %s without any failure", what,
				      ms_status_str(st));
			break;
		}
		if (st == MS_OK)
			ck_assert_msg(same != 0, "%s: allocation %ld failed, and the call succeeded "
				      "with a different answer", what, n);
		else
			ck_assert_msg(st == MS_ERR_NOMEM, "%s: allocation %ld failed: %s, want "
				      "out of memory", what, n, ms_status_str(st));
		/* the handle is still usable */
		same = 0;
		st = call(ctx, &same);
		ck_assert_msg(st == MS_OK && same == 1, "%s: after a failure at %ld: %s", what, n,
			      ms_status_str(st));
		ck_assert_int_eq(cnt.live, base);
	}
	ck_assert_msg(n < MAX_N, "%s: never succeeded", what);
	if (getenv("MS_HARD_VERBOSE"))
		fprintf(stderr, "%s: %ld allocation points failed one by one\n", what, n - 1);
	return n - 1;
}

static long fail_loop(const char *what, call_fn call, void *ctx)
{
	return loop_impl(what, call, ctx, 0);
}

#if defined(HARD_HAVE_RTLS) || defined(HARD_HAVE_SPFDKIM)
static long fail_loop_stateful(const char *what, call_fn call, void *ctx)
{
	return loop_impl(what, call, ctx, 1);
}
#endif

/* ---- an injected resolver over a tiny zone, allocating through env ----- */
struct rr {
	const char *name;
	uint16_t type;
	const char *text; /* TXT: one string; A: dotted quad */
};

static const struct rr zone[] = {
	{ "_mta-sts.example.test", MS_DNS_T_TXT, "v=STSv1; id=20261128T1;" },
	{ "example.test", MS_DNS_T_TXT,
	  "v=spf1 ip4:192.0.2.0/24 include:inc.example.test a:mx.example.test -all" },
	{ "inc.example.test", MS_DNS_T_TXT, "v=spf1 a:mail.inc.example.test -all" },
	{ "mail.inc.example.test", MS_DNS_T_A, "198.51.100.5" },
	{ "mx.example.test", MS_DNS_T_A, "203.0.113.9" },
	{ "5.100.51.198.in-addr.arpa", MS_DNS_T_PTR, "mail.inc.example.test" },
	{ "_25._tcp.mx.example.test", MS_DNS_T_TLSA, "3 1 1" },
	{ "example.test", MS_DNS_T_MX, "mx.example.test" },   /* preference 10 */
	/* the delivery test's domain: no TLSA, its MX on a loopback peer */
	{ "plain.test", MS_DNS_T_MX, "mx.plain.test" },
	{ "mx.plain.test", MS_DNS_T_A, "127.0.1.6" },
	{ "_dmarc.example.test", MS_DNS_T_TXT,
	  "v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:d@example.test" },
};

/* set by the DKIM test: the key record at sel._domainkey.example.test */
static char dkim_key_txt[512];

static ms_status resolve(void *user, const char *name, uint16_t type, struct ms_dns_result **out)
{
	(void)user;
	struct ms_dns_result *r = NULL;
	int found = 0;
	if (dkim_key_txt[0] && strcmp(name, "sel._domainkey.example.test") == 0) {
		ms_status st = ms_dns_result_create(&env, name, type,
						    type == MS_DNS_T_TXT ? MS_DNS_ANSWER :
						    MS_DNS_NODATA, MS_DNS_SECURE, &r);
		size_t len = strlen(dkim_key_txt);
		uint8_t rd[600];
		rd[0] = (uint8_t)len;
		memcpy(rd + 1, dkim_key_txt, len);
		if (st == MS_OK && type == MS_DNS_T_TXT)
			st = ms_dns_result_add(r, type, rd, len + 1);
		if (st == MS_OK)
			st = ms_dns_result_set_meta(r, 300, NULL, -1, -1, NULL);
		if (st != MS_OK) {
			ms_dns_result_free(r);
			return st;
		}
		*out = r;
		return MS_OK;
	}
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++)
		if (strcmp(zone[i].name, name) == 0)
			found = found ? found : (zone[i].type == type ? 2 : 1);
	ms_status st = ms_dns_result_create(&env, name, type,
					    found == 2 ? MS_DNS_ANSWER :
					    found == 1 ? MS_DNS_NODATA : MS_DNS_NXDOMAIN,
					    MS_DNS_SECURE, &r);
	for (size_t i = 0; st == MS_OK && i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcmp(zone[i].name, name) != 0 || zone[i].type != type)
			continue;
		uint8_t rd[256];
		size_t len;
		if (type == MS_DNS_T_TXT) {
			len = strlen(zone[i].text);
			rd[0] = (uint8_t)len;
			memcpy(rd + 1, zone[i].text, len);
			len++;
		} else if (type == MS_DNS_T_TLSA) {
			/* 3 1 1 and a SHA-256 of 0xab bytes */
			rd[0] = 3;
			rd[1] = 1;
			rd[2] = 1;
			memset(rd + 3, 0xab, 32);
			len = 35;
		} else if (type == MS_DNS_T_PTR || type == MS_DNS_T_MX) {
			/* a name in wire format (after the MX preference) */
			len = 0;
			if (type == MS_DNS_T_MX) {
				rd[len++] = 0;
				rd[len++] = 10;
			}
			for (const char *l = zone[i].text; *l;) {
				size_t n = strcspn(l, ".");
				rd[len++] = (uint8_t)n;
				memcpy(rd + len, l, n);
				len += n;
				l += n;
				if (*l == '.')
					l++;
			}
			rd[len++] = 0;
		} else {
			unsigned a, b, c, d;
			sscanf(zone[i].text, "%u.%u.%u.%u", &a, &b, &c, &d);
			rd[0] = (uint8_t)a; rd[1] = (uint8_t)b; rd[2] = (uint8_t)c; rd[3] = (uint8_t)d;
			len = 4;
		}
		st = ms_dns_result_add(r, type, rd, len);
	}
	if (st == MS_OK)
		st = ms_dns_result_set_meta(r, 300, NULL, -1, -1, NULL);
	if (st != MS_OK) {
		ms_dns_result_free(r);
		return st;
	}
	*out = r;
	return MS_OK;
}

static struct ms_dns_ctx *new_dns(void)
{
	struct ms_dns_ctx *dns = NULL;
	arm(0);
	ck_assert_int_eq(ms_dns_ctx_new_custom(&env, resolve, NULL, &dns), MS_OK);
	return dns;
}

/* ---- libdnssec-stub ------------------------------------------------------ */
static ms_status dns_ctx_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_dns_ctx *d = NULL;
	ms_status st = ms_dns_ctx_new_custom(&env, resolve, NULL, &d);
	*same = st == MS_OK && d != NULL;
	ms_dns_ctx_free(d);
	return st;
}

static ms_status dns_lookup_call(void *ctx, int *same)
{
	struct ms_dns_result *r = NULL;
	char why[200];
	ms_status st = ms_dns_lookup(ctx, "example.test", MS_DNS_T_TXT, &r, why, sizeof(why));
	if (st == MS_OK) {
		*same = ms_dns_result_outcome(r) == MS_DNS_ANSWER &&
			ms_dns_result_security(r) == MS_DNS_SECURE && ms_dns_result_count(r) == 1;
		ms_dns_result_free(r);
	}
	return st;
}

static ms_status dns_addr_call(void *ctx, int *same)
{
	struct ms_dns_result *r = NULL;
	char why[200];
	ms_status st = ms_dns_lookup_addr(ctx, "mx.example.test", &r, why, sizeof(why));
	if (st == MS_OK) {
		char a[64] = "";
		*same = ms_dns_result_outcome(r) == MS_DNS_ANSWER && ms_dns_result_count(r) == 1 &&
			ms_dns_result_addr(r, 0, a, sizeof(a)) == MS_OK &&
			strcmp(a, "203.0.113.9") == 0;
		ms_dns_result_free(r);
	}
	return st;
}

static ms_status dns_nx_call(void *ctx, int *same)
{
	struct ms_dns_result *r = NULL;
	char why[200];
	ms_status st = ms_dns_lookup(ctx, "nowhere.example.test", MS_DNS_T_MX, &r, why,
				     sizeof(why));
	if (st == MS_OK) {
		*same = ms_dns_result_outcome(r) == MS_DNS_NXDOMAIN;
		ms_dns_result_free(r);
	}
	return st;
}

/* A lookup batch (ms_dns_batch_*): a prefetched name and two rounds of
 * lookups against its view, stepped until it settles.  Every refused
 * allocation (table entry, submit, copy, placeholder) is MS_ERR_NOMEM
 * from the batch or from a lookup on the view, never an answer. */
static ms_status dns_batch_call(void *ctx, int *same)
{
	struct ms_dns_batch *b = NULL;
	ms_status st = ms_dns_batch_new(&env, ctx, 0, &b, NULL, 0);
	if (st == MS_OK)
		st = ms_dns_batch_want(b, "nowhere.example.test", MS_DNS_T_MX, NULL, 0);
	int txt_ok = 0, addr_ok = 0, rounds = 0;
	while (st == MS_OK) {
		enum ms_dns_batch_state bs;
		if ((st = ms_dns_batch_step(b, &bs)) != MS_OK || bs == MS_DNS_BATCH_SETTLED)
			break;
		if (bs == MS_DNS_BATCH_PENDING) {
			st = ms_dns_process(ctx);
			continue;
		}
		rounds++;
		int same_txt = 0, same_addr = 0;
		st = dns_lookup_call(ms_dns_batch_view(b), &same_txt);
		if (st == MS_OK)
			st = dns_addr_call(ms_dns_batch_view(b), &same_addr);
		txt_ok = same_txt;
		addr_ok = same_addr;
	}
	if (st == MS_OK) {
		struct ms_dns_result *r = NULL;
		st = ms_dns_batch_get(b, "nowhere.example.test", MS_DNS_T_MX, &r);
		*same = st == MS_OK && txt_ok && addr_ok && rounds == 2 &&
			ms_dns_result_outcome(r) == MS_DNS_NXDOMAIN;
		ms_dns_result_free(r);
	}
	ms_dns_batch_free(b);
	return st;
}

START_TEST(dns)
{
	fail_loop("ms_dns_ctx_new_custom", dns_ctx_call, NULL);
	struct ms_dns_ctx *d = new_dns();
	fail_loop("ms_dns_lookup TXT", dns_lookup_call, d);
	fail_loop("ms_dns_lookup_addr", dns_addr_call, d);
	fail_loop("ms_dns_lookup NXDOMAIN", dns_nx_call, d);
	fail_loop("ms_dns_batch (want, rounds, settle)", dns_batch_call, d);
	ms_dns_ctx_free(d);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST

#ifdef HARD_HAVE_MTASTS
/* ---- libmtasts ------------------------------------------------------------ */
static const char policy_text[] =
	"version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmx: *.backup.example.test\r\n"
	"max_age: 86400\r\n";

static ms_status sts_parse_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_sts_policy *p = NULL;
	char why[200];
	ms_status st = ms_sts_policy_parse(&env, (const uint8_t *)policy_text,
					   strlen(policy_text), &p, why, sizeof(why));
	if (st == MS_OK) {
		*same = ms_sts_policy_mode(p) == MS_STS_MODE_ENFORCE &&
			ms_sts_policy_match(p, "a.backup.example.test") == 1;
		ms_sts_policy_free(p);
	}
	return st;
}

static ms_status cb_fetch(void *user, const char *url, uint8_t *buf, size_t bufsize,
			  size_t *len, enum ms_tlsrpt_result *failure, char *why, size_t whylen)
{
	(void)user;
	(void)url;
	(void)failure;
	(void)why;
	(void)whylen;
	*len = strlen(policy_text);
	ck_assert_uint_le(*len, bufsize);
	memcpy(buf, policy_text, *len);
	return MS_OK;
}

static struct ms_dns_ctx *sts_dns;

static ms_status sts_new_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.fetch = cb_fetch;
	cfg.fetch.ca_file = "/nonexistent/ca.pem"; /* copied by ms_sts_new */
	struct ms_sts *s = NULL;
	char why[200];
	ms_status st = ms_sts_new(&env, &cfg, sts_dns, NULL, &s, why, sizeof(why));
	*same = st == MS_OK && s != NULL;
	ms_sts_free(s);
	return st;
}

static ms_status sts_get_call(void *ctx, int *same)
{
	struct ms_sts_result *r = NULL;
	char why[200];
	ms_status st = ms_sts_get_policy(ctx, "example.test", &r, why, sizeof(why));
	if (st == MS_OK) {
		const struct ms_sts_policy *p = ms_sts_result_policy(r);
		*same = ms_sts_result_state(r) == MS_STS_POLICY && p != NULL &&
			ms_sts_policy_mode(p) == MS_STS_MODE_ENFORCE &&
			ms_sts_result_failure(r) == MS_TLSRPT_SUCCESS &&
			strcmp(ms_sts_result_policy_id(r), "20261128T1") == 0;
		ms_sts_result_free(r);
	}
	return st;
}

START_TEST(mtasts)
{
	fail_loop("ms_sts_policy_parse", sts_parse_call, NULL);
	sts_dns = new_dns();
	fail_loop("ms_sts_new", sts_new_call, NULL);
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.fetch = cb_fetch;
	struct ms_sts *s = NULL;
	char why[200] = "";
	arm(0);
	ck_assert_msg(ms_sts_new(&env, &cfg, sts_dns, NULL, &s, why, sizeof(why)) == MS_OK, "%s",
		      why);
	/* no store: every call looks up the TXT record and fetches */
	fail_loop("ms_sts_get_policy (fetch callback, no store)", sts_get_call, s);
	ms_sts_free(s);
	/* with the SQLite store: the first call fetches and stores, the
	 * others take the cached policy (same id); a failure on either path
	 * must not lose the policy */
	struct ms_sts_store *store = NULL;
	arm(0);
	ck_assert_msg(ms_sts_store_new_sqlite(&env, ":memory:", &store, why, sizeof(why)) == MS_OK,
		      "%s", why);
	ck_assert_msg(ms_sts_new(&env, &cfg, sts_dns, store, &s, why, sizeof(why)) == MS_OK, "%s",
		      why);
	fail_loop("ms_sts_get_policy (SQLite store, cached)", sts_get_call, s);
	ms_sts_free(s);
	ms_sts_store_free(store);
	ms_dns_ctx_free(sts_dns);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST
#endif

#ifdef HARD_HAVE_DANE
/* ---- libdane -------------------------------------------------------------- */
static unsigned char *ee_der, *chain_der[8];
static size_t ee_len, chain_len[8], nchain;

static size_t read_pems(const char *rel, unsigned char **der, size_t *len, size_t max)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", getenv("MS_TEST_WORLD"), rel);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	size_t n = 0;
	X509 *x;
	while (n < max && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		der[n] = NULL;
		int l = i2d_X509(x, &der[n]);
		ck_assert_int_gt(l, 0);
		len[n++] = (size_t)l;
		X509_free(x);
	}
	fclose(f);
	ck_assert_uint_gt(n, 0);
	return n;
}

static ms_status dane_ctx_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_dane_ctx *d = NULL;
	ms_status st = ms_dane_ctx_new(&env, &d);
	*same = st == MS_OK && d != NULL;
	ms_dane_ctx_free(d);
	return st;
}

struct dane_case {
	struct ms_dane_ctx *ctx;
	struct ms_dane_input in;
	enum ms_dane_verdict want;
	int want_depth;
};

static ms_status dane_verify_call(void *ctx, int *same)
{
	struct dane_case *c = ctx;
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	char why[200];
	ms_status st = ms_dane_verify(c->ctx, &c->in, &res, why, sizeof(why));
	*same = st == MS_OK && res.verdict == c->want && res.depth == c->want_depth;
	return st;
}

/* The decoded-certificate cache: a context with the cache, both partitions
 * on (its table from env), a cold and a warm DANE-TA verification (entries
 * and DER copies from env).  A refused cache entry only means it is not
 * cached: the verdict stays; a refused table is MS_ERR_NOMEM from the setter. */
static ms_status dane_cache_call(void *ctx, int *same)
{
	struct dane_case *c = ctx;
	struct ms_dane_ctx *d = NULL;
	ms_status st = ms_dane_ctx_new(&env, &d);
	if (st != MS_OK)
		return st;
	st = ms_dane_ctx_set_cert_cache(d, 8);
	if (st == MS_OK)
		st = ms_dane_ctx_set_leaf_cache(d, 8);
	int ok = 1;
	for (int round = 0; st == MS_OK && round < 2; round++) {
		struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
		char why[200];
		st = ms_dane_verify(d, &c->in, &res, why, sizeof(why));
		ok &= st == MS_OK && res.verdict == c->want && res.depth == c->want_depth;
	}
	*same = ok;
	ms_dane_ctx_free(d);
	return st;
}

static struct ms_dns_ctx *dane_dns;

static ms_status dane_lookup_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_dane_lookup *l = NULL;
	char why[200];
	/* the env variant: the result is allocated through env too */
	ms_status st = ms_dane_lookup_env(&env, dane_dns, "mx.example.test", 1, 25, &l, why,
					  sizeof(why));
	if (st == MS_OK) {
		const struct ms_dane_tlsa *recs = NULL;
		enum ms_dane_dns_state s = ms_dane_lookup_state(l);
		size_t n = ms_dane_lookup_records(l, &recs);
		/* TEMPFAIL ("do not use this host now") is fail-safe; NONE
		 * would be a downgrade: DANE silently not applied */
		*same = s == MS_DANE_DNS_SECURE && n == 1 && recs[0].usage == 3 ? 1 :
			s == MS_DANE_DNS_TEMPFAIL ? 2 : 0;
		if (*same == 0 && getenv("MS_HARD_VERBOSE"))
			fprintf(stderr, "dane lookup: state %d, %zu records: %s\n", (int)s, n,
				ms_dane_lookup_reason(l));
		ms_dane_lookup_free(l);
	}
	return st;
}

START_TEST(dane_lookup)
{
	dane_dns = new_dns();
	fail_loop("ms_dane_lookup_env", dane_lookup_call, NULL);
	ms_dns_ctx_free(dane_dns);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST

START_TEST(dane)
{
	fail_loop("ms_dane_ctx_new", dane_ctx_call, NULL);
	read_pems("pki/dane/ee.pem", &ee_der, &ee_len, 1);
	nchain = read_pems("pki/dane/ta-chain.pem", chain_der, chain_len, 8);
	struct dane_case c;
	memset(&c, 0, sizeof(c));
	arm(0);
	ck_assert_int_eq(ms_dane_ctx_new(&env, &c.ctx), MS_OK);
	/* DANE-EE full certificate */
	struct ms_dane_cert ee = { ee_der, ee_len };
	struct ms_dane_tlsa t_ee = { 3, 0, 0, ee_der, ee_len };
	c.in.version = MS_DANE_INPUT_VERSION;
	c.in.chain = &ee;
	c.in.nchain = 1;
	c.in.tlsa = &t_ee;
	c.in.ntlsa = 1;
	c.in.authentic = 1;
	c.want = MS_DANE_VERIFIED;
	c.want_depth = 0;
	fail_loop("ms_dane_verify DANE-EE", dane_verify_call, &c);
	/* DANE-TA: the chain is parsed up to the anchor; whatever the verdict
	 * for these names, a failure must not change it */
	struct ms_dane_cert chain[8];
	for (size_t i = 0; i < nchain; i++) {
		chain[i].der = chain_der[i];
		chain[i].len = chain_len[i];
	}
	/* ta-chain.pem: mx2.dane.example.test <- CA 3 <- CA 2 <- CA 1; the
	 * anchor is CA 1 (the end of the chain) */
	struct ms_dane_tlsa t_ta = { 2, 0, 0, chain_der[nchain - 1], chain_len[nchain - 1] };
	const char *names[] = { "mx2.dane.example.test", "dane.example.test" };
	c.in.chain = chain;
	c.in.nchain = nchain;
	c.in.tlsa = &t_ta;
	c.in.names = names;
	c.in.nnames = 2;
	struct ms_dane_result ref = { .version = MS_DANE_RESULT_VERSION };
	char why[200] = "";
	ck_assert_msg(ms_dane_verify(c.ctx, &c.in, &ref, why, sizeof(why)) == MS_OK, "%s", why);
	c.want = ref.verdict;
	c.want_depth = ref.depth;
	ck_assert_msg(ref.verdict == MS_DANE_VERIFIED && ref.depth == (int)nchain - 1,
		      "DANE-TA reference: %s (%s)", ms_dane_verdict_str(ref.verdict), ref.reason);
	fail_loop("ms_dane_verify DANE-TA", dane_verify_call, &c);
	long n = fail_loop("DANE-TA with the certificate cache", dane_cache_call, &c);
	/* the context, the cache and its table, one entry per CA certificate */
	ck_assert_int_ge(n, 3 + (long)nchain - 1);
	ms_dane_ctx_free(c.ctx);
	OPENSSL_free(ee_der);
	for (size_t i = 0; i < nchain; i++)
		OPENSSL_free(chain_der[i]);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST
#endif

#ifdef HARD_HAVE_RTLS
/* ---- librequiretls -------------------------------------------------------- */
static const char ehlo_text[] = "250-mx.example.test hello\r\n250-PIPELINING\r\n"
				"250-SIZE 35882577\r\n250-8BITMIME\r\n250-REQUIRETLS\r\n"
				"250 SMTPUTF8\r\n";
static const char mail_text[] =
	"MAIL FROM:<a@example.test> SIZE=1000 BODY=8BITMIME REQUIRETLS ENVID=a+2Bb";

static ms_status ehlo_parse_call(void *ctx, int *same)
{
	char why[200];
	ms_status st = ms_rtls_ehlo_parse(ctx, (const uint8_t *)ehlo_text, strlen(ehlo_text), 1,
					  why, sizeof(why));
	if (st == MS_OK)
		*same = ms_rtls_ehlo_has(ctx, "REQUIRETLS") && ms_rtls_ehlo_count(ctx) == 5 &&
			ms_rtls_ehlo_over_tls(ctx);
	else /* a failed parse must not leave capabilities behind */
		ck_assert_int_eq(ms_rtls_ehlo_has(ctx, "REQUIRETLS"), 0);
	return st;
}

static ms_status ehlo_new_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_rtls_ehlo *e = NULL;
	ms_status st = ms_rtls_ehlo_new(&env, &e);
	*same = st == MS_OK && e != NULL;
	ms_rtls_ehlo_free(e);
	return st;
}

static ms_status mail_parse_call(void *ctx, int *same)
{
	char why[200];
	ms_status st = ms_rtls_mail_parse_command(ctx, (const uint8_t *)mail_text,
						  strlen(mail_text), why, sizeof(why));
	if (st == MS_OK) {
		char envid[64];
		size_t el = 0;
		*same = ms_rtls_mail_requiretls(ctx) && ms_rtls_mail_count(ctx) == 4 &&
			strcmp(ms_rtls_mail_path(ctx), "a@example.test") == 0 &&
			ms_rtls_mail_envid(ctx, envid, sizeof(envid), &el) == MS_OK &&
			strcmp(envid, "a+b") == 0;
	} else {
		ck_assert_int_eq(ms_rtls_mail_requiretls(ctx), 0);
	}
	return st;
}

static ms_status mail_new_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_rtls_mail *m = NULL;
	ms_status st = ms_rtls_mail_new(&env, &m);
	*same = st == MS_OK && m != NULL;
	ms_rtls_mail_free(m);
	return st;
}

/* The route of example.test (one MX host, secure, TLSA 3 1 1): the
 * synchronous call, or the async shape stepped until done.  Fail-safe
 * answers when an allocation is refused: the host skipped for now (a lookup
 * impossible) or the domain deferred; DANE never silently off. */
static ms_status route_check(struct ms_rtls_route *r, int *same)
{
	const struct ms_rtls_route_host *h = ms_rtls_route_host(r, 0);
	const struct ms_rtls_host *in = ms_rtls_route_host_engine(h);
	struct ms_rtls_outcome o = { .version = MS_RTLS_OUTCOME_VERSION };
	int stop = ms_rtls_route_undeliverable(r, &o);
	*same = ms_rtls_route_count(r) == 1 && in->dane == MS_RTLS_DANE_USABLE &&
		in->addr_security == MS_DNS_SECURE && !stop ? 1 :
		stop && o.verdict == MS_RTLS_TEMPFAIL ? 2 : 0;
	if (*same == 0 && getenv("MS_HARD_VERBOSE"))
		fprintf(stderr, "route: %zu hosts, dane %d, stop %d verdict %d\n",
			ms_rtls_route_count(r), h ? (int)in->dane : -1, stop, (int)o.verdict);
	return MS_OK;
}

static ms_status route_call(void *ctx, int *same)
{
	struct ms_rtls_route *r = NULL;
	char why[200];
	ms_status st = ms_rtls_route_new(&env, ctx, NULL, "example.test", MS_RTLS_REQ_REQUIRED,
					 NULL, &r, why, sizeof(why));
	if (st == MS_OK)
		route_check(r, same);
	ms_rtls_route_free(r);
	return st;
}

static void route_done(void *user, struct ms_rtls_route *r, ms_status st)
{
	(void)r;
	*(int *)user += st == MS_OK ? 1 : 100;
}

static ms_status route_async_call(void *ctx, int *same)
{
	struct ms_rtls_route *r = NULL;
	char why[200];
	int calls = 0;
	ms_status st = ms_rtls_route_start(&env, ctx, NULL, "example.test", MS_RTLS_REQ_REQUIRED,
					   NULL, route_done, &calls, &r, why, sizeof(why));
	if (st == MS_OK) {
		int t = 0, guard = 0;
		while (ms_rtls_route_step(r, &t) == MS_RTLS_ROUTE_PENDING && guard++ < 1000)
			;
		st = ms_rtls_route_status(r, why, sizeof(why));
		if (calls != (st == MS_OK ? 1 : 100))
			st = MS_ERR_INTERNAL;   /* the callback ran not exactly once */
	}
	if (st == MS_OK)
		route_check(r, same);
	ms_rtls_route_free(r);
	return st;
}

/* The async route with an MTA-STS handle (issue 15): the discovery
 * (ms_sts_get_*: its lookup batch, the injected fetch) runs beside the
 * lookups.  A refused allocation anywhere is out of memory for the whole
 * build, never a route without its policy. */
static struct ms_sts *route_sts;

static ms_status route_sts_call(void *ctx, int *same)
{
	struct ms_rtls_route *r = NULL;
	char why[200];
	int calls = 0;
	struct ms_rtls_route_opts o = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					.deadline_ms = 60000 };
	ms_status st = ms_rtls_route_start(&env, ctx, route_sts, "example.test",
					   MS_RTLS_REQ_REQUIRED, &o, route_done, &calls, &r, why,
					   sizeof(why));
	if (st == MS_OK) {
		int t = 0, guard = 0;
		while (ms_rtls_route_step(r, &t) == MS_RTLS_ROUTE_PENDING && guard++ < 1000)
			;
		st = ms_rtls_route_status(r, why, sizeof(why));
		if (calls != (st == MS_OK ? 1 : 100))
			st = MS_ERR_INTERNAL;   /* the callback ran not exactly once */
	}
	if (st == MS_OK) {
		route_check(r, same);
		if (!(ms_rtls_route_flags(r) & MS_RTLS_ROUTE_STS_POLICY) ||
		    ms_rtls_route_engine_domain(r)->sts_mode != MS_RTLS_STS_ENFORCE) {
			fprintf(stderr, "route: no MTA-STS policy: %s\n", ms_rtls_route_sts_note(r));
			*same = 0;
		}
	}
	ms_rtls_route_free(r);
	return st;
}

/* The delivery's state machine (issue 15): one plaintext SMTP peer in a
 * thread on plain.test's MX address (127.0.1.6), the delivery
 * started, stepped and polled until done.  A refused allocation anywhere
 * (the attempt, the session, its EHLO set, the MAIL parameters) is out of
 * memory or a temporary failure of the domain, never a delivery claimed
 * or a permanent failure. */
static int smtp_listen = -1;

static int peer_line(int fd, char *buf, size_t n)
{
	size_t o = 0;
	while (o + 1 < n) {
		ssize_t r = recv(fd, buf + o, 1, 0);
		if (r <= 0)
			return -1;
		if (buf[o] == '\n') {
			buf[o] = '\0';
			return (int)o;
		}
		o++;
	}
	return -1;
}

static void peer_say(int fd, const char *t)
{
	(void)!send(fd, t, strlen(t), MSG_NOSIGNAL);
}

static void *smtp_peer(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(smtp_listen, NULL, NULL);
		if (c < 0)
			return NULL;
		struct timeval tv = { 5, 0 };
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char l[1100];
		peer_say(c, "220 alloc.test ESMTP\r\n");
		while (peer_line(c, l, sizeof(l)) >= 0) {
			if (strncmp(l, "EHLO", 4) == 0) {
				peer_say(c, "250-alloc.test\r\n250-8BITMIME\r\n250 SIZE 100000\r\n");
			} else if (strncmp(l, "DATA", 4) == 0) {
				peer_say(c, "354 go on\r\n");
				while (peer_line(c, l, sizeof(l)) >= 0 && strcmp(l, ".\r") != 0)
					;
				peer_say(c, "250 2.0.0 taken\r\n");
			} else if (strncmp(l, "QUIT", 4) == 0) {
				peer_say(c, "221 bye\r\n");
				break;
			} else {
				peer_say(c, "250 2.0.0 ok\r\n");
			}
		}
		close(c);
	}
}

static uint16_t smtp_peer_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.1.6", &a.sin_addr);
	smtp_listen = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(smtp_listen, 0);
	ck_assert_int_eq(bind(smtp_listen, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(smtp_listen, 8), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(smtp_listen, (struct sockaddr *)&a, &l), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, smtp_peer, NULL), 0);
	pthread_detach(t);
	return ntohs(a.sin_port);
}

struct deliver_case {
	struct ms_rtls_route *route;
	uint16_t port;
};

static ms_status deliver_call(void *ctx, int *same)
{
	struct deliver_case *dc = ctx;
	static const uint8_t msg[] = "From: a@example.test\r\n\r\nhello\r\n.\r\n";
	const char *to[] = { "bob@plain.test", "carol@plain.test" };
	struct ms_rtls_envelope m = { .from = "a@example.test", .rcpt = to, .nrcpt = 2,
				      .msg = msg, .msglen = sizeof(msg) - 1 };
	struct ms_rtls_deliver_opts o = { .version = MS_RTLS_DELIVER_OPTS_VERSION,
					  .helo = "client.test", .port = dc->port,
					  .timeout_ms = 5000 };
	struct ms_rtls_delivery *d = NULL;
	char why[200];
	ms_status st = ms_rtls_deliver_new(&env, dc->route, MS_RTLS_REQ_DEFAULT, &m, &o, &d, why,
					   sizeof(why));
	while (st == MS_OK && !ms_rtls_deliver_done(d)) {
		st = ms_rtls_deliver_step(d, why, sizeof(why));
		int fd = ms_rtls_deliver_fd(d), t = ms_rtls_deliver_timeout_ms(d);
		struct pollfd p = { .fd = fd, .events = (short)ms_rtls_deliver_events(d) };
		if (st == MS_OK && t > 0)
			poll(&p, fd >= 0 ? 1 : 0, t);
	}
	if (st == MS_OK) {
		const struct ms_rtls_outcome *oc = ms_rtls_deliver_outcome(d);
		*same = ms_rtls_deliver_delivered(d) && ms_rtls_deliver_attempt_count(d) == 1 ? 1 :
			!ms_rtls_deliver_delivered(d) && oc->verdict == MS_RTLS_TEMPFAIL &&
				ms_rtls_deliver_success(d) == NULL ? 2 : 0;
		if (*same == 0)
			fprintf(stderr, "delivery: delivered %d, verdict %d, attempts %zu\n",
				ms_rtls_deliver_delivered(d), (int)oc->verdict,
				ms_rtls_deliver_attempt_count(d));
	}
	ms_rtls_deliver_free(d);
	return st;
}

START_TEST(requiretls)
{
	struct ms_dns_ctx *rd = new_dns();
	fail_loop("ms_rtls_route_new", route_call, rd);
	fail_loop("ms_rtls_route async (start, step, done)", route_async_call, rd);
	{
		struct ms_sts_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.version = MS_STS_CONFIG_VERSION;
		cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
		cfg.fetch.fetch = cb_fetch;
		char why[200];
		arm(0);
		ck_assert_int_eq(ms_sts_new(&env, &cfg, rd, NULL, &route_sts, why, sizeof(why)),
				 MS_OK);
		fail_loop("ms_rtls_route async with MTA-STS (ms_sts_get_*)", route_sts_call, rd);
		ms_sts_free(route_sts);
		route_sts = NULL;
	}
	{
		struct deliver_case dc = { .port = smtp_peer_start() };
		char why[200];
		ck_assert_int_eq(ms_rtls_route_new(NULL, rd, NULL, "plain.test",
						   MS_RTLS_REQ_DEFAULT, NULL, &dc.route, why,
						   sizeof(why)), MS_OK);
		ck_assert_uint_eq(ms_rtls_route_count(dc.route), 1);
		fail_loop("ms_rtls_deliver (start, step, poll: the SMTP state machine)",
			  deliver_call, &dc);
		ms_rtls_route_free(dc.route);
		shutdown(smtp_listen, SHUT_RDWR);
		close(smtp_listen);
	}
	ms_dns_ctx_free(rd);
	fail_loop("ms_rtls_ehlo_new", ehlo_new_call, NULL);
	fail_loop("ms_rtls_mail_new", mail_new_call, NULL);
	struct ms_rtls_ehlo *e = NULL;
	struct ms_rtls_mail *m = NULL;
	arm(0);
	ck_assert_int_eq(ms_rtls_ehlo_new(&env, &e), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_new(&env, &m), MS_OK);
	fail_loop_stateful("ms_rtls_ehlo_parse", ehlo_parse_call, e);
	fail_loop_stateful("ms_rtls_mail_parse_command", mail_parse_call, m);
	ms_rtls_ehlo_free(e);
	ms_rtls_mail_free(m);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST
#endif

#ifdef HARD_HAVE_SPFDKIM
/* ---- libspfdkim ----------------------------------------------------------- */
struct spf_case {
	struct ms_spf *spf;
	const char *ip;
	enum ms_spf_result want;
};

static ms_status spf_call(void *ctx, int *same)
{
	struct spf_case *c = ctx;
	struct ms_spf_verdict *v = NULL;
	char why[200];
	ms_status st = ms_spf_check_mailfrom(c->spf, c->ip, "helo.example.test",
					     "user@example.test", &v, why, sizeof(why));
	if (st == MS_OK) {
		/* libspfdkim turns an allocation failure inside the evaluation
		 * into temperror "out of memory" (spf_eval.c): fail-safe, the
		 * MTA defers; accepted only when an allocation was refused */
		enum ms_spf_result got = ms_spf_verdict_result(v);
		*same = got == c->want ? 1 : got == MS_SPF_TEMPERROR ? 2 : 0;
		ms_spf_verdict_free(v);
	}
	return st;
}

static struct ms_dns_ctx *spf_dns;

static ms_status spf_new_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_spf *s = NULL;
	ms_status st = ms_spf_new(&env, spf_dns, &s);
	*same = st == MS_OK && s != NULL;
	ms_spf_free(s);
	return st;
}

static const char dmarc_text[] =
	"v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; pct=50; "
	"rua=mailto:d@example.test,mailto:e@example.test; ruf=mailto:f@example.test; fo=1:d";

static ms_status dmarc_parse_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_dmarc_record *r = NULL;
	char why[200];
	ms_status st = ms_dmarc_record_parse(&env, (const uint8_t *)dmarc_text,
					     strlen(dmarc_text), &r, why, sizeof(why));
	if (st == MS_OK) {
		*same = ms_dmarc_record_p(r) == MS_DMARC_POLICY_REJECT &&
			ms_dmarc_record_sp(r) == MS_DMARC_POLICY_QUARANTINE;
		ms_dmarc_record_free(r);
	}
	return st;
}

static const char ar_text[] =
	"mx.example.test; spf=pass smtp.mailfrom=user@example.test; "
	"dkim=pass (good signature) reason=\"key found, body hash ok\" header.d=example.test "
	"header.s=sel; "
	"dmarc=pass header.from=example.test";

static ms_status ar_parse_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_ar_parsed *p = NULL;
	char why[200];
	ms_status st = ms_ar_parse(&env, (const uint8_t *)ar_text, strlen(ar_text), &p, why,
				   sizeof(why));
	if (st == MS_OK) {
		*same = ms_ar_parsed_count(p) == 3 &&
			strcmp(ms_ar_parsed_authserv_id(p), "mx.example.test") == 0 &&
			strcmp(ms_ar_parsed_method(p, 1), "dkim") == 0 &&
			strcmp(ms_ar_parsed_result(p, 2), "pass") == 0 &&
			strcmp(ms_ar_parsed_reason(p, 1), "key found, body hash ok") == 0;
		ms_ar_parsed_free(p);
	}
	return st;
}

struct dmarc_case {
	struct ms_dmarc *d;
};

static ms_status dmarc_check_call(void *ctx, int *same)
{
	struct dmarc_case *c = ctx;
	struct ms_dmarc_verdict *v = NULL;
	char why[200];
	ms_status st = ms_dmarc_check(c->d, "example.test", MS_SPF_PASS, "example.test", NULL,
				      NULL, NULL, 0, &v, why, sizeof(why));
	if (st == MS_OK) {
		enum ms_dmarc_result r = ms_dmarc_verdict_result(v);
		/* temperror ("the policy lookup failed temporarily") is the
		 * fail-safe answer when an allocation inside the lookup failed */
		*same = r == MS_DMARC_PASS && ms_dmarc_verdict_policy(v) == MS_DMARC_POLICY_REJECT ? 1 :
			r == MS_DMARC_TEMPERROR ? 2 : 0;
		if (getenv("MS_HARD_VERBOSE"))
			fprintf(stderr, "dmarc: result %d policy %d tag %s\n", (int)r,
				(int)ms_dmarc_verdict_policy(v),
				ms_dmarc_verdict_policy_tag(v) ? ms_dmarc_verdict_policy_tag(v) : "-");
		ms_dmarc_verdict_free(v);
	}
	return st;
}

static struct ms_dns_ctx *iprev_dns;

static ms_status iprev_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_iprev_verdict *v = NULL;
	char why[200];
	ms_status st = ms_iprev_check(&env, iprev_dns, "198.51.100.5", 10, &v, why, sizeof(why));
	if (st == MS_OK) {
		enum ms_iprev_result r = ms_iprev_verdict_result(v);
		const char *name = ms_iprev_verdict_name(v);
		*same = r == MS_IPREV_PASS && name && strcmp(name, "mail.inc.example.test") == 0 ? 1 :
			r == MS_IPREV_TEMPERROR ? 2 : 0;
		ms_iprev_verdict_free(v);
	}
	return st;
}

START_TEST(dmarc_iprev)
{
	struct ms_dns_ctx *d = new_dns();
	struct dmarc_case c;
	char why[200] = "";
	arm(0);
	ck_assert_msg(ms_dmarc_new(&env, d, &c.d, why, sizeof(why)) == MS_OK, "%s", why);
	fail_loop("ms_dmarc_check", dmarc_check_call, &c);
	ms_dmarc_free(c.d);
	iprev_dns = d;
	fail_loop("ms_iprev_check", iprev_call, NULL);
	ms_dns_ctx_free(d);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST

static const char dkim_msg[] =
	"From: Alice <alice@example.test>\r\nTo: bob@example.net\r\n"
	"Subject: allocation failures\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
	"Message-ID: <1@example.test>\r\n\r\nHello,\r\n\r\n  a body  with\tspaces \r\n\r\n\r\n";
static struct ms_dkim_key *dkim_key;
static char dkim_signed[4096];

static ms_status dkim_sign_call(void *ctx, int *same)
{
	(void)ctx;
	struct ms_dkim_signer *sg = NULL;
	char why[200];
	ms_status st = ms_dkim_signer_new(&env, &sg);
	struct ms_dkim_sign_opts o;
	memset(&o, 0, sizeof(o));
	o.version = MS_DKIM_SIGN_OPTS_VERSION;
	o.key = dkim_key;
	o.domain = "example.test";
	o.selector = "sel";
	o.header_canon = MS_DKIM_CANON_RELAXED;
	o.body_canon = MS_DKIM_CANON_RELAXED;
	if (st == MS_OK)
		st = ms_dkim_signer_add(sg, &o, why, sizeof(why));
	if (st == MS_OK)
		st = ms_dkim_signer_feed(sg, (const uint8_t *)dkim_msg, strlen(dkim_msg), why,
					 sizeof(why));
	if (st == MS_OK)
		st = ms_dkim_signer_finish(sg, why, sizeof(why));
	if (st == MS_OK) {
		const char *h = ms_dkim_signer_headers(sg);
		*same = h && strncmp(h, "DKIM-Signature:", 15) == 0 &&
			strstr(h, "d=example.test") && strstr(h, "s=sel");
		if (*same)
			snprintf(dkim_signed, sizeof(dkim_signed), "%s%s", h, dkim_msg);
	}
	ms_dkim_signer_free(sg);
	return st;
}

static ms_status dkim_verify_call(void *ctx, int *same)
{
	struct ms_dkim_verifier *vr = ctx;
	ms_dkim_verifier_flush_cache(vr); /* the key lookup every time */
	struct ms_dkim_verify *vf = NULL;
	char why[200];
	ms_status st = ms_dkim_verify_new(vr, &vf);
	/* two chunks split mid-line */
	size_t half = strlen(dkim_signed) / 2;
	if (st == MS_OK)
		st = ms_dkim_verify_feed(vf, (const uint8_t *)dkim_signed, half, why, sizeof(why));
	if (st == MS_OK)
		st = ms_dkim_verify_feed(vf, (const uint8_t *)dkim_signed + half,
					 strlen(dkim_signed) - half, why, sizeof(why));
	if (st == MS_OK)
		st = ms_dkim_verify_finish(vf, why, sizeof(why));
	if (st == MS_OK) {
		const struct ms_dkim_sig *sig = ms_dkim_verify_count(vf) == 1 ?
						ms_dkim_verify_sig(vf, 0) : NULL;
		enum ms_dkim_result r = sig ? ms_dkim_sig_result(sig) : (enum ms_dkim_result)-1;
		/* temperror ("key lookup failed temporarily") is fail-safe */
		*same = r == MS_DKIM_PASS ? 1 : r == MS_DKIM_TEMPERROR ? 2 : 0;
		if (*same == 0 && getenv("MS_HARD_VERBOSE"))
			fprintf(stderr, "dkim: %s (%s)\n", sig ? ms_dkim_result_str(r) : "no sig",
				sig ? ms_dkim_sig_reason(sig) : "");
	}
	ms_dkim_verify_free(vf);
	return st;
}

/* The inbound call (issue 15): SPF through the include, the DKIM key,
 * DMARC (a borrowed evaluator: the PSL is not loaded per message), iprev
 * and both fields, the message in two chunks.  A lookup whose allocation
 * failed may only turn its method into temperror. */
struct auth_case {
	struct ms_dns_ctx *dns;
	struct ms_dmarc *dm;
};

static ms_status auth_call(void *ctx, int *same)
{
	struct auth_case *c = ctx;
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = c->dns,
				  .authserv_id = "mx.example.net", .client_ip = "198.51.100.5",
				  .helo = "mail.inc.example.test",
				  .mail_from = "alice@example.test", .flags = MS_AUTH_APPLY_POLICY,
				  .dmarc = c->dm };
	struct ms_auth *a = NULL;
	char why[200];
	size_t half = strlen(dkim_signed) / 2;
	ms_status st = ms_auth_new(&env, &o, &a, why, sizeof(why));
	if (st == MS_OK)
		st = ms_auth_feed(a, (const uint8_t *)dkim_signed, half, why, sizeof(why));
	if (st == MS_OK)
		st = ms_auth_feed(a, (const uint8_t *)dkim_signed + half,
				  strlen(dkim_signed) - half, why, sizeof(why));
	if (st == MS_OK)
		st = ms_auth_finish(a, why, sizeof(why));
	if (st == MS_OK) {
		int spf = ms_auth_spf_result(a), dk = ms_auth_dkim_result(a, 0),
		    dmr = ms_auth_dmarc_result(a), ip = ms_auth_iprev_result(a);
		const char *h = ms_auth_header(a);
		int all = spf == MS_SPF_PASS && dk == MS_DMARC_DKIM_PASS && dmr == MS_DMARC_PASS &&
			  ip == MS_IPREV_PASS && ms_auth_dkim_count(a) == 1 &&
			  strstr(h, "header.b=") && ms_auth_received_spf(a) &&
			  ms_auth_disposition(a) == MS_AUTH_ACCEPT;
		int safe = (spf == MS_SPF_PASS || spf == MS_SPF_TEMPERROR) &&
			   (dk == MS_DMARC_DKIM_PASS || dk == MS_DMARC_DKIM_TEMPERROR) &&
			   (dmr == MS_DMARC_PASS || dmr == MS_DMARC_TEMPERROR) &&
			   (ip == MS_IPREV_PASS || ip == MS_IPREV_TEMPERROR);
		*same = all ? 1 : safe ? 2 : 0;
		if (*same == 0 && getenv("MS_HARD_VERBOSE"))
			fprintf(stderr, "auth: %s\n", h);
	}
	ms_auth_free(a);
	return st;
}

/* The same verdict through the async shape (start, step until done, the
 * completion callback once), with the handle's own DMARC evaluator so its
 * policy discovery goes through the parallel rounds too. */
static void auth_done(void *user, struct ms_auth *a, ms_status st)
{
	(void)a;
	int *calls = user;
	*calls += st == MS_OK ? 1 : 100;
}

static ms_status auth_async_call(void *ctx, int *same)
{
	struct auth_case *c = ctx;
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = c->dns,
				  .authserv_id = "mx.example.net", .client_ip = "198.51.100.5",
				  .helo = "mail.inc.example.test",
				  .mail_from = "alice@example.test", .flags = MS_AUTH_APPLY_POLICY };
	struct ms_auth *a = NULL;
	char why[200];
	int calls = 0;
	ms_status st = ms_auth_new(&env, &o, &a, why, sizeof(why));
	if (st == MS_OK)
		st = ms_auth_feed(a, (const uint8_t *)dkim_signed, strlen(dkim_signed), why,
				  sizeof(why));
	if (st == MS_OK)
		st = ms_auth_start(a, auth_done, &calls, why, sizeof(why));
	if (st == MS_OK) {
		int t = 0, guard = 0;
		while (ms_auth_step(a, &t) == MS_AUTH_PENDING && guard++ < 1000)
			;
		st = ms_auth_status(a, why, sizeof(why));
		if (calls != (st == MS_OK ? 1 : 100))
			st = MS_ERR_INTERNAL;   /* the callback ran not exactly once */
	}
	if (st == MS_OK) {
		int spf = ms_auth_spf_result(a), dk = ms_auth_dkim_result(a, 0),
		    dmr = ms_auth_dmarc_result(a), ip = ms_auth_iprev_result(a);
		int all = spf == MS_SPF_PASS && dk == MS_DMARC_DKIM_PASS && dmr == MS_DMARC_PASS &&
			  ip == MS_IPREV_PASS && ms_auth_header(a) != NULL;
		int safe = (spf == MS_SPF_PASS || spf == MS_SPF_TEMPERROR) &&
			   (dk == MS_DMARC_DKIM_PASS || dk == MS_DMARC_DKIM_TEMPERROR) &&
			   (dmr == MS_DMARC_PASS || dmr == MS_DMARC_TEMPERROR) &&
			   (ip == MS_IPREV_PASS || ip == MS_IPREV_TEMPERROR);
		*same = all ? 1 : safe ? 2 : 0;
		if (*same == 0 && getenv("MS_HARD_VERBOSE"))
			fprintf(stderr, "auth async: %s\n", ms_auth_header(a));
	}
	ms_auth_free(a);
	return st;
}

START_TEST(dkim)
{
	char why[200] = "";
	arm(0);
	ck_assert_msg(ms_dkim_key_generate(&env, MS_DKIM_ED25519_SHA256, 0, &dkim_key, why,
					   sizeof(why)) == MS_OK, "%s", why);
	char *rec = NULL;
	ck_assert_int_eq(ms_dkim_key_txt_record(dkim_key, &rec), MS_OK);
	snprintf(dkim_key_txt, sizeof(dkim_key_txt), "%s", rec);
	ms_dkim_string_free(rec);
	fail_loop("ms_dkim_signer (new, add, feed, finish)", dkim_sign_call, NULL);
	struct ms_dns_ctx *d = new_dns();
	struct ms_dkim_verifier *vr = NULL;
	arm(0);
	ck_assert_int_eq(ms_dkim_verifier_new(&env, d, &vr), MS_OK);
	fail_loop_stateful("ms_dkim_verify (new, feed, finish)", dkim_verify_call, vr);
	struct auth_case ac = { .dns = d };
	ck_assert_int_eq(ms_dmarc_new(NULL, d, &ac.dm, NULL, 0), MS_OK);
	fail_loop("ms_auth (new, feed, finish)", auth_call, &ac);
	fail_loop("ms_auth async (start, step, done)", auth_async_call, &ac);
	ms_dmarc_free(ac.dm);
	ms_dkim_verifier_free(vr);
	ms_dns_ctx_free(d);
	ms_dkim_key_free(dkim_key);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST

START_TEST(spfdkim)
{
	spf_dns = new_dns();
	fail_loop("ms_spf_new", spf_new_call, NULL);
	struct spf_case c;
	arm(0);
	ck_assert_int_eq(ms_spf_new(&env, spf_dns, &c.spf), MS_OK);
	/* pass through the include's a: mechanism (four lookups) */
	c.ip = "198.51.100.5";
	c.want = MS_SPF_PASS;
	fail_loop("ms_spf_check_mailfrom pass via include", spf_call, &c);
	/* pass via a: of the top record */
	c.ip = "203.0.113.9";
	fail_loop("ms_spf_check_mailfrom pass via a:", spf_call, &c);
	/* fail: every mechanism evaluated */
	c.ip = "192.0.2.77";
	fail_loop("ms_spf_check_mailfrom ip4 pass", spf_call, &c);
	c.ip = "233.252.0.1";
	c.want = MS_SPF_FAIL;
	fail_loop("ms_spf_check_mailfrom fail", spf_call, &c);
	ms_spf_free(c.spf);
	ms_dns_ctx_free(spf_dns);
	fail_loop("ms_dmarc_record_parse", dmarc_parse_call, NULL);
	fail_loop("ms_ar_parse", ar_parse_call, NULL);
	ck_assert_int_eq(cnt.live, 0);
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("hardening-alloc");
	TCase *tc = tcase_create("alloc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, dns);
#ifdef HARD_HAVE_MTASTS
	tcase_add_test(tc, mtasts);
#endif
#ifdef HARD_HAVE_DANE
	tcase_add_test(tc, dane);
	tcase_add_test(tc, dane_lookup);
#endif
#ifdef HARD_HAVE_RTLS
	tcase_add_test(tc, requiretls);
#endif
#ifdef HARD_HAVE_SPFDKIM
	tcase_add_test(tc, spfdkim);
	tcase_add_test(tc, dmarc_iprev);
	tcase_add_test(tc, dkim);
#endif
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
	srunner_free(sr);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
