// SPDX-License-Identifier: Apache-2.0
/*
 * Image IDs: the forms an ID takes (full digest, manifest digest, 64 hex
 * digits, a prefix), ambiguous prefixes named, one image under several
 * references, and removal by ID refused for such an image.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lib/db.h"
#include "lib/image/image.h"
#include "microsandbox.h"

#define HEX_A "abc1230000000000000000000000000000000000000000000000000000000000"
#define HEX_B "abc4560000000000000000000000000000000000000000000000000000000000"
#define HEX_C "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_M "eeee000000000000000000000000000000000000000000000000000000000000"

static char home[] = "/tmp/msb-imageid-XXXXXX";

static int sql(sqlite3 *db, const char *s)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, s, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		fprintf(stderr, "sql: %s: %s\n", s, err ? err : "?");
	sqlite3_free(err);
	return rc;
}

/* find(@id): "REF[,REF...]@PLATFORM", "none" (not an ID form), or
 * "error N: MESSAGE". */
static const char *find(const char *id)
{
	static char out[1024];
	char **refs = NULL, *platform = NULL, *full = NULL;
	int rc = msb__image_find_id(home, id, &refs, &platform, &full);

	if (rc == 1) {
		CHECK(!refs && !platform && !full);
		return "none";
	}
	if (rc < 0) {
		CHECK(!refs && !platform && !full);
		snprintf(out, sizeof(out), "error %d: %.900s", -rc,
			 msb_last_error()->message);
		return out;
	}
	out[0] = '\0';
	for (size_t i = 0; refs && refs[i]; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
			 i ? "," : "", refs[i]);
	snprintf(out + strlen(out), sizeof(out) - strlen(out), "@%s",
		 platform ? platform : "(null)");
	CHECK(full && !strncmp(full, "sha256:", 7) && strlen(full) == 71);
	free(full);
	for (size_t i = 0; refs && refs[i]; i++)
		free(refs[i]);
	free(refs);
	free(platform);
	return out;
}

int main(void)
{
	sqlite3 *db;
	char sid[16];

	CHECK(mkdtemp(home) != NULL);
	CHECK(msb__db_open(&db, home) == 0);
	/* A: one reference, two platforms (arm64 is image B); C: two
	 * references and a legacy row. */
	CHECK(sql(db,
		  "INSERT INTO images (reference, platform, manifest_digest,"
		  " config_digest, size, pulled_at) VALUES"
		  " ('r.example/a:1', 'linux/amd64', 'sha256:" HEX_M
		  "', 'sha256:" HEX_A "', 1, 1),"
		  " ('r.example/a:1', 'linux/arm64', 'sha256:1" HEX_M
		  "', 'sha256:" HEX_B "', 1, 1),"
		  " ('r.example/c:2', 'linux/amd64', 'sha256:2" HEX_M
		  "', 'sha256:" HEX_C "', 1, 1),"
		  " ('r.example/b:1', 'linux/amd64', 'sha256:2" HEX_M
		  "', 'sha256:" HEX_C "', 1, 1),"
		  " ('r.example/b:1', '', 'sha256:2" HEX_M "', 'sha256:" HEX_C
		  "', 1, 1);") == SQLITE_OK);
	msb__db_close(db);

	/* not IDs: names, upper case, too long */
	CHECK_STR(find("busybox"), "none");
	CHECK_STR(find("ABC123"), "none");
	CHECK_STR(find(HEX_C "0"), "none");
	CHECK_STR(find(""), "none");

	/* prefixes of any length, unique */
	CHECK_STR(find("abc123"), "r.example/a:1@linux/amd64");
	CHECK_STR(find("abc4"), "r.example/a:1@linux/arm64");
	CHECK_STR(find("0"), "r.example/b:1,r.example/c:2@");
	CHECK_STR(find("0123456789ab"), "r.example/b:1,r.example/c:2@");
	/* ambiguous: both candidates named */
	const char *amb = find("abc");
	CHECK(!strncmp(amb, "error 1: image ID `abc` is ambiguous", 36));
	CHECK(strstr(amb, "abc123000000 (r.example/a:1)") != NULL);
	CHECK(strstr(amb, "abc456000000 (r.example/a:1)") != NULL);
	CHECK(strstr(amb, "give more digits") != NULL);
	CHECK(!strncmp(find("abd"), "error 4: no stored image has the ID", 35));

	/* full IDs and digests */
	CHECK_STR(find(HEX_A), "r.example/a:1@linux/amd64");
	CHECK_STR(find("sha256:" HEX_B), "r.example/a:1@linux/arm64");
	CHECK_STR(find("sha256:" HEX_M), "r.example/a:1@linux/amd64");
	CHECK(!strncmp(find("sha256:abc"), "error 1: invalid image digest",
		       29));
	CHECK(!strncmp(find("sha256:" HEX_C "0"),
		       "error 1: invalid image digest", 29));
	CHECK(!strncmp(find("sha256:ffff000000000000000000000000000000000000"
			    "000000000000000000000000"),
		       "error 4: no stored image has the digest", 39));

	/* the full ID of a prefix, for recording: not of references,
	 * full IDs, ambiguous or unknown prefixes */
	int before = msb_last_error()->code;
	char *full = msb__image_full_id(home, "0123");
	CHECK_STR(full, "sha256:" HEX_C);
	free(full);
	CHECK(msb__image_full_id(home, "abc") == NULL);
	CHECK(msb__image_full_id(home, "abd") == NULL);
	CHECK(msb__image_full_id(home, HEX_C) == NULL);
	CHECK(msb__image_full_id(home, "r.example/b:1") == NULL);
	CHECK(msb_last_error()->code == before); /* not kept */

	msb__image_short_id("sha256:" HEX_C, sid, sizeof(sid));
	CHECK_STR(sid, "0123456789ab");

	/* removal by ID: refused for an image under two references, one
	 * platform of a reference otherwise */
	CHECK(setenv("MSB_HOME", home, 1) == 0);
	CHECK(msb_image_remove("0123") == -MSB_ESTATE);
	CHECK(strstr(msb_last_error()->message,
		     "stored as `r.example/b:1`, `r.example/c:2`") != NULL);
	CHECK(msb_image_remove("abc") == -MSB_EINVAL);
	CHECK(msb_image_remove("abc4") == 0);
	CHECK_STR(find("abc"), "r.example/a:1@linux/amd64");
	CHECK(msb_image_remove("abc4") == -MSB_ENOTFOUND);

	/* a stored reference named like an ID prefix comes first */
	CHECK(msb__db_open(&db, home) == 0);
	CHECK(sql(db, "INSERT INTO images (reference, platform, "
		      "manifest_digest, config_digest, size, pulled_at) VALUES"
		      " ('docker.io/library/0123:latest', 'linux/amd64', "
		      "'sha256:" HEX_M "', 'sha256:" HEX_A
		      "', 1, 1);") == SQLITE_OK);
	msb__db_close(db);
	CHECK(msb__image_full_id(home, "0123") == NULL);
	full = msb__image_full_id(home, "01234");
	CHECK_STR(full, "sha256:" HEX_C);
	free(full);

	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	CHECK(system(cmd) == 0);
	return check_summary("test_imageid");
}
