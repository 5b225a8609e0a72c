/*
 * cmd_setup.c - `mailsec setup DOMAIN` (usage: main.c's table): the
 * records and files a domain publishes to receive mail securely
 * (libmscheck's ms_setup_render).  --key/--next-key apply to the --mx
 * before them.  Exit 0 with the records printed, 2 usage or unreadable keys.
 */
#include "cli.h"

#include <mailsec/check.h>

#include <stdlib.h>
#include <string.h>

int cmd_setup(struct cli *cli, int argc, char **argv)
{
	const char *mx[MS_CHECK_MAX_MX], *key[MS_CHECK_MAX_MX] = { 0 }, *next[MS_CHECK_MAX_MX] = { 0 };
	struct ms_setup_config cfg = { .version = MS_SETUP_CONFIG_VERSION, .mx = mx,
				       .mx_key = key, .mx_next_key = next };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--mx") == 0 && v) {
			if (cfg.nmx == MS_CHECK_MAX_MX)
				return cli_usage_error(cli, "too many --mx");
			mx[cfg.nmx++] = v;
		} else if ((strcmp(a, "--key") == 0 || strcmp(a, "--next-key") == 0) && v) {
			if (cfg.nmx == 0)
				return cli_usage_error(cli, "%s belongs to the --mx before it", a);
			if (strcmp(a, "--key") == 0)
				key[cfg.nmx - 1] = v;
			else
				next[cfg.nmx - 1] = v;
		} else if (strcmp(a, "--rua") == 0 && v) {
			cfg.report_address = v;
		} else if (strcmp(a, "--sts-mode") == 0 && v) {
			cfg.sts_mode = v;
		} else if (strcmp(a, "--max-age") == 0 && v) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n == 0 || n > 31557600)
				return cli_usage_error(cli, "bad --max-age '%s'", v);
			cfg.sts_max_age = (uint32_t)n;
		} else if (strcmp(a, "--dkim-selector") == 0 && v) {
			cfg.dkim_selector = v;
		} else if (strcmp(a, "--dkim-key") == 0 && v) {
			cfg.dkim_key = v;
		} else if (a[0] != '-' && cfg.domain == NULL) {
			cfg.domain = a;
			continue;
		} else {
			return cli_usage_error(cli, "usage: mailsec setup DOMAIN --mx HOST [--key F] "
					       "[--next-key F]... --rua ADDR [--sts-mode M] [--max-age S] "
					       "[--dkim-selector S --dkim-key F]");
		}
		i++;
	}
	if (cfg.domain == NULL || cfg.nmx == 0 || cfg.report_address == NULL ||
	    (cfg.dkim_selector == NULL) != (cfg.dkim_key == NULL))
		return cli_usage_error(cli, "usage: mailsec setup DOMAIN --mx HOST ... --rua ADDR "
				       "(--dkim-selector and --dkim-key together)");
	cfg.now = cli_now(cli);
	char *out = NULL, why[256] = "";
	ms_status st = ms_setup_render(&cli->env, &cfg, cli->json ? MS_CHECK_JSON : MS_CHECK_TEXT,
				       &out, why, sizeof(why));
	if (st != MS_OK)
		return cli_usage_error(cli, "%s: %s", ms_status_str(st), why);
	fputs(out, stdout);
	ms_render_free(out);
	return CLI_EXIT_OK;
}
