/* pgtest.h - a throwaway PostgreSQL server for tests (pg_server.sh): started
 * in a temp folder under /tmp on loopback, halted and resumed on demand,
 * stopped and removed at the end. */
#ifndef PGTEST_H
#define PGTEST_H

struct pgtest {
	char dir[64];
	char uri[160];
	int up;
};

/* Start; 0 ok, -1 with a message on stderr.  PG_SERVER_SH names the script. */
int pgtest_start(struct pgtest *t);
int pgtest_halt(struct pgtest *t);
int pgtest_resume(struct pgtest *t);
void pgtest_stop(struct pgtest *t);

#endif
