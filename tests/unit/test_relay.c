// SPDX-License-Identifier: Apache-2.0
/* The supervisor's frame relay: routing, what a client that left leaves
 * behind, and the agent liveness watch. */
#include <string.h>

#include "check.h"
#include "vmm/relay.h"

struct client {
	struct msb_buf out;
};

static int controls, ends, left, malformed;

static struct msb_buf *client_out(struct client *c)
{
	return &c->out;
}
static void on_control(void *ud, const struct msb_msg *m)
{
	(void)ud;
	(void)m;
	controls++;
}
static void on_metrics(void *ud, const struct msb_msg *m)
{
	(void)ud;
	(void)m;
}
static void on_exec_frame(void *ud, const struct relay_route *r,
			  const struct msb_frame *f)
{
	(void)ud;
	(void)r;
	(void)f;
}
static void on_exec_start(void *ud, const struct relay_route *r,
			  const struct msb_msg *m)
{
	(void)ud;
	(void)r;
	(void)m;
}
static void on_malformed(void *ud, const char *what)
{
	(void)ud;
	(void)what;
	malformed++;
}
static void on_stream_end(void *ud, const struct relay_route *r,
			  bool client_left)
{
	(void)ud;
	(void)r;
	ends++;
	left += client_left;
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

static void frame(struct msb_buf *b, uint32_t stream, uint8_t flags,
		  enum msb_msg_type t)
{
	struct msb_msg m = {.type = t};
	CHECK(msb_frame_encode(b, stream, flags, &m) == 0);
}

/* The first frame of @b: its stream id. */
static uint32_t first_stream(struct msb_buf *b)
{
	struct msb_frame f;
	CHECK(msb_frame_next(&f, b) == 1);
	uint32_t id = f.hdr.stream;
	msb_buf_consume(b, msb_frame_size(&f));
	return id;
}

static const char *from_client(struct relay *rl, struct client *c, uint32_t id,
			       uint8_t flags, struct msb_buf *out)
{
	struct msb_buf b = {0};
	struct msb_frame f;

	frame(&b, id, flags, MSB_MSG_STDIN);
	CHECK(msb_frame_next(&f, &b) == 1);
	const char *err =
		relay_from_client(rl, c, &f, msb_buf_head(&b), out, true);
	msb_buf_free(&b);
	return err;
}

static void test_routing(void)
{
	struct relay rl = {.ops = &ops, .next_guest_id = 1};
	struct client a = {0}, b = {0};
	struct msb_buf agent = {0}, guest = {0};

	/* two clients, the same stream id: two guest streams */
	CHECK(from_client(&rl, &a, 1, MSB_F_START, &agent) == NULL);
	CHECK(from_client(&rl, &b, 1, MSB_F_START, &agent) == NULL);
	uint32_t ga = first_stream(&agent), gb = first_stream(&agent);
	CHECK(ga && gb && ga != gb);
	CHECK(relay_live(&rl) == 2);
	CHECK_STR(from_client(&rl, &a, 1, MSB_F_START, &agent),
		  "stream id already in use");
	CHECK_STR(from_client(&rl, &a, 2, 0, &agent), "unknown stream");

	/* the guest answers b: b gets it under its own id, a nothing */
	frame(&guest, gb, 0, MSB_MSG_STDOUT);
	CHECK(relay_from_guest(&rl, &guest) == 0);
	CHECK(msb_buf_avail(&a.out) == 0);
	CHECK(first_stream(&b.out) == 1);

	/* a leaves: its route stays (late frames are dropped), not live */
	CHECK(relay_client_gone(&rl, &a) == 1);
	CHECK(left == 1);
	CHECK(relay_live(&rl) == 1);
	frame(&guest, ga, 0, MSB_MSG_STDOUT);
	frame(&guest, ga, MSB_F_END, MSB_MSG_EXITED);
	CHECK(relay_from_guest(&rl, &guest) == 0);
	CHECK(msb_buf_avail(&a.out) == 0 && rl.nroutes == 1);

	/* frames for streams nobody opened, and the guest's control
	 * stream, never reach a client */
	frame(&guest, 0x7777, 0, MSB_MSG_STDOUT);
	frame(&guest, 0, 0, MSB_MSG_ERROR);
	CHECK(relay_from_guest(&rl, &guest) == 0);
	CHECK(controls == 1 && msb_buf_avail(&b.out) == 0);

	/* the guest ends b's stream: reported, route gone */
	int before = ends;
	frame(&guest, gb, MSB_F_END, MSB_MSG_EXITED);
	CHECK(relay_from_guest(&rl, &guest) == 0);
	CHECK(ends == before + 1 && rl.nroutes == 0);
	CHECK(first_stream(&b.out) == 1);

	/* a bad length: the relay stops, the input is dropped */
	CHECK(msb_buf_append(&guest, "\xff\xff\xff\xff\0\0\0\0\0", 9) == 0);
	CHECK(relay_from_guest(&rl, &guest) == -1);
	CHECK(msb_buf_avail(&guest) == 0);

	relay_free(&rl);
	msb_buf_free(&agent);
	msb_buf_free(&guest);
	msb_buf_free(&a.out);
	msb_buf_free(&b.out);
}

static void test_watch(void)
{
	const uint64_t s = 1000000;
	struct relay_watch w = {.timeout_us = 30 * s};
	uint64_t next, t = 1000 * s;

	relay_watch_heard(&w, t);
	/* nobody waits: silence does not count */
	CHECK(relay_watch_step(&w, t + 3600 * s, false, &next) == RELAY_WAIT);
	CHECK(next == 0);
	t += 3600 * s;
	/* a client waits: a ping after a third of the timeout */
	CHECK(relay_watch_step(&w, t + 5 * s, true, &next) == RELAY_WAIT);
	CHECK(next == t + 10 * s);
	CHECK(relay_watch_step(&w, t + 10 * s, true, &next) == RELAY_PING);
	CHECK(relay_watch_step(&w, t + 20 * s, true, &next) == RELAY_WAIT);
	CHECK(next == t + 30 * s);
	/* an answer resets it */
	relay_watch_heard(&w, t + 25 * s);
	CHECK(relay_watch_step(&w, t + 30 * s, true, &next) == RELAY_WAIT);
	CHECK(relay_watch_step(&w, t + 35 * s, true, &next) == RELAY_PING);
	/* no answer: silent at the timeout, once, then it starts over */
	CHECK(relay_watch_step(&w, t + 54 * s, true, &next) == RELAY_WAIT);
	CHECK(relay_watch_step(&w, t + 55 * s, true, &next) == RELAY_SILENT);
	CHECK(relay_watch_step(&w, t + 56 * s, true, &next) == RELAY_WAIT);
	/* a ping sent late still gets a third of the timeout */
	struct relay_watch v = {.timeout_us = 30 * s};
	relay_watch_heard(&v, t);
	CHECK(relay_watch_step(&v, t + 100 * s, true, &next) == RELAY_PING);
	CHECK(relay_watch_step(&v, t + 105 * s, true, &next) == RELAY_WAIT);
	CHECK(next == t + 110 * s);
	CHECK(relay_watch_step(&v, t + 110 * s, true, &next) == RELAY_SILENT);
}

int main(void)
{
	test_routing();
	test_watch();
	return check_summary("relay");
}
