// SPDX-License-Identifier: Apache-2.0
/*
 * msb_sandbox_fork() and msb_sandbox_options.snapshot through the API,
 * with real VMs (docs/snapshots.md): a fork into two sandboxes that have
 * the file written before it and keep their writes to themselves, the
 * source running on and no snapshot left; a fork that fails (a name taken,
 * before or after the snapshot) leaves nothing; sandboxes created and
 * defined from a snapshot, with and without a name; the options that
 * cannot go with a snapshot refused, naming them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../unit/check.h"
#include "helpers.h"
#include "microsandbox.h"

static const char *home;

/* The output of `sh -c @cmd` in sandbox @name (static), or "(failed)". */
static const char *sh_in(const char *name, const char *cmd)
{
	static char buf[256];
	msb_sandbox *sb = NULL;
	msb_exec_output *o = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "(failed)");
	if (msb_sandbox_connect(&sb, name) < 0 ||
	    msb_sandbox_shell(&o, sb, cmd, NULL) < 0) {
		fprintf(stderr, "  %s: `%s`: %s\n", name, cmd,
			msb_last_error()->message);
	} else {
		const char *s = msb_exec_output_stdout(o, &n);
		snprintf(buf, sizeof(buf), "%.*s", (int)n, s ? s : "");
		size_t len = strlen(buf);
		if (len && buf[len - 1] == '\n')
			buf[len - 1] = '\0';
	}
	msb_exec_output_free(o);
	msb_sandbox_free(sb);
	return buf;
}

/* The status of sandbox @name (static), or "" when there is none. */
static const char *status_of(const char *name)
{
	static char st[32];
	msb_sandbox_info *v;
	size_t n;

	st[0] = '\0';
	if (msb_sandbox_list(&v, &n) < 0)
		return st;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			snprintf(st, sizeof(st), "%s", v[i].status);
	msb_sandbox_list_free(v, n);
	return st;
}

/* Number of entries in $MSB_HOME/snapshots. */
static int count_snapshots(void)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/snapshots", home);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static bool has_dir(const char *name)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/sandboxes/%s", home, name);
	return stat(path, &st) == 0;
}

static bool error_has(const char *s)
{
	bool ok = strstr(msb_last_error()->message, s) != NULL;
	if (!ok)
		fprintf(stderr, "  error `%s` lacks `%s`\n",
			msb_last_error()->message, s);
	return ok;
}

static void test_fork(void)
{
	msb_sandbox *sb = NULL;
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;

	o.name = "src";
	o.detached = 1;
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	msb_sandbox_free(sb);
	CHECK_STR(sh_in("src", "echo before > /root/before; echo ok"), "ok");

	static const char *const two[] = {"k1", "k2"};
	CHECK(msb_sandbox_fork("src", two, 2, 0) == 0);
	CHECK_STR(status_of("src"), "running");
	CHECK_STR(status_of("k1"), "running");
	CHECK_STR(status_of("k2"), "running");
	CHECK(count_snapshots() == 0);
	CHECK_STR(sh_in("k1", "cat /root/before"), "before");
	CHECK_STR(sh_in("k2", "cat /root/before"), "before");
	/* writes after the fork stay where they were made */
	CHECK_STR(sh_in("k1", "echo k1 > /root/mine; sync; echo ok"), "ok");
	CHECK_STR(sh_in("src", "echo src > /root/after; echo ok"), "ok");
	CHECK_STR(sh_in("k1", "cat /root/mine"), "k1");
	CHECK_STR(sh_in("k2", "test -e /root/mine && echo yes || echo no"),
		  "no");
	CHECK_STR(sh_in("src", "test -e /root/mine && echo yes || echo no"),
		  "no");
	CHECK_STR(sh_in("k1", "test -e /root/after && echo yes || echo no"),
		  "no");
}

static void test_fork_errors(void)
{
	/* a name taken: refused before the snapshot, nothing made */
	static const char *const taken[] = {"k3", "k1"};
	CHECK(msb_sandbox_fork("src", taken, 2, 0) == -MSB_EEXIST);
	CHECK(error_has("`k1` already exists"));
	CHECK_STR(status_of("k3"), "");
	CHECK(!has_dir("k3"));
	CHECK_STR(status_of("src"), "running");
	CHECK(count_snapshots() == 0);

	/* a name whose folder is in the way, found only when that sandbox
	 * is made: the one made before it is removed, and the snapshot */
	char path[4200];
	snprintf(path, sizeof(path), "%s/sandboxes/k5", home);
	CHECK(mkdir(path, 0700) == 0);
	static const char *const late[] = {"k4", "k5"};
	CHECK(msb_sandbox_fork("src", late, 2, 0) == -MSB_EEXIST);
	CHECK_STR(status_of("k4"), "");
	CHECK(!has_dir("k4"));
	CHECK_STR(status_of("k5"), "");
	CHECK(count_snapshots() == 0);
	CHECK_STR(status_of("src"), "running");
	CHECK_STR(sh_in("src", "cat /root/before"), "before");
	rmdir(path);

	static const char *const one[] = {"k6"};
	static const char *const twice[] = {"k6", "k6"};
	static const char *const bad[] = {"a/b"};
	CHECK(msb_sandbox_fork("src", twice, 2, 0) == -MSB_EINVAL);
	CHECK(error_has("given twice"));
	CHECK(msb_sandbox_fork("src", bad, 1, 0) == -MSB_EINVAL);
	CHECK(msb_sandbox_fork("src", one, 0, 0) == -MSB_EINVAL);
	CHECK(msb_sandbox_fork("src", one, 1, 8) == -MSB_EINVAL);
	CHECK(msb_sandbox_fork("src", NULL, 1, 0) == -MSB_EINVAL);
	CHECK(msb_sandbox_fork("nosuch", one, 1, 0) == -MSB_ENOTFOUND);
	/* a stopped source */
	msb_sandbox *sb = NULL;
	CHECK(msb_sandbox_connect(&sb, "k2") == 0);
	CHECK(msb_sandbox_stop(sb, 10000) == 0);
	msb_sandbox_free(sb);
	CHECK(msb_sandbox_fork("k2", one, 1, 0) == -MSB_ESTATE);
	CHECK(error_has("not running"));
	CHECK_STR(status_of("k6"), "");
	CHECK(count_snapshots() == 0);
}

static void test_options_snapshot(void)
{
	msb_sandbox *sb = NULL;
	CHECK(msb_sandbox_snapshot("src", "s1", 0) == 0);

	/* create: a handle to it running, from the snapshot's instant */
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	o.snapshot = "s1";
	o.name = "o1";
	o.memory_mib = 512; /* the snapshot's: taken */
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	msb_exec_output *out = NULL;
	size_t n = 0;
	CHECK(sb && msb_sandbox_shell(&out, sb, "cat /root/before", NULL) == 0);
	const char *s = out ? msb_exec_output_stdout(out, &n) : NULL;
	CHECK(s && n == 7 && !memcmp(s, "before\n", 7));
	msb_exec_output_free(out);
	/* not detached: it stops with its handle, and stays (named) */
	msb_sandbox_free(sb);
	sb = NULL;
	char st[32] = "";
	CHECK(msb_sandbox_wait("o1", 60000, st, sizeof(st)) == 0);
	CHECK_STR(st, "stopped");
	CHECK(msb_sandbox_remove("o1", 1) == 0);

	/* unnamed: a generated name, removed when it stops */
	o = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	o.snapshot = "s1";
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	char name[64] = "";
	snprintf(name, sizeof(name), "%s", sb ? msb_sandbox_name(sb) : "");
	CHECK(!strncmp(name, "msb-", 4));
	CHECK_STR(sh_in(name, "cat /root/before"), "before");
	msb_sandbox_free(sb);
	sb = NULL;
	time_t end = time(NULL) + 60;
	while (*status_of(name) && time(NULL) < end)
		nanosleep(&(struct timespec){0, 100000000}, NULL);
	CHECK_STR(status_of(name), "");
	CHECK(!has_dir(name));

	/* detached, with labels */
	static const char *const labels[] = {"team=a", NULL};
	o = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	o.snapshot = "s1";
	o.name = "o2";
	o.detached = 1;
	o.labels = labels;
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	msb_sandbox_free(sb);
	sb = NULL;
	CHECK_STR(status_of("o2"), "running");
	CHECK_STR(sh_in("o2", "cat /root/before"), "before");
	msb_sandbox_info *v;
	size_t nv;
	bool labelled = false;
	CHECK(msb_sandbox_list(&v, &nv) == 0);
	for (size_t i = 0; i < nv; i++)
		if (!strcmp(v[i].name, "o2") && v[i].labels && v[i].labels[0] &&
		    !strcmp(v[i].labels[0], "team=a"))
			labelled = true;
	msb_sandbox_list_free(v, nv);
	CHECK(labelled);
	CHECK(msb_sandbox_remove("o2", 1) == 0);

	/* define: made, suspended until started */
	o = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	o.snapshot = "s1";
	o.name = "o3";
	o.cpus = 1;
	CHECK(msb_sandbox_define(&o) == 0);
	CHECK_STR(status_of("o3"), "suspended");
	CHECK(msb_sandbox_start(&sb, "o3", 1) == 0);
	msb_sandbox_free(sb);
	sb = NULL;
	CHECK_STR(sh_in("o3", "cat /root/before"), "before");
	CHECK(msb_sandbox_remove("o3", 1) == 0);
	o.name = NULL;
	CHECK(msb_sandbox_define(&o) == -MSB_EINVAL);

	/* refused: each names its option; nothing is left */
	static const char *const env[] = {"A=1", NULL};
	o = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	o.snapshot = "s1";
	o.name = "x1";
	o.env = env;
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EINVAL && !sb);
	CHECK(error_has("options.env cannot be combined"));
	o.env = NULL;
	o.hostname = "h";
	CHECK(msb_sandbox_define(&o) == -MSB_EINVAL);
	CHECK(error_has("options.hostname"));
	o.hostname = NULL;
	o.memory_mib = 1024;
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EINVAL);
	CHECK(error_has("options.memory_mib 1024"));
	o.memory_mib = 0;
	o.cpus = 2;
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EINVAL);
	CHECK(error_has("options.cpus"));
	o.cpus = 0;
	o.image = "alpine";
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EINVAL);
	CHECK(error_has("options.image `alpine`"));
	o.image = NULL;
	o.snapshot = "nosuch";
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_ENOTFOUND);
	o.snapshot = "s1";
	o.name = "src";
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EEXIST);
	CHECK_STR(status_of("x1"), "");
	CHECK(!has_dir("x1"));
	CHECK_STR(status_of("src"), "running");
}

int main(void)
{
	home = temp_home();
	unsetenv("MSB_ACCEL");

	test_case("fork", 240);
	test_fork();
	test_case("fork errors", 240);
	test_fork_errors();
	test_case("options.snapshot", 300);
	test_options_snapshot();

	static const char *const all[] = {"src", "k1", "k2", NULL};
	for (const char *const *n = all; *n; n++)
		msb_sandbox_remove(*n, 1);
	alarm(0);
	remove_tree(home);
	return check_summary("test_fork");
}
