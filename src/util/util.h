/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the host components and the guest agent. */
#ifndef MSB_UTIL_H
#define MSB_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Return the pointer and leave NULL behind (ownership moves to the caller). */
#define steal_ptr(pp)                                                          \
	({                                                                     \
		__typeof__(*(pp)) _p = *(pp);                                  \
		*(pp) = NULL;                                                  \
		_p;                                                            \
	})

/* Return the descriptor and leave -1 behind. */
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

/* Close *fd if open and set it to -1. */
static inline void close_fd(int *fd)
{
	closep(fd);
	*fd = -1;
}

/*
 * Growable byte buffer. @data is owned by the buffer; msb_buf_free()
 * releases it. Reading consumes from @off; compact with msb_buf_consume().
 */
struct msb_buf {
	uint8_t *data;
	size_t len; /* bytes in use, starting at 0 */
	size_t off; /* bytes already consumed from the front */
	size_t cap;
};

int msb_buf_reserve(struct msb_buf *b, size_t extra);
int msb_buf_append(struct msb_buf *b, const void *p, size_t n);
void msb_buf_consume(struct msb_buf *b, size_t n);
void msb_buf_reset(struct msb_buf *b);
void msb_buf_free(struct msb_buf *b);
static inline size_t msb_buf_avail(const struct msb_buf *b)
{
	return b->len - b->off;
}
static inline uint8_t *msb_buf_head(const struct msb_buf *b)
{
	return b->data + b->off;
}

/* read()/write() the whole range, retrying EINTR and short transfers.
 * read_all returns bytes read (less than n only at EOF) or -1. */
ssize_t read_all(int fd, void *buf, size_t n);
int write_all(int fd, const void *buf, size_t n);
/* read_file_max() - the regular file @path (opened with @oflags added, e.g.
 * O_NOFOLLOW) of at most @max bytes, NUL-terminated, into *@out
 * (malloc'd). Return: its length, or -1 with errno set (EINVAL: not a
 * regular file, or larger than @max). */
ssize_t read_file_max(const char *path, int oflags, size_t max, char **out);

/* asprintf() returning the string, or NULL on ENOMEM. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Remove a file or a whole tree (not following symlinks, not crossing
 * mounts). Return 0, or -1 with errno of the first failure. */
/*
 * msb_parse_dec() - the unsigned decimal number in the @n bytes at @p:
 * digits only (no sign, no blanks), 1 to 20 of them, no overflow.
 * Return: 0, or -1.
 */
int msb_parse_dec(const char *p, size_t n, uint64_t *out);

/*
 * msb_escape() - @n bytes of untrusted text at @p as printable text in
 * @out (@cap bytes, NUL-terminated): control characters (C0, DEL and the
 * C1 range), backslashes and bytes that are not valid UTF-8 become \xNN,
 * so the result can neither move a terminal's cursor nor split a log
 * record. Cut short with "..." when it does not fit. Pure.
 * Return: @out.
 */
char *msb_escape(char *out, size_t cap, const void *p, size_t n);

/* The length of the valid UTF-8 character at @p (at most @n bytes): 1 for
 * ASCII, 0 if it is not one. Overlong forms, surrogates and C1 controls
 * (U+0080..U+009F) count as invalid. Pure. */
size_t msb_utf8_len(const uint8_t *p, size_t n);

/*
 * msb_printable() - replace every byte of @s outside printable ASCII with
 * '?', in place, so that quoted input (jansson's error text, say) keeps a
 * message on one line. Return: @s.
 */
char *msb_printable(char *s);

/* Free a NULL-terminated array of malloc'd strings, and the array. */
void msb_strv_free(char **v);

/*
 * msb_env_for_supervisor() - the environment the library gives msb-vmm:
 * of @env, only PATH, LD_LIBRARY_PATH (an install's libraries),
 * SSL_CERT_FILE (the host's trust store for msb-netd, host_ca_bundle()),
 * TZ, LANG, LC_*, MSB_* and the sanitizer and coverage variables
 * (ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS, LLVM_PROFILE_FILE,
 * GCOV_PREFIX, GCOV_PREFIX_STRIP), less every
 * variable named in @drop (NULL-terminated: the secrets' names). The
 * caller's environment may hold secrets (`--secret NAME@HOST` reads one
 * from it) or anything else: the supervisor lives as long as the sandbox
 * and has no use for it.
 * Return: a malloc'd NULL-terminated array of pointers into @env (free()
 * the array only), or NULL when out of memory.
 */
char **msb_env_for_supervisor(char *const *env, const char *const *drop);

int rm_rf(const char *path);

/*
 * copy_sparse() - copy all of file @in to @out (empty, writable) and sync
 * it: a reflink where the filesystem has them (FICLONE), else the data
 * extents only (SEEK_DATA/SEEK_HOLE), so holes stay holes.
 * Return: 0, or -1 with errno.
 */
int copy_sparse(int in, int out);

/* Monotonic clock in microseconds. */
uint64_t now_us(void);

/* Set or clear O_NONBLOCK. Returns 0 or -1 with errno. */
int set_nonblock(int fd, int on);

/* Big-endian load/store. */
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#endif
