/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jail: how a host process that runs next to untrusted code (QEMU,
 * virtiofsd, later msb-netd) is started with the least privilege the kernel
 * allows, and how the supervisor confines itself once its setup is done.
 * See jail.c for the theory of operation.
 */
#ifndef MSB_VMM_JAIL_H
#define MSB_VMM_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Per-sandbox ids of the processes jailed for a supervisor started as root:
 * MSB_JAIL_ID_BASE + the supervisor's pid. Between 1879048192 and
 * 2147483647: outside the ranges systemd hands out (system, regular,
 * dynamic users, container ranges) and below 2^31, which some tools
 * mishandle. A pid is below 2^22, so the range ends at 0x78400000.
 */
#define MSB_JAIL_ID_BASE 0x78000000u

/* What the kernel here lets the jail do. */
struct msb_jail_caps {
	bool root;        /* running as uid 0 */
	bool userns;      /* CLONE_NEWUSER works for us */
	bool pidns;       /* a PID namespace (+ fresh /proc) is possible */
	bool seccomp;     /* seccomp filters (SECCOMP_MODE_FILTER) */
	bool close_range; /* close_range(2) */
};

/*
 * msb_jail_probe() - find out what the jail can do on this host. Cheap:
 * forks one short-lived child to try the namespaces.
 */
void msb_jail_probe(struct msb_jail_caps *caps);

/*
 * msb_jail_describe() - one line per feature: what the jail will do here
 * and what it falls back to (for `msb doctor` and vmm.log).
 * @line: called with (good, what, detail) for each feature
 */
void msb_jail_describe(const struct msb_jail_caps *caps,
		       void (*line)(bool good, const char *what,
				    const char *detail, void *userdata),
		       void *userdata);

/* Maximum descriptors a jailed child is given. */
#define MSB_JAIL_MAX_FDS 160

/* How to start one helper in its jail. */
struct msb_jail {
	const char *name; /* "qemu", "virtiofsd": for log lines */
	int exec_fd;      /* the program, opened O_PATH (exec'd by fd) */
	char *const *argv;
	/* Descriptors of the child: fds[i].from (in the parent) becomes
	 * fds[i].to in the child; everything else but 0-2 is closed. */
	struct {
		int from, to;
	} fds[MSB_JAIL_MAX_FDS];
	size_t nfds;
	int stdio_fd; /* becomes stdin/stdout (e.g. /dev/null); -1: keep */
	/* As root: the host uid/gid the child runs as (0: stay root). */
	uid_t uid;
	gid_t gid;
	gid_t extra_gid; /* as root: one supplementary group (kvm); 0: none */
	/* In its user namespace the child is root (virtiofsd needs its
	 * capabilities there), mapped to uid/gid above; else it keeps
	 * uid/gid inside too and drops every capability. Without a user
	 * namespace such a helper keeps the caller's ids (and root's
	 * capabilities: the fallback is logged and shown by msb doctor). */
	bool ns_root;
	/* Cover these folders with an empty read-only tmpfs in the child's
	 * mount namespace (NULL-terminated; missing ones are skipped). */
	const char *const *hide;
	bool fresh_proc; /* mount a /proc of its own PID namespace */
	/* Pivot into a root of its own: /usr, the dynamic linker's cache,
	 * /dev/{null,zero,full,random,urandom,kvm} and /proc only (needs a
	 * mount namespace; then @hide is moot). */
	bool minimal_root;
	/* Pass MSB_SECCOMP=log on (a helper that filters itself, msb-netd:
	 * the caller's development mode, see syscalls.h). */
	bool seccomp_log;
	/* PR_SET_THP_DISABLE (kept across the exec): no transparent huge
	 * pages for QEMU's guest RAM, whose zeroing and compaction cost
	 * more at boot than the TLB misses they save (bench/boot.sh). */
	bool thp_disable;
	unsigned long nofile; /* RLIMIT_NOFILE; 0: keep */
	unsigned long nproc;  /* RLIMIT_NPROC when uid is its own; 0: keep */
	/* Called in the child, after the namespaces and before the ids
	 * change, e.g. for mounts of its own; return -1 with errno set. */
	int (*setup)(void *userdata);
	void *userdata;
};

/*
 * msb_jail_spawn() - start @j's program in new user, mount, IPC and PID
 * namespaces (whichever the kernel allows; see msb_jail_probe), with
 * @j's descriptors only, its ids, no_new_privs, RLIMIT_CORE 0 and its
 * limits; it dies with the caller (PR_SET_PDEATHSIG).
 * @pid: out, the child's pid (in our namespace)
 * @log: called with one line for each fallback taken and for the result
 * Return: 0 once the program is exec'd, or -1 with a one-line reason in
 * @err (the child has been reaped).
 */
int msb_jail_spawn(pid_t *pid, const struct msb_jail *j, char *err,
		   size_t errlen, void (*log)(const char *line));

/*
 * msb_jail_clean_fds() - close every descriptor above @keep_max (at the
 * start of a supervisor or helper: it may inherit its caller's).
 * Return: 0, or -1 when only the fallback loop could be used (close_range
 * missing; it still closes up to RLIMIT_NOFILE).
 */
int msb_jail_clean_fds(int keep_max);

/*
 * msb_jail_self() - confine the calling supervisor after its setup:
 * RLIMIT_CORE 0, no_new_privs, every capability dropped but CAP_KILL when
 * root (it signals its jailed children, which run as other uids).
 * Return: 0, or -1 with errno set.
 */
int msb_jail_self(void);

/*
 * msb_jail_uid() - the uid/gid to jail a sandbox's helpers as: its own
 * when running as root (MSB_JAIL_ID_BASE + @supervisor), else the caller's.
 */
uid_t msb_jail_uid(pid_t supervisor);

#endif
