// SPDX-License-Identifier: Apache-2.0
/* The agent's output ring: order, records, dropping the oldest, wrapping. */
#include <stdlib.h>
#include <string.h>

#include "../../src/agent/agent.h"
#include "check.h"

static uint8_t big[AGENT_RING_REC * 3];

int main(void)
{
	struct proc_ring r = {0};
	uint8_t out[AGENT_RING_REC];
	uint64_t cur = 0;
	bool err;

	/* Empty: nothing to read. */
	CHECK(ring_get(&r, &cur, sizeof(out), &err, out) == 0);
	CHECK(ring_put(&r, false, (const uint8_t *)"out", 3) == 0);
	CHECK(ring_put(&r, true, (const uint8_t *)"err!", 4) == 0);
	CHECK(ring_get(&r, &cur, sizeof(out), &err, out) == 3 && !err &&
	      !memcmp(out, "out", 3));
	/* A record larger than the room given stays for later. */
	CHECK(ring_get(&r, &cur, 3, &err, out) == 0);
	CHECK(ring_get(&r, &cur, sizeof(out), &err, out) == 4 && err &&
	      !memcmp(out, "err!", 4));
	CHECK(ring_get(&r, &cur, sizeof(out), &err, out) == 0);
	CHECK(cur == r.end);

	/* Large writes are cut into records of at most AGENT_RING_REC. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	CHECK(ring_put(&r, false, big, sizeof(big)) == 0);
	size_t got = 0;
	size_t n;
	bool order = true;
	while ((n = ring_get(&r, &cur, sizeof(out), &err, out)) > 0) {
		order = order && n <= AGENT_RING_REC &&
			!memcmp(out, big + got, n);
		got += n;
	}
	CHECK(order && got == sizeof(big));

	/* Past the size: the oldest whole records go, the ring never holds
	 * more than AGENT_RING_SIZE, and a reader left behind skips ahead to
	 * a record boundary; what it reads is the newest output in order. */
	uint64_t slow = 0;
	uint32_t seq = 0;
	for (int i = 0; i < 5000; i++) {
		uint8_t rec[1000];
		for (size_t k = 0; k < sizeof(rec); k += 4)
			memcpy(rec + k, &seq, 4);
		seq++;
		CHECK(ring_put(&r, i & 1, rec, sizeof(rec) - (size_t)(i % 3)) ==
		      0);
		if (r.end - r.base > AGENT_RING_SIZE)
			break;
	}
	CHECK(r.end - r.base <= AGENT_RING_SIZE);
	CHECK(r.base > 0);
	n = ring_get(&r, &slow, sizeof(out), &err, out);
	CHECK(slow > r.base && n >= 998 && n <= 1000);
	uint32_t first;
	memcpy(&first, out, 4);
	/* ~1 MiB of ~1 KB records: the first kept is about seq - 1040. */
	CHECK(first > seq - 1100 && first < seq - 1000);
	uint32_t prev = first;
	bool seq_ok = true;
	while ((n = ring_get(&r, &slow, sizeof(out), &err, out)) > 0) {
		uint32_t v;
		memcpy(&v, out, 4);
		seq_ok = seq_ok && v == prev + 1;
		prev = v;
	}
	CHECK(seq_ok && prev == seq - 1 && slow == r.end);
	ring_free(&r);
	CHECK(!r.buf && !r.end);
	return check_summary("test_ring");
}
