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

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= (1u << 22)) {
				free(buf);
				buf = NULL;
				break;
			}
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* All certificates of a PEM file as DER. */
static int read_chain(const char *path, struct ms_dane_cert *chain, unsigned char **der,
		      size_t *n)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	X509 *x;
	*n = 0;
	while (*n < MS_DANE_MAX_CHAIN && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		der[*n] = NULL;
		int len = i2d_X509(x, &der[*n]);
		X509_free(x);
		if (len <= 0)
			break;
		chain[*n].der = der[*n];
		chain[*n].len = (size_t)len;
		(*n)++;
	}
	fclose(f);
	return *n ? 0 : -1;
}

static void record_text(const struct ms_dane_tlsa *t, char *buf, size_t len)
{
	if (ms_dane_tlsa_to_text(t, buf, len) != MS_OK)
		snprintf(buf, len, "%u %u %u (%zu bytes)", t->usage, t->selector, t->mtype,
			 t->datalen);
}

static void print_result(const struct cli *cli, const struct ms_dane_result *res,
			 const struct ms_dane_tlsa *t, struct json *j)
{
	char rec[MAX_TLSA_TEXT] = "";
	if (res->matched >= 0)
		record_text(&t[res->matched], rec, sizeof(rec));
	if (cli->json) {
		json_string(j, "verdict", ms_dane_verdict_str(res->verdict));
		json_bool(j, "verified", res->verdict == MS_DANE_VERIFIED);
		json_string(j, "matched", res->matched >= 0 ? rec : NULL);
		if (res->depth >= 0)
			json_int(j, "depth", res->depth);
		else
			json_null(j, "depth");
		const char *rpt = ms_tlsrpt_result_name(res->tlsrpt);
		json_string(j, "tlsrpt_result", rpt[0] ? rpt : NULL);
		json_int(j, "usable_records", (long long)res->usable);
		json_string(j, "reason", res->reason);
		return;
	}
	printf("verdict: %s\n", ms_dane_verdict_str(res->verdict));
	printf("matched: %s\n", res->matched >= 0 ? rec : "none");
	if (res->depth >= 0)
		printf("depth:   %d\n", res->depth);
	else
		printf("depth:   none\n");
	if (res->tlsrpt != MS_TLSRPT_SUCCESS)
		printf("tlsrpt:  %s\n", ms_tlsrpt_result_name(res->tlsrpt));
	printf("reason:  %s\n", res->reason);
}

static int dane_verify(struct cli *cli, int argc, char **argv)
{
	const char *chainfile = NULL;
	const char *names[MS_DANE_MAX_NAMES];
	size_t nnames = 0, ntlsa = 0;
	struct ms_dane_tlsa t[MS_DANE_MAX_RECORDS];
	static uint8_t data[MS_DANE_MAX_RECORDS][4096];
	int insecure = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--insecure") == 0) {
			insecure = 1;
			continue;
		}
		if (v == NULL)
			return cli_usage_error(cli, "%s needs a value", a);
		i++;
		if (strcmp(a, "--chain") == 0) {
			chainfile = v;
		} else if (strcmp(a, "--name") == 0) {
			if (nnames == MS_DANE_MAX_NAMES)
				return cli_usage_error(cli, "at most %d --name", MS_DANE_MAX_NAMES);
			names[nnames++] = v;
		} else if (strcmp(a, "--tlsa") == 0) {
			char why[160];
			if (ntlsa == MS_DANE_MAX_RECORDS)
				return cli_usage_error(cli, "at most %d --tlsa", MS_DANE_MAX_RECORDS);
			if (ms_dane_tlsa_parse_text(v, strlen(v), &t[ntlsa], data[ntlsa],
						    sizeof(data[ntlsa]), why, sizeof(why)) != MS_OK)
				return cli_usage_error(cli, "bad --tlsa '%s': %s", v, why);
			ntlsa++;
		} else {
			return cli_usage_error(cli, "unknown option '%s'", a);
		}
	}
	if (chainfile == NULL || nnames == 0 || ntlsa == 0)
		return cli_usage_error(cli, "usage: mailsec dane verify --chain FILE.pem --name HOST "
				       "[--name HOST2]... --tlsa \"U S M HEX\"... [--insecure]");
	struct ms_dane_cert chain[MS_DANE_MAX_CHAIN];
	unsigned char *der[MS_DANE_MAX_CHAIN];
	size_t nchain = 0;
	if (read_chain(chainfile, chain, der, &nchain) != 0)
		return cli_usage_error(cli, "no certificates in '%s'", chainfile);
	struct ms_dane_ctx *ctx = NULL;
	if (ms_dane_ctx_new(&cli->env, &ctx) != MS_OK)
		return cli_error(cli, CLI_EXIT_ERROR, "cannot create the DANE context");
	struct ms_dane_input in = {
		.version = MS_DANE_INPUT_VERSION,
		.chain = chain, .nchain = nchain,
		.tlsa = t, .ntlsa = ntlsa,
		.authentic = !insecure,
		.names = names, .nnames = nnames,
		.now = cli_now(cli),
	};
	struct ms_dane_result res;
	char why[256] = "";
	ms_status st = ms_dane_verify(ctx, &in, &res, why, sizeof(why));
	ms_dane_ctx_free(ctx);
	for (size_t i = 0; i < nchain; i++)
		OPENSSL_free(der[i]);
	if (st != MS_OK)
		return cli_error(cli, st == MS_ERR_INVALID || st == MS_ERR_LIMIT ? CLI_EXIT_USAGE :
				 CLI_EXIT_ERROR, "verify failed: %s", why);
	struct json j;
	if (cli->json) {
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
	}
	print_result(cli, &res, t, &j);
	if (cli->json) {
		json_object_end(&j);
		json_finish(&j);
	}
	return res.verdict == MS_DANE_VERIFIED ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int parse_u8(const char *s, uint8_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > 255)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

static int dane_tlsa(struct cli *cli, int argc, char **argv)
{
	uint8_t u = 3, s = 1, m = 1;
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint8_t *dst = strcmp(a, "--usage") == 0 ? &u : strcmp(a, "--selector") == 0 ? &s :
			       strcmp(a, "--mtype") == 0 ? &m : NULL;
		if (dst) {
			if (v == NULL || parse_u8(v, dst) != 0)
				return cli_usage_error(cli, "%s wants 0-255", a);
			i++;
		} else if (a[0] == '-' || file) {
			return cli_usage_error(cli, "usage: mailsec dane tlsa [--usage U --selector S "
					       "--mtype M] FILE.pem");
		} else {
			file = a;
		}
	}
	if (file == NULL)
		return cli_usage_error(cli, "usage: mailsec dane tlsa [--usage U --selector S "
				       "--mtype M] FILE.pem");
	size_t len;
	char *pem = read_file(file, &len);
	if (pem == NULL)
		return cli_usage_error(cli, "cannot read '%s'", file);
	static char out[MAX_TLSA_TEXT * 4];
	char why[200] = "";
	ms_status st = ms_dane_tlsa_from_pem((const uint8_t *)pem, len, u, s, m, out, sizeof(out),
					     why, sizeof(why));
	free(pem);
	if (st != MS_OK)
		return cli_usage_error(cli, "%s: %s", file, why);
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "record", out);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("%s\n", out);
	}
	return CLI_EXIT_OK;
}

static int dane_keygen(struct cli *cli, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error(cli, "usage: mailsec dane keygen rsa2048|rsa4096|p256|p384|ed25519");
	char *pem = NULL, why[200] = "";
	ms_status st = ms_dane_keygen(argv[1], &pem, why, sizeof(why));
	if (st != MS_OK)
		return cli_error(cli, st == MS_ERR_UNSUPPORTED ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
				 "%s", why);
	fputs(pem, stdout);
	free(pem);
	return CLI_EXIT_OK;
}

static int dane_csr(struct cli *cli, int argc, char **argv)
{
	if (argc < 3 || argc - 2 > MS_DANE_MAX_NAMES)
		return cli_usage_error(cli, "usage: mailsec dane csr KEY.pem NAME [NAME]...");
	size_t len;
	char *key = read_file(argv[1], &len);
	if (key == NULL)
		return cli_usage_error(cli, "cannot read '%s'", argv[1]);
	char *pem = NULL, why[200] = "";
	ms_status st = ms_dane_csr((const uint8_t *)key, len, (const char *const *)argv + 2,
				   (size_t)argc - 2, &pem, why, sizeof(why));
	free(key);
	if (st != MS_OK)
		return cli_error(cli, CLI_EXIT_USAGE, "%s", why);
	fputs(pem, stdout);
	free(pem);
	return CLI_EXIT_OK;
}

/* The record set to publish while rolling from the current key to the
 * next (RFC 7671 s8.1): both 3 1 1 records, and 2 1 1 for the CA. */
static int dane_rollover(struct cli *cli, int argc, char **argv)
{
	const char *files[3] = { NULL, NULL, NULL };
	int nf = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			files[2] = argv[++i];
		else if (argv[i][0] != '-' && nf < 2)
			files[nf++] = argv[i];
		else
			nf = 9;
	}
	if (nf != 2)
		return cli_usage_error(cli, "usage: mailsec dane rollover CURRENT.pem NEXT.pem "
				       "[--ca CA.pem]");
	static char out[3][1024];
	const char *what[3] = { "current", "next", "ca" };
	for (int i = 0; i < 3; i++) {
		out[i][0] = '\0';
		if (files[i] == NULL)
			continue;
		size_t len;
		char *pem = read_file(files[i], &len), why[200] = "";
		if (pem == NULL)
			return cli_usage_error(cli, "cannot read '%s'", files[i]);
		ms_status st = ms_dane_tlsa_from_pem((const uint8_t *)pem, len, i == 2 ? 2 : 3, 1, 1,
						     out[i], sizeof(out[i]), why, sizeof(why));
		free(pem);
		if (st != MS_OK)
			return cli_usage_error(cli, "%s: %s", files[i], why);
	}
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_array_begin(&j, "records");
		for (int i = 0; i < 3; i++)
			if (out[i][0])
				json_string(&j, NULL, out[i]);
		json_array_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		for (int i = 0; i < 3; i++)
			if (out[i][0])
				printf("%s ; %s\n", out[i], what[i]);
	}
	return CLI_EXIT_OK;
}

static void fingerprint(const struct ms_dane_cert *c, char *subject, size_t slen, char *fp,
			size_t fplen)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->len);
	subject[0] = '\0';
	if (x) {
		X509_NAME_oneline(X509_get_subject_name(x), subject, (int)slen);
		X509_free(x);
	}
	unsigned char d[32];
	unsigned int dl = 0;
	EVP_Digest(c->der, c->len, d, &dl, EVP_sha256(), NULL);
	size_t o = 0;
	for (unsigned i = 0; i < dl && o + 3 < fplen; i++)
		o += (size_t)snprintf(fp + o, fplen - o, "%02x", d[i]);
}

#ifdef MS_CLI_HAVE_RTLS_PROBE
/* The STARTTLS probe is librequiretls's (ms_rtls_probe_run). */
static int dane_probe(struct cli *cli, int argc, char **argv)
{
	const char *host = NULL, *connect = NULL;
	long port = 25;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--port") == 0 && v) {
			char *end;
			port = strtol(v, &end, 10);
			if (*end || port < 1 || port > 65535)
				return cli_usage_error(cli, "bad --port '%s'", v);
			i++;
		} else if (strcmp(a, "--connect") == 0 && v) {
			connect = v;
			i++;
		} else if (a[0] != '-' && host == NULL) {
			host = a;
		} else {
			host = NULL;
			break;
		}
	}
	if (host == NULL)
		return cli_usage_error(cli, "usage: mailsec dane probe HOST [--port N] "
				       "[--connect ADDR:PORT]");
	signal(SIGPIPE, SIG_IGN); /* a peer closing mid-write must not kill us */
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	char why[512] = "";
	struct ms_dane_lookup *l = NULL;
	ms_status st = ms_dane_lookup_env(&cli->env, dns, host, 1, (uint16_t)port, &l, why,
					 sizeof(why));
	if (st != MS_OK) {
		ms_dns_ctx_free(dns);
		return cli_error(cli, st == MS_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
				 "TLSA lookup failed: %s", why);
	}
	char target[300];
	if (connect == NULL) {
		struct ms_dns_result *r = NULL;
		char ab[64];
		if (ms_dns_lookup_addr(dns, host, &r, why, sizeof(why)) == MS_OK &&
		    ms_dns_result_count(r) > 0 && ms_dns_result_addr(r, 0, ab, sizeof(ab)) == MS_OK)
			snprintf(target, sizeof(target), strchr(ab, ':') ? "[%s]:%ld" : "%s:%ld", ab,
				 port);
		else
			target[0] = '\0';
		ms_dns_result_free(r);
		connect = target[0] ? target : NULL;
	}
	enum ms_dane_dns_state state = ms_dane_lookup_state(l);
	const struct ms_dane_tlsa *recs;
	size_t nrecs = ms_dane_lookup_records(l, &recs);
	const char *base = ms_dane_lookup_base(l);
	struct ms_rtls_probe *p = NULL;
	ms_status pst = MS_OK;
	enum ms_tlsrpt_result pfail = MS_TLSRPT_VALIDATION_FAILURE;
	char pwhy[512] = "";
	/* A temporary DNS failure makes the host unusable: no connection. */
	if (state != MS_DANE_DNS_TEMPFAIL) {
		if (connect == NULL) {
			pst = MS_ERR_NETWORK;
			snprintf(pwhy, sizeof(pwhy), "no address for %s", host);
		} else {
			struct ms_rtls_probe_opts o = { .version = MS_RTLS_PROBE_VERSION,
							.connect = connect, .sni = base,
							.timeout_ms = cli->timeout_ms };
			pst = ms_rtls_probe_run_classify(&cli->env, &o, &p, &pfail, pwhy,
							 sizeof(pwhy));
		}
	}
	struct ms_dane_result res;
	memset(&res, 0, sizeof(res));
	res.matched = res.depth = -1;
	const struct ms_dane_cert *chain = NULL;
	size_t nchain = ms_rtls_probe_chain(p, &chain);
	if (p) {
		struct ms_dane_ctx *ctx = NULL;
		struct ms_dane_input in = { .version = MS_DANE_INPUT_VERSION };
		ms_dane_lookup_input(l, &in);
		in.chain = chain;
		in.nchain = nchain;
		in.now = cli_now(cli);
		if (ms_dane_ctx_new(&cli->env, &ctx) != MS_OK ||
		    ms_dane_verify(ctx, &in, &res, why, sizeof(why)) != MS_OK)
			pst = MS_ERR_INTERNAL;
		ms_dane_ctx_free(ctx);
	}
	int verified = p && res.verdict == MS_DANE_VERIFIED;
	struct json j;
	char rec[MAX_TLSA_TEXT];
	if (cli->json) {
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "host", host);
		json_string(&j, "dns_state", ms_dane_dns_state_str(state));
		json_string(&j, "dns_reason", ms_dane_lookup_reason(l));
		json_string(&j, "tlsa_base", base);
		json_array_begin(&j, "tlsa");
		for (size_t i = 0; i < nrecs; i++) {
			record_text(&recs[i], rec, sizeof(rec));
			json_string(&j, NULL, rec);
		}
		json_array_end(&j);
		json_string(&j, "connect", connect);
		json_string(&j, "tls", p ? ms_rtls_probe_tls(p) : NULL);
		json_string(&j, "error", pst != MS_OK ? pwhy : NULL);
		json_array_begin(&j, "chain");
		for (size_t i = 0; i < nchain; i++) {
			char subj[256], fp[80];
			fingerprint(&chain[i], subj, sizeof(subj), fp, sizeof(fp));
			json_object_begin(&j, NULL);
			json_int(&j, "depth", (long long)i);
			json_string(&j, "subject", subj);
			json_string(&j, "sha256", fp);
			json_object_end(&j);
		}
		json_array_end(&j);
		if (p) {
			print_result(cli, &res, recs, &j);
		} else {
			json_string(&j, "verdict", state == MS_DANE_DNS_TEMPFAIL ? "dns-tempfail" :
				    "connect-failed");
			json_bool(&j, "verified", 0);
			json_null(&j, "matched");
			json_null(&j, "depth");
			/* a refused STARTTLS is starttls-not-supported (RFC 8460 s4.3.1) */
			json_string(&j, "tlsrpt_result", state == MS_DANE_DNS_TEMPFAIL ?
				    "dnssec-invalid" : ms_tlsrpt_result_name(pfail));
		}
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("host:    %s\n", host);
		printf("dns:     %s\n", ms_dane_lookup_reason(l));
		if (base)
			printf("base:    %s\n", base);
		for (size_t i = 0; i < nrecs; i++) {
			record_text(&recs[i], rec, sizeof(rec));
			printf("tlsa:    %s\n", rec);
		}
		if (connect)
			printf("connect: %s\n", connect);
		if (p)
			printf("tls:     %s\n", ms_rtls_probe_tls(p));
		for (size_t i = 0; i < nchain; i++) {
			char subj[256], fp[80];
			fingerprint(&chain[i], subj, sizeof(subj), fp, sizeof(fp));
			printf("cert %zu:  %s sha256=%s\n", i, subj, fp);
		}
		if (p)
			print_result(cli, &res, recs, NULL);
		else if (state == MS_DANE_DNS_TEMPFAIL)
			printf("verdict: dns-tempfail (host unusable now)\n");
		else
			printf("verdict: connect-failed: %s\n", pwhy);
	}
	ms_rtls_probe_free(p);
	ms_dane_lookup_free(l);
	ms_dns_ctx_free(dns);
	return verified ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
#endif

int cmd_dane(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(cli, "usage: mailsec dane verify|tlsa|probe|keygen|csr|rollover ...");
	const char *sub = argv[1];
	if (strcmp(sub, "verify") == 0)
		return dane_verify(cli, argc - 1, argv + 1);
	if (strcmp(sub, "tlsa") == 0)
		return dane_tlsa(cli, argc - 1, argv + 1);
	if (strcmp(sub, "probe") == 0)
#ifdef MS_CLI_HAVE_RTLS_PROBE
		return dane_probe(cli, argc - 1, argv + 1);
#else
		return cli_usage_error(cli, "mailsec dane probe needs librequiretls "
				       "(-Dcomponents=dane,requiretls)");
#endif
	if (strcmp(sub, "keygen") == 0)
		return dane_keygen(cli, argc - 1, argv + 1);
	if (strcmp(sub, "csr") == 0)
		return dane_csr(cli, argc - 1, argv + 1);
	if (strcmp(sub, "rollover") == 0)
		return dane_rollover(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "unknown dane command '%s'", sub);
}
