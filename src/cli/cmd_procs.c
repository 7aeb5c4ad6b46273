// SPDX-License-Identifier: Apache-2.0
/*
 * msb ps NAME, msb kill NAME --exec ID, msb logs NAME --exec ID and
 * msb attach NAME --exec ID: the processes the guest agent started
 * (msb exec, msb exec -d), by id. Commands come from the guest and are
 * escaped when printed.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

#define OPT_EXEC 0x200

/* A signal by number or name, with or without "SIG". 0 if invalid. */
int cli_parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
		{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
		{"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
		{"ALRM", SIGALRM}, {"PIPE", SIGPIPE}, {"WINCH", SIGWINCH},
	};
	unsigned int n;

	if (cli_parse_uint(s, &n, false))
		return n > 0 && n < 65 ? (int)n : 0;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].sig;
	return 0;
}

/* An id of the process table (1..UINT32_MAX). */
static bool parse_id(const char *s, unsigned int *id)
{
	if (!cli_parse_uint(s, id, false) || !*id) {
		cli_err("invalid --exec `%s`: a process id as `msb ps` shows",
			s);
		return false;
	}
	return true;
}

/* "12s", "3m", "5h", "2d" ago (from the guest's clock). */
static void ago(char *out, size_t len, long long ms)
{
	long long d = (long long)time(NULL) - ms / 1000;

	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(out, len, "%llds ago", d);
	else if (d < 3600)
		snprintf(out, len, "%lldm ago", d / 60);
	else if (d < 86400)
		snprintf(out, len, "%lldh ago", d / 3600);
	else
		snprintf(out, len, "%lldd ago", d / 86400);
}

static const char ps_usage[] =
	"Usage: msb ps NAME\n"
	"\n"
	"List the processes started in sandbox NAME through msb (exec,\n"
	"exec -d): ID, PID, STATE, STARTED, EXIT and COMMAND. Finished ones\n"
	"are kept (the last 256). Without NAME: msb ls.\n";

/* msb ps NAME */
int cmd_ps(int argc, char **argv)
{
	msb_sandbox *sb = NULL;
	msb_proc_info *v = NULL;
	size_t n = 0;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(ps_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cli_err("usage: msb ps NAME (see 'msb ps --help')");
		return 2;
	}
	if (msb_sandbox_connect(&sb, argv[1]) < 0)
		return cli_fail(1);
	if (msb_sandbox_procs(&v, &n, sb) < 0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	printf("%-6s %-7s %-8s %-10s %-5s %s\n", "ID", "PID", "STATE",
	       "STARTED", "EXIT", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		char cmd[4 * 4096 + 1], when[32], code[16];

		msb_escape(cmd, sizeof(cmd), v[i].command,
			   strlen(v[i].command));
		ago(when, sizeof(when), v[i].started_ms);
		if (v[i].running)
			snprintf(code, sizeof(code), "-");
		else if (v[i].signal)
			snprintf(code, sizeof(code), "sig%d", v[i].signal);
		else
			snprintf(code, sizeof(code), "%d", v[i].exit_code);
		printf("%-6u %-7d %-8s %-10s %-5s %s%s\n", v[i].id, v[i].pid,
		       v[i].running ? "running" : "exited", when, code, cmd,
		       v[i].detached ? "  (detached)" : "");
	}
	msb_proc_list_free(v, n);
	msb_sandbox_free(sb);
	return 0;
}

/* NAME and --exec ID, with @extra options handled by @take. */
struct proc_args {
	const char *name;
	unsigned int id;
	int sig;
	bool follow;
};

static int parse_proc_args(int argc, char **argv, const char *usage,
			   const char *shortopts, struct proc_args *pa)
{
	static const struct option longopts[] = {
		{"exec", required_argument, NULL, OPT_EXEC},
		{"signal", required_argument, NULL, 's'},
		{"follow", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_EXEC:
			if (!parse_id(optarg, &pa->id))
				return 2;
			break;
		case 's':
			if (!(pa->sig = cli_parse_signal(optarg))) {
				cli_err("invalid signal `%s`", optarg);
				return 2;
			}
			break;
		case 'f':
			pa->follow = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_err("see 'msb %s --help'", argv[0]);
			return 2;
		}
	}
	if (argc - optind != 1 || !pa->id) {
		cli_err("usage: msb %s NAME --exec ID (see 'msb %s --help')",
			argv[0], argv[0]);
		return 2;
	}
	pa->name = argv[optind];
	return -1;
}

static const char kill_usage[] =
	"Usage: msb kill NAME --exec ID [-s SIGNAL]\n"
	"\n"
	"Send SIGNAL (default KILL; a number or a name such as TERM) to the\n"
	"process group of process ID of sandbox NAME (see msb ps NAME).\n"
	"Without --exec, msb kill NAME kills the sandbox.\n";

/* msb kill NAME --exec ID [-s SIG] */
int cmd_proc_kill(int argc, char **argv)
{
	struct proc_args pa = {.sig = SIGKILL};
	int rc = parse_proc_args(argc, argv, kill_usage, "s:h", &pa);
	msb_sandbox *sb = NULL;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0 ||
	    msb_sandbox_proc_signal(sb, pa.id, pa.sig) < 0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	printf("%u\n", pa.id);
	msb_sandbox_free(sb);
	return 0;
}

/*
 * Print the events of @e until it ends; forward stdin if @in. Return: the
 * process's status (EXITED), 0 (DETACHED), or 1 after an error.
 */
static int relay(msb_exec *e, bool in)
{
	bool in_open = in;

	for (;;) {
		msb_exec_event ev;
		int rc;

		while ((rc = msb_exec_next(e, &ev, 0)) == 0) {
			FILE *out =
				ev.type == MSB_EXEC_STDERR ? stderr : stdout;

			switch (ev.type) {
			case MSB_EXEC_STDOUT:
			case MSB_EXEC_STDERR:
				fwrite(ev.data, 1, ev.len, out);
				fflush(out);
				break;
			case MSB_EXEC_EXITED:
				return ev.signal ? 128 + ev.signal
						 : ev.exit_code;
			case MSB_EXEC_DETACHED:
				return 0;
			default:
				break;
			}
		}
		if (rc != -MSB_ETIMEDOUT)
			return cli_fail(1);
		struct pollfd p[2] = {
			{.fd = msb_exec_fd(e), .events = POLLIN},
			{.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
		};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return cli_fail(1);
		if (p[1].revents) {
			char buf[16384];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n > 0 && msb_exec_write(e, buf, (size_t)n) < 0)
				return cli_fail(1);
			if (n <= 0) {
				in_open = false;
				if (msb_exec_close_stdin(e) < 0)
					return cli_fail(1);
			}
		}
	}
}

static const char logs_usage[] =
	"Usage: msb logs NAME --exec ID [-f]\n"
	"\n"
	"Print the output kept for detached process ID of sandbox NAME (the\n"
	"last 1 MiB, kept after it exits); with -f, follow it until it\n"
	"exits. Without --exec: the sandbox's logs.\n";

/* msb logs NAME --exec ID [-f] */
int cmd_proc_logs(int argc, char **argv)
{
	struct proc_args pa = {0};
	int rc = parse_proc_args(argc, argv, logs_usage, "fh", &pa);
	msb_sandbox *sb = NULL;
	msb_exec *e = NULL;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0 ||
	    msb_sandbox_proc_attach(
		    &e, sb, pa.id,
		    MSB_ATTACH_LOGS | (pa.follow ? MSB_ATTACH_FOLLOW : 0)) <
		    0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	rc = relay(e, false);
	/* The process's status is not msb logs's. */
	if (rc != 1)
		rc = 0;
	msb_exec_free(e);
	msb_sandbox_free(sb);
	return rc;
}

static const char attach_usage[] =
	"Usage: msb attach NAME --exec ID\n"
	"\n"
	"Attach msb's standard input and output to detached process ID of\n"
	"sandbox NAME (started with msb exec -d; -di keeps its stdin open)\n"
	"until it exits (msb exits with its status); interrupt msb to detach,\n"
	"the process runs on.\n";

/* msb attach NAME --exec ID */
int cmd_attach(int argc, char **argv)
{
	struct proc_args pa = {0};
	int rc = parse_proc_args(argc, argv, attach_usage, "h", &pa);
	msb_sandbox *sb = NULL;
	msb_exec *e = NULL;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0 ||
	    msb_sandbox_proc_attach(&e, sb, pa.id,
				    MSB_ATTACH_FOLLOW | MSB_ATTACH_STDIN) < 0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	rc = relay(e, true);
	msb_exec_free(e);
	msb_sandbox_free(sb);
	return rc;
}
