/*
 * ms_sqlite_schema.h - the schema version of an SQLite store (issue 19),
 * for the libraries that link SQLite (header only: common/ does not).
 *
 * Several stores may share one file (a fleet-less MTA pointing every store
 * at one path), so the version is kept per component in a table, as in
 * PostgreSQL (mailsec_schema), not in the file-wide PRAGMA user_version.
 * Step i of `migrations` brings version i to i+1; step 0 uses CREATE ...
 * IF NOT EXISTS, so files from before the table existed migrate too.
 */
#ifndef MS_SQLITE_SCHEMA_H
#define MS_SQLITE_SCHEMA_H

#include <sqlite3.h>

/* SQLITE_OK, an SQLite error (BUSY: retry), or SQLITE_ERROR with *err set
 * (sqlite3_malloc'ed) when the file's version is newer than ours. */
static inline int ms_sqlite_schema(sqlite3 *db, const char *component,
				   const char *const *migrations, int n, char **err)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, err);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS mailsec_schema ("
			  " component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
			  NULL, NULL, err);
	int ver = 0;
	sqlite3_stmt *q = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT version FROM mailsec_schema WHERE component = ?1",
					-1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, component, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			ver = sqlite3_column_int(q, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_OK && (ver < 0 || ver > n)) {
		*err = sqlite3_mprintf("%s schema version %d is newer than this library's %d",
				       component, ver, n);
		rc = SQLITE_ERROR;
	}
	for (int i = ver; rc == SQLITE_OK && i < n; i++)
		rc = sqlite3_exec(db, migrations[i], NULL, NULL, err);
	if (rc == SQLITE_OK && ver < n) {
		q = NULL;
		rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO mailsec_schema (component, version)"
					" VALUES (?1, ?2)", -1, &q, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(q, 1, component, -1, SQLITE_STATIC);
			sqlite3_bind_int(q, 2, n);
			rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		}
		sqlite3_finalize(q);
	}
	if (rc == SQLITE_OK)
		return sqlite3_exec(db, "COMMIT", NULL, NULL, err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

#endif
