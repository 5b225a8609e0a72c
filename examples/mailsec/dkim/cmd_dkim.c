/*
 * cmd_dkim.c - `mailsec dkim verify [FILE]`, `mailsec dkim sign --domain D
 * --selector S --key FILE [--algo A] [FILE]` and `mailsec dkim keygen
 * --algo rsa|ed25519`: DKIM (RFC 6376, 8301, 8463) with libspfdkim.
 *
 * verify prints one line per DKIM-Signature (result, d=, s=, a=, DNSSEC
 * status of the key record, reason) and exits 0 if at least one signature
 * passed, 1 otherwise (also for an unsigned message).  The message is
 * streamed: memory does not grow with the body.
 */
#include "cli.h"

#include <mailsec/dkim.h>
#include <stdlib.h>
#include <string.h>

/* --now for the library's clock (x= and t= checks). */
static int64_t g_now;
static int64_t now_hook(void *user)
{
	(void)user;
	return g_now;
}

static struct ms_env dkim_env(const struct cli *cli)
{
	struct ms_env e = cli->env;
	g_now = cli_now(cli);
	e.now = now_hook;
	return e;
}

static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *b = malloc(cap);
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(b, cap * 2);
			if (nb == NULL) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		*len = n;
	return b;
}

static FILE *open_input(const struct cli *cli, const char *file)
{
	if (file == NULL || strcmp(file, "-") == 0)
		return stdin;
	FILE *f = fopen(file, "rb");
	if (f == NULL)
		cli_error(cli, CLI_EXIT_USAGE, "dkim: cannot open %s", file);
	return f;
}

static int do_verify(struct cli *cli, int argc, char **argv)
{
	const char *file = NULL;
	unsigned flags = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--allow-sha1") == 0)
			flags |= MS_DKIM_ALLOW_SHA1;
		else if (strcmp(argv[i], "--allow-body-length") == 0)
			flags |= MS_DKIM_ALLOW_BODY_LENGTH;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_usage_error(cli, "dkim verify: unknown option '%s'", argv[i]);
		else if (file == NULL)
			file = argv[i];
		else
			return cli_usage_error(cli, "usage: dkim verify [--allow-sha1] "
					       "[--allow-body-length] [FILE]");
	}
	FILE *in = open_input(cli, file);
	if (in == NULL)
		return CLI_EXIT_USAGE;
	struct ms_dns_ctx *dns = cli_dns_ctx(cli);
	if (dns == NULL) {
		if (in != stdin)
			fclose(in);
		return CLI_EXIT_USAGE;
	}
	struct ms_env env = dkim_env(cli);
	struct ms_dkim_verifier *v = NULL;
	struct ms_dkim_verify *vf = NULL;
	int rc = CLI_EXIT_OK;
	char why[256] = "";
	if (ms_dkim_verifier_new(&env, dns, &v) != MS_OK || ms_dkim_verify_new(v, &vf) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim: out of memory");
		goto out;
	}
	ms_dkim_verifier_set_flags(v, flags);
	static uint8_t buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (ms_dkim_verify_feed(vf, buf, n, why, sizeof(why)) != MS_OK) {
			rc = cli_error(cli, CLI_EXIT_USAGE, "dkim verify: %s", why);
			goto out;
		}
	}
	if (ms_dkim_verify_finish(vf, why, sizeof(why)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim verify: %s", why);
		goto out;
	}
	size_t count = ms_dkim_verify_count(vf);
	int passed = 0;
	struct json j;
	if (cli->json) {
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_array_begin(&j, "signatures");
	} else if (count == 0) {
		printf("none (no DKIM-Signature)\n");
	}
	for (size_t i = 0; i < count; i++) {
		const struct ms_dkim_sig *s = ms_dkim_verify_sig(vf, i);
		enum ms_dkim_result r = ms_dkim_sig_result(s);
		passed |= r == MS_DKIM_PASS;
		const char *d = ms_dkim_sig_domain(s), *sel = ms_dkim_sig_selector(s);
		const char *alg = ms_dkim_algorithm_str(ms_dkim_sig_algorithm(s));
		const char *sec = ms_dns_security_str(ms_dkim_sig_dnssec(s));
		if (cli->json) {
			json_object_begin(&j, NULL);
			json_string(&j, "result", ms_dkim_result_str(r));
			json_string(&j, "domain", d);
			json_string(&j, "selector", sel);
			json_string(&j, "algorithm", alg);
			json_string(&j, "dnssec", sec);
			json_string(&j, "reason", ms_dkim_sig_reason(s));
			json_string(&j, "identity", ms_dkim_sig_identity(s));
			json_bool(&j, "testing", ms_dkim_sig_testing(s));
			json_int(&j, "key_bits", ms_dkim_sig_key_bits(s));
			json_object_end(&j);
		} else {
			const char *why2 = ms_dkim_sig_reason(s);
			printf("%s d=%s s=%s a=%s dnssec=%s%s%s\n", ms_dkim_result_str(r),
			       d ? d : "-", sel ? sel : "-", alg, sec,
			       why2 && *why2 ? " reason=" : "", why2 ? why2 : "");
		}
	}
	if (cli->json) {
		json_array_end(&j);
		json_int(&j, "ignored", (long long)ms_dkim_verify_ignored(vf));
		json_object_end(&j);
		json_finish(&j);
	}
	rc = passed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	ms_dkim_verify_free(vf);
	ms_dkim_verifier_free(v);
	ms_dns_ctx_free(dns);
	if (in != stdin)
		fclose(in);
	return rc;
}

#define MAX_KEYS 8

static int parse_canon(const char *s, enum ms_dkim_canon *h, enum ms_dkim_canon *b)
{
	char hs[16] = "", bs[16] = "";
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	if (hl >= sizeof(hs) || (slash && strlen(slash + 1) >= sizeof(bs)))
		return -1;
	memcpy(hs, s, hl);
	strcpy(bs, slash ? slash + 1 : "simple");
	enum ms_dkim_canon *dst[2] = { h, b };
	const char *src[2] = { hs, bs };
	for (int k = 0; k < 2; k++) {
		if (strcmp(src[k], "simple") == 0)
			*dst[k] = MS_DKIM_CANON_SIMPLE;
		else if (strcmp(src[k], "relaxed") == 0)
			*dst[k] = MS_DKIM_CANON_RELAXED;
		else
			return -1;
	}
	return 0;
}

static int do_sign(struct cli *cli, int argc, char **argv)
{
	const char *domain = NULL, *identity = NULL, *file = NULL, *algo = NULL;
	const char *keys[MAX_KEYS], *sels[MAX_KEYS];
	size_t nkeys = 0, nsels = 0;
	enum ms_dkim_canon hc = MS_DKIM_CANON_RELAXED, bc = MS_DKIM_CANON_RELAXED;
	uint64_t expire = 0;
	static const char usage[] =
		"usage: dkim sign --domain D --selector S --key FILE [--algo A] "
		"[--canon relaxed/relaxed] [--expire SECONDS] [--identity I] [FILE]  "
		"(--selector/--key may repeat, in pairs)";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (file)
				return cli_usage_error(cli, "%s", usage);
			file = a;
			continue;
		}
		if (val == NULL)
			return cli_usage_error(cli, "dkim sign: %s needs a value", a);
		i++;
		if (strcmp(a, "--domain") == 0)
			domain = val;
		else if (strcmp(a, "--selector") == 0 && nsels < MAX_KEYS)
			sels[nsels++] = val;
		else if (strcmp(a, "--key") == 0 && nkeys < MAX_KEYS)
			keys[nkeys++] = val;
		else if (strcmp(a, "--algo") == 0)
			algo = val;
		else if (strcmp(a, "--identity") == 0)
			identity = val;
		else if (strcmp(a, "--canon") == 0) {
			if (parse_canon(val, &hc, &bc) < 0)
				return cli_usage_error(cli, "dkim sign: bad --canon '%s'", val);
		} else if (strcmp(a, "--expire") == 0)
			expire = strtoull(val, NULL, 10);
		else
			return cli_usage_error(cli, "dkim sign: unknown option '%s'", a);
	}
	if (domain == NULL || nkeys == 0 || nsels != nkeys)
		return cli_usage_error(cli, "%s", usage);
	enum ms_dkim_algorithm want = ms_dkim_algorithm_from_str(algo);
	if (algo && (want == MS_DKIM_ALG_UNKNOWN || want == MS_DKIM_RSA_SHA1))
		return cli_usage_error(cli, "dkim sign: --algo must be rsa-sha256 or ed25519-sha256");

	struct ms_env env = dkim_env(cli);
	struct ms_dkim_key *k[MAX_KEYS] = { 0 };
	struct ms_dkim_signer *s = NULL;
	char *msg = NULL;
	int rc = CLI_EXIT_OK;
	char why[256] = "";
	for (size_t i = 0; i < nkeys; i++) {
		FILE *f = fopen(keys[i], "rb");
		size_t len = 0;
		char *pem = f ? slurp(f, &len) : NULL;
		if (f)
			fclose(f);
		if (pem == NULL) {
			rc = cli_error(cli, CLI_EXIT_USAGE, "dkim sign: cannot read %s", keys[i]);
			goto out;
		}
		ms_status st = ms_dkim_key_load_pem(&env, (const uint8_t *)pem, len, &k[i], why,
						    sizeof(why));
		free(pem);
		if (st != MS_OK) {
			rc = cli_error(cli, CLI_EXIT_USAGE, "dkim sign: %s: %s", keys[i], why);
			goto out;
		}
		if (algo && ms_dkim_key_algorithm(k[i]) != want) {
			rc = cli_error(cli, CLI_EXIT_USAGE, "dkim sign: %s is a %s key, not %s",
				       keys[i], ms_dkim_algorithm_str(ms_dkim_key_algorithm(k[i])),
				       algo);
			goto out;
		}
	}
	FILE *in = open_input(cli, file);
	if (in == NULL) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	size_t len = 0;
	msg = slurp(in, &len);
	if (in != stdin)
		fclose(in);
	if (msg == NULL) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim sign: out of memory");
		goto out;
	}
	if (ms_dkim_signer_new(&env, &s) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim sign: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct ms_dkim_sign_opts o = { .version = MS_DKIM_SIGN_OPTS_VERSION, .key = k[i],
					       .domain = domain, .selector = sels[i],
					       .identity = identity, .header_canon = hc,
					       .body_canon = bc, .expire_after = expire };
		if (ms_dkim_signer_add(s, &o, why, sizeof(why)) != MS_OK) {
			rc = cli_usage_error(cli, "dkim sign: %s", why);
			goto out;
		}
	}
	if (ms_dkim_signer_feed(s, (const uint8_t *)msg, len, why, sizeof(why)) != MS_OK ||
	    ms_dkim_signer_finish(s, why, sizeof(why)) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_USAGE, "dkim sign: %s", why);
		goto out;
	}
	/* Keep the file's own line ends: LF-only files get LF-only fields. */
	const char *nl = memchr(msg, '\n', len);
	int lf_only = nl && (nl == msg || nl[-1] != '\r');
	for (const char *h = ms_dkim_signer_headers(s); *h; h++)
		if (!(lf_only && *h == '\r'))
			putchar(*h);
	fwrite(msg, 1, len, stdout);
out:
	ms_dkim_signer_free(s);
	for (size_t i = 0; i < nkeys; i++)
		ms_dkim_key_free(k[i]);
	free(msg);
	return rc;
}

static int do_keygen(struct cli *cli, int argc, char **argv)
{
	const char *algo = NULL, *sel = NULL, *domain = NULL;
	unsigned bits = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (val == NULL)
			return cli_usage_error(cli, "dkim keygen: %s needs a value", a);
		i++;
		if (strcmp(a, "--algo") == 0)
			algo = val;
		else if (strcmp(a, "--bits") == 0)
			bits = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(a, "--selector") == 0)
			sel = val;
		else if (strcmp(a, "--domain") == 0)
			domain = val;
		else
			return cli_usage_error(cli, "dkim keygen: unknown option '%s'", a);
	}
	enum ms_dkim_algorithm alg = ms_dkim_algorithm_from_str(algo);
	if (alg != MS_DKIM_RSA_SHA256 && alg != MS_DKIM_ED25519_SHA256)
		return cli_usage_error(cli, "usage: dkim keygen --algo rsa|ed25519 [--bits N] "
				       "[--selector S --domain D]");
	struct ms_env env = dkim_env(cli);
	struct ms_dkim_key *k = NULL;
	char why[256] = "", *pem = NULL, *txt = NULL;
	if (ms_dkim_key_generate(&env, alg, bits, &k, why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "dkim keygen: %s", why);
	int rc = CLI_EXIT_OK;
	if (ms_dkim_key_private_pem(k, &pem) != MS_OK || ms_dkim_key_txt_record(k, &txt) != MS_OK) {
		rc = cli_error(cli, CLI_EXIT_ERROR, "dkim keygen: cannot encode the key");
		goto out;
	}
	/* The record in zone-file syntax, in character-strings of at most 255
	 * bytes (a 2048-bit RSA key does not fit in one). */
	char name[600];
	snprintf(name, sizeof(name), "%s._domainkey.%s.", sel ? sel : "SELECTOR",
		 domain ? domain : "DOMAIN");
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "algorithm", ms_dkim_algorithm_str(alg));
		json_int(&j, "bits", ms_dkim_key_bits(k));
		json_string(&j, "private_key", pem);
		json_string(&j, "name", name);
		json_string(&j, "txt", txt);
		json_object_end(&j);
		json_finish(&j);
	} else {
		fputs(pem, stdout);
		printf("%s IN TXT (", name);
		size_t n = strlen(txt);
		for (size_t o = 0; o < n; o += 255)
			printf(" \"%.*s\"", (int)(n - o < 255 ? n - o : 255), txt + o);
		printf(" )\n");
	}
out:
	ms_dkim_string_free(pem);
	ms_dkim_string_free(txt);
	ms_dkim_key_free(k);
	return rc;
}

int cmd_dkim(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(cli, "usage: dkim verify [FILE] | sign --domain D "
				       "--selector S --key FILE [--algo A] [FILE] | keygen "
				       "--algo rsa|ed25519");
	if (strcmp(argv[1], "verify") == 0)
		return do_verify(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return do_sign(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return do_keygen(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "dkim: unknown subcommand '%s'", argv[1]);
}
