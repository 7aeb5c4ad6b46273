// SPDX-License-Identifier: Apache-2.0
/* msb - run commands in microVM sandboxes: entry point and dispatch. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"

static const char usage[] =
	"Usage: msb [--version] [--help] COMMAND [ARGS...]\n"
	"\n"
	"Run untrusted code in microVM sandboxes: each sandbox is a virtual\n"
	"machine with its own Linux kernel.\n"
	"\n"
	"Commands:\n"
	"  run     boot a new sandbox, run one command in it, remove it\n"
	"  create  record a named sandbox without starting it (run's options)\n"
	"  exec    run a command in a running sandbox\n"
	"  shell   an interactive shell in a running sandbox\n"
	"  cp      copy files and trees into or out of a sandbox\n"
	"  ls      list sandboxes\n"
	"  start   start a stopped sandbox\n"
	"  stop    stop sandboxes\n"
	"  rm      remove sandboxes\n"
	"  kill    stop sandboxes at once\n"
	"  wait    wait until a sandbox stops\n"
	"  restart stop and start a sandbox\n"
	"  logs    print a sandbox's main process output, or another log\n"
	"  attach  follow a sandbox's main process output\n"
	"  inspect print sandboxes as JSON\n"
	"  metrics CPU, memory, disk and network use of sandboxes\n"
	"  doctor  check KVM, QEMU, the guest files and disk space\n"
	"  pull    pull an image from its registry\n"
	"  image   list, inspect, remove and prune stored images\n"
	"  volume  named volumes: create, ls, inspect, rm\n"
	"\n"
	"Run 'msb COMMAND --help' for a command's options.\n"
	"\n"
	"Environment:\n"
	"  MSB_HOME    state folder (default ~/.microsandbox)\n"
	"  MSB_ACCEL   kvm, tcg or auto (default: kvm when /dev/kvm is usable)\n"
	"  MSB_LOG     debug: show the library's diagnostics\n";

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("msb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_fail(int status)
{
	const msb_error *e = msb_last_error();

	cli_err("%s", e->message[0] ? e->message : msb_strerror(e->code));
	return status;
}

bool cli_parse_uint(const char *s, unsigned int *out, bool size_mib)
{
	char *end;
	unsigned long long mult = 1;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (size_mib && *end) {
		if (!strcasecmp(end, "m") || !strcasecmp(end, "mib") ||
		    !strcasecmp(end, "mb"))
			mult = 1;
		else if (!strcasecmp(end, "g") || !strcasecmp(end, "gib") ||
			 !strcasecmp(end, "gb"))
			mult = 1024;
		else
			return false;
	} else if (*end) {
		return false;
	}
	if (__builtin_mul_overflow(v, mult, &v) || v > 0xffffffffULL)
		return false;
	*out = (unsigned int)v;
	return true;
}

bool cli_parse_bytes(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	char *end;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	const char *u =
		*end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	if (u) {
		shift = 10u * (unsigned)(u - units + 1);
		end++;
		/* "1g", "1gb", "1gib" */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

void cli_json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
			 (unsigned char)s[1] <= 0x9f)
			/* C1 controls: some terminals obey them raw */
			printf("\\u%04x", (unsigned char)*++s);
		else
			putchar(c);
	}
	putchar('"');
}

void cli_human_size(char *out, size_t len, double bytes)
{
	const char *unit[] = {"B", "kB", "MB", "GB", "TB"};
	int u = 0;

	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

static void log_to_stderr(int level, const char *message, void *userdata)
{
	fprintf(stderr, "msb: %s%s\n",
		level == MSB_LOG_WARN    ? "warning: "
		: level == MSB_LOG_ERROR ? "error: "
					 : "",
		message);
}

/* Whether a --exec option comes before any `--`. */
static bool has_exec_option(int argc, char **argv)
{
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--exec") ||
		    !strncmp(argv[i], "--exec=", 7))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *log = getenv("MSB_LOG");

	msb_set_log_callback(log_to_stderr,
			     log && !strcmp(log, "debug") ? MSB_LOG_DEBUG
							  : MSB_LOG_WARN,
			     NULL);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	/* The process table: msb ps NAME, kill/logs/attach --exec ID. */
	if (!strcmp(cmd, "ps") && argc > 2 && argv[2][0] != '-')
		return cmd_ps(argc - 1, argv + 1);
	if (!strcmp(cmd, "attach") && has_exec_option(argc, argv))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "rm") && has_exec_option(argc, argv))
		return cmd_proc_rm(argc - 1, argv + 1);
	if ((!strcmp(cmd, "kill") || !strcmp(cmd, "logs")) &&
	    has_exec_option(argc, argv))
		return cmd[0] == 'k' ? cmd_proc_kill(argc - 1, argv + 1)
				     : cmd_proc_logs(argc - 1, argv + 1);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("msb %s\n", msb_version());
		return 0;
	}
	if (!strcmp(cmd, "run") || !strcmp(cmd, "create"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "cp"))
		return cmd_cp(argc - 1, argv + 1);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc - 1, argv + 1);
	if (!strcmp(cmd, "shell"))
		return cmd_shell(argc - 1, argv + 1);
	if (!strcmp(cmd, "volume"))
		return cmd_volume(argc - 1, argv + 1);
	if (!strcmp(cmd, "ls") || !strcmp(cmd, "ps"))
		return cmd_ls(argc - 1, argv + 1);
	if (!strcmp(cmd, "start"))
		return cmd_start(argc - 1, argv + 1);
	if (!strcmp(cmd, "stop"))
		return cmd_stop(argc - 1, argv + 1);
	if (!strcmp(cmd, "rm"))
		return cmd_rm(argc - 1, argv + 1);
	if (!strcmp(cmd, "wait"))
		return cmd_wait(argc - 1, argv + 1);
	if (!strcmp(cmd, "attach"))
		return cmd_attach_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "kill"))
		return cmd_kill(argc - 1, argv + 1);
	if (!strcmp(cmd, "restart"))
		return cmd_restart(argc - 1, argv + 1);
	if (!strcmp(cmd, "logs"))
		return cmd_logs(argc - 1, argv + 1);
	if (!strcmp(cmd, "metrics"))
		return cmd_metrics(argc - 1, argv + 1);
	if (!strcmp(cmd, "doctor"))
		return cmd_doctor(argc - 1, argv + 1);
	if (!strcmp(cmd, "inspect"))
		return cmd_inspect(argc - 1, argv + 1);
	if (!strcmp(cmd, "pull"))
		return cmd_pull(argc - 1, argv + 1);
	if (!strcmp(cmd, "image"))
		return cmd_image(argc - 1, argv + 1);
	if (!strcmp(cmd, "images")) {
		char *ls[] = {"image", "ls", NULL};
		return cmd_image(2, ls);
	}
	cli_err("unknown command `%s`: see 'msb --help'", cmd);
	return 2;
}
