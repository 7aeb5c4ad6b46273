// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the public API that need no VM: option validation, error
 * reporting, missing runtime files. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "microsandbox.h"

static int create_fails(const msb_sandbox_options *o, int code,
			const char *needle)
{
	msb_sandbox *sb = (msb_sandbox *)0x1;
	int rc = msb_sandbox_create(&sb, o);
	const msb_error *e = msb_last_error();
	int ok = rc == -code && e->code == code && sb == NULL &&
		 strstr(e->message, needle) != NULL &&
		 !strchr(e->message, '\n');
	if (!ok)
		fprintf(stderr, "  create: rc %d code %d message `%s`\n", rc,
			e->code, e->message);
	return ok;
}

static void test_invalid_options(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;

	CHECK(create_fails(NULL, MSB_EINVAL, "options"));
	o.version = 0;
	CHECK(create_fails(&o, MSB_EINVAL, "MSB_SANDBOX_OPTIONS_INIT"));
	o.version = MSB_SANDBOX_OPTIONS_VERSION;
	o.cpus = 65;
	CHECK(create_fails(&o, MSB_EINVAL, "cpus 65"));
	o.cpus = 1000000;
	CHECK(create_fails(&o, MSB_EINVAL, "between 1 and 64"));
	o.cpus = 0;
	o.memory_mib = 32;
	CHECK(create_fails(&o, MSB_EINVAL, "memory 32"));
	o.memory_mib = 1u << 20;
	CHECK(create_fails(&o, MSB_EINVAL, "between 96 and 65536"));
	/* the measured minimum: below it the guest kernel cannot boot */
	o.memory_mib = MSB_MEMORY_MIN_MIB - 1;
	CHECK(create_fails(&o, MSB_EINVAL, "runs out of memory"));
	o.memory_mib = 0;
	/* volume removal: unknown flags are misuse */
	CHECK(msb_volume_delete("v", 0x100) == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "unknown flags") != NULL);
	const char *names[] = {
		"",
		"../x",
		"a/b",
		"-x",
		"has space",
		"0123456789012345678901234567890123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		o.name = names[i];
		CHECK(create_fails(&o, MSB_EINVAL, "invalid sandbox name"));
	}
	o.name = NULL;
	const char *env[] = {"OK=1", "NOEQUALS", NULL};
	o.env = env;
	CHECK(create_fails(&o, MSB_EINVAL, "`NOEQUALS`"));
	const char *env2[] = {"=x", NULL};
	o.env = env2;
	CHECK(create_fails(&o, MSB_EINVAL, "KEY=VALUE"));
	o.env = NULL;
	CHECK(msb_sandbox_create(NULL, &o) == -MSB_EINVAL);
}

/* The network options (version 3): every rule, name and port is checked
 * at create, before anything boots, and the error names it. */
static void test_network_options(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;

	CHECK(o.network == MSB_NETWORK_PUBLIC); /* the default */
	o.network = (msb_network_preset)7;
	CHECK(create_fails(&o, MSB_EINVAL, "network preset 7"));
	o.network = MSB_NETWORK_PUBLIC;
	const char *rules[] = {"allow api.example.com:443", "deny 10.0.0",
			       NULL};
	o.net_rules = rules;
	CHECK(create_fails(&o, MSB_EINVAL, "`deny 10.0.0`"));
	const char *rules2[] = {"permit *", NULL};
	o.net_rules = rules2;
	CHECK(create_fails(&o, MSB_EINVAL, "`permit *`"));
	o.net_rules = NULL;
	const char *doms[] = {"bad..name", NULL};
	o.block_domains = doms;
	CHECK(create_fails(&o, MSB_EINVAL, "bad..name"));
	o.block_domains = NULL;
	const char *sufs[] = {".", NULL};
	o.block_suffixes = sufs;
	CHECK(create_fails(&o, MSB_EINVAL, "suffix"));
	o.block_suffixes = NULL;
	msb_port ports[2] = {{NULL, 8080, 80, MSB_PORT_TCP},
			     {"localhost", 8081, 80, MSB_PORT_TCP}};
	o.ports = ports;
	o.n_ports = 2;
	CHECK(create_fails(&o, MSB_EINVAL, "`localhost` is not an IP"));
	ports[1] = (msb_port){"::1", 8081, 0, MSB_PORT_TCP};
	CHECK(create_fails(&o, MSB_EINVAL, "1-65535"));
	ports[1] = (msb_port){"::1", 8080, 81, MSB_PORT_TCP};
	CHECK(create_fails(&o, MSB_EINVAL, "8080/tcp is published twice"));
	o.n_ports = 0;
	o.ports = NULL;
	const char *ok[] = {"allow host:tcp:11434", NULL};
	o.network = MSB_NETWORK_NONE;
	o.net_rules = ok;
	CHECK(create_fails(&o, MSB_EINVAL, "without a network"));
}

/* A build without a network (-Dnet=false): whatever asks for one is
 * MSB_ENOTSUP at create and at define, after the usual checks (a bad
 * rule is still MSB_EINVAL naming it). */
static void test_no_network_build(void)
{
#if !MSB_HAVE_NET
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	const char *no = "this build has no network (built with -Dnet=false)";

	o.network = MSB_NETWORK_ALL;
	CHECK(create_fails(&o, MSB_ENOTSUP, no));
	CHECK(create_fails(&o, MSB_ENOTSUP, "the preset all"));
	o.network = MSB_NETWORK_PUBLIC;
	const char *rules[] = {"allow api.example.com:443", NULL};
	o.net_rules = rules;
	CHECK(create_fails(&o, MSB_ENOTSUP, "a network rule"));
	o.name = "nonet";
	CHECK(msb_sandbox_define(&o) == -MSB_ENOTSUP);
	CHECK(strstr(msb_last_error()->message, no) != NULL);
	o.name = NULL;
	const char *bad[] = {"deny 10.0.0", NULL};
	o.net_rules = bad;
	CHECK(create_fails(&o, MSB_EINVAL, "`deny 10.0.0`"));
	o.net_rules = NULL;
	const char *doms[] = {"ads.example.com", NULL};
	o.block_domains = doms;
	CHECK(create_fails(&o, MSB_ENOTSUP, "a blocked domain"));
	o.block_domains = NULL;
	msb_port port = {NULL, 8080, 80, MSB_PORT_TCP};
	o.ports = &port;
	o.n_ports = 1;
	CHECK(create_fails(&o, MSB_ENOTSUP, "a published port"));
#endif
	CHECK_STR(msb_strerror(-MSB_ENOTSUP), "not supported by this build");
}

/* on_idle (version 6): suspending when idle is checked at create, before
 * anything boots: it needs an idle timeout and a sandbox that is kept and
 * can be saved. */
static void test_on_idle_options(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_bind_mount bind = {"/tmp", "/x", 0};

	CHECK(o.on_idle == MSB_IDLE_STOP); /* the default */
	o.on_idle = (msb_idle_action)5;
	CHECK(create_fails(&o, MSB_EINVAL, "invalid on_idle 5"));
	o.on_idle = MSB_IDLE_SUSPEND;
	o.name = "idle";
	CHECK(create_fails(&o, MSB_EINVAL, "needs an idle timeout"));
	o.idle_timeout_s = 10;
	o.name = NULL;
	CHECK(create_fails(&o, MSB_EINVAL, "give it a name"));
	o.name = "idle";
	o.auto_remove = 1;
	CHECK(create_fails(&o, MSB_EINVAL, "without --rm"));
	o.auto_remove = 0;
	o.binds = &bind;
	o.n_binds = 1;
	CHECK(create_fails(&o, MSB_EINVAL, "virtio-fs cannot be saved"));
}

static void test_environment_errors(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;

	setenv("MSB_ACCEL", "fast", 1);
	CHECK(create_fails(&o, MSB_EINVAL, "MSB_ACCEL"));
	unsetenv("MSB_ACCEL");

	setenv("MSB_QEMU", "/nonexistent/qemu", 1);
	CHECK(create_fails(&o, MSB_ENOTFOUND, "qemu-system-x86"));
	unsetenv("MSB_QEMU");

	setenv("MSB_HOME", "relative/home", 1);
	CHECK(create_fails(&o, MSB_EINVAL, "absolute"));
	setenv("MSB_HOME", "/tmp/msb-unit-home", 1);

	/* The checks for QEMU come first; where QEMU is installed, a missing
	 * kernel is reported with the setup command. */
	setenv("MSB_QEMU", "/bin/true", 1);
	setenv("MSB_QEMU_IMG", "/bin/true", 1);
	setenv("MSB_GUEST_DIR", "/nonexistent/guest", 1);
	CHECK(create_fails(&o, MSB_ENOTFOUND, "setup.sh"));
	CHECK(create_fails(&o, MSB_ENOTFOUND, "guest kernel"));
	setenv("MSB_VMM", "/nonexistent/msb-vmm", 1);
	CHECK(create_fails(&o, MSB_ENOTFOUND, "msb-vmm"));
	unsetenv("MSB_VMM");
	unsetenv("MSB_GUEST_DIR");
	unsetenv("MSB_QEMU");
	unsetenv("MSB_QEMU_IMG");

	/* An image that is neither a file nor (yet) pullable. */
	o.image = "docker.io/library/alpine:latest";
	if (msb_sandbox_create(&(msb_sandbox *){NULL}, &o) < 0)
		CHECK(msb_last_error()->code == MSB_ENOTFOUND);
}

static void test_misc(void)
{
	msb_exec_output *out = (msb_exec_output *)0x1;

	CHECK(msb_sandbox_exec(&out, NULL, NULL, NULL) == -MSB_EINVAL);
	CHECK(msb_sandbox_shell(&out, NULL, NULL, NULL) == -MSB_EINVAL);
	CHECK(msb_sandbox_stop(NULL, 0) == -MSB_EINVAL);
	msb_sandbox_free(NULL);
	msb_exec_output_free(NULL);
	CHECK(msb_exec_output_exit_code(NULL) == -1);
	size_t len = 99;
	CHECK_STR(msb_exec_output_stdout(NULL, &len), "");
	CHECK(len == 0);
	CHECK_STR(msb_strerror(MSB_ECMDNOTFOUND), "command not found");
	CHECK_STR(msb_strerror(-MSB_EINVAL), "invalid argument");
	CHECK_STR(msb_strerror(9999), "unknown error");
	CHECK_STR(msb_version(), MSB_VERSION_STRING);
	CHECK(msb_last_error() != NULL);
	CHECK(msb_sandbox_name(NULL) == NULL);
}

int main(void)
{
	unsetenv("MSB_ACCEL");
	test_invalid_options();
	test_network_options();
	test_no_network_build();
	test_on_idle_options();
	test_environment_errors();
	test_misc();
	return check_summary("test_api");
}
