/*
 * cmd_dkim.c - `mailsec dkim verify|sign|keygen` (usage: the table below):
 * DKIM (RFC 6376, 8301, 8463) with libspfdkim.  verify exits 0 if at least
 * one signature passed, 1 otherwise (also unsigned); the message is
 * streamed: memory does not grow with the body.
 */
#include "dkim_cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 8
#define MAX_MESSAGE (64u << 20)
#define MAX_PEM (1u << 20)

int dkim_stream(const struct cli *cli, const char *file,
		ms_status (*feed)(void *h, const uint8_t *buf, size_t len, char *why, size_t wl),
		void *h, char *why, size_t whylen)
{
	FILE *in = file == NULL || strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (in == NULL)
		return cli_error(cli, CLI_EXIT_USAGE, "%s: cannot open %s", cli->path, file);
	static uint8_t buf[65536];
	size_t n;
	ms_status st = MS_OK;
	while (st == MS_OK && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		st = feed(h, buf, n, why, whylen);
	int err = ferror(in);
	if (in != stdin)
		fclose(in);
	if (st != MS_OK)
		return cli_fail(cli, st, cli->path, why);
	if (err)
		return cli_error(cli, CLI_EXIT_ERROR, "%s: cannot read the message", cli->path);
	return CLI_EXIT_OK;
}

static ms_status verify_feed(void *h, const uint8_t *buf, size_t len, char *why, size_t wl)
{
	return ms_dkim_verify_feed(h, buf, len, why, wl);
}

static int do_verify(struct cli *cli, int argc, char **argv)
{
	const char *p[1];
	int sha1 = 0, body_length = 0;
	struct cli_list pos = CLI_LIST_OF(p);
	const struct cli_opt opts[] = { OPT_FLAG("--allow-sha1", &sha1),
					OPT_FLAG("--allow-body-length", &body_length), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0)
		return rc;
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dkim_verifier *v = NULL;
	struct ms_dkim_verify *vf = NULL;
	char why[256] = "";
	if (ms_dkim_verifier_new(&cli->env, dns, &v) != MS_OK || ms_dkim_verify_new(v, &vf) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim: out of memory");
		goto out;
	}
	ms_dkim_verifier_set_flags(v, (sha1 ? MS_DKIM_ALLOW_SHA1 : 0u) |
				      (body_length ? MS_DKIM_ALLOW_BODY_LENGTH : 0u));
	rc = dkim_stream(cli, pos.n ? p[0] : NULL, verify_feed, vf, why, sizeof(why));
	if (rc != CLI_EXIT_OK)
		goto out;
	if (ms_dkim_verify_finish(vf, why, sizeof(why)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim verify: %s", why);
		goto out;
	}
	char *text = NULL;
	rc = cli_put(cli, ms_dkim_verify_render(vf, cli_format(cli), &text, NULL), &text, "dkim");
	int passed = 0;
	for (size_t i = 0; i < ms_dkim_verify_count(vf); i++)
		passed |= ms_dkim_sig_result(ms_dkim_verify_sig(vf, i)) == MS_DKIM_PASS;
	if (rc == CLI_EXIT_OK)
		rc = passed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_free(v);
	ms_dns_ctx_free(dns);
	return rc;
}

/* "relaxed/simple" (the body part defaults to simple, RFC 6376 s3.5 c=). */
static int parse_canon(const char *s, enum ms_dkim_canon *c)
{
	static const char *const names[] = { "simple/simple", "simple/relaxed",
					     "relaxed/simple", "relaxed/relaxed" };
	char buf[32];
	snprintf(buf, sizeof(buf), "%s%s", s, strchr(s, '/') ? "" : "/simple");
	for (int i = 0; i < 4; i++)
		if (strcmp(buf, names[i]) == 0) {
			c[0] = i & 2 ? MS_DKIM_CANON_RELAXED : MS_DKIM_CANON_SIMPLE;
			c[1] = i & 1 ? MS_DKIM_CANON_RELAXED : MS_DKIM_CANON_SIMPLE;
			return 0;
		}
	return -1;
}

static int do_sign(struct cli *cli, int argc, char **argv)
{
	const char *domain = NULL, *identity = NULL, *algo = NULL, *canon = NULL, *p[1];
	const char *keys[MAX_KEYS], *sels[MAX_KEYS];
	long long expire = 0;
	struct cli_list pos = CLI_LIST_OF(p), kl = CLI_LIST_OF(keys), sl = CLI_LIST_OF(sels);
	const struct cli_opt opts[] = {
		OPT_STR("--domain", &domain), OPT_LIST("--selector", &sl),
		OPT_LIST("--key", &kl), OPT_STR("--algo", &algo),
		OPT_STR("--identity", &identity), OPT_STR("--canon", &canon),
		OPT_NUM("--expire", &expire, 0, INT32_MAX), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, &pos);
	if (rc >= 0)
		return rc;
	enum ms_dkim_canon c[2] = { MS_DKIM_CANON_RELAXED, MS_DKIM_CANON_RELAXED };
	if (domain == NULL || kl.n == 0 || sl.n != kl.n)
		return cli_usage(cli);
	if (canon && parse_canon(canon, c) < 0)
		return cli_usage_error(cli, "dkim sign: bad --canon '%s'", canon);
	enum ms_dkim_algorithm want = ms_dkim_algorithm_from_str(algo);
	if (algo && (want == MS_DKIM_ALG_UNKNOWN || want == MS_DKIM_RSA_SHA1))
		return cli_usage_error(cli, "dkim sign: --algo must be rsa-sha256 or ed25519-sha256");
	struct ms_dkim_key *k[MAX_KEYS] = { 0 };
	struct ms_dkim_signer *s = NULL;
	uint8_t *msg = NULL, *pem;
	char why[256] = "", *out = NULL;
	size_t len = 0;
	ms_status st;
	rc = CLI_EXIT_USAGE;
	for (size_t i = 0; i < kl.n; i++) {
		if ((pem = cli_read_file(keys[i], MAX_PEM, &len)) == NULL) {
			cli_error(cli, rc, "dkim sign: cannot read %s", keys[i]);
			goto out;
		}
		st = ms_dkim_key_load_pem(&cli->env, pem, len, &k[i], why, sizeof(why));
		free(pem);
		if (st != MS_OK) {
			cli_error(cli, rc, "dkim sign: %s: %s", keys[i], why);
			goto out;
		}
		if (algo && ms_dkim_key_algorithm(k[i]) != want) {
			cli_error(cli, rc, "dkim sign: %s is a %s key, not %s", keys[i],
				  ms_dkim_algorithm_str(ms_dkim_key_algorithm(k[i])), algo);
			goto out;
		}
	}
	if ((msg = cli_read_file(pos.n ? p[0] : "-", MAX_MESSAGE, &len)) == NULL) {
		cli_error(cli, rc, "dkim sign: cannot read %s", pos.n ? p[0] : "stdin");
		goto out;
	}
	if (ms_dkim_signer_new(&cli->env, &s) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim sign: out of memory");
		goto out;
	}
	for (size_t i = 0; i < kl.n; i++) {
		struct ms_dkim_sign_opts so = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = k[i],
						.domain = domain, .selector = sels[i],
						.identity = identity, .header_canon = c[0],
						.body_canon = c[1], .expire_after = (uint64_t)expire };
		if (ms_dkim_signer_add(s, &so, why, sizeof(why)) != MS_OK) {
			cli_error(cli, rc, "dkim sign: %s", why);
			goto out;
		}
	}
	if (ms_dkim_signer_feed(s, msg, len, why, sizeof(why)) != MS_OK ||
	    ms_dkim_signer_finish(s, why, sizeof(why)) != MS_OK) {
		cli_error(cli, rc, "dkim sign: %s", why);
		goto out;
	}
	size_t outlen = 0;
	if ((st = ms_dkim_signer_render(s, msg, len, cli_format(cli), &out, &outlen)) != MS_OK) {
		rc = cli_fail(cli, st, "dkim sign", NULL);
		goto out;
	}
	fwrite(out, 1, outlen, stdout);
	rc = CLI_EXIT_OK;
out:
	ms_dkim_signer_free(s);
	for (size_t i = 0; i < kl.n; i++)
		ms_dkim_key_free(k[i]);
	free(msg);
	ms_render_free(out);
	return rc;
}

static int do_keygen(struct cli *cli, int argc, char **argv)
{
	const char *algo = NULL, *sel = "SELECTOR", *domain = "DOMAIN";
	long long bits = 0;
	const struct cli_opt opts[] = {
		OPT_STR("--algo", &algo), OPT_NUM("--bits", &bits, 0, 16384),
		OPT_STR("--selector", &sel), OPT_STR("--domain", &domain), OPT_END };
	int rc = cli_parse(cli, argc, argv, opts, NULL);
	if (rc >= 0)
		return rc;
	enum ms_dkim_algorithm alg = ms_dkim_algorithm_from_str(algo);
	if (alg != MS_DKIM_RSA_SHA256 && alg != MS_DKIM_ED25519_SHA256)
		return cli_usage(cli);
	struct ms_dkim_key *k = NULL;
	char why[256] = "";
	if (ms_dkim_key_generate(&cli->env, alg, (unsigned)bits, &k, why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "dkim keygen: %s", why);
	char *text = NULL;
	rc = cli_put(cli, ms_dkim_key_render(k, sel, domain, cli_format(cli), &text, NULL), &text,
		     "dkim keygen");
	ms_dkim_key_free(k);
	return rc;
}

const struct cli_cmd cli_dkim_cmds[] = {
	{ "verify", do_verify, "[--allow-sha1] [--allow-body-length] [FILE]",
	  "verify every DKIM-Signature; exit 0 if one passed, 1 otherwise", NULL },
	{ "sign", do_sign, "--domain D --selector S --key FILE [--algo A] "
	  "[--canon relaxed/relaxed] [--expire SECONDS] [--identity I] [FILE]  "
	  "(--selector/--key may repeat, in pairs)", "sign a message", NULL },
	{ "keygen", do_keygen, "--algo rsa|ed25519 [--bits N] [--selector S --domain D]",
	  "a signing key and its DNS record", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};
