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

void route_mail_params(int requiretls, char *out, size_t outsize)
{
	struct ms_rtls_mail *m = NULL;
	out[0] = '\0';
	if (ms_rtls_mail_new(NULL, &m) != MS_OK)
		return;
	if (requiretls)
		ms_rtls_mail_set(m, "REQUIRETLS", NULL);
	if (ms_rtls_mail_format(m, out, outsize, NULL) != MS_OK)
		out[0] = '\0';
	ms_rtls_mail_free(m);
}

void route_out_outcome(struct cli_out *o, const char *key, int set,
		       const struct ms_rtls_outcome *oc)
{
	if (!set) {
		out_null(o, key);
		return;
	}
	out_obj(o, key);
	out_str(o, "verdict", NULL, ms_rtls_verdict_str(oc->verdict));
	out_str(o, "status", NULL, oc->enhanced);
	out_str(o, "bounce_status", NULL, oc->bounce_enhanced);
	out_str(o, "text", NULL, oc->text);
	out_close(o);
}
