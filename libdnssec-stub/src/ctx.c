/*
 * ctx.c - creating a resolver context: libunbound set-up for the four modes,
 * trust anchors, the validation clock, and loading all of it at once so a
 * configuration that cannot be loaded is an error here, not at the first
 * lookup.  libunbound's log goes to the env log (ub_log.c).
 */
#include "dns_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#define DEFAULT_ROOT_ANCHOR "/usr/share/dns/root.key"
#define FINALISE_ZONE "finalise.mailsec.invalid."

static ms_status ctx_alloc(const struct ms_env *env, struct ms_dns_ctx **out)
{
	struct ms_env e;
	ms_env_init(&e, env);
	struct ms_dns_ctx *ctx = ms_calloc(&e, 1, sizeof(*ctx));
	if (ctx == NULL)
		return MS_ERR_NOMEM;
	ctx->env = e;
	ctx->timeout_ms = MS_DNS_DEFAULT_TIMEOUT_MS;
	ctx->next_id = 1;
	if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
		ms_free(&e, ctx);
		return MS_ERR_INTERNAL;
	}
	if (pthread_mutex_init(&ctx->log_lock, NULL) != 0) {
		pthread_mutex_destroy(&ctx->lock);
		ms_free(&e, ctx);
		return MS_ERR_INTERNAL;
	}
	/* Deadlines are monotonic; the condition variable must agree. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&ctx->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		pthread_mutex_destroy(&ctx->log_lock);
		pthread_mutex_destroy(&ctx->lock);
		ms_free(&e, ctx);
		return MS_ERR_INTERNAL;
	}
	*out = ctx;
	return MS_OK;
}

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

static ms_status ub_fail(char *why, size_t whylen, const char *what, int rc,
			 const char *arg)
{
	return ms_why(why, whylen, MS_ERR_CONFIG, "%s %s: %s", what,
		      arg ? arg : "", ub_strerror(rc));
}

/*
 * A zone for which the caller supplies a trust anchor is a zone the caller
 * means to resolve, even when libunbound has a built-in local zone for it
 * (RFC 6761 "test.", "invalid.", the RFC 6303 reverse zones), so make that
 * local zone transparent.  `rr` is a DS/DNSKEY line; its owner comes first.
 */
static void unshadow_anchor_zone(struct ub_ctx *ub, const char *rr)
{
	char owner[256];
	size_t n = 0;
	while (*rr == ' ' || *rr == '\t')
		rr++;
	if (*rr == ';' || *rr == '#' || *rr == '\0' || *rr == '\n')
		return;
	while (rr[n] && rr[n] != ' ' && rr[n] != '\t' && rr[n] != '\n' &&
	       n < sizeof(owner) - 1) {
		owner[n] = rr[n];
		n++;
	}
	owner[n] = '\0';
	if (n == 0 || strcmp(owner, ".") == 0)
		return;
	char value[300];
	snprintf(value, sizeof(value), "%s transparent", owner);
	ub_ctx_set_option(ub, "local-zone:", value);
}

static void unshadow_anchor_file(struct ub_ctx *ub, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	char line[4096];
	while (fgets(line, sizeof(line), f))
		unshadow_anchor_zone(ub, line);
	fclose(f);
}

/* Whether libunbound's message names `file`. */
static int names_file(const char *msg, const char *file)
{
	return file != NULL && *file != '\0' && strstr(msg, file) != NULL;
}

/*
 * libunbound reads trust anchor files, auth-zone files and the rest of the
 * configuration only when it finalises the context, which it does lazily at
 * the first resolve: a malformed anchor file would then surface as an
 * internal error of some later lookup.  ub_ctx_zone_remove() finalises first
 * and, for a zone that does not exist, changes nothing, so it loads
 * everything now, offline.  Its errors are logged through ub_log.c, which
 * keeps the first one for `why`.  The message is attributed to the file it
 * names (libunbound puts the file name in anchor and zone-file errors).
 */
static ms_status finalise(struct ms_dns_ctx *ctx, const struct ms_dns_config *cfg,
			  char *why, size_t whylen)
{
	/* libunbound's context_finalize sets process globals without a lock
	 * of its own: contexts finalised from several threads at once failed
	 * now and then with "initialization failure" (valgrind's scheduler). */
	pthread_mutex_lock(&ms_dns_ub_global_lock);
	ms_dns_ub_capture(ctx, 1);
	ctx->ub_finalised = 1;
	int rc = ub_ctx_zone_remove(ctx->ub, FINALISE_ZONE);
	ms_dns_ub_capture(ctx, 0);
	pthread_mutex_unlock(&ms_dns_ub_global_lock);
	if (rc == 0)
		return MS_OK;
	char msg[256];
	ms_dns_ub_first_error(ctx, msg, sizeof(msg));
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "%s", ub_strerror(rc));
	ms_status st = rc == UB_NOMEM ? MS_ERR_NOMEM : MS_ERR_CONFIG;
	const char *anchor = cfg ? cfg->trust_anchor_file : NULL;
	const char *root = cfg && cfg->root_anchor_file ? cfg->root_anchor_file :
							  DEFAULT_ROOT_ANCHOR;
	int file_mode = cfg && cfg->mode == MS_DNS_MODE_CONFIG_FILE;
	if (names_file(msg, anchor))
		return ms_why(why, whylen, st, "trust anchor file %s: %s", anchor, msg);
	if (!file_mode && names_file(msg, root))
		return ms_why(why, whylen, st, "trust anchor file %s: %s", root, msg);
	for (size_t i = 0; cfg && i < cfg->ntrust_anchors; i++)
		if (names_file(msg, cfg->trust_anchors[i]))
			return ms_why(why, whylen, st, "trust anchor: %s", msg);
	if (file_mode)
		return ms_why(why, whylen, st, "resolver configuration %s: %s",
			      cfg->config_file, msg);
	return ms_why(why, whylen, st, "resolver set-up failed: %s", msg);
}

/* Apply the configuration to a fresh ub_ctx. */
static ms_status configure(struct ms_dns_ctx *ctx, const struct ms_dns_config *cfg,
			   char *why, size_t whylen)
{
	struct ub_ctx *ub = ctx->ub;
	int rc;
	enum ms_dns_mode mode = cfg ? cfg->mode : MS_DNS_MODE_SYSTEM;

	/* Threads, not a forked process, for the background resolver: the
	 * context is shared across the caller's threads. */
	if ((rc = ub_ctx_async(ub, 1)) != 0)
		return ub_fail(why, whylen, "ub_ctx_async", rc, NULL);
	ctx->ub_log = ms_dns_ub_log_open(ctx);
	if (ctx->ub_log == NULL)
		return ms_why(why, whylen, MS_ERR_NOMEM, "cannot open the libunbound log sink");
	ub_ctx_debugout(ub, ctx->ub_log);
	ub_ctx_set_option(ub, "use-syslog:", "no");

	switch (mode) {
	case MS_DNS_MODE_CONFIG_FILE:
		if (cfg->config_file == NULL)
			return ms_why(why, whylen, MS_ERR_CONFIG,
				      "config-file mode needs a configuration file");
		if (!readable(cfg->config_file))
			return ms_why(why, whylen, MS_ERR_CONFIG,
				      "resolver configuration %s: cannot read: %s",
				      cfg->config_file, ms_strerror(errno, (char[96]){0}, 96));
		ms_status st = ms_dns_conf_load(ctx, cfg->config_file, why, whylen);
		if (st != MS_OK)
			return st;
		/* Forwarders may be added on top of the file. */
		for (size_t i = 0; i < cfg->nforwarders; i++)
			if ((rc = ub_ctx_set_fwd(ub, cfg->forwarders[i])) != 0)
				return ub_fail(why, whylen, "bad forwarder", rc,
					       cfg->forwarders[i]);
		break;
	case MS_DNS_MODE_FORWARD:
		/* A forwarder on loopback (a local unbound, dnsmasq, or a test
		 * server) is a deliberate choice, not a spoofing risk. */
		ub_ctx_set_option(ub, "do-not-query-localhost:", "no");
		if (cfg->nforwarders == 0)
			return ms_why(why, whylen, MS_ERR_CONFIG,
				      "forward mode needs at least one forwarder");
		for (size_t i = 0; i < cfg->nforwarders; i++)
			if ((rc = ub_ctx_set_fwd(ub, cfg->forwarders[i])) != 0)
				return ub_fail(why, whylen, "bad forwarder", rc,
					       cfg->forwarders[i]);
		break;
	case MS_DNS_MODE_SYSTEM:
		ub_ctx_set_option(ub, "do-not-query-localhost:", "no");
		if ((rc = ub_ctx_resolvconf(ub, NULL)) != 0)
			return ub_fail(why, whylen, "cannot read", rc, "/etc/resolv.conf");
		break;
	case MS_DNS_MODE_RECURSIVE:
		break;
	default:
		return ms_why(why, whylen, MS_ERR_INVALID, "unknown resolver mode %d",
			      (int)mode);
	}

	/* The root anchor, unless a config file is the whole configuration. */
	if (mode != MS_DNS_MODE_CONFIG_FILE) {
		const char *root = cfg && cfg->root_anchor_file ?
					   cfg->root_anchor_file : DEFAULT_ROOT_ANCHOR;
		if (!readable(root))
			return ms_why(why, whylen, MS_ERR_CONFIG,
				      "no trust anchor: cannot read %s (install "
				      "dns-root-data or name an anchor file)", root);
		if ((rc = ub_ctx_add_ta_file(ub, root)) != 0)
			return ub_fail(why, whylen, "trust anchor file", rc, root);
	}
	if (cfg && cfg->trust_anchor_file) {
		if (!readable(cfg->trust_anchor_file))
			return ms_why(why, whylen, MS_ERR_CONFIG,
				      "trust anchor file %s: cannot read: %s",
				      cfg->trust_anchor_file,
				      ms_strerror(errno, (char[96]){0}, 96));
		if ((rc = ub_ctx_add_ta_file(ub, cfg->trust_anchor_file)) != 0)
			return ub_fail(why, whylen, "trust anchor file", rc,
				       cfg->trust_anchor_file);
		unshadow_anchor_file(ub, cfg->trust_anchor_file);
	}
	for (size_t i = 0; cfg && i < cfg->ntrust_anchors; i++) {
		if ((rc = ub_ctx_add_ta(ub, cfg->trust_anchors[i])) != 0)
			return ub_fail(why, whylen, "bad trust anchor", rc,
				       cfg->trust_anchors[i]);
		unshadow_anchor_zone(ub, cfg->trust_anchors[i]);
	}

	if (cfg && cfg->validation_time > 0) {
		/* val-override-date takes YYYYMMDDHHMMSS in UTC. */
		char date[32];
		time_t t = (time_t)cfg->validation_time;
		struct tm tm;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(date, sizeof(date), "%Y%m%d%H%M%S", &tm) == 0)
			return ms_why(why, whylen, MS_ERR_INVALID, "bad validation time");
		if ((rc = ub_ctx_set_option(ub, "val-override-date:", date)) != 0)
			return ub_fail(why, whylen, "cannot set validation time", rc, date);
	}
	if (cfg && cfg->timeout_ms > 0)
		ctx->timeout_ms = cfg->timeout_ms;
	return finalise(ctx, cfg, why, whylen);
}

ms_status ms_dns_ctx_new(const struct ms_env *env, const struct ms_dns_config *cfg,
			 struct ms_dns_ctx **out, char *why, size_t whylen)
{
	if (out == NULL)
		return ms_why(why, whylen, MS_ERR_INVALID, "no output pointer");
	*out = NULL;
	if (cfg && cfg->version != MS_DNS_CONFIG_VERSION)
		return ms_why(why, whylen, MS_ERR_INVALID,
			      "struct ms_dns_config version %u not supported",
			      cfg->version);
	struct ms_dns_ctx *ctx;
	ms_status st = ctx_alloc(env, &ctx);
	if (st != MS_OK)
		return ms_why(why, whylen, st, "cannot allocate resolver context");
	pthread_mutex_lock(&ms_dns_ub_global_lock);
	ctx->ub = ub_ctx_create();
	pthread_mutex_unlock(&ms_dns_ub_global_lock);
	if (ctx->ub == NULL) {
		ms_dns_ctx_free(ctx);
		return ms_why(why, whylen, MS_ERR_NOMEM, "ub_ctx_create failed");
	}
	st = configure(ctx, cfg, why, whylen);
	if (st != MS_OK) {
		/*
		 * ub_ctx_create() points libunbound's process-wide log at stderr
		 * when no finalised context overrides it, and deleting a context
		 * that never finalised leaves it there, so other contexts' lines
		 * would reach stderr.  Finalising first points it at our sink,
		 * which ub_ctx_delete() then silences.
		 */
		if (!ctx->ub_finalised && ctx->ub_log)
			(void)ub_ctx_zone_remove(ctx->ub, FINALISE_ZONE);
		ms_dns_ctx_free(ctx);
		return st;
	}
	*out = ctx;
	return MS_OK;
}

ms_status ms_dns_ctx_new_custom(const struct ms_env *env, ms_dns_resolve_fn resolve,
				void *user, struct ms_dns_ctx **out)
{
	if (out == NULL || resolve == NULL)
		return MS_ERR_INVALID;
	*out = NULL;
	struct ms_dns_ctx *ctx;
	ms_status st = ctx_alloc(env, &ctx);
	if (st != MS_OK)
		return st;
	ctx->custom = resolve;
	ctx->custom_user = user;
	*out = ctx;
	return MS_OK;
}
