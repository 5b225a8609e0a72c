/*
 * route_cli.c - option parsing and set-up around librequiretls's route
 * (see route_cli.h).
 */
#include "route_cli.h"

#include <string.h>

int route_open(struct cli *cli, const char *domain, const struct route_opts *o,
	       enum ms_rtls_requirement requirement, struct ms_rtls_route **out)
{
	char why[256] = "";
	*out = NULL;
	/* The domain first: a bad one is a usage error before any set-up. */
	char norm[256];
	if (ms_dns_hostname_normalize(domain, norm, sizeof(norm), why, sizeof(why)) != MS_OK)
		return cli_usage_error(cli, "bad domain '%s': %s", domain, why);
	struct cli_sts c;
	int rc = cli_sts_open(cli, o->ca_file, o->connect_to, o->cache, 20000, &c);
	if (rc != CLI_EXIT_OK)
		return rc;
	struct ms_rtls_route_opts ro = { .version = MS_RTLS_ROUTE_OPTS_VERSION,
					 .max_mx = ROUTE_MAX_MX };
	if (ms_rtls_route_new(&cli->env, c.dns, c.sts, domain, requirement, &ro, out, why,
			      sizeof(why)) != MS_OK)
		rc = cli_error(cli, CLI_EXIT_ERROR, "plan: %s", why);
	cli_sts_close(&c);
	return rc;
}
