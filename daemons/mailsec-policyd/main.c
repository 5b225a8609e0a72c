/*
 * mailsec-policyd - the Postfix TLS policy daemon: answers Postfix's
 * smtp_tls_policy_maps lookups (socketmap protocol) with DANE first, then
 * MTA-STS, TEMP on any failed lookup (ms_rtls_route_postfix_policy).
 *
 *   main.cf:  smtp_tls_policy_maps = socketmap:unix:/run/mailsec-policyd/policyd.sock:postfix
 *
 * usage: mailsec-policyd [-c FILE] [-o KEY=VALUE]... [-t] [--print-port]
 *        mailsec-policyd --version | --help
 * See docs/man/mailsec-policyd.8 and docs/policyd.md.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mailsec/mtasts.h>
#include <mailsec/requiretls_route.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "server.h"

#ifndef POLICYD_VERSION
#define POLICYD_VERSION "unknown"
#endif
#ifdef POLICYD_DEFAULT_CONFIG
#define DEFAULT_CONFIG POLICYD_DEFAULT_CONFIG
#else
#define DEFAULT_CONFIG "/etc/mailsec/mailsec-policyd.conf"
#endif

static const char usage_text[] =
	"usage: mailsec-policyd [-c FILE] [-o KEY=VALUE]... [-t] [--print-port]\n"
	"       mailsec-policyd --version | --help\n"
	"  -c FILE        configuration file (default " DEFAULT_CONFIG ")\n"
	"  -o KEY=VALUE   override one configuration key (repeatable)\n"
	"  -t             check the configuration and exit\n"
	"  --print-port   print the bound TCP port on stdout once listening\n";

/* ---- proactive MTA-STS refresh (RFC 8461 s5.1) ----------------------- */

struct refresher {
	struct ms_sts *sts;
	struct policyd_log *log;
	unsigned interval;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

/* Refresh every cached policy well before it expires: ms_sts_refresh looks
 * each cached domain's TXT record up again and refetches (a new policy
 * replaces the old one only when valid), and drops long-unused entries.
 * Several daemons may share one cache; each refreshes it, which costs
 * extra fetches but no inconsistency (the store's writes are atomic). */
static void *refresh_loop(void *arg)
{
	struct refresher *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		unsigned delay = r->interval ? r->interval : ms_sts_refresh_delay();
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += delay;
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		size_t refreshed = 0, failed = 0, dropped = 0;
		ms_status st = ms_sts_refresh(r->sts, &refreshed, &failed, &dropped);
		char a[24], b[24], c[24];
		snprintf(a, sizeof(a), "%zu", refreshed);
		snprintf(b, sizeof(b), "%zu", failed);
		snprintf(c, sizeof(c), "%zu", dropped);
		struct ms_kv kv[4] = {{"refreshed", a}, {"failed", b}, {"dropped", c},
				      {"status", ms_status_str(st)}};
		policyd_logf(r->log, st == MS_OK ? MS_LOG_INFO : MS_LOG_WARNING, kv, 4,
			     "MTA-STS cache refreshed");
		policyd_metric(r->log, MS_METRIC_COUNTER, "policyd_sts_refreshed_total", "result",
			       "ok", (double)refreshed);
		policyd_metric(r->log, MS_METRIC_COUNTER, "policyd_sts_refreshed_total", "result",
			       "failed", (double)failed);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void raise_fd_limit(unsigned max_connections)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)max_connections + 64;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
	/* SIGTERM and SIGINT are read from a signalfd by the event loop: block
	 * them before any thread exists (the libraries' included), so none of
	 * them takes the default action and the stop is always clean. */
	sigset_t stopset;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	struct policyd_config cfg;
	policyd_config_defaults(&cfg);
	const char *config_path = NULL;
	int check_only = 0, print_port = 0;
	char why[512] = "";
	/* the file first, then the -o overrides in order */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("mailsec-policyd %s\n", POLICYD_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "-t") == 0)
			check_only = 1;
		else if (strcmp(argv[i], "--print-port") == 0)
			print_port = 1;
		else {
			fprintf(stderr, "mailsec-policyd: unknown argument '%s'\n%s", argv[i],
				usage_text);
			return 2;
		}
	}
	/* without -c, a missing default file means "all from -o" */
	if ((config_path != NULL || access(DEFAULT_CONFIG, F_OK) == 0) &&
	    policyd_config_load(config_path ? config_path : DEFAULT_CONFIG, &cfg, why,
				sizeof(why)) != 0) {
		fprintf(stderr, "mailsec-policyd: %s\n", why);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			i++;
		} else if (strcmp(argv[i], "-o") == 0) {
			char kv[1100];
			snprintf(kv, sizeof(kv), "%s", argv[++i]);
			char *eq = strchr(kv, '=');
			if (eq == NULL) {
				fprintf(stderr, "mailsec-policyd: -o expects KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			if (policyd_config_set(&cfg, kv, eq + 1, why, sizeof(why)) != 0) {
				fprintf(stderr, "mailsec-policyd: -o %s: %s\n", kv, why);
				return 2;
			}
		}
	}
	if (cfg.listen_unix[0] == '\0' && cfg.listen_tcp[0] == '\0') {
		fprintf(stderr, "mailsec-policyd: no listener: set listen_unix and/or listen_tcp\n");
		return 2;
	}
	if (check_only) {
		puts("configuration ok");
		return 0;
	}

	struct policyd_log lg = {.format = cfg.log_format, .level = cfg.log_level};
	lg.logfmt.out = stderr;
	if (cfg.log_file[0]) {
		lg.logfmt.out = fopen(cfg.log_file, "a");
		if (lg.logfmt.out == NULL) {
			fprintf(stderr, "mailsec-policyd: %s: %s\n", cfg.log_file, strerror(errno));
			return 1;
		}
		setvbuf(lg.logfmt.out, NULL, _IOLBF, 0);
	}
	if (cfg.metrics_file[0] && (lg.prom = ms_prom_new()) == NULL) {
		fprintf(stderr, "mailsec-policyd: out of memory\n");
		return 1;
	}
	struct ms_env env;
	policyd_env(&lg, &env);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(cfg.max_connections);

	struct ms_dns_config dcfg = {.version = MS_DNS_CONFIG_VERSION};
	dcfg.mode = cfg.dns_config[0] ? MS_DNS_MODE_CONFIG_FILE : MS_DNS_MODE_SYSTEM;
	dcfg.config_file = cfg.dns_config[0] ? cfg.dns_config : NULL;
	dcfg.timeout_ms = cfg.dns_timeout_ms;
	struct ms_dns_ctx *dns = NULL;
	struct ms_sts_store *store = NULL;
	struct ms_sts *sts = NULL;
	int rc = 1;
	if (ms_dns_ctx_new(&env, &dcfg, &dns, why, sizeof(why)) != MS_OK) {
		policyd_logf(&lg, MS_LOG_ERROR, NULL, 0, "resolver: %s", why);
		goto out;
	}
	if (cfg.cache[0] &&
	    ms_sts_store_open(&env, cfg.cache, &store, why, sizeof(why)) != MS_OK) {
		policyd_logf(&lg, MS_LOG_ERROR, NULL, 0, "cache %s: %s", cfg.cache, why);
		goto out;
	}
	struct ms_sts_config scfg;
	memset(&scfg, 0, sizeof(scfg));
	scfg.version = MS_STS_CONFIG_VERSION;
	scfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	scfg.fetch.ca_file = cfg.ca_file[0] ? cfg.ca_file : NULL;
	scfg.fetch.connect_to = cfg.connect_to[0] ? cfg.connect_to : NULL;
	scfg.fetch.timeout_ms = cfg.fetch_timeout_ms;
	if (ms_sts_new(&env, &scfg, dns, store, &sts, why, sizeof(why)) != MS_OK) {
		policyd_logf(&lg, MS_LOG_ERROR, NULL, 0, "MTA-STS: %s", why);
		goto out;
	}
	struct policyd_engine eng = {
		.env = &env, .log = &lg, .dns = dns, .sts = sts, .map_name = cfg.map_name,
		.flags = cfg.testing_as_enforce ? MS_RTLS_POSTFIX_TESTING_AS_ENFORCE : 0u};
	int port = 0;
	struct policyd_server *srv = policyd_server_new(&cfg, &eng, &port, why, sizeof(why));
	if (srv == NULL) {
		policyd_logf(&lg, MS_LOG_ERROR, NULL, 0, "%s", why);
		goto out;
	}
	if (print_port) {
		printf("%d\n", port);
		fflush(stdout);
	}
	struct refresher ref = {.sts = sts, .log = &lg, .interval = cfg.refresh_interval};
	pthread_mutex_init(&ref.mu, NULL);
	pthread_cond_init(&ref.cv, NULL);
	pthread_t rt;
	int refreshing = cfg.refresh && store && pthread_create(&rt, NULL, refresh_loop, &ref) == 0;
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	struct ms_kv kv[3] = {{"unix", cfg.listen_unix}, {"tcp_port", ports},
			      {"version", POLICYD_VERSION}};
	policyd_logf(&lg, MS_LOG_INFO, kv, 3, "listening");
	rc = policyd_server_run(srv);
	if (refreshing) {
		pthread_mutex_lock(&ref.mu);
		ref.stop = 1;
		pthread_cond_signal(&ref.cv);
		pthread_mutex_unlock(&ref.mu);
		pthread_join(rt, NULL);
	}
	policyd_server_free(srv);
	policyd_metrics_write(&lg, cfg.metrics_file);
out:
	ms_sts_free(sts);
	ms_sts_store_free(store);
	ms_dns_ctx_free(dns);
	ms_prom_free(lg.prom);
	if (lg.logfmt.out && lg.logfmt.out != stderr)
		fclose(lg.logfmt.out);
	return rc;
}
