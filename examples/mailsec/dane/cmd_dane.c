/*
 * cmd_dane.c - `mailsec dane`: DANE for SMTP with libdane.
 *   verify --chain FILE.pem --name HOST... --tlsa "U S M HEX"... [--insecure]
 *   tlsa [--usage U --selector S --mtype M] FILE.pem
 *   probe HOST [--port N] [--connect ADDR:PORT]
 *   keygen ALG | csr KEY.pem NAME... | rollover CURRENT.pem NEXT.pem [--ca CA.pem]
 * verify and probe exit 0 when verified, 1 otherwise.
 */
#include "cli.h"

#include <mailsec/dane.h>
#include <mailsec/requiretls_smtp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TLSA_TEXT 8192
#define MAX_PEM (1u << 22)

/* All certificates of a PEM file as DER (free each der[i] with OPENSSL_free). */
static size_t read_chain(const char *path, struct ms_dane_cert *chain, unsigned char **der)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	size_t n = 0;
	int len;
	while (f && n < MS_DANE_MAX_CHAIN && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		der[n] = NULL;
		len = i2d_X509(x, &der[n]);
		X509_free(x);
		if (len <= 0)
			break;
		chain[n].der = der[n];
		chain[n++].len = (size_t)len;
	}
	if (f)
		fclose(f);
	return n;
}

static void record_text(const struct ms_dane_tlsa *t, char *buf, size_t len)
{
	if (ms_dane_tlsa_to_text(t, buf, len) != MS_OK)
		snprintf(buf, len, "%u %u %u (%zu bytes)", t->usage, t->selector, t->mtype,
			 t->datalen);
}

static void print_result(struct cli_out *o, const struct ms_dane_result *res,
			 const struct ms_dane_tlsa *t)
{
	char rec[MAX_TLSA_TEXT] = "";
	if (res->matched >= 0)
		record_text(&t[res->matched], rec, sizeof(rec));
	const char *rpt = ms_tlsrpt_result_name(res->tlsrpt);
	out_str(o, "verdict", "verdict", ms_dane_verdict_str(res->verdict));
	out_bool(o, "verified", res->verdict == MS_DANE_VERIFIED);
	out_str(o, "matched", "matched", res->matched >= 0 ? rec : NULL);
	if (res->matched < 0)
		out_line(o, "matched", "none");
	if (res->depth >= 0)
		out_int(o, "depth", "depth", res->depth);
	else
		out_null(o, "depth");
	if (res->depth < 0)
		out_line(o, "depth", "none");
	out_str(o, "tlsrpt_result", "tlsrpt", rpt[0] ? rpt : NULL);
	out_int(o, "usable_records", NULL, (long long)res->usable);
	out_str(o, "reason", "reason", res->reason);
}

static int dane_verify(struct cli *cli, int argc, char **argv)
{
	const char *chainfile = NULL, *names[MS_DANE_MAX_NAMES], *tlsa[MS_DANE_MAX_RECORDS];
	int insecure = 0;
	struct cli_list nl = CLI_LIST_OF(names), tl = CLI_LIST_OF(tlsa);
	const struct cli_opt opts[] = {
		OPT_STR("--chain", &chainfile), OPT_LIST("--name", &nl),
		OPT_LIST("--tlsa", &tl), OPT_FLAG("--insecure", &insecure), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc >= 0)
		return rc;
	if (chainfile == NULL || nl.n == 0 || tl.n == 0)
		return cli_usage(cli);
	struct ms_dane_tlsa t[MS_DANE_MAX_RECORDS];
	static uint8_t data[MS_DANE_MAX_RECORDS][4096];
	char why[256] = "";
	for (size_t i = 0; i < tl.n; i++)
		if (ms_dane_tlsa_parse_text(tlsa[i], strlen(tlsa[i]), &t[i], data[i],
					    sizeof(data[i]), why, sizeof(why)) != MS_OK)
			return cli_usage_error(cli, "bad --tlsa '%s': %s", tlsa[i], why);
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	unsigned char *der[MS_DANE_MAX_CHAIN];
	size_t nchain = read_chain(chainfile, chain, der);
	if (nchain == 0)
		return cli_usage_error(cli, "no certificates in '%s'", chainfile);
	struct ms_dane_ctx *ctx = NULL;
	struct ms_dane_input in = {
		.version = MS_DANE_INPUT_VERSION, .chain = chain, .nchain = nchain,
		.tlsa = t, .ntlsa = tl.n, .authentic = !insecure, .names = names,
		.nnames = nl.n, .now = cli_now(cli),
	};
	struct ms_dane_result res = { .version = MS_DANE_RESULT_VERSION };
	ms_status st = ms_dane_ctx_new(&cli->env, &ctx);
	if (st == MS_OK)
		st = ms_dane_verify(ctx, &in, &res, why, sizeof(why));
	ms_dane_ctx_free(ctx);
	for (size_t i = 0; i < nchain; i++)
		OPENSSL_free(der[i]);
	if (st != MS_OK)
		return cli_fail(cli, st, "verify failed", why);
	struct cli_out o;
	out_begin(&o, cli, "", 9);
	print_result(&o, &res, t);
	out_end(&o);
	return res.verdict == MS_DANE_VERIFIED ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* The TLSA record of a PEM file's certificate or key, into out. */
static int tlsa_of(const struct cli *cli, const char *file, long long u, long long s,
		   long long m, char *out, size_t outlen)
{
	size_t len;
	uint8_t *pem = cli_read_file(file, MAX_PEM, &len);
	char why[200] = "";
	if (pem == NULL)
		return cli_usage_error(cli, "cannot read '%s'", file);
	ms_status st = ms_dane_tlsa_from_pem(pem, len, (uint8_t)u, (uint8_t)s, (uint8_t)m, out,
					     outlen, why, sizeof(why));
	free(pem);
	return st == MS_OK ? CLI_EXIT_OK : cli_usage_error(cli, "%s: %s", file, why);
}

static int dane_tlsa(struct cli *cli, int argc, char **argv)
{
	long long u = 3, s = 1, m = 1;
	const char *p[1];
	struct cli_list pos = CLI_LIST_OF(p);
	const struct cli_opt opts[] = {
		OPT_NUM("--usage", &u, 0, 255), OPT_NUM("--selector", &s, 0, 255),
		OPT_NUM("--mtype", &m, 0, 255), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	static char out[MAX_TLSA_TEXT * 4];
	if ((rc = tlsa_of(cli, p[0], u, s, m, out, sizeof(out))) != CLI_EXIT_OK)
		return rc;
	struct cli_out o;
	out_begin(&o, cli, "", 0);
	out_str(&o, "record", NULL, out);
	out_line(&o, NULL, "%s", out);
	out_end(&o);
	return CLI_EXIT_OK;
}

/* keygen and csr: the PEM text, or {"KEY": PEM} with --json. */
static int print_pem(const struct cli *cli, const char *alg, const char *key, char *pem)
{
	struct cli_out o;
	out_begin(&o, cli, "", 0);
	out_str(&o, alg ? "algorithm" : NULL, NULL, alg);
	out_str(&o, key, NULL, pem);
	out_end(&o);
	if (!cli->json)
		fputs(pem, stdout);
	ms_dane_string_free(NULL, pem);
	return CLI_EXIT_OK;
}

static int dane_keygen(struct cli *cli, int argc, char **argv)
{
	const char *p[1];
	struct cli_list pos = CLI_LIST_OF(p);
	int rc = cli_parse(cli, argc, argv, NULL, &pos);
	if (rc >= 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	char *pem = NULL, why[200] = "";
	ms_status st = ms_dane_keygen(p[0], &pem, why, sizeof(why));
	if (st != MS_OK)
		return cli_fail(cli, st, "keygen", why);
	return print_pem(cli, p[0], "private_key", pem);
}

static int dane_csr(struct cli *cli, int argc, char **argv)
{
	const char *p[1 + MS_DANE_MAX_NAMES];
	struct cli_list pos = CLI_LIST_OF(p);
	int rc = cli_parse(cli, argc, argv, NULL, &pos);
	if (rc >= 0 || pos.n < 2)
		return rc >= 0 ? rc : cli_usage(cli);
	size_t len;
	uint8_t *key = cli_read_file(p[0], MAX_PEM, &len);
	if (key == NULL)
		return cli_usage_error(cli, "cannot read '%s'", p[0]);
	char *pem = NULL, why[200] = "";
	ms_status st = ms_dane_csr(key, len, p + 1, pos.n - 1, &pem, why, sizeof(why));
	free(key);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_USAGE, "%s", why);
	return print_pem(cli, NULL, "csr", pem);
}

/* The record set to publish while rolling from the current key to the
 * next (RFC 7671 s8.1): both 3 1 1 records, and 2 1 1 for the CA. */
static int dane_rollover(struct cli *cli, int argc, char **argv)
{
	const char *files[3] = { NULL, NULL, NULL };
	struct cli_list pos = { files, 0, 2 };
	const struct cli_opt opts[] = { OPT_STR("--ca", &files[2]), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || pos.n != 2)
		return rc >= 0 ? rc : cli_usage(cli);
	static char out[3][1024];
	static const char *const what[3] = { "current", "next", "ca" };
	struct cli_out o;
	for (int i = 0; i < 3; i++)
		if (files[i] && (rc = tlsa_of(cli, files[i], i == 2 ? 2 : 3, 1, 1, out[i],
					      sizeof(out[i]))) != CLI_EXIT_OK)
			return rc;
	out_begin(&o, cli, "", 0);
	out_arr(&o, "records");
	for (int i = 0; i < 3; i++) {
		if (files[i] == NULL)
			continue;
		out_str(&o, OUT_ELEM, NULL, out[i]);
		out_line(&o, NULL, "%s ; %s", out[i], what[i]);
	}
	out_close_arr(&o);
	out_end(&o);
	return CLI_EXIT_OK;
}

#ifdef MS_CLI_HAVE_RTLS_PROBE
static void fingerprint(const struct ms_dane_cert *c, char *subject, size_t slen, char *fp,
			size_t fplen)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->len);
	subject[0] = '\0';
	if (x)
		X509_NAME_oneline(X509_get_subject_name(x), subject, (int)slen);
	X509_free(x);
	unsigned char d[32];
	unsigned int dl = 0;
	EVP_Digest(c->der, c->len, d, &dl, EVP_sha256(), NULL);
	for (unsigned i = 0; i < dl && 2 * i + 3 <= fplen; i++)
		snprintf(fp + 2 * i, fplen - 2 * i, "%02x", d[i]);
}

/* The lookup, the STARTTLS probe and the verification are librequiretls's
 * (ms_rtls_dane_probe_run). */
static int dane_probe(struct cli *cli, int argc, char **argv)
{
	const char *p[1], *connect = NULL;
	long long port = 25;
	struct cli_list pos = CLI_LIST_OF(p);
	const struct cli_opt opts[] = { OPT_NUM("--port", &port, 1, 65535),
					OPT_STR("--connect", &connect), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0 || pos.n != 1)
		return rc >= 0 ? rc : cli_usage(cli);
	signal(SIGPIPE, SIG_IGN); /* a peer closing mid-write must not kill us */
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_rtls_dane_probe_opts po = { .version = MS_RTLS_DANE_PROBE_VERSION,
					      .port = (uint16_t)port, .connect = connect,
					      .timeout_ms = cli->timeout_ms, .now = cli_now(cli) };
	struct ms_rtls_dane_probe *pr = NULL;
	char why[512] = "", rec[MAX_TLSA_TEXT], subj[256], fp[80];
	ms_status st = ms_rtls_dane_probe_run(&cli->env, dns, p[0], &po, &pr, why, sizeof(why));
	ms_dns_ctx_free(dns);
	if (st != MS_OK)
		return cli_fail(cli, st, "TLSA lookup failed", why);
	const struct ms_dane_lookup *l = ms_rtls_dane_probe_lookup(pr);
	const struct ms_rtls_probe *session = ms_rtls_dane_probe_session(pr);
	const struct ms_dane_tlsa *recs;
	const struct ms_dane_cert *chain = NULL;
	size_t nrecs = ms_dane_lookup_records(l, &recs), nchain = ms_rtls_probe_chain(session, &chain);
	const char *err = ms_rtls_dane_probe_error(pr);
	struct cli_out o;
	out_begin(&o, cli, "", 9);
	out_str(&o, "host", "host", p[0]);
	out_str(&o, "dns_state", NULL, ms_dane_dns_state_str(ms_dane_lookup_state(l)));
	out_str(&o, "dns_reason", "dns", ms_dane_lookup_reason(l));
	out_str(&o, "tlsa_base", "base", ms_dane_lookup_base(l));
	out_arr(&o, "tlsa");
	for (size_t i = 0; i < nrecs; i++) {
		record_text(&recs[i], rec, sizeof(rec));
		out_str(&o, OUT_ELEM, "tlsa", rec);
	}
	out_close_arr(&o);
	out_str(&o, "connect", "connect", ms_rtls_dane_probe_connect(pr));
	out_str(&o, "tls", "tls", session ? ms_rtls_probe_tls(session) : NULL);
	out_str(&o, "error", NULL, err);
	out_arr(&o, "chain");
	for (size_t i = 0; i < nchain; i++) {
		fingerprint(&chain[i], subj, sizeof(subj), fp, sizeof(fp));
		out_obj(&o, NULL);
		out_int(&o, "depth", NULL, (long long)i);
		out_str(&o, "subject", NULL, subj);
		out_str(&o, "sha256", NULL, fp);
		out_close(&o);
		out_line(&o, NULL, "cert %zu:  %s sha256=%s", i, subj, fp);
	}
	out_close_arr(&o);
	if (session) {
		print_result(&o, ms_rtls_dane_probe_result(pr), recs);
	} else {
		const char *v = ms_rtls_dane_probe_verdict_str(pr);
		out_str(&o, "verdict", NULL, v);
		out_line(&o, "verdict", "%s%s%s", v, err ? ": " : " (host unusable now)",
			 err ? err : "");
		out_bool(&o, "verified", 0);
		out_null(&o, "matched");
		out_null(&o, "depth");
		out_str(&o, "tlsrpt_result", NULL,
			ms_tlsrpt_result_name(ms_rtls_dane_probe_result(pr)->tlsrpt));
	}
	out_end(&o);
	rc = ms_rtls_dane_probe_verified(pr) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	ms_rtls_dane_probe_free(pr);
	return rc;
}
#else
static int dane_probe(struct cli *cli, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error(cli, "mailsec dane probe needs librequiretls "
			       "(-Dcomponents=dane,requiretls)");
}
#endif

const struct cli_cmd cli_dane_cmds[] = {
	{ "verify", dane_verify, "--chain FILE.pem --name HOST [--name HOST2]... "
	  "--tlsa \"U S M HEX\"... [--insecure]", "DANE verification of a chain; exit 0 "
	  "verified, 1 not", NULL },
	{ "tlsa", dane_tlsa, "[--usage U --selector S --mtype M] FILE.pem",
	  "the TLSA rdata for a certificate or key", NULL },
	{ "probe", dane_probe, "HOST [--port N] [--connect ADDR:PORT]",
	  "SMTP STARTTLS + DANE, like posttls-finger; exit 0 verified, 1 not", NULL },
	{ "keygen", dane_keygen, "rsa2048|rsa4096|p256|p384|ed25519", "a private key (PEM)",
	  NULL },
	{ "csr", dane_csr, "KEY.pem NAME [NAME]...", "a certificate request (PEM)", NULL },
	{ "rollover", dane_rollover, "CURRENT.pem NEXT.pem [--ca CA.pem]",
	  "the TLSA records to publish during a key rollover", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};
