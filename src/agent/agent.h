/* SPDX-License-Identifier: Apache-2.0 */
/* msb-agent internals: state shared by the agent's modules. */
#ifndef MSB_AGENT_H
#define MSB_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "net.h"
#include "proto/proto.h"
#include "util/util.h"

/* Limits on what one host can make the agent hold. */
#define AGENT_MAX_PROCS 1024               /* concurrent exec streams */
#define AGENT_OUT_HIGH (1u << 20)          /* stop reading pipes/files above */
#define AGENT_OUT_LOW (AGENT_OUT_HIGH / 2) /* ...resume below */
/* Stop reading the port above this: only a host that floods requests and
 * does not read the answers gets here (data is bounded by credit). */
#define AGENT_OUT_HARD (16u << 20)
#define AGENT_PORT_BACKOFF_MS 50       /* retry a disconnected port */
#define AGENT_PORT_READ_MAX (1u << 20) /* port bytes per loop iteration */

/*
 * Output of a command's descendants after the command exited: read for
 * AGENT_DRAIN_MS, then the streams close (EXITED). What the command wrote
 * itself is in the pipe when it is reaped and is read whatever the time;
 * the window only lets a descendant's last words racing the exit through
 * (`cmd & echo done`), while a background server holding stdout costs no
 * more than this. Beyond it, bytes still in the pipe are read for at most
 * AGENT_DRAIN_MAX_MS (a host short of credit, a loaded guest), so a
 * descendant that writes forever cannot hold the result.
 */
#define AGENT_DRAIN_MS 200
#define AGENT_DRAIN_MAX_MS 2000

#define AGENT_MAX_MOUNTS 64 /* mounts a hello may ask for */
#define AGENT_MAX_FS 256    /* concurrent fs read, list and write streams */
#define AGENT_FS_DEAD 64    /* failed uploads whose late data is dropped */

/* Where the root filesystem is mounted before the switch. */
#define AGENT_NEWROOT "/mnt/root"

/* The agent's table of processes (procs.c). */
#define AGENT_KEEP_DONE 256        /* finished entries kept, oldest dropped */
#define AGENT_MAX_RINGS 64         /* detached entries (with a ring) */
#define AGENT_RING_SIZE (1u << 20) /* output kept per detached process */
#define AGENT_RING_REC (16u << 10) /* largest record of the ring */
#define AGENT_PROC_CMD_MAX 256     /* command text kept for proc_info */

/*
 * Output of a detached process: records [u8 stream (0 out, 1 err)]
 * [u16 BE length][data] in a circular buffer, addressed by absolute byte
 * offsets; the oldest whole records are dropped to make room.
 */
struct proc_ring {
	uint8_t *buf;  /* AGENT_RING_SIZE bytes, allocated at first output */
	uint64_t base; /* offset of the oldest record kept */
	uint64_t end;  /* offset after the newest */
};

/*
 * One process started by an exec request, an entry of the agent's table.
 * A streamed one has a stream until EXITED; a detached one (and a future
 * sandbox "main process") has none, keeps its output in a ring and may
 * have a proc_attach stream. Finished entries stay (done) for proc_list.
 */
struct proc {
	uint32_t id;                  /* in the table, from 1, never reused */
	char cmd[AGENT_PROC_CMD_MAX]; /* argv joined with spaces, cut */
	uint64_t started_ns;          /* CLOCK_REALTIME */
	uint32_t xflags;              /* MSB_EXEC_* it was started with */
	bool detached;
	bool done;    /* finished and reported: kept for the table only */
	bool removed; /* proc_remove: out of the table, dropped once done
			 and no stream needs it */
	struct proc_ring ring; /* detached: its output */
	uint32_t attach;       /* detached: proc_attach stream, or 0 */
	uint32_t attach_flags; /* MSB_ATTACH_* */
	uint64_t cur;          /* attach: next ring offset to send */
	uint64_t stop_at;      /* attach without FOLLOW: end there */
	uint32_t stream;
	pid_t pid;   /* also its process group (setsid) */
	int out_fd;  /* read end of its stdout pipe, -1 after EOF */
	int err_fd;  /* read end of its stderr pipe, -1 after EOF */
	bool reaped; /* waitpid() returned its status */
	int status;
	uint64_t reaped_ms;  /* now_ms() when reaped: drain from then */
	bool kill_group;     /* MSB_EXEC_KILL_GROUP: SIGKILL the group then */
	int in_fd;           /* write end of its stdin pipe, or -1 */
	struct msb_buf in_q; /* STDIN data not yet written to in_fd */
	bool in_eof;         /* the host closed stdin: close in_fd when empty */
	bool tty;            /* out_fd is a pty master, in_fd a dup of it */
	uint64_t out_credit; /* STDOUT/STDERR bytes the host accepts now */
	uint64_t in_owed;    /* stdin bytes written, not yet credited back */
};

/* Stdin a process may have queued: its window, plus a chunk of slack. A
 * host that sends more breaks flow control; the excess is refused. */
#define AGENT_STDIN_MAX (MSB_WINDOW + MSB_CHUNK_MAX)

/* A filesystem request being served over several frames (fs.c). */
struct fs_stream;

/* Boot timings reported in ready, CLOCK_BOOTTIME microseconds. */
struct agent_times {
	uint64_t start;   /* agent entered main() */
	uint64_t modules; /* time spent loading modules */
	uint64_t mount;   /* root mount + switch */
};

enum agent_state {
	AGENT_WAIT_HELLO, /* before a good hello: only hello, ping, shutdown */
	AGENT_READY,      /* root switched, serving requests */
};

struct agent {
	enum agent_state state;
	struct agent_times t;

	int port;            /* the virtio-serial port, O_NONBLOCK */
	bool port_up;        /* false while the host is disconnected */
	uint64_t port_retry; /* now_ms() at which to look again */
	int sigfd;           /* signalfd: SIGCHLD, SIGIO */

	struct msb_buf in;  /* bytes from the host, not yet a frame */
	struct msb_buf out; /* frames for the host, not yet written */
	bool throttled;     /* out queue above high water, not yet low */

	char **env;           /* default environment from hello (one alloc) */
	struct agent_net net; /* the network from hello (for /etc/hosts) */
	bool etc_ours;        /* /etc is the agent's to write (not virtiofs) */
	struct rlimit nofile; /* RLIMIT_NOFILE to give children */

	struct proc *procs[AGENT_MAX_PROCS + AGENT_KEEP_DONE + 1];
	size_t nprocs; /* entries, running or done */
	uint32_t next_id;
	size_t rr; /* round-robin start for reading pipes */

	struct fs_stream *fs[AGENT_MAX_FS];
	size_t nfs;
	size_t fs_rr;                    /* round-robin start for serving */
	uint32_t fs_dead[AGENT_FS_DEAD]; /* ring of ended uploads, 0: free */
	size_t fs_dead_next;
};

/*
 * tls.c: agent_ca_install() - make the guest trust the sandbox CA @pem
 * (@n bytes; see the DOC there). Sets @env to the four variables every
 * exec gets (static strings).
 * Return: 0, or -1 (logged; @env all NULL).
 */
int agent_ca_install(const uint8_t *pem, size_t n, char *env[4]);

/* main.c */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t boot_us(void);
uint64_t now_ms(void);

/* init.c: everything that touches mounts, modules and devices. */
void init_early(void);
uint64_t init_modules(void);
uint64_t init_modules_from(const char *list_path);
/* init_modules_from(), once per list (later calls return 0 at once). */
uint64_t init_modules_once(const char *list_path);
int init_find_port(void);
int init_switch_root(const char *dev, const char *fstype, char *err,
		     size_t errlen);
void init_shutdown(struct agent *a);

/* exec.c: processes started for the host. */
void exec_start(struct agent *a, uint32_t stream, const struct msb_msg *m);
void exec_signal(struct agent *a, uint32_t stream, const struct msb_msg *m);
void exec_resize(struct agent *a, uint32_t stream, const struct msb_msg *m);
struct proc *proc_find(struct agent *a, uint32_t stream);
void proc_read(struct agent *a, struct proc *p, int *fd, bool is_err);
bool procs_reap(struct agent *a);
void procs_finish(struct agent *a);
int procs_drain_timeout(const struct agent *a, uint64_t now);
void proc_stdin(struct agent *a, struct proc *p, const struct msb_msg *m,
		bool end);
void proc_write_stdin(struct agent *a, struct proc *p);

/* procs.c: the table of processes, rings, proc_* requests. */
void proc_table_init(struct proc *p, char *const *argv, uint32_t xflags,
		     uint32_t id);
int procs_make_room(struct agent *a, bool detached, const char **why);
void procs_trim(struct agent *a);
uint32_t proc_peer(const struct proc *p);
void procs_pump(struct agent *a);
void proc_list(struct agent *a, uint32_t stream);
void proc_signal(struct agent *a, uint32_t stream, const struct msb_msg *m);
void proc_attach(struct agent *a, uint32_t stream, const struct msb_msg *m);
void proc_remove(struct agent *a, uint32_t stream, const struct msb_msg *m);
void procs_sweep(struct agent *a);
void proc_detach(struct agent *a, struct proc *p);
void proc_free(struct proc *p);

/* ring.c: the output ring (pure). */
/*
 * ring_put() - append @n bytes of output of stdout or stderr (@is_err),
 * cut into records of at most AGENT_RING_REC, dropping the oldest records
 * for room. Return: 0, or -1 without memory for the ring (dropped).
 */
int ring_put(struct proc_ring *r, bool is_err, const uint8_t *d, size_t n);
/*
 * ring_get() - the record at *@cur (moved up to the oldest kept if it was
 * dropped) into @out, if its data fits in @max bytes; advance *@cur.
 * Return: its length, or 0 (none yet, or larger than @max).
 */
size_t ring_get(const struct proc_ring *r, uint64_t *cur, size_t max,
		bool *is_err, uint8_t *out);
void ring_free(struct proc_ring *r);

/* fs.c: guest filesystem requests. */
void fs_request(struct agent *a, uint32_t stream, uint8_t flags,
		const struct msb_msg *m);
void fs_data(struct agent *a, uint32_t stream, uint8_t flags,
	     const struct msb_msg *m);
struct fs_stream *fs_find(struct agent *a, uint32_t stream);
void fs_cancel(struct agent *a, struct fs_stream *s);
bool fs_pending(const struct agent *a);
void fs_serve(struct agent *a);
void fs_close_all(struct agent *a);

/* loop.c: frames in and out. */
void agent_text_fix(char *s);

/* request.c */
/*
 * agent_request_check() - whether @m (with frame @flags) is a well-formed
 * request from the host. Return: 0, or -1 with a reason in @why and an
 * errno value in *@err. Pure.
 */
int agent_request_check(const struct msb_msg *m, uint8_t flags, char *why,
			size_t whylen, int *err);
/*
 * agent_grant() - count @n consumed bytes of the host's data on @stream in
 * *@owed; send CREDIT for them once they reach half a window.
 */
void agent_grant(struct agent *a, uint32_t stream, uint64_t *owed, uint64_t n);
void fs_credit(struct fs_stream *s, const struct msb_msg *m);
void agent_send(struct agent *a, uint32_t stream, uint8_t flags,
		const struct msb_msg *m);
void agent_error(struct agent *a, uint32_t stream, bool end, int err,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void agent_flush(struct agent *a);
void agent_loop(struct agent *a) __attribute__((noreturn));

#endif
