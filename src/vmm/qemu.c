// SPDX-License-Identifier: Apache-2.0
/* QEMU backend: the QEMU command line for a sandbox (see qemu.h). */
#include "vmm/qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* Arguments are collected as one packed buffer of NUL-terminated strings. */
struct argbuf {
	struct msb_buf buf;
	size_t count;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void add(struct argbuf *a,
						      const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0 || msb_buf_append(&a->buf, s, (size_t)n + 1) < 0)
		a->failed = true;
	else
		a->count++;
	free(s);
}

char *msb_qemu_escape(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

char **msb_qemu_argv(const struct msb_qemu_config *c)
{
	struct argbuf a = {0};
	_cleanup_free_ char *name = msb_qemu_escape(c->name);
	_cleanup_free_ char *disk = msb_qemu_escape(c->disk ? c->disk : "");
	if (!name || !disk)
		return NULL;

	add(&a, "%s", c->qemu);
	if (c->sandbox) {
		/* QEMU's seccomp filter: no obsolete system calls, no
		 * setuid & co., no fork/exec, no scheduler or resource
		 * changes. Under it a compromised QEMU keeps the calls
		 * device emulation needs and nothing else. */
		add(&a, "-sandbox");
		add(&a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
			"resourcecontrol=deny");
	}
	for (size_t i = 0; i < c->nadd_fds; i++) {
		add(&a, "-add-fd");
		add(&a, "fd=%d,set=%u", c->add_fds[i].fd, c->add_fds[i].set);
	}
	_cleanup_free_ char *label = msb_qemu_escape(c->label ? c->label : "");
	if (!label)
		return NULL;
	add(&a, "-name");
	if (c->label)
		add(&a, "process=msb-%s,guest=msb-%s:%s", name, name, label);
	else
		add(&a, "msb-%s,process=msb-%s", name, name);
	/* microvm keeps ACPI on: devices are found and power-off works
	 * through it (FACTS.md). */
	add(&a, "-M");
	add(&a, c->nfs ? "microvm,memory-backend=mem" : "microvm");
	add(&a, "-accel");
	add(&a, "%s", c->kvm ? "kvm" : "tcg");
	if (c->kvm) {
		add(&a, "-cpu");
		add(&a, "host");
	}
	add(&a, "-m");
	add(&a, "%u", c->memory_mib);
	if (c->nfs) {
		/* vhost-user daemons map guest RAM: it must be shareable. */
		add(&a, "-object");
		add(&a, "memory-backend-memfd,id=mem,size=%uM,share=on",
		    c->memory_mib);
	}
	add(&a, "-smp");
	add(&a, "%u", c->cpus);
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-no-reboot");
	/* QEMU 7.2 defaults virtio-mmio to legacy mode; vhost-user devices
	 * need modern. */
	add(&a, "-global");
	add(&a, "virtio-mmio.force-legacy=false");

	add(&a, "-chardev");
	add(&a, "socket,id=con,fd=%d", c->console_fd);
	add(&a, "-serial");
	add(&a, "chardev:con");

	add(&a, "-kernel");
	add(&a, "%s", c->kernel);
	add(&a, "-initrd");
	add(&a, "%s", c->initrd);
	add(&a, "-append");
	/* Under TCG: the TSC's rate given (FACTS.md: calibration fails
	 * under load), and trusted: the clocksource watchdog compares it
	 * with emulated timers that lag on a loaded host, marks it
	 * unstable and falls back to jiffies (4 ms steps in the guest's
	 * clocks). TCG's TSC follows the host's clock, so it is the
	 * steadiest source the guest has. */
	char tsc[64] = "";
	if (!c->kvm && c->tsc_khz)
		snprintf(tsc, sizeof(tsc), " tsc_early_khz=%lu tsc=reliable",
			 c->tsc_khz);
	add(&a,
	    "console=ttyS0 quiet panic=-1 cryptomgr.notests mitigations=off"
	    " random.trust_cpu=on%s",
	    tsc);

	add(&a, "-device");
	add(&a, "virtio-serial-device");
	add(&a, "-chardev");
	add(&a, "socket,id=agent,fd=%d", c->agent_fd);
	add(&a, "-device");
	add(&a, "virtserialport,chardev=agent,name=agent");

	if (c->disk) {
		_cleanup_free_ char *back =
			msb_qemu_escape(c->backing ? c->backing : "");
		if (!back)
			a.failed = true;
		/* Our own flocks say who may use the disks (main.c); QEMU's
		 * image locks, dropped when it saves a template (migration),
		 * would then refuse to take them back between its own
		 * descriptors of one file (the fdset's two modes). */
		add(&a, "-drive");
		if (c->backing)
			add(&a,
			    "file=%s,if=none,id=root,format=%s,discard=unmap,"
			    "file.locking=off,backing.driver=%s,"
			    "backing.file.filename=%s,"
			    "backing.file.locking=off",
			    disk, c->disk_format ? c->disk_format : "qcow2",
			    c->backing_format ? c->backing_format : "raw",
			    back ? back : "");
		else
			add(&a,
			    "file=%s,if=none,id=root,format=%s,discard=unmap,"
			    "file.locking=off",
			    disk, c->disk_format ? c->disk_format : "qcow2");
		add(&a, "-device");
		add(&a, "virtio-blk-device,drive=root");
	}

	add(&a, "-device");
	add(&a, "virtio-rng-device");

	if (c->net_mac) {
		/* One datagram = one Ethernet frame, to msb-netd. */
		add(&a, "-netdev");
		add(&a, "socket,id=n0,fd=%d", c->net_fd);
		add(&a, "-device");
		add(&a, "virtio-net-device,netdev=n0,mac=%s", c->net_mac);
	}

	for (size_t i = 0; i < c->nfs; i++) {
		add(&a, "-chardev");
		if (c->fs_fds) {
			add(&a, "socket,id=fs%zu,fd=%d", i, c->fs_fds[i]);
		} else {
			_cleanup_free_ char *s =
				msb_qemu_escape(c->fs_sockets[i]);
			if (!s)
				a.failed = true;
			add(&a, "socket,id=fs%zu,path=%s", i, s ? s : "");
		}
		add(&a, "-device");
		add(&a, "vhost-user-fs-device,chardev=fs%zu,tag=fs%zu", i, i);
	}
	if (c->ndisks) {
		add(&a, "-device");
		add(&a, "virtio-scsi-device,id=scsi0");
	}
	for (size_t i = 0; i < c->ndisks; i++) {
		_cleanup_free_ char *f = msb_qemu_escape(c->disks[i]);
		if (!f)
			a.failed = true;
		/* Our own flock says who may attach; QEMU's image locks
		 * would refuse readers of an image some VM writes. */
		add(&a, "-drive");
		add(&a,
		    "file=%s,if=none,id=vol%zu,format=raw,readonly=%s,"
		    "file.locking=off,discard=unmap",
		    f ? f : "", i, c->disks_ro[i] ? "on" : "off");
		add(&a, "-device");
		add(&a, "scsi-hd,bus=scsi0.0,drive=vol%zu,scsi-id=%zu,lun=0", i,
		    i);
	}

	/* QMP for the supervisor: block statistics for metrics. */
	add(&a, "-chardev");
	add(&a, "socket,id=qmp,fd=%d", c->qmp_fd);
	add(&a, "-mon");
	add(&a, "chardev=qmp,mode=control");

	if (c->incoming) {
		add(&a, "-incoming");
		add(&a, "fd:%d", c->incoming_fd);
	}

	if (a.failed) {
		msb_buf_free(&a.buf);
		return NULL;
	}

	/* One allocation: the pointer array followed by the strings. */
	size_t ptrs = (a.count + 1) * sizeof(char *);
	char **argv = malloc(ptrs + a.buf.len);
	if (!argv) {
		msb_buf_free(&a.buf);
		return NULL;
	}
	char *s = (char *)argv + ptrs;
	memcpy(s, a.buf.data, a.buf.len);
	for (size_t i = 0; i < a.count; i++) {
		argv[i] = s;
		s += strlen(s) + 1;
	}
	argv[a.count] = NULL;
	msb_buf_free(&a.buf);
	return argv;
}

/* Does /proc/cpuinfo list the vmx or svm flag? */
static bool cpu_has_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false, seen_flags = false;

	if (!f)
		return false;
	while (!found && !seen_flags && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5))
			continue;
		char *colon = strchr(line, ':');
		seen_flags = true;
		if (!colon)
			continue;
		for (char *tok = strtok(colon + 1, " \n"); tok;
		     tok = strtok(NULL, " \n"))
			if (!strcmp(tok, "vmx") || !strcmp(tok, "svm"))
				found = true;
	}
	free(line);
	fclose(f);
	return found;
}

bool msb_kvm_usable(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "/dev/kvm cannot be opened (%s)",
			 strerror(errno));
		return false;
	}
	close(fd);
	if (!cpu_has_virt()) {
		snprintf(
			why, len,
			"/dev/kvm exists but the CPU has no hardware virtualisation (no vmx/svm flag)");
		return false;
	}
	return true;
}

unsigned long msb_host_tsc_khz(void)
{
	unsigned long khz = 0;
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "re");

	if (f) {
		if (fscanf(f, "%lu", &khz) != 1)
			khz = 0;
		fclose(f);
		if (khz)
			return khz;
	}
	f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		double mhz;
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1 ||
		    sscanf(line, "cpu MHz\t: %lf", &mhz) == 1) {
			khz = (unsigned long)(mhz * 1000.0 + 0.5);
			break;
		}
	}
	fclose(f);
	return khz;
}
