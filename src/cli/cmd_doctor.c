// SPDX-License-Identifier: Apache-2.0
/*
 * msb doctor: check what sandboxes need here, as msb run will look for it
 * (the same environment variables and paths), and say what to fix. FAIL
 * lines are what makes every msb run fail, and make doctor exit 1; warn
 * lines are what only some features need (shared folders, volumes, the
 * network) or what makes sandboxes slower.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"
#include "vmm/hosttools.h"
#include "vmm/jail.h"
#include "vmm/qemu.h"

extern char **environ;

static const char doctor_usage[] =
	"Usage: msb doctor\n"
	"\n"
	"Check what sandboxes need on this host, as msb run looks for it\n"
	"(MSB_QEMU, MSB_QEMU_IMG, MSB_ACCEL, MSB_GUEST_DIR, MSB_VMM,\n"
	"MSB_NETD and MSB_HOME are taken into account): QEMU and qemu-img\n"
	"(found, and answering as QEMU), KVM, the supervisor, msb-netd and\n"
	"the guest files (and where they were found: an environment\n"
	"variable, the install prefix, or the build tree), disk space;\n"
	"virtiofsd (shared folders) and mkfs.ext4 (volumes); then what the\n"
	"jail around QEMU will do here. Each problem says what to fix.\n"
	"\n"
	"Exit status: 0 when sandboxes can run (warnings aside), 1 when msb\n"
	"run would fail, 2 for a usage error.\n";

static int problems;

/* @level: "ok  ", "warn" or "FAIL" (a problem). */
static void line(const char *level, const char *what, const char *detail,
		 const char *fix)
{
	char shown[1024];

	/* Paths and program output come from the environment: escaped. */
	msb_escape(shown, sizeof(shown), detail, strlen(detail));
	printf("%s %-22s %s\n", level, what, shown);
	if (!strcmp(level, "FAIL"))
		problems++;
	if (fix && strcmp(level, "ok  "))
		printf("     %-22s fix: %s\n", "", fix);
}

static void report(bool good, const char *what, const char *detail,
		   const char *fix)
{
	line(good ? "ok  " : "FAIL", what, detail, fix);
}

/* A jail feature: missing ones are warnings (the jail falls back). */
static void jail_line(bool good, const char *what, const char *detail,
		      void *userdata)
{
	(void)userdata;
	line(good ? "ok  " : "warn", what, detail, NULL);
}

/*
 * Run @argv with stdin from /dev/null, its stdout and stderr together
 * into @out (at most @len - 1 bytes, NUL-terminated), for at most 10 s.
 * Return: its exit status, 128+N for signal N, or -1 if it could not run
 * (@out then says why).
 */
static int probe(char *const argv[], char *out, size_t len)
{
	posix_spawn_file_actions_t fa;
	int p[2], st = 0;
	pid_t pid;
	size_t n = 0;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(out, len, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc) {
		close(p[0]);
		snprintf(out, len, "cannot run: %s", strerror(rc));
		return -1;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 10000 - ((now.tv_sec - t0.tv_sec) * 1000 +
				     (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			snprintf(out, len, "no answer within 10 s");
			break;
		}
		char buf[4096];
		ssize_t k = read(p[0], buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		size_t take = (size_t)k < len - 1 - n ? (size_t)k : len - 1 - n;
		memcpy(out + n, buf, take);
		n += take;
		out[n] = '\0';
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* probe(), keeping the first line of the output. */
static int probe_line(char *const argv[], char *out, size_t len)
{
	int rc = probe(argv, out, len);

	out[strcspn(out, "\n")] = '\0';
	return rc;
}

/*
 * A program msb runs: found as msb run finds it (@env overrides), and
 * answering @version_arg with output starting with @expect.
 */
static void check_program(const char *what, const char *env, const char *prog,
			  const char *version_arg, const char *expect,
			  const char *package)
{
	const char *set = getenv(env);
	char detail[1200], out[512], fix[512];
	_cleanup_free_ char *path = msb_find_program(env, prog);

	if (!path) {
		if (set && *set) {
			snprintf(detail, sizeof(detail),
				 "%s=%s: not an executable file", env, set);
			snprintf(fix, sizeof(fix),
				 "point %s at %s (the %s package), or unset it",
				 env, prog, package);
		} else {
			snprintf(detail, sizeof(detail),
				 "%s not found on PATH or in /usr/bin", prog);
			snprintf(fix, sizeof(fix), "install the %s package",
				 package);
		}
		report(false, what, detail, fix);
		return;
	}
	char *argv[] = {path, (char *)version_arg, NULL};
	int rc = probe_line(argv, out, sizeof(out));
	if (rc == 0 && !strncmp(out, expect, strlen(expect))) {
		snprintf(detail, sizeof(detail), "%s (%s)", path, out);
		report(true, what, detail, NULL);
		return;
	}
	if (rc < 0)
		snprintf(detail, sizeof(detail), "%s: %s", path, out);
	else
		snprintf(detail, sizeof(detail),
			 "`%s %s` exited with status %d: %s", path, version_arg,
			 rc, out[0] ? out : "(no output)");
	if (set && *set)
		snprintf(fix, sizeof(fix),
			 "point %s at a working %s (the %s package), or unset "
			 "it",
			 env, prog, package);
	else
		snprintf(fix, sizeof(fix), "install the %s package", package);
	report(false, what, detail, fix);
}

/* QEMU must also have the microvm machine that sandboxes boot. */
static void check_microvm(void)
{
	_cleanup_free_ char *path =
		msb_find_program("MSB_QEMU", "qemu-system-x86_64");
	char out[16384];

	if (!path)
		return; /* reported already */
	char *argv[] = {path, "-machine", "help", NULL};
	if (probe(argv, out, sizeof(out)) != 0)
		return; /* not QEMU: reported already */
	if (strncmp(out, "microvm ", 8) && !strstr(out, "\nmicrovm "))
		report(false, "QEMU microvm",
		       "this QEMU has no microvm machine",
		       "install QEMU 5.0 or later (Debian's qemu-system-x86)");
}

static void check_kvm(void)
{
	const char *accel = getenv("MSB_ACCEL");
	char why[256], detail[512];
	bool kvm = msb_kvm_usable(why, sizeof(why));

	if (accel && *accel && strcmp(accel, "auto") && strcmp(accel, "kvm") &&
	    strcmp(accel, "tcg")) {
		snprintf(detail, sizeof(detail),
			 "MSB_ACCEL=%s: not kvm, tcg or auto", accel);
		report(false, "KVM", detail,
		       "set MSB_ACCEL to kvm, tcg or auto");
		return;
	}
	if (accel && !strcmp(accel, "tcg")) {
		line("ok  ", "KVM", "not used: MSB_ACCEL=tcg (TCG, slower)",
		     NULL);
		return;
	}
	if (accel && !strcmp(accel, "kvm")) {
		snprintf(detail, sizeof(detail), "MSB_ACCEL=kvm: %s",
			 kvm ? "usable" : why);
		report(kvm, "KVM", detail,
		       "enable virtualisation and add yourself to the kvm group, or set MSB_ACCEL=tcg (or auto)");
		return;
	}
	/* Not a failure: TCG works, only slower. */
	line(kvm ? "ok  " : "warn", "KVM", kvm ? "usable" : why,
	     "enable virtualisation and add yourself to the kvm group (sandboxes run under TCG meanwhile)");
}

static void check_file(const msb_runtime_info *rt, const char *name,
		       const char *what)
{
	char path[4096], detail[8400];

	snprintf(path, sizeof(path), "%s/%s", rt->guest_dir, name);
	bool good = access(path, R_OK) == 0;
	snprintf(detail, sizeof(detail), "%s (%s)", path, rt->guest_origin);
	report(good, what, detail,
	       strcmp(rt->guest_origin, "MSB_GUEST_DIR")
		       ? "run ./setup.sh (it builds the guest), or reinstall msb"
		       : "point MSB_GUEST_DIR at the guest files, or unset it");
}

/* The helper @name: @path from @origin (msb_runtime_info), which is @var
 * when that variable chose it. */
static void check_helper(const char *what, const char *name, const char *path,
			 const char *origin, const char *var, bool needed)
{
	char detail[8400], fix[128];

	bool good = access(path, X_OK) == 0;
	snprintf(detail, sizeof(detail), "%s (%s)%s%s", path, origin,
		 good ? "" : ": ", good ? "" : strerror(errno));
	if (strcmp(origin, var))
		snprintf(fix, sizeof(fix),
			 "run ./setup.sh (it builds %s), or reinstall msb",
			 name);
	else
		snprintf(fix, sizeof(fix), "point %s at %s, or unset it", var,
			 name);
	if (needed)
		report(good, what, detail, fix);
	else
		line(good ? "ok  " : "warn", what, detail, fix);
}

/* What only some features need: a warning when missing. */
static void check_optional(void)
{
	char out[512], detail[1024];
	const char *mkfs = msb_mkfs_ext4_path();

	if (access(MSB_VIRTIOFSD_PATH, X_OK) < 0) {
		snprintf(detail, sizeof(detail),
			 "%s: %s (host folders cannot be shared: -v DIR:PATH)",
			 MSB_VIRTIOFSD_PATH, strerror(errno));
		line("warn", "virtiofsd", detail,
		     "install the qemu-system-common package");
	} else {
		char *argv[] = {MSB_VIRTIOFSD_PATH, "--version", NULL};
		int rc = probe_line(argv, out, sizeof(out));
		snprintf(detail, sizeof(detail), "%s (%s)", MSB_VIRTIOFSD_PATH,
			 out);
		line(rc == 0 ? "ok  " : "warn", "virtiofsd", detail,
		     "reinstall the qemu-system-common package");
	}
	if (!mkfs) {
		line("warn", "mkfs.ext4",
		     "not in /usr/sbin or /sbin (volumes cannot be created)",
		     "install the e2fsprogs package");
	} else {
		char *argv[] = {(char *)mkfs, "-V", NULL};
		int rc = probe_line(argv, out, sizeof(out));
		snprintf(detail, sizeof(detail), "%s (%s)", mkfs, out);
		line(rc == 0 ? "ok  " : "warn", "mkfs.ext4", detail,
		     "reinstall the e2fsprogs package");
	}
}

static void check_home(void)
{
	const char *home = getenv("MSB_HOME");
	char hbuf[4096], detail[8400];

	if (home && *home && home[0] != '/') {
		snprintf(detail, sizeof(detail),
			 "MSB_HOME=%s: not an absolute path", home);
		report(false, "state folder", detail,
		       "set MSB_HOME to an absolute path, or unset it");
		return;
	}
	if (!home || !*home) {
		snprintf(hbuf, sizeof(hbuf), "%s/.microsandbox",
			 getenv("HOME") ? getenv("HOME") : "/");
		home = hbuf;
	}
	/* The folder, or the nearest parent that exists (it is created). */
	char probe_dir[4096];
	struct statvfs sv;
	snprintf(probe_dir, sizeof(probe_dir), "%s", home);
	while (statvfs(probe_dir, &sv) < 0 && strrchr(probe_dir, '/') &&
	       strrchr(probe_dir, '/') != probe_dir)
		*strrchr(probe_dir, '/') = '\0';
	if (access(probe_dir, W_OK | X_OK) < 0) {
		snprintf(detail, sizeof(detail), "%s: `%s` is not writable",
			 home, probe_dir);
		report(false, "state folder", detail,
		       "set MSB_HOME to a folder you can write");
		return;
	}
	double gib = (double)sv.f_bavail * (double)sv.f_frsize / (1 << 30);
	snprintf(detail, sizeof(detail), "%.1f GiB free for %s", gib, home);
	report(gib >= 2, "disk space", detail,
	       "free space, or set MSB_HOME to a larger disk (2 GiB or more)");
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "doctor",
		.usage = doctor_usage,
		.synopsis = "no arguments",
		.shortopts = "h",
		.longopts = longopts,
		.min_pos = 0,
		.max_pos = 0,
	};
	int st = cli_args_only(&a, argc, argv);
	if (st >= 0)
		return st;

	check_program("QEMU", "MSB_QEMU", "qemu-system-x86_64", "-version",
		      "QEMU emulator version", "qemu-system-x86");
	check_microvm();
	check_program("qemu-img", "MSB_QEMU_IMG", "qemu-img", "--version",
		      "qemu-img version", "qemu-utils");
	check_kvm();

	msb_runtime_info rt;
	if (msb_runtime_get(&rt) < 0)
		return cli_fail(1);
	check_helper("supervisor", "msb-vmm", rt.vmm, rt.vmm_origin, "MSB_VMM",
		     true);
	/* A build with a network needs it: without it a sandbox that asks
	 * for a network (the default) fails to start. */
	if (rt.netd[0])
		check_helper("msb-netd", "msb-netd", rt.netd, rt.netd_origin,
			     "MSB_NETD", MSB_HAVE_NET);
	else
		line("warn", "msb-netd", "this build has no network", NULL);
	check_file(&rt, "vmlinux", "guest kernel");
	check_file(&rt, "initramfs.cpio", "guest initramfs");
	check_file(&rt, "rootfs.ext4", "default root disk");
	check_file(&rt, "default-image/index.json", "default image");
	msb_runtime_info_free(&rt);
	check_home();
	check_optional();

	/* What the jail around QEMU and the supervisor will do here. */
	struct msb_jail_caps caps;
	msb_jail_probe(&caps);
	msb_jail_describe(&caps, jail_line, NULL);

	printf("%s\n", problems ? "msb doctor: problems found"
				: "msb doctor: ready to run sandboxes");
	return problems ? 1 : 0;
}
