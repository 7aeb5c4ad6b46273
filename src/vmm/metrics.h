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

struct json_t;

/*
 * A QMP connection. The greeting is answered (qmp_capabilities) as soon as
 * it is read, by qmp_pump() or by a command; events are passed to
 * @on_event (if set) as they are read, whoever reads them.
 */
struct qmp {
	int fd;
	bool greeted; /* qmp_capabilities sent */
	bool ready;   /* and accepted: commands may be sent */
	struct msb_buf in;
	void (*on_event)(const char *event, struct json_t *data, void *arg);
	void *arg;
};

/*
 * qmp_pump() - read what QMP has sent, when its descriptor is readable
 * (one read, no waiting): the greeting, the answer to the capabilities,
 * events. Return: 0, or -1 when QMP has closed (or sent more than 1 MiB
 * without a newline).
 */
int qmp_pump(struct qmp *q);

/* Run @cmd (no arguments), waiting at most @timeout_ms for its answer.
 * Return: true if QEMU answered with success. */
bool qmp_command(struct qmp *q, const char *cmd, int timeout_ms);

/* Bytes read and written by the guest's disks (query-blockstats), summed.
 * Waits at most @timeout_ms. Return: true on success. */
bool qmp_blockstats(struct qmp *q, int timeout_ms, uint64_t *rd, uint64_t *wr);

#endif
