/*
 * main.c - mailsec-milter: read the configuration, build the shared
 * resolver, DKIM verifier and signing table, and hand over to libmilter.
 *
 *   mailsec-milter [-c FILE] [-n] [-V] [-h]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "config.h"
#include "logfmt.h"
#include "milter.h"

#ifndef MM_VERSION
#define MM_VERSION "0"
#endif
#ifndef MM_DEFAULT_CONFIG
#define MM_DEFAULT_CONFIG "/etc/mailsec/mailsec-milter.conf"
#endif

static ms_status read_file(const char *path, size_t max, uint8_t **out, size_t *len,
			   char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return MS_ERR_IO;
	}
	uint8_t *b = malloc(max + 1);
	if (b == NULL) {
		fclose(f);
		snprintf(why, whylen, "out of memory");
		return MS_ERR_NOMEM;
	}
	size_t n = fread(b, 1, max + 1, f);
	int err = ferror(f);
	fclose(f);
	if (err || n > max) {
		free(b);
		snprintf(why, whylen, "%s: %s", path, err ? "read error" : "file too large");
		return err ? MS_ERR_IO : MS_ERR_LIMIT;
	}
	*out = b;
	*len = n;
	return MS_OK;
}

static ms_status load_key(void *user, const char *path, struct ms_dkim_key **out, char *why,
			  size_t whylen)
{
	(void)user;
	uint8_t *pem;
	size_t len;
	ms_status st = read_file(path, 64 * 1024, &pem, &len, why, whylen);
	if (st != MS_OK)
		return st;
	st = ms_dkim_key_load_pem(NULL, pem, len, out, why, whylen);
	/* the private key does not stay in our heap longer than needed */
	memset(pem, 0, len);
	free(pem);
	return st;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mailsec-milter [-c FILE] [-n] [-V] [-h]\n"
		   "  -c FILE  configuration (default " MM_DEFAULT_CONFIG ")\n"
		   "  -n       check the configuration and the keys, then exit\n"
		   "  -V       print the version\n"
		   "  -h       this help\n");
}

static enum ms_log_level level_of(const char *s)
{
	if (s == NULL || strcmp(s, "info") == 0)
		return MS_LOG_INFO;
	if (strcmp(s, "error") == 0)
		return MS_LOG_ERROR;
	if (strcmp(s, "warning") == 0)
		return MS_LOG_WARNING;
	return MS_LOG_DEBUG;
}

int main(int argc, char **argv)
{
	const char *conf = MM_DEFAULT_CONFIG;
	int check_only = 0, opt;
	while ((opt = getopt(argc, argv, "c:nVh")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'n': check_only = 1; break;
		case 'V': printf("mailsec-milter %s\n", MM_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	static struct mm_global g;
	static struct ms_logfmt lf;
	lf.out = stderr;
	mm_g = &g;
	char why[512] = "";
	uint8_t *text;
	size_t len;
	if (read_file(conf, MM_MAX_CONFIG, &text, &len, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "mailsec-milter: %s\n", why);
		return 1;
	}
	ms_status st = mm_config_parse(text, len, &g.cfg, why, sizeof(why));
	free(text);
	if (st != MS_OK) {
		fprintf(stderr, "mailsec-milter: %s: %s\n", conf, why);
		return 1;
	}
	g.env = (struct ms_env){.version = MS_ENV_VERSION, .user = &lf, .log = ms_logfmt_log,
				.log_level = level_of(g.cfg.log_level)};
	if (mm_config_signtab(&g.cfg, load_key, NULL, &g.signtab, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "mailsec-milter: %s: %s\n", conf, why);
		return 1;
	}
	struct ms_dns_config dc = {
		.version = MS_DNS_CONFIG_VERSION,
		.mode = g.cfg.dns_config ? MS_DNS_MODE_CONFIG_FILE
			: g.cfg.nforwarders ? MS_DNS_MODE_FORWARD : MS_DNS_MODE_SYSTEM,
		.config_file = g.cfg.dns_config,
		.forwarders = (const char *const *)g.cfg.forwarders,
		.nforwarders = g.cfg.nforwarders,
		.trust_anchor_file = g.cfg.trust_anchor,
		.timeout_ms = g.cfg.dns_timeout_ms,
	};
	if (ms_dns_ctx_new(&g.env, &dc, &g.dns, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "mailsec-milter: resolver: %s\n", why);
		return 1;
	}
	if (ms_dkim_verifier_new(&g.env, g.dns, &g.verifier) != MS_OK) {
		fprintf(stderr, "mailsec-milter: out of memory\n");
		return 1;
	}
	int rc = 0;
	if (check_only) {
		printf("configuration ok: %zu keys, %zu signing rules, %zu internal networks\n",
		       g.cfg.nkeys, g.cfg.nrules, g.cfg.nnetworks);
		goto out;
	}
	if (smfi_setconn(g.cfg.socket) != MI_SUCCESS || smfi_register(mm_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "mailsec-milter: cannot listen on %s\n", g.cfg.socket);
		rc = 1;
		goto out;
	}
	mm_log(MS_LOG_INFO, "listening", "socket", g.cfg.socket, "authserv_id",
	       g.cfg.authserv_id, NULL);
	rc = smfi_main() == MI_SUCCESS ? 0 : 1;
	mm_log(MS_LOG_INFO, "stopped", NULL);
out:
	ms_dkim_verifier_free(g.verifier);
	ms_dns_ctx_free(g.dns);
	ms_dkim_signtab_free(g.signtab);
	mm_config_free(&g.cfg);
	return rc;
}
