/*
 * test_store.c - the recipient-domain memory: the SQLite default on a real
 * file in a temporary directory (WAL, merge rules, close and reopen, two
 * handles on one file, schema check), the query, and a custom store
 * through the ops interface.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <mailsec/requiretls_store.h>

static char dir[256];
static char path[300];
static int64_t clock_now = 1795867200;

static int64_t fake_now(void *user)
{
	(void)user;
	return clock_now;
}

static struct ms_env test_env(void)
{
	struct ms_env e;
	memset(&e, 0, sizeof(e));
	e.version = MS_ENV_VERSION;
	e.now = fake_now;
	return e;
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/rtls-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rtls.db", dir);
	clock_now = 1795867200;
}

static void teardown(void)
{
	const char *suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[320];
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}

START_TEST(test_sqlite_record_get_reopen)
{
	struct ms_env env = test_env();
	struct ms_rtls_store *st = NULL;
	struct ms_rtls_capability c;
	int found = -1;
	char why[256] = "";
	ck_assert_int_eq(ms_rtls_store_open_sqlite(&env, path, &st, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(st, "alice", "example.org", &c, &found, NULL, 0), MS_OK);
	ck_assert_int_eq(found, 0);

	ck_assert_int_eq(ms_rtls_store_record(st, "alice", "Example.ORG.", 1, 1, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(st, "alice", "example.org", &c, &found, NULL, 0), MS_OK);
	ck_assert_int_eq(found, 1);
	ck_assert(c.starttls && c.requiretls);
	ck_assert(c.updated == clock_now && c.requiretls_last == clock_now);

	/* later attempt without REQUIRETLS: flag drops, last-seen time stays */
	int64_t first = clock_now;
	clock_now += 3600;
	ck_assert_int_eq(ms_rtls_store_record(st, "alice", "example.org", 1, 0, NULL, 0), MS_OK);
	/* per account: bob's view is separate */
	ck_assert_int_eq(ms_rtls_store_record(st, "bob", "example.org", 0, 0, NULL, 0), MS_OK);
	/* REQUIRETLS without STARTTLS is impossible: recorded as not offered */
	ck_assert_int_eq(ms_rtls_store_record(st, "bob", "plain.example", 0, 1, NULL, 0), MS_OK);
	ms_rtls_store_free(st);

	/* the file is in WAL mode */
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode;", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);

	/* reopen: everything is still there */
	st = NULL;
	ck_assert_int_eq(ms_rtls_store_open_sqlite(&env, path, &st, why, sizeof(why)), MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(st, "alice", "EXAMPLE.org", &c, &found, NULL, 0), MS_OK);
	ck_assert_int_eq(found, 1);
	ck_assert(c.starttls && !c.requiretls);
	ck_assert(c.updated == clock_now && c.requiretls_last == first);
	ck_assert_int_eq(ms_rtls_store_get(st, "bob", "example.org", &c, &found, NULL, 0), MS_OK);
	ck_assert(found && !c.starttls && !c.requiretls && c.requiretls_last == 0);
	ck_assert_int_eq(ms_rtls_store_get(st, "bob", "plain.example", &c, &found, NULL, 0), MS_OK);
	ck_assert(found && !c.requiretls);
	ck_assert_int_eq(ms_rtls_store_get(st, "carol", "example.org", &c, &found, NULL, 0), MS_OK);
	ck_assert_int_eq(found, 0);
	ms_rtls_store_free(st);
	ms_rtls_store_free(NULL);
}
END_TEST

START_TEST(test_sqlite_query)
{
	struct ms_env env = test_env();
	struct ms_rtls_store *st = NULL;
	ck_assert_int_eq(ms_rtls_store_open_sqlite(&env, path, &st, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "yes1.example", 1, 1, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "yes2.example", 1, 1, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "no.example", 1, 0, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "other", "unknown.example", 1, 1, NULL, 0), MS_OK);

	const char *all_yes[] = {"yes1.example", "YES2.example."};
	const char *mixed[] = {"yes1.example", "no.example", "unknown.example"};
	enum ms_rtls_support each[3];
	int all = -1;
	ck_assert_int_eq(ms_rtls_store_query(st, "a", all_yes, 2, 0, each, &all, NULL, 0), MS_OK);
	ck_assert_int_eq(all, 1);
	ck_assert_int_eq(each[0], MS_RTLS_SUPPORT_YES);
	ck_assert_int_eq(each[1], MS_RTLS_SUPPORT_YES);
	ck_assert_int_eq(ms_rtls_store_query(st, "a", mixed, 3, 0, each, &all, NULL, 0), MS_OK);
	ck_assert_int_eq(all, 0);
	ck_assert_int_eq(each[0], MS_RTLS_SUPPORT_YES);
	ck_assert_int_eq(each[1], MS_RTLS_SUPPORT_NO);
	ck_assert_int_eq(each[2], MS_RTLS_SUPPORT_UNKNOWN); /* only "other" saw it */
	ck_assert_int_eq(ms_rtls_store_query(st, "a", NULL, 0, 0, NULL, &all, NULL, 0), MS_OK);
	ck_assert_int_eq(all, 1);

	/* stale records are unknown */
	clock_now += 86400 * 31;
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "yes2.example", 1, 1, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_query(st, "a", all_yes, 2, 86400 * 30, each, &all, NULL, 0), MS_OK);
	ck_assert_int_eq(all, 0);
	ck_assert_int_eq(each[0], MS_RTLS_SUPPORT_UNKNOWN);
	ck_assert_int_eq(each[1], MS_RTLS_SUPPORT_YES);

	/* bad input */
	char why[128] = "";
	const char *bad[] = {"yes1.example", "bad domain"};
	ck_assert_int_eq(ms_rtls_store_query(st, "a", bad, 2, 0, each, &all, why, sizeof(why)), MS_ERR_INVALID);
	ck_assert_str_ne(why, "");
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "", 1, 1, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "a..b", 1, 1, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_store_record(st, "a\n", "a.b", 1, 1, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_store_record(st, NULL, "a.b", 1, 1, NULL, 0), MS_ERR_INVALID);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(ms_rtls_store_record(st, "a", longname, 1, 1, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_store_query(st, "a", all_yes, MS_RTLS_MAX_QUERY + 1, 0, NULL, &all, NULL, 0), MS_ERR_LIMIT);
	ms_rtls_store_free(st);
}
END_TEST

/* Issue 14: the requirement is raised to REQUIRETLS only when every
 * recipient domain is known (fresh) to support it, the caller allows it and
 * the message asked for nothing; TLS-Required: No is never overridden. */
START_TEST(test_auto_requirement)
{
	struct ms_env env = test_env();
	struct ms_rtls_store *st = NULL;
	ck_assert_int_eq(ms_rtls_store_open_sqlite(&env, path, &st, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "yes1.example", 1, 1, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "yes2.example", 1, 1, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "a", "no.example", 1, 0, NULL, 0), MS_OK);
	const char *yes[] = {"yes1.example", "yes2.example"};
	const char *mixed[] = {"yes1.example", "no.example"};
	const char *unknown[] = {"yes1.example", "new.example"};
	enum ms_rtls_requirement r;
	const int64_t day = 86400;
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", yes, 2, day, MS_RTLS_REQ_DEFAULT, 1,
						  &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_REQUIRED);
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", yes, 2, day, MS_RTLS_REQ_DEFAULT, 0,
						  &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", yes, 2, day, MS_RTLS_REQ_NOT_REQUIRED,
						  1, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", mixed, 2, day, MS_RTLS_REQ_DEFAULT, 1,
						  &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", unknown, 2, day, MS_RTLS_REQ_DEFAULT,
						  1, &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "b", yes, 2, day, MS_RTLS_REQ_DEFAULT, 1,
						  &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_DEFAULT); /* another account's memory */
	clock_now += 2 * day;                     /* older than max_age */
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", yes, 2, day, MS_RTLS_REQ_DEFAULT, 1,
						  &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_auto_requirement(NULL, "a", yes, 2, day, MS_RTLS_REQ_REQUIRED, 1,
						  &r, NULL, 0), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_REQUIRED);
	ck_assert_int_eq(ms_rtls_auto_requirement(st, "a", NULL, 2, day, MS_RTLS_REQ_DEFAULT, 1,
						  &r, NULL, 0), MS_ERR_INVALID);
	ms_rtls_store_free(st);
}
END_TEST

START_TEST(test_sqlite_two_handles)
{
	/* Two handles on one file, as two MTA processes would have. */
	struct ms_env env = test_env();
	struct ms_rtls_store *a = NULL, *b = NULL;
	struct ms_rtls_capability c;
	int found = 0;
	ck_assert_int_eq(ms_rtls_store_open_sqlite(&env, path, &a, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_open_sqlite(&env, path, &b, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(a, "x", "d.example", 1, 1, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(b, "x", "d.example", &c, &found, NULL, 0), MS_OK);
	ck_assert(found && c.requiretls);
	ck_assert_int_eq(ms_rtls_store_record(b, "x", "d.example", 1, 0, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_get(a, "x", "d.example", &c, &found, NULL, 0), MS_OK);
	ck_assert(found && !c.requiretls);
	ms_rtls_store_free(a);
	ms_rtls_store_free(b);
}
END_TEST

START_TEST(test_sqlite_bad_files)
{
	char why[256] = "";
	struct ms_rtls_store *st = (struct ms_rtls_store *)1;
	/* not a database */
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, just some text that is long enough\n", f);
	for (int i = 0; i < 100; i++)
		fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, path, &st, why, sizeof(why)), MS_ERR_IO);
	ck_assert_ptr_null(st);
	ck_assert_str_ne(why, "");
	unlink(path);

	/* a newer schema than ours is refused, not overwritten */
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	/* the version is kept per store in mailsec_schema (issue 19) */
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE mailsec_schema (component TEXT PRIMARY KEY,"
				      " version INTEGER NOT NULL); INSERT INTO mailsec_schema"
				      " VALUES ('requiretls', 99);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	why[0] = '\0';
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, path, &st, why, sizeof(why)), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(why, "newer"));
	unlink(path);

	/* a directory that does not exist */
	char p2[400];
	snprintf(p2, sizeof(p2), "%s/missing/rtls.db", dir);
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, p2, &st, why, sizeof(why)), MS_ERR_IO);
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, NULL, &st, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, "", &st, NULL, 0), MS_ERR_INVALID);
}
END_TEST

START_TEST(test_sqlite_processes)
{
	/* Several processes create and update one new file at once (an MTA
	 * with many delivery agents): every update lands, none is lost. */
	enum { NPROC = 4, NREC = 25 };
	pid_t pids[NPROC];
	for (int p = 0; p < NPROC; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			struct ms_rtls_store *st = NULL;
			char why[256];
			if (ms_rtls_store_open_sqlite(NULL, path, &st, why, sizeof(why)) != MS_OK)
				_exit(10);
			for (int i = 0; i < NREC; i++) {
				char dom[64];
				snprintf(dom, sizeof(dom), "d%d.p%d.example", i, p);
				if (ms_rtls_store_record(st, "acct", dom, 1, i % 2, why, sizeof(why)) != MS_OK)
					_exit(11);
				/* everyone also hammers one shared row */
				if (ms_rtls_store_record(st, "acct", "shared.example", 1, 1, why, sizeof(why)) != MS_OK)
					_exit(12);
			}
			ms_rtls_store_free(st);
			_exit(0);
		}
	}
	for (int p = 0; p < NPROC; p++) {
		int status = 0;
		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	struct ms_rtls_store *st = NULL;
	ck_assert_int_eq(ms_rtls_store_open_sqlite(NULL, path, &st, NULL, 0), MS_OK);
	for (int p = 0; p < NPROC; p++) {
		for (int i = 0; i < NREC; i++) {
			char dom[64];
			struct ms_rtls_capability c;
			int found = 0;
			snprintf(dom, sizeof(dom), "d%d.p%d.example", i, p);
			ck_assert_int_eq(ms_rtls_store_get(st, "acct", dom, &c, &found, NULL, 0), MS_OK);
			ck_assert(found);
			ck_assert_int_eq(c.requiretls, i % 2);
		}
	}
	ms_rtls_store_free(st);
}
END_TEST

/* ---- a custom store through the ops interface ---- */

struct mem {
	char account[64], domain[64];
	int starttls, requiretls, have, closed;
	int64_t updated, last;
	int fail;
};

static ms_status mem_record(void *impl, const char *account, const char *domain,
			    int starttls, int requiretls, int64_t now, char *why,
			    size_t whylen)
{
	struct mem *m = impl;
	if (m->fail) {
		if (why && whylen)
			snprintf(why, whylen, "backend down");
		return MS_ERR_IO;
	}
	snprintf(m->account, sizeof(m->account), "%s", account);
	snprintf(m->domain, sizeof(m->domain), "%s", domain);
	m->starttls = starttls;
	m->requiretls = requiretls;
	m->updated = now;
	if (requiretls)
		m->last = now;
	m->have = 1;
	return MS_OK;
}

static ms_status mem_get(void *impl, const char *account, const char *domain,
			 struct ms_rtls_capability *out, int *found, char *why,
			 size_t whylen)
{
	struct mem *m = impl;
	(void)why;
	(void)whylen;
	*found = m->have && !strcmp(account, m->account) && !strcmp(domain, m->domain);
	if (*found) {
		out->starttls = m->starttls;
		out->requiretls = m->requiretls;
		out->updated = m->updated;
		out->requiretls_last = m->last;
	}
	return MS_OK;
}

static void mem_close(void *impl)
{
	((struct mem *)impl)->closed++;
}

START_TEST(test_custom_store)
{
	struct ms_env env = test_env();
	struct mem m;
	memset(&m, 0, sizeof(m));
	struct ms_rtls_store_ops ops = {MS_RTLS_STORE_OPS_VERSION, mem_record, mem_get, mem_close};
	struct ms_rtls_store *st = NULL;
	ck_assert_int_eq(ms_rtls_store_new(&env, &ops, &m, &st, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_store_record(st, "acct", "Mixed.Case.Example.", 1, 1, NULL, 0), MS_OK);
	ck_assert_str_eq(m.domain, "mixed.case.example"); /* normalised for the backend */
	ck_assert(m.updated == clock_now);
	const char *doms[] = {"mixed.case.example"};
	enum ms_rtls_support each[1];
	int all = 0;
	ck_assert_int_eq(ms_rtls_store_query(st, "acct", doms, 1, 0, each, &all, NULL, 0), MS_OK);
	ck_assert_int_eq(all, 1);
	/* backend errors come back with their why */
	char why[64] = "";
	m.fail = 1;
	ck_assert_int_eq(ms_rtls_store_record(st, "acct", "x.example", 1, 1, why, sizeof(why)), MS_ERR_IO);
	ck_assert_str_eq(why, "backend down");
	ms_rtls_store_free(st);
	ck_assert_int_eq(m.closed, 1);

	/* incomplete ops: refused, impl still closed */
	struct ms_rtls_store_ops bad = {MS_RTLS_STORE_OPS_VERSION, NULL, mem_get, mem_close};
	ck_assert_int_eq(ms_rtls_store_new(&env, &bad, &m, &st, NULL, 0), MS_ERR_INVALID);
	ck_assert_ptr_null(st);
	ck_assert_int_eq(m.closed, 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("requiretls-store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60); /* several processes on one file, also under valgrind */
	tcase_add_test(tc, test_sqlite_record_get_reopen);
	tcase_add_test(tc, test_sqlite_query);
	tcase_add_test(tc, test_auto_requirement);
	tcase_add_test(tc, test_sqlite_two_handles);
	tcase_add_test(tc, test_sqlite_bad_files);
	tcase_add_test(tc, test_sqlite_processes);
	tcase_add_test(tc, test_custom_store);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
