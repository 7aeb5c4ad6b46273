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

/*
 * The counters of a sandbox's msb-netd, from the guest's side: rx is what
 * the guest received (netd's tx_*), tx what it sent (netd's rx_*).
 */
struct net_counters {
	uint64_t rx_bytes, rx_packets;
	uint64_t tx_bytes, tx_packets;
	uint64_t flows;  /* TCP, UDP and ICMP flows open now */
	uint64_t denied; /* flows and lookups the policy denied, in all */
};

/* The largest update msb-netd sends (--stats-fd: one JSON object). */
#define NETD_STATS_MAX 4096

/*
 * netd_stats_parse() - one update of msb-netd's counters (docs/network.md,
 * "Running it"): a JSON object of at most NETD_STATS_MAX bytes, whose
 * rx_frames, rx_bytes, tx_frames, tx_bytes, flows and denied are
 * integers from 0 (flows at most 2^32-1); other keys are ignored. Pure;
 * netd is less trusted than the supervisor (it handles guest traffic).
 * Return: true and *@out filled if it is one, else false and *@out
 * untouched.
 */
bool netd_stats_parse(const char *buf, size_t len, struct net_counters *out);

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

/*
 * qmp_call() - send @line (one JSON command, no newline) with descriptor
 * @fd (SCM_RIGHTS; -1: none) and wait at most @timeout_ms for its answer.
 * Return: the answer (json_decref() it; its "return" member is the
 * result), or NULL with QEMU's error or the failure in @err.
 */
struct json_t *qmp_call(struct qmp *q, const char *line, int fd, int timeout_ms,
			char *err, size_t errlen);

/* Bytes read and written by the guest's disks (query-blockstats), summed.
 * Waits at most @timeout_ms. Return: true on success. */
bool qmp_blockstats(struct qmp *q, int timeout_ms, uint64_t *rd, uint64_t *wr);

#endif
