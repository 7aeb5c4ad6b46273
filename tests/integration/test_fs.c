// SPDX-License-Identifier: Apache-2.0
/*
 * The guest filesystem API against a real sandbox: every operation, its
 * errors, and a large file streamed both ways in bounded memory.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../unit/check.h"
#include "helpers.h"
#include "microsandbox.h"

#define BIG (64u << 20)

/* A deterministic byte stream, checksummed on both sides. */
struct gen {
	uint64_t pos, total, state;
};

static uint8_t next_byte(struct gen *g)
{
	g->state = g->state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint8_t)(g->state >> 56);
}

static long gen_source(void *buf, size_t cap, void *ud)
{
	struct gen *g = ud;
	size_t n = g->total - g->pos < cap ? (size_t)(g->total - g->pos) : cap;

	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = next_byte(g);
	g->pos += n;
	return (long)n;
}

struct check_sink {
	struct gen g;
	uint64_t got;
	int mismatch;
};

static int check_sink_fn(const void *data, size_t len, void *ud)
{
	struct check_sink *c = ud;

	for (size_t i = 0; i < len; i++)
		if (((const uint8_t *)data)[i] != next_byte(&c->g))
			c->mismatch++;
	c->got += len;
	return 0;
}

static long max_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

struct stop_sink {
	uint64_t got;
};

static int stop_after(const void *data, size_t len, void *ud)
{
	struct stop_sink *s = ud;

	(void)data;
	s->got += len;
	return s->got >= (1u << 20);
}

static int find_entry(const msb_fs_entry *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return (int)i;
	return -1;
}

int main(void)
{
	const char *home = temp_home();
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;

	test_case("test_fs", 240);
	msb_sandbox *sb;
	msb_fs_entry e;
	void *data;
	size_t len;
	int exists;

	if (msb_sandbox_create(&sb, &o) < 0) {
		fprintf(stderr, "create: %s\n", msb_last_error()->message);
		return 1;
	}

	/* write, read, stat */
	const char text[] = "hello, guest\n";
	CHECK(msb_sandbox_fs_write(sb, "/tmp/a.txt", text, strlen(text), 0600,
				   0) == 0);
	CHECK(msb_sandbox_fs_read(&data, &len, sb, "/tmp/a.txt") == 0);
	CHECK(len == strlen(text) && !memcmp(data, text, len));
	free(data);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/a.txt") == 0);
	CHECK_STR(e.name, "a.txt");
	CHECK(e.type == MSB_FS_FILE && e.size == strlen(text));
	CHECK(e.mode == 0600 && e.uid == 0 && e.gid == 0 && e.mtime_ns > 0);
	msb_fs_entry_clear(&e);
	/* append, exclusive create */
	CHECK(msb_sandbox_fs_write(sb, "/tmp/a.txt", "more\n", 5, 0,
				   MSB_FS_WRITE_APPEND) == 0);
	CHECK(msb_sandbox_fs_read(&data, &len, sb, "/tmp/a.txt") == 0);
	CHECK(len == strlen(text) + 5);
	free(data);
	CHECK(msb_sandbox_fs_write(sb, "/tmp/a.txt", "x", 1, 0,
				   MSB_FS_WRITE_EXCL) == -MSB_EEXIST);
	/* an empty file */
	CHECK(msb_sandbox_fs_write(sb, "/tmp/empty", "", 0, 0, 0) == 0);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/empty") == 0 && e.size == 0);
	msb_fs_entry_clear(&e);

	/* exists */
	CHECK(msb_sandbox_fs_exists(&exists, sb, "/tmp/a.txt") == 0 && exists);
	CHECK(msb_sandbox_fs_exists(&exists, sb, "/tmp/nope") == 0 && !exists);

	/* mkdir -p, list, symlinks */
	CHECK(msb_sandbox_fs_mkdir(sb, "/tmp/d/e/f", 0, 1) == 0);
	CHECK(msb_sandbox_fs_mkdir(sb, "/tmp/d/e/f", 0, 1) == 0);
	CHECK(msb_sandbox_fs_mkdir(sb, "/tmp/d", 0, 0) == -MSB_EEXIST);
	CHECK(msb_sandbox_fs_mkdir(sb, "/tmp/x/y", 0, 0) == -MSB_ENOTFOUND);
	CHECK(msb_sandbox_fs_write(sb, "/tmp/d/file", "1", 1, 0755, 0) == 0);
	msb_exec_output *out;
	CHECK(msb_sandbox_shell(&out, sb, "ln -s /tmp/a.txt /tmp/d/link",
				NULL) == 0);
	msb_exec_output_free(out);
	msb_fs_entry *v;
	size_t n;
	CHECK(msb_sandbox_fs_list(&v, &n, sb, "/tmp/d") == 0);
	CHECK(n == 3);
	int i = find_entry(v, n, "e"), j = find_entry(v, n, "file"),
	    k = find_entry(v, n, "link");
	CHECK(i >= 0 && v[i].type == MSB_FS_DIR && v[i].mode == 0755);
	CHECK(j >= 0 && v[j].type == MSB_FS_FILE && v[j].mode == 0755);
	CHECK(k >= 0 && v[k].type == MSB_FS_SYMLINK && v[k].target &&
	      !strcmp(v[k].target, "/tmp/a.txt"));
	msb_fs_entries_free(v, n);
	CHECK(msb_sandbox_fs_list(&v, &n, sb, "/etc") == 0 && n > 3);
	CHECK(find_entry(v, n, "passwd") >= 0);
	msb_fs_entries_free(v, n);
	CHECK(msb_sandbox_fs_list(&v, &n, sb, "/tmp/a.txt") == -MSB_ENOTDIR);

	/* symlinks: made, seen as such, an existing path refused */
	CHECK(msb_sandbox_fs_symlink(sb, "/tmp/link", "../etc/hostname") == 0);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/link") == 0);
	CHECK(e.type == MSB_FS_SYMLINK);
	CHECK_STR(e.target, "../etc/hostname");
	msb_fs_entry_clear(&e);
	CHECK(msb_sandbox_fs_symlink(sb, "/tmp/link", "x") == -MSB_EEXIST);
	CHECK(msb_sandbox_fs_symlink(sb, "/tmp/link2", "") == -MSB_EINVAL);
	CHECK(msb_sandbox_fs_symlink(sb, "relative", "x") == -MSB_EINVAL);
	CHECK(msb_sandbox_fs_remove(sb, "/tmp/link", 0) == 0);

	/* rename, copy, chmod, chown */
	CHECK(msb_sandbox_fs_rename(sb, "/tmp/d/file", "/tmp/d/renamed") == 0);
	CHECK(msb_sandbox_fs_exists(&exists, sb, "/tmp/d/file") == 0 &&
	      !exists);
	CHECK(msb_sandbox_fs_copy(sb, "/tmp/d", "/tmp/d2", 0) < 0);
	CHECK(msb_sandbox_fs_copy(sb, "/tmp/d", "/tmp/d2", 1) == 0);
	CHECK(msb_sandbox_fs_read(&data, &len, sb, "/tmp/d2/renamed") == 0 &&
	      len == 1);
	free(data);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/d2/link") == 0 &&
	      e.type == MSB_FS_SYMLINK);
	msb_fs_entry_clear(&e);
	/* chown first: Linux clears setuid on chown */
	CHECK(msb_sandbox_fs_chown(sb, "/tmp/d2/renamed", 1000, -1) == 0);
	CHECK(msb_sandbox_fs_chmod(sb, "/tmp/d2/renamed", 04711) == 0);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/d2/renamed") == 0);
	CHECK(e.mode == 04711 && e.uid == 1000 && e.gid == 0);
	msb_fs_entry_clear(&e);

	/* remove */
	CHECK(msb_sandbox_fs_remove(sb, "/tmp/d2", 0) == -MSB_ENOTEMPTY);
	CHECK(msb_sandbox_fs_remove(sb, "/tmp/d2", 1) == 0);
	CHECK(msb_sandbox_fs_exists(&exists, sb, "/tmp/d2") == 0 && !exists);
	CHECK(msb_sandbox_fs_remove(sb, "/tmp/d2", 1) == -MSB_ENOTFOUND);

	/* errors carry the path */
	CHECK(msb_sandbox_fs_read(&data, &len, sb, "/nope/x") ==
	      -MSB_ENOTFOUND);
	CHECK(strstr(msb_last_error()->message, "/nope/x") != NULL);
	CHECK(msb_last_error()->sys_errno == 2);
	CHECK(msb_sandbox_fs_read(&data, &len, sb, "/tmp") == -MSB_EISDIR);
	CHECK(msb_sandbox_fs_write(sb, "/proc/nope", "x", 1, 0, 0) < 0);
	CHECK(msb_sandbox_fs_stat(&e, sb, "relative") == -MSB_EINVAL);

	/* a large file streams both ways in bounded memory */
	long rss0 = max_rss_kb();
	struct gen g = {.total = BIG, .state = 42};
	CHECK(msb_sandbox_fs_write_stream(sb, "/tmp/big", gen_source, &g, 0,
					  0) == 0);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/big") == 0 && e.size == BIG);
	msb_fs_entry_clear(&e);
	struct check_sink cs = {.g = {.state = 42}};
	CHECK(msb_sandbox_fs_read_stream(sb, "/tmp/big", check_sink_fn, &cs) ==
	      0);
	CHECK(cs.got == BIG && cs.mismatch == 0);
	long grown = max_rss_kb() - rss0;
	printf("  %u MiB written and read back; peak RSS grew %ld KiB\n",
	       BIG >> 20, grown);
	CHECK(grown < 32 * 1024);

	/* A sink that stops: the read cancels and the channel stays usable. */
	struct stop_sink st = {0};
	CHECK(msb_sandbox_fs_read_stream(sb, "/tmp/big", stop_after, &st) ==
	      -MSB_EINVAL);
	CHECK(st.got < BIG);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/a.txt") == 0);
	msb_fs_entry_clear(&e);

	/* Copy out: holes stay holes (sent as lengths), setuid is dropped,
	 * archive mode keeps it. */
	CHECK(msb_sandbox_shell(&out, sb,
				"mkdir /tmp/co && truncate -s 1G /tmp/co/sparse"
				" && echo end >> /tmp/co/sparse && echo s >"
				" /tmp/co/suid && chmod 4755 /tmp/co/suid",
				NULL) == 0);
	msb_exec_output_free(out);
	char dst[300], path[400];
	struct stat hs;
	snprintf(dst, sizeof(dst), "%s/co", home);
	CHECK(msb_sandbox_fs_copy_out(sb, "/tmp/co", dst, NULL) == 0);
	snprintf(path, sizeof(path), "%s/sparse", dst);
	CHECK(stat(path, &hs) == 0 && hs.st_size == (1 << 30) + 4);
	CHECK(hs.st_blocks <= 64);
	snprintf(path, sizeof(path), "%s/suid", dst);
	CHECK(stat(path, &hs) == 0 && !(hs.st_mode & 07000));
	msb_copy_options co = MSB_COPY_OPTIONS_INIT;
	co.archive = 1;
	CHECK(msb_sandbox_fs_copy_out(sb, "/tmp/co/suid", path, &co) == 0);
	CHECK(stat(path, &hs) == 0 && (hs.st_mode & 07777) == 04755);
	/* A tar stream out and back in, from a descriptor's offset: the
	 * setuid bit dropped on the way out, modes kept on the way in. */
	snprintf(path, sizeof(path), "%s/t.tar", home);
	int tfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(tfd >= 0);
	CHECK(write(tfd, "junk", 4) == 4);
	CHECK(msb_sandbox_fs_copy_out_tar(sb, "/tmp/co/suid", tfd, NULL) == 0);
	CHECK(lseek(tfd, 0, SEEK_END) > 4 + 1024);
	CHECK(lseek(tfd, 4, SEEK_SET) == 4);
	CHECK(msb_sandbox_fs_copy_in_tar(sb, tfd, "/tmp/ti", 0) == 0);
	CHECK(msb_sandbox_fs_stat(&e, sb, "/tmp/ti/suid") == 0);
	CHECK(e.type == MSB_FS_FILE && e.mode == 0755 && e.size == 2);
	msb_fs_entry_clear(&e);
	CHECK(msb_sandbox_fs_copy_in_tar(sb, tfd, "relative", 0) ==
	      -MSB_EINVAL);
	CHECK(msb_sandbox_fs_copy_in_tar(sb, tfd, "/tmp/ti", 8) == -MSB_EINVAL);
	/* not a tar: refused, nothing made */
	CHECK(lseek(tfd, 0, SEEK_SET) == 0);
	CHECK(msb_sandbox_fs_copy_in_tar(sb, tfd, "/tmp/tj", 0) == -MSB_EINVAL);
	int there = 1;
	CHECK(msb_sandbox_fs_exists(&there, sb, "/tmp/tj") == 0 && !there);
	close(tfd);
	/* Limits. */
	co = (msb_copy_options)MSB_COPY_OPTIONS_INIT;
	co.max_bytes = 1 << 20;
	CHECK(msb_sandbox_fs_copy_out(sb, "/tmp/co", dst, &co) == -MSB_ENOSPC);
	CHECK(strstr(msb_last_error()->message, "--max-size") != NULL);
	/* An over-large whole-file read is refused, not buffered. */
	CHECK(msb_sandbox_shell(&out, sb, "truncate -s 1100M /tmp/co/huge",
				NULL) == 0);
	msb_exec_output_free(out);
	CHECK(msb_sandbox_fs_read(&data, &len, sb, "/tmp/co/huge") ==
	      -MSB_ENOSPC);

	/* the sandbox is still fine */
	CHECK(msb_sandbox_shell(&out, sb, "cat /tmp/a.txt | wc -l", NULL) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "2\n");
	msb_exec_output_free(out);

	CHECK(msb_sandbox_stop(sb, 0) == 0);
	msb_sandbox_free(sb);
	remove_tree(home);
	alarm(0);
	return check_summary("test_fs");
}
