// SPDX-License-Identifier: Apache-2.0
/* A client's framed connection to a sandbox supervisor's agent relay. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

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
		if (c->fd < 0)
			return msb__error(MSB_ESTATE, 0,
					  "the sandbox is stopped");

		/* Even with no time left, look at the socket once: a zero
		 * timeout means "what has arrived", not "nothing". */
		int wait = -1;
		if (timeout_ms >= 0) {
			uint64_t now = now_us();
			wait = now >= deadline
				       ? 0
				       : (int)((deadline - now + 999) / 1000);
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return msb__error(MSB_ESYS, errno, "poll: %s",
					  strerror(errno));
		if (pr == 0) {
			if (timeout_ms >= 0 && now_us() >= deadline)
				return msb__error(MSB_ETIMEDOUT, 0,
						  "no answer from the sandbox");
			continue;
		}

		if (msb_buf_reserve(&c->in, 128 * 1024) < 0)
			return msb__error(MSB_ENOMEM, errno, "out of memory");
		ssize_t n = recv(c->fd, c->in.data + c->in.len,
				 c->in.cap - c->in.len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : 0;
			close_fd(&c->fd);
			return msb__error(
				MSB_EVMDIED, err, "%s",
				c->died ? c->died
					: "the sandbox's supervisor exited");
		}
		c->in.len += (size_t)n;
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
