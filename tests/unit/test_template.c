// SPDX-License-Identifier: Apache-2.0
/* Unit tests: warm templates' key, files, lock, list and prune
 * (src/vmm/template.c), and QMP commands with a descriptor (no VM). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "util/util.h"
#include "vmm/metrics.h"
#include "vmm/template.h"

static char home[] = "/tmp/msb-template-unit-XXXXXX";

static void key_of(struct tmpl_key *k, unsigned memory, const char *file)
{
	memset(k, 0, sizeof(*k));
	tmpl_key_add(k, "memory_mib", "%u", memory);
	tmpl_key_add(k, "accel", "%s", "tcg");
	tmpl_key_add_file(k, "kernel", file);
	CHECK(tmpl_key_finish(k) == 0);
}

static void test_key(void)
{
	struct tmpl_key a, b;
	char file[PATH_MAX];

	snprintf(file, sizeof(file), "%s/vmlinux", home);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "k", 1) == 1);
	close(fd);
	key_of(&a, 512, file);
	key_of(&b, 512, file);
	CHECK(strlen(a.id) == TMPL_ID_LEN);
	CHECK_STR(a.id, b.id);
	CHECK(strstr(a.text, "memory_mib=512\naccel=tcg\nkernel=") == a.text);
	key_of(&b, 384, file);
	CHECK(strcmp(a.id, b.id));
	/* a rebuilt file (new size, mtime) is another key */
	fd = open(file, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "k", 1) == 1);
	close(fd);
	key_of(&b, 512, file);
	CHECK(strcmp(a.id, b.id));
	key_of(&b, 512, "/nonexistent/vmlinux");
	CHECK(strstr(b.text, "missing"));
	/* one line each, whatever the value holds */
	memset(&b, 0, sizeof(b));
	tmpl_key_add(&b, "image", "%s", "a\nb\tc");
	CHECK_STR(b.text, "image=a?b?c\n");
	/* too long: no ID */
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 10; i++)
		tmpl_key_add(&b, "x", "%01000d", i);
	CHECK(b.overflow && tmpl_key_finish(&b) < 0);
}

/* Write what looks like a migration stream to @fd. */
static void fake_stream(int fd, size_t size)
{
	static const char magic[8] = {'Q', 'E', 'V', 'M', 0, 0, 0, 3};
	char *buf = calloc(1, size);

	memcpy(buf, magic, sizeof(magic));
	CHECK(write_all(fd, buf, size) == 0);
	free(buf);
}

static void test_open_commit(void)
{
	struct tmpl_key k;
	struct tmpl t = TMPL_INIT, t2 = TMPL_INIT;
	char why[512], err[256], path[PATH_MAX + 64];

	key_of(&k, 256, "/nonexistent");
	/* none yet: save it, under the lock, into a temp file */
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_SAVE && t.fd >= 0 && t.lock_fd >= 0);
	CHECK(strstr(why, "saving"));
	CHECK(access(t.tmp, F_OK) == 0);
	/* a second creator meanwhile: neither */
	CHECK(tmpl_open(&t2, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t2.mode == TMPL_NONE && t2.fd < 0);
	CHECK(strstr(why, "another sandbox is creating it"));
	fake_stream(t.fd, 4096);
	char tmp[sizeof(t.tmp)];
	memcpy(tmp, t.tmp, sizeof(tmp));
	CHECK(tmpl_commit(&t, err, sizeof(err)) == 0);
	CHECK(t.fd < 0 && t.lock_fd < 0 && access(tmp, F_OK) < 0);
	/* now: restore it */
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_RESTORE && t.fd >= 0);
	tmpl_touch(&t);
	tmpl_close(&t);
	CHECK(t.fd < 0 && t.mode == TMPL_NONE);

	/* garbage in its place: removed, a new one to save */
	snprintf(path, sizeof(path), "%s/templates/%s/state", home, k.id);
	int fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "garbage!", 8) == 8);
	close(fd);
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_SAVE);
	CHECK(strstr(why, "not a valid template"));
	CHECK(access(path, F_OK) < 0);
	fake_stream(t.fd, 4096);
	CHECK(tmpl_commit(&t, err, sizeof(err)) == 0);

	/* the same ID with another key (a collision): never restored */
	snprintf(path, sizeof(path), "%s/templates/%s/key", home, k.id);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "other=1\n", 8) == 8);
	close(fd);
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_SAVE);
	/* a creator that dies leaves its temp file: the next removes it */
	char dead[sizeof(t.tmp)];
	memcpy(dead, t.tmp, sizeof(dead));
	close_fd(&t.fd);
	close_fd(&t.lock_fd);
	CHECK(access(dead, F_OK) == 0);
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_SAVE);
	CHECK(!strcmp(dead, t.tmp) || access(dead, F_OK) < 0);
	fake_stream(t.fd, 4096);
	CHECK(tmpl_commit(&t, err, sizeof(err)) == 0);
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_RESTORE);
	tmpl_close(&t);

	CHECK(tmpl_remove(home, "nothex") < 0 && errno == EINVAL);
	CHECK(tmpl_remove(home, k.id) == 0);
	CHECK(tmpl_remove(home, k.id) < 0 && errno == ENOENT);
}

/* Save a template of memory @m with a state of @size bytes, last used
 * at @used (seconds). Its ID in @id. */
static void saved(unsigned m, size_t size, time_t used, char *id)
{
	struct tmpl_key k;
	struct tmpl t = TMPL_INIT;
	char why[512], err[256], path[PATH_MAX + 64];

	key_of(&k, m, "/nonexistent");
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_SAVE);
	fake_stream(t.fd, size);
	CHECK(tmpl_commit(&t, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/templates/%s/state", home, k.id);
	struct timespec ts[2] = {{used, 0}, {used - 10, 0}};
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
	memcpy(id, k.id, TMPL_ID_LEN + 1);
}

static void test_list_prune(void)
{
	char a[TMPL_ID_LEN + 1], b[TMPL_ID_LEN + 1], c[TMPL_ID_LEN + 1];
	struct tmpl_info *v;
	size_t n, removed;

	saved(100, 1 << 20, 3000, a);
	saved(200, 1 << 20, 1000, b); /* least recently used */
	saved(300, 1 << 20, 2000, c);
	CHECK(tmpl_list(&v, &n, home) == 0);
	CHECK(n == 3);
	if (n == 3) {
		CHECK_STR(v[0].id, b);
		CHECK_STR(v[1].id, c);
		CHECK_STR(v[2].id, a);
		CHECK(v[0].bytes == 1 << 20 && v[0].memory_mib == 200);
		CHECK_STR(v[0].accel, "tcg");
		CHECK(v[0].used_s == 1000 && v[0].saved_s == 990);
	}
	free(v);

	/* a creator that died: no state, its lock free */
	struct tmpl_key k;
	struct tmpl t = TMPL_INIT;
	char why[512];
	key_of(&k, 400, "/nonexistent");
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	close_fd(&t.fd);
	close_fd(&t.lock_fd);
	CHECK(tmpl_list(&v, &n, home) == 0);
	CHECK(n == 4);
	free(v);

	/* room for two: the oldest goes, and the dead creator's folder */
	uint64_t left = tmpl_prune(home, 2u << 20, NULL, &removed);
	CHECK(left == 2u << 20 && removed == 2);
	CHECK(tmpl_list(&v, &n, home) == 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(v[0].id, c);
		CHECK_STR(v[1].id, a);
	}
	free(v);
	/* the one to keep stays, whatever its age */
	left = tmpl_prune(home, 1u << 20, c, &removed);
	CHECK(left == 1u << 20 && removed == 1);
	CHECK(tmpl_list(&v, &n, home) == 0);
	CHECK(n == 1 && !strcmp(v[0].id, c));
	free(v);
	left = tmpl_prune(home, 0, NULL, &removed);
	CHECK(left == 0 && removed == 1);

	/* the cap from the environment */
	setenv("MSB_TEMPLATE_MAX_MB", "5", 1);
	CHECK(tmpl_max_bytes() == 5u << 20);
	setenv("MSB_TEMPLATE_MAX_MB", "-1", 1);
	CHECK(tmpl_max_bytes() == (uint64_t)TMPL_DEFAULT_MAX_MB << 20);
	setenv("MSB_TEMPLATE_MAX_MB", "0", 1);
	CHECK(tmpl_max_bytes() == 0);
	/* which keeps none: no save either */
	key_of(&k, 500, "/nonexistent");
	CHECK(tmpl_open(&t, home, &k, 0, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_NONE);
	unsetenv("MSB_TEMPLATE_MAX_MB");
	/* too little room for one: no save */
	key_of(&k, 600, "/nonexistent");
	CHECK(tmpl_open(&t, home, &k, UINT64_MAX / 2, why, sizeof(why)) == 0);
	CHECK(t.mode == TMPL_NONE && strstr(why, "free under MSB_HOME"));
}

/* qmp_call(): one message with the descriptor; errors say QEMU's words. */
static void test_qmp_call(void)
{
	struct qmp q = {.greeted = true, .ready = true};
	char err[256], buf[256];
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	q.fd = sv[0];
	int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const char ans[] = "{\"return\": {\"status\": \"completed\"}}\n"
			   "{\"error\": {\"class\": \"GenericError\", "
			   "\"desc\": \"No such fd\"}}\n";
	CHECK(write(sv[1], ans, sizeof(ans) - 1) == sizeof(ans) - 1);
	json_t *r = qmp_call(&q, "{\"execute\":\"getfd\"}", file, 1000, err,
			     sizeof(err));
	CHECK(r != NULL);
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(r, "return"), "status")),
		  "completed");
	json_decref(r);
	CHECK(qmp_call(&q, "{\"execute\":\"migrate\"}", -1, 1000, err,
		       sizeof(err)) == NULL);
	CHECK_STR(err, "No such fd");

	/* what the peer got: the line and the descriptor together */
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {buf, sizeof(buf) - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.b,
			    .msg_controllen = sizeof(u.b)};
	ssize_t n = recvmsg(sv[1], &mh, 0);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(!strncmp(buf, "{\"execute\":\"getfd\"}\n", 20));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	CHECK(c && c->cmsg_type == SCM_RIGHTS);
	if (c) {
		int got;
		memcpy(&got, CMSG_DATA(c), sizeof(int));
		CHECK(got >= 0);
		close(got);
	}
	/* no answer: a timeout */
	CHECK(qmp_call(&q, "{\"execute\":\"stop\"}", -1, 50, err,
		       sizeof(err)) == NULL);
	close(file);
	close(sv[0]);
	close(sv[1]);
	msb_buf_free(&q.in);
}

int main(void)
{
	if (!mkdtemp(home)) {
		perror("mkdtemp");
		return 1;
	}
	test_key();
	test_open_commit();
	test_list_prune();
	test_qmp_call();
	rm_rf(home);
	return check_summary("test_template");
}
