/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capped log files, escaping and rate limiting for what the supervisor
 * logs (logs/vmm.log, logs/kernel.log, logs/exec.log).
 *
 * DOC: Theory of operation
 *
 * A log is written one record (one line) at a time. Before a record that
 * would take the file past its cap, the file is renamed to "<name>.1"
 * (replacing an older one) and a new file is started: a log never uses
 * more than twice its cap plus one record. Byte streams (the serial
 * console, the stderr of QEMU and virtiofsd) go through a line assembler
 * that escapes control characters as \xNN and cuts lines at a bound, so a
 * writer cannot forge records or grow one without limit. Lines a guest can
 * trigger at will are rate-limited with a token bucket.
 *
 * Everything here except logfile_open/_write/_close is pure (no I/O, no
 * clock: the caller passes the time) and unit-tested.
 */
#ifndef MSB_VMM_LOGFILE_H
#define MSB_VMM_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest record text; longer lines are cut into several records. */
#define LOGFILE_LINE 4096

struct logfile {
	int fd;             /* -1: not logging */
	uint64_t size;      /* bytes in the current file */
	uint64_t max;       /* rotate before passing this */
	uint64_t dropped;   /* bytes that could not be written */
	unsigned rotations; /* files renamed to .1 (tests, diagnostics) */
	char path[4200];
};

/*
 * logfile_open() - open (append to) @path, capped at @max bytes. On
 * failure the log stays off (fd -1) and errno says why.
 * Return: 0 or -1.
 */
int logfile_open(struct logfile *l, const char *path, uint64_t max);
void logfile_close(struct logfile *l);

/*
 * logfile_write() - append the record @rec (@len bytes, normally ending in
 * '\n'), rotating first if it would take the file past its cap. A record
 * that cannot be written is counted in l->dropped.
 * Return: 0 or -1.
 */
int logfile_write(struct logfile *l, const char *rec, size_t len);

/*
 * logfile_escape() - @n bytes of @p as one line's text: control characters
 * and DEL as \xNN (tab kept, '\r' dropped), backslash as "\\" when
 * @quote, and '"' as \" when @quote (for text shown between quotes).
 * Return: the bytes written to @out (at most @cap - 1, NUL-terminated);
 * input that does not fit is cut at a whole escape.
 */
size_t logfile_escape(char *out, size_t cap, const uint8_t *p, size_t n,
		      bool quote);

/*
 * struct ratelimit - a token bucket: @burst records at once, then @per_s a
 * second. Zero-initialise the counters; set @burst and @per_s.
 */
struct ratelimit {
	uint32_t burst, per_s;
	uint64_t tokens_x1e6; /* tokens, in millionths */
	uint64_t last_us;     /* when tokens were last added; 0: never */
	uint64_t suppressed;  /* records refused since the last report */
};

/*
 * ratelimit_allow() - whether a record may be written at @now_us (µs, a
 * monotonic clock). On true, *@suppressed (if not NULL) is set to how many
 * records were refused before this one since the last allowed record, so
 * that the caller can say "suppressed N messages" first.
 */
bool ratelimit_allow(struct ratelimit *rl, uint64_t now_us,
		     uint64_t *suppressed);

/*
 * struct linebuf - assembles a byte stream into lines. Partial lines are
 * held up to LOGFILE_LINE bytes, then emitted as a record of their own.
 */
struct linebuf {
	uint8_t buf[LOGFILE_LINE];
	size_t len;
};

typedef void (*linebuf_emit_fn)(const uint8_t *line, size_t len, void *ud);

/* Feed @n bytes; call @emit for each complete (or over-long) line,
 * without its '\n'. */
void linebuf_feed(struct linebuf *lb, const uint8_t *p, size_t n,
		  linebuf_emit_fn emit, void *ud);
/* Emit what is held, if anything (at exit, or after a quiet spell). */
void linebuf_flush(struct linebuf *lb, linebuf_emit_fn emit, void *ud);

/*
 * struct linetail - the last LINETAIL_LINES non-empty lines of a stream
 * (QEMU's stderr), each kept up to LINETAIL_LINE bytes, raw: what a failed
 * start quotes. Zero-initialise.
 */
#define LINETAIL_LINES 3
#define LINETAIL_LINE 240
struct linetail {
	uint8_t line[LINETAIL_LINES][LINETAIL_LINE];
	size_t len[LINETAIL_LINES];
	size_t next, count;
};

/* Keep @line (@len bytes, no newline); blank lines are skipped. */
void linetail_add(struct linetail *t, const uint8_t *line, size_t len);

/*
 * linetail_join() - the kept lines, oldest first, joined with "; " into
 * @out (@cap bytes, NUL-terminated), each escaped with msb_escape() and
 * without a leading "@prefix: " or "BASENAME: " (BASENAME: @prefix's
 * last component; @prefix is QEMU's path, or NULL for none). The
 * result is one line, cut with "..." when it does not fit.
 * Return: @out ("" when nothing was kept).
 */
char *linetail_join(const struct linetail *t, const char *prefix, char *out,
		    size_t cap);

#endif
