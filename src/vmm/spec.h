/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM spec: everything the supervisor needs to run one sandbox, resolved
 * by the library (paths, defaults) and handed to msb-vmm as JSON on fd 3.
 */
#ifndef MSB_VMM_SPEC_H
#define MSB_VMM_SPEC_H

#include <stdbool.h>
#include <stddef.h>

/* File descriptors msb-vmm is started with. */
enum {
	MSB_VMM_FD_SPEC = 3,   /* read: the spec as JSON, until EOF */
	MSB_VMM_FD_STATUS = 4, /* write: status lines, closed when ready */
	MSB_VMM_FD_CLIENT = 5, /* the creator's agent connection (frames) */
	MSB_VMM_FD_WATCH = 6,  /* read: EOF means the creator is gone */
};

/*
 * Status lines on MSB_VMM_FD_STATUS, each ending in '\n':
 *   "W <message>"                 a warning for the user
 *   "E <code> <errno> <message>"  creation failed (code: enum
 *                                 msb_error_code), the supervisor exits
 *   "R <json>"                    the guest is ready (boot timings)
 */

struct msb_vm_spec {
	char *name;
	char *hostname; /* the guest's; "" for the name */
	bool ephemeral; /* remove the sandbox folder when stopped */
	unsigned int cpus;
	unsigned int memory_mib;
	char **env;        /* NULL-terminated "K=V", never NULL */
	char *sandbox_dir; /* absolute; created by the supervisor */
	char *qemu;        /* qemu-system-x86_64 */
	char *qemu_img;    /* qemu-img */
	char *kernel;      /* uncompressed vmlinux (PVH) */
	char *initrd;      /* initramfs holding msb-agent */
	char *rootfs;      /* raw ext4 base image */
	char *image;       /* its OCI manifest digest, or "" */
	char *home;        /* $MSB_HOME: the state database is here */
	char *mode;        /* "create" (a new folder) or "start" (an existing,
			      stopped sandbox) */
	bool detached;     /* ignore the watch pipe */
	char *accel;       /* "auto", "kvm" or "tcg" */
	unsigned int boot_timeout_ms;
	unsigned int idle_timeout_s; /* stop when idle this long; 0: never */
	bool idle_suspend; /* suspend instead, when idle (docs/snapshots.md) */
	unsigned int
		max_duration_s; /* stop after running this long; 0: never */
	char **mounts;          /* NULL-terminated guest mounts for the hello
				   (agent/mount.h), never NULL */
	unsigned int root_size_mib; /* writable root's size; 0: the image's */
	char *root_format;          /* of rootfs: "raw" or "qcow2" */
	char *root_fstype;          /* the root filesystem's type ("ext4") */
	char *root_dev;   /* what the guest mounts as root: "/dev/vda", or the
			     virtio-fs tag of a shared directory root */
	bool root_direct; /* boot rootfs itself, read-write (no overlay) */
	char **disks;     /* volume images, "ro:PATH" or "rw:PATH"; disk i is
			     SCSI target i ("vol:i:..." in mounts) */
	char **shares;    /* host directories, "ro:DIR" or "rw:DIR"; share i
			     has virtio-fs tag "fs<i>" ("bind:fs<i>:..." in
			     mounts) */
	char **initrd_extras; /* archives appended to the initramfs (drivers
				 only this sandbox needs) */
	/* The main process (src/vmm/workload.c): started at ready; none
	   when @main_argv is empty. */
	char **main_argv;         /* never NULL */
	char *main_cwd;           /* "" for the agent's default */
	char *main_user;          /* "" for root */
	char **main_rlimits;      /* never NULL */
	char *restart;            /* "no", "on-failure", "always" ("": no) */
	unsigned int restart_max; /* on-failure: at most this many; 0: no
				     limit */
	bool main_stdin;  /* its stdin is a pipe the supervisor holds (an
			     attach feeds it), else empty */
	bool main_tty;    /* it has a pseudo-terminal (stdin too) */
	bool hold;        /* accept no other client until the creator sends
			     OPEN (it is preparing the sandbox: patches) */
	bool no_template; /* always boot cold, save no template
			     (docs/snapshots.md) */
	/* The network (docs/network.md): @network is the preset,
	   "public" or "all", or "" / "none" for no network device. The
	   rest is msb-netd's: its program ("" when this build has none),
	   the rules ("allow RULE", "deny RULE", checked by the library),
	   blocked names and suffixes, published ports
	   ("HOSTIP:HOSTPORT:GUESTPORT/PROTO"). */
	char *network;
	char *netd;
	char **net_rules;
	char **net_block_domains;
	char **net_block_suffixes;
	char **ports;
	/* TLS interception and secrets (docs/network.md): on when @tls;
	   the CA, the upstream CA and the secrets are files of the
	   sandbox folder (tls/, secrets.json) the supervisor reads and
	   hands to msb-netd on a descriptor, never in the spec. Ports as
	   decimal text, bypassed names "host" or "*.suffix". */
	bool tls;
	char **tls_ports;
	char **tls_bypass;
	/* "create": the library made the sandbox folder already (it holds
	   the CA and the secrets); it is still a new sandbox. */
	bool prepared;
};

/*
 * The guest's network identity: the same in every sandbox, each on a link
 * of its own to its own msb-netd (docs/network.md). A /30 in CGNAT space
 * (100.64.0.0/10), which the `public` preset denies as a destination, so
 * no allowed address is ever shadowed by the guest's own subnet.
 */
#define MSB_NET_GUEST_IP "100.96.0.2"
#define MSB_NET_GATEWAY_IP "100.96.0.1"
#define MSB_NET_PREFIX 30
#define MSB_NET_PREFIX_TEXT "30"
#define MSB_NET_GUEST_MAC                                                      \
	"02:6d:73:62:00:02"                     /* "msb", locally administered \
						 */
#define MSB_NET_GATEWAY_MAC "02:6d:73:62:00:01" /* netd's */

/* Whether @s asks for a network device. */
static inline bool msb_spec_has_network(const struct msb_vm_spec *s)
{
	return s->network && s->network[0] &&
	       __builtin_strcmp(s->network, "none");
}

/* Serialise @s; *@out is malloc'd, NUL-terminated. Return 0 or -1. */
int msb_spec_to_json(char **out, const struct msb_vm_spec *s);

/*
 * msb_spec_from_json() - parse a spec; on failure a one-line reason is
 * written to @err. Every string field is required. Return: 0 or -1.
 */
int msb_spec_from_json(struct msb_vm_spec *s, const char *json, size_t len,
		       char *err, size_t errlen);

/* Free the fields of @s (not @s itself). */
void msb_spec_clear(struct msb_vm_spec *s);

#endif
