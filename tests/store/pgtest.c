/* pgtest.c - see pgtest.h. */
#include "pgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(struct pgtest *t, const char *cmd, char *out, size_t outlen)
{
	const char *sh = getenv("PG_SERVER_SH");
	if (sh == NULL) {
		fprintf(stderr, "pgtest: PG_SERVER_SH is not set\n");
		return -1;
	}
	char line[512];
	snprintf(line, sizeof(line), "'%s' %s '%s'", sh, cmd, t->dir);
	FILE *p = popen(line, "r");
	if (p == NULL)
		return -1;
	if (out != NULL) {
		out[0] = '\0';
		if (fgets(out, (int)outlen, p) != NULL)
			out[strcspn(out, "\r\n")] = '\0';
	}
	char sink[256];
	while (fgets(sink, sizeof(sink), p) != NULL)
		;
	int rc = pclose(p);
	return rc == 0 ? 0 : -1;
}

int pgtest_start(struct pgtest *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/mspg.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	if (run(t, "start", t->uri, sizeof(t->uri)) != 0 ||
	    strncmp(t->uri, "postgresql://", 13) != 0) {
		fprintf(stderr, "pgtest: could not start PostgreSQL in %s\n", t->dir);
		return -1;
	}
	t->up = 1;
	return 0;
}

int pgtest_halt(struct pgtest *t)
{
	t->up = 0;
	return run(t, "halt", NULL, 0);
}

int pgtest_resume(struct pgtest *t)
{
	int rc = run(t, "resume", NULL, 0);
	t->up = rc == 0;
	return rc;
}

void pgtest_stop(struct pgtest *t)
{
	if (t->dir[0])
		run(t, "stop", NULL, 0);
	t->dir[0] = '\0';
	t->up = 0;
}
