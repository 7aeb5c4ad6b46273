/* SPDX-License-Identifier: Apache-2.0 */
/* msb command-line tool: shared helpers of the command files. */
#ifndef MSB_CLI_H
#define MSB_CLI_H

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
int cmd_exec(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_wait(int argc, char **argv);

struct msb_exec_output;
/* msb's exit status for an exec: the command's, 128+signal, or 124-127
 * for msb's own failures (which it prints). */
int cli_exec_status(int rc, const struct msb_exec_output *out);

/* Layer progress (msb_pull_progress_fn), to stderr. */
void cli_progress_init(void);
void cli_progress(const char *digest, uint64_t done, uint64_t total,
		  void *userdata);

/* "12.3 MB": a byte count for people (decimal units). */
void cli_human_size(char *out, size_t len, double bytes);

struct msb_exec_options;
/*
 * cli_exec_option() - the options msb run and msb exec share: -e, -i, -w,
 * -u and --timeout ('t'). Return: 1 if @c was one of them, 0 if not, -1
 * after printing why @arg is invalid.
 */
int cli_exec_option(int c, const char *arg, struct msb_exec_options *eo,
		    const char **env, size_t *nenv, size_t max_env);

/* Parse --pull: "always", "missing" (or "if-missing"), "never". */
bool cli_parse_policy(const char *s, int *policy);

/* Print "msb: <message>" for the library's last error; return @status. */
int cli_fail(int status);

/* Print "msb: <formatted>" to stderr. */
__attribute__((format(printf, 1, 2))) void cli_err(const char *fmt, ...);

/* Parse an unsigned number with an optional K/M/G suffix in units of
 * @unit_div (1 for plain counts, MiB for sizes given in MiB). */
bool cli_parse_uint(const char *s, unsigned int *out, bool size_mib);

#endif
