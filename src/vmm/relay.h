/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's frame relay: which guest stream belongs to which
 * client stream, and the handling of the frames that come from the guest
 * and from clients. No process state of its own: the supervisor (and the
 * fuzz harness, tests/fuzz/vmm_fuzz.c) owns a struct relay and supplies
 * the clients' output buffers and what to do with control messages
 * through struct relay_ops.
 *
 * Every byte from the guest is hostile: frames are checked by
 * msb_frame_next() (a bad length stops the relay: a byte stream cannot be
 * resynchronised), a frame for a stream no client owns is dropped, and the
 * only thing copied to a client is a whole frame whose stream id is
 * rewritten to that client's own.
 */
#ifndef MSB_VMM_RELAY_H
#define MSB_VMM_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

/* Guest stream id of the supervisor's own metrics requests. */
#define RELAY_METRICS_STREAM 0xfffffff0u
/* Guest stream id of the main process (workload.h). */
#define RELAY_MAIN_STREAM 0xfffffff1u

struct client; /* the supervisor's (or a harness's) */

/* One open guest stream and the client stream it belongs to. */
struct relay_route {
	uint32_t guest_id;
	uint32_t client_id;
	struct client *c; /* NULL once the client has gone */
	bool exec;        /* a command: its output goes to exec.log */
	bool attach;      /* proc_attach: a client leaving detaches (SIGNAL
			     0) rather than kills */
};

struct relay_ops {
	/* Where frames for @c are queued. */
	struct msb_buf *(*client_out)(struct client *c);
	/* A frame on the guest's control stream (0), decoded. */
	void (*control)(void *ud, const struct msb_msg *m);
	/* The guest's answer to a metrics request (NULL: not one). */
	void (*metrics)(void *ud, const struct msb_msg *m);
	/* A frame of a command's stream (@r->exec), for the exec log. */
	void (*exec_frame)(void *ud, const struct relay_route *r,
			   const struct msb_frame *f);
	/* A new command from a client: the decoded request, for the log. */
	void (*exec_start)(void *ud, const struct relay_route *r,
			   const struct msb_msg *m);
	/* A frame of the main process's stream (NULL: dropped). */
	void (*main_frame)(void *ud, const struct msb_frame *f);
	/* Something the guest sent that makes no sense (log, rate-limited). */
	void (*malformed)(void *ud, const char *what);
	/* A client stream ended: the guest ended it, or @client_left. */
	void (*stream_end)(void *ud, const struct relay_route *r,
			   bool client_left);
};

struct relay {
	const struct relay_ops *ops;
	void *ud;
	struct relay_route *routes;
	size_t nroutes, cap;
	uint32_t next_guest_id; /* start at 1 */
};

struct relay_route *relay_find_guest(struct relay *rl, uint32_t id);
struct relay_route *relay_find_client(struct relay *rl, struct client *c,
				      uint32_t id);
/* Streams a connected client waits on. */
size_t relay_live(const struct relay *rl);
void relay_drop(struct relay *rl, struct relay_route *r);
void relay_free(struct relay *rl);

/*
 * relay_append() - queue a copy of the frame @raw (@size bytes) on @out
 * with its stream id replaced by @id. Return: 0, or -1 (ENOMEM).
 */
int relay_append(struct msb_buf *out, const uint8_t *raw, size_t size,
		 uint32_t id);

/*
 * relay_from_guest() - handle every complete frame in @in (what the guest
 * sent), consuming them. Return: 0, or -1 on a bad length field (@in is
 * then emptied; the guest cannot be trusted any more).
 */
int relay_from_guest(struct relay *rl, struct msb_buf *in);

/*
 * relay_from_client() - a frame of @c on one of its streams (not 0): a new
 * stream (START) gets a guest stream id and the frame goes to @agent_out
 * under it; so do the frames of a stream it has.
 * @accept: whether new streams are accepted (the sandbox runs)
 * Return: NULL, or the error to send @c on that stream.
 */
const char *relay_from_client(struct relay *rl, struct client *c,
			      const struct msb_frame *f, const uint8_t *raw,
			      struct msb_buf *agent_out, bool accept);

/*
 * relay_client_gone() - @c has left: its routes lose their client (they
 * stay until the guest ends them, so that a late frame is recognised and
 * dropped) and each is reported to ops->stream_end. Return: how many.
 */
size_t relay_client_gone(struct relay *rl, struct client *c);

/*
 * struct relay_watch - the agent's liveness, watched while a client waits
 * on one of its streams (a command's output may rightly be silent for
 * hours, the agent not): after a third of the timeout without a frame
 * from the guest, PING it; without a frame by the timeout (and at least a
 * third of it after the PING), it is silent.
 */
struct relay_watch {
	uint64_t timeout_us;
	uint64_t guest_us; /* the guest's last frame (or when watching began) */
	uint64_t ping_us;  /* our PING without an answer yet; 0: none */
};

enum relay_watch_do { RELAY_WAIT, RELAY_PING, RELAY_SILENT };

/* Something came from the guest at @now. */
void relay_watch_heard(struct relay_watch *w, uint64_t now);
/*
 * relay_watch_step() - what to do at @now (µs, monotonic). @watching:
 * a client waits on the agent and we read what it sends; when false the
 * silence does not count. Pure.
 * @next: when to call again (0: no need until something changes)
 */
enum relay_watch_do relay_watch_step(struct relay_watch *w, uint64_t now,
				     bool watching, uint64_t *next);

#endif
