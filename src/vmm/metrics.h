/* SPDX-License-Identifier: Apache-2.0 */
/* Resource use of a sandbox's VM, as the supervisor sees it. */
#ifndef MSB_VMM_METRICS_H
#define MSB_VMM_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

/* CPU time (user + system, microseconds) and resident bytes of @pid. */
bool proc_usage(pid_t pid, uint64_t *cpu_us, uint64_t *rss);

/*
 * proc_stat_parse() - the utime and stime fields (clock ticks) of a
 * /proc/PID/stat line. Pure; the command name may hold spaces and ')'.
 * Return: true if both were found.
 */
bool proc_stat_parse(const char *line, size_t len, uint64_t *utime,
		     uint64_t *stime);

/* A QMP connection: greeting and capabilities are handled on first use. */
struct qmp {
	int fd;
	bool ready;
	struct msb_buf in;
};

/* Bytes read and written by the guest's disks (query-blockstats), summed.
 * Waits at most @timeout_ms. Return: true on success. */
bool qmp_blockstats(struct qmp *q, int timeout_ms, uint64_t *rd, uint64_t *wr);

#endif
