// SPDX-License-Identifier: Apache-2.0
/* Unit tests: the QEMU command line, the VM spec, the QMP client, netd's
 * counters (no VM). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "vmm/execlog.h"
#include "vmm/metrics.h"
#include "vmm/qemu.h"
#include "vmm/spec.h"

/* Index of @arg in @argv, or -1. */
static int find(char **argv, const char *arg)
{
	for (int i = 0; argv[i]; i++)
		if (!strcmp(argv[i], arg))
			return i;
	return -1;
}

/* The value following option @opt, or NULL. */
static const char *opt(char **argv, const char *o)
{
	int i = find(argv, o);
	return i >= 0 ? argv[i + 1] : NULL;
}

static void test_argv_tcg(void)
{
	struct msb_qemu_config c = {
		.qemu = "/usr/bin/qemu-system-x86_64",
		.name = "box,1",
		.kernel = "/k/vmlinux",
		.initrd = "/k/initramfs.cpio",
		.disk = "/s/a,b/disk.qcow2",
		.console_fd = 5,
		.cpus = 2,
		.memory_mib = 768,
		.kvm = false,
		.tsc_khz = 2600000,
		.agent_fd = 3,
		.qmp_fd = 4,
	};
	char **argv = msb_qemu_argv(&c);
	CHECK(argv != NULL);
	CHECK_STR(argv[0], "/usr/bin/qemu-system-x86_64");
	CHECK(find(argv, "socket,id=qmp,fd=4") > 0);
	CHECK(find(argv, "chardev=qmp,mode=control") > 0);
	CHECK_STR(opt(argv, "-M"), "microvm");
	CHECK_STR(opt(argv, "-accel"), "tcg");
	CHECK(find(argv, "-cpu") < 0);
	CHECK_STR(opt(argv, "-m"), "768");
	CHECK_STR(opt(argv, "-smp"), "2");
	CHECK(find(argv, "-nodefaults") > 0);
	CHECK(find(argv, "-no-reboot") > 0);
	CHECK_STR(opt(argv, "-kernel"), "/k/vmlinux");
	CHECK_STR(opt(argv, "-initrd"), "/k/initramfs.cpio");
	const char *append = opt(argv, "-append");
	CHECK(append && strstr(append, "console=ttyS0"));
	CHECK(append && strstr(append, "tsc_early_khz=2600000"));
	CHECK(append && strstr(append, "panic=-1"));
	/* Commas in paths and names are doubled in option lists. */
	CHECK(find(argv, "file=/s/a,,b/disk.qcow2,if=none,id=root,format=qcow2,"
			 "discard=unmap,file.locking=off") > 0);
	CHECK(find(argv, "msb-box,,1,process=msb-box,,1") > 0);
	/* A cold boot: no migration stream. */
	CHECK(find(argv, "-incoming") < 0);
	free(argv);
	/* A restore: the same command line, plus the stream's descriptor. */
	c.incoming = true;
	c.incoming_fd = 17;
	argv = msb_qemu_argv(&c);
	CHECK(argv != NULL);
	CHECK_STR(opt(argv, "-incoming"), "fd:17");
	CHECK_STR(opt(argv, "-M"), "microvm");
	CHECK(find(argv, "socket,id=agent,fd=3") > 0);
	CHECK(find(argv, "virtserialport,chardev=agent,name=agent") > 0);
	CHECK(find(argv, "virtio-rng-device") > 0);
	CHECK(find(argv, "virtio-blk-device,drive=root") > 0);
	CHECK(find(argv, "socket,id=con,fd=5") > 0);
	CHECK(find(argv, "virtio-mmio.force-legacy=false") > 0);
	free(argv);
}

static void test_argv_kvm(void)
{
	struct msb_qemu_config c = {
		.qemu = "qemu",
		.name = "k",
		.kernel = "k",
		.initrd = "i",
		.disk = "d",
		.console_fd = 5,
		.cpus = 1,
		.memory_mib = 512,
		.kvm = true,
		.tsc_khz = 2600000,
		.agent_fd = 3,
	};
	char **argv = msb_qemu_argv(&c);
	CHECK(argv != NULL);
	CHECK_STR(opt(argv, "-accel"), "kvm");
	CHECK_STR(opt(argv, "-cpu"), "host");
	/* A TSC hint would skew the guest clock under KVM. */
	const char *append = opt(argv, "-append");
	CHECK(append && !strstr(append, "tsc_early_khz"));
	free(argv);
}

/* The jailed command line: QEMU's filter, and descriptors for paths. */
static void test_argv_jailed(void)
{
	const char *disks[] = {"/dev/fdset/4"};
	const bool ro[] = {false};
	const int fs_fds[] = {12};
	const struct msb_qemu_fd add[] = {{8, 2}, {9, 2}, {10, 3}, {7, 4}};
	struct msb_qemu_config c = {
		.qemu = "qemu",
		.name = "j",
		.label = "/h/sandboxes/j,1/",
		.kernel = "/proc/self/fd/5",
		.initrd = "/proc/self/fd/6",
		.disk = "/dev/fdset/2",
		.backing = "/dev/fdset/3",
		.backing_format = "raw",
		.console_fd = 11,
		.cpus = 1,
		.memory_mib = 512,
		.agent_fd = 3,
		.qmp_fd = 4,
		.disks = disks,
		.disks_ro = ro,
		.ndisks = 1,
		.fs_fds = fs_fds,
		.nfs = 1,
		.add_fds = add,
		.nadd_fds = 4,
		.sandbox = true,
	};
	char **argv = msb_qemu_argv(&c);
	CHECK(argv != NULL);
	CHECK_STR(opt(argv, "-sandbox"),
		  "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
		  "resourcecontrol=deny");
	/* Every -add-fd comes before the options that use its set. */
	int first_use = find(
		argv,
		"file=/dev/fdset/2,if=none,id=root,format=qcow2,discard=unmap,"
		"file.locking=off,backing.driver=raw,"
		"backing.file.filename=/dev/fdset/3,backing.file.locking=off");
	CHECK(first_use > 0);
	int n = 0;
	for (int i = 0; argv[i]; i++)
		if (!strcmp(argv[i], "-add-fd")) {
			CHECK(i < first_use);
			n++;
		}
	CHECK(n == 4);
	CHECK(find(argv, "fd=9,set=2") > 0);
	CHECK(find(argv,
		   "file=/dev/fdset/2,if=none,id=root,format=qcow2,discard=unmap,"
		   "file.locking=off,backing.driver=raw,"
		   "backing.file.filename=/dev/fdset/3,backing.file.locking=off") >
	      0);
	CHECK(find(argv, "socket,id=fs0,fd=12") > 0);
	CHECK(find(argv, "socket,id=con,fd=11") > 0);
	CHECK_STR(opt(argv, "-name"),
		  "process=msb-j,guest=msb-j:/h/sandboxes/j,,1/");
	CHECK_STR(opt(argv, "-kernel"), "/proc/self/fd/5");
	CHECK(find(argv, "file=/dev/fdset/4,if=none,id=vol0,format=raw,"
			 "readonly=off,file.locking=off,discard=unmap") > 0);
	free(argv);

	/* Without the jail, no filter option. */
	c.sandbox = false;
	argv = msb_qemu_argv(&c);
	CHECK(argv != NULL);
	CHECK(find(argv, "-sandbox") < 0);
	free(argv);
}

static void test_escape(void)
{
	char *s = msb_qemu_escape("a,b,,c");
	CHECK_STR(s, "a,,b,,,,c");
	free(s);
	s = msb_qemu_escape("");
	CHECK_STR(s, "");
	free(s);
}

static void test_spec_roundtrip(void)
{
	char *env[] = {"A=1", "B=two words", NULL};
	char *mounts[] = {"vol:0:ro:/data", "tmpfs:0:1777:/t", NULL};
	char *disks[] = {"ro:/v/disk.img", NULL};
	char *shares[] = {NULL};
	struct msb_vm_spec s = {
		.name = "n",
		.ephemeral = true,
		.cpus = 3,
		.memory_mib = 1024,
		.env = env,
		.sandbox_dir = "/h/sandboxes/n",
		.qemu = "/q",
		.qemu_img = "/qi",
		.kernel = "/k",
		.initrd = "/i",
		.rootfs = "/r",
		.image = "",
		.home = "/h",
		.mode = "create",
		.accel = "tcg",
		.boot_timeout_ms = 5000,
		.idle_timeout_s = 7,
		.root_format = "qcow2",
		.root_fstype = "ext4",
		.root_dev = "/dev/vda",
		.root_size_mib = 4096,
		.root_direct = true,
		.hold = true,
		.mounts = mounts,
		.disks = disks,
		.shares = shares,
	};
	char *json = NULL, err[256];
	struct msb_vm_spec t;

	CHECK(msb_spec_to_json(&json, &s) == 0);
	CHECK(msb_spec_from_json(&t, json, strlen(json), err, sizeof(err)) ==
	      0);
	CHECK_STR(t.name, "n");
	CHECK(t.ephemeral);
	CHECK(t.cpus == 3 && t.memory_mib == 1024 && t.boot_timeout_ms == 5000);
	CHECK(t.idle_timeout_s == 7 && t.max_duration_s == 0);
	CHECK_STR(t.env[0], "A=1");
	CHECK_STR(t.env[1], "B=two words");
	CHECK(t.env[2] == NULL);
	CHECK_STR(t.accel, "tcg");
	CHECK_STR(t.rootfs, "/r");
	CHECK_STR(t.root_format, "qcow2");
	CHECK_STR(t.root_dev, "/dev/vda");
	CHECK(t.root_size_mib == 4096 && t.root_direct && t.hold);
	CHECK_STR(t.mounts[0], "vol:0:ro:/data");
	CHECK_STR(t.mounts[1], "tmpfs:0:1777:/t");
	CHECK(t.mounts[2] == NULL);
	CHECK_STR(t.disks[0], "ro:/v/disk.img");
	CHECK(t.disks[1] == NULL);
	CHECK(t.shares && t.shares[0] == NULL);
	msb_spec_clear(&t);
	free(json);

	/* Missing fields, wrong types and duplicates are refused. */
	const char *bad[] = {
		"",
		"[]",
		"{\"name\":\"n\"}",
		"{\"name\":\"n\",\"name\":\"m\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(msb_spec_from_json(&t, bad[i], strlen(bad[i]), err,
					 sizeof(err)) < 0);
		CHECK(err[0] != '\0');
	}
}

static void test_execlog(void)
{
	char out[16];
	const uint8_t in[] = "a\tb\x01\r\x7f";

	CHECK(execlog_escape(out, sizeof(out), in, sizeof(in) - 1) == 11);
	CHECK_STR(out, "a\tb\\x01\\x7f");
	/* bounded: never a cut escape, always NUL-terminated */
	CHECK(execlog_escape(out, 6, in, sizeof(in) - 1) == 3);
	CHECK_STR(out, "a\tb");
	CHECK(execlog_escape(out, 1, in, sizeof(in) - 1) == 0 && !out[0]);
	CHECK(execlog_escape(out, 0, in, 3) == 0);
}

struct events {
	int n;
	char last[64];
	bool nospace;
};

static void on_event(const char *event, struct json_t *data, void *arg)
{
	struct events *e = arg;

	e->n++;
	snprintf(e->last, sizeof(e->last), "%s", event);
	e->nospace = json_is_true(json_object_get(data, "nospace"));
}

static void put(int fd, const char *s)
{
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* The QMP client against a peer that speaks QEMU's lines. */
static void test_qmp(void)
{
	struct events ev = {0};
	struct qmp q = {.on_event = on_event, .arg = &ev};
	char buf[512];
	int sv[2];
	ssize_t n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	q.fd = sv[0];
	/* the greeting is answered with the capabilities command */
	put(sv[1], "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n");
	CHECK(qmp_pump(&q) == 0);
	CHECK(q.greeted && !q.ready);
	n = read(sv[1], buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STR(buf, "{\"execute\":\"qmp_capabilities\"}\n");
	/* its answer, then an event split across two reads */
	put(sv[1],
	    "{\"return\": {}}\n{\"timestamp\": {}, \"event\": \"BLOCK_IO");
	CHECK(qmp_pump(&q) == 0);
	CHECK(q.ready && ev.n == 0);
	put(sv[1], "_ERROR\", \"data\": {\"device\": \"root\", "
		   "\"nospace\": true, \"action\": \"stop\"}}\n");
	CHECK(qmp_pump(&q) == 0);
	CHECK(ev.n == 1 && ev.nospace);
	CHECK_STR(ev.last, "BLOCK_IO_ERROR");
	/* a command: events before its answer are passed on, not taken
	 * for the answer; an error answer is a failure */
	put(sv[1], "{\"event\": \"RESUME\"}\n{\"return\": {}}\n"
		   "{\"error\": {\"class\": \"GenericError\"}}\n");
	CHECK(qmp_command(&q, "cont", 1000));
	CHECK(ev.n == 2);
	CHECK_STR(ev.last, "RESUME");
	CHECK(!qmp_command(&q, "cont", 1000));
	n = read(sv[1], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STR(buf, "{\"execute\":\"cont\"}\n{\"execute\":\"cont\"}\n");
	/* no answer: a timeout, not a hang; a closed peer: -1 */
	CHECK(!qmp_command(&q, "cont", 50));
	close(sv[1]);
	CHECK(qmp_pump(&q) == -1);
	close(sv[0]);
	msb_buf_free(&q.in);
}

/* msb-netd's counters (--stats-fd): whole and valid, or nothing. */
static void test_netd_stats(void)
{
	static const char good[] =
		"{\"rx_frames\":7,\"rx_bytes\":578,\"tx_frames\":4,"
		"\"tx_bytes\":292,\"rx_dropped\":0,\"tx_dropped\":0,"
		"\"flows\":3,\"tcp_open\":1,\"udp_open\":2,\"icmp_open\":0,"
		"\"pending\":0,\"buffered\":0,\"tcp_flows\":1,"
		"\"udp_flows\":2,\"icmp_flows\":0,\"denied\":5,"
		"\"refused_cap\":0,\"upstream_failed\":0,\"timeouts\":0,"
		"\"ip6_refused\":0}\n";
	struct net_counters c = {0};
	CHECK(netd_stats_parse(good, sizeof(good) - 1, &c));
	/* the guest's side: what netd received, the guest sent */
	CHECK(c.tx_packets == 7 && c.tx_bytes == 578);
	CHECK(c.rx_packets == 4 && c.rx_bytes == 292);
	CHECK(c.flows == 3 && c.denied == 5);

	static const char *const bad[] = {
		"",
		"[]",
		"{\"rx_frames\":7", /* torn */
		"{\"rx_frames\":1,\"rx_bytes\":1,\"tx_frames\":1,"
		"\"tx_bytes\":1,\"flows\":1}", /* denied missing */
		"{\"rx_frames\":-1,\"rx_bytes\":1,\"tx_frames\":1,"
		"\"tx_bytes\":1,\"flows\":1,\"denied\":0}",
		"{\"rx_frames\":1.5,\"rx_bytes\":1,\"tx_frames\":1,"
		"\"tx_bytes\":1,\"flows\":1,\"denied\":0}",
		"{\"rx_frames\":\"1\",\"rx_bytes\":1,\"tx_frames\":1,"
		"\"tx_bytes\":1,\"flows\":1,\"denied\":0}",
		"{\"rx_frames\":99999999999999999999,\"rx_bytes\":1,"
		"\"tx_frames\":1,\"tx_bytes\":1,\"flows\":1,\"denied\":0}",
		"{\"rx_frames\":1,\"rx_bytes\":1,\"tx_frames\":1,"
		"\"tx_bytes\":1,\"flows\":4294967296,\"denied\":0}",
		"{\"rx_frames\":1,\"rx_frames\":2,\"rx_bytes\":1,"
		"\"tx_frames\":1,\"tx_bytes\":1,\"flows\":1,\"denied\":0}",
		"{\"rx_frames\":1,\"rx_bytes\":1,\"tx_frames\":1,"
		"\"tx_bytes\":1,\"flows\":1,\"denied\":0} {}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_counters k = c;
		CHECK(!netd_stats_parse(bad[i], strlen(bad[i]), &k));
		CHECK(!memcmp(&k, &c, sizeof(k))); /* untouched */
	}
	/* a NUL inside, and more than NETD_STATS_MAX bytes */
	CHECK(!netd_stats_parse(good, sizeof(good), &c));
	static char big[NETD_STATS_MAX + 2];
	memset(big, ' ', sizeof(big));
	memcpy(big, good, sizeof(good) - 1);
	CHECK(!netd_stats_parse(big, sizeof(big), &c));
	CHECK(netd_stats_parse(big, NETD_STATS_MAX, &c));
	/* unknown keys are a newer netd's: ignored */
	static const char more[] =
		"{\"rx_frames\":1,\"rx_bytes\":2,\"tx_frames\":3,"
		"\"tx_bytes\":4,\"flows\":4294967295,\"denied\":6,"
		"\"new\":[1]}";
	CHECK(netd_stats_parse(more, sizeof(more) - 1, &c));
	CHECK(c.rx_packets == 3 && c.tx_bytes == 2 && c.flows == 4294967295u &&
	      c.denied == 6);
}

int main(void)
{
	test_netd_stats();
	test_qmp();
	test_execlog();
	test_argv_tcg();
	test_argv_kvm();
	test_argv_jailed();
	test_escape();
	test_spec_roundtrip();
	return check_summary("test_vmm");
}
