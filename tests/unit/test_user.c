// SPDX-License-Identifier: Apache-2.0
/* Unit tests: user specs against /etc/passwd and /etc/group images. */
#include <string.h>

#include "../../src/agent/user.h"
#include "check.h"

static const char passwd[] =
	"root:x:0:0:root:/root:/bin/sh\n"
	"# a comment\n"
	"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
	"broken line without fields\n"
	"app:x:1000:1000:App,,,:/home/app:/bin/sh\n"
	"huge:x:99999999999:1:x:/:/bin/sh\n"
	"last:x:1001:1001::/home/last:/bin/sh"; /* no final newline */
static const char group[] = "root:x:0:\n"
			    "wheel:x:10:app,last\n"
			    "staff:x:50:other,app\n"
			    "app:x:1000:\n"
			    "bad:x:notanumber:app\n";

static int resolve(struct user_ids *u, const char *spec, char *why)
{
	return user_resolve(u, spec, passwd, strlen(passwd), group,
			    strlen(group), why, 128);
}

int main(void)
{
	struct user_ids u;
	char why[128];

	CHECK(resolve(&u, "root", why) == 0 && u.uid == 0 && u.gid == 0);
	CHECK_STR(u.home, "/root");
	CHECK(resolve(&u, "app", why) == 0 && u.uid == 1000 && u.gid == 1000);
	CHECK_STR(u.home, "/home/app");
	/* primary group first, then memberships, no duplicates */
	CHECK(u.ngroups == 3 && u.groups[0] == 1000 && u.groups[1] == 10 &&
	      u.groups[2] == 50);
	CHECK(resolve(&u, "last", why) == 0 && u.uid == 1001);
	CHECK(u.ngroups == 2 && u.groups[1] == 10);
	CHECK(resolve(&u, "1000", why) == 0 && u.uid == 1000 && u.gid == 1000);
	/* a uid without an entry gets gid 0 */
	CHECK(resolve(&u, "4242", why) == 0 && u.uid == 4242 && u.gid == 0);
	CHECK(u.home[0] == '\0');
	CHECK(resolve(&u, "app:staff", why) == 0 && u.gid == 50 &&
	      u.ngroups == 1);
	CHECK(resolve(&u, "1000:7", why) == 0 && u.uid == 1000 && u.gid == 7);
	CHECK(resolve(&u, "nobody", why) < 0 && strstr(why, "unknown user"));
	CHECK(resolve(&u, "app:nogroup", why) < 0 &&
	      strstr(why, "unknown group"));
	CHECK(resolve(&u, "huge", why) < 0);
	CHECK(resolve(&u, "", why) < 0 && strstr(why, "invalid user"));
	CHECK(resolve(&u, "app:", why) < 0);
	CHECK(resolve(&u, ":1", why) < 0);
	CHECK(resolve(&u, "4294967295", why) < 0);
	/* no files at all: numeric ids still work */
	CHECK(user_resolve(&u, "5:6", NULL, 0, NULL, 0, why, sizeof(why)) ==
		      0 &&
	      u.uid == 5 && u.gid == 6);
	CHECK(user_resolve(&u, "root", NULL, 0, NULL, 0, why, sizeof(why)) < 0);
	return check_summary("test_user");
}
