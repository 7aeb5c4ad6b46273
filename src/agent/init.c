// SPDX-License-Identifier: Apache-2.0
/* msb-agent: mounts, kernel modules, the agent port, root switch, power off. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MODULES_LIST "/modules"
#define MODULES_LIST_MAX (1u << 20)
#define PORT_NAME "agent"
#define PORT_WAIT_MS 10000
#define ROOT_WAIT_MS 5000
#define TERM_WAIT_MS 1000
#define KILL_WAIT_MS 1000
#define FLUSH_WAIT_MS 200
#define RMTREE_DEPTH 64

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* mkdir that accepts an existing directory. */
static int mkdir_exist(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (lstat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int mount_at(const char *src, const char *dir, const char *type,
		    unsigned long flags, const char *data)
{
	if (mkdir_exist(dir, 0755) < 0) {
		agent_log("mkdir `%s`: %m", dir);
		return -1;
	}
	if (mount(src, dir, type, flags, data) < 0) {
		agent_log("mount %s on `%s`: %m", type, dir);
		return -1;
	}
	return 0;
}

/*
 * Open fds 0, 1 and 2 if the kernel left them closed (no /dev/console in
 * the initramfs): open() returns the lowest free number, so filling them in
 * order puts each on its slot.
 */
static void fix_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int r;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		r = open("/dev/console", O_RDWR | O_NOCTTY);
		if (r < 0)
			r = open("/dev/null", O_RDWR | O_NOCTTY);
		if (r >= 0 && r != fd) {
			/* Cannot happen (see above); do not leak it. */
			close(r);
		}
	}
}

/*
 * init_early() - give the initramfs a /dev, /proc and /sys and fds 0-2.
 * Failures are logged; the agent goes on with what it has.
 */
void init_early(void)
{
	int dev_err = 0;

	umask(022);
	if (chdir("/") < 0)
		dev_err = errno;
	if (mkdir_exist("/dev", 0755) < 0 ||
	    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0)
		dev_err = errno == EBUSY ? 0 : errno;
	fix_std_fds();
	if (dev_err)
		agent_log("mount devtmpfs on `/dev`: %s", strerror(dev_err));
	mount_at("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 NULL);
	mount_at("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 NULL);
}

/*
 * Resolve a line of /modules: absolute paths as they are, relative ones
 * below /lib/modules/<release>/ when that exists, else below /.
 */
static int open_module(const char *path, const char *release)
{
	char buf[4096];
	int fd;

	if (path[0] == '/')
		return open(path, O_RDONLY | O_CLOEXEC);
	if ((size_t)snprintf(buf, sizeof(buf), "/lib/modules/%s/%s", release,
			     path) < sizeof(buf)) {
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd;
	}
	if ((size_t)snprintf(buf, sizeof(buf), "/%s", path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(buf, O_RDONLY | O_CLOEXEC);
}

/*
 * init_modules_from() - load the modules listed in @list_path, in order.
 *
 * One module per line: a .ko path, optionally followed by blanks and
 * module parameters; empty lines and lines starting with '#' are skipped.
 * A module already present (EEXIST) is fine; other errors are logged and
 * the next module is tried.
 *
 * Return: time spent, in microseconds.
 */
uint64_t init_modules_from(const char *list_path)
{
	uint64_t t0 = boot_us();
	_cleanup_free_ char *list = NULL;
	_cleanup_close_ int lfd = -1;
	struct utsname u;
	unsigned loaded = 0, failed = 0;
	ssize_t n;
	char *line, *next;

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	lfd = open(list_path, O_RDONLY | O_CLOEXEC);
	if (lfd < 0) {
		if (errno != ENOENT)
			agent_log("open `%s`: %m", list_path);
		return boot_us() - t0;
	}
	list = malloc(MODULES_LIST_MAX + 1);
	if (!list) {
		agent_log("read `%s`: %m", list_path);
		return boot_us() - t0;
	}
	n = read_all(lfd, list, MODULES_LIST_MAX);
	if (n < 0) {
		agent_log("read `%s`: %m", list_path);
		return boot_us() - t0;
	}
	list[n] = '\0';

	for (line = list; line && *line; line = next) {
		_cleanup_close_ int fd = -1;
		const char *params = "";
		char *p;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line += strspn(line, " \t\r");
		if (!*line || *line == '#')
			continue;
		p = line + strcspn(line, " \t\r");
		if (*p) {
			*p++ = '\0';
			params = p + strspn(p, " \t\r");
			p = (char *)params + strlen(params);
			while (p > params &&
			       (p[-1] == '\r' || p[-1] == ' ' || p[-1] == '\t'))
				*--p = '\0';
		}
		fd = open_module(line, u.release);
		if (fd < 0) {
			agent_log("open `%s`: %m", line);
			failed++;
			continue;
		}
		if (syscall(SYS_finit_module, fd, params, 0) < 0 &&
		    errno != EEXIST) {
			agent_log("finit_module `%s`: %m", line);
			failed++;
			continue;
		}
		loaded++;
	}
	agent_log("loaded %u modules (%u failed) in %llu ms", loaded, failed,
		  (unsigned long long)((boot_us() - t0) / 1000u));
	return boot_us() - t0;
}

uint64_t init_modules_once(const char *list_path)
{
	static const char *done[8];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(done) && done[i]; i++)
		if (!strcmp(done[i], list_path))
			return 0;
	if (i < ARRAY_SIZE(done))
		done[i] = list_path; /* static strings (the lists' names) */
	return init_modules_from(list_path);
}

uint64_t init_modules(void)
{
	return init_modules_from(MODULES_LIST);
}

/* Return an open fd on the port if sysfs lists one named PORT_NAME. */
static int scan_ports(bool *logged)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		char path[300], name[64];
		_cleanup_close_ int nfd = -1;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name",
			 de->d_name);
		nfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nfd < 0)
			continue;
		n = read_all(nfd, name, sizeof(name) - 1);
		if (n < 0)
			continue;
		while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\0'))
			n--;
		name[n] = '\0';
		if (strcmp(name, PORT_NAME) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0 && errno != ENOENT && !*logged) {
			agent_log("open `%s`: %m", path);
			*logged = true;
		}
		if (fd >= 0)
			agent_log("agent port is %s", path);
	}
	closedir(d);
	return fd;
}

/*
 * init_find_port() - open the virtio-serial port named "agent".
 *
 * The port shows up in sysfs a moment after virtio_console binds, and
 * devtmpfs creates its node; poll for it. Without a port the agent is
 * useless but must not exit (PID 1), so after PORT_WAIT_MS it complains
 * and keeps looking, more slowly.
 *
 * The port is set to raise SIGIO (read from the signalfd) when the host
 * side connects or disconnects.
 *
 * Return: the port fd (O_RDWR, O_NONBLOCK, O_CLOEXEC).
 */
int init_find_port(void)
{
	uint64_t t0 = now_ms();
	bool logged = false, complained = false;
	int fd;

	while ((fd = scan_ports(&logged)) < 0) {
		uint64_t waited = now_ms() - t0;

		if (waited > PORT_WAIT_MS && !complained) {
			agent_log(
				"no virtio-serial port named `%s` after %u s; still looking",
				PORT_NAME, PORT_WAIT_MS / 1000u);
			complained = true;
		}
		sleep_ms(waited > PORT_WAIT_MS ? 500 : 2);
	}
	if (fcntl(fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) < 0)
		agent_log("fcntl O_ASYNC on the agent port: %m");
	return fd;
}

/*
 * Remove everything below @dfd that lives on device @dev, without
 * crossing into other filesystems. Used on the old initramfs root after
 * the switch, to give its memory back. Consumes @dfd.
 */
static void rmtree_at(int dfd, dev_t dev, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		bool isdir;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_dev != dev)
			continue;
		isdir = S_ISDIR(st.st_mode);
		if (isdir && depth < RMTREE_DEPTH) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
			if (sub >= 0)
				rmtree_at(sub, dev, depth + 1);
		}
		unlinkat(dirfd(d), de->d_name, isdir ? AT_REMOVEDIR : 0);
	}
	closedir(d);
}

/* Free the initramfs behind @oldroot (an fd on its "/"), if it is one. */
static void free_initramfs(int oldroot)
{
	struct statfs sf;
	struct stat st;

	if (fstatfs(oldroot, &sf) < 0 || fstat(oldroot, &st) < 0 ||
	    (sf.f_type != RAMFS_MAGIC && sf.f_type != TMPFS_MAGIC)) {
		close(oldroot);
		return;
	}
	rmtree_at(oldroot, st.st_dev, 0);
}

static const char *const moved[] = {"/dev", "/proc", "/sys"};

/* Move the first @n of moved[] back from the new root, best effort. */
static void unmove(size_t n)
{
	char path[64];

	while (n--) {
		snprintf(path, sizeof(path), AGENT_NEWROOT "%s", moved[n]);
		if (mount(path, moved[n], NULL, MS_MOVE, NULL) < 0)
			agent_log("mount --move `%s` back: %m", path);
	}
}

/* Mounts inside the new root that the image does not provide. */
static void post_switch(void)
{
	static const struct {
		const char *target, *path;
	} links[] = {
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	};

	mount_at("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "mode=0620,gid=5,ptmxmode=0666");
	mount_at("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		if (symlink(links[i].target, links[i].path) < 0 &&
		    errno != EEXIST)
			agent_log("symlink `%s`: %m", links[i].path);
	}
}

/* Wait up to ROOT_WAIT_MS for a device node to appear. */
static void wait_for_node(const char *dev)
{
	uint64_t t0 = now_ms();
	struct stat st;

	while (stat(dev, &st) < 0 && errno == ENOENT &&
	       now_ms() - t0 < ROOT_WAIT_MS)
		sleep_ms(2);
}

/*
 * init_switch_root() - mount @dev and make it the root of the guest.
 * @dev: block device ("/dev/vda") or any source mount(2) accepts for
 *	 @fstype (a virtiofs tag)
 * @fstype: filesystem type, NULL for ext4
 * @err, @errlen: on failure, a one-line message for the host
 *
 * On failure everything is put back as it was (initramfs root, /dev,
 * /proc, /sys in place), so a later hello can try again.
 *
 * Return: 0, or -1 with @err set.
 */
int init_switch_root(const char *dev, const char *fstype, char *err,
		     size_t errlen)
{
	unsigned long flags = 0;
	_cleanup_close_ int oldroot = -1;
	size_t n;

	if (!fstype || !*fstype)
		fstype = "ext4";
	if (!strncmp(dev, "/dev/", 5))
		wait_for_node(dev);
	if (mkdir_exist("/mnt", 0755) < 0 ||
	    mkdir_exist(AGENT_NEWROOT, 0755) < 0) {
		snprintf(err, errlen, "mkdir `%s`: %m", AGENT_NEWROOT);
		return -1;
	}
	if (mount(dev, AGENT_NEWROOT, fstype, flags, NULL) < 0) {
		if (errno != EROFS && errno != EACCES) {
			snprintf(err, errlen, "mount `%s` (%s) on `%s`: %m",
				 dev, fstype, AGENT_NEWROOT);
			return -1;
		}
		flags |= MS_RDONLY;
		if (mount(dev, AGENT_NEWROOT, fstype, flags, NULL) < 0) {
			snprintf(err, errlen, "mount `%s` (%s) on `%s`: %m",
				 dev, fstype, AGENT_NEWROOT);
			return -1;
		}
		agent_log("`%s` is read-only: mounted read-only", dev);
	}

	for (n = 0; n < ARRAY_SIZE(moved); n++) {
		char path[64];

		snprintf(path, sizeof(path), AGENT_NEWROOT "%s", moved[n]);
		if (mkdir_exist(path, 0755) < 0) {
			snprintf(err, errlen, "mkdir `%s` in `%s`: %m",
				 moved[n], dev);
			goto fail;
		}
		if (mount(moved[n], path, NULL, MS_MOVE, NULL) < 0) {
			snprintf(err, errlen, "mount --move `%s` `%s`: %m",
				 moved[n], path);
			goto fail;
		}
	}

	oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (chdir(AGENT_NEWROOT) < 0) {
		snprintf(err, errlen, "chdir `%s`: %m", AGENT_NEWROOT);
		goto fail;
	}
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) {
		snprintf(err, errlen, "mount --move `%s` `/`: %m",
			 AGENT_NEWROOT);
		if (chdir("/") < 0)
			agent_log("chdir `/`: %m");
		goto fail;
	}
	if (chroot(".") < 0 || chdir("/") < 0) {
		/* The new root is mounted over "/": it is the root now. */
		agent_log("chroot `%s`: %m", AGENT_NEWROOT);
	}
	if (oldroot >= 0)
		free_initramfs(steal_fd(&oldroot));
	post_switch();
	return 0;

fail:
	unmove(n);
	if (umount(AGENT_NEWROOT) < 0)
		agent_log("umount `%s`: %m", AGENT_NEWROOT);
	return -1;
}

/* Undo the \ooo escapes of /proc/self/mounts in place. */
static void unescape_mnt(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* Unmount everything but "/", innermost first; failures are ignored. */
static void umount_all(void)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char **mp = NULL;
	_cleanup_close_ int fd = -1;
	size_t cap = 1u << 20, count = 0;
	ssize_t r;

	fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
	buf = malloc(cap + 1);
	mp = calloc(4096, sizeof(*mp));
	if (fd < 0 || !buf || !mp)
		return;
	r = read_all(fd, buf, cap);
	if (r < 0)
		return;
	buf[r] = '\0';
	for (char *line = buf, *next; *line && count < 4096; line = next) {
		char *sp, *dir;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		dir = sp + 1;
		sp = strchr(dir, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		unescape_mnt(dir);
		mp[count++] = dir;
	}
	while (count--) {
		if (strcmp(mp[count], "/") != 0)
			umount(mp[count]);
	}
}

/* Reap children for up to @ms. Return: true when none is left. */
static bool reap_for(struct agent *a, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		struct pollfd pfd = {.fd = a->sigfd, .events = POLLIN};
		struct signalfd_siginfo si;
		uint64_t now;

		while (read(a->sigfd, &si, sizeof(si)) > 0)
			;
		if (procs_reap(a))
			return true;
		now = now_ms();
		if (now >= end)
			return false;
		poll(&pfd, 1, (int)(end - now));
	}
}

/*
 * init_shutdown() - stop every process, sync, unmount and power off.
 * If power off fails (it should not), returns and the agent keeps serving.
 */
void init_shutdown(struct agent *a)
{
	uint64_t end;

	uint64_t t0 = now_ms();

	agent_log("shutting down");
	if (kill(-1, SIGTERM) == 0 && !reap_for(a, TERM_WAIT_MS)) {
		agent_log("processes left after SIGTERM and %u ms: SIGKILL",
			  TERM_WAIT_MS);
		if (kill(-1, SIGKILL) == 0 && !reap_for(a, KILL_WAIT_MS))
			agent_log("processes left after SIGKILL and %u ms",
				  KILL_WAIT_MS);
	}

	/* Give frames already queued a short chance to reach the host. */
	end = now_ms() + FLUSH_WAIT_MS;
	while (a->port_up && msb_buf_avail(&a->out) && now_ms() < end) {
		struct pollfd pfd = {.fd = a->port, .events = POLLOUT};

		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0 ||
		    (pfd.revents & (POLLHUP | POLLERR)))
			break;
		agent_flush(a);
	}

	sync();
	umount_all();
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		agent_log("remount `/` read-only: %m");
	sync();
	agent_log("power off (shutdown took %llu ms)",
		  (unsigned long long)(now_ms() - t0));
	reboot(RB_POWER_OFF);
	agent_log("reboot RB_POWER_OFF: %m");
}
