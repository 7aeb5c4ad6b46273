// SPDX-License-Identifier: Apache-2.0
/*
 * The state database: SQLite in WAL mode at $MSB_HOME/db/msb.db, with
 * numbered migrations applied at open (PRAGMA user_version), safe under
 * many concurrent processes (busy timeout; migrations in an IMMEDIATE
 * transaction).
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/db.h"

static const char *const migrations[] = {
	/* 1: images */
	"CREATE TABLE images ("
	"  reference TEXT PRIMARY KEY,"
	"  manifest_digest TEXT NOT NULL,"
	"  config_digest TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  created TEXT,"
	"  pulled_at INTEGER NOT NULL);"
	"CREATE INDEX images_manifest ON images(manifest_digest);",
	/* 2: sandboxes and their runs */
	"CREATE TABLE sandboxes ("
	"  name TEXT PRIMARY KEY,"
	"  config TEXT NOT NULL," /* JSON: the options to start it */
	"  status TEXT NOT NULL," /* created starting running paused
				     stopping stopped crashed */
	"  image TEXT,"           /* reference, or NULL */
	"  ephemeral INTEGER NOT NULL,"
	"  pid INTEGER," /* supervisor, while it runs */
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  sandbox TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  ended INTEGER,"
	"  exit_reason TEXT);"
	"CREATE INDEX runs_sandbox ON runs(sandbox);",
	/* 3: labels, a JSON object */
	"ALTER TABLE sandboxes ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';",
	/* 4: why a sandbox is paused (host disk full), set by its supervisor */
	"ALTER TABLE sandboxes ADD COLUMN status_reason TEXT;",
	/* 5: images per platform: a reference has one row per platform
	 * ("os/arch[/variant]"; "" for rows recorded before platforms) */
	"CREATE TABLE images_p ("
	"  reference TEXT NOT NULL,"
	"  platform TEXT NOT NULL DEFAULT '',"
	"  manifest_digest TEXT NOT NULL,"
	"  config_digest TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  created TEXT,"
	"  pulled_at INTEGER NOT NULL,"
	"  PRIMARY KEY (reference, platform));"
	"INSERT INTO images_p SELECT reference, '', manifest_digest,"
	"  config_digest, size, created, pulled_at FROM images;"
	"DROP TABLE images;"
	"ALTER TABLE images_p RENAME TO images;"
	"CREATE INDEX images_manifest ON images(manifest_digest);",
	/* 6: how the main process ended (exit status, 128+signal) */
	"ALTER TABLE runs ADD COLUMN exit_code INTEGER;",
};

static int db_err(sqlite3 *db, const char *what)
{
	return msb__error(MSB_ESYS, 0, "database: %s: %s", what,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return version;
}

static int migrate(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = 0;

	/* Up to date (the usual case): no write transaction needed. */
	if (schema_version(db) == (int)ARRAY_SIZE(migrations))
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, "begin");
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	int n = (int)ARRAY_SIZE(migrations);
	if (version > n) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return msb__error(
			MSB_ESTATE, 0,
			"database schema %d is newer than this msb (%d): upgrade msb",
			version, n);
	}
	for (int v = version; v < n; v++) {
		char pragma[64];
		if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) !=
		    SQLITE_OK) {
			int rc = db_err(db, "migration");
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
			 v + 1);
		sqlite3_exec(db, pragma, NULL, NULL, NULL);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = db_err(db, "commit");
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

int msb__db_open(sqlite3 **out, const char *home)
{
	char path[4096];
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/db", home);
	if (mkdir(home, 0700) < 0 && errno != EEXIST)
		return msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", home,
				  strerror(errno));
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", path,
				  strerror(errno));
	snprintf(path, sizeof(path), "%s/db/msb.db", home);
	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "open database `%s`: %s", path,
				db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if ((rc = migrate(db)) < 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

void msb__db_close(sqlite3 *db)
{
	sqlite3_close(db);
}
