// SPDX-License-Identifier: Apache-2.0
/*
 * The main process and the exec defaults through the API: a workload that
 * exits with its status, restarted on failure, its status kept; exec
 * defaults that later handles load; a version 1 options struct; a main
 * process with stdin, attached to (msb_sandbox_attach_main()).
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "helpers.h"
#include "microsandbox.h"

/* The version 1 layout: msb_sandbox_options up to n_binds. */
struct options_v1 {
	unsigned int version;
	const char *name, *image;
	unsigned int cpus, memory_mib;
	const char *const *env;
	unsigned int boot_timeout_s;
	const msb_pull_options *pull;
	int detached;
	unsigned int idle_timeout_s, max_duration_s;
	const char *const *labels;
	const msb_volume_mount *volumes;
	size_t n_volumes;
	const struct msb_tmpfs *tmpfs;
	size_t n_tmpfs;
	const struct msb_patch *patches;
	size_t n_patches;
	unsigned int root_size_mib;
	const char *root_fstype;
	int root_writable;
	const msb_bind_mount *binds;
	size_t n_binds;
};

int main(void)
{
	const char *home = temp_home();
	msb_exec_output *out;
	msb_sandbox *sb;
	char status[32];
	int code;

	/* on-failure:2: three runs, then the sandbox stops with status 3 */
	test_case("main process, on-failure:2", 120);
	static const char *const cmd[] = {
		"sh", "-c", "echo run >> /tmp/runs; echo out; exit 3", NULL};
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	o.name = "wl";
	o.detached = 1;
	o.run_main = 1;
	o.cmd = cmd;
	o.restart = MSB_RESTART_ON_FAILURE;
	o.restart_max = 2;
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	msb_sandbox_free(sb);
	CHECK(msb_sandbox_wait("wl", 60000, status, sizeof(status)) == 0);
	CHECK_STR(status, "stopped");
	CHECK(msb_sandbox_exit_code("wl", &code) == 0 && code == 3);
	char path[4200];
	snprintf(path, sizeof(path), "%s/sandboxes/wl/logs/main.log", home);
	FILE *f = fopen(path, "re");
	char log[256] = "";
	size_t n = f ? fread(log, 1, sizeof(log) - 1, f) : 0;
	log[n] = '\0';
	if (f)
		fclose(f);
	CHECK_STR(log, "out\nout\nout\n");
	char *config = NULL;
	CHECK(msb_sandbox_config("wl", &config) == 0 && config &&
	      strstr(config, "\"restart\":\"on-failure\""));
	free(config);
	CHECK(msb_sandbox_remove("wl", 0) == 0);

	/* exec defaults: stored, loaded by msb_sandbox_connect() */
	test_case("exec defaults", 120);
	static const char *const rl[] = {"nofile=77", NULL};
	static const char *const env[] = {"A=1", NULL};
	o = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	o.name = "defs";
	o.detached = 1;
	o.workdir = "/tmp";
	o.env = env;
	o.rlimits = rl;
	o.exec_timeout_ms = 2000;
	o.hostname = "apihost";
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	msb_sandbox_free(sb);
	CHECK(msb_sandbox_connect(&sb, "defs") == 0);
	CHECK(msb_sandbox_shell(&out, sb, "pwd; echo $A; ulimit -n; hostname",
				NULL) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "/tmp\n1\n77\napihost\n");
	msb_exec_output_free(out);
	/* an exec's own options win */
	msb_exec_options eo = MSB_EXEC_OPTIONS_INIT;
	static const char *const rl2[] = {"nofile=88", NULL};
	eo.cwd = "/";
	eo.rlimits = rl2;
	CHECK(msb_sandbox_shell(&out, sb, "pwd; ulimit -n", &eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "/\n88\n");
	msb_exec_output_free(out);
	/* the stored timeout applies */
	CHECK(msb_sandbox_shell(&out, sb, "sleep 30", NULL) == -MSB_ETIMEDOUT);
	msb_exec_output_free(out);
	CHECK(msb_sandbox_stop(sb, 0) == 0);
	msb_sandbox_free(sb);
	CHECK(msb_sandbox_remove("defs", 0) == 0);

	/* main_stdin: attach, feed it, one attachment at a time, EOF */
	test_case("attach to the main process", 120);
	static const char *const cat[] = {
		"sh", "-c", "while read l; do echo \"got:$l\"; done; exit 6",
		NULL};
	o = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	o.name = "att";
	o.detached = 1;
	o.run_main = 1;
	o.cmd = cat;
	o.main_stdin = 1;
	CHECK(msb_sandbox_create(&sb, &o) == 0);
	msb_exec *e = NULL, *e2 = NULL;
	msb_exec_event ev;
	CHECK(msb_sandbox_attach_main(&e, sb, MSB_ATTACH_STDIN) == 0);
	CHECK(msb_exec_next(e, &ev, 60000) == 0 && ev.type == MSB_EXEC_STARTED);
	CHECK(!msb_exec_tty(e));
	/* a second one is refused while the first is on */
	CHECK(msb_sandbox_attach_main(&e2, sb, 0) == 0);
	CHECK(msb_exec_next(e2, &ev, 60000) == -MSB_ESTATE);
	CHECK(strstr(msb_last_error()->message, "attached elsewhere") != NULL);
	msb_exec_free(e2);
	CHECK(msb_exec_write(e, "hi\n", 3) == 0);
	char got[64] = "";
	size_t glen = 0;
	int rc;
	while ((rc = msb_exec_next(e, &ev, 60000)) == 0 &&
	       ev.type == MSB_EXEC_STDOUT) {
		size_t k = ev.len < sizeof(got) - 1 - glen
				   ? ev.len
				   : sizeof(got) - 1 - glen;
		memcpy(got + glen, ev.data, k);
		got[glen += k] = '\0';
		if (strchr(got, '\n'))
			break;
	}
	CHECK_STR(got, "got:hi\n");
	/* freeing the handle detaches; its stdin stays open */
	msb_exec_free(e);
	CHECK(msb_sandbox_attach_main(&e, sb, MSB_ATTACH_STDIN) == 0);
	CHECK(msb_exec_next(e, &ev, 60000) == 0 && ev.type == MSB_EXEC_STARTED);
	CHECK(msb_exec_write(e, "two\n", 4) == 0);
	CHECK(msb_exec_close_stdin(e) == 0);
	int ecode = -1, esig = -1;
	CHECK(msb_exec_wait(e, &ecode, &esig) == 0 && ecode == 6 && esig == 0);
	msb_exec_free(e);
	msb_sandbox_free(sb);
	CHECK(msb_sandbox_wait("att", 60000, status, sizeof(status)) == 0);
	CHECK(msb_sandbox_exit_code("att", &code) == 0 && code == 6);
	snprintf(path, sizeof(path), "%s/sandboxes/att/logs/main.log", home);
	f = fopen(path, "re");
	n = f ? fread(log, 1, sizeof(log) - 1, f) : 0;
	log[n] = '\0';
	if (f)
		fclose(f);
	CHECK_STR(log, "got:hi\ngot:two\n");
	CHECK(msb_sandbox_remove("att", 0) == 0);

	/* a caller built against version 1 */
	test_case("options version 1", 120);
	struct options_v1 v1 = {.version = 1};
	CHECK(msb_sandbox_create(&sb, (const msb_sandbox_options *)&v1) == 0);
	CHECK(msb_sandbox_shell(&out, sb, "echo v1", NULL) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "v1\n");
	msb_exec_output_free(out);
	CHECK(msb_sandbox_stop(sb, 0) == 0);
	msb_sandbox_free(sb);

	CHECK(count_sandbox_dirs() == 0);
	remove_tree(home);
	alarm(0);
	return check_summary("test_workload_api");
}
