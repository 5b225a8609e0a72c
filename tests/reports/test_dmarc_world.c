/*
 * test_dmarc_world.c - DMARC aggregate reports end to end over the signed
 * test world (real DNSSEC validation) and a loopback SMTP peer:
 *   - inbound messages judged by the real inbound call (ms_auth: SPF,
 *     DKIM signed here with the world's RSA key, DMARC of dmarcrep.test,
 *     p=quarantine) and recorded with the one-call recorder into SQLite;
 *   - the period's report for dmarcrep.test: its rows are those verdicts
 *     (a pass, a quarantined failure, a failure let through by local
 *     policy), other domains' mail and mail without a DMARC policy stay
 *     out;
 *   - sent to the record's rua=: the same-organisation destination and
 *     the external one that publishes dmarcrep.test._report._dmarc get the
 *     mail, the external one without that record does not, nor the one
 *     whose !100 limit is too small; the peer stores what arrived and the
 *     attachment parses back to the report;
 *   - a destination whose authorisation lookup is bogus (dmarcbad.test) or
 *     times out (slow.example.test) is not sent to, and the call says
 *     "retry later"; so does a report whose DMARC record lookup fails.
 */
#include "mstest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mailsec/auth.h>
#include <mailsec/dmarc_report.h>
#include <mailsec/requiretls_deliver.h>

#define T0 1764633600   /* the reporting period: one UTC day */

static char tmp[256], why[512];
static pid_t peer_pid;
static int peer_port;
static struct ms_dns_ctx *dns;
static struct ms_dkim_key *rsa;

static int free_port(const char *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, addr, &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/dmarcrep-world-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	peer_port = free_port("127.0.1.30");
	char ready[400], script[600];
	snprintf(ready, sizeof(ready), "%s/ready", tmp);
	snprintf(script, sizeof(script), "%s/tests/reports/dmarc_peer.py", getenv("MS_SOURCE_ROOT"));
	char port[16];
	snprintf(port, sizeof(port), "%d", peer_port);
	peer_pid = fork();
	ck_assert_int_ge(peer_pid, 0);
	if (peer_pid == 0) {
		const char *py = getenv("MS_RTLS_PYTHON");
		execl(py && *py ? py : "/usr/bin/python3", "python3", script, "127.0.1.30", port,
		      tmp, ready, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(ready, F_OK) != 0; i++)
		usleep(50000);
	ck_assert_msg(access(ready, F_OK) == 0, "SMTP peer did not start");
	dns = mstest_world_resolver(NULL, mstest_scale_ms(10000), 0);
	char path[4096], pem[16384];
	mstest_world_path(path, sizeof(path), "pki/dkim/rsa.pem");
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	ck_assert_int_eq(ms_dkim_key_load_pem(NULL, (const uint8_t *)pem, n, &rsa, why,
					      sizeof(why)), MS_OK);
}

static void teardown(void)
{
	kill(peer_pid, SIGTERM);
	for (int i = 0; i < 50 && kill(peer_pid, 0) == 0; i++)
		usleep(100000);
	ms_dkim_key_free(rsa);
	ms_dns_ctx_free(dns);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

static char *sign(const char *msg)
{
	struct ms_dkim_signer *s = NULL;
	ck_assert_int_eq(ms_dkim_signer_new(NULL, &s), MS_OK);
	struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = rsa,
				       .domain = "dmarcrep.test", .selector = "rsa",
				       .header_canon = MS_DKIM_CANON_RELAXED,
				       .body_canon = MS_DKIM_CANON_RELAXED };
	ck_assert_int_eq(ms_dkim_signer_add(s, &o, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_feed(s, (const uint8_t *)msg, strlen(msg), why,
					     sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dkim_signer_finish(s, why, sizeof(why)), MS_OK);
	const char *h = ms_dkim_signer_headers(s);
	char *out = malloc(strlen(h) + strlen(msg) + 1);
	strcpy(out, h);
	strcat(out, msg);
	ms_dkim_signer_free(s);
	return out;
}

/* One inbound message judged by ms_auth and recorded; returns whether a
 * row was recorded. */
static int receive(struct ms_dmarcrep_recorder *rec, const char *ip, const char *mail_from,
		   const char *msg, unsigned flags, int64_t when)
{
	struct ms_auth_opts o = { .version = MS_AUTH_OPTS_VERSION, .dns = dns,
				  .authserv_id = "mx.example.net", .client_ip = ip,
				  .helo = "mx.dmarcrep.test", .mail_from = mail_from,
				  .flags = flags };
	struct ms_auth *a = NULL;
	ck_assert_msg(ms_auth_run(NULL, &o, (const uint8_t *)msg, strlen(msg), &a, why,
				  sizeof(why)) == MS_OK, "%s", why);
	int recorded = -1;
	ck_assert_msg(ms_dmarcrep_record_auth(rec, a, when, &recorded, why, sizeof(why)) == MS_OK,
		      "%s", why);
	ms_auth_free(a);
	return recorded;
}

static const char MSG[] = "From: Alice <alice@dmarcrep.test>\r\nTo: bob@example.net\r\n"
			  "Subject: monthly figures\r\n\r\nThe figures are attached.\r\n";
static const char GOOD[] = "From: Joe <joe@good.test>\r\nTo: bob@example.net\r\n"
			   "Subject: hi\r\n\r\nhello\r\n";
static const char NOPOLICY[] = "From: r@route.test\r\nTo: bob@example.net\r\n"
			       "Subject: hi\r\n\r\nhello\r\n";

static const struct ms_dmarcrep_row *find(const struct ms_dmarcrep_report *r, const char *ip)
{
	for (size_t i = 0; i < ms_dmarcrep_report_row_count(r); i++)
		if (strcmp(ms_dmarcrep_report_row(r, i)->source_ip, ip) == 0)
			return ms_dmarcrep_report_row(r, i);
	return NULL;
}

static uint8_t *attachment(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "no message %s", path);
	static char m[1 << 20];
	size_t n = fread(m, 1, sizeof(m) - 1, f);
	fclose(f);
	m[n] = '\0';
	ck_assert_msg(strstr(m, "Subject: Report Domain: dmarcrep.test Submitter: mx.example.net "
				"Report-ID: <"), "%s", m);
	ck_assert(strstr(m, "Content-Type: application/gzip"));
	const char *b = strstr(m, "Content-Transfer-Encoding: base64");
	ck_assert_ptr_nonnull(b);
	b = strstr(b, "\r\n\r\n") + 4;
	uint8_t *o = malloc(n);
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0;
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (; *b && *b != '-'; b++) {
		const char *p = strchr(t, *b);
		if (*b == '=' || p == NULL)
			continue;
		acc = acc << 6 | (uint32_t)(p - t);
		if ((bits += 6) >= 8) {
			bits -= 8;
			o[k++] = (uint8_t)(acc >> bits);
		}
	}
	*len = k;
	return o;
}

static int peer_messages(void)
{
	int n = 0;
	char p[400];
	for (int i = 1; i < 20; i++) {
		snprintf(p, sizeof(p), "%s/msg-%d.eml", tmp, i);
		n += access(p, F_OK) == 0;
	}
	return n;
}

START_TEST(verdicts_recorded_reported_and_mailed)
{
	char db[400];
	snprintf(db, sizeof(db), "%s/dmarc.db", tmp);
	struct ms_dmarcrep_store *store = NULL;
	ck_assert_msg(ms_dmarcrep_store_open(NULL, NULL, db, &store, why, sizeof(why)) == MS_OK,
		      "%s", why);
	struct ms_dmarcrep_recorder *rec = NULL;
	ck_assert_int_eq(ms_dmarcrep_recorder_new(NULL, store, 0, &rec, why, sizeof(why)), MS_OK);
	char *signed_msg = sign(MSG);
	/* three good messages from the domain's own server, signed */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(receive(rec, "127.0.1.30", "bounce@dmarcrep.test", signed_msg,
					 MS_AUTH_APPLY_POLICY, T0 + 100 + i * 4000), 1);
	/* two forgeries from elsewhere, quarantined by the policy */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(receive(rec, "192.0.2.66", "x@dmarcrep.test", MSG,
					 MS_AUTH_APPLY_POLICY, T0 + 5000), 1);
	/* one forgery an MTA that does not apply DMARC let through */
	ck_assert_int_eq(receive(rec, "192.0.2.77", "y@dmarcrep.test", MSG, 0, T0 + 6000), 1);
	/* another domain's mail: recorded, in another report */
	ck_assert_int_eq(receive(rec, "127.0.1.1", "joe@good.test", GOOD, MS_AUTH_APPLY_POLICY,
				 T0 + 7000), 1);
	/* no DMARC policy: nothing to report */
	ck_assert_int_eq(receive(rec, "127.0.1.1", "r@route.test", NOPOLICY, MS_AUTH_APPLY_POLICY,
				 T0 + 7000), 0);
	/* next day's mail stays out of this period */
	ck_assert_int_eq(receive(rec, "127.0.1.30", "bounce@dmarcrep.test", signed_msg,
				 MS_AUTH_APPLY_POLICY, T0 + 86400 + 10), 1);
	free(signed_msg);
	ck_assert_int_eq(ms_dmarcrep_flush(rec, why, sizeof(why)), MS_OK);
	ms_dmarcrep_recorder_free(rec);

	struct ms_dmarcrep_meta m = { .version = MS_DMARCREP_META_VERSION, .begin = T0,
				      .end = T0 + 86400 };
	strcpy(m.org_name, "Example Receiver");
	strcpy(m.email, "dmarc-reports@example.net");
	strcpy(m.domain, "dmarcrep.test");
	struct ms_dmarcrep_report *r = NULL;
	ck_assert_msg(ms_dmarcrep_report_from_store(NULL, store, &m, &r, why, sizeof(why)) == MS_OK,
		      "%s", why);
	const struct ms_dmarcrep_meta *pm = ms_dmarcrep_report_meta(r);
	ck_assert_str_eq(pm->p, "quarantine");
	ck_assert_str_eq(pm->sp, "quarantine");
	ck_assert_uint_eq(pm->pct, 100);
	ck_assert_uint_eq(ms_dmarcrep_report_row_count(r), 3);
	ck_assert_uint_eq(ms_dmarcrep_report_messages(r), 6);
	const struct ms_dmarcrep_row *pass = find(r, "127.0.1.30");
	ck_assert_ptr_nonnull(pass);
	ck_assert_uint_eq(pass->count, 3);
	ck_assert_str_eq(pass->disposition, "none");
	ck_assert_str_eq(pass->dkim_eval, "pass");
	ck_assert_str_eq(pass->spf_eval, "pass");
	ck_assert_str_eq(pass->header_from, "dmarcrep.test");
	ck_assert_str_eq(pass->envelope_from, "dmarcrep.test");
	ck_assert_str_eq(pass->spf_result, "pass");
	ck_assert_str_eq(pass->spf_scope, "mfrom");
	ck_assert_uint_eq(pass->ndkim, 1);
	ck_assert_str_eq(pass->dkim[0].domain, "dmarcrep.test");
	ck_assert_str_eq(pass->dkim[0].selector, "rsa");
	ck_assert_str_eq(pass->dkim[0].result, "pass");
	const struct ms_dmarcrep_row *forged = find(r, "192.0.2.66");
	ck_assert_ptr_nonnull(forged);
	ck_assert_uint_eq(forged->count, 2);
	ck_assert_str_eq(forged->disposition, "quarantine");
	ck_assert_str_eq(forged->dkim_eval, "fail");
	ck_assert_str_eq(forged->spf_eval, "fail");
	ck_assert_str_eq(forged->spf_result, "fail");
	ck_assert_str_eq(forged->reason, "");
	ck_assert_uint_eq(forged->ndkim, 0);
	const struct ms_dmarcrep_row *let = find(r, "192.0.2.77");
	ck_assert_ptr_nonnull(let);
	ck_assert_str_eq(let->disposition, "none");
	ck_assert_str_eq(let->reason, "local_policy");

	/* to the record's rua= */
	struct ms_rtls_send_opts so = { .version = MS_RTLS_SEND_OPTS_VERSION };
	so.deliver.version = MS_RTLS_DELIVER_OPTS_VERSION;
	so.deliver.port = (uint16_t)peer_port;
	so.deliver.timeout_ms = mstest_scale_ms(10000);
	so.deliver.helo = "mx.example.net";
	struct ms_dmarcrep_send_opts o = { .version = MS_DMARCREP_SEND_OPTS_VERSION, .dns = dns,
					   .from = "dmarc-reports@example.net",
					   .receiver = "mx.example.net", .send = &so };
	struct ms_dmarcrep_dest d[8];
	size_t nd = 0;
	ck_assert_msg(ms_dmarcrep_send(NULL, r, &o, d, 8, &nd, why, sizeof(why)) == MS_OK, "%s",
		      why);
	ck_assert_uint_eq(nd, 4);
	ck_assert_str_eq(d[0].uri, "mailto:dmarc@rcv.dmarcrep.test");
	ck_assert_msg(d[0].status == MS_DMARCREP_SENT, "%s: %s", d[0].uri, d[0].detail);
	ck_assert_str_eq(d[1].uri, "mailto:agg@dmarcext.test");
	ck_assert_msg(d[1].status == MS_DMARCREP_SENT, "%s: %s", d[1].uri, d[1].detail);
	ck_assert_str_eq(d[2].uri, "mailto:agg@good.test");
	ck_assert_msg(d[2].status == MS_DMARCREP_NOT_AUTHORIZED, "%s: %s", d[2].uri, d[2].detail);
	ck_assert_str_eq(d[3].uri, "mailto:small@rcv.dmarcrep.test!100");
	ck_assert_msg(d[3].status == MS_DMARCREP_TOO_LARGE, "%s: %s", d[3].uri, d[3].detail);
	ck_assert_uint_eq(d[3].limit, 100);
	ck_assert(d[3].size > 100);
	/* what arrived: two messages, each the report */
	ck_assert_int_eq(peer_messages(), 2);
	for (int i = 1; i <= 2; i++) {
		char p[400];
		snprintf(p, sizeof(p), "%s/msg-%d.eml", tmp, i);
		size_t glen = 0;
		uint8_t *gz = attachment(p, &glen);
		struct ms_dmarcrep_report *back = NULL;
		ck_assert_msg(ms_dmarcrep_parse(NULL, gz, glen, 0, &back, why, sizeof(why)) == MS_OK,
			      "%s", why);
		ck_assert_uint_eq(ms_dmarcrep_report_messages(back), 6);
		ck_assert_str_eq(ms_dmarcrep_report_meta(back)->report_id, pm->report_id);
		ck_assert_uint_eq(find(back, "192.0.2.66")->count, 2);
		ms_dmarcrep_report_free(back);
		free(gz);
	}
	char log[400], line[600];
	snprintf(log, sizeof(log), "%s/peer.log", tmp);
	FILE *f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	int to_rcv = 0, to_ext = 0;
	while (fgets(line, sizeof(line), f)) {
		to_rcv += strstr(line, "rcpt=dmarc@rcv.dmarcrep.test") != NULL;
		to_ext += strstr(line, "rcpt=agg@dmarcext.test") != NULL;
		ck_assert_msg(strstr(line, "from=dmarc-reports@example.net"), "%s", line);
	}
	fclose(f);
	ck_assert_int_eq(to_rcv, 1);
	ck_assert_int_eq(to_ext, 1);

	/* a destination whose authorisation lookup fails (bogus): not sent */
	const char *bogus[] = { "mailto:agg@dmarcbad.test" };
	o.rua = bogus;
	o.nrua = 1;
	ck_assert_int_eq(ms_dmarcrep_send(NULL, r, &o, d, 8, &nd, why, sizeof(why)),
			 MS_ERR_NETWORK);
	ck_assert_uint_eq(nd, 1);
	ck_assert_msg(d[0].status == MS_DMARCREP_LOOKUP_FAILED, "%s",
		      ms_dmarcrep_dest_status_str(d[0].status));
	ck_assert_int_eq(peer_messages(), 2);

	/* a destination whose authorisation lookup times out (slow.example.test
	 * is delegated to a server that never answers): not sent either */
	struct ms_dns_ctx *quick = mstest_world_resolver(NULL, mstest_scale_ms(1500), 0);
	const char *slow[] = { "mailto:agg@slow.example.test" };
	o.dns = quick;
	o.rua = slow;
	ck_assert_int_eq(ms_dmarcrep_send(NULL, r, &o, d, 8, &nd, why, sizeof(why)),
			 MS_ERR_NETWORK);
	ck_assert_uint_eq(nd, 1);
	ck_assert_msg(d[0].status == MS_DMARCREP_LOOKUP_FAILED, "%s: %s",
		      ms_dmarcrep_dest_status_str(d[0].status), d[0].detail);
	/* and a report whose own DMARC record cannot be looked up has no
	 * destinations yet: a temporary error, nothing sent */
	struct ms_dmarcrep_meta sm = m;
	strcpy(sm.domain, "slow.example.test");
	struct ms_dmarcrep_report *sr = NULL;
	ck_assert_int_eq(ms_dmarcrep_report_new(NULL, &sm, &sr, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_dmarcrep_report_add(sr, ms_dmarcrep_report_row(r, 0), why, sizeof(why)),
			 MS_OK);
	o.rua = NULL;
	o.nrua = 0;
	ck_assert_int_eq(ms_dmarcrep_send(NULL, sr, &o, d, 8, &nd, why, sizeof(why)),
			 MS_ERR_NETWORK);
	ck_assert_uint_eq(nd, 0);
	ck_assert_msg(strstr(why, "DMARC record lookup for slow.example.test failed"), "%s", why);
	ck_assert_int_eq(peer_messages(), 2);
	ms_dmarcrep_report_free(sr);
	ms_dns_ctx_free(quick);

	/* the other domain's report holds its own row only */
	struct ms_dmarcrep_report *g = NULL;
	strcpy(m.domain, "good.test");
	ck_assert_int_eq(ms_dmarcrep_report_from_store(NULL, store, &m, &g, why, sizeof(why)), MS_OK);
	ck_assert_uint_eq(ms_dmarcrep_report_messages(g), 1);
	ck_assert_str_eq(ms_dmarcrep_report_row(g, 0)->source_ip, "127.0.1.1");
	ck_assert_str_eq(ms_dmarcrep_report_meta(g)->p, "reject");
	ms_dmarcrep_report_free(g);
	ms_dmarcrep_report_free(r);
	ms_dmarcrep_store_free(store);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dmarc-report-world");
	TCase *t = tcase_create("world");
	tcase_set_timeout(t, 240);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, verdicts_recorded_reported_and_mailed);
	suite_add_tcase(s, t);
	return mstest_run(s);
}
