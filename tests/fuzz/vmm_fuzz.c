// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the supervisor's frame relay (src/vmm/relay.c):
 * bytes from the guest and from up to three clients, interleaved, go
 * through the same code as in msb-vmm, with the exec log's escaping behind
 * it. The input is a list of records:
 *
 *   op (1 byte) | length (2 bytes, big-endian) | length bytes
 *
 * op & 3: 0 the guest, 1..3 a client; op & 0x80: that client leaves
 * (bytes ignored); op & 0x40: the sandbox is stopping (new streams are
 * refused). Invariants: nothing crashes or reads out of bounds (ASan);
 * guest stream ids are unique, never 0 nor the metrics stream; a client
 * only ever receives whole frames on stream ids it opened; no route
 * outlives its client's departure with the client still attached; a bad
 * length from the guest stops the relay.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/execlog.h"
#include "vmm/logfile.h"
#include "vmm/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "vmm_fuzz: %s (%s:%d)\n", what, __FILE__,      \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

#define NCLIENTS 3
#define MAX_OPENED 512

struct client {
	struct msb_buf in, out;
	bool gone;
	uint32_t opened[MAX_OPENED]; /* stream ids it started */
	size_t nopened;
};

static struct client clients[NCLIENTS];
static struct execlog xlog = {.log = {.fd = -1}};

static struct msb_buf *client_out(struct client *c)
{
	return &c->out;
}

static void on_control(void *ud, const struct msb_msg *m)
{
	char text[1024];

	(void)ud;
	if (m->type == MSB_MSG_ERROR)
		logfile_escape(text, sizeof(text), m->msg.p,
			       m->msg.n > 512 ? 512 : m->msg.n, true);
}

static void on_metrics(void *ud, const struct msb_msg *m)
{
	(void)ud;
	if (m && m->type != MSB_MSG_METRICS)
		FAIL("metrics callback with another message");
}

static void on_exec_frame(void *ud, const struct relay_route *r,
			  const struct msb_frame *f)
{
	struct msb_msg m;

	(void)ud;
	if (!r->exec)
		FAIL("exec log for a stream that is not a command");
	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0)
		return;
	if (m.type == MSB_MSG_STDOUT || m.type == MSB_MSG_STDERR)
		execlog_output(&xlog, r->guest_id, m.type == MSB_MSG_STDERR,
			       m.data.p, m.data.n);
	else if (f->hdr.flags & MSB_F_END)
		execlog_end(&xlog, r->guest_id, &m);
}

static void on_exec_start(void *ud, const struct relay_route *r,
			  const struct msb_msg *m)
{
	(void)ud;
	execlog_start(&xlog, r->guest_id, m);
}

static void on_malformed(void *ud, const char *what)
{
	(void)ud;
	if (!what || !*what)
		FAIL("malformed without a reason");
}

static void on_stream_end(void *ud, const struct relay_route *r,
			  bool client_left)
{
	(void)ud;
	(void)client_left;
	if (!r->c)
		FAIL("stream end reported for a route without a client");
}

static const struct relay_ops ops = {
	.client_out = client_out,
	.control = on_control,
	.metrics = on_metrics,
	.exec_frame = on_exec_frame,
	.exec_start = on_exec_start,
	.malformed = on_malformed,
	.stream_end = on_stream_end,
};

static bool opened_by(const struct client *c, uint32_t id)
{
	for (size_t i = 0; i < c->nopened; i++)
		if (c->opened[i] == id)
			return true;
	return false;
}

/* What a client received: whole frames, on streams it opened. */
static void check_client_out(struct client *c)
{
	struct msb_frame f;

	for (;;) {
		int r = msb_frame_next(&f, &c->out);
		if (r < 0)
			FAIL("a client received a bad frame");
		if (r == 0)
			break;
		if (!opened_by(c, f.hdr.stream))
			FAIL("a client received a frame of a stream it did "
			     "not open");
		msb_buf_consume(&c->out, msb_frame_size(&f));
	}
	if (msb_buf_avail(&c->out))
		FAIL("a client received part of a frame");
}

/* The supervisor's queue to the guest: whole frames only. */
static void check_agent_out(struct msb_buf *out)
{
	struct msb_frame f;

	for (;;) {
		int r = msb_frame_next(&f, out);
		if (r < 0)
			FAIL("a bad frame queued for the guest");
		if (r == 0)
			break;
		if (f.hdr.stream == 0 || f.hdr.stream == RELAY_METRICS_STREAM)
			FAIL("a client frame on a reserved guest stream");
		msb_buf_consume(out, msb_frame_size(&f));
	}
	if (msb_buf_avail(out))
		FAIL("part of a frame queued for the guest");
}

static void check_routes(struct relay *rl)
{
	for (size_t i = 0; i < rl->nroutes; i++) {
		const struct relay_route *a = &rl->routes[i];
		if (!a->guest_id || a->guest_id == RELAY_METRICS_STREAM)
			FAIL("reserved guest stream id");
		if (a->c && a->c->gone)
			FAIL("a route kept a client that left");
		for (size_t j = i + 1; j < rl->nroutes; j++) {
			const struct relay_route *b = &rl->routes[j];
			if (a->guest_id == b->guest_id)
				FAIL("two routes with one guest stream id");
			if (a->c && a->c == b->c &&
			    a->client_id == b->client_id)
				FAIL("two routes for one client stream");
		}
	}
}

static void client_input(struct relay *rl, struct client *c,
			 struct msb_buf *agent_out, bool accept)
{
	struct msb_frame f;

	for (;;) {
		int r = msb_frame_next(&f, &c->in);
		if (r < 0) {
			msb_buf_reset(&c->in); /* msb-vmm drops the client */
			relay_client_gone(rl, c);
			c->gone = true;
			return;
		}
		if (r == 0)
			return;
		const uint8_t *raw = msb_buf_head(&c->in);
		if (f.hdr.stream &&
		    !relay_from_client(rl, c, &f, raw, agent_out, accept) &&
		    f.hdr.flags & MSB_F_START && c->nopened < MAX_OPENED)
			c->opened[c->nopened++] = f.hdr.stream;
		msb_buf_consume(&c->in, msb_frame_size(&f));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay rl = {.ops = &ops, .next_guest_id = 1};
	struct msb_buf guest = {0}, agent_out = {0};
	bool guest_dead = false;

	memset(clients, 0, sizeof(clients));
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		unsigned who = op & 3;
		struct client *c = who ? &clients[who - 1] : NULL;
		if (c && op & 0x80) {
			if (!c->gone)
				relay_client_gone(&rl, c);
			c->gone = true;
		} else if (c && !c->gone) {
			if (msb_buf_append(&c->in, data, len) < 0)
				break;
			client_input(&rl, c, &agent_out, !(op & 0x40));
		} else if (!c && !guest_dead) {
			if (msb_buf_append(&guest, data, len) < 0)
				break;
			if (relay_from_guest(&rl, &guest) < 0) {
				if (msb_buf_avail(&guest))
					FAIL("bad input left after a bad "
					     "length");
				guest_dead = true; /* msb-vmm kills QEMU */
			}
		}
		data += len;
		size -= len;
		check_routes(&rl);
		for (unsigned i = 0; i < NCLIENTS; i++)
			check_client_out(&clients[i]);
		check_agent_out(&agent_out);
	}
	relay_free(&rl);
	msb_buf_free(&guest);
	msb_buf_free(&agent_out);
	for (unsigned i = 0; i < NCLIENTS; i++) {
		msb_buf_free(&clients[i].in);
		msb_buf_free(&clients[i].out);
	}
	return 0;
}
