/*
 * consumer.c - an outside program built by tests/install/check-install.sh
 * against an installed prefix with pkg-config alone (shared and static).
 * It includes every public header and calls into every library, so a
 * missing header, a missing Requires/Libs.private entry or a missing
 * static archive fails the build or the link; the calls check behaviour.
 * Built once per library (-DWITH_DNS ... each alone, linked with that
 * library's pkg-config module only) and once with all of them.
 */
#include <mailsec/auth.h>
#include <mailsec/authres.h>
#include <mailsec/dane.h>
#include <mailsec/dkim.h>
#include <mailsec/dmarc.h>
#include <mailsec/dns.h>
#include <mailsec/env.h>
#include <mailsec/export.h>
#include <mailsec/iprev.h>
#include <mailsec/mtasts.h>
#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_deliver.h>
#include <mailsec/requiretls_replan.h>
#include <mailsec/requiretls_route.h>
#include <mailsec/requiretls_server.h>
#include <mailsec/requiretls_smtp.h>
#include <mailsec/requiretls_store.h>
#include <mailsec/requiretls_verify.h>
#include <mailsec/spf.h>
#include <mailsec/status.h>

#include <stdio.h>
#include <string.h>

static int fails;

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "line %d: %s\n", __LINE__, #c); \
			fails++;                                        \
		}                                                       \
	} while (0)

int main(void)
{
	char why[256] = "";

	(void)why;
#ifdef WITH_DNS
	/* libmailsec-dns: the TLSA parser */
	static const uint8_t rdata[] = { 3, 1, 1, 0xab, 0xcd };
	struct ms_dns_tlsa t;
	CHECK(ms_dns_parse_tlsa(rdata, sizeof(rdata), &t) == MS_OK && t.datalen == 2);
#endif

#ifdef WITH_DANE
	/* libmailsec-dane: the TLSA type is libmailsec-dns's; a key through
	 * the env allocator, freed by the library */
	struct ms_dane_tlsa dt;
	CHECK(ms_dane_tlsa_parse_rdata((const uint8_t *)"\3\1\1\xab", 4, &dt) == MS_OK);
	const struct ms_dns_tlsa *same = &dt;
	CHECK(ms_dane_tlsa_usable(same) == 0); /* 1 byte is no SHA-256 */
	char *pem = NULL;
	CHECK(ms_dane_keygen_env(NULL, "p256", &pem, why, sizeof(why)) == MS_OK && pem &&
	      strstr(pem, "PRIVATE KEY") != NULL);
	char rec[256];
	CHECK(ms_dane_tlsa_from_pem((const uint8_t *)pem, strlen(pem), 3, 1, 1, rec, sizeof(rec),
				    why, sizeof(why)) == MS_OK && strncmp(rec, "3 1 1 ", 6) == 0);
	ms_dane_string_free(NULL, pem);
#endif
#ifdef WITH_MTASTS
	/* libmailsec-mtasts: a policy */
	static const char pol[] = "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n";
	struct ms_sts_policy *p = NULL;
	CHECK(ms_sts_policy_parse(NULL, (const uint8_t *)pol, sizeof(pol) - 1, &p, why,
				  sizeof(why)) == MS_OK);
	CHECK(p && ms_sts_policy_mode(p) == MS_STS_MODE_ENFORCE && ms_sts_policy_mx_count(p) == 1);
	ms_sts_policy_free(p);
#endif
#ifdef WITH_RTLS
	/* libmailsec-requiretls: REQUIRETLS without a verified path is refused */
	struct ms_rtls_domain d = { MS_RTLS_REQ_REQUIRED, "example.org", MS_DNS_INSECURE,
				    MS_RTLS_STS_NONE, 0 };
	struct ms_rtls_host h = { "mx.example.org", MS_DNS_INSECURE, MS_RTLS_DANE_NONE, 0 };
	struct ms_rtls_plan plan = { .version = MS_RTLS_PLAN_VERSION };
	CHECK(ms_rtls_plan(&d, &h, &plan) == MS_OK && plan.mode == MS_RTLS_MODE_SKIP &&
	      strcmp(plan.enhanced, "5.7.30") == 0);
#endif
#ifdef WITH_SPFDKIM
	/* libmailsec-spfdkim: Authentication-Results and a DKIM key */
	struct ms_ar *ar = NULL;
	char field[512];
	CHECK(ms_ar_new(NULL, "mx.example.org", &ar) == MS_OK);
	CHECK(ms_ar_add(ar, "spf", "pass", NULL, MS_DNS_SECURE) == MS_OK);
	CHECK(ms_ar_write(ar, field, sizeof(field)) == MS_OK && strstr(field, "spf=pass") != NULL);
	ms_ar_free(ar);
	struct ms_dkim_key *k = NULL;
	CHECK(ms_dkim_key_generate(NULL, MS_DKIM_ED25519_SHA256, 0, &k, why, sizeof(why)) == MS_OK);
	char *txt = NULL;
	CHECK(k && ms_dkim_key_txt_record(k, &txt) == MS_OK && strstr(txt, "k=ed25519") != NULL);
	ms_dkim_string_free(txt);
	ms_dkim_key_free(k);
#endif

	if (fails == 0)
		printf("consumer: all checks passed\n");
	return fails == 0 ? 0 : 1;
}
