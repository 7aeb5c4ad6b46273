// SPDX-License-Identifier: Apache-2.0
/* The supervisor's frame relay between clients and the guest: relay.h. */
#include "vmm/relay.h"

#include <errno.h>
#include <stdlib.h>

#include "util/util.h"

struct relay_route *relay_find_guest(struct relay *rl, uint32_t id)
{
	for (size_t i = 0; i < rl->nroutes; i++)
		if (rl->routes[i].guest_id == id)
			return &rl->routes[i];
	return NULL;
}

struct relay_route *relay_find_client(struct relay *rl, struct client *c,
				      uint32_t id)
{
	for (size_t i = 0; i < rl->nroutes; i++)
		if (rl->routes[i].c == c && rl->routes[i].client_id == id)
			return &rl->routes[i];
	return NULL;
}

size_t relay_live(const struct relay *rl)
{
	size_t n = 0;

	for (size_t i = 0; i < rl->nroutes; i++)
		n += rl->routes[i].c != NULL;
	return n;
}

void relay_drop(struct relay *rl, struct relay_route *r)
{
	*r = rl->routes[--rl->nroutes];
}

void relay_free(struct relay *rl)
{
	free(rl->routes);
	rl->routes = NULL;
	rl->nroutes = rl->cap = 0;
}

static struct relay_route *add_route(struct relay *rl, struct client *c,
				     uint32_t client_id)
{
	if (rl->nroutes == rl->cap) {
		size_t cap = rl->cap ? rl->cap * 2 : 16;
		struct relay_route *r = realloc(rl->routes, cap * sizeof(*r));
		if (!r)
			return NULL;
		rl->routes = r;
		rl->cap = cap;
	}
	uint32_t id;
	do {
		id = rl->next_guest_id++;
		if (rl->next_guest_id == 0)
			rl->next_guest_id = 1;
	} while (id == 0 || id == RELAY_METRICS_STREAM ||
		 id == RELAY_MAIN_STREAM || relay_find_guest(rl, id));
	struct relay_route *r = &rl->routes[rl->nroutes++];
	*r = (struct relay_route){
		.guest_id = id, .client_id = client_id, .c = c};
	return r;
}

int relay_append(struct msb_buf *out, const uint8_t *raw, size_t size,
		 uint32_t id)
{
	if (msb_buf_append(out, raw, size) < 0)
		return -1;
	/* Appending may have compacted the buffer: find the copy from its
	 * end, not from the length before. */
	put_be32(out->data + out->len - size + 4, id);
	return 0;
}

static void guest_frame(struct relay *rl, const struct msb_frame *f,
			const uint8_t *raw)
{
	const struct relay_ops *ops = rl->ops;
	struct msb_msg m;

	if (f->hdr.stream == 0) {
		if (msb_msg_decode(&m, f->payload, f->payload_len) < 0)
			ops->malformed(
				rl->ud,
				"malformed control frame from the guest");
		else
			ops->control(rl->ud, &m);
		return;
	}
	if (f->hdr.stream == RELAY_METRICS_STREAM) {
		bool ok = msb_msg_decode(&m, f->payload, f->payload_len) == 0 &&
			  m.type == MSB_MSG_METRICS;
		ops->metrics(rl->ud, ok ? &m : NULL);
		return;
	}
	if (f->hdr.stream == RELAY_MAIN_STREAM) {
		if (ops->main_frame)
			ops->main_frame(rl->ud, f);
		return;
	}
	struct relay_route *r = relay_find_guest(rl, f->hdr.stream);
	if (!r)
		return; /* a stream nobody listens to any more */
	if (r->exec)
		ops->exec_frame(rl->ud, r, f);
	if (r->c && relay_append(ops->client_out(r->c), raw, msb_frame_size(f),
				 r->client_id) < 0)
		ops->malformed(rl->ud, "out of memory: frame dropped");
	if (f->hdr.flags & MSB_F_END) {
		if (r->c)
			ops->stream_end(rl->ud, r, false);
		relay_drop(rl, r);
	}
}

int relay_from_guest(struct relay *rl, struct msb_buf *in)
{
	struct msb_frame f;

	for (;;) {
		int r = msb_frame_next(&f, in);
		if (r == 0)
			return 0;
		if (r < 0) {
			msb_buf_reset(in);
			return -1;
		}
		guest_frame(rl, &f, msb_buf_head(in));
		msb_buf_consume(in, msb_frame_size(&f));
	}
}

const char *relay_from_client(struct relay *rl, struct client *c,
			      const struct msb_frame *f, const uint8_t *raw,
			      struct msb_buf *agent_out, bool accept)
{
	uint32_t id = f->hdr.stream;
	struct relay_route *r = relay_find_client(rl, c, id);
	struct msb_msg m;

	if (f->hdr.flags & MSB_F_START) {
		if (r)
			return "stream id already in use";
		if (!accept)
			return "the sandbox is stopping";
		r = add_route(rl, c, id);
		if (!r)
			return "out of memory";
		if (msb_msg_decode(&m, f->payload, f->payload_len) == 0 &&
		    m.type == MSB_MSG_EXEC) {
			r->exec = true;
			rl->ops->exec_start(rl->ud, r, &m);
		} else if (m.type == MSB_MSG_PROC_ATTACH) {
			r->attach = true;
		}
	} else if (!r) {
		/* Credit for a stream that has just ended is normal. */
		if (msb_msg_decode(&m, f->payload, f->payload_len) == 0 &&
		    m.type == MSB_MSG_CREDIT)
			return NULL;
		return "unknown stream";
	}
	if (relay_append(agent_out, raw, msb_frame_size(f), r->guest_id) < 0)
		return "out of memory";
	return NULL;
}

size_t relay_client_gone(struct relay *rl, struct client *c)
{
	size_t n = 0;

	for (size_t k = 0; k < rl->nroutes; k++) {
		struct relay_route *r = &rl->routes[k];
		if (r->c != c)
			continue;
		rl->ops->stream_end(rl->ud, r, true);
		r->c = NULL;
		n++;
	}
	return n;
}

void relay_watch_heard(struct relay_watch *w, uint64_t now)
{
	w->guest_us = now;
	w->ping_us = 0;
}

enum relay_watch_do relay_watch_step(struct relay_watch *w, uint64_t now,
				     bool watching, uint64_t *next)
{
	uint64_t t = w->timeout_us;

	*next = 0;
	if (!watching) {
		relay_watch_heard(w, now);
		return RELAY_WAIT;
	}
	if (w->ping_us) {
		/* silent for the timeout, and a third of it to answer */
		uint64_t due = w->guest_us + t > w->ping_us + t / 3
				       ? w->guest_us + t
				       : w->ping_us + t / 3;
		if (now < due) {
			*next = due;
			return RELAY_WAIT;
		}
		relay_watch_heard(w, now); /* start over */
		return RELAY_SILENT;
	}
	if (now >= w->guest_us + t / 3) {
		w->ping_us = now;
		*next = now + t / 3;
		return RELAY_PING;
	}
	*next = w->guest_us + t / 3;
	return RELAY_WAIT;
}
