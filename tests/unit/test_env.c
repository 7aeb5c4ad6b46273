// SPDX-License-Identifier: Apache-2.0
/* The supervisor's environment (msb_env_for_supervisor(), util.c): what
 * it keeps of the caller's, never a secret's variable. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/util.h"

/* The number of entries of @v. */
static size_t count(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static int has(char **v, const char *e)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!strcmp(v[i], e))
			return 1;
	return 0;
}

int main(void)
{
	char *env[] = {"PATH=/usr/bin:/bin",
		       "HOME=/home/u",
		       "OPENAI_API_KEY=sk-value",
		       "AWS_SECRET_ACCESS_KEY=aws-value",
		       "MSB_HOME=/tmp/h",
		       "MSB_SECCOMP=log",
		       "MSB_TOKEN=tok-value",
		       "LC_ALL=C.UTF-8",
		       "LANG=C",
		       "TZ=UTC",
		       "ASAN_OPTIONS=detect_leaks=0",
		       "LLVM_PROFILE_FILE=/tmp/p",
		       "LD_LIBRARY_PATH=/opt/lib",
		       "LD_PRELOAD=/tmp/evil.so",
		       "SSL_CERT_FILE=/etc/ssl/x.pem",
		       "PATHX=1",
		       "MSB_=1",
		       "LC_=1",
		       "=novalue",
		       "NOEQUALS",
		       NULL};
	const char *drop[] = {"OPENAI_API_KEY", "MSB_TOKEN", NULL};

	char **v = msb_env_for_supervisor(env, drop);
	CHECK(v != NULL);
	CHECK(has(v, "PATH=/usr/bin:/bin"));
	CHECK(has(v, "MSB_HOME=/tmp/h"));
	CHECK(has(v, "MSB_SECCOMP=log"));
	CHECK(has(v, "LC_ALL=C.UTF-8"));
	CHECK(has(v, "LANG=C"));
	CHECK(has(v, "TZ=UTC"));
	CHECK(has(v, "ASAN_OPTIONS=detect_leaks=0"));
	CHECK(has(v, "LLVM_PROFILE_FILE=/tmp/p"));
	CHECK(has(v, "LD_LIBRARY_PATH=/opt/lib"));
	CHECK(!has(v, "LD_PRELOAD=/tmp/evil.so"));
	CHECK(has(v, "SSL_CERT_FILE=/etc/ssl/x.pem"));
	/* a secret's variable goes, MSB_ or not; so does anything else */
	CHECK(!has(v, "OPENAI_API_KEY=sk-value"));
	CHECK(!has(v, "MSB_TOKEN=tok-value"));
	CHECK(!has(v, "AWS_SECRET_ACCESS_KEY=aws-value"));
	CHECK(!has(v, "HOME=/home/u"));
	CHECK(!has(v, "PATHX=1") && !has(v, "MSB_=1") && !has(v, "LC_=1"));
	CHECK(!has(v, "=novalue") && !has(v, "NOEQUALS"));
	CHECK(count(v) == 10);
	/* pointers into the caller's array, not copies */
	CHECK(v && v[0] == env[0]);
	free(v);

	/* no secrets, an empty environment */
	v = msb_env_for_supervisor(env, NULL);
	CHECK(has(v, "MSB_TOKEN=tok-value") &&
	      !has(v, "OPENAI_API_KEY=sk-value"));
	free(v);
	char *none[] = {NULL};
	v = msb_env_for_supervisor(none, drop);
	CHECK(v && !v[0]);
	free(v);
	v = msb_env_for_supervisor(NULL, NULL);
	CHECK(v && !v[0]);
	free(v);
	return check_summary("env");
}
