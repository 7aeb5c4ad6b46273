// SPDX-License-Identifier: Apache-2.0
/*
 * The image table per platform: the migration of rows recorded before
 * platforms, lookup by platform (exact, matching, legacy), the platforms
 * named when none fits, and listing one entry per platform.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lib/db.h"
#include "lib/image/image.h"
#include "lib/image/oci.h"

#define REF "registry.example/multi:latest"
#define DA                                                                     \
	"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB                                                                     \
	"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DL                                                                     \
	"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static char home[] = "/tmp/msb-imagedb-XXXXXX";

static int sql(sqlite3 *db, const char *s)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, s, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		fprintf(stderr, "sql: %s: %s\n", s, err ? err : "?");
	sqlite3_free(err);
	return rc;
}

/* A database as schema 4 left it, with one image. */
static void make_old_db(void)
{
	char path[4200];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/db", home);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/db/msb.db", home);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sql(db,
		  "CREATE TABLE images (reference TEXT PRIMARY KEY,"
		  " manifest_digest TEXT NOT NULL, config_digest TEXT NOT NULL,"
		  " size INTEGER NOT NULL, created TEXT, pulled_at INTEGER NOT NULL);"
		  "CREATE INDEX images_manifest ON images(manifest_digest);"
		  "CREATE TABLE sandboxes (name TEXT PRIMARY KEY);"
		  "CREATE TABLE runs (id INTEGER PRIMARY KEY);"
		  "INSERT INTO images VALUES ('" REF "', '" DL "', '" DL
		  "', 7, NULL, 1);"
		  "PRAGMA user_version = 4;") == SQLITE_OK);
	sqlite3_close(db);
}

static const char *lookup(const char *platform, char *others, size_t len)
{
	static char digest[100];
	struct msb_platform p;
	msb_image img = {0};

	if (platform)
		CHECK(msb_platform_parse(&p, platform) == 0);
	int rc = msb__image_db_lookup(home, REF, platform ? &p : NULL, &img,
				      others, len);
	snprintf(digest, sizeof(digest), "%s",
		 rc == 0 && img.digest ? img.digest : "(none)");
	if (rc == 0)
		CHECK(img.platform != NULL);
	free(img.digest);
	free(img.config_digest);
	free(img.platform);
	return digest;
}

int main(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char others[256];

	CHECK(mkdtemp(home) != NULL);
	make_old_db();

	/* migration: the old row is kept, its platform unknown ("") */
	CHECK(msb__db_open(&db, home) == 0);
	CHECK(sqlite3_prepare_v2(db,
				 "SELECT platform, manifest_digest FROM images",
				 -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "");
	CHECK_STR((const char *)sqlite3_column_text(st, 1), DL);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);

	/* the legacy row serves any platform until a real one is stored */
	CHECK_STR(lookup("linux/arm64", others, sizeof(others)), DL);

	/* one reference, two platforms: two rows */
	CHECK(sql(db,
		  "INSERT INTO images (reference, platform, manifest_digest,"
		  " config_digest, size, pulled_at) VALUES"
		  " ('" REF "', 'linux/amd64', '" DA "', '" DA "', 1, 2),"
		  " ('" REF "', 'linux/arm64/v8', '" DB "', '" DB
		  "', 1, 2);") == SQLITE_OK);
	CHECK(sql(db,
		  "INSERT INTO images (reference, platform, manifest_digest,"
		  " config_digest, size, pulled_at) VALUES"
		  " ('" REF "', 'linux/amd64', '" DB "', '" DB "', 1, 2);") !=
	      SQLITE_OK); /* (reference, platform) is the key */
	CHECK_STR(lookup("linux/amd64", others, sizeof(others)), DA);
	CHECK_STR(lookup("linux/arm64/v8", others, sizeof(others)), DB);
	CHECK_STR(lookup("linux/arm64", others, sizeof(others)), DB);
	CHECK_STR(lookup("linux/arm/v7", others, sizeof(others)), DL);

	/* without the legacy row, another platform is not found, and the
	 * stored ones are named */
	CHECK(sql(db, "DELETE FROM images WHERE platform = ''") == SQLITE_OK);
	CHECK_STR(lookup("linux/arm/v7", others, sizeof(others)), "(none)");
	CHECK_STR(others, "linux/amd64, linux/arm64/v8");
	CHECK_STR(lookup("linux/s390x", NULL, 0), "(none)");
	CHECK_STR(lookup("linux/amd64", others, sizeof(others)), DA);
	CHECK_STR(others, "linux/arm64/v8");
	CHECK(msb__image_db_lookup(home, "other/ref:latest", NULL,
				   &(msb_image){0}, others,
				   sizeof(others)) == -MSB_ENOTFOUND);
	CHECK_STR(others, "");
	msb__db_close(db);

	/* the list has one entry per platform */
	msb_image **list;
	size_t n;
	CHECK(setenv("MSB_HOME", home, 1) == 0);
	CHECK(msb_image_list(&list, &n) == 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(msb_image_reference(list[0]), REF);
		CHECK_STR(msb_image_platform(list[0]), "linux/amd64");
		CHECK_STR(msb_image_digest(list[0]), DA);
		CHECK_STR(msb_image_platform(list[1]), "linux/arm64/v8");
		CHECK_STR(msb_image_digest(list[1]), DB);
	}
	msb_image_list_free(list, n);

	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	CHECK(system(cmd) == 0);
	return check_summary("test_imagedb");
}
