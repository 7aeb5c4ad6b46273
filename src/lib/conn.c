// SPDX-License-Identifier: Apache-2.0
/* A client's framed connection to a sandbox supervisor's agent relay. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include "lib/internal.h"

int msb__conn_send(struct msb_conn *c, uint32_t stream, uint8_t flags,
		   const struct msb_msg *m)
{
	struct msb_buf out = {0};

	if (c->fd < 0)
		return msb__error(MSB_ESTATE, 0, "the sandbox is stopped");
	if (msb_frame_encode(&out, stream, flags, m) < 0) {
		int err = errno;
		msb_buf_free(&out);
		if (err == E2BIG)
			return msb__error(MSB_EINVAL, err,
					  "request too large for one frame");
		return msb__error(MSB_ENOMEM, err, "out of memory");
	}
	size_t done = 0;
	while (done < out.len) {
		ssize_t n = send(c->fd, out.data + done, out.len - done,
				 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			msb_buf_free(&out);
			if (err == EPIPE || err == ECONNRESET)
				return msb__error(
					MSB_EVMDIED, err, "%s",
					c->died ? c->died
						: "the sandbox is not running any more");
			return msb__error(MSB_ESYS, err,
					  "send to the sandbox: %s",
					  strerror(err));
		}
		done += (size_t)n;
	}
	msb_buf_free(&out);
	return 0;
}

int msb__error_reply(const struct msb_msg *m, const char *what)
{
	if (msb__msg_timeout(m)) {
		char t[512];
		return msb__error(MSB_ETIMEDOUT, 0, "%s%s%s", what ? what : "",
				  what ? ": " : "", MSB_GUEST_TEXT(t, m->msg));
	}
	/* The supervisor refuses requests while the sandbox is paused. */
	if (m->has & MSB_HAS(MSB_FLD_KIND) && m->kind.n == 6 &&
	    !memcmp(m->kind.p, "paused", 6)) {
		char t[512];
		return msb__error(MSB_ESTATE, 0, "%s%s%s", what ? what : "",
				  what ? ": " : "", MSB_GUEST_TEXT(t, m->msg));
	}
	if (m->has & MSB_HAS(MSB_FLD_ERRNO) && m->err == ENOSPC) {
		struct msb_paths p = {0};
		struct statvfs st;
		unsigned long long mib = 0;

		if (msb__paths_home(&p) == 0 && statvfs(p.home, &st) == 0)
			mib = (unsigned long long)st.f_bavail * st.f_frsize >>
			      20;
		msb__paths_clear(&p);
		return msb__error(MSB_ENOSPC, ENOSPC,
				  "%s%shost disk full under MSB_HOME (%llu MiB "
				  "free): free space and the sandbox resumes",
				  what ? what : "", what ? ": " : "", mib);
	}
	char t[512];
	return msb__error(MSB_EAGENT, 0, "%s%sguest agent: %s",
			  what ? what : "", what ? ": " : "",
			  MSB_GUEST_TEXT(t, m->msg));
}

/* Take the supervisor's note on stream 0; true if it was one. */
static bool control_frame(struct msb_conn *c, const struct msb_frame *f,
			  const struct msb_msg *m)
{
	/* Other stream-0 frames are answers the caller asked for. */
	if (f->hdr.stream != 0 || m->type != MSB_MSG_ERROR)
		return false;
	if (!c->died)
		c->died = msb_bytes_dup(m->msg);
	return true;
}

/*
 * Read what the socket has into c->in, waiting up to @wait ms (-1: no
 * limit). Return: 1 after reading, 0 if nothing came, or -MSB_E* (EOF:
 * EVMDIED, with the supervisor's note if it left one).
 */
static int conn_fill(struct msb_conn *c, int wait)
{
	if (c->fd < 0)
		return msb__error(MSB_ESTATE, 0, "the sandbox is stopped");
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	int pr = poll(&p, 1, wait);
	if (pr < 0 && errno == EINTR)
		return 0;
	if (pr < 0)
		return msb__error(MSB_ESYS, errno, "poll: %s", strerror(errno));
	if (pr == 0)
		return 0;
	if (msb_buf_reserve(&c->in, 128 * 1024) < 0)
		return msb__error(MSB_ENOMEM, errno, "out of memory");
	ssize_t n =
		recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		int err = n < 0 ? errno : 0;
		close_fd(&c->fd);
		return msb__error(MSB_EVMDIED, err, "%s",
				  c->died ? c->died
					  : "the sandbox's supervisor exited");
	}
	c->in.len += (size_t)n;
	return 1;
}

/* Milliseconds left until @deadline (µs; 0: none, -1 returned). */
static int ms_left(uint64_t deadline)
{
	if (!deadline)
		return -1;
	uint64_t now = now_us();
	return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

int msb__ms_left(uint64_t deadline)
{
	uint64_t now = now_us();
	return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

int msb__agent_timeout_ms(void)
{
	const char *s = getenv("MSB_AGENT_TIMEOUT_MS");
	char *end;

	if (s && *s) {
		errno = 0;
		long v = strtol(s, &end, 10);
		if (!errno && !*end && v > 0 && v <= 24L * 3600 * 1000)
			return (int)v;
	}
	return 30000;
}

int msb__agent_silent(const char *what, const char *obj, int ms)
{
	return msb__error(
		MSB_ETIMEDOUT, 0,
		"the guest agent did not answer %s `%s` for %d.%03d s", what,
		obj, ms / 1000, ms % 1000);
}

bool msb__msg_timeout(const struct msb_msg *m)
{
	return m->type == MSB_MSG_ERROR && m->has & MSB_HAS(MSB_FLD_KIND) &&
	       msb_bytes_eq(m->kind, "timeout");
}

int msb__conn_recv(struct msb_conn *c, struct msb_frame *f, struct msb_msg *m,
		   int timeout_ms)
{
	uint64_t deadline =
		timeout_ms < 0 ? 0 : now_us() + (uint64_t)timeout_ms * 1000u;

	for (;;) {
		int r = msb_frame_next(f, &c->in);
		if (r < 0) {
			msb_buf_reset(&c->in);
			return msb__error(MSB_EPROTO, 0,
					  "invalid frame from the supervisor");
		}
		if (r > 0) {
			if (msb_msg_decode(m, f->payload, f->payload_len) < 0) {
				msb__conn_done(c, f);
				return msb__error(
					MSB_EPROTO, 0,
					"malformed message from the guest");
			}
			if (control_frame(c, f, m)) {
				msb__conn_done(c, f);
				continue;
			}
			return 0;
		}
		/* Even with no time left, look at the socket once: a zero
		 * timeout means "what has arrived", not "nothing". */
		r = conn_fill(c, timeout_ms < 0 ? -1 : ms_left(deadline));
		if (r < 0)
			return r;
		if (r == 0 && timeout_ms >= 0 && now_us() >= deadline)
			return msb__error(MSB_ETIMEDOUT, 0,
					  "no answer from the sandbox");
	}
}

int msb__conn_consumed(struct msb_conn *c, uint32_t stream, struct msb_flow *fl,
		       size_t n)
{
	struct msb_msg m;

	return msb_credit_due(&fl->owed, n, &m)
		       ? msb__conn_send(c, stream, 0, &m)
		       : 0;
}

/*
 * Take the CREDIT frames of @stream out of the buffered input (the other
 * frames stay, in order). Return: 2 if a frame of @stream that ends it is
 * buffered, 1 if another frame of it is, else 0.
 */
static int take_credits(struct msb_conn *c, uint32_t stream,
			struct msb_flow *fl)
{
	size_t off = 0;
	int seen = 0;

	for (;;) {
		uint8_t *base = c->in.data + c->in.off + off;
		size_t avail = msb_buf_avail(&c->in) - off;
		struct msb_frame_hdr h;
		if (msb_frame_parse_hdr(&h, base, avail) != 1)
			return seen; /* incomplete, or bad: recv() says so */
		size_t size = 4u + h.len;
		if (avail < size)
			return seen;
		struct msb_frame f = {.hdr = h,
				      .payload = base + MSB_FRAME_HDR,
				      .payload_len = size - MSB_FRAME_HDR};
		struct msb_msg m;
		bool ok = (h.stream == 0 || h.stream == stream) &&
			  msb_msg_decode(&m, f.payload, f.payload_len) == 0;
		/* The supervisor's note on why the VM stopped (the frame stays
		 * for msb__conn_recv()). */
		if (ok)
			control_frame(c, &f, &m);
		if (h.stream == stream) {
			if (ok && m.type == MSB_MSG_CREDIT) {
				msb_credit_add(&fl->credit, &m);
				memmove(base, base + size, avail - size);
				c->in.len -= size;
				continue;
			}
			seen = h.flags & MSB_F_END ? 2 : seen ? seen : 1;
		}
		off += size;
	}
}

void msb__conn_take_credits(struct msb_conn *c, uint32_t stream,
			    struct msb_flow *fl)
{
	take_credits(c, stream, fl);
}

int msb__conn_wait_credit(struct msb_conn *c, uint32_t stream,
			  struct msb_flow *fl, bool stop_on_answer,
			  int timeout_ms)
{
	uint64_t deadline =
		timeout_ms < 0 ? 0 : now_us() + (uint64_t)timeout_ms * 1000u;

	for (;;) {
		int seen = take_credits(c, stream, fl);
		if (seen == 2 || (seen && stop_on_answer))
			return 1;
		if (fl->credit)
			return 0;
		int r = conn_fill(c, timeout_ms < 0 ? -1 : ms_left(deadline));
		if (r < 0)
			return r;
		if (r == 0 && timeout_ms >= 0 && now_us() >= deadline)
			return msb__error(
				MSB_ETIMEDOUT, 0,
				"the command is not reading its input");
	}
}

void msb__conn_done(struct msb_conn *c, const struct msb_frame *f)
{
	msb_buf_consume(&c->in, msb_frame_size(f));
}

void msb__conn_close(struct msb_conn *c)
{
	close_fd(&c->fd);
	msb_buf_free(&c->in);
	free(c->died);
	c->died = NULL;
}
