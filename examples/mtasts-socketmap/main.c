/*
 * mtasts-socketmap - an MTA-STS policy server for Postfix's
 * smtp_tls_policy_maps, over the socketmap protocol:
 *
 *   main.cf:  smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:mtasts
 *
 * Each request is a netstring "NAME DOMAIN"; the reply a netstring
 * "OK dane", "OK secure match=... servername=hostname", "NOTFOUND " or
 * "TEMP reason" (see answer.c).  One thread per connection; the resolver,
 * the discovery handle and the SQLite cache are shared.
 *
 * usage: mtasts-socketmap [--listen ADDR:PORT] [--name NAME] [--cache FILE]
 *          [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT]
 *          [--dns-config FILE] [--strict-testing]
 * With port 0 the kernel picks one; the bound port is printed on stdout.
 */
#include "answer.h"
#include "netstring.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQUEST 1024

static const char *map_name = "mtasts";
static struct answer_ctx actx;

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	FILE *in = fdopen(fd, "r");
	int fd2 = dup(fd);
	FILE *out = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
	char req[MAX_REQUEST + 1];
	char *buf = malloc(16384);
	while (in && out && buf) {
		long n = netstring_read(in, req, MAX_REQUEST);
		if (n < 0)
			break; /* end of stream or garbage: drop the connection */
		char *sp = strchr(req, ' ');
		if (sp == NULL) {
			netstring_write(out, "PERM malformed request");
			continue;
		}
		*sp = '\0';
		if (strcmp(req, map_name) != 0) {
			netstring_write(out, "PERM unknown map name");
			continue;
		}
		answer_domain(&actx, sp + 1, buf, 16384);
		if (netstring_write(out, buf) != 0)
			break;
	}
	free(buf);
	if (in)
		fclose(in);
	else
		close(fd);
	if (out)
		fclose(out);
	else if (fd2 >= 0)
		close(fd2);
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: mtasts-socketmap [--listen ADDR:PORT] [--name NAME] "
		"[--cache FILE] [--ca-file F] [--connect-to HOST:PORT:ADDR:PORT] "
		"[--dns-config FILE] [--strict-testing]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *listen_at = "127.0.0.1:8461", *cache = NULL, *ca = NULL,
		   *connect_to = NULL, *dns_config = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--strict-testing") == 0) {
			actx.strict_testing = 1;
			continue;
		}
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[++i];
		if (strcmp(a, "--listen") == 0)
			listen_at = v;
		else if (strcmp(a, "--name") == 0)
			map_name = v;
		else if (strcmp(a, "--cache") == 0)
			cache = v;
		else if (strcmp(a, "--ca-file") == 0)
			ca = v;
		else if (strcmp(a, "--connect-to") == 0)
			connect_to = v;
		else if (strcmp(a, "--dns-config") == 0)
			dns_config = v;
		else
			return usage();
	}
	char addr[64];
	const char *colon = strrchr(listen_at, ':');
	if (colon == NULL || (size_t)(colon - listen_at) >= sizeof(addr))
		return usage();
	memcpy(addr, listen_at, (size_t)(colon - listen_at));
	addr[colon - listen_at] = '\0';
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return usage();

	char why[512] = "";
	struct ms_dns_config dcfg = { .version = MS_DNS_CONFIG_VERSION };
	dcfg.mode = dns_config ? MS_DNS_MODE_CONFIG_FILE : MS_DNS_MODE_SYSTEM;
	dcfg.config_file = dns_config;
	struct ms_sts_store *store = NULL;
	if (ms_dns_ctx_new(NULL, &dcfg, &actx.dns, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "mtasts-socketmap: resolver: %s\n", why);
		return 1;
	}
	if (cache && ms_sts_store_new_sqlite(NULL, cache, &store, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "mtasts-socketmap: cache: %s\n", why);
		return 1;
	}
	struct ms_sts_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = MS_STS_CONFIG_VERSION;
	cfg.fetch.version = MS_STS_FETCH_CONFIG_VERSION;
	cfg.fetch.ca_file = ca;
	cfg.fetch.connect_to = connect_to;
	if (ms_sts_new(NULL, &cfg, actx.dns, store, &actx.sts, why, sizeof(why)) != MS_OK) {
		fprintf(stderr, "mtasts-socketmap: %s\n", why);
		return 1;
	}

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t sl = sizeof(sin);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(ls, 64) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) != 0) {
		perror("mtasts-socketmap: listen");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept(ls, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c) != 0) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}
