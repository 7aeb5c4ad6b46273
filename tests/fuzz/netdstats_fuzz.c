// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for what the supervisor reads from msb-netd, which
 * handles guest traffic and is trusted less than the supervisor:
 * netd_stats_parse() (src/vmm/metrics.c) on the whole input as one
 * datagram. Invariants: nothing crashes or reads out of bounds (ASan); a
 * refused update leaves the counters untouched; an accepted one has flows
 * within 32 bits and parses again to the same counters; anything over
 * NETD_STATS_MAX is refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "netdstats_fuzz: %s (%s:%d)\n", what,          \
			__FILE__, __LINE__);                                   \
		abort();                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_counters c, before, again;

	memset(&c, 0xa5, sizeof(c));
	before = c;
	/* A copy of exactly @size bytes, so ASan sees any over-read. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	bool ok = netd_stats_parse(buf, size, &c);
	if (!ok && memcmp(&c, &before, sizeof(c)))
		FAIL("a refused update changed the counters");
	if (ok && size > NETD_STATS_MAX)
		FAIL("an update over NETD_STATS_MAX was accepted");
	if (ok && c.flows > UINT32_MAX)
		FAIL("flows over 32 bits");
	if (ok) {
		memset(&again, 0, sizeof(again));
		if (!netd_stats_parse(buf, size, &again) ||
		    memcmp(&c, &again, sizeof(c)))
			FAIL("the same update parsed differently");
	}
	free(buf);
	return 0;
}
