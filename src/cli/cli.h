/* SPDX-License-Identifier: Apache-2.0 */
/* msb command-line tool: shared helpers of the command files. */
#ifndef MSB_CLI_H
#define MSB_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit statuses of msb itself (as docker run): */
#define EXIT_TIMEOUT 124    /* the command ran past --timeout */
#define EXIT_MSB_ERROR 125  /* msb failed, the command did not run */
#define EXIT_CANNOT_RUN 126 /* the command could not be started */
#define EXIT_NOT_FOUND 127  /* the command does not exist */

#include <stdint.h>

int cmd_run(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_image(int argc, char **argv);
/* msb images: msb image ls. */
int cmd_images(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_suspend(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_wait(int argc, char **argv);
/* msb attach NAME: the main process (cmd_sandbox.c); with --exec ID, a
 * detached process (cmd_procs.c, cmd_attach). */
int cmd_attach_main(int argc, char **argv);
int cmd_shell(int argc, char **argv);
/* msb completion bash|zsh (cmd_completion.c) */
int cmd_completion(int argc, char **argv);
/* Whether msb has command @cmd (with @sub: that subcommand of it), as the
 * completion table lists them. */
bool cli_command_known(const char *cmd, const char *sub);
int cmd_volume(int argc, char **argv);
/* msb mcp: an MCP server over stdio (cmd_mcp.c) */
int cmd_mcp(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_fork(int argc, char **argv);
/* cmd_procs.c: the agent's process table. */
int cmd_ps(int argc, char **argv);
int cmd_proc_kill(int argc, char **argv);
int cmd_proc_logs(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_proc_rm(int argc, char **argv);
int cli_parse_signal(const char *s);

struct msb_exec_output;
/* msb's exit status for an exec: the command's, 128+signal, or 124-127
 * for msb's own failures (which it prints). */
int cli_exec_status(int rc, const struct msb_exec_output *out);

/* Layer progress (msb_pull_progress_fn), to stderr. */
void cli_progress_init(void);
void cli_progress(const char *digest, uint64_t done, uint64_t total,
		  void *userdata);

/* A byte count: digits with an optional k, m, g or t (binary units; "1g",
 * "1gb", "1GiB" alike). False if malformed or out of range. */
bool cli_parse_bytes(const char *s, uint64_t *out);

/* Print @s as a JSON string, escaped (null for NULL). */
void cli_json_str(const char *s);

/* "12.3 MB": a byte count for people (decimal units). */
void cli_human_size(char *out, size_t len, double bytes);

#include "microsandbox.h"

/* The options of one command, as msb run, exec and shell take them. */
#define CLI_MAX_ENV 1024
#define CLI_MAX_RLIMITS 32
#define CLI_OPT_TIMEOUT 0x100
#define CLI_OPT_ULIMIT 0x101
#define CLI_OPT_KILL_GROUP 0x102
struct cli_exec {
	msb_exec_options eo;
	const char *env[CLI_MAX_ENV + 2]; /* room for TERM, NULL */
	size_t nenv;
	const char *rlimits[CLI_MAX_RLIMITS + 1];
	size_t nrlimits;
};
/* getopt_long() entries and letters of the shared options. */
#define CLI_EXEC_SHORTOPTS "ie:w:u:t"
#define CLI_EXEC_LONGOPTS                                                      \
	{"env", required_argument, NULL, 'e'},                                 \
		{"workdir", required_argument, NULL, 'w'},                     \
		{"user", required_argument, NULL, 'u'},                        \
		{"interactive", no_argument, NULL, 'i'},                       \
		{"tty", no_argument, NULL, 't'},                               \
		{"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},         \
		{"kill-group", no_argument, NULL, CLI_OPT_KILL_GROUP},         \
	{                                                                      \
		"ulimit", required_argument, NULL, CLI_OPT_ULIMIT              \
	}
/* Their --help lines. */
#define CLI_EXEC_HELP                                                          \
	"  -i, --interactive     pass msb's standard input to CMD (default: "  \
	"empty)\n"                                                             \
	"  -t, --tty             give CMD a terminal (with -i and a local\n"   \
	"                        terminal: raw mode, window size, Ctrl-C)\n"   \
	"  -w, --workdir DIR     working directory (default: the image's, or " \
	"/)\n"                                                                 \
	"  -u, --user USER       name, uid, name:group or uid:gid\n"           \
	"      --ulimit NAME=SOFT[:HARD]  resource limit, as docker run's\n"   \
	"                        (nofile, nproc, fsize, as, cpu, ...; "        \
	"repeatable)\n"                                                        \
	"      --timeout T       kill CMD and its children after T (90, 2m,\n" \
	"                        1h; msb exits with 124)\n"                    \
	"      --kill-group      when CMD exits, kill what it left in its\n"   \
	"                        process group (default: it keeps running)\n"

struct cli_args;
void cli_exec_init(struct cli_exec *x);
/*
 * cli_exec_option() - take option @c (its value in @a->optarg) if it is
 * one of the shared ones. Return: 1 if it was, 0 if not, -1 after a usage
 * error (cli_usage_error(): exit 2) saying why its value is invalid.
 */
int cli_exec_option(struct cli_exec *x, const struct cli_args *a, int c);
/* Run @argv in @sb with @x (a terminal session with -t); return msb's
 * exit status. */
int cli_exec_run(msb_sandbox *sb, const char *const *argv, struct cli_exec *x);

/*
 * struct cli_session - an interactive session on a streaming handle
 * (tty.c: exec -t, shell, attach). Raw mode when the command has a
 * terminal (msb_exec_tty()) and msb's stdin is one.
 */
struct cli_session {
	bool forward_stdin;   /* msb's stdin to the command; EOF closes it */
	bool attach;          /* an attachment: Ctrl-P Ctrl-Q, SIGTERM and
				 SIGHUP detach; the local size is sent first */
	uint64_t deadline_us; /* now_us() at which to SIGKILL it; 0: none */
	int error_status;     /* msb's status for its own failures */
	/* results */
	bool timed_out; /* killed at @deadline_us (the status is 124) */
	bool detached;  /* the session ended, the command runs on */
};
/*
 * cli_session_run() - move bytes between the terminal and @e until the
 * command exits or the session detaches. Return: msb's exit status (the
 * command's, 128+signal, 0 after a detach, or @error_status after an
 * error it printed).
 */
int cli_session_run(msb_exec *e, struct cli_session *s);
/* The local terminal's size (stdin, stdout or stderr). */
bool cli_window_size(unsigned int *rows, unsigned int *cols);

/* Parse --pull: "always", "missing" (or "if-missing"), "never". */
bool cli_parse_policy(const char *s, int *policy);

/*
 * cli_copy_options() - parse the options of a copy (msb cp, msb volume
 * cp): -a/--archive, --max-size SIZE, --max-files N into @o, leaving the
 * two paths in argv[optind], argv[optind + 1].
 * Return: 0, 1 for --help (printed @usage), or 2 after an error message.
 */
int cli_copy_options(int argc, char **argv, msb_copy_options *o,
		     const char *usage);
/*
 * cli_copy_args() - cli_copy_options() through the shared option rule:
 * the caller fills @a's cmd, usage, synopsis, min_pos and max_pos; the
 * paths are then a->pos[0..npos).
 * Return: 0, 1 for --help (printed), or 2 after a usage error.
 */
struct cli_args;
int cli_copy_args(struct cli_args *a, int argc, char **argv,
		  msb_copy_options *o);
/* Where a copy out of @src to @host_path writes (malloc'd): inside
 * @host_path when it is an existing directory. */
char *cli_copy_dest(const char *host_path, const char *src);
/* The copy options' help lines. */
#define CLI_COPY_OPTIONS_HELP                                                   \
	"  -a, --archive      keep setuid/setgid/sticky bits, the modes the\n"  \
	"                     umask clears and (as root) the guest's owners.\n" \
	"                     UNSAFE with an untrusted sandbox\n"               \
	"      --max-size SIZE  stop past SIZE bytes in all (k, m, g, t;\n"     \
	"                     default 64g)\n"                                   \
	"      --max-files N  stop past N entries (default 1000000)\n"

/* Print "msb: <message>" for the library's last error; return @status. */
int cli_fail(int status);

/* Print "msb: <formatted>" to stderr. */
__attribute__((format(printf, 1, 2))) void cli_err(const char *fmt, ...);

/* Parse an unsigned number with an optional K/M/G suffix in units of
 * @unit_div (1 for plain counts, MiB for sizes given in MiB). */
bool cli_parse_uint(const char *s, unsigned int *out, bool size_mib);

/*
 * cli_parse_duration() - a duration in seconds: a number with an optional
 * s, m or h suffix, or several ("1h30m"). False if malformed or past
 * 2^32-1 seconds.
 */
bool cli_parse_duration(const char *s, unsigned int *out);

/*
 * cli_env_add() - take -e KEY=VALUE, or -e KEY for the host's value of
 * KEY (left out when the host has none, as docker run does).
 * Return: 0, or -1 after a usage error of @a.
 */
int cli_env_add(struct cli_exec *x, const struct cli_args *a, const char *arg);
/* --restart no|on-failure[:N]|always. Return: 0, or -1 after a usage
 * error of @a. */
int cli_parse_restart(msb_restart_policy *policy, unsigned int *max,
		      const struct cli_args *a, const char *s);
/*
 * The network options of msb run and msb create: --network, --allow,
 * --deny, --block-domain, --block-domain-suffix, -p. Rules and names are
 * checked here with the policy engine's parser (a bad one is a usage
 * error naming it); the library checks them again.
 */
#define CLI_MAX_NET 1024 /* rules, and blocked names */
#define CLI_MAX_PORTS 256
#define CLI_MAX_SECRETS 64
#define CLI_MAX_TLS_PORTS 16
#define CLI_MAX_TLS_BYPASS 256
struct cli_net {
	/* Secrets and TLS interception (--secret, --tls-*): the values live
	 * until msb exits. */
	msb_secret_spec secrets[CLI_MAX_SECRETS];
	const char *secret_body[CLI_MAX_SECRETS]; /* --secret-body NAMEs */
	size_t nsecret_body;
	unsigned int tls_ports[CLI_MAX_TLS_PORTS];
	const char *tls_bypass[CLI_MAX_TLS_BYPASS + 1];
	size_t ntls_bypass;
	const char *rules[CLI_MAX_NET + 1];
	size_t nrules;
	const char *domains[CLI_MAX_NET + 1];
	size_t ndomains;
	const char *suffixes[CLI_MAX_NET + 1];
	size_t nsuffixes;
	msb_port ports[CLI_MAX_PORTS];
};
enum cli_net_opt {
	CLI_NET_NETWORK = 0x300,
	CLI_NET_ALLOW,
	CLI_NET_DENY,
	CLI_NET_BLOCK_DOMAIN,
	CLI_NET_BLOCK_SUFFIX,
	CLI_NET_SECRET,
	CLI_NET_SECRET_BODY,
	CLI_NET_TLS_INTERCEPT,
	CLI_NET_TLS_PORT,
	CLI_NET_TLS_BYPASS,
	CLI_NET_TLS_CA,
	CLI_NET_PUBLISH = 'p',
};
#define CLI_NET_LONGOPTS                                                       \
	{"network", required_argument, NULL, CLI_NET_NETWORK},                 \
		{"allow", required_argument, NULL, CLI_NET_ALLOW},             \
		{"deny", required_argument, NULL, CLI_NET_DENY},               \
		{"block-domain", required_argument, NULL,                      \
		 CLI_NET_BLOCK_DOMAIN},                                        \
		{"block-domain-suffix", required_argument, NULL,               \
		 CLI_NET_BLOCK_SUFFIX},                                        \
		{"secret", required_argument, NULL, CLI_NET_SECRET},           \
		{"secret-body", required_argument, NULL, CLI_NET_SECRET_BODY}, \
		{"tls-intercept", no_argument, NULL, CLI_NET_TLS_INTERCEPT},   \
		{"tls-port", required_argument, NULL, CLI_NET_TLS_PORT},       \
		{"tls-bypass", required_argument, NULL, CLI_NET_TLS_BYPASS},   \
		{"tls-ca", required_argument, NULL, CLI_NET_TLS_CA},           \
	{                                                                      \
		"publish", required_argument, NULL, CLI_NET_PUBLISH            \
	}
#define CLI_NET_SHORTOPTS "p:"
/*
 * cli_net_option() - take option @c if it is a network one, into @n and
 * @o (which then point into @n).
 * Return: 1 if taken, 0 if @c is not a network option, -1 after a usage
 * error of @a.
 */
int cli_net_option(struct cli_net *n, msb_sandbox_options *o,
		   const struct cli_args *a, int c);
/* After the options: --network none with rules, blocked names or ports is
 * a usage error, so is a --secret-body naming no --secret. Return: 0, or
 * -1 after a usage error of @a. */
int cli_net_check(struct cli_net *n, const msb_sandbox_options *o,
		  const struct cli_args *a);
/* The options' help lines. */
#define CLI_NET_HELP                                                                \
	"      --network MODE    public (default: the internet, no private,\n"      \
	"                        local or metadata addresses), all (all but\n"      \
	"                        the host) or none (no network device)\n"           \
	"      --allow RULE      allow destinations (repeatable, in order; the\n"   \
	"                        first rule that matches decides): TARGET\n"        \
	"                        [:PROTO][:PORT[-PORT]], TARGET an address,\n"      \
	"                        CIDR, [IPv6], group (public, private,\n"           \
	"                        loopback, link-local, metadata, multicast,\n"      \
	"                        host), domain, .suffix or *; see\n"                \
	"                        docs/network.md\n"                                 \
	"      --deny RULE       deny destinations (as --allow)\n"                  \
	"      --block-domain NAME  answer NXDOMAIN for NAME (repeatable)\n"        \
	"      --block-domain-suffix .SUFFIX  ... for every name under SUFFIX\n"    \
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]  publish a\n"       \
	"                        guest port on the host (HOSTIP default\n"          \
	"                        127.0.0.1; repeatable). A port in use\n"           \
	"                        fails the create\n"                                \
	"      --secret NAME=VALUE@HOST[,HOST...]  the guest sees $NAME as a\n"     \
	"                        placeholder; msb-netd puts VALUE in its place\n"   \
	"                        in HTTPS requests to HOST only (a DNS name or\n"   \
	"                        *.suffix; repeatable); turns on interception\n"    \
	"      --secret NAME@HOST[,HOST...]  the same, VALUE from msb's own\n"      \
	"                        environment variable NAME (kept out of ps)\n"      \
	"      --secret-body NAME  also substitute NAME in request bodies\n"        \
	"      --tls-intercept   intercept TLS (the sandbox's own CA, trusted\n"    \
	"                        in the guest) even without secrets\n"              \
	"      --tls-port PORT   intercept TLS on PORT (repeatable; default 443)\n" \
	"      --tls-bypass NAME never intercept NAME (or *.suffix; repeatable)\n"  \
	"      --tls-ca FILE     also trust the PEM CAs in FILE upstream\n"

/* A new sandbox name, docker-like: "brave_otter_3f2a". */
void cli_gen_name(char *out, size_t len);
/* --env-file: one KEY=VALUE or KEY a line; blank and '#' lines skipped.
 * Return: 0, or -1 after a usage error of @a. */
int cli_env_file(struct cli_exec *x, const struct cli_args *a,
		 const char *path);

/*
 * DOC: The option rule (every command)
 *
 * Options may come before or after the positional arguments (sandbox
 * name, image) up to "--"; after "--" everything is positional. With
 * @command set (run, exec), the first non-option past @max_pos
 * positionals, or whatever follows "--" (after the @min_pos required
 * positionals still missing: msb exec -- NAME CMD), is the command and
 * its arguments: msb never reads options inside it. -h and --help print
 * @usage to stdout. Unknown options, missing values and stray or missing
 * arguments print one line "msb: CMD: ...; see 'msb CMD --help'" and the
 * caller exits 2.
 *
 * Use: fill cmd, usage, synopsis, shortopts (getopt letters, no "+"),
 * longopts, min_pos, max_pos (-1: any), command; cli_args_init(); then
 *	while ((c = cli_args_next(&a)) >= 0) switch (c) { ... a.optarg ... }
 *	if (c == CLI_ARGS_HELP) return 0;
 *	if (c == CLI_ARGS_ERROR) return 2;
 * and read a.pos[0..npos) and a.rest[0..nrest). A value an option rejects
 * is reported with cli_usage_error() (exit 2 as well).
 */
#define CLI_ARGS_END (-1)
#define CLI_ARGS_HELP (-2)
#define CLI_ARGS_ERROR (-3)
struct option;
struct cli_args {
	const char *cmd;      /* "stop", "image ls": named in messages */
	const char *usage;    /* the --help text */
	const char *synopsis; /* "NAME...", for "expected NAME..." */
	const char *shortopts;
	const struct option *longopts;
	int min_pos, max_pos;
	bool command;
	/* results */
	char **pos; /* positional arguments (moved to argv[1..]) */
	int npos;
	char **rest; /* the command (with @command) */
	int nrest;
	const char *optarg;
	/* private */
	int argc;
	char **argv;
	bool done;
	char optstring[128];
};
void cli_args_init(struct cli_args *a, int argc, char **argv);
int cli_args_next(struct cli_args *a);
/* A command without options of its own (only -h): parse @argv.
 * Return: -1 to go on with a.pos[], else msb's exit status (0 after
 * --help, 2 after a usage error). */
int cli_args_only(struct cli_args *a, int argc, char **argv);
/* A listing (ls, image ls): options 'q' (-q), 'j' (--json) and 'F'
 * (--format json) into @quiet and @json. Return: as cli_args_only(). */
int cli_args_list(struct cli_args *a, int argc, char **argv, bool *quiet,
		  bool *json);
/* The long options of a listing with no others: --quiet, --json,
 * --format, --help (for cli_args_list()). */
extern const struct option cli_list_longopts[];
/* $MSB_HOME, or ~/.microsandbox, as the library resolves it, into @out.
 * Return: 0, or -1 after saying why (one line). */
int cli_home_dir(char *out, size_t len);
__attribute__((format(printf, 2, 3))) int
cli_usage_error(const struct cli_args *a, const char *fmt, ...);

#endif
