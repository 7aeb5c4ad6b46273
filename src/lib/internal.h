/* SPDX-License-Identifier: Apache-2.0 */
/* libmicrosandbox internals shared between its files. */
#ifndef MSB_LIB_INTERNAL_H
#define MSB_LIB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "microsandbox.h"
#include "proto/proto.h"
#include "util/util.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * msb__error() - record the error of this thread and return -code.
 * @code: enum msb_error_code
 * @err: errno of the failing call, or 0
 */
__attribute__((format(printf, 3, 4))) int msb__error(int code, int err,
						     const char *fmt, ...);
/* The start of a call that returns a list: clear the error; both outputs
 * required (else return MSB_EINVAL), set to empty. */
#define MSB_LIST_START(out, count)                                             \
	do {                                                                   \
		msb__error_clear();                                            \
		if (!(out) || !(count))                                        \
			return msb__error(MSB_EINVAL, 0,                       \
					  "out and count are required");       \
		*(out) = NULL;                                                 \
		*(count) = 0;                                                  \
	} while (0)

/* Clear the thread's error (at the start of public calls). */
void msb__error_clear(void);
/* Keep the error of this thread aside, and make it the error again
 * (returning -code), across calls that would overwrite it. */
void msb__error_save(msb_error *e);
int msb__error_restore(const msb_error *e);
/* Set the exec_failure of the error just recorded. */
void msb__error_exec_failure(int failure);
__attribute__((format(printf, 2, 3))) void msb__log(int level, const char *fmt,
						    ...);

/* Runtime files: QEMU, msb-vmm, guest kernel, initramfs, rootfs. */
struct msb_paths {
	char *home; /* $MSB_HOME or ~/.microsandbox */
	char *vmm;  /* msb-vmm */
	char *netd; /* msb-netd ($MSB_NETD or the build's); "" for none */
	char *qemu; /* qemu-system-x86_64 */
	char *qemu_img;
	char *kernel;
	char *initrd;
	char *rootfs;         /* the default raw root disk (fallback) */
	char *default_layout; /* OCI layout of the built-in default image */
};
int msb__paths_resolve(struct msb_paths *p);
/* Only p->home (for the image functions). */
int msb__paths_home(struct msb_paths *p);
void msb__paths_clear(struct msb_paths *p);

/* A connection to a sandbox's supervisor: framed agent channel. */
struct msb_conn {
	int fd;
	struct msb_buf in;
	char *died; /* why the VM stopped, as told on stream 0; or NULL */
};

/* Send one frame (blocking). Return 0 or -MSB_E* (error set). */
int msb__conn_send(struct msb_conn *c, uint32_t stream, uint8_t flags,
		   const struct msb_msg *m);
/*
 * Receive the next frame (blocking, up to @timeout_ms, -1 forever).
 * The frame and the decoded message point into c->in and are valid until
 * msb__conn_done(c, f). Control frames from the supervisor (stream 0
 * ERROR: the VM died) are handled inside.
 * Return: 0, or -MSB_E* (EVMDIED at EOF, ETIMEDOUT, EPROTO).
 */
int msb__conn_recv(struct msb_conn *c, struct msb_frame *f, struct msb_msg *m,
		   int timeout_ms);
void msb__conn_done(struct msb_conn *c, const struct msb_frame *f);
/*
 * msb__error_reply() - set the error for an ERROR frame @m that ends a
 * request: errno ENOSPC is the supervisor refusing it while the host disk
 * is full (MSB_ENOSPC, with the free space measured here, not the frame's
 * text); kind "timeout" is the supervisor ending the stream of a silent
 * agent (MSB_ETIMEDOUT, "@what: TEXT"); anything else is the guest
 * agent's (MSB_EAGENT, "@what: guest
 * agent: TEXT", or without "@what: " if @what is NULL).
 * Return: the negative code.
 */
int msb__error_reply(const struct msb_msg *m, const char *what);
void msb__conn_close(struct msb_conn *c);

/*
 * msb__agent_timeout_ms() - how long the library waits for each answer of
 * the guest agent to a request (an fs call's next frame, an exec's start):
 * MSB_AGENT_TIMEOUT_MS if set to a positive number, else 30000.
 */
int msb__agent_timeout_ms(void);
/* Set and return the MSB_ETIMEDOUT error for an agent silent about @what
 * for @ms. */
int msb__agent_silent(const char *what, const char *obj, int ms);
/*
 * msb__msg_timeout() - whether @m is the supervisor's ERROR that ends a
 * stream because the agent stopped answering (kind "timeout"). Then the
 * caller returns MSB_ETIMEDOUT with its text.
 */
bool msb__msg_timeout(const struct msb_msg *m);
/* Milliseconds left until @deadline (µs since the monotonic epoch). */
int msb__ms_left(uint64_t deadline);

/* Flow control of one stream, client side (proto.h, MSB_WINDOW). */
struct msb_flow {
	uint64_t credit; /* data bytes we may still send */
	uint64_t owed;   /* data bytes received and consumed, not credited */
};
#define MSB_FLOW_INIT                                                          \
	{                                                                      \
		MSB_WINDOW, 0                                                  \
	}
_Static_assert(MSB_WINDOW == MSB_EXEC_WINDOW, "one window, public and wire");
/* Count @n bytes of received data as consumed; send CREDIT for them once
 * they reach half a window. Return 0 or -MSB_E*. */
int msb__conn_consumed(struct msb_conn *c, uint32_t stream, struct msb_flow *fl,
		       size_t n);
/*
 * msb__conn_wait_credit() - wait until fl->credit > 0. CREDIT frames of
 * @stream are taken out of the input as they come; other frames stay
 * buffered, in order, for msb__conn_recv().
 * @stop_on_answer: also return when another frame of @stream is waiting
 * Return: 0 with credit, 1 if the stream ended (or answered), -MSB_E*.
 */
int msb__conn_wait_credit(struct msb_conn *c, uint32_t stream,
			  struct msb_flow *fl, bool stop_on_answer,
			  int timeout_ms);
/* The CREDIT frames of @stream already received, out of the input into
 * fl->credit, without reading the socket. */
void msb__conn_take_credits(struct msb_conn *c, uint32_t stream,
			    struct msb_flow *fl);

struct msb_sandbox {
	char *name;
	pid_t vmm_pid;
	int watch_fd; /* write end; closing it tells the supervisor to stop */
	struct msb_conn conn;
	uint32_t next_stream;
	bool stopped;
	bool detached; /* freeing the handle leaves the sandbox running */
	/* Defaults of every exec, from the image config (or NULL). */
	char *workdir;
	char *user;
	char **rlimits; /* the sandbox's, before an exec's own; or NULL */
	unsigned int timeout_ms;
	msb_image *image; /* NULL for a disk image root */
	char *root_dir;   /* a host directory as the root, or NULL */
};

/* sandbox.c: the sandbox's own exec defaults over the image's (NULL, 0:
 * keep). Return: 0 or MSB_ENOMEM. */
int msb__sandbox_exec_defaults(msb_sandbox *sb, const char *workdir,
			       const char *user, const char *const *rlimits,
			       unsigned int timeout_ms);
/*
 * exec.c: the exec request for @argv with the sandbox's defaults. Its
 * resource limits (the sandbox's, then @opts') are in *@rl, malloc'd, to
 * free() after sending. Return: 0 or MSB_ENOMEM.
 */
int msb__exec_request(struct msb_msg *req, const char ***rl,
		      const msb_sandbox *sb, const char *const *argv,
		      const msb_exec_options *opts);
/* The error for a FAILED answer to exec. */
int msb__exec_failed(const char *cmd, const struct msb_msg *m);
int msb__check_exec_options(const msb_exec_options *o);
/* Arguments of an exec call: out, sandbox and argv set, a running sandbox. */
int msb__check_exec_call(const void *out, const msb_sandbox *sb,
			 const char *const *argv, const msb_exec_options *opts);
/* A sandbox or volume name: 1-63 of [A-Za-z0-9_.-], not starting with
 * punctuation. */
bool msb__valid_name(const char *s);
/* Published ports a sandbox may have. */
#define MSB_MAX_PORTS 256
/* sandbox.c: "HOSTIP:HOSTPORT:GUESTPORT/PROTO" of @p in @out (80 bytes is
 * enough). Return: 0, or -MSB_EINVAL (error set). */
int msb__port_format(char *out, size_t cap, const msb_port *p);
/* The preset a sandbox of @o gets: @o's, or MSB_NETWORK_NONE in a build
 * without a network (-Dnet=false). */
msb_network_preset msb__network_preset(const msb_sandbox_options *o);
/* volume.c: the image of volume @name (checked); *@out malloc'd. */
int msb__volume_path(char **out, const char *home, const char *name);
/* volume.c: set the error for a volume whose lock another sandbox has. */
void msb__volume_conflict(const char *home, const char *name, const char *self);

/* Text the guest sent (a struct msb_bytes), escaped for a message, in the
 * char array @buf: it can neither move a terminal's cursor nor forge a
 * line. */
#define MSB_GUEST_TEXT(buf, b) msb_escape(buf, sizeof(buf), (b).p, (b).n)

/* fs.c: MSB_EINVAL for a NULL sandbox, MSB_ESTATE for a stopped one. */
int msb__check_running(const msb_sandbox *sb);
/* fs.c: the next client stream id of @sb (never 0). */
uint32_t msb__next_stream(msb_sandbox *sb);

/* fs.c: bounds on a listing the guest sends (entries; bytes of names and
 * targets), past which it is refused. */
#define MSB_FS_LIST_MAX 1000000u
#define MSB_FS_LIST_MAX_BYTES (256u << 20)
struct msb_msg;
/* fs.c: msb_sandbox_fs_read_stream() with holes passed to @hole as
 * lengths (non-zero stops, as the sink's does) instead of zeros. */
typedef int (*msb__fs_hole_fn)(uint64_t len, void *userdata);
int msb__fs_read_holes(msb_sandbox *sb, const char *path, msb_fs_sink_fn sink,
		       msb__fs_hole_fn hole, void *userdata);
/*
 * fs_tar.c: check the whole tar at @fd (from offset @start) as
 * msb_sandbox_fs_copy_in_tar() does before writing anything; @members
 * receives the number of members. Return 0, or -MSB_EINVAL naming the
 * first refused member.
 */
int msb__tar_check(int fd, off_t start, size_t *members);

/* fs.c: a checked FS_ENTRY answer (see fs.c). */
int msb__fs_entry_from(msb_fs_entry *e, const struct msb_msg *m, bool plain);

/* volume_host.c: msb_volume_copy_out() from the ext4 image file @img
 * (no volume, no lock), for tests and the fuzz harness. */
int msb__volume_image_copy_out(const char *img, const char *path,
			       const char *host_path,
			       const msb_copy_options *opts);

/* lifecycle.c: a new connection to the sandbox's supervisor. */
int msb__sandbox_dial(struct msb_conn *c, const char *name);

/* Boot a sandbox ("create" a new one, or "start" a stored one, whose
 * stored "tls" object is @tls: NULL for none). */
struct json_t;
int msb__sandbox_boot(msb_sandbox **out, const msb_sandbox_options *opts,
		      const char *mode, struct json_t *tls);

/* lifecycle.c: the sandboxes table; @tls: the "tls" object of the
 * config (secrets.c), borrowed; NULL: none. */
int msb__state_insert(const char *home, const char *name,
		      const msb_sandbox_options *opts,
		      const struct json_t *tls);

/*
 * secrets.c: secrets and TLS interception. msb__tls_wanted(): @o asks for
 * them. msb__tls_check(): every field valid (one MSB_EINVAL line naming
 * the entry, never a value). msb__tls_config(): the stored "tls" object
 * of a new sandbox in folder @sdir, its placeholders drawn now (NULL:
 * none wanted, or an error is set). msb__tls_prepare(): make the folder
 * @sdir with tls/ (the CA, the upstream CA) and secrets.json (removed
 * again on failure). msb__tls_env(): "NAME=placeholder" of each secret of
 * @cfg (msb_strv_free()), or NULL (no memory).
 */
bool msb__tls_wanted(const msb_sandbox_options *o);
bool msb__tls_host_ok(const char *host);
int msb__tls_check(const msb_sandbox_options *o);
struct json_t *msb__tls_config(const msb_sandbox_options *o, const char *sdir);
int msb__tls_prepare(const char *sdir, const char *name,
		     const msb_sandbox_options *o, const struct json_t *cfg);
char **msb__tls_env(const struct json_t *cfg);
void msb__state_forget(const char *home, const char *name);
/* Wait until the supervisor of @name released its lock (it exited). */
void msb__wait_supervisor_exit(const char *name, unsigned int timeout_ms);

/* lifecycle.c: a sandbox made from a snapshot (see there). */
int msb__sandbox_from_snapshot(msb_sandbox **out, const char *snap,
			       const msb_sandbox_options *req, int start,
			       bool keep);
/* fork.c: msb_sandbox_create() (@out) or define() (NULL) of options with
 * a snapshot. */
int msb__sandbox_create_snapshot(msb_sandbox **out,
				 const msb_sandbox_options *opts);

#endif
