// SPDX-License-Identifier: Apache-2.0
/*
 * The jail around the host processes that run next to untrusted code.
 *
 * DOC: Theory of operation
 *
 * A guest that owns its kernel can attack the processes that serve it:
 * QEMU (device emulation), virtiofsd (the shared folders), later msb-netd.
 * Each of them is started through msb_jail_spawn(), which
 *
 *  1. clones the child straight into new user, mount, IPC and PID
 *     namespaces (raw clone(2), so the child is PID 1 of its own PID
 *     namespace and cannot see, signal or ptrace any other process). When
 *     the kernel refuses a user namespace, a root caller still gets the
 *     others; an unprivileged one gets none. Each fallback is logged;
 *  2. writes the child's uid/gid maps from the parent (only a process
 *     outside the namespace may map ids other than its own): as root the
 *     child is mapped to a uid/gid of its own; unprivileged, to the
 *     caller's;
 *  3. in the child: makes every mount private; for QEMU pivots into a
 *     root of its own (an empty tmpfs with /usr, the linker cache, a few
 *     device nodes and a /proc of its PID namespace), or where that fails
 *     covers the folders it has no business reading (MSB_HOME, /home,
 *     /root, /tmp, /run...) with an empty read-only tmpfs; runs the
 *     helper's own setup, sets its resource limits, gives it exactly its
 *     descriptors, changes its ids, sets PR_SET_PDEATHSIG (after the id
 *     change, which clears it), drops every capability unless it must be
 *     root inside its namespace (virtiofsd), sets no_new_privs, and execs
 *     the program by descriptor with a minimal environment (the caller's
 *     environment may hold secrets).
 *
 * Errors in the child travel back on a close-on-exec pipe (errno and the
 * step that failed); end of file on it means the exec happened.
 *
 * msb_jail_self() is the supervisor's own half: once QEMU runs it needs no
 * privilege but CAP_KILL (as root: its children run as other uids).
 */
#include "vmm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

/* The environment of every jailed program. */
static char *const jail_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
static char *const jail_env_seccomp_log[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MSB_SECCOMP=log", NULL};

uid_t msb_jail_uid(pid_t supervisor)
{
	if (geteuid() != 0)
		return geteuid();
	return MSB_JAIL_ID_BASE + (uid_t)supervisor;
}

/* fork()-like clone(2) with namespace flags: no new stack, SIGCHLD. */
static pid_t raw_clone(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL,
			      NULL);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, s, strlen(s)) < 0 ? -1 : 0;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* What the child sends back when a step fails. */
struct child_err {
	int err;
	char step[60];
};

static void __attribute__((noreturn)) child_fail(int fd, const char *step)
{
	struct child_err ce = {.err = errno};
	size_t n = strlen(step);

	if (n >= sizeof(ce.step))
		n = sizeof(ce.step) - 1;
	memcpy(ce.step, step, n);
	if (write(fd, &ce, sizeof(ce)) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

static int capset_empty(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};

	return (int)syscall(SYS_capset, &h, d);
}

static void set_limit(int res, unsigned long v)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	setrlimit(res, &rl);
}

struct child_args {
	const struct msb_jail *j;
	int sync_fd, err_fd;
	unsigned long flags;
	bool root;
	uid_t uid;
	gid_t gid;
};

/* Bind @src onto a new @dst (a file or a folder, as @src is). */
static int bind_into(const char *src, const char *dst, bool ro)
{
	struct stat st;

	if (stat(src, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return -1;
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	/* Best effort: a locked mount may refuse the change. */
	if (ro)
		mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	return 0;
}

/*
 * A root of the child's own: an empty tmpfs holding only /usr (programs,
 * libraries, firmware), the top-level links into it, the dynamic linker's
 * cache, a few device nodes and a /proc; then pivot_root into it and
 * detach the old root. Nothing else of the host is reachable by path.
 */
static int minimal_root(bool fresh_proc)
{
	static const char *const top[] = {"bin",   "sbin",   "lib",
					  "lib32", "libx32", "lib64"};
	static const char *const devs[] = {"null",   "zero",    "full",
					   "random", "urandom", "kvm"};
	char path[64], link[64];

	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID,
		  "size=64k,nr_inodes=64,mode=0755") < 0)
		return -1;
	if (mkdir("/tmp/dev", 0755) < 0 || mkdir("/tmp/etc", 0755) < 0 ||
	    mkdir("/tmp/proc", 0555) < 0 || mkdir("/tmp/old", 0700) < 0)
		return -1;
	if (bind_into("/usr", "/tmp/usr", true) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		struct stat st;
		char src[16];
		strcpy(src, "/");
		strcat(src, top[i]);
		strcpy(path, "/tmp/");
		strcat(path, top[i]);
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(src, link, sizeof(link) - 1);
			if (n < 0)
				return -1;
			link[n] = '\0';
			if (symlink(link, path) < 0)
				return -1;
		} else if (bind_into(src, path, true) < 0) {
			return -1;
		}
	}
	if (bind_into("/etc/ld.so.cache", "/tmp/etc/ld.so.cache", true) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char src[32];
		strcpy(src, "/dev/");
		strcat(src, devs[i]);
		strcpy(path, "/tmp/dev/");
		strcat(path, devs[i]);
		if (bind_into(src, path, false) < 0)
			return -1;
	}
	if (!fresh_proc || mount("proc", "/tmp/proc", "proc",
				 MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		if (mount("/proc", "/tmp/proc", NULL, MS_BIND | MS_REC, NULL) <
		    0)
			return -1;
	}
	if (syscall(SYS_pivot_root, "/tmp", "/tmp/old") < 0 || chdir("/") < 0 ||
	    umount2("/old", MNT_DETACH) < 0)
		return -1;
	rmdir("/old");
	mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID,
	      NULL);
	return 0;
}

/* Between clone and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) jail_child(const struct child_args *a)
{
	const struct msb_jail *j = a->j;
	int efd = a->err_fd;
	char c;

	/* Wait until the parent has written our id maps. */
	if (read(a->sync_fd, &c, 1) != 1)
		_exit(127);

	if (a->flags & CLONE_NEWNS) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			child_fail(efd, "make mounts private");
		/* A /proc of our own PID namespace: other processes are not
		 * visible at all. Not fatal: the host's still works. */
		if (j->fresh_proc && (a->flags & CLONE_NEWPID))
			mount("proc", "/proc", "proc",
			      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		/* In a user namespace files can be created only once our
		 * ids are mapped there: after the id change, below. */
		if (j->minimal_root && !(a->flags & CLONE_NEWUSER) &&
		    minimal_root(j->fresh_proc && (a->flags & CLONE_NEWPID)) <
			    0)
			child_fail(efd, "minimal root");
		for (const char *const *h = j->minimal_root ? NULL : j->hide;
		     h && *h; h++)
			if (mount("tmpfs", *h, "tmpfs",
				  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  "size=4k,nr_inodes=2,mode=0755") < 0 &&
			    errno != ENOENT && errno != ENOTDIR)
				child_fail(efd, "hide a folder");
	}
	if (j->setup && j->setup(j->userdata) < 0)
		child_fail(efd, "helper setup");

	/* Resource limits (see jail.c's callers for each value). */
	set_limit(RLIMIT_CORE, 0);
	if (j->nofile)
		set_limit(RLIMIT_NOFILE, j->nofile);
	if (j->nproc && a->root && a->uid != 0)
		set_limit(RLIMIT_NPROC, j->nproc);

	/* Ids: inside a user namespace the map decides what they mean. */
	uid_t uid = a->uid;
	gid_t gid = a->gid;
	if ((a->flags & CLONE_NEWUSER) && j->ns_root)
		uid = gid = 0;
	/* Without a user namespace a helper that needs root keeps ours. */
	if ((a->flags & CLONE_NEWUSER) ||
	    (a->root && a->uid != 0 && !j->ns_root)) {
		if (setresgid(gid, gid, gid) < 0)
			child_fail(efd, "setresgid");
		/* Refused (and pointless) when setgroups is denied. */
		gid_t extra = j->extra_gid;
		if (setgroups(a->root && extra ? 1 : 0, &extra) < 0 && a->root)
			child_fail(efd, "setgroups");
		if (setresuid(uid, uid, uid) < 0)
			child_fail(efd, "setresuid");
	}
	/* Our capabilities there survive the change (we drop them below). */
	if (j->minimal_root && (a->flags & CLONE_NEWUSER) &&
	    minimal_root(j->fresh_proc && (a->flags & CLONE_NEWPID)) < 0)
		child_fail(efd, "minimal root");
	/* Cleared by the id change: set it now, then check that the parent
	 * did not die in between (it holds the sync pipe open). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct pollfd p = {.fd = a->sync_fd, .events = POLLIN};
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
		_exit(127);

	if (!j->ns_root) {
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno == EINVAL)
				break;
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		if (capset_empty() < 0)
			child_fail(efd, "drop capabilities");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(efd, "no_new_privs");
	/* Best effort: a kernel without THP refuses it, and has none. */
	if (j->thp_disable)
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);

	/* Descriptors: copy each above every target, then into place. */
	int high[MSB_JAIL_MAX_FDS + 1], maxto = 2;
	for (size_t i = 0; i < j->nfds; i++)
		if (j->fds[i].to > maxto)
			maxto = j->fds[i].to;
	int floor = maxto + 16;
	int exec_fd = fcntl(j->exec_fd, F_DUPFD_CLOEXEC, floor);
	efd = fcntl(efd, F_DUPFD_CLOEXEC, floor);
	if (exec_fd < 0 || efd < 0)
		child_fail(a->err_fd, "dup");
	for (size_t i = 0; i < j->nfds; i++)
		if ((high[i] = fcntl(j->fds[i].from, F_DUPFD_CLOEXEC, floor)) <
		    0)
			child_fail(efd, "dup");
	int stdio = -1;
	if (j->stdio_fd >= 0 &&
	    (stdio = fcntl(j->stdio_fd, F_DUPFD_CLOEXEC, floor)) < 0)
		child_fail(efd, "dup");
	for (size_t i = 0; i < j->nfds; i++)
		if (dup2(high[i], j->fds[i].to) < 0)
			child_fail(efd, "dup2");
	if (stdio >= 0 && (dup2(stdio, 0) < 0 || dup2(stdio, 1) < 0))
		child_fail(efd, "dup2");
	for (int fd = 3; fd <= maxto; fd++) {
		bool keep = false;
		for (size_t i = 0; i < j->nfds; i++)
			keep |= j->fds[i].to == fd;
		if (!keep)
			close(fd);
	}
	for (size_t i = 0; i < j->nfds; i++)
		close(high[i]);
	if (stdio >= 0)
		close(stdio);
	/* Everything else goes at the exec (the error pipe and the program
	 * must stay open until then). */
	if (syscall(SYS_close_range, (unsigned)maxto + 1, ~0U,
		    CLOSE_RANGE_CLOEXEC) < 0) {
		struct rlimit rl;
		int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
					  rl.rlim_cur < (1u << 20)
				  ? (int)rl.rlim_cur
				  : 65536;
		for (int fd = maxto + 1; fd < max; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}

	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	syscall(SYS_execveat, exec_fd, "", j->argv,
		j->seccomp_log ? jail_env_seccomp_log : jail_env,
		AT_EMPTY_PATH);
	child_fail(efd, "exec");
}

static void logf_(void (*log)(const char *), const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(void (*log)(const char *), const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log(line);
}

static int write_maps(pid_t pid, bool root, uid_t ns_uid, uid_t uid,
		      gid_t ns_gid, gid_t gid, gid_t extra)
{
	char path[64], map[96];

	if (!root) {
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if (write_file(path, "deny") < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)ns_uid,
		 (unsigned)uid);
	if (write_file(path, map) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	int n = snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)ns_gid,
			 (unsigned)gid);
	if (root && extra && extra != gid)
		snprintf(map + n, sizeof(map) - (size_t)n, "%u %u 1\n",
			 (unsigned)extra, (unsigned)extra);
	return write_file(path, map);
}

int msb_jail_spawn(pid_t *pidp, const struct msb_jail *j, char *err,
		   size_t errlen, void (*log)(const char *line))
{
	struct child_args a = {.j = j, .root = geteuid() == 0};
	int sync[2] = {-1, -1}, ep[2] = {-1, -1};

	a.uid = a.root ? j->uid : geteuid();
	a.gid = a.root ? j->gid : getegid();
	if (j->nfds > MSB_JAIL_MAX_FDS) {
		snprintf(err, errlen, "%s: too many descriptors", j->name);
		return -1;
	}
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close_fd(&sync[0]);
		close_fd(&sync[1]);
		return -1;
	}
	a.sync_fd = sync[0];
	a.err_fd = ep[1];

	/* Most isolation first; then what the kernel allows. */
	unsigned long tries[3] = {
		CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID,
		a.root ? CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID : 0,
		0,
	};
	pid_t pid = -1;
	int cerr = 0;
	for (int t = 0; t < 3 && pid < 0; t++) {
		if (t > 0 && tries[t] == tries[t - 1])
			continue;
		a.flags = tries[t];
		pid = raw_clone(a.flags);
		if (pid == 0)
			jail_child(&a);
		if (pid < 0) {
			cerr = errno;
			logf_(log,
			      "jail: %s: namespaces%s%s%s%s refused (%s): falling back to fewer",
			      j->name, a.flags & CLONE_NEWUSER ? " user" : "",
			      a.flags & CLONE_NEWNS ? " mount" : "",
			      a.flags & CLONE_NEWIPC ? " ipc" : "",
			      a.flags & CLONE_NEWPID ? " pid" : "",
			      strerror(errno));
		}
	}
	close_fd(&sync[0]);
	close_fd(&ep[1]);
	if (pid < 0) {
		snprintf(err, errlen, "%s: clone: %s", j->name, strerror(cerr));
		close_fd(&sync[1]);
		close_fd(&ep[0]);
		return -1;
	}
	int rc = 0;
	if (j->ns_root && !a.root && !(a.flags & CLONE_NEWUSER)) {
		snprintf(
			err, errlen,
			"%s needs root or user namespaces, and this kernel refuses user namespaces",
			j->name);
		rc = -1;
	} else if (a.flags & CLONE_NEWUSER) {
		uid_t nu = j->ns_root ? 0 : a.uid;
		gid_t ng = j->ns_root ? 0 : a.gid;
		if (write_maps(pid, a.root, nu, a.uid, ng, a.gid,
			       j->extra_gid) < 0) {
			snprintf(err, errlen, "%s: write id maps: %s", j->name,
				 strerror(errno));
			rc = -1;
		}
	}
	if (rc == 0 && write(sync[1], "x", 1) != 1) {
		snprintf(err, errlen, "%s: sync: %s", j->name, strerror(errno));
		rc = -1;
	}
	if (rc == 0) {
		struct child_err ce;
		ssize_t n;
		while ((n = read(ep[0], &ce, sizeof(ce))) < 0 && errno == EINTR)
			;
		if (n > 0) {
			ce.step[sizeof(ce.step) - 1] = '\0';
			snprintf(err, errlen, "%s: %s: %s", j->name, ce.step,
				 strerror(ce.err));
			rc = -1;
		}
	}
	close_fd(&sync[1]);
	close_fd(&ep[0]);
	if (rc < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	bool keeps = j->ns_root && !(a.flags & CLONE_NEWUSER);
	logf_(log, "jail: %s pid %d uid %u gid %u namespaces:%s%s%s%s%s",
	      j->name, (int)pid, (unsigned)(keeps ? geteuid() : a.uid),
	      (unsigned)(keeps ? getegid() : a.gid),
	      a.flags & CLONE_NEWUSER ? " user" : "",
	      a.flags & CLONE_NEWNS ? " mount" : "",
	      a.flags & CLONE_NEWIPC ? " ipc" : "",
	      a.flags & CLONE_NEWPID ? " pid" : "", a.flags ? "" : " none");
	*pidp = pid;
	return 0;
}

int msb_jail_clean_fds(int keep_max)
{
	if (syscall(SYS_close_range, (unsigned)keep_max + 1, ~0U, 0) == 0)
		return 0;
	struct rlimit rl;
	long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
				   rl.rlim_cur != RLIM_INFINITY &&
				   rl.rlim_cur < (1u << 20)
			   ? (long)rl.rlim_cur
			   : 65536;
	for (long fd = keep_max + 1; fd < max; fd++)
		close((int)fd);
	return -1;
}

int msb_jail_self(void)
{
	struct rlimit core = {0, 0};

	setrlimit(RLIMIT_CORE, &core);
	if (geteuid() == 0) {
		for (int cap = 0; cap <= 63; cap++) {
			if (cap == CAP_KILL)
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno == EINVAL)
				break;
		}
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2] = {{0}};
		d[0].effective = d[0].permitted = 1u << CAP_KILL;
		if (syscall(SYS_capset, &h, d) < 0)
			return -1;
	}
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* Probe: can a child get (user,) mount, IPC and PID namespaces here? */
static bool try_namespaces(unsigned long flags, bool mount_proc)
{
	pid_t pid = raw_clone(flags);

	if (pid < 0)
		return false;
	if (pid == 0) {
		if (mount_proc &&
		    (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		     mount("proc", "/proc", "proc", MS_NOSUID, NULL) < 0))
			_exit(1);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

void msb_jail_probe(struct msb_jail_caps *c)
{
	memset(c, 0, sizeof(*c));
	c->root = geteuid() == 0;
	c->userns = try_namespaces(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC |
					   CLONE_NEWPID,
				   false);
	c->pidns = try_namespaces((c->userns ? CLONE_NEWUSER : 0) |
					  CLONE_NEWNS | CLONE_NEWPID,
				  true);
	/* SECCOMP_MODE_FILTER with an invalid filter pointer: EFAULT when
	 * filters are supported, EINVAL when not. */
	c->seccomp =
		prctl(PR_SET_SECCOMP, 2, NULL, 0, 0) < 0 && errno == EFAULT;
	/* Closing an empty range above any descriptor: a no-op. */
	c->close_range = syscall(SYS_close_range, ~0U - 1, ~0U, 0) == 0;
}

void msb_jail_describe(const struct msb_jail_caps *c,
		       void (*line)(bool, const char *, const char *, void *),
		       void *ud)
{
	line(c->userns, "user namespaces",
	     c->userns
		     ? "QEMU and virtiofsd run in user, mount, IPC and PID namespaces of their own"
	     : c->root
		     ? "unavailable: QEMU runs in mount, IPC and PID namespaces under a uid of its own, virtiofsd as root"
		     : "unavailable: QEMU runs without namespaces, as you; host folders cannot be shared",
	     ud);
	line(c->pidns, "private /proc",
	     c->pidns ? "QEMU sees only its own processes"
		      : "unavailable: QEMU sees the host's /proc",
	     ud);
	line(c->seccomp, "seccomp",
	     c->seccomp
		     ? "QEMU runs with -sandbox; msb-vmm has its own allow-list"
		     : "unavailable: QEMU and msb-vmm run without a system call filter; host folders cannot be shared",
	     ud);
	line(c->close_range, "close_range",
	     c->close_range ? "descriptors are closed with close_range(2)"
			    : "unavailable: descriptors are closed one by one",
	     ud);
	char buf[160];
	if (c->root)
		snprintf(
			buf, sizeof(buf),
			"running as root: each sandbox's QEMU runs as uid/gid %u+supervisor pid, msb-vmm keeps only CAP_KILL",
			MSB_JAIL_ID_BASE);
	else
		snprintf(
			buf, sizeof(buf),
			"not root: QEMU runs as you, inside the namespaces above");
	line(true, "jail uid", buf, ud);
}
