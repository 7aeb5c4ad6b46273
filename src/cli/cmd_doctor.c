// SPDX-License-Identifier: Apache-2.0
/* msb doctor: check what sandboxes need here, and say what to fix. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vmm/jail.h"
#include "vmm/qemu.h"

static int problems;

static void report(bool good, const char *what, const char *detail,
		   const char *fix)
{
	printf("%s %-22s %s\n", good ? "ok  " : "FAIL", what, detail);
	if (!good) {
		problems++;
		if (fix)
			printf("     %-22s fix: %s\n", "", fix);
	}
}

/* A jail feature: missing ones are warnings (the jail falls back). */
static void jail_line(bool good, const char *what, const char *detail,
		      void *userdata)
{
	(void)userdata;
	printf("%s %-22s %s\n", good ? "ok  " : "warn", what, detail);
}

static bool on_path(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(buf, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", d, prog);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static void check_file(const char *dir, const char *name, const char *what)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	bool good = access(path, R_OK) == 0;
	report(good, what, path, "run ./setup.sh (it builds the guest)");
}

int cmd_doctor(int argc, char **argv)
{
	char path[4096], why[256];

	if (argc > 1) {
		puts("Usage: msb doctor\n\nCheck KVM, QEMU, the guest files "
		     "and disk space, and say what to fix.");
		return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? 2
									  : 0;
	}
	const char *qemu = getenv("MSB_QEMU");
	bool have = qemu ? access(qemu, X_OK) == 0
			 : on_path("qemu-system-x86_64", path, sizeof(path));
	report(have, "QEMU", have ? (qemu ? qemu : path) : "not found",
	       "install the qemu-system-x86 package");
	have = on_path("qemu-img", path, sizeof(path));
	report(have, "qemu-img", have ? path : "not found",
	       "install the qemu-utils package");

	bool kvm = msb_kvm_usable(why, sizeof(why));
	/* Not a failure: TCG works, only slower. */
	printf("%s %-22s %s\n", kvm ? "ok  " : "warn", "KVM",
	       kvm ? "usable" : why);
	if (!kvm)
		printf("     %-22s fix: enable virtualisation and add yourself to the kvm group (sandboxes run under TCG meanwhile)\n",
		       "");

	const char *guest = getenv("MSB_GUEST_DIR");
	guest = guest && *guest ? guest : MSB_GUEST_DIR;
	check_file(guest, "vmlinux", "guest kernel");
	check_file(guest, "initramfs.cpio", "guest initramfs");
	check_file(guest, "default-image/index.json", "default image");

	const char *home = getenv("MSB_HOME");
	char hbuf[4096];
	if (!home || !*home) {
		snprintf(hbuf, sizeof(hbuf), "%s/.microsandbox",
			 getenv("HOME") ? getenv("HOME") : "/");
		home = hbuf;
	}
	struct statvfs sv;
	char probe[4096];
	snprintf(probe, sizeof(probe), "%s", home);
	while (statvfs(probe, &sv) < 0 && strrchr(probe, '/') &&
	       strrchr(probe, '/') != probe)
		*strrchr(probe, '/') = '\0';
	double gib = (double)sv.f_bavail * (double)sv.f_frsize / (1 << 30);
	char detail[4200];
	snprintf(detail, sizeof(detail), "%.1f GiB free for %s", gib, home);
	report(gib >= 2, "disk space", detail,
	       "free space, or set MSB_HOME to a larger disk (2 GiB or more)");

	/* What the jail around QEMU and the supervisor will do here. */
	struct msb_jail_caps caps;
	msb_jail_probe(&caps);
	msb_jail_describe(&caps, jail_line, NULL);

	printf("%s\n", problems ? "msb doctor: problems found"
				: "msb doctor: ready to run sandboxes");
	return problems ? 1 : 0;
}
