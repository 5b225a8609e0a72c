/*
 * ctx.c - the verification context: env hooks, digest agility ranks and
 * the pre-fetched digests.  Read-only after the setters, so shareable.
 */
#include "dane_internal.h"

#include <stdarg.h>
#include <stdio.h>

ms_status ms_dane_ctx_new(const struct ms_env *env, struct ms_dane_ctx **out)
{
	if (out == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dane_ctx *ctx = ms_calloc(&e, 1, sizeof(*ctx));
	if (ctx == NULL)
		return MS_ERR_NOMEM;
	ctx->env = e;
	ctx->mtype_rank[MS_DANE_MT_SHA256] = 1;
	ctx->mtype_rank[MS_DANE_MT_SHA512] = 2;
	ctx->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	ctx->sha512 = EVP_MD_fetch(NULL, "SHA2-512", NULL);
	if (ctx->sha256 == NULL || ctx->sha512 == NULL) {
		ms_dane_ctx_free(ctx);
		return MS_ERR_INTERNAL;
	}
	*out = ctx;
	return MS_OK;
}

void ms_dane_ctx_free(struct ms_dane_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ms_dane_certcache_free(ctx->cache);
	EVP_MD_free(ctx->sha256);
	EVP_MD_free(ctx->sha512);
	struct ms_env e = ctx->env;
	ms_free(&e, ctx);
}

ms_status ms_dane_ctx_set_mtype_rank(struct ms_dane_ctx *ctx, uint8_t mtype,
				     unsigned rank)
{
	if (ctx == NULL || mtype == MS_DANE_MT_FULL || mtype > MS_DANE_MT_SHA512)
		return MS_ERR_INVALID;
	ctx->mtype_rank[mtype] = rank;
	return MS_OK;
}

/* Replace the cache by an empty one with these bounds (NULL when both are
 * 0).  On failure the old cache and bounds stay. */
static ms_status rebuild_cache(struct ms_dane_ctx *ctx, size_t max_ca, size_t max_leaf)
{
	struct ms_dane_certcache *c = NULL;
	if (max_ca > 0 || max_leaf > 0) {
		ms_status st = ms_dane_certcache_new(&ctx->env, max_ca, max_leaf, &c);
		if (st != MS_OK)
			return st;
	}
	ms_dane_certcache_free(ctx->cache);
	ctx->cache = c;
	ctx->cache_max_ca = max_ca;
	ctx->cache_max_leaf = max_leaf;
	return MS_OK;
}

ms_status ms_dane_ctx_set_cert_cache(struct ms_dane_ctx *ctx, size_t max_entries)
{
	if (ctx == NULL || max_entries > MS_DANE_MAX_CERT_CACHE)
		return MS_ERR_INVALID;
	return rebuild_cache(ctx, max_entries, ctx->cache_max_leaf);
}

ms_status ms_dane_ctx_set_leaf_cache(struct ms_dane_ctx *ctx, size_t max_leaves)
{
	if (ctx == NULL || max_leaves > MS_DANE_MAX_CERT_CACHE)
		return MS_ERR_INVALID;
	return rebuild_cache(ctx, ctx->cache_max_ca, max_leaves);
}

size_t ms_dane_ctx_cert_cache_count(const struct ms_dane_ctx *ctx)
{
	return ctx && ctx->cache ? ms_dane_certcache_count(ctx->cache, MS_DANE_CC_CA) : 0;
}

size_t ms_dane_ctx_leaf_cache_count(const struct ms_dane_ctx *ctx)
{
	return ctx && ctx->cache ? ms_dane_certcache_count(ctx->cache, MS_DANE_CC_LEAF) : 0;
}

const EVP_MD *ms_dane_md(const struct ms_dane_ctx *ctx, uint8_t mtype)
{
	return mtype == MS_DANE_MT_SHA256 ? ctx->sha256 :
	       mtype == MS_DANE_MT_SHA512 ? ctx->sha512 : NULL;
}

void ms_dane_set(struct ms_dane_result *res, enum ms_dane_verdict v,
		 enum ms_tlsrpt_result rpt, const char *fmt, ...)
{
	res->verdict = v;
	res->tlsrpt = rpt;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

const char *ms_dane_verdict_str(enum ms_dane_verdict v)
{
	switch (v) {
	case MS_DANE_VERIFIED: return "verified";
	case MS_DANE_INSECURE: return "insecure";
	case MS_DANE_NO_RECORDS: return "no-records";
	case MS_DANE_ALL_UNUSABLE: return "all-unusable";
	case MS_DANE_NO_MATCH: return "no-match";
	case MS_DANE_NAME_MISMATCH: return "name-mismatch";
	case MS_DANE_CHAIN_INVALID: return "chain-invalid";
	case MS_DANE_MALFORMED: return "malformed";
	}
	return "unknown";
}

