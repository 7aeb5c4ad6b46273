/* SPDX-License-Identifier: Apache-2.0 */
/*
 * microsandbox.h - run untrusted code in microVMs.
 *
 * A sandbox is a real virtual machine with its own Linux kernel. Create one
 * with msb_sandbox_create(), run commands in it with msb_sandbox_exec() or
 * msb_sandbox_shell(), then msb_sandbox_stop() and msb_sandbox_free() it.
 *
 * Conventions:
 * - Fallible functions return 0 or a negative MSB_E* code; details of the
 *   last failure on the calling thread are in msb_last_error().
 * - Output parameters come first. Objects returned through them belong to
 *   the caller and are released with the matching _free() function, which
 *   accepts NULL.
 * - Options structs start with a version field; initialise them with their
 *   _INIT macro so that new fields get defaults.
 * - The library never prints and never exits; it reports warnings through
 *   the log callback set with msb_set_log_callback().
 * - A handle may be used from one thread at a time; different handles may
 *   be used from different threads at once.
 */
#ifndef MICROSANDBOX_H
#define MICROSANDBOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MSB_VERSION_STRING "0.1.0"

/* Error codes (negated in return values). */
enum msb_error_code {
	MSB_OK = 0,
	MSB_EINVAL = 1,    /* invalid argument or option */
	MSB_ENOMEM = 2,    /* out of memory */
	MSB_ESYS = 3,      /* a system call failed; see errno in the error */
	MSB_ENOTFOUND = 4, /* a required program or file is missing */
	MSB_EKVM = 5,      /* KVM was requested but cannot be used */
	MSB_ETIMEDOUT = 6, /* the guest or an operation did not answer */
	MSB_EVMDIED = 7,   /* the VM stopped unexpectedly (crash, panic) */
	MSB_EPROTO = 8,    /* the guest sent something invalid */
	MSB_EEXIST = 9,    /* a sandbox with that name exists */
	MSB_ESTATE = 10,   /* the sandbox is not in a usable state */
	MSB_ECMDNOTFOUND = 11, /* the command does not exist in the guest */
	MSB_EEXEC = 12,  /* the command could not be started in the guest */
	MSB_EAGENT = 13, /* the guest agent reported an error */
	MSB_EAUTH = 14,  /* a registry refused the credentials */
	/* Guest filesystem errors (the guest errno is in sys_errno): */
	MSB_EPERM = 15,     /* permission denied, read-only */
	MSB_EISDIR = 16,    /* is a directory */
	MSB_ENOTDIR = 17,   /* a path component is not a directory */
	MSB_ENOTEMPTY = 18, /* directory not empty */
	MSB_ENOSPC = 19,    /* no space left, quota exceeded; host disk full */
	/* A feature this build of the library lacks (e.g. the network of a
	 * build made with -Dnet=false); the message says which. */
	MSB_ENOTSUP = 20,
};

/* Why a command could not be started (MSB_ECMDNOTFOUND, MSB_EEXEC). */
typedef enum msb_exec_failure {
	MSB_EXEC_FAILURE_NONE = 0,       /* not an exec start failure */
	MSB_EXEC_FAILURE_NOT_FOUND,      /* no such command (or path) */
	MSB_EXEC_FAILURE_PERMISSION,     /* permission denied */
	MSB_EXEC_FAILURE_NOT_EXECUTABLE, /* not an executable format */
	MSB_EXEC_FAILURE_CWD,            /* bad working directory */
	MSB_EXEC_FAILURE_USER,           /* unknown user or group */
	MSB_EXEC_FAILURE_RLIMIT,         /* a resource limit was refused */
	MSB_EXEC_FAILURE_OTHER,          /* anything else (see message) */
} msb_exec_failure;

typedef struct msb_error {
	int code;           /* enum msb_error_code (positive) */
	int sys_errno;      /* errno of the failing system call, or 0 */
	char message[1024]; /* one line, no trailing newline */
	/* With MSB_ECMDNOTFOUND and MSB_EEXEC: which start failure. */
	msb_exec_failure exec_failure;
} msb_error;

/*
 * msb_last_error() - the last error on this thread.
 * Return: a pointer to thread-local storage, valid until the next library
 * call on this thread; never NULL (code MSB_OK if there was no error).
 */
const msb_error *msb_last_error(void);

/* Name of an error code ("invalid argument"...), never NULL. */
const char *msb_strerror(int code);

/* Library version, MSB_VERSION_STRING of the built library. */
const char *msb_version(void);

/*
 * Where the library takes its helpers and guest files from. Each comes
 * from its environment variable when set (MSB_VMM, MSB_NETD,
 * MSB_GUEST_DIR); else from the install prefix the library itself sits in
 * (PREFIX/lib/.../libmicrosandbox.so.0 → PREFIX/libexec/microsandbox/ and
 * PREFIX/lib/microsandbox/), so a moved prefix keeps working; or, for a
 * library inside its build tree, from that build.
 */
typedef struct msb_runtime_info {
	char *vmm;       /* msb-vmm */
	char *netd;      /* msb-netd; "" in a build without a network */
	char *guest_dir; /* vmlinux, initramfs*.cpio, rootfs.ext4,
			    default-image/ */
	/* Where each came from: "MSB_VMM" (the variable's name), "prefix
	   /usr", "build tree /src/build" or "configured prefix /usr/local"
	   (the library is neither in a prefix nor in its build tree). */
	char *vmm_origin, *netd_origin, *guest_origin;
} msb_runtime_info;

/*
 * msb_runtime_get() - fill @out (free with msb_runtime_info_free()). The
 * paths are where the files should be: they are not checked.
 * Return: 0, -MSB_ENOMEM.
 */
int msb_runtime_get(msb_runtime_info *out);
void msb_runtime_info_free(msb_runtime_info *info);

enum msb_log_level {
	MSB_LOG_ERROR = 0,
	MSB_LOG_WARN = 1,
	MSB_LOG_INFO = 2,
	MSB_LOG_DEBUG = 3,
};

typedef void (*msb_log_fn)(int level, const char *message, void *userdata);

/*
 * msb_set_log_callback() - receive the library's warnings and diagnostics.
 * @fn: called with one line (no newline); NULL disables logging (default)
 * @max_level: messages above this level are not delivered
 * Process-wide; the callback may be called from any thread that calls the
 * library.
 */
void msb_set_log_callback(msb_log_fn fn, int max_level, void *userdata);

/* ------------------------------------------------------------------ */
/* Images                                                              */

/*
 * OCI images from any registry ("alpine", "python:3.12",
 * "ghcr.io/org/app@sha256:...", "localhost:5000/team/tool:v2"), kept in a
 * content store under $MSB_HOME/images with each image's layers flattened
 * into a read-only ext4 root disk.
 */
typedef struct msb_image msb_image;

typedef enum msb_pull_policy {
	MSB_PULL_IF_MISSING = 0, /* use the stored image if there is one */
	MSB_PULL_ALWAYS = 1,     /* ask the registry for the reference again */
	MSB_PULL_NEVER = 2,      /* only the store; fail if missing */
} msb_pull_policy;

/* Progress of one layer download: @done of @total bytes. */
typedef void (*msb_pull_progress_fn)(const char *layer_digest, uint64_t done,
				     uint64_t total, void *userdata);

#define MSB_PULL_OPTIONS_VERSION 1

typedef struct msb_pull_options {
	unsigned int version; /* MSB_PULL_OPTIONS_VERSION */
	msb_pull_policy policy;
	/* "os/arch[/variant]"; NULL: the host's platform. */
	const char *platform;
	/*
	 * Registry credentials. NULL: those of ~/.docker/config.json for the
	 * registry (auths, credHelpers, credsStore), else anonymous.
	 */
	const char *username;
	const char *password;
	/*
	 * SECURITY NOTE: non-zero allows plain HTTP to this registry, so the
	 * image and credentials travel unprotected. Registries on localhost
	 * may always use HTTP.
	 */
	int insecure;
	msb_pull_progress_fn progress; /* or NULL */
	void *userdata;
} msb_pull_options;

#define MSB_PULL_OPTIONS_INIT                                                  \
	{                                                                      \
		MSB_PULL_OPTIONS_VERSION, MSB_PULL_IF_MISSING, NULL, NULL,     \
			NULL, 0, NULL, NULL                                    \
	}

/*
 * msb_image_pull() - make @reference available: pull it (manifest, config,
 * layers verified by digest, in parallel) and build its root disk, or find
 * it in the store, as @opts->policy says.
 * @out: the image (free with msb_image_free()), or NULL if not wanted
 * @opts: NULL for defaults
 * Return: 0, or MSB_EINVAL (bad reference), MSB_ENOTFOUND (no such image,
 * or not stored with MSB_PULL_NEVER), MSB_EPROTO (a document or blob that
 * does not verify), MSB_ESYS...
 */
int msb_image_pull(msb_image **out, const char *reference,
		   const msb_pull_options *opts);

/*
 * msb_image_get() - a stored image, without network access.
 * @reference: a reference, or the image's ID as docker takes one: its
 * full ID or digest ("sha256:" and 64 hex digits: the ID, which is the
 * config digest, or the manifest digest), 64 hex digits, or a prefix of
 * the ID in lowercase hex (a stored reference of that name comes first).
 * msb_image_pull(), msb_image_remove() and msb_sandbox_options.image take
 * IDs the same way.
 * Return: 0, MSB_ENOTFOUND if absent, MSB_EINVAL for a prefix that
 * several images' IDs start with (the error names them).
 */
int msb_image_get(msb_image **out, const char *reference);

/*
 * msb_image_list() - all stored images, sorted by reference.
 * @out: array of @count images; free with msb_image_list_free()
 */
int msb_image_list(msb_image ***out, size_t *count);
void msb_image_list_free(msb_image **images, size_t count);

/*
 * msb_image_remove() - forget a reference (every platform stored under
 * it), or the one image an ID names (as msb_image_get() takes it; refused
 * with MSB_ESTATE when it is stored under several references). Its root
 * disk and blobs go when no other reference uses them. Refused
 * (MSB_ESTATE) while a sandbox uses the image.
 */
int msb_image_remove(const char *reference);

/* Delete blobs and root disks that no stored image uses, and what
 * interrupted pulls left (partial downloads and temporary files nobody
 * holds); @freed (may be NULL) receives the bytes freed. */
int msb_image_prune(uint64_t *freed);

/* Accessors; strings are owned by the image. Arrays are NULL-terminated
 * and never NULL (empty when the image config has none). */
const char *msb_image_reference(const msb_image *img); /* canonical */
const char *msb_image_digest(const msb_image *img);    /* manifest */
/* Its ID, as docker's: the digest of its config ("sha256:..."); images
 * are shown by its first 12 hex digits. */
const char *msb_image_id(const msb_image *img);
const char *msb_image_created(const msb_image *img); /* or NULL */
uint64_t msb_image_size(const msb_image *img);       /* layer bytes */
/* "os/arch[/variant]" it is stored under ("" if recorded before msb kept
 * platforms). A reference can be stored for several platforms; a sandbox
 * uses the host's, and refuses another architecture (MSB_EINVAL). */
const char *msb_image_platform(const msb_image *img);

/*
 * msb_image_platform_parse() - check @platform, "os/arch[/variant]" with
 * OCI's known values, and write its normal form to @out (@len bytes; may
 * be NULL). Return 0, or -MSB_EINVAL ("invalid platform `…`: …").
 */
int msb_image_platform_parse(const char *platform, char *out, size_t len);
const char *const *msb_image_env(const msb_image *img);
const char *const *msb_image_entrypoint(const msb_image *img);
const char *const *msb_image_cmd(const msb_image *img);
const char *msb_image_workdir(const msb_image *img); /* or NULL */
const char *msb_image_user(const msb_image *img);    /* or NULL */

/* The image as JSON (reference, ID, digests, platform, config); malloc'd. */
char *msb_image_inspect_json(const msb_image *img);

void msb_image_free(msb_image *img);

/* ------------------------------------------------------------------ */

/* A named volume mounted in the guest (see msb_volume_create()). */
typedef struct msb_volume_mount {
	const char *name; /* the volume */
	const char *path; /* absolute guest path, created if missing */
	int readonly;     /* mount read-only (others may too) */
} msb_volume_mount;

/* A host directory shared into the guest (virtio-fs). */
typedef struct msb_bind_mount {
	const char *host_path; /* an existing directory */
	const char *path;      /* absolute guest path, created if missing */
	int readonly;          /* the host refuses writes, too */
} msb_bind_mount;

/* A tmpfs in the guest. */
typedef struct msb_tmpfs {
	const char *path;    /* absolute guest path, created if missing */
	uint64_t size_bytes; /* limit; 0: the kernel's default, half of RAM */
	unsigned int mode;   /* of its root directory; 0: 01777, as /tmp */
} msb_tmpfs;

typedef enum msb_patch_kind {
	MSB_PATCH_TEXT = 1, /* write @content to @path (replacing it), @mode
			       (0: 0644) */
	MSB_PATCH_APPEND,   /* append @content to @path (created if missing) */
	MSB_PATCH_COPY,     /* copy the host file or tree @content to @path,
			       keeping modes */
	MSB_PATCH_MKDIR,    /* create directory @path and its parents, @mode
			       (0: 0755) */
	MSB_PATCH_SYMLINK,  /* make @path a symbolic link to @content */
	MSB_PATCH_REMOVE,   /* remove @path (a tree too); absent is fine */
} msb_patch_kind;

/* A change to the root filesystem (msb_sandbox_options.patches). */
typedef struct msb_patch {
	msb_patch_kind kind;
	const char *path; /* absolute guest path */
	const char *content;
	unsigned int mode;
} msb_patch;

/* Sandboxes                                                           */

typedef struct msb_sandbox msb_sandbox;

#define MSB_SANDBOX_OPTIONS_VERSION 6

/*
 * Guest memory limits (msb_sandbox_options.memory_mib). The minimum is
 * measured, not guessed: with the guest kernel msb ships, 72 MiB panics
 * while the kernel initialises ("System is deadlocked on memory"), 80 MiB
 * boots with 2-5 MiB left for commands, 96 MiB leaves about 20 MiB.
 */
#define MSB_MEMORY_MIN_MIB 96
#define MSB_MEMORY_MAX_MIB 65536

/*
 * The network of a sandbox (msb_sandbox_options.network, since version 3;
 * docs/network.md). Every sandbox has its own userspace network (msb-netd)
 * that decides, connection by connection, what the guest may reach.
 */
typedef enum msb_network_preset {
	/* Public internet only: every special-purpose range (private,
	 * CGNAT, loopback, link-local, cloud metadata, multicast, reserved,
	 * documentation...) is denied. The default. */
	MSB_NETWORK_PUBLIC = 0,
	/* Every destination but the host itself (the `host` group). */
	MSB_NETWORK_ALL,
	/* No network device at all: only the guest's loopback. */
	MSB_NETWORK_NONE,
} msb_network_preset;

typedef enum msb_port_protocol {
	MSB_PORT_TCP = 0,
	MSB_PORT_UDP,
} msb_port_protocol;

/* A published port: connections to @host_ip:@host_port go to the guest's
 * @guest_port (msb_sandbox_options.ports). */
typedef struct msb_port {
	const char *host_ip;     /* IPv4 or IPv6 address; NULL: "127.0.0.1" */
	unsigned int host_port;  /* 1..65535 */
	unsigned int guest_port; /* 1..65535 */
	msb_port_protocol protocol;
} msb_port;

/*
 * A secret (msb_sandbox_options.secrets, since version 6;
 * docs/network.md): the guest's environment holds a placeholder under
 * @name, never @value; msb-netd puts @value in its place in HTTPS
 * requests to @hosts only.
 */
typedef struct msb_secret_spec {
	const char *name;  /* [A-Z_][A-Z0-9_]*, at most 64: the variable */
	const char *value; /* the real value: 1..4096 bytes of UTF-8 */
	/* NULL-terminated: "api.example.com" exactly, or "*.example.com"
	 * (any name under example.com); at least one */
	const char *const *hosts;
	/* Non-zero: also substitute it in identity-encoded request bodies
	 * (Content-Length or chunking rewritten); zero: headers and the
	 * request line only */
	int body;
} msb_secret_spec;

/* What an idle timeout does (msb_sandbox_options.on_idle). */
typedef enum msb_idle_action {
	MSB_IDLE_STOP = 0, /* stop the sandbox */
	MSB_IDLE_SUSPEND,  /* save its state to disk and end the VM */
} msb_idle_action;

/* What happens when a sandbox's main process exits (run_main). */
typedef enum msb_restart_policy {
	MSB_RESTART_NO = 0,
	MSB_RESTART_ON_FAILURE,
	MSB_RESTART_ALWAYS,
} msb_restart_policy;

typedef struct msb_sandbox_options {
	unsigned int version; /* MSB_SANDBOX_OPTIONS_VERSION */
	/*
	 * Sandbox name: letters, digits, '-', '_' and '.', starting with a
	 * letter or digit, at most 63 characters. NULL gives a generated
	 * name; such a sandbox is removed when it stops.
	 */
	const char *name;
	/*
	 * Root filesystem: an OCI image reference or a stored image's ID
	 * (as msb_image_get() takes it), the path of an ext4 disk image, or
	 * NULL for the built-in default image (busybox).
	 */
	const char *image;
	unsigned int cpus; /* vCPUs, 1..64; 0 means 1 */
	/* Guest RAM in MiB, MSB_MEMORY_MIN_MIB..MSB_MEMORY_MAX_MIB; 0 means
	 * 512. */
	unsigned int memory_mib;
	/*
	 * Environment of every command, NULL-terminated array of "KEY=VALUE"
	 * strings, or NULL. The host environment is never passed in.
	 */
	const char *const *env;
	/* Seconds to wait for the guest to become ready; 0 means 60. */
	unsigned int boot_timeout_s;
	/* How to get an OCI image (policy, credentials...); NULL: defaults. */
	const msb_pull_options *pull;
	/*
	 * Non-zero: the sandbox outlives this process and this handle
	 * (freeing the handle only disconnects); reconnect by name with
	 * msb_sandbox_connect(). Needs a name. Zero: it stops when the
	 * handle is freed or this process exits, even by SIGKILL.
	 */
	int detached;
	/* Stop after this many seconds without a command running; 0: never. */
	unsigned int idle_timeout_s;
	/* Stop this many seconds after booting; 0: never. */
	unsigned int max_duration_s;
	/* Labels ("key=value", NULL-terminated, or NULL): metadata kept with
	 * the sandbox, listed by msb_sandbox_list(); a later key wins. */
	const char *const *labels;
	/* Named volumes to mount, at every boot before any command runs.
	 * A volume is attached read-write to one sandbox at a time, or
	 * read-only to any number: a conflict fails the boot (MSB_ESTATE),
	 * naming the sandboxes that have it. */
	const msb_volume_mount *volumes;
	size_t n_volumes;
	/* tmpfs mounts (scratch space in guest memory), mounted at every
	 * boot before any command runs. */
	const struct msb_tmpfs *tmpfs;
	size_t n_tmpfs;
	/* Changes to the root filesystem, applied in order once, when the
	 * sandbox is created, before any command can run (other processes
	 * that connect meanwhile wait). One that fails fails the create,
	 * naming it, and nothing is left. The image stays untouched. */
	const struct msb_patch *patches;
	size_t n_patches;
	/* Size of the writable root filesystem in MiB (0: the image's): the
	 * guest's filesystem is grown to it at the first boot. */
	unsigned int root_size_mib;
	/* With a disk image as @image: its filesystem type (NULL: "ext4";
	 * the guest kernel must know it), and whether to boot the disk
	 * itself read-write (its changes stay in the file; one sandbox at a
	 * time) instead of a private copy-on-write overlay (the default: the
	 * file is never written). Raw and qcow2 disks are both taken. */
	const char *root_fstype;
	int root_writable;
	/* Host directories to share (up to 16), at every boot. Ownership:
	 * when msb runs as root, guest uids are host uids; as an ordinary
	 * user, guest root is that user, and files of other guest users
	 * show as nobody (chown to them fails). */
	const msb_bind_mount *binds;
	size_t n_binds;
	/*
	 * Since version 2 (a version 1 caller's struct ends above; it gets
	 * NULL and 0 for these). Defaults of every later exec in this
	 * sandbox, from any process (msb_sandbox_connect() loads them):
	 * stored with the sandbox, shown by msb_sandbox_config(). An exec's
	 * own option wins; its @rlimits come after these (a later NAME wins).
	 */
	const char *workdir;          /* NULL: the image's, else "/" */
	const char *user;             /* as msb_exec_options.user */
	const char *const *rlimits;   /* as msb_exec_options.rlimits */
	unsigned int exec_timeout_ms; /* as msb_exec_options.timeout_ms */
	/* The guest's host name (at most 64 bytes); NULL: the sandbox name. */
	const char *hostname;
	/*
	 * The main process (since version 2), as `docker run -d` runs one:
	 * non-zero @run_main starts @entrypoint + @cmd when the guest is
	 * ready, at every boot. The supervisor owns it: its output (stdout
	 * and stderr, capped) goes to the sandbox's logs/main.log, and when
	 * it exits @restart decides: MSB_RESTART_NO stops the sandbox,
	 * recording the exit status (msb_sandbox_exit_code());
	 * MSB_RESTART_ON_FAILURE starts it again after a non-zero exit, at
	 * most @restart_max times (0: no limit); MSB_RESTART_ALWAYS starts it
	 * again whatever its status. Restarts wait 0.1 s, doubling up to
	 * 10 s. The process restarts; the VM does not. It runs with the exec
	 * defaults above (workdir, user, rlimits) and the sandbox's env.
	 * When neither the options nor the image define a command, there is
	 * no main process: the sandbox idles, waiting for execs.
	 */
	int run_main;
	const char *const *entrypoint; /* NULL: the image's */
	/* NULL: the image's Cmd, or none when @entrypoint is given. */
	const char *const *cmd;
	msb_restart_policy restart;
	unsigned int restart_max;
	/* Non-zero: remove the sandbox when it stops (as an unnamed one). */
	int auto_remove;
	/*
	 * The network (since version 3; a version 1 or 2 caller's struct
	 * ends above and gets the defaults: MSB_NETWORK_PUBLIC, no rules).
	 * Stored with the sandbox, applied at every boot, shown by
	 * msb_sandbox_inspect(). Each is checked at create: a bad entry is
	 * MSB_EINVAL naming it.
	 * @net_rules: "allow RULE" or "deny RULE" strings, NULL-terminated,
	 * in order, the first that matches a destination decides, else
	 * @network (the rule grammar is in docs/network.md:
	 * "allow api.example.com:443", "deny 10.0.0.0/8", "allow host:11434").
	 * @block_domains: names answered NXDOMAIN (and never reached);
	 * @block_suffixes: ".example.com" blocks every name under it.
	 * @ports: published ports, @n_ports of them (at most 256), bound
	 * on the host before the sandbox is ready: one in use fails the
	 * create (MSB_ESYS, naming it).
	 * A build without a network (meson -Dnet=false) gives every
	 * sandbox none: the default preset then means no network device,
	 * and MSB_NETWORK_ALL, a rule, a blocked name or a port fails with
	 * MSB_ENOTSUP ("this build has no network (built with -Dnet=false)").
	 * SECURITY NOTE: MSB_NETWORK_ALL and allow rules for the `private`,
	 * `host` or `metadata` groups let untrusted code reach the host's
	 * own services or the local network.
	 */
	msb_network_preset network;
	const char *const *net_rules;
	const char *const *block_domains;
	const char *const *block_suffixes;
	const msb_port *ports;
	size_t n_ports;
	/*
	 * The main process's input (since version 4; an older caller's
	 * struct ends above and gets 0 for both). Non-zero @main_stdin keeps
	 * its stdin open, a pipe the supervisor holds, for
	 * msb_sandbox_attach_main() to feed (docker run -di); non-zero
	 * @main_tty gives it a pseudo-terminal (24x80 until an attach sizes
	 * it), whose input an attach feeds as well (docker run -dit). Both
	 * zero: its stdin is empty. Stored with the sandbox like the rest of
	 * the main process.
	 */
	int main_stdin;
	int main_tty;
	/*
	 * Since version 5 (an older caller's struct ends above; it gets 0).
	 * Non-zero: always boot cold, neither restoring nor saving a warm
	 * template (docs/snapshots.md). The environment variable
	 * MSB_NO_TEMPLATE=1 does the same for every sandbox.
	 */
	int no_template;
	/*
	 * Since version 6 (an older caller's struct ends above; it gets the
	 * zero defaults). TLS interception and secrets (docs/network.md):
	 * @secrets, @n_secrets of them (at most 64); interception is on
	 * when there is a secret or @tls_intercept is non-zero, for TCP
	 * ports @tls_ports (@n_tls_ports; none: 443), but not for the names
	 * in @tls_bypass (NULL-terminated; "host" or "*.suffix"). The
	 * upstream leg trusts the host's CAs plus those in the PEM file
	 * @tls_ca (NULL: none). Each sandbox gets its own CA, which its
	 * guest trusts. The values are kept in a 0600 file of the sandbox,
	 * never in the database, the guest or a log.
	 */
	const msb_secret_spec *secrets;
	size_t n_secrets;
	int tls_intercept;
	const unsigned int *tls_ports;
	size_t n_tls_ports;
	const char *const *tls_bypass;
	const char *tls_ca;
	/* What @idle_timeout_s does: stop (the default) or suspend, as
	 * msb_sandbox_suspend() does (docs/snapshots.md). Suspending
	 * needs @idle_timeout_s, a @name, no @auto_remove, no @binds and
	 * no @root_writable (else MSB_EINVAL). */
	msb_idle_action on_idle;
	/*
	 * A snapshot's name (msb_sandbox_snapshot()); NULL: boot from
	 * @image. Set, msb_sandbox_create() makes the sandbox from it, as
	 * msb_sandbox_create_from_snapshot() does, and returns a handle to
	 * it running, continued from the snapshot's instant (a disk-only
	 * snapshot boots cold on its disk); msb_sandbox_define() makes it
	 * without starting it (of a full snapshot "suspended", until
	 * msb_sandbox_start() restores it).
	 * The sandbox has the snapshot's options. Only these go with it:
	 * @name (NULL: a generated one, and it is removed when it stops),
	 * @detached, @labels, @auto_remove and @pull (ignored); @image,
	 * @memory_mib and @cpus may be given if they equal the snapshot's.
	 * Any other option set is MSB_EINVAL naming it ("options.env
	 * cannot be combined with options.snapshot"), as is a different
	 * image, memory or vCPU count. A create that fails leaves no
	 * sandbox. Errors also: MSB_ENOTFOUND (no such snapshot),
	 * MSB_EEXIST, MSB_EPROTO (a damaged snapshot), and those of
	 * msb_sandbox_resume().
	 */
	const char *snapshot;
} msb_sandbox_options;

#define MSB_SANDBOX_OPTIONS_INIT                                               \
	{                                                                      \
		MSB_SANDBOX_OPTIONS_VERSION, NULL, NULL, 0, 0, NULL, 0, NULL,  \
			0, 0, 0, NULL, NULL, 0, NULL, 0, NULL, 0, 0, NULL, 0,  \
			NULL, 0, NULL, NULL, NULL, 0, NULL, 0, NULL, NULL,     \
			MSB_RESTART_NO, 0, 0, MSB_NETWORK_PUBLIC, NULL, NULL,  \
			NULL, NULL, 0, 0, 0, 0, NULL, 0, 0, NULL, 0, NULL,     \
			NULL, MSB_IDLE_STOP, NULL                              \
	}

/*
 * msb_sandbox_create() - boot a new sandbox and wait until it is ready.
 * @out: on success, the new handle; free it with msb_sandbox_free()
 * @opts: options; copied, need not outlive the call
 *
 * Starts a supervisor process that owns the VM. The sandbox stops when the
 * handle is freed or when the calling process exits.
 *
 * Return: 0, or a negative MSB_E* code (MSB_ENOTFOUND for a missing QEMU or
 * guest kernel, MSB_EKVM, MSB_ETIMEDOUT, MSB_EVMDIED, MSB_EEXIST...). When
 * QEMU fails, the message ends with its last lines of stderr (escaped, one
 * line). More vCPUs than the host's online CPUs is a warning (log
 * callback), not an error.
 */
int msb_sandbox_create(msb_sandbox **out, const msb_sandbox_options *opts);

/*
 * msb_sandbox_define() - record a named sandbox without starting it (its
 * image is pulled now); msb_sandbox_start() boots it later.
 * Return: 0, MSB_EEXIST, or the errors of option checking and pulling.
 */
int msb_sandbox_define(const msb_sandbox_options *opts);

/*
 * msb_sandbox_start() - boot a stored, stopped sandbox by name, with the
 * options it was created with; its root disk keeps what earlier runs
 * wrote. @detached as in msb_sandbox_options. A suspended sandbox is
 * restored (as msb_sandbox_resume()) when its saved state matches this
 * msb, QEMU, kernel and devices; otherwise it boots cold and the saved
 * state is removed.
 * Return: 0; MSB_ENOTFOUND (no such sandbox), MSB_ESTATE (already
 * running), or the errors of msb_sandbox_create().
 */
int msb_sandbox_start(msb_sandbox **out, const char *name, int detached);

/*
 * msb_sandbox_connect() - a handle on a running sandbox, from any process
 * (through its supervisor). Freeing it leaves the sandbox running;
 * msb_sandbox_stop() stops it.
 */
int msb_sandbox_connect(msb_sandbox **out, const char *name);

/*
 * Pause, resume, suspend (docs/snapshots.md), by name, from any process.
 *
 * msb_sandbox_pause() - stop the running sandbox @name's vCPUs; its memory
 * stays. Its status is "paused"; new requests (exec, files) fail with
 * MSB_ESTATE naming msb resume, and streams already open wait.
 * Return: 0; MSB_ENOTFOUND; MSB_ESTATE (not running, or already paused).
 *
 * msb_sandbox_resume() - run a paused sandbox again, or restore a
 * suspended one (a new supervisor, detached, restores its saved state: the
 * same processes, memory and files). Return: 0; MSB_ENOTFOUND;
 * MSB_ESTATE (neither paused nor suspended, or a saved state that cannot
 * be restored: the message says so; msb_sandbox_start() then boots it
 * cold, without its processes), or the errors of msb_sandbox_start().
 *
 * msb_sandbox_suspend() - save the running (or paused) sandbox @name's
 * whole state (memory and devices) in its folder and end its VM and
 * supervisor: it then holds no memory and survives a host reboot. Status
 * "suspended"; msb_sandbox_resume() or msb_sandbox_start() restores it.
 * Its clients are disconnected (their commands end); processes started
 * detached (exec_detached) and the main process keep running after the
 * resume. Sandboxes with host folders shared over virtio-fs, booted
 * read-write in place, or ephemeral cannot be suspended (MSB_ESTATE).
 * Return: 0; MSB_ENOTFOUND; MSB_ESTATE; MSB_ESYS (the save failed: the
 * message says whether the sandbox still runs).
 */
int msb_sandbox_pause(const char *name);
int msb_sandbox_resume(const char *name);
int msb_sandbox_suspend(const char *name);

/*
 * msb_sandbox_snapshot() - save a snapshot of sandbox @name as @snap under
 * $MSB_HOME/snapshots/@snap/ (docs/snapshots.md, "Snapshots"). Of a
 * running (or paused) sandbox: its memory and device state and a copy of
 * its root disk, all of the same instant; the VM is stopped for the save
 * and the copy, then runs on (a paused one stays paused). With
 * MSB_SNAPSHOT_DISK_ONLY, of a sandbox that is not running: a copy of its
 * root disk. Sandboxes with volumes or host folders shared over virtio-fs,
 * or booted read-write in place, cannot be snapshotted.
 * Return: 0; MSB_EINVAL (a bad snapshot name); MSB_ENOTFOUND; MSB_EEXIST
 * (a snapshot @snap exists); MSB_ESTATE (running with DISK_ONLY, or not
 * running without it, or a sandbox that cannot be snapshotted);
 * MSB_ESYS.
 */
#define MSB_SNAPSHOT_DISK_ONLY 1
int msb_sandbox_snapshot(const char *name, const char *snap, int flags);

/*
 * msb_sandbox_create_from_snapshot() - make a new sandbox @name from
 * snapshot @snap: the snapshot's options, and a copy of its root disk as
 * its own (writes stay its own). Of a full snapshot, it is "suspended":
 * msb_sandbox_resume() (or start) restores the snapshot's memory, so the
 * processes that ran then run on; the restore sets its clock and reseeds
 * its RNG from the host. Of a disk-only snapshot it boots cold from that
 * disk. With @start, it is started (detached) at once.
 * Return: 0; MSB_EINVAL (a bad name); MSB_ENOTFOUND (no such snapshot);
 * MSB_EEXIST (a sandbox @name exists); MSB_EPROTO (a damaged snapshot);
 * the errors of msb_sandbox_resume() with @start (the sandbox then stays).
 */
int msb_sandbox_create_from_snapshot(const char *snap, const char *name,
				     int start);

/*
 * msb_sandbox_fork() - copy the running (or paused) sandbox @name into @n
 * new sandboxes named @new_names[0..n-1] (docs/snapshots.md, "Fork"): one
 * snapshot of @name (its VM stopped only for the save, then running on),
 * @n sandboxes made from it and started detached, each continuing from
 * that instant with its own disk, clock and randomness, then the snapshot
 * removed. A fork is all or nothing: when one sandbox cannot be made, the
 * ones made so far are removed too, as is the snapshot, and @name runs
 * on. The names are checked before the snapshot is taken.
 * @n: 1 to 64
 * @flags: 0 (none defined yet)
 * Return: 0; MSB_EINVAL (a bad or repeated name, @n, @flags);
 * MSB_ENOTFOUND (no sandbox @name); MSB_EEXIST (a name is taken);
 * MSB_ESTATE (@name not running, or one that cannot be snapshotted), or
 * the errors of msb_sandbox_snapshot() and msb_sandbox_resume().
 */
int msb_sandbox_fork(const char *name, const char *const *new_names, size_t n,
		     int flags);

/* ------------------------------------------------------------------ */
/* Named volumes: data that outlives sandboxes. */

/*
 * msb_volume_create() - a new, empty volume: an ext4 filesystem in a
 * sparse file of @quota_bytes (0: 1 GiB; 8 MiB to 16 TiB) under
 * $MSB_HOME/volumes/@name. Writes past the quota fail with ENOSPC in the
 * guest. MSB_EEXIST if it exists.
 */
int msb_volume_create(const char *name, uint64_t quota_bytes);

typedef struct msb_volume_info {
	char *name;
	uint64_t quota_bytes;
	uint64_t used_bytes; /* in use in its filesystem */
	int64_t created;     /* Unix seconds */
	char **sandboxes;    /* sandboxes that mount it ("name" or
				"name (ro)"), NULL-terminated */
} msb_volume_info;

/* Every volume, sorted by name. */
int msb_volume_list(msb_volume_info **out, size_t *count);
void msb_volume_list_free(msb_volume_info *list, size_t count);
/*
 * msb_volume_delete() - delete a volume and its data.
 * @flags: MSB_VOLUME_FORCE, or 0
 * Return: 0; MSB_ENOTFOUND; MSB_ESTATE while a running sandbox has it
 * mounted (even forced), or, unless forced, while any stored sandbox
 * (stopped or never started) has it in its config: the message names
 * them. A forced removal leaves those sandboxes unable to start until a
 * volume of that name exists again.
 */
enum msb_volume_flags {
	MSB_VOLUME_FORCE = 1, /* even if stopped sandboxes use it */
};
int msb_volume_delete(const char *name, int flags);
/* msb_volume_delete(@name, 0). */
int msb_volume_remove(const char *name);

/* Remove a stopped sandbox (its disk and logs); @force stops it first
 * if it runs, else that is MSB_ESTATE. */
int msb_sandbox_remove(const char *name, int force);

typedef struct msb_sandbox_info {
	char *name;
	char *status; /* created starting running paused stopping stopped
			 suspended crashed */
	char *image;  /* reference or disk path; NULL: the default */
	unsigned int cpus;
	unsigned int memory_mib;
	int ephemeral;
	int pid;         /* supervisor, 0 when not running */
	int64_t created; /* Unix seconds */
	int64_t updated;
	char **labels; /* "key=value", sorted by key, NULL-terminated */
	/* Why it is "paused" ("host disk full under MSB_HOME": the VM waits
	 * for free space and resumes by itself; "paused by `msb
	 * pause`"), else NULL. */
	char *status_reason;
} msb_sandbox_info;

/*
 * msb_sandbox_list() - every sandbox, sorted by name. A sandbox whose
 * supervisor died is reported (and recorded) as "crashed".
 */
int msb_sandbox_list(msb_sandbox_info **out, size_t *count);

/*
 * msb_sandbox_wait() - wait until the sandbox @name has stopped (for any
 * reason: stopped, its limits, crashed), up to @timeout_ms (-1: no limit).
 * @status: receives its final status ("stopped", "crashed"...), or NULL
 * Return: 0, -MSB_ENOTFOUND, -MSB_ETIMEDOUT.
 */
int msb_sandbox_wait(const char *name, int timeout_ms, char *status,
		     size_t status_len);

/*
 * msb_sandbox_config() - the options the sandbox @name was created with,
 * as stored: a JSON object (cpus, memory_mib, env, volumes, the exec
 * defaults "workdir", "user", "rlimits", "exec_timeout_ms", "hostname"...).
 * @out: receives it, malloc'd (free())
 * Return: 0, -MSB_ENOTFOUND.
 */
int msb_sandbox_config(const char *name, char **out);

/*
 * msb_sandbox_inspect() - the sandbox @name as a JSON object, one line:
 * name, status, image (as given), cpus, memory_mib, ephemeral, pid,
 * created, updated (Unix seconds), labels, exit_code (or null); started,
 * finished, exit_reason of its last run (or null); image_reference,
 * image_id, image_digest and platform of its image (null where the store
 * does not know them); env, volumes, mounts (binds and tmpfs), network
 * (null: sandboxes have none yet), limits (cpus, memory_mib, ulimits,
 * root_size_mib, boot_timeout_s, idle_timeout_s, max_duration_s: null
 * for none or the image's size; on_idle: "stop" or "suspend"),
 * exec_defaults (workdir, user,
 * timeout_ms), hostname, main (entrypoint and cmd, or null without a main
 * process), restart (policy, max), auto_remove; last, config: the stored
 * options as msb_sandbox_config() gives them.
 * @out: receives it, malloc'd (free())
 * Return: 0, -MSB_ENOTFOUND.
 */
int msb_sandbox_inspect(const char *name, char **out);

/*
 * msb_sandbox_exit_code() - how the main process of the sandbox @name
 * ended in its last run: *@code is its exit status, or 128+N for a
 * signal N, or -1 while it runs or when it never ran.
 * Return: 0, -MSB_ENOTFOUND.
 */
int msb_sandbox_exit_code(const char *name, int *code);
void msb_sandbox_list_free(msb_sandbox_info *list, size_t count);

typedef struct msb_metrics {
	uint64_t cpu_time_ms;  /* CPU time of the VM since it started */
	double cpu_percent;    /* of one host CPU, since the previous call
				  on any handle of the sandbox (or boot) */
	uint64_t memory_bytes; /* resident memory of the VM process */
	uint64_t guest_memory_used_bytes;  /* MemTotal - MemAvailable */
	uint64_t guest_memory_total_bytes; /* 0 if the guest did not say */
	uint64_t disk_read_bytes;
	uint64_t disk_write_bytes;
	/* The network, as msb-netd counts it (updated once a second while
	 * it changes; 0 without a network): rx is what the guest received,
	 * tx what it sent, in Ethernet frames. */
	uint64_t net_rx_bytes;
	uint64_t net_tx_bytes;
	uint64_t uptime_ms; /* since the guest was ready */
	/* Since version 2 (MSB_METRICS_VERSION): */
	uint64_t net_rx_packets; /* frames the guest received */
	uint64_t net_tx_packets; /* frames the guest sent */
	uint64_t net_flows;      /* TCP, UDP and ICMP flows open now */
	uint64_t net_denied;     /* connections, datagrams and DNS lookups the
				    network policy denied, since boot */
} msb_metrics;

/*
 * The layout of msb_metrics: fields are only ever added at its end. A
 * program built against an older header (whose msb_metrics ends earlier)
 * is bound to the older symbol version of msb_sandbox_metrics(), which
 * fills only the fields that header has: version 1 ends at uptime_ms.
 */
#define MSB_METRICS_VERSION 2

/*
 * msb_sandbox_metrics() - resource use of a running sandbox, as its
 * supervisor measures it.
 * Return: 0, -MSB_ESTATE (stopped), or another negative MSB_E* code.
 */
int msb_sandbox_metrics(msb_metrics *out, msb_sandbox *sb);

/* Called with each sample; return non-zero to stop watching. */
typedef int (*msb_metrics_fn)(const msb_metrics *m, void *userdata);

/*
 * msb_sandbox_metrics_watch() - sample the sandbox's metrics every
 * @interval_ms (at a steady rate) and pass each to @fn, @count times (0:
 * until @fn returns non-zero or the sandbox stops, which returns its
 * error, MSB_EVMDIED or MSB_ESTATE). CPU percent is over each interval.
 * Blocks the calling thread.
 */
int msb_sandbox_metrics_watch(msb_sandbox *sb, unsigned int interval_ms,
			      unsigned int count, msb_metrics_fn fn,
			      void *userdata);

/* The sandbox's name; owned by the handle. */
const char *msb_sandbox_name(const msb_sandbox *sb);

/* The OCI image the sandbox runs, owned by the handle; NULL when it boots
 * a disk image. Its entrypoint and cmd are what `msb run IMAGE` runs. */
const msb_image *msb_sandbox_image(const msb_sandbox *sb);

/*
 * msb_sandbox_stop() - stop the VM: the guest syncs and powers off; after
 * @timeout_ms (0 means 10000) the VM is killed. Idempotent.
 * Return: 0, or a negative MSB_E* code.
 */
int msb_sandbox_stop(msb_sandbox *sb, unsigned int timeout_ms);

/* Stop the sandbox if it runs (forcefully) and release the handle. */
void msb_sandbox_free(msb_sandbox *sb);

/* ------------------------------------------------------------------ */
/* Commands                                                            */

typedef struct msb_exec_output msb_exec_output;

/*
 * Receives output as it arrives: @stream is 1 (stdout) or 2 (stderr).
 * Returning non-zero stops collecting; the command keeps running.
 */
typedef int (*msb_output_fn)(int stream, const void *data, size_t len,
			     void *userdata);

#define MSB_EXEC_OPTIONS_VERSION 2

typedef struct msb_exec_options {
	unsigned int version; /* MSB_EXEC_OPTIONS_VERSION */
	/* Extra environment ("KEY=VALUE"), over the sandbox's; or NULL. */
	const char *const *env;
	/* Working directory in the guest; NULL: the image's, else "/". */
	const char *cwd;
	/*
	 * If set, output is passed to this callback as it arrives instead of
	 * being collected into the msb_exec_output.
	 */
	msb_output_fn on_output;
	void *userdata;
	/*
	 * User to run as: "name", "uid", "name:group" or "uid:gid", resolved
	 * with the guest's /etc/passwd and /etc/group. NULL: the image's
	 * user, else root.
	 */
	const char *user;
	/*
	 * Milliseconds after which the host kills the command's whole
	 * process group; the call then fails with MSB_ETIMEDOUT (output so
	 * far is discarded). 0: no limit.
	 */
	unsigned int timeout_ms;
	/*
	 * Standard input: @stdin_data/@stdin_len (sent, then EOF), or
	 * everything read from @stdin_fd until its end (e.g. STDIN_FILENO;
	 * not closed). Neither (the default, stdin_fd -1): stdin is empty,
	 * so nothing ever waits for input.
	 */
	const void *stdin_data;
	size_t stdin_len;
	int stdin_fd;
	/*
	 * Resource limits, as `docker run --ulimit` writes them:
	 * "NAME=SOFT[:HARD]" (HARD defaults to SOFT), NAME one of as, core,
	 * cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc,
	 * rss, rtprio, rttime, sigpending, stack; values a number or
	 * "unlimited". NULL-terminated, or NULL. A limit the guest refuses
	 * fails the call (MSB_EEXEC) before the command runs.
	 */
	const char *const *rlimits;
	/*
	 * Non-zero: run the command in a new pseudo-terminal of @rows x @cols
	 * (0: 24 x 80), as its controlling terminal; stdin, stdout and stderr
	 * are the terminal, so all output comes as stdout. With
	 * msb_exec_start(), msb_exec_resize() changes the size.
	 */
	int tty;
	unsigned int rows, cols;
	/*
	 * Since version 2. The command's result comes when it exits;
	 * processes it started in the background keep running in the
	 * sandbox (their output is read for a short while, then the streams
	 * close). Non-zero: kill what is left of the command's process group
	 * (SIGKILL) when it exits instead. A process that made a session of
	 * its own (setsid) is not in the group.
	 */
	int kill_group;
} msb_exec_options;

#define MSB_EXEC_OPTIONS_INIT                                                  \
	{                                                                      \
		MSB_EXEC_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0,     \
			NULL, 0, -1, NULL, 0, 0, 0, 0                          \
	}

/*
 * msb_sandbox_exec() - run a command in the sandbox and wait for it.
 * @out: the result (free with msb_exec_output_free())
 * @sb: a running sandbox
 * @argv: NULL-terminated; argv[0] is looked up in the guest's PATH
 * @opts: options, or NULL for defaults
 *
 * A command that ran counts as success whatever its exit status; read it
 * with msb_exec_output_exit_code(). Standard input is empty.
 *
 * Return: 0; MSB_ECMDNOTFOUND if argv[0] does not exist in the guest;
 * MSB_EEXEC if it could not be started (permission, not executable, bad
 * working directory, unknown user); MSB_ETIMEDOUT if it ran past
 * opts->timeout_ms (it was killed); MSB_EVMDIED if the VM stopped.
 */
int msb_sandbox_exec(msb_exec_output **out, msb_sandbox *sb,
		     const char *const *argv, const msb_exec_options *opts);

/* msb_sandbox_shell() - msb_sandbox_exec() of /bin/sh -c @command. */
int msb_sandbox_shell(msb_exec_output **out, msb_sandbox *sb,
		      const char *command, const msb_exec_options *opts);

/*
 * Streaming execution: a handle on a running command, for event loops and
 * interactive use. Each handle has its own connection to the sandbox, so
 * handles (and threads, one per handle) run independently. The command's
 * stdin is a pipe: write to it, and close it when done (a command that
 * reads stdin waits until then). Freeing a running handle kills the
 * command.
 */
typedef struct msb_exec msb_exec;

enum msb_exec_event_type {
	MSB_EXEC_STARTED = 1, /* pid */
	MSB_EXEC_STDOUT,      /* data, len */
	MSB_EXEC_STDERR,      /* data, len */
	MSB_EXEC_EXITED,      /* exit_code, or signal; the last event */
	/* msb_sandbox_proc_attach() without MSB_ATTACH_FOLLOW: the output
	 * kept was all sent and the process still runs; the last event. */
	MSB_EXEC_DETACHED,
};

typedef struct msb_exec_event {
	int type;         /* enum msb_exec_event_type */
	int pid;          /* STARTED: the guest pid */
	const void *data; /* STDOUT/STDERR; valid until the next call */
	size_t len;
	int exit_code; /* EXITED: 0..255, or -1 if a signal killed it */
	int signal;    /* EXITED: the signal, or 0 */
} msb_exec_event;

/*
 * msb_exec_start() - start a command and return at once.
 * Failures to start (MSB_ECMDNOTFOUND, MSB_EEXEC...) are reported by
 * msb_exec_next(), in order. @opts: env, cwd, user, stdin_data (sent
 * first); on_output and timeout_ms are not used here.
 */
int msb_exec_start(msb_exec **out, msb_sandbox *sb, const char *const *argv,
		   const msb_exec_options *opts);

/*
 * msb_exec_next() - the next event, waiting at most @timeout_ms (-1:
 * forever). Return: 0 with *@ev filled; MSB_ETIMEDOUT if none came;
 * MSB_ESTATE after EXITED; the start errors above; MSB_EVMDIED.
 */
int msb_exec_next(msb_exec *e, msb_exec_event *ev, int timeout_ms);

/*
 * A descriptor that polls readable when msb_exec_next() may have an
 * event (epoll, libuv...). Owned by the handle. Frames that arrived
 * together are read together: before each poll, call msb_exec_next()
 * with timeout 0 until MSB_ETIMEDOUT (also after msb_exec_write(), which
 * reads while it waits for room), or an event already read waits for the
 * next one to arrive.
 */
int msb_exec_fd(const msb_exec *e);

/*
 * Flow control: a command's output and its input each have a window of
 * this many bytes in flight. A command whose output is not being read
 * blocks after a window; input beyond a window waits for the command to
 * read. Nothing is dropped, and one stalled command holds up no other.
 */
#define MSB_EXEC_WINDOW (256u << 10)

/*
 * msb_exec_write() - write all of @data to the command's stdin.
 *
 * Stdin is flow-controlled: at most a window (256 KiB) is in flight, so
 * this blocks while the command is not reading its input. A command that
 * writes output without reading input then waits for you to consume that
 * output (msb_exec_next()); in an event loop use msb_exec_try_write().
 * Return: 0, or -MSB_ESTATE if the command ended first.
 */
int msb_exec_write(msb_exec *e, const void *data, size_t len);
/*
 * msb_exec_try_write() - write what the window allows of @data now,
 * without blocking or reading. Return: bytes written (0: no room yet; more
 * room comes with the events msb_exec_next() reads from msb_exec_fd()),
 * or -MSB_E*.
 */
long msb_exec_try_write(msb_exec *e, const void *data, size_t len);
/* Close its stdin (EOF). */
int msb_exec_close_stdin(msb_exec *e);
/* Send @sig to the command's process group. */
int msb_exec_signal(msb_exec *e, int sig);
/* Set the size of the command's terminal (started with tty set): the
 * process group gets SIGWINCH. MSB_ESTATE without a terminal. */
int msb_exec_resize(msb_exec *e, unsigned int rows, unsigned int cols);
/*
 * msb_exec_tty() - whether the command has a terminal: started with tty
 * set, or (msb_sandbox_proc_attach()) known from the STARTED event that
 * begins an attachment. Return: 1 or 0.
 */
int msb_exec_tty(const msb_exec *e);

/*
 * msb_exec_wait() - discard output until the command ends.
 * @exit_code, @signal: as in EXITED (may be NULL)
 */
int msb_exec_wait(msb_exec *e, int *exit_code, int *signal);

/* Release the handle; a command still running is killed. */
void msb_exec_free(msb_exec *e);

/*
 * Processes the guest agent started, by id. Every exec gets an id in the
 * agent's table; a detached one runs on its own, its output kept in the
 * guest (the last 1 MiB), and can be listed, signalled, waited for and
 * attached to by id. Finished entries are kept (the last 256) until
 * msb_sandbox_proc_remove() takes them out.
 */

/*
 * msb_sandbox_exec_detached() - start a command in the background.
 * @id: its id in the sandbox's process table
 * @opts: as msb_sandbox_exec(), but on_output, stdin_data, stdin_fd and
 * timeout_ms are not used; with stdin_fd >= 0 (any) or tty, its stdin is
 * kept open for msb_sandbox_proc_attach() with MSB_ATTACH_STDIN.
 * Return: 0 once it runs; the start errors of msb_sandbox_exec().
 */
int msb_sandbox_exec_detached(unsigned int *id, msb_sandbox *sb,
			      const char *const *argv,
			      const msb_exec_options *opts);

typedef struct msb_proc_info {
	unsigned int id;
	int pid;       /* in the guest */
	char *command; /* argv joined with spaces, as the guest reports it
			  (untrusted: escape it to print) */
	int running;   /* 0: exited */
	int detached;  /* started by msb_sandbox_exec_detached() */
	long long started_ms; /* Unix time in ms (the guest's clock) */
	int exit_code;        /* exited: 0..255, or -1 if a signal killed it */
	int signal;           /* exited: the signal, or 0 */
} msb_proc_info;

/*
 * msb_sandbox_procs() - the agent's process table, oldest first.
 * @list: a malloc'd array of @count entries; free with msb_proc_list_free()
 */
int msb_sandbox_procs(msb_proc_info **list, size_t *count, msb_sandbox *sb);
void msb_proc_list_free(msb_proc_info *list, size_t count);

/*
 * msb_sandbox_proc_signal() - send @sig to the process group of process
 * @id. Return: 0 (also if it has exited); MSB_ENOTFOUND if there is no
 * such id.
 */
int msb_sandbox_proc_signal(msb_sandbox *sb, unsigned int id, int sig);

enum msb_attach_flags {
	MSB_ATTACH_LOGS = 1 << 0,   /* first the output kept in the guest */
	MSB_ATTACH_FOLLOW = 1 << 1, /* then new output until it exits */
	MSB_ATTACH_STDIN = 1 << 2,  /* msb_exec_write() feeds its stdin */
};

/*
 * msb_sandbox_proc_attach() - a streaming handle on detached process @id
 * (msb_exec_next(), _write(), _resize(), _signal(), _wait()). The events
 * start with STARTED (its pid; msb_exec_tty() then says whether it has a
 * terminal) and end with EXITED (it exited; with MSB_ATTACH_FOLLOW) or
 * DETACHED (no FOLLOW: the kept output was sent). msb_exec_free()
 * detaches; the process runs on. One attachment at a time per process.
 * Return: 0; MSB_ENOTFOUND (no such id) and MSB_ESTATE (not detached,
 * or attached already) come from msb_exec_next().
 */
int msb_sandbox_proc_attach(msb_exec **out, msb_sandbox *sb, unsigned int id,
			    int flags);

/*
 * msb_sandbox_attach_main() - a streaming handle on the sandbox's main
 * process (msb_sandbox_options.run_main), as `docker attach`: its new
 * output (not what main.log holds already) until it exits. The events
 * start with STARTED (its pid, or 0 just after a start; msb_exec_tty()
 * then says whether it has a terminal, which msb_exec_resize() sizes)
 * and end with EXITED when this run of it exits (a restart is a new
 * run: attach again). @flags: MSB_ATTACH_STDIN, to feed its stdin with
 * msb_exec_write() (it must have one: @main_stdin or @main_tty);
 * msb_exec_close_stdin() closes it for the rest of this run.
 * msb_exec_signal() signals it. msb_exec_free() detaches: it runs on,
 * its stdin stays open. One attachment at a time per sandbox; a client
 * that falls more than 1 MiB behind the output is detached (FAILED,
 * MSB_ESTATE): the process never waits for one.
 * Return: 0; from msb_exec_next(): MSB_ENOTFOUND (no main process),
 * MSB_ESTATE (not running, attached elsewhere, or dropped), MSB_ENOTSUP
 * (MSB_ATTACH_STDIN without a stdin to feed).
 */
int msb_sandbox_attach_main(msb_exec **out, msb_sandbox *sb, int flags);

enum msb_proc_remove_flags {
	MSB_PROC_REMOVE_FORCE = 1 << 0, /* a running one: kill it (SIGKILL to
					   its process group) first */
};

/*
 * msb_sandbox_proc_remove() - take process @id out of the table, with the
 * output kept for it. @flags: 0 or MSB_PROC_REMOVE_FORCE.
 * Return: 0; MSB_ENOTFOUND if there is no such id; MSB_ESTATE if it is
 * running and @flags has no MSB_PROC_REMOVE_FORCE.
 */
int msb_sandbox_proc_remove(msb_sandbox *sb, unsigned int id, int flags);

/*
 * msb_sandbox_proc_wait() - wait until detached process @id exits.
 * @exit_code, @signal: as msb_exec_wait() (NULL: not wanted)
 */
int msb_sandbox_proc_wait(msb_sandbox *sb, unsigned int id, int *exit_code,
			  int *signal);

/*
 * Collected output; owned by @o. @len may be NULL. The data is followed by
 * a NUL byte (not counted), so text output can be used as a C string.
 */
const char *msb_exec_output_stdout(const msb_exec_output *o, size_t *len);
const char *msb_exec_output_stderr(const msb_exec_output *o, size_t *len);

/* Exit status 0..255, or -1 if the command was killed by a signal. */
int msb_exec_output_exit_code(const msb_exec_output *o);

/* The signal that killed the command, or 0. */
int msb_exec_output_signal(const msb_exec_output *o);

/* Wall time from the request to the exit, in milliseconds. */
uint64_t msb_exec_output_duration_ms(const msb_exec_output *o);

void msb_exec_output_free(msb_exec_output *o);

/* ------------------------------------------------------------------ */
/* Guest filesystem                                                    */

/*
 * Paths are absolute paths in the guest. Operations run as root in the
 * guest. Errors: MSB_ENOTFOUND, MSB_EEXIST, MSB_EPERM, MSB_EISDIR,
 * MSB_ENOTDIR, MSB_ENOTEMPTY, MSB_ENOSPC (or MSB_ESYS) for the guest's
 * errno, which is also in sys_errno, with the path in the message.
 */

typedef enum msb_fs_type {
	MSB_FS_FILE = 0,
	MSB_FS_DIR,
	MSB_FS_SYMLINK,
	MSB_FS_CHAR,
	MSB_FS_BLOCK,
	MSB_FS_FIFO,
	MSB_FS_SOCKET,
	MSB_FS_UNKNOWN,
} msb_fs_type;

typedef struct msb_fs_entry {
	char *name; /* base name */
	msb_fs_type type;
	uint64_t size;
	unsigned int mode; /* permission bits, 07777 */
	int64_t uid;
	int64_t gid;
	int64_t mtime_ns; /* nanoseconds since the epoch */
	char *target;     /* a symlink's target, else NULL */
} msb_fs_entry;

/* Metadata of @path (not following a final symlink). Release the
 * strings with msb_fs_entry_clear(). */
int msb_sandbox_fs_stat(msb_fs_entry *out, msb_sandbox *sb, const char *path);
void msb_fs_entry_clear(msb_fs_entry *e);

/* *@exists = 1 if @path exists (as lstat sees it), else 0. */
int msb_sandbox_fs_exists(int *exists, msb_sandbox *sb, const char *path);

/* The entries of directory @path (no "." or ".."), unsorted. Free with
 * msb_fs_entries_free(). Every name is one plain name, none repeats:
 * a listing that breaks this (a hostile guest) fails with MSB_EPROTO. */
int msb_sandbox_fs_list(msb_fs_entry **out, size_t *count, msb_sandbox *sb,
			const char *path);
void msb_fs_entries_free(msb_fs_entry *entries, size_t count);

/* The whole file: *@data is malloc'd (free()), NUL-terminated (not
 * counted in *@len). At most MSB_FS_READ_MAX bytes (MSB_ENOSPC past it:
 * stream larger files with msb_sandbox_fs_read_stream()). */
#define MSB_FS_READ_MAX (1024u << 20)
int msb_sandbox_fs_read(void **data, size_t *len, msb_sandbox *sb,
			const char *path);

/* Receives file contents in chunks; non-zero stops the transfer (the
 * read then fails with MSB_EINVAL). */
typedef int (*msb_fs_sink_fn)(const void *data, size_t len, void *userdata);

/* The file in chunks of at most 64 KiB, in bounded memory. */
int msb_sandbox_fs_read_stream(msb_sandbox *sb, const char *path,
			       msb_fs_sink_fn sink, void *userdata);

enum msb_fs_write_flags {
	MSB_FS_WRITE_APPEND = 1 << 0, /* append instead of truncating */
	MSB_FS_WRITE_EXCL = 1 << 1,   /* fail with MSB_EEXIST if it exists */
};

/*
 * msb_sandbox_fs_write() - create or replace (or append to) a file.
 * @mode: permission bits of a new file; 0 means 0644
 * @flags: MSB_FS_WRITE_*
 */
int msb_sandbox_fs_write(msb_sandbox *sb, const char *path, const void *data,
			 size_t len, unsigned int mode, int flags);

/* Supplies data to write: returns bytes put in @buf (at most @cap), 0 at
 * the end, or a negative value to abort (the call fails, MSB_EINVAL). */
typedef long (*msb_fs_source_fn)(void *buf, size_t cap, void *userdata);

/* As msb_sandbox_fs_write(), with the data streamed from @source. */
int msb_sandbox_fs_write_stream(msb_sandbox *sb, const char *path,
				msb_fs_source_fn source, void *userdata,
				unsigned int mode, int flags);

/* mkdir; @parents: create missing parents, fine if it exists (mkdir -p).
 * @mode 0 means 0755. */
int msb_sandbox_fs_mkdir(msb_sandbox *sb, const char *path, unsigned int mode,
			 int parents);
/* Remove a file, symlink or empty directory; @recursive: whole trees. */
int msb_sandbox_fs_remove(msb_sandbox *sb, const char *path, int recursive);
int msb_sandbox_fs_rename(msb_sandbox *sb, const char *from, const char *to);
/* Copy inside the guest; @recursive for directories. */
int msb_sandbox_fs_copy(msb_sandbox *sb, const char *from, const char *to,
			int recursive);
int msb_sandbox_fs_chmod(msb_sandbox *sb, const char *path, unsigned int mode);
/*
 * Copying out of a sandbox or a volume writes host files from data the
 * guest controls (names, modes, sizes, contents). The copy never leaves
 * the destination: names that are empty, ".", "..", contain "/" or NUL, or
 * repeat within a directory are refused (MSB_EPROTO, naming the entry) and
 * nothing is written for them; a symbolic link already in the destination
 * is replaced, never followed; each file is written to a temporary name
 * and renamed into place; holes (runs of zero blocks) stay holes.
 */
#define MSB_COPY_OPTIONS_VERSION 1
/* Defaults of the limits below: high enough not to hurt normal use. */
#define MSB_COPY_MAX_BYTES_DEFAULT (UINT64_C(64) << 30) /* 64 GiB */
#define MSB_COPY_MAX_FILES_DEFAULT UINT64_C(1000000)

typedef struct msb_copy_options {
	unsigned int version; /* MSB_COPY_OPTIONS_VERSION */
	/*
	 * SECURITY NOTE: non-zero keeps setuid, setgid and sticky bits, the
	 * mode bits the umask would clear and, when the caller is root, the
	 * owners from the guest. Never use it with an untrusted sandbox.
	 * Zero (the default): modes are clamped to 0777 & ~umask and files
	 * belong to the caller.
	 */
	int archive;
	/* Stop with MSB_ENOSPC past this many bytes of file data (holes
	 * included) in all; 0: MSB_COPY_MAX_BYTES_DEFAULT. */
	uint64_t max_bytes;
	/* ... or past this many entries (files, directories, links); 0:
	 * MSB_COPY_MAX_FILES_DEFAULT. */
	uint64_t max_files;
} msb_copy_options;

#define MSB_COPY_OPTIONS_INIT                                                  \
	{                                                                      \
		MSB_COPY_OPTIONS_VERSION, 0, 0, 0                              \
	}

/*
 * msb_sandbox_fs_copy_in() - copy a host file, symlink or directory tree
 * to @guest_path, keeping permission bits (symlinks stay symlinks; other
 * file types are skipped with a warning). Streams, in bounded memory.
 * msb_sandbox_fs_copy_out() - the same from the guest to the host, under
 * the rules above; @opts may be NULL for the defaults. The last component
 * of @host_path is the entry created (a symlink there is replaced); the
 * rest of @host_path is the caller's and is resolved as usual.
 */
int msb_sandbox_fs_copy_in(msb_sandbox *sb, const char *host_path,
			   const char *guest_path);
int msb_sandbox_fs_copy_out(msb_sandbox *sb, const char *guest_path,
			    const char *host_path,
			    const msb_copy_options *opts);

/*
 * msb_sandbox_fs_copy_out_tar() - the file, symlink or tree at @guest_path
 * as a POSIX (pax) tar written to @fd (not closed), as `docker cp NAME:PATH
 * -` does: one top member named as the path's last component ("." for
 * "/"), everything below it relative. The rules above apply: names the
 * guest sends are checked (so no member is absolute or has ".."), the
 * limits of @opts count, and setuid, setgid and sticky bits are dropped and
 * owners are the caller's unless @opts->archive. Hard links come out as
 * files; other file types are skipped with a warning. On an error the tar
 * is left without its end blocks (a reader sees it truncated).
 *
 * msb_sandbox_fs_copy_in_tar() - extract the tar read from @fd (plain or
 * compressed; from its current offset if seekable, else spooled to a
 * temporary file under $MSB_HOME/tmp) into directory @guest_path (made if
 * missing), as `docker cp - NAME:PATH` does. The whole archive is checked
 * before anything is written, and refused (MSB_EINVAL, naming the member)
 * if a member name is absolute or has a ".." component, a hard link names
 * no file earlier in the archive, or a member lies below or replaces a
 * symlink member.
 * Hard links become copies. @flags: MSB_TAR_OWNERS keeps the archive's
 * owners (else root's).
 */
enum msb_tar_flags {
	MSB_TAR_OWNERS = 1 << 0,
};
int msb_sandbox_fs_copy_out_tar(msb_sandbox *sb, const char *guest_path, int fd,
				const msb_copy_options *opts);
int msb_sandbox_fs_copy_in_tar(msb_sandbox *sb, int fd, const char *guest_path,
			       int flags);

/*
 * Host-side access to a volume no sandbox has mounted read-write (read
 * from its image through libext2fs; MSB_ESTATE naming the sandbox
 * otherwise). msb_volume_list_dir(): the entries of directory @path (free
 * with msb_fs_entries_free()). msb_volume_copy_out(): a file, symlink or
 * tree at @path to @host_path, as msb_sandbox_fs_copy_out() does (the
 * volume's filesystem is the guest's to corrupt: the same rules apply,
 * and a directory that contains itself is refused).
 */
int msb_volume_list_dir(msb_fs_entry **out, size_t *count, const char *volume,
			const char *path);
int msb_volume_copy_out(const char *volume, const char *path,
			const char *host_path, const msb_copy_options *opts);
/*
 * msb_volume_copy_in() - copy a host file, symlink or tree to @path in a
 * volume no sandbox has mounted at all (MSB_ESTATE otherwise), keeping
 * permission bits, owners and times; its parent must exist. A file there
 * is replaced; MSB_ENOSPC when the volume is full.
 */
int msb_volume_copy_in(const char *volume, const char *host_path,
		       const char *path);
/* Create the symbolic link @path pointing to @target (any text). */
int msb_sandbox_fs_symlink(msb_sandbox *sb, const char *path,
			   const char *target);
/* @uid, @gid: -1 leaves it unchanged. */
int msb_sandbox_fs_chown(msb_sandbox *sb, const char *path, int64_t uid,
			 int64_t gid);

#ifdef __cplusplus
}
#endif

#endif
