/*
 * cmd_check.c - `mailsec check DOMAIN`: what a mail admin wants to know
 * about a domain in one run, every finding with its reason and a fix.
 *
 *   mailsec check DOMAIN [--port N] [--no-probe] [--ca-file F]
 *                 [--connect-to HOST:PORT:ADDR:PORT] [--dkim-selector S]...
 *                 [--progress]
 *
 * --port: the SMTP port to probe (default 25; TLSA is always at _25._tcp).
 * --ca-file: the CA bundle for the MTA-STS policy host and the WebPKI check
 * of MX certificates (default: the system store).  --connect-to: where to
 * connect for the policy host (curl syntax; an empty HOST matches any).
 * Exit 0 when the check ran, whatever it found.
 */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_check(struct cli *cli, int argc, char **argv)
{
	struct check c;
	memset(&c, 0, sizeof(c));
	c.cli = cli;
	c.port = 25;
	c.probe = 1;
	c.progress = isatty(STDERR_FILENO);
	c.tail = &c.findings;
	pthread_mutex_init(&c.lock, NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--port") == 0 && v) {
			char *end;
			long p = strtol(v, &end, 10);
			if (*end || p < 1 || p > 65535)
				return cli_usage_error(cli, "bad --port '%s'", v);
			c.port = (uint16_t)p;
			i++;
		} else if (strcmp(a, "--ca-file") == 0 && v) {
			c.ca_file = v;
			i++;
		} else if (strcmp(a, "--connect-to") == 0 && v) {
			if (c.nconnect_to == CHECK_MAX_CONNECT_TO)
				return cli_usage_error(cli, "too many --connect-to");
			c.connect_to[c.nconnect_to++] = v;
			i++;
		} else if (strcmp(a, "--dkim-selector") == 0 && v) {
			if (c.nselectors == CHECK_MAX_SELECTORS)
				return cli_usage_error(cli, "too many --dkim-selector");
			c.selectors[c.nselectors++] = v;
			i++;
		} else if (strcmp(a, "--no-probe") == 0) {
			c.probe = 0;
		} else if (strcmp(a, "--progress") == 0) {
			c.progress = 1;
		} else if (a[0] != '-' && c.domain == NULL) {
			c.domain = a;
		} else {
			return cli_usage_error(cli, "usage: mailsec check DOMAIN [--port N] [--no-probe] "
					       "[--ca-file F] [--connect-to H:P:A:P] "
					       "[--dkim-selector S]... [--progress]");
		}
	}
	if (c.domain == NULL)
		return cli_usage_error(cli, "usage: mailsec check DOMAIN [options]");
	char norm[256], why[256] = "";
	if (ms_dns_hostname_normalize(c.domain, norm, sizeof(norm), why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "bad domain '%s': %s", c.domain, why);
	c.domain = norm;
	c.dns = cli_dns_ctx(cli);
	if (c.dns == NULL)
		return CLI_EXIT_USAGE;

	check_mx(&c);
	check_dane_and_tls(&c);   /* parallel per MX host */
	check_mtasts(&c);         /* uses the probes' certificate checks */
	check_tlsrpt(&c);
	check_spf(&c);
	check_dmarc(&c);
	check_dkim(&c);
	check_report(&c);
	check_free(&c);
	return CLI_EXIT_OK;
}
