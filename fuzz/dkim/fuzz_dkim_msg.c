/* fuzz_dkim_msg.c - the whole verifier on an untrusted message: header
 * splitting, every DKIM-Signature, body hashing; key lookups go to an
 * injected resolver that serves one fixed Ed25519 key record for every
 * name, so signatures reach the crypto check. */
#include <string.h>

#include "dkim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ms_status resolve(void *user, const char *name, uint16_t type,
			 struct ms_dns_result **out)
{
	(void)user;
	static const char rec[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	uint8_t rd[256];
	rd[0] = (uint8_t)(sizeof(rec) - 1);
	memcpy(rd + 1, rec, sizeof(rec) - 1);
	ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER, MS_DNS_INSECURE, out);
	if (st == MS_OK)
		ms_dns_result_add(*out, MS_DNS_T_TXT, rd, sizeof(rec));
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ms_dns_ctx *dns;
	static struct ms_dkim_verifier *v;
	if (v == NULL) {
		ms_dns_ctx_new_custom(NULL, resolve, NULL, &dns);
		ms_dkim_verifier_new(NULL, dns, &v);
		ms_dkim_verifier_set_flags(v, MS_DKIM_ALLOW_SHA1);
	}
	struct ms_dkim_verify *vf = NULL;
	if (ms_dkim_verify_new(v, &vf) != MS_OK)
		return 0;
	/* two uneven chunks exercise the splitter's carried state */
	size_t half = size / 3;
	ms_dkim_verify_feed(vf, data, half, NULL, 0);
	ms_dkim_verify_feed(vf, data + half, size - half, NULL, 0);
	ms_dkim_verify_finish(vf, NULL, 0);
	for (size_t i = 0; i < ms_dkim_verify_count(vf); i++)
		(void)ms_dkim_sig_reason(ms_dkim_verify_sig(vf, i));
	ms_dkim_verify_free(vf);
	return 0;
}
