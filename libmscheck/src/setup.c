/*
 * setup.c - ms_setup_render(): the records and files a domain publishes to
 * receive mail securely, from its plan (MX names, their keys, the policy
 * mode, the report mailbox, the DKIM key).  Everything here is derived
 * from the inputs; nothing is looked up.
 */
#include "check_int.h"
#include "json.h"

#include <mailsec/dkim.h>
#include <mailsec/dns.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECORDS (2 * MS_CHECK_MAX_MX + 8)

struct rec {
	char owner[300];
	char type[8];
	char *data; /* presentation format of the rdata */
};

struct plan {
	struct rec r[MAX_RECORDS];
	size_t n;
	char policy[2048];
	char missing[MS_CHECK_MAX_MX][300]; /* MX hosts without a next key */
	size_t nmissing;
};

static int add(struct plan *p, const char *owner, const char *type, char *data)
{
	if (data == NULL || p->n == MAX_RECORDS) {
		free(data);
		return -1;
	}
	snprintf(p->r[p->n].owner, sizeof(p->r[0].owner), "%s", owner);
	snprintf(p->r[p->n].type, sizeof(p->r[0].type), "%s", type);
	p->r[p->n++].data = data;
	return 0;
}

/* A TXT value as quoted character-strings of at most 255 bytes (RFC 1035
 * s3.3.14): long DKIM keys are split, receivers join them. */
static char *txt(const char *v)
{
	size_t len = strlen(v), cap = len + 4 * (len / 255 + 1) + 1;
	char *o = malloc(cap), *w = o;
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < len || i == 0; i += 255) {
		size_t k = len - i < 255 ? len - i : 255;
		w += sprintf(w, "%s\"%.*s\"", i ? " " : "", (int)k, v + i);
		if (len == 0)
			break;
	}
	return o;
}

/* SHA-256 of the SubjectPublicKeyInfo in a PEM file (private key, public
 * key or certificate): the TLSA 3 1 1 association data (RFC 6698 s2.1). */
static ms_status spki_sha256(const char *file, char hex[65], char *why, size_t whylen)
{
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		snprintf(why, whylen, "cannot read %s", file);
		return MS_ERR_IO;
	}
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (k == NULL) {
		rewind(f);
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	}
	if (k == NULL) {
		rewind(f);
		X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
		if (x) {
			k = X509_get_pubkey(x);
			X509_free(x);
		}
	}
	fclose(f);
	if (k == NULL) {
		snprintf(why, whylen, "%s: no PEM key or certificate", file);
		return MS_ERR_PARSE;
	}
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(k, &der);
	EVP_PKEY_free(k);
	unsigned mdlen = 0;
	if (len <= 0 || !EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		snprintf(why, whylen, "%s: cannot encode the public key", file);
		return MS_ERR_PARSE;
	}
	OPENSSL_free(der);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	return MS_OK;
}

static ms_status dkim_record(const struct ms_env *env, const char *file, char **out, char *why,
			     size_t whylen)
{
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		snprintf(why, whylen, "cannot read %s", file);
		return MS_ERR_IO;
	}
	char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	struct ms_dkim_key *k = NULL;
	ms_status st = ms_dkim_key_load_pem(env, (const uint8_t *)buf, n, &k, why, whylen);
	if (st != MS_OK)
		return st;
	char *rec = NULL;
	st = ms_dkim_key_txt_record(k, &rec);
	ms_dkim_key_free(k);
	if (st != MS_OK)
		return st;
	*out = txt(rec);
	ms_dkim_string_free(rec);
	return *out ? MS_OK : MS_ERR_NOMEM;
}

static ms_status build(const struct ms_env *env, const struct ms_setup_config *cfg, const char *d,
		       struct plan *p, char *why, size_t whylen)
{
	char owner[300], hex[65], v[600];
	const char *mode = cfg->sts_mode ? cfg->sts_mode : "enforce";
	if (strcmp(mode, "enforce") && strcmp(mode, "testing") && strcmp(mode, "none")) {
		snprintf(why, whylen, "MTA-STS mode '%s': enforce, testing or none", mode);
		return MS_ERR_INVALID;
	}
	for (size_t i = 0; i < cfg->nmx; i++) {
		snprintf(v, sizeof(v), "%zu %s.", (i + 1) * 10, cfg->mx[i]);
		if (add(p, d, "MX", strdup(v)) < 0)
			return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < cfg->nmx; i++) {
		snprintf(owner, sizeof(owner), "_25._tcp.%s", cfg->mx[i]);
		const char *keys[2] = { cfg->mx_key ? cfg->mx_key[i] : NULL,
					cfg->mx_next_key ? cfg->mx_next_key[i] : NULL };
		for (int k = 0; k < 2; k++) {
			if (keys[k] == NULL)
				continue;
			ms_status st = spki_sha256(keys[k], hex, why, whylen);
			if (st != MS_OK)
				return st;
			snprintf(v, sizeof(v), "3 1 1 %s", hex);
			if (add(p, owner, "TLSA", strdup(v)) < 0)
				return MS_ERR_NOMEM;
		}
		if (keys[0] && keys[1] == NULL && p->nmissing < MS_CHECK_MAX_MX)
			snprintf(p->missing[p->nmissing++], sizeof(p->missing[0]), "%s", cfg->mx[i]);
	}
	/* The id changes whenever the policy does: the time of this run. */
	time_t now = cfg->now ? (time_t)cfg->now : time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char id[32];
	strftime(id, sizeof(id), "%Y%m%dT%H%M%S", &tm);
	snprintf(owner, sizeof(owner), "_mta-sts.%s", d);
	snprintf(v, sizeof(v), "v=STSv1; id=%s;", id);
	if (add(p, owner, "TXT", txt(v)) < 0)
		return MS_ERR_NOMEM;
	snprintf(owner, sizeof(owner), "_smtp._tls.%s", d);
	snprintf(v, sizeof(v), "v=TLSRPTv1; rua=mailto:%s", cfg->report_address);
	if (add(p, owner, "TXT", txt(v)) < 0)
		return MS_ERR_NOMEM;
	if (add(p, d, "TXT", txt("v=spf1 mx -all")) < 0)
		return MS_ERR_NOMEM;
	snprintf(owner, sizeof(owner), "_dmarc.%s", d);
	snprintf(v, sizeof(v), "v=DMARC1; p=reject; rua=mailto:%s", cfg->report_address);
	if (add(p, owner, "TXT", txt(v)) < 0)
		return MS_ERR_NOMEM;
	if (cfg->dkim_selector && cfg->dkim_key) {
		char *rec = NULL;
		ms_status st = dkim_record(env, cfg->dkim_key, &rec, why, whylen);
		if (st != MS_OK)
			return st;
		snprintf(owner, sizeof(owner), "%s._domainkey.%s", cfg->dkim_selector, d);
		if (add(p, owner, "TXT", rec) < 0)
			return MS_ERR_NOMEM;
	}
	/* RFC 8461 s3.2: CRLF lines, one mx: per host */
	int w = snprintf(p->policy, sizeof(p->policy), "version: STSv1\r\nmode: %s\r\n", mode);
	for (size_t i = 0; i < cfg->nmx && w > 0 && (size_t)w < sizeof(p->policy); i++)
		w += snprintf(p->policy + w, sizeof(p->policy) - (size_t)w, "mx: %s\r\n", cfg->mx[i]);
	if (w > 0 && (size_t)w < sizeof(p->policy))
		snprintf(p->policy + w, sizeof(p->policy) - (size_t)w, "max_age: %u\r\n",
			 cfg->sts_max_age ? cfg->sts_max_age : 604800);
	return MS_OK;
}

static void render(const struct plan *p, const char *d, enum ms_check_format fmt, FILE *f)
{
	if (fmt == MS_CHECK_JSON) {
		struct cj j;
		cj_init(&j, f);
		cj_object_begin(&j, NULL);
		cj_string(&j, "domain", d);
		cj_array_begin(&j, "records");
		for (size_t i = 0; i < p->n; i++) {
			cj_object_begin(&j, NULL);
			cj_string(&j, "owner", p->r[i].owner);
			cj_string(&j, "type", p->r[i].type);
			cj_string(&j, "data", p->r[i].data);
			cj_object_end(&j);
		}
		cj_array_end(&j);
		cj_object_begin(&j, "files");
		char url[320];
		snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/mta-sts.txt", d);
		cj_string(&j, url, p->policy);
		cj_object_end(&j);
		cj_array_begin(&j, "warnings");
		for (size_t i = 0; i < p->nmissing; i++)
			cj_string(&j, NULL, p->missing[i]);
		cj_array_end(&j);
		cj_object_end(&j);
		cj_finish(&j);
		return;
	}
	fprintf(f, "; records for %s (zone-file lines; sign the zone with DNSSEC)\n", d);
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%s. IN %s %s\n", p->r[i].owner, p->r[i].type, p->r[i].data);
	fprintf(f, "; mta-sts.%s. IN A/AAAA: the HTTPS host serving the policy file\n", d);
	fprintf(f, "\n; file https://mta-sts.%s/.well-known/mta-sts.txt (CRLF lines)\n", d);
	for (const char *s = p->policy; *s; s++)
		if (*s != '\r')
			fputc(*s, f);
	for (size_t i = 0; i < p->nmissing; i++)
		fprintf(f, "\n; warning: no next key for %s: publish its 3 1 1 record before a "
			"key change (RFC 7671 s8.1)\n", p->missing[i]);
}

ms_status ms_setup_render(const struct ms_env *env, const struct ms_setup_config *cfg,
			  enum ms_check_format fmt, char **out, char *why, size_t whylen)
{
	char w[256] = "", d[256];
	if (why == NULL) {
		why = w;
		whylen = sizeof(w);
	}
	if (out)
		*out = NULL;
	if (cfg == NULL || out == NULL || cfg->version != MS_SETUP_CONFIG_VERSION ||
	    cfg->domain == NULL || cfg->nmx == 0 || cfg->nmx > MS_CHECK_MAX_MX || cfg->mx == NULL ||
	    cfg->report_address == NULL || strchr(cfg->report_address, '@') == NULL ||
	    strpbrk(cfg->report_address, ";,\" \\") != NULL) {
		snprintf(why, whylen, "the config needs a domain, 1-%d MX hosts and a report address",
			 MS_CHECK_MAX_MX);
		return MS_ERR_INVALID;
	}
	if (ms_dns_hostname_normalize(cfg->domain, d, sizeof(d), w, sizeof(w)) != MS_OK) {
		snprintf(why, whylen, "bad domain '%s'", cfg->domain);
		return MS_ERR_INVALID;
	}
	for (size_t i = 0; i < cfg->nmx; i++) {
		char h[256];
		if (cfg->mx[i] == NULL ||
		    ms_dns_hostname_normalize(cfg->mx[i], h, sizeof(h), w, sizeof(w)) != MS_OK) {
			snprintf(why, whylen, "bad MX host name '%s'", cfg->mx[i] ? cfg->mx[i] : "");
			return MS_ERR_INVALID;
		}
	}
	struct plan *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return MS_ERR_NOMEM;
	ms_status st = build(env, cfg, d, p, why, whylen);
	if (st == MS_OK) {
		char *buf = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&buf, &n);
		if (f == NULL) {
			st = MS_ERR_NOMEM;
		} else {
			render(p, d, fmt, f);
			if (fclose(f) != 0 || buf == NULL) {
				free(buf);
				st = MS_ERR_NOMEM;
			} else {
				*out = buf;
			}
		}
	}
	for (size_t i = 0; i < p->n; i++)
		free(p->r[i].data);
	free(p);
	return st;
}
