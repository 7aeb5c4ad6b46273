// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: the output ring of a detached process (struct proc_ring in
 * agent.h). Records [u8 stream][u16 BE length][data] in a circular buffer
 * of AGENT_RING_SIZE bytes, addressed by absolute offsets that only grow;
 * appending drops the oldest whole records for room, so a reader's offset
 * below base means "dropped". Pure: no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static void ring_copy_in(struct proc_ring *r, uint64_t off, const uint8_t *d,
			 size_t n)
{
	size_t at = (size_t)(off % AGENT_RING_SIZE);
	size_t first = AGENT_RING_SIZE - at < n ? AGENT_RING_SIZE - at : n;

	memcpy(r->buf + at, d, first);
	memcpy(r->buf, d + first, n - first);
}

static void ring_copy_out(const struct proc_ring *r, uint64_t off, uint8_t *d,
			  size_t n)
{
	size_t at = (size_t)(off % AGENT_RING_SIZE);
	size_t first = AGENT_RING_SIZE - at < n ? AGENT_RING_SIZE - at : n;

	memcpy(d, r->buf + at, first);
	memcpy(d + first, r->buf, n - first);
}

/* Length of the data of the record at @off. */
static size_t ring_rec_len(const struct proc_ring *r, uint64_t off)
{
	uint8_t h[3];

	ring_copy_out(r, off, h, sizeof(h));
	return (size_t)h[1] << 8 | h[2];
}

int ring_put(struct proc_ring *r, bool is_err, const uint8_t *d, size_t n)
{
	if (!r->buf && !(r->buf = malloc(AGENT_RING_SIZE)))
		return -1;
	while (n) {
		size_t k = n < AGENT_RING_REC ? n : AGENT_RING_REC;
		uint8_t h[3] = {is_err, (uint8_t)(k >> 8), (uint8_t)k};

		while (r->end - r->base + sizeof(h) + k > AGENT_RING_SIZE)
			r->base += sizeof(h) + ring_rec_len(r, r->base);
		ring_copy_in(r, r->end, h, sizeof(h));
		ring_copy_in(r, r->end + sizeof(h), d, k);
		r->end += sizeof(h) + k;
		d += k;
		n -= k;
	}
	return 0;
}

size_t ring_get(const struct proc_ring *r, uint64_t *cur, size_t max,
		bool *is_err, uint8_t *out)
{
	uint8_t h[3];
	size_t n;

	if (*cur < r->base)
		*cur = r->base;
	if (*cur >= r->end)
		return 0;
	ring_copy_out(r, *cur, h, sizeof(h));
	n = (size_t)h[1] << 8 | h[2];
	if (n > max)
		return 0;
	ring_copy_out(r, *cur + sizeof(h), out, n);
	*is_err = h[0];
	*cur += sizeof(h) + n;
	return n;
}

void ring_free(struct proc_ring *r)
{
	free(r->buf);
	*r = (struct proc_ring){0};
}
