/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec log of a sandbox (logs/exec.log): one line per command start,
 * per line of its output and per end, each with a UTC time stamp and the
 * command's number, written by the supervisor as frames pass through it.
 *
 *   2026-11-27T06:10:00.123Z exec#5 start: sh -c "echo hi"
 *   2026-11-27T06:10:00.130Z exec#5 stdout: hi
 *   2026-11-27T06:10:00.131Z exec#5 exit: 0
 *
 * Control characters in output are written as \xNN (carriage returns of
 * terminals are dropped). The file is capped: past EXECLOG_MAX bytes it
 * becomes exec.log.1 and a new one starts.
 */
#ifndef MSB_VMM_EXECLOG_H
#define MSB_VMM_EXECLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"
#include "vmm/logfile.h"

#define EXECLOG_MAX (8u << 20)

struct execlog {
	struct logfile log; /* capped at EXECLOG_MAX, one older file */
};

/* Open (append to) @dir/exec.log; on failure the log stays off. */
void execlog_open(struct execlog *l, const char *dir);
void execlog_close(struct execlog *l);
/* An exec request @m started command @id. */
void execlog_start(struct execlog *l, uint32_t id, const struct msb_msg *m);
/* Output of command @id: @n bytes of stdout (or stderr). */
void execlog_output(struct execlog *l, uint32_t id, bool is_err,
		    const uint8_t *p, size_t n);
/* The end of command @id: EXITED, FAILED or ERROR. */
void execlog_end(struct execlog *l, uint32_t id, const struct msb_msg *m);

/*
 * execlog_escape() - append @n bytes of @p to @out as one log line's
 * text: control characters as \xNN, '\r' dropped. Pure; returns the bytes
 * written (at most @cap - 1, NUL-terminated).
 */
size_t execlog_escape(char *out, size_t cap, const uint8_t *p, size_t n);

#endif
