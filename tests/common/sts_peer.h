/*
 * sts_peer.h - MTA-STS discovery against the loopback HTTPS policy host
 * (tests/mtasts/policy_server.py, the test CA), for the suites that need a
 * policy host that answers (mta-sts.example.test) or one that stalls
 * (mta-sts.slow.test trickles its body, one byte per 0.5 s).  DNS is
 * injected, so only the policy fetch takes time:
 *   - TXT of _mta-sts.* is "v=STSv1; id=r1;";
 *   - mta-sts.* has A 127.0.0.1 and no AAAA (NODATA);
 *   - every other name does not exist.
 * Link tests/mtasts/helpers.c (the policy host).
 */
#ifndef MS_TEST_STS_PEER_H
#define MS_TEST_STS_PEER_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include <mailsec/mtasts.h>

#include "../mtasts/helpers.h"

struct sts_peer {
	struct policy_host host;
	char connect_to[64];
	struct ms_dns_ctx *dns;    /* the injected resolver below */
	struct ms_sts *sts;        /* fetching from the policy host */
	int txt_queries;           /* TXT of _mta-sts.* asked (atomic) */
	int addr_queries;          /* A or AAAA of mta-sts.* asked (atomic) */
};

static inline ms_status sts_peer_resolve(void *user, const char *name, uint16_t type,
					 struct ms_dns_result **out)
{
	struct sts_peer *p = user;
	if (type == MS_DNS_T_TXT && strncmp(name, "_mta-sts.", 9) == 0) {
		__atomic_fetch_add(&p->txt_queries, 1, __ATOMIC_RELAXED);
		ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER,
						    MS_DNS_INSECURE, out);
		const char *txt = "v=STSv1; id=r1;";
		uint8_t rd[64];
		rd[0] = (uint8_t)strlen(txt);
		memcpy(rd + 1, txt, rd[0]);
		if (st == MS_OK)
			st = ms_dns_result_add(*out, MS_DNS_T_TXT, rd, rd[0] + 1u);
		return st;
	}
	if (strncmp(name, "mta-sts.", 8) == 0 && (type == MS_DNS_T_A || type == MS_DNS_T_AAAA)) {
		__atomic_fetch_add(&p->addr_queries, 1, __ATOMIC_RELAXED);
		if (type == MS_DNS_T_AAAA)
			return ms_dns_result_create(NULL, name, type, MS_DNS_NODATA,
						    MS_DNS_INSECURE, out);
		ms_status st = ms_dns_result_create(NULL, name, type, MS_DNS_ANSWER,
						    MS_DNS_INSECURE, out);
		uint8_t a[4] = { 127, 0, 0, 1 };
		if (st == MS_OK)
			st = ms_dns_result_add(*out, type, a, 4);
		return st;
	}
	return ms_dns_result_create(NULL, name, type, MS_DNS_NXDOMAIN, MS_DNS_INSECURE, out);
}

/* Start the policy host and make p->dns and p->sts (over `store`, may be
 * NULL); a fetch may take 30 s, so the stall outlasts every test. */
static inline void sts_peer_start(struct sts_peer *p, struct ms_sts_store *store)
{
	memset(p, 0, sizeof(*p));
	policy_host_start(&p->host);
	/* only the port moves: the address still comes from the resolver */
	snprintf(p->connect_to, sizeof(p->connect_to), ":::%d", p->host.port);
	ck_assert_int_eq(ms_dns_ctx_new_custom(NULL, sts_peer_resolve, p, &p->dns), MS_OK);
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = world_path("pki/mtasts/ca.pem");
	cfg.fetch.connect_to = p->connect_to;
	cfg.fetch.timeout_ms = 30000;
	char why[300] = "";
	ck_assert_msg(ms_sts_new(NULL, &cfg, p->dns, store, &p->sts, why, sizeof(why)) == MS_OK,
		      "%s", why);
}

static inline void sts_peer_stop(struct sts_peer *p)
{
	ms_sts_free(p->sts);
	ms_dns_ctx_free(p->dns);
	policy_host_stop(&p->host);
}

#endif
