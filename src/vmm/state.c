// SPDX-License-Identifier: Apache-2.0
/* The supervisor's writes to the state database (see state.h). */
#include "vmm/state.h"

#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

static sqlite3 *db;
static char sandbox[128];
static sqlite3_int64 run_id;

static void exec_sql(const char *sql, const char *a, sqlite3_int64 b,
		     sqlite3_int64 c)
{
	sqlite3_stmt *st;

	if (!db)
		return;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "msb-vmm: database: %s\n", sqlite3_errmsg(db));
		return;
	}
	/* Parameters by number: ?1 text, ?2 and ?3 integers, ?4 the
	 * sandbox name; a statement uses those it needs (binding the
	 * others is harmless up to the highest number it uses). */
	int n = sqlite3_bind_parameter_count(st);
	if (n >= 1) {
		if (a)
			sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 1);
	}
	if (n >= 2)
		sqlite3_bind_int64(st, 2, b);
	if (n >= 3)
		sqlite3_bind_int64(st, 3, c);
	if (n >= 4)
		sqlite3_bind_text(st, 4, sandbox, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		fprintf(stderr, "msb-vmm: database: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

void state_open(const char *home, const char *name)
{
	char path[4096];

	snprintf(sandbox, sizeof(sandbox), "%s", name);
	snprintf(path, sizeof(path), "%s/db/msb.db", home);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "msb-vmm: open database `%s`: %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		db = NULL;
		return;
	}
	sqlite3_busy_timeout(db, 10000);
}

void state_status(const char *status, int pid)
{
	if (pid > 0)
		exec_sql("UPDATE sandboxes SET status = ?1, pid = ?2, "
			 "updated = ?3 WHERE name = ?4",
			 status, pid, (sqlite3_int64)time(NULL));
	else
		exec_sql("UPDATE sandboxes SET status = ?1, pid = NULL, "
			 "updated = ?3 WHERE name = ?4",
			 status, 0, (sqlite3_int64)time(NULL));
}

void state_reason(const char *reason)
{
	exec_sql("UPDATE sandboxes SET status_reason = ?1 WHERE name = ?4",
		 reason, 0, 0);
}

void state_run_begin(int pid)
{
	exec_sql("INSERT INTO runs (sandbox, pid, started) "
		 "VALUES (?4, ?2, ?3)",
		 NULL, pid, (sqlite3_int64)time(NULL));
	if (db)
		run_id = sqlite3_last_insert_rowid(db);
}

void state_run_end(const char *reason)
{
	if (run_id)
		exec_sql("UPDATE runs SET exit_reason = ?1, ended = ?3 "
			 "WHERE id = ?2",
			 reason, run_id, (sqlite3_int64)time(NULL));
}

void state_exit_code(int code)
{
	if (run_id)
		exec_sql("UPDATE runs SET exit_code = ?3 WHERE id = ?2", NULL,
			 run_id, code);
}

void state_delete(void)
{
	exec_sql("DELETE FROM runs WHERE sandbox = ?4", NULL, 0, 0);
	exec_sql("DELETE FROM sandboxes WHERE name = ?4", NULL, 0, 0);
}

void state_close(void)
{
	sqlite3_close(db);
	db = NULL;
}
