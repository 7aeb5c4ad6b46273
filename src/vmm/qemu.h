/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QEMU backend: the one place where a sandbox's VM (machine, memory, vCPUs,
 * kernel command line, devices) is turned into a QEMU command line. Another
 * VMM backend would implement the same build/launch steps.
 */
#ifndef MSB_VMM_QEMU_H
#define MSB_VMM_QEMU_H

#include <stdbool.h>
#include <stddef.h>

struct msb_qemu_config {
	const char *qemu; /* binary */
	const char *name; /* sandbox name, shown by ps (-name) */
	/* Also in the guest name, so that ps and pgrep tell which sandbox
	 * folder a QEMU serves (its descriptors name nothing): a label
	 * QEMU never opens. NULL: none. */
	const char *label;
	const char *kernel; /* vmlinux, booted through PVH */
	const char *initrd;
	const char *disk; /* root disk: a qcow2 overlay, or the disk; NULL:
			     none (the root is a shared directory) */
	const char *disk_format; /* "qcow2" or "raw"; NULL: qcow2 */
	int console_fd; /* serial console: a stream socket, in the child */
	unsigned int cpus;
	unsigned int memory_mib;
	bool kvm;              /* else TCG */
	unsigned long tsc_khz; /* TCG only: host TSC, 0 if unknown */
	int agent_fd;          /* connected stream socket, in the child */
	int qmp_fd;            /* QMP control socket, in the child */
	/* Volumes: raw ext4 images on one virtio-scsi controller, disk i on
	 * SCSI target i (one virtio-mmio slot for all of them). */
	const char *const *disks;
	const bool *disks_ro;
	size_t ndisks;
	/* Host directories over virtio-fs: the vhost-user sockets of their
	 * virtiofsd, tag "fs<i>". Guest RAM then comes from a shared memfd. */
	const char *const *fs_sockets;
	size_t nfs;
	/* Or, when non-NULL, connected sockets to the virtiofsds (fd= in
	 * the child; QEMU then opens no path for them). */
	const int *fs_fds;
	/* Descriptors for /dev/fdset/<set> paths above (-add-fd): QEMU
	 * opens a file through the descriptor of the set whose access mode
	 * matches, so a writable image has one of each mode in its set. */
	const struct msb_qemu_fd *add_fds;
	size_t nadd_fds;
	/* The root disk's backing file and its format, overriding the path
	 * recorded in the overlay (e.g. "/dev/fdset/2"); NULL: as recorded */
	const char *backing;
	const char *backing_format;
	bool sandbox; /* QEMU's own seccomp filter (-sandbox), see qemu.c */
	/* The network device: a virtio-net whose frames are datagrams on
	 * @net_fd (one end of a SOCK_DGRAM socketpair, in the child), with
	 * the MAC @net_mac. NULL @net_mac: no network device. */
	const char *net_mac;
	int net_fd;
	/* Restore a saved state (docs/snapshots.md): read the migration
	 * stream from @incoming_fd (in the child; a file) instead of
	 * booting. QEMU then waits, paused, for "cont". The rest of the
	 * command line must be the one the state was saved with. */
	bool incoming;
	int incoming_fd;
};

struct msb_qemu_fd {
	int fd; /* in the child */
	unsigned int set;
};

/*
 * msb_qemu_argv() - build the QEMU command line.
 * Return: a NULL-terminated argv; the array and its strings are one
 * allocation owned by the caller (free() it); NULL on ENOMEM.
 */
char **msb_qemu_argv(const struct msb_qemu_config *c);

/*
 * msb_qemu_escape() - escape a value for a QEMU option list (',' → ',,').
 * Return: a malloc'd string, or NULL on ENOMEM.
 */
char *msb_qemu_escape(const char *s);

/*
 * msb_kvm_usable() - whether KVM can run our guests here: /dev/kvm opens
 * read-write and the CPU has hardware virtualisation (vmx or svm). Some
 * hosts offer a /dev/kvm without it (paravirtual KVM in a nested VM) on
 * which the guest hangs silently.
 * @why: on false, the reason, one line
 */
bool msb_kvm_usable(char *why, size_t len);

/*
 * msb_host_tsc_khz() - the host TSC frequency in kHz, from sysfs or
 * /proc/cpuinfo; 0 if unknown. Passed to TCG guests (tsc_early_khz) because
 * microvm has no PIT/HPET to calibrate against (see FACTS.md).
 */
unsigned long msb_host_tsc_khz(void);

#endif
