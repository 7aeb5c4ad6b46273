/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire protocol between the host and the guest agent (DESIGN.md §3).
 *
 * DOC: Theory of operation
 *
 * The agent channel is a byte stream (virtio-serial). It carries frames:
 *
 *   [u32 BE length][u32 BE stream id][u8 flags][payload]
 *
 * where length covers stream id + flags + payload and is at most
 * MSB_FRAME_MAX. A stream is one conversation (one exec, one file
 * transfer): its first frame carries MSB_F_START, its last MSB_F_END.
 * Stream 0 is the control stream (hello/ready, ping, shutdown).
 *
 * The payload is one CBOR map (RFC 8949, definite lengths only) with text
 * keys. Key "t" holds the message type as a text string; the other keys are
 * the fields of struct msb_msg. Unknown keys are skipped, so a newer peer
 * may add fields; an unknown type decodes as MSB_MSG_UNKNOWN and is answered
 * with an error message, never a crash.
 *
 * Decoding is zero-copy: byte and text strings in a decoded message point
 * into the caller's payload buffer, which must outlive the message.
 * Decoders are pure functions over (buf, len), bounded by the input length
 * and by MSB_PROTO_MAX_ITEMS / MSB_PROTO_MAX_DEPTH.
 */
#ifndef MSB_PROTO_H
#define MSB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* 3: proc_remove, attachments announced; 4: hello carries "net" (the
 * guest's network identity); 5: hello carries "entropy" (a sandbox
 * restored from a template reseeds its RNG, docs/snapshots.md); 6: hello
 * carries "ca" (the sandbox CA the guest trusts, docs/network.md). */
#define MSB_PROTO_VERSION 6

#define MSB_FRAME_HDR 9u         /* length + stream id + flags */
#define MSB_FRAME_MAX (4u << 20) /* max value of the length field */
#define MSB_FRAME_PAYLOAD_MAX (MSB_FRAME_MAX - 5u)
/* Bulk data (stdout, stdin, file contents) is sent in chunks of at most: */
#define MSB_CHUNK_MAX (64u << 10)

/*
 * Flow control. Each direction of each stream has a window of data bytes
 * (the "data" field of STDIN, STDOUT, STDERR and FS_DATA) the sender may
 * have in flight: MSB_WINDOW at the start of the stream, plus what the
 * receiver has granted since with CREDIT {size} frames as it consumed the
 * data. A receiver grants credit in batches of at least MSB_WINDOW / 2
 * (or when the stream's data has all been consumed). So no queue between
 * a producer and a slow consumer holds more than a window per stream, and
 * one stalled stream never holds up another.
 */
#define MSB_WINDOW (256u << 10)

struct msb_msg;

/*
 * msb_credit_add() - add the size of a received CREDIT to *@credit. More
 * than 1 GiB ahead is as good as infinite: it saturates there, so no sum
 * of hostile grants overflows.
 */
void msb_credit_add(uint64_t *credit, const struct msb_msg *m);

/*
 * msb_credit_due() - count @n more consumed bytes in *@owed; once they
 * reach half a window, fill @m with the CREDIT to send for them, zero
 * *@owed and return true. The receivers' one batching rule.
 */
bool msb_credit_due(uint64_t *owed, uint64_t n, struct msb_msg *m);

#define MSB_PROTO_MAX_DEPTH 8     /* nesting of arrays/maps */
#define MSB_PROTO_MAX_ITEMS 65536 /* CBOR items in one payload */

enum msb_frame_flags {
	MSB_F_START = 1u << 0,
	MSB_F_END = 1u << 1,
	MSB_F_SHUTDOWN = 1u << 2,
};

struct msb_frame_hdr {
	uint32_t len; /* stream id + flags + payload */
	uint32_t stream;
	uint8_t flags;
};

/*
 * msb_frame_parse_hdr() - parse a frame header.
 * @h: filled on success
 * @buf, @n: the bytes received so far
 *
 * Return: 1 when a header was parsed (payload length is h->len - 5),
 * 0 when @n < MSB_FRAME_HDR (need more), -1 when the length field is out of
 * range (< 5 or > MSB_FRAME_MAX): the stream cannot be resynchronised.
 */
int msb_frame_parse_hdr(struct msb_frame_hdr *h, const uint8_t *buf, size_t n);

/* Write a 9-byte frame header for a payload of @payload_len bytes. */
void msb_frame_put_hdr(uint8_t *buf, uint32_t payload_len, uint32_t stream,
		       uint8_t flags);

enum msb_msg_type {
	MSB_MSG_UNKNOWN = 0,
	MSB_MSG_HELLO,    /* host → guest, stream 0: version + bootstrap */
	MSB_MSG_READY,    /* guest → host, stream 0: version + boot timings */
	MSB_MSG_EXEC,     /* host → guest, START: run argv */
	MSB_MSG_STARTED,  /* guest → host: pid */
	MSB_MSG_STDIN,    /* host → guest: data; END flag = EOF */
	MSB_MSG_STDOUT,   /* guest → host: data */
	MSB_MSG_STDERR,   /* guest → host: data */
	MSB_MSG_SIGNAL,   /* host → guest: sig, to the process group */
	MSB_MSG_EXITED,   /* guest → host, END: code or sig */
	MSB_MSG_FAILED,   /* guest → host, END: kind, errno, msg */
	MSB_MSG_ERROR,    /* either way: msg (bad request), END */
	MSB_MSG_SHUTDOWN, /* host → guest: sync and power off */
	MSB_MSG_PING,     /* either way; host → guest on stream 0 may carry
			     time and entropy: the agent syncs its clock
			     (steps it when 250 ms or more off, else slews
			     it) and reseeds as from a hello; the supervisor
			     sends time ahead of every exec request; `host`
			     (after a hello) sets the hostname and
			     /etc/hosts: a sandbox made from a snapshot */
	MSB_MSG_PONG,
	/*
	 * Guest filesystem. Requests carry START; the agent answers on the
	 * same stream and ends it (END) with FS_DONE or FAILED (kind "fs",
	 * errno, msg naming the path). Paths are absolute guest paths.
	 */
	MSB_MSG_FS_STAT,    /* path → FS_ENTRY (lstat), FS_DONE */
	MSB_MSG_FS_LIST,    /* path → one FS_ENTRY per child (name set; no "."
			       or ".."), FS_DONE */
	MSB_MSG_FS_READ,    /* path [offset] [size] → FS_ENTRY of the file,
			       FS_DATA chunks (≤ MSB_CHUNK_MAX), FS_DONE */
	MSB_MSG_FS_WRITE,   /* path [mode] flags (CREATE|TRUNC|APPEND) →
			       then FS_DATA frames from the host, the last one
			       with END (may be empty) → FS_DONE {size} */
	MSB_MSG_FS_MKDIR,   /* path [mode] [flags PARENTS] → FS_DONE */
	MSB_MSG_FS_REMOVE,  /* path [flags RECURSIVE] → FS_DONE */
	MSB_MSG_FS_RENAME,  /* path path2 → FS_DONE */
	MSB_MSG_FS_COPY,    /* path path2 [flags RECURSIVE] → FS_DONE */
	MSB_MSG_FS_CHMOD,   /* path mode → FS_DONE */
	MSB_MSG_FS_CHOWN,   /* path uid gid (-1: unchanged) → FS_DONE */
	MSB_MSG_FS_SYMLINK, /* path (the link) target → FS_DONE */
	MSB_MSG_FS_ENTRY,   /* guest → host: name ftype size mode uid gid
			       mtime_ns [target] */
	MSB_MSG_FS_DATA,    /* either way: data */
	MSB_MSG_FS_DONE,    /* guest → host, END: [size] */
	/* Client → supervisor on stream 0, answered with the same type:
	 * cpu_us cpu_pct rss disk_rd disk_wr net_rx net_tx uptime_us
	 * [mem_used mem_total] [net_rx_pkts net_tx_pkts net_flows
	 * net_denied]. */
	MSB_MSG_METRICS,
	/* Either way, on a running stream: size = more data bytes the
	 * sender of CREDIT accepts (see MSB_WINDOW). Never START or END. */
	MSB_MSG_CREDIT,
	/* Host → guest, on a stream with a terminal: rows, cols. */
	MSB_MSG_RESIZE,
	/* Client → supervisor, stream 0: the sandbox is prepared (rootfs
	 * patches applied); accept other clients (spec "hold"). */
	MSB_MSG_OPEN,
	/*
	 * The agent's table of processes started by exec (each has an id).
	 * All host → guest with START, answered on the same stream.
	 */
	MSB_MSG_PROC_LIST,   /* → one PROC_INFO per entry, FS_DONE (END) */
	MSB_MSG_PROC_INFO,   /* guest → host: id pid name (the command)
				kind ("running", "exited") time (start, ns)
				flags (MSB_EXEC_* it was started with)
				[code | sig] */
	MSB_MSG_PROC_SIGNAL, /* id sig → PROC_INFO (END), to its group */
	MSB_MSG_PROC_ATTACH, /* id flags (MSB_PATTACH_*) → PROC_INFO
				(since version 3: what is attached, its
				flags), STDOUT/STDERR, then EXITED (END)
				with FOLLOW, else PROC_INFO (END); STDIN,
				RESIZE and SIGNAL go to the process;
				SIGNAL sig 0 detaches */
	/* Since version 3: id [flags MSB_PREMOVE_FORCE] → PROC_INFO (END) of
	 * the entry removed from the table; FAILED "not_found", or "running"
	 * (without FORCE; with it the process group is killed first). */
	MSB_MSG_PROC_REMOVE,
	/*
	 * Client → supervisor, START on a client stream; the supervisor
	 * answers it itself (the guest never sees it; a supervisor without
	 * it passes it on and the agent answers ERROR, unknown type). The
	 * sandbox's main process (vmm/workload.h): flags
	 * (MSB_PATTACH_STDIN: feed its stdin) → PROC_INFO {pid, flags:
	 * MSB_EXEC_STDIN/TTY of the main process, kind "running"}, then
	 * STDOUT/STDERR as it writes (new output only), then EXITED (END)
	 * when it exits; or FAILED (END) {kind "not_found" (no main
	 * process), "not_running", "busy" (another attach is on), "no_stdin"
	 * (STDIN asked of a main process without -i/-t), "stopped" (the
	 * sandbox is stopping), "dropped" (the client fell too far
	 * behind), msg}. From the client: CREDIT for
	 * the output, STDIN (END: close its stdin), RESIZE, SIGNAL (sig 0
	 * detaches: PROC_INFO END kind "detached").
	 */
	MSB_MSG_MAIN_ATTACH,
	/*
	 * Client → supervisor, stream 0 (the guest never sees them): stop
	 * the vCPUs, keeping the VM in memory (PAUSE); run them again
	 * (RESUME); save the VM's whole state in the sandbox folder and end
	 * it (SUSPEND, docs/snapshots.md). Answered on stream 0 with the
	 * same type (END): without msg once done, with msg (why not) on
	 * failure. (Not ERROR: on stream 0 that is the supervisor's note
	 * when it goes away.)
	 */
	MSB_MSG_PAUSE,
	MSB_MSG_RESUME,
	MSB_MSG_SUSPEND,
	/* Client → supervisor, stream 0, answered as SUSPEND: save the
	 * running VM's state and a copy of its root disk in the sandbox
	 * folder ("snapshot", vmm/suspend.h); the VM runs on. */
	MSB_MSG_SNAPSHOT,
	MSB_MSG__COUNT
};

/* Text name of a type as sent on the wire ("exec"...), NULL if unknown. */
const char *msb_msg_type_name(enum msb_msg_type t);

/* A byte or text string. In a decoded message it points into the payload. */
struct msb_bytes {
	const uint8_t *p;
	size_t n;
};

/*
 * An array of text strings. To encode, set @v (a NULL-terminated C array).
 * A decoded one has @raw/@rawlen (the CBOR array items) and @count; read it
 * with msb_strv_next() or msb_strv_dup().
 */
struct msb_strv {
	const char *const *v;
	const uint8_t *raw;
	size_t rawlen;
	size_t count;
};

/* Fields of a message; a field is present when its bit is set in @has. */
enum msb_field {
	MSB_FLD_VERSION,  /* "v"    uint: protocol version (hello, ready) */
	MSB_FLD_DATA,     /* "data" bytes: stdin/stdout/stderr chunk */
	MSB_FLD_ARGV,     /* "argv" [text]: exec */
	MSB_FLD_ENV,      /* "env"  [text] "K=V": exec, hello (defaults) */
	MSB_FLD_CWD,      /* "cwd"  text: exec */
	MSB_FLD_HOSTNAME, /* "host" text: hello */
	MSB_FLD_ROOT,     /* "root" text: hello, root device ("/dev/vda") */
	MSB_FLD_FSTYPE,   /* "fs"   text: hello, root filesystem type */
	MSB_FLD_TIME,     /* "time" uint: hello, ping, host wall clock in
			     ns */
	MSB_FLD_CODE,     /* "code" int: exited, exit status */
	MSB_FLD_SIG,      /* "sig"  int: exited (killed by), signal */
	MSB_FLD_PID,      /* "pid"  int: started */
	MSB_FLD_ERRNO,    /* "errno" int: failed, error */
	MSB_FLD_KIND,     /* "kind" text: failed ("not_found", ...) */
	MSB_FLD_MSG,      /* "msg"  text: failed, error */
	MSB_FLD_UPTIME,   /* "uptime_us" uint: ready, guest uptime */
	MSB_FLD_AGENT,    /* "agent_us" uint: ready, time spent in the agent */
	MSB_FLD_MODULES,  /* "modules_us" uint: ready, module loading */
	MSB_FLD_MOUNT,    /* "mount_us" uint: ready, root mount + switch */
	MSB_FLD_TIMEOUT, /* "timeout_ms" uint: shutdown (client → supervisor),
			    grace period before the VM is killed */
	MSB_FLD_USER,    /* "user" text: exec, "name|uid[:group|gid]" */
	MSB_FLD_PATH,    /* "path" text: fs requests */
	MSB_FLD_PATH2,   /* "path2" text: fs_rename, fs_copy destination */
	MSB_FLD_MODE,    /* "mode" uint: permission bits (07777) */
	MSB_FLD_UID,     /* "uid" int */
	MSB_FLD_GID,     /* "gid" int */
	MSB_FLD_FLAGS,   /* "flags" uint: MSB_FS_* */
	MSB_FLD_OFFSET,  /* "offset" uint: fs_read start */
	MSB_FLD_SIZE,    /* "size" uint: fs_read length, entry/written size,
			    credit */
	MSB_FLD_NAME,    /* "name" text: fs_entry (base name) */
	MSB_FLD_FTYPE,   /* "ftype" text: "file", "dir", "symlink", "char",
			    "block", "fifo", "socket" */
	MSB_FLD_MTIME,   /* "mtime_ns" int: fs_entry */
	MSB_FLD_TARGET,  /* "target" text: fs_entry of a symlink */
	MSB_FLD_CPU_US,  /* "cpu_us" uint: metrics, VM CPU time */
	MSB_FLD_CPU_PCT, /* "cpu_pct" uint: metrics, CPU % x 100 */
	MSB_FLD_RSS,     /* "rss" uint: metrics, VMM resident bytes */
	MSB_FLD_MEM_USED,  /* "mem_used" uint: metrics, guest bytes in use */
	MSB_FLD_MEM_TOTAL, /* "mem_total" uint: metrics, guest bytes */
	MSB_FLD_DISK_RD,   /* "disk_rd" uint: metrics, bytes read */
	MSB_FLD_DISK_WR,   /* "disk_wr" uint: metrics, bytes written */
	MSB_FLD_NET_RX,    /* "net_rx" uint: metrics */
	MSB_FLD_NET_TX,    /* "net_tx" uint: metrics */
	MSB_FLD_RLIMITS,   /* "rlimits" [text]: exec, "NAME=SOFT[:HARD]"
			      (util/rlimit.h) */
	MSB_FLD_ROWS,      /* "rows" uint: exec with a terminal, resize */
	MSB_FLD_COLS,      /* "cols" uint: exec with a terminal, resize */
	MSB_FLD_MOUNTS,    /* "mounts" [text]: hello, agent/mount.h */
	MSB_FLD_ID,        /* "id" uint: process id in the agent's table
			      (started, proc_*) */
	MSB_FLD_NET,       /* "net" [text]: hello (since version 4), the
			      guest's network: "ip=A.B.C.D/LEN",
			      "gw=A.B.C.D", "mac=XX:XX:XX:XX:XX:XX";
			      absent: no network device (see
			      agent/net.c) */
	MSB_FLD_RX_PKTS,   /* "net_rx_pkts" uint: metrics, frames the guest
			      received */
	MSB_FLD_TX_PKTS,   /* "net_tx_pkts" uint: metrics, frames it sent */
	MSB_FLD_FLOWS,     /* "net_flows" uint: metrics, flows open now */
	MSB_FLD_DENIED,    /* "net_denied" uint: metrics, flows and lookups
			      the network policy denied */
	MSB_FLD_ENTROPY,   /* "entropy" bytes: hello (since version 5), ping, at
			      most MSB_HELLO_ENTROPY_MAX bytes of host
			      randomness the agent adds to the kernel's pool
			      and reseeds from (RNDADDENTROPY) */
	MSB_FLD_CA,        /* "ca" bytes: hello (since version 6), the
			      sandbox CA's certificate (PEM, at most
			      MSB_HELLO_CA_MAX bytes) the guest adds to its
			      trust stores (agent/tls.c); absent: none */
	MSB_FLD__COUNT
};

#define MSB_HAS(f) (UINT64_C(1) << (f))

struct msb_msg {
	enum msb_msg_type type;
	uint64_t has; /* MSB_HAS(field) bits */
	uint64_t version;
	struct msb_bytes data;
	struct msb_strv argv;
	struct msb_strv env;
	struct msb_bytes cwd;
	struct msb_bytes hostname;
	struct msb_bytes root;
	struct msb_bytes fstype;
	uint64_t time;
	int64_t code;
	int64_t sig;
	int64_t pid;
	int64_t err;
	struct msb_bytes kind;
	struct msb_bytes msg;
	uint64_t uptime_us;
	uint64_t agent_us;
	uint64_t modules_us;
	uint64_t mount_us;
	uint64_t timeout_ms;
	struct msb_bytes user;
	struct msb_bytes path;
	struct msb_bytes path2;
	uint64_t mode;
	int64_t uid;
	int64_t gid;
	uint64_t flags;
	uint64_t offset;
	uint64_t size;
	struct msb_bytes name;
	struct msb_bytes ftype;
	int64_t mtime_ns;
	struct msb_bytes target;
	uint64_t cpu_us;
	uint64_t cpu_pct;
	uint64_t rss;
	uint64_t mem_used;
	uint64_t mem_total;
	uint64_t disk_rd;
	uint64_t disk_wr;
	uint64_t net_rx;
	uint64_t net_tx;
	struct msb_strv rlimits;
	uint64_t rows;
	uint64_t cols;
	struct msb_strv mounts;
	uint64_t id;
	struct msb_strv net;
	uint64_t net_rx_pkts;
	uint64_t net_tx_pkts;
	uint64_t net_flows;
	uint64_t net_denied;
	struct msb_bytes entropy;
	struct msb_bytes ca;
};

/* The most host entropy a hello may carry (the host sends 64 bytes). */
#define MSB_HELLO_ENTROPY_MAX 256
/* The largest CA certificate a hello may carry (an EC P-256 one is under
 * 1 KiB). */
#define MSB_HELLO_CA_MAX 16384

/* MSB_FLD_FLAGS bits of exec requests. */
enum msb_exec_flags {
	MSB_EXEC_STDIN = 1u << 0, /* stdin is a pipe fed by STDIN frames (the
				     one with END closes it); else /dev/null */
	MSB_EXEC_TTY = 1u << 1,   /* stdin, stdout and stderr are one new
				     pseudo-terminal (rows x cols), the
				     process its session leader; its output
				     comes as STDOUT; STDIN END sends EOF
				     (^D) */
	MSB_EXEC_KILL_GROUP = 1u << 2, /* when the command exits, SIGKILL
					  what is left of its process group
					  (else descendants keep running) */
};
/* An exec flag: detached, answered STARTED {pid, id} (END) at once; its
 * output goes to a ring in the agent (proc_attach replays it). */
#define MSB_EXEC_DETACH (1u << 3)

/* MSB_FLD_FLAGS bits of proc_attach. */
enum msb_proc_attach_flags {
	MSB_PATTACH_REPLAY = 1u << 0, /* first the output kept in the ring */
	MSB_PATTACH_FOLLOW = 1u << 1, /* then new output, until it exits */
	MSB_PATTACH_STDIN = 1u << 2,  /* STDIN frames feed its stdin */
};

/* MSB_FLD_FLAGS bits of proc_remove. */
enum msb_premove_flags {
	MSB_PREMOVE_FORCE = 1u << 0, /* a running one: SIGKILL its group */
};

/* MSB_FLD_FLAGS bits of fs requests. */
enum msb_fs_flags {
	MSB_FS_CREATE = 1u << 0,    /* fs_write: create if missing */
	MSB_FS_TRUNC = 1u << 1,     /* fs_write: truncate */
	MSB_FS_APPEND = 1u << 2,    /* fs_write: append */
	MSB_FS_EXCL = 1u << 3,      /* fs_write: fail if it exists */
	MSB_FS_PARENTS = 1u << 4,   /* fs_mkdir: create parents, ok if exists */
	MSB_FS_RECURSIVE = 1u << 5, /* fs_remove, fs_copy: directories too */
};

/* Set a text field from a C string (no copy). */
static inline struct msb_bytes msb_str(const char *s)
{
	struct msb_bytes b = {(const uint8_t *)s, 0};

	while (s && s[b.n])
		b.n++;
	return b;
}

/*
 * msb_msg_decode() - decode one payload.
 * @m: zeroed and filled; its strings point into @buf
 * @buf, @len: the payload (not the frame header)
 *
 * The payload must be exactly one CBOR map with a text "t" key; every field
 * must have the type documented above, else the payload is rejected.
 * Unknown keys are skipped (any well-formed item of the supported subset:
 * no tags, floats or indefinite lengths). An unknown "t" value gives
 * type MSB_MSG_UNKNOWN with return 0.
 *
 * Return: 0, or -1 if the payload is malformed.
 */
int msb_msg_decode(struct msb_msg *m, const uint8_t *buf, size_t len);

/*
 * msb_msg_encode() - append the CBOR payload for @m to @out.
 * Only fields with their bit in @m->has are written.
 * Return: 0, or -1 (ENOMEM; EINVAL for an unknown type or a text field that
 * is not valid UTF-8). On failure @out is left as it was.
 */
int msb_msg_encode(struct msb_buf *out, const struct msb_msg *m);

/*
 * msb_frame_encode() - append a whole frame (header + payload) to @out.
 * Return: 0, or -1 (ENOMEM; E2BIG if the payload exceeds the frame limit).
 */
int msb_frame_encode(struct msb_buf *out, uint32_t stream, uint8_t flags,
		     const struct msb_msg *m);

/*
 * msb_strv_next() - iterate a decoded string array.
 * @it: cursor, start at 0
 * Return: true with *@s set, false at the end.
 */
bool msb_strv_next(const struct msb_strv *v, size_t *it, struct msb_bytes *s);

/*
 * msb_strv_dup() - copy a decoded string array into a NULL-terminated array
 * of NUL-terminated strings, one allocation. Strings containing a NUL byte
 * are rejected. Return: the array (free() it), or NULL (errno set).
 */
char **msb_strv_dup(const struct msb_strv *v);

/* Copy a string field into a new NUL-terminated string, NULL on failure or
 * if it contains a NUL byte (errno EINVAL). */
char *msb_bytes_dup(struct msb_bytes b);

/* Compare a string field with a C string. */
bool msb_bytes_eq(struct msb_bytes b, const char *s);

/*
 * Incremental frame reader for a byte stream: feed bytes into @buf (a
 * struct msb_buf), then call msb_frame_next() until it returns 0.
 */
struct msb_frame {
	struct msb_frame_hdr hdr;
	const uint8_t *payload; /* points into the reader's buffer */
	size_t payload_len;
};

/*
 * msb_frame_next() - take the next complete frame from @in.
 * Return: 1 with @f filled (valid until @in is next modified; call
 * msb_buf_consume(@in, msb_frame_size(@f)) when done), 0 if more bytes are
 * needed, -1 on a bad length field.
 */
int msb_frame_next(struct msb_frame *f, const struct msb_buf *in);

static inline size_t msb_frame_size(const struct msb_frame *f)
{
	return 4u + f->hdr.len;
}

#endif
