/* cmd_dmarc.c - `mailsec dmarc` (placeholder until the DMARC code lands). */
#include "cli.h"

int cmd_dmarc(struct cli *cli, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error(cli, "dmarc: not built yet");
}
