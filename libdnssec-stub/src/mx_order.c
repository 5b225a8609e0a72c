/*
 * mx_order.c - the order in which a sender tries an MX set.
 *
 * RFC 5321 s5.1: lowest preference first, and hosts of equal preference in
 * random order, so load spreads and no host is favoured.  The order of
 * records inside an RRset is not covered by DNSSEC signatures, so a sender
 * that kept "the first N in answer order" would let an on-path party choose
 * which hosts are tried; the sort therefore happens here, before any caller
 * truncates the set to its own limit.
 */
#include "dns_internal.h"

#include <stdlib.h>

struct mx_key {
	size_t index;
	uint32_t pref;   /* 0..65535, or 65536 for malformed rdata: last */
	uint32_t shuffle;
};

static int by_key(const void *x, const void *y)
{
	const struct mx_key *a = x, *b = y;
	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	if (a->shuffle != b->shuffle)
		return a->shuffle < b->shuffle ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

ms_status ms_dns_result_mx_order(const struct ms_dns_result *r, size_t *order,
				 size_t cap, size_t *n)
{
	if (r == NULL || n == NULL || (order == NULL && cap > 0))
		return MS_ERR_INVALID;
	*n = 0;
	size_t count = 0;
	for (size_t i = 0; i < r->n; i++)
		count += r->rr[i].type == MS_DNS_T_MX;
	if (count == 0 || cap == 0)
		return MS_OK;
	struct ms_env env = r->env;
	struct mx_key *keys = ms_calloc(&env, count, sizeof(*keys));
	if (keys == NULL)
		return MS_ERR_NOMEM;
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct ms_dns_rr *rr = &r->rr[i];
		if (rr->type != MS_DNS_T_MX)
			continue;
		keys[k].index = i;
		keys[k].pref = rr->len >= 3 ? (uint32_t)rr->data[0] << 8 | rr->data[1] : 65536u;
		/* arc4random: no seeding, thread-safe, not predictable
		 * by the party that ordered the RRset */
		keys[k].shuffle = arc4random();
		k++;
	}
	qsort(keys, count, sizeof(*keys), by_key);
	size_t m = count < cap ? count : cap;
	for (size_t i = 0; i < m; i++)
		order[i] = keys[i].index;
	*n = m;
	ms_free(&env, keys);
	return MS_OK;
}
