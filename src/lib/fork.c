// SPDX-License-Identifier: Apache-2.0
/*
 * Sandboxes from snapshots through the public API: msb_sandbox_fork(), and
 * msb_sandbox_create()/define() with options.snapshot (docs/snapshots.md).
 * Both are built on msb_sandbox_snapshot() and the sandbox-from-snapshot
 * step of lifecycle.c; what they add is the choice of options and the
 * cleanup: a failed call leaves no sandbox and no snapshot behind.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/internal.h"

/* The most sandboxes one msb_sandbox_fork() makes. */
#define FORK_MAX 64

/* Is the NULL-terminated @v non-empty? */
static bool strv_set(const char *const *v)
{
	return v && *v;
}

/*
 * The options a sandbox from a snapshot takes: name, detached, labels,
 * auto_remove, and pull (ignored: nothing is pulled). image, memory_mib
 * and cpus may repeat the snapshot's (lifecycle.c compares them once it
 * has read the snapshot). Every other option is the snapshot's: giving
 * one is MSB_EINVAL naming it.
 */
static int check_snapshot_options(const msb_sandbox_options *o)
{
	const struct {
		const char *name;
		bool set;
	} other[] = {
		{"env", strv_set(o->env)},
		{"boot_timeout_s", o->boot_timeout_s != 0},
		{"idle_timeout_s", o->idle_timeout_s != 0},
		{"max_duration_s", o->max_duration_s != 0},
		{"volumes", o->n_volumes != 0},
		{"tmpfs", o->n_tmpfs != 0},
		{"patches", o->n_patches != 0},
		{"root_size_mib", o->root_size_mib != 0},
		{"root_fstype", o->root_fstype != NULL},
		{"root_writable", o->root_writable != 0},
		{"binds", o->n_binds != 0},
		{"workdir", o->workdir != NULL},
		{"user", o->user != NULL},
		{"rlimits", strv_set(o->rlimits)},
		{"exec_timeout_ms", o->exec_timeout_ms != 0},
		{"hostname", o->hostname != NULL},
		{"run_main", o->run_main != 0},
		{"entrypoint", o->entrypoint != NULL},
		{"cmd", o->cmd != NULL},
		{"restart", o->restart != MSB_RESTART_NO},
		{"restart_max", o->restart_max != 0},
		{"network", o->network != MSB_NETWORK_PUBLIC},
		{"net_rules", strv_set(o->net_rules)},
		{"block_domains", strv_set(o->block_domains)},
		{"block_suffixes", strv_set(o->block_suffixes)},
		{"ports", o->n_ports != 0},
		{"main_stdin", o->main_stdin != 0},
		{"main_tty", o->main_tty != 0},
		{"no_template", o->no_template != 0},
		{"secrets", o->n_secrets != 0},
		{"tls_intercept", o->tls_intercept != 0},
		{"tls_ports", o->n_tls_ports != 0},
		{"tls_bypass", strv_set(o->tls_bypass)},
		{"tls_ca", o->tls_ca != NULL},
		{"on_idle", o->on_idle != MSB_IDLE_STOP},
	};

	for (size_t i = 0; i < ARRAY_SIZE(other); i++)
		if (other[i].set)
			return msb__error(MSB_EINVAL, 0,
					  "options.%s cannot be combined with "
					  "options.snapshot: a sandbox from "
					  "snapshot `%s` has the snapshot's",
					  other[i].name, o->snapshot);
	if (o->name && !msb__valid_name(o->name))
		return msb__error(MSB_EINVAL, 0,
				  "invalid sandbox name `%s`: use 1-63 "
				  "letters, digits, '-', '_' or '.', starting "
				  "with a letter or digit",
				  o->name);
	if (o->detached && !o->name)
		return msb__error(MSB_EINVAL, 0,
				  "a detached sandbox needs a name, to be "
				  "found again");
	for (const char *const *l = o->labels; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		if (!eq || eq == *l || eq - *l > 128 || strlen(eq + 1) > 4096)
			return msb__error(
				MSB_EINVAL, 0,
				"invalid label `%.200s`: expected "
				"KEY=VALUE (key 1-128 bytes, value at "
				"most 4096)",
				*l);
	}
	return 0;
}

/* A name for an unnamed sandbox, as msb_sandbox_create() makes one. */
static void gen_name(char *buf, size_t cap)
{
	uint8_t r[4] = {0};

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		uint32_t x = (uint32_t)getpid() ^ (uint32_t)time(NULL);
		memcpy(r, &x, sizeof(r));
	}
	snprintf(buf, cap, "msb-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
}

int msb__sandbox_create_snapshot(msb_sandbox **out,
				 const msb_sandbox_options *opts)
{
	msb_sandbox_options req = *opts;
	char name[32];
	int rc;

	if ((rc = check_snapshot_options(opts)) < 0)
		return rc;
	if (!out && !opts->name)
		return msb__error(MSB_EINVAL, 0,
				  "a sandbox created without starting needs "
				  "a name");
	if (!req.name) {
		/* Removed when it stops, as every unnamed sandbox is. */
		gen_name(name, sizeof(name));
		req.name = name;
		req.auto_remove = 1;
	}
	return msb__sandbox_from_snapshot(out, opts->snapshot, &req,
					  out != NULL, false);
}

/* Is sandbox @name running (or paused)? 0, or an error that says so. */
static int fork_source(const char *name)
{
	msb_sandbox_info *v;
	size_t n;
	int rc;

	if ((rc = msb_sandbox_list(&v, &n)) < 0)
		return rc;
	rc = msb__error(MSB_ENOTFOUND, 0, "no sandbox `%s`", name);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, name))
			continue;
		if (!strcmp(v[i].status, "running") ||
		    !strcmp(v[i].status, "paused"))
			rc = 0;
		else
			rc = msb__error(MSB_ESTATE, 0,
					"sandbox `%s` is not running (%s): a "
					"fork copies a running sandbox (start "
					"it first)",
					name, v[i].status);
		break;
	}
	msb_sandbox_list_free(v, n);
	return rc;
}

/* Are @names valid, distinct, and not taken? */
static int fork_names(const char *const *names, size_t n)
{
	msb_sandbox_info *v;
	size_t nv;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !msb__valid_name(names[i]))
			return msb__error(MSB_EINVAL, 0,
					  "invalid sandbox name `%s`: use 1-63 "
					  "letters, digits, '-', '_' or '.', "
					  "starting with a letter or digit",
					  names[i] ? names[i] : "(null)");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(names[k], names[i]))
				return msb__error(MSB_EINVAL, 0,
						  "sandbox name `%s` is given "
						  "twice",
						  names[i]);
	}
	/* Checked again when each is made; this only spares the source a
	 * pause for a fork that cannot be made. */
	if ((rc = msb_sandbox_list(&v, &nv)) < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		for (size_t k = 0; k < nv && !rc; k++)
			if (!strcmp(v[k].name, names[i]))
				rc = msb__error(MSB_EEXIST, 0,
						"sandbox `%s` already exists: "
						"remove it (msb rm %s) or "
						"choose another name",
						names[i], names[i]);
	msb_sandbox_list_free(v, nv);
	return rc;
}

EXPORT int msb_sandbox_fork(const char *name, const char *const *new_names,
			    size_t n, int flags)
{
	static atomic_uint seq;
	struct msb_paths paths;
	msb_sandbox_options req = MSB_SANDBOX_OPTIONS_INIT;
	msb_error saved;
	char snap[64];
	size_t made = 0;
	int rc;

	msb__error_clear();
	if (!name || !new_names)
		return msb__error(MSB_EINVAL, 0,
				  "name and new_names are required");
	if (n < 1 || n > FORK_MAX)
		return msb__error(MSB_EINVAL, 0,
				  "invalid count %zu: 1 to %d sandboxes", n,
				  FORK_MAX);
	if (flags)
		return msb__error(MSB_EINVAL, 0, "unknown flags %#x", flags);
	if ((rc = fork_names(new_names, n)) < 0 ||
	    (rc = fork_source(name)) < 0 || (rc = msb__paths_home(&paths)) < 0)
		return rc;
	/* A snapshot of its own, removed at the end (msb snapshot rm
	 * removes one that a killed process left). */
	snprintf(snap, sizeof(snap), "fork.%ld.%lld.%u", (long)getpid(),
		 (long long)time(NULL), atomic_fetch_add(&seq, 1));
	_cleanup_free_ char *dir =
		xasprintf("%s/snapshots/%s", paths.home, snap);
	msb__paths_clear(&paths);
	if (!dir)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if ((rc = msb_sandbox_snapshot(name, snap, 0)) < 0)
		return rc;
	for (; made < n; made++) {
		req.name = new_names[made];
		if ((rc = msb__sandbox_from_snapshot(NULL, snap, &req, 1,
						     false)) < 0)
			break;
	}
	msb__error_save(&saved);
	if (rc < 0)
		/* Nothing half-made: the ones made so far go too. */
		for (size_t i = 0; i < made; i++)
			msb_sandbox_remove(new_names[i], 1);
	/* The sandboxes hold their own links to its state and their own
	 * disks: a snapshot left behind costs space, not correctness. */
	if (rm_rf(dir) < 0 && errno != ENOENT)
		msb__log(MSB_LOG_WARN, "remove the snapshot `%s` of a fork: %s",
			 dir, strerror(errno));
	msb__error_restore(&saved);
	return rc;
}
