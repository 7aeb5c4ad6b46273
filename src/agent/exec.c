// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: processes started by exec requests.
 *
 * DOC: Theory of operation
 *
 * An exec request names a new stream. Everything the child needs (argv,
 * the merged environment, cwd, a buffer for the PATH search) is allocated
 * before fork(); the child only makes system calls, and if one fails it
 * writes {step, errno} to a close-on-exec pipe and _exit(127)s. The parent
 * blocks on that pipe: end of file means execve() succeeded (STARTED),
 * a report means it did not (FAILED, the child is reaped at once).
 *
 * The child runs in its own session and process group (setsid), so a
 * signal request reaches it and everything it forked. Its stdin is
 * /dev/null, stdout and stderr are pipes the loop reads in chunks.
 *
 * The result belongs to the command, not to its descendants: once the
 * child is reaped, the pipes are drained (AGENT_DRAIN_MS for late output,
 * and what is already in them, bounded by AGENT_DRAIN_MAX_MS) and closed,
 * and the stream ends with EXITED, last. A background process that still
 * holds the pipes (`server &`) then gets EPIPE or SIGPIPE if it writes,
 * and keeps running in the session it shares with the exited command,
 * as with `docker exec` and nohup; MSB_EXEC_KILL_GROUP asks for the
 * group to be killed when the command exits instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"
#include "user.h"
#include "util/rlimit.h"

#define DEFAULT_PATH                                                           \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_HOME "HOME=/root"

enum child_step {
	STEP_SETSID,
	STEP_SIGMASK,
	STEP_RLIMIT,
	STEP_STDIO,
	STEP_CWD,
	STEP_USER,
	STEP_EXEC,
};

static const char *const step_names[] = {
	[STEP_SETSID] = "setsid",    [STEP_SIGMASK] = "sigprocmask",
	[STEP_RLIMIT] = "setrlimit", [STEP_STDIO] = "dup2",
	[STEP_CWD] = "chdir",        [STEP_USER] = "setuid",
	[STEP_EXEC] = "exec",
};

struct child_report {
	int step;
	int err;
	int index; /* STEP_RLIMIT: which of the requested limits */
};

#define MAX_RLIMITS 32

/* Everything the child uses, prepared before fork(). */
struct spawn {
	char **argv;       /* from the request, one allocation */
	char **xenv;       /* env of the request, one allocation */
	const char **envp; /* merged environment (points into the above) */
	char *cwd;         /* NULL: stay in / */
	bool set_user;     /* switch to ids before exec */
	struct user_ids ids;
	char *home;       /* "HOME=<the user's home>" or NULL */
	const char *path; /* PATH value to search */
	char *pathbuf;    /* room for one PATH entry + '/' + argv[0] */
	const struct rlimit *nofile;
	struct {
		int resource;
		struct rlimit rl;
	} limits[MAX_RLIMITS];
	char **limit_specs; /* as requested, for messages */
	size_t nlimits;
	int null_fd;
	int out[2], err[2], rep[2], in[2];
	bool want_stdin;
	bool tty;
	int pty[2]; /* tty: master, slave */
};

static void spawn_free(struct spawn *sp)
{
	free(sp->argv);
	free(sp->xenv);
	free(sp->limit_specs);
	free(sp->envp);
	free(sp->cwd);
	free(sp->home);
	free(sp->pathbuf);
	close_fd(&sp->null_fd);
	for (int i = 0; i < 2; i++) {
		close_fd(&sp->out[i]);
		close_fd(&sp->err[i]);
		close_fd(&sp->rep[i]);
		close_fd(&sp->in[i]);
		close_fd(&sp->pty[i]);
	}
}

struct env_ent {
	const char *s;
	size_t klen;
	size_t order; /* position across all sources: later wins */
};

static int env_cmp(const void *pa, const void *pb)
{
	const struct env_ent *a = pa, *b = pb;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->s, b->s, n);

	if (c)
		return c;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Number of entries of a NULL-terminated array (NULL counts as empty). */
static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/*
 * Merge the defaults (with @home, "HOME=..." of the user, if given), the
 * hello environment and the request's, a later
 * "K=" replacing an earlier one. Sorting keeps this O(n log n) whatever
 * the host sends. Entries are known to contain '='.
 */
static const char **env_merge(char *const *hello, char *const *req,
			      const char *home)
{
	const char *const defaults[] = {DEFAULT_PATH,
					home ? home : DEFAULT_HOME};
	size_t nh = strv_len(hello), nr = strv_len(req);
	size_t total = ARRAY_SIZE(defaults) + nh + nr, n = 0, out = 0;
	_cleanup_free_ struct env_ent *ents = NULL;
	const char **envp;

	ents = calloc(total, sizeof(*ents));
	envp = calloc(total + 1, sizeof(*envp));
	if (!ents || !envp) {
		free(envp);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++, n++)
		ents[n].s = defaults[i];
	for (size_t i = 0; i < nh; i++, n++)
		ents[n].s = hello[i];
	for (size_t i = 0; i < nr; i++, n++)
		ents[n].s = req[i];
	for (size_t i = 0; i < total; i++) {
		ents[i].klen = (size_t)(strchr(ents[i].s, '=') - ents[i].s);
		ents[i].order = i;
	}
	qsort(ents, total, sizeof(*ents), env_cmp);
	for (size_t i = 0; i < total; i++) {
		if (i + 1 < total && ents[i + 1].klen == ents[i].klen &&
		    !memcmp(ents[i + 1].s, ents[i].s, ents[i].klen))
			continue;
		envp[out++] = ents[i].s;
	}
	envp[out] = NULL;
	return envp;
}

/* The value of PATH in @envp (which always has one after env_merge). */
static const char *env_path(const char *const *envp)
{
	for (size_t i = 0; envp[i]; i++) {
		if (!strncmp(envp[i], "PATH=", 5))
			return envp[i] + 5;
	}
	return &DEFAULT_PATH[5];
}

/*
 * env_check() - whether every entry of a decoded environment is "K=V"
 * with a non-empty K. Return: the index of the first bad entry, or -1.
 */
static ssize_t env_check(char *const *env)
{
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');

		if (!eq || eq == env[i])
			return (ssize_t)i;
	}
	return -1;
}

static void __attribute__((noreturn))
child_fail_at(const struct spawn *sp, enum child_step step, int err, int index)
{
	struct child_report r = {step, err, index};

	(void)!write(sp->rep[1], &r, sizeof(r));
	_exit(127);
}

static void __attribute__((noreturn))
child_fail(const struct spawn *sp, enum child_step step, int err)
{
	child_fail_at(sp, step, err, -1);
}

/*
 * Search PATH like execvp() does, but in the merged environment and
 * without its fallback to /bin/sh for ENOEXEC. Only system calls and
 * string operations on memory prepared before fork(). Returns the errno
 * to report.
 */
static int child_exec(const struct spawn *sp)
{
	const char *file = sp->argv[0];
	char *const *argv = sp->argv;
	char *const *envp = (char *const *)sp->envp;
	const char *p = sp->path;
	bool denied = false;
	size_t flen = strlen(file);

	if (!*file)
		return ENOENT;
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return errno;
	}
	for (;;) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);
		char *b = sp->pathbuf;

		memcpy(b, p, dlen);
		if (dlen)
			b[dlen++] = '/';
		memcpy(b + dlen, file, flen + 1);
		execve(b, argv, envp);
		switch (errno) {
		case EACCES:
			denied = true;
			break;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
		case ENAMETOOLONG:
		case ELOOP:
			break;
		default:
			return errno;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	return denied ? EACCES : ENOENT;
}

static void __attribute__((noreturn)) child(const struct spawn *sp)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	if (setsid() < 0)
		child_fail(sp, STEP_SETSID, errno);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* EINVAL for KILL, STOP: fine */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(sp, STEP_SIGMASK, errno);
	if (setrlimit(RLIMIT_NOFILE, sp->nofile) < 0)
		child_fail(sp, STEP_RLIMIT, errno);
	for (size_t i = 0; i < sp->nlimits; i++)
		if (setrlimit(sp->limits[i].resource, &sp->limits[i].rl) < 0)
			child_fail_at(sp, STEP_RLIMIT, errno, (int)i);
	if (sp->tty) {
		/* A session leader without a terminal takes this one. */
		if (ioctl(sp->pty[1], TIOCSCTTY, 0) < 0 ||
		    dup2(sp->pty[1], STDIN_FILENO) < 0 ||
		    dup2(sp->pty[1], STDOUT_FILENO) < 0 ||
		    dup2(sp->pty[1], STDERR_FILENO) < 0)
			child_fail(sp, STEP_STDIO, errno);
	} else if (dup2(sp->want_stdin ? sp->in[0] : sp->null_fd,
			STDIN_FILENO) < 0 ||
		   dup2(sp->out[1], STDOUT_FILENO) < 0 ||
		   dup2(sp->err[1], STDERR_FILENO) < 0) {
		child_fail(sp, STEP_STDIO, errno);
	}
	if (sp->set_user &&
	    (setgroups(sp->ids.ngroups, sp->ids.groups) < 0 ||
	     setgid(sp->ids.gid) < 0 || setuid(sp->ids.uid) < 0))
		child_fail(sp, STEP_USER, errno);
	if (sp->cwd && chdir(sp->cwd) < 0)
		child_fail(sp, STEP_CWD, errno);
	child_fail(sp, STEP_EXEC, child_exec(sp));
}

static const char *exec_kind(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return "not_found";
	case EACCES:
	case EPERM:
		return "permission";
	case ENOEXEC:
		return "not_executable";
	default:
		return "internal";
	}
}

/* Send FAILED (END) on @stream. */
static void send_failed(struct agent *a, uint32_t stream, const char *kind,
			int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void send_failed(struct agent *a, uint32_t stream, const char *kind,
			int err, const char *fmt, ...)
{
	struct msb_msg m = {
		.type = MSB_MSG_FAILED,
		.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
		       MSB_HAS(MSB_FLD_MSG),
		.err = err,
	};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m.kind = msb_str(kind);
	m.msg = msb_str(msg);
	agent_send(a, stream, MSB_F_END, &m);
}

/* The entry that @stream (not 0) talks to: its exec or its attach. */
struct proc *proc_find(struct agent *a, uint32_t stream)
{
	for (size_t i = 0; stream && i < a->nprocs; i++) {
		if (a->procs[i]->stream == stream ||
		    a->procs[i]->attach == stream)
			return a->procs[i];
	}
	return NULL;
}

/* Read at most 1 MiB of a file into a malloc'd buffer; NULL if absent. */
static char *slurp(const char *path, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 1u << 20;
	char *buf;
	ssize_t n;

	*len = 0;
	if (fd < 0 || !(buf = malloc(cap)))
		return NULL;
	n = read_all(fd, buf, cap);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

/* Resolve a user spec with the guest's /etc/passwd and /etc/group. */
static int resolve_user(const char *spec, struct user_ids *ids, char *why,
			size_t whylen)
{
	size_t pl, gl;
	_cleanup_free_ char *pw = slurp("/etc/passwd", &pl);
	_cleanup_free_ char *gr = slurp("/etc/group", &gl);

	return user_resolve(ids, spec, pw, pl, gr, gl, why, whylen);
}

/*
 * Decode and check a request into @sp. Return: 0, or -1 after replying
 * ERROR (the request itself is bad).
 */
static int spawn_prepare(struct agent *a, uint32_t stream,
			 const struct msb_msg *m, struct spawn *sp)
{
	ssize_t bad;
	size_t plen;

	if (!(m->has & MSB_HAS(MSB_FLD_ARGV)) || !m->argv.count) {
		agent_error(a, stream, true, EINVAL,
			    "exec: `argv` is missing or empty");
		return -1;
	}
	sp->argv = msb_strv_dup(&m->argv);
	if (!sp->argv) {
		agent_error(a, stream, true, errno, "exec: bad `argv`: %m");
		return -1;
	}
	if (m->has & MSB_HAS(MSB_FLD_ENV)) {
		sp->xenv = msb_strv_dup(&m->env);
		if (!sp->xenv) {
			agent_error(a, stream, true, errno,
				    "exec: bad `env`: %m");
			return -1;
		}
		bad = env_check(sp->xenv);
		if (bad >= 0) {
			agent_error(a, stream, true, EINVAL,
				    "exec: `env` entry %zd is not K=V", bad);
			return -1;
		}
	}
	if (m->has & MSB_HAS(MSB_FLD_CWD)) {
		sp->cwd = msb_bytes_dup(m->cwd);
		if (!sp->cwd) {
			agent_error(a, stream, true, errno,
				    "exec: bad `cwd`: %m");
			return -1;
		}
	}
	if (m->has & MSB_HAS(MSB_FLD_USER) && m->user.n) {
		_cleanup_free_ char *spec = msb_bytes_dup(m->user);
		char why[160];
		if (!spec) {
			agent_error(a, stream, true, errno,
				    "exec: bad `user`: %m");
			return -1;
		}
		if (resolve_user(spec, &sp->ids, why, sizeof(why)) < 0) {
			send_failed(a, stream, "user", ENOENT, "exec `%s`: %s",
				    sp->argv[0], why);
			return -1;
		}
		sp->set_user = true;
		if (sp->ids.home[0] &&
		    asprintf(&sp->home, "HOME=%s", sp->ids.home) < 0) {
			sp->home = NULL;
			goto nomem;
		}
	}
	if (m->has & MSB_HAS(MSB_FLD_RLIMITS) && m->rlimits.count) {
		struct msb_bytes b;
		size_t it = 0;
		char why[256];

		if (m->rlimits.count > MAX_RLIMITS) {
			send_failed(a, stream, "rlimit", EINVAL,
				    "exec `%s`: at most %d resource limits",
				    sp->argv[0], MAX_RLIMITS);
			return -1;
		}
		sp->limit_specs = msb_strv_dup(&m->rlimits);
		if (!sp->limit_specs) {
			agent_error(a, stream, true, errno,
				    "exec: bad `rlimits`: %m");
			return -1;
		}
		while (msb_strv_next(&m->rlimits, &it, &b)) {
			size_t i = sp->nlimits;
			if (msb_rlimit_parse((const char *)b.p, b.n,
					     &sp->limits[i].resource,
					     &sp->limits[i].rl, why,
					     sizeof(why)) < 0) {
				send_failed(
					a, stream, "rlimit", EINVAL,
					"exec `%s`: resource limit `%s`: %s",
					sp->argv[0], sp->limit_specs[i], why);
				return -1;
			}
			sp->nlimits++;
		}
	}
	sp->envp = env_merge(a->env, sp->xenv, sp->home);
	if (!sp->envp)
		goto nomem;
	sp->path = env_path(sp->envp);
	plen = strlen(sp->path) + strlen(sp->argv[0]) + 2;
	sp->pathbuf = malloc(plen);
	if (!sp->pathbuf)
		goto nomem;
	sp->nofile = &a->nofile;
	return 0;

nomem:
	send_failed(a, stream, "internal", errno, "exec `%s`: %m", sp->argv[0]);
	return -1;
}

/* Terminal size of a request (rows x cols), 24 x 80 by default. */
static struct winsize req_winsize(const struct msb_msg *m)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80};

	if (m->has & MSB_HAS(MSB_FLD_ROWS) && m->rows && m->rows <= 0xffff)
		ws.ws_row = (unsigned short)m->rows;
	if (m->has & MSB_HAS(MSB_FLD_COLS) && m->cols && m->cols <= 0xffff)
		ws.ws_col = (unsigned short)m->cols;
	return ws;
}

/*
 * spawn_child() - start the child. vfork: no page tables to copy (slow
 * under TCG); the parent is suspended until the child has exec'd or
 * exited, and the child only makes system calls and writes memory
 * prepared for it (pathbuf). A function of its own, so that no local of
 * the caller lives across vfork(). Return: the pid, or -1.
 */
static __attribute__((noinline)) pid_t spawn_child(struct spawn *sp)
{
	pid_t pid = vfork();

	if (pid == 0)
		child(sp);
	return pid;
}

/* A new pseudo-terminal pair of the requested size in sp->pty. */
static int open_pty(struct spawn *sp, const struct msb_msg *m)
{
	char name[64];
	struct winsize ws = req_winsize(m);

	sp->pty[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sp->pty[0] < 0 || grantpt(sp->pty[0]) < 0 ||
	    unlockpt(sp->pty[0]) < 0 ||
	    ptsname_r(sp->pty[0], name, sizeof(name)) != 0)
		return -1;
	sp->pty[1] = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sp->pty[1] < 0 || ioctl(sp->pty[0], TIOCSWINSZ, &ws) < 0)
		return -1;
	return 0;
}

/*
 * exec_start() - handle an exec request on a new stream: reply STARTED
 * (and register the process) or FAILED or ERROR.
 */
void exec_start(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	struct spawn sp = {
		.null_fd = -1,
		.out = {-1, -1},
		.err = {-1, -1},
		.rep = {-1, -1},
		.in = {-1, -1},
		.pty = {-1, -1},
	};
	struct child_report rep;
	struct proc *p = NULL;
	const char *why = NULL;
	uint32_t xflags;
	ssize_t n;
	pid_t pid;

	if (stream == 0) {
		agent_error(a, stream, true, EINVAL,
			    "exec: stream 0 is the control stream");
		return;
	}
	if (proc_find(a, stream)) {
		agent_error(a, stream, false, EEXIST,
			    "exec: stream %u is already in use", stream);
		return;
	}
	if (spawn_prepare(a, stream, m, &sp) < 0)
		goto out;
	xflags = m->has & MSB_HAS(MSB_FLD_FLAGS) ? (uint32_t)m->flags : 0;
	if (procs_make_room(a, xflags & MSB_EXEC_DETACH, &why) < 0) {
		send_failed(a, stream, "internal", EAGAIN, "exec `%s`: %s",
			    sp.argv[0], why);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		send_failed(a, stream, "internal", errno, "exec `%s`: %m",
			    sp.argv[0]);
		goto out;
	}
	sp.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (sp.null_fd < 0) {
		send_failed(a, stream, "internal", errno,
			    "open `/dev/null`: %m");
		goto out;
	}
	sp.want_stdin =
		m->has & MSB_HAS(MSB_FLD_FLAGS) && m->flags & MSB_EXEC_STDIN;
	sp.tty = m->has & MSB_HAS(MSB_FLD_FLAGS) && m->flags & MSB_EXEC_TTY;
	if (sp.tty) {
		if (open_pty(&sp, m) < 0) {
			send_failed(a, stream, "internal", errno,
				    "exec `%s`: pseudo-terminal: %m",
				    sp.argv[0]);
			goto out;
		}
	} else if (pipe2(sp.out, O_CLOEXEC) < 0 ||
		   pipe2(sp.err, O_CLOEXEC) < 0 ||
		   (sp.want_stdin && pipe2(sp.in, O_CLOEXEC) < 0)) {
		send_failed(a, stream, "internal", errno, "pipe2: %m");
		goto out;
	}
	if (pipe2(sp.rep, O_CLOEXEC) < 0) {
		send_failed(a, stream, "internal", errno, "pipe2: %m");
		goto out;
	}

	pid = spawn_child(&sp);
	if (pid < 0) {
		send_failed(a, stream, "internal", errno, "exec `%s`: fork: %m",
			    sp.argv[0]);
		goto out;
	}

	close_fd(&sp.out[1]);
	close_fd(&sp.err[1]);
	close_fd(&sp.in[0]);
	close_fd(&sp.pty[1]);
	close_fd(&sp.rep[1]);
	do
		n = read(sp.rep[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		int err = n == (ssize_t)sizeof(rep) ? rep.err : EIO;
		int step = n == (ssize_t)sizeof(rep) ? rep.step : STEP_EXEC;

		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (step == STEP_EXEC)
			send_failed(a, stream, exec_kind(err), err,
				    "exec `%s`: %s", sp.argv[0], strerror(err));
		else if (step == STEP_CWD)
			send_failed(a, stream, "cwd", err, "chdir `%s`: %s",
				    sp.cwd, strerror(err));
		else if (step == STEP_RLIMIT && rep.index >= 0 &&
			 (size_t)rep.index < sp.nlimits)
			send_failed(a, stream, "rlimit", err,
				    "exec `%s`: cannot set resource limit "
				    "`%s`: %s",
				    sp.argv[0], sp.limit_specs[rep.index],
				    strerror(err));
		else
			send_failed(a, stream, "internal", err,
				    "exec `%s`: %s: %s", sp.argv[0],
				    step >= 0 && step <= STEP_EXEC
					    ? step_names[step]
					    : "child",
				    strerror(err));
		goto out;
	}

	proc_table_init(p, sp.argv, xflags, ++a->next_id);
	p->stream = p->detached ? 0 : stream;
	p->pid = pid;
	p->kill_group = m->has & MSB_HAS(MSB_FLD_FLAGS) &&
			m->flags & MSB_EXEC_KILL_GROUP;
	p->out_credit = MSB_WINDOW;
	if (sp.tty) {
		/* One descriptor both ways; stdin gets its own, so that
		 * closing stdin does not close the output. */
		p->tty = true;
		p->out_fd = steal_fd(&sp.pty[0]);
		p->err_fd = -1;
		p->in_fd = fcntl(p->out_fd, F_DUPFD_CLOEXEC, 3);
		if (p->in_fd < 0)
			agent_log("dup pty of pid %d: %m", pid);
		p->in_eof = !sp.want_stdin; /* then only ^D */
	} else {
		p->out_fd = steal_fd(&sp.out[0]);
		p->err_fd = steal_fd(&sp.err[0]);
		p->in_fd = steal_fd(&sp.in[1]);
	}
	if (set_nonblock(p->out_fd, 1) < 0 ||
	    (p->err_fd >= 0 && set_nonblock(p->err_fd, 1) < 0) ||
	    (p->in_fd >= 0 && set_nonblock(p->in_fd, 1) < 0))
		agent_log("fcntl O_NONBLOCK on pipes of pid %d: %m", pid);
	a->procs[a->nprocs++] = steal_ptr(&p);
	if (a->procs[a->nprocs - 1]->in_eof)
		proc_write_stdin(a, a->procs[a->nprocs - 1]);
	{
		struct msb_msg st = {
			.type = MSB_MSG_STARTED,
			.has = MSB_HAS(MSB_FLD_PID) | MSB_HAS(MSB_FLD_ID),
			.pid = pid,
			.id = a->next_id,
		};
		/* Detached: that is all the exec stream says. */
		agent_send(a, stream, xflags & MSB_EXEC_DETACH ? MSB_F_END : 0,
			   &st);
	}
out:
	free(p);
	spawn_free(&sp);
}

/* exec_signal() - handle a signal request: kill the stream's process group. */
void exec_signal(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	struct proc *p = proc_find(a, stream);

	if (!p) {
		agent_error(a, stream, true, ESRCH,
			    "signal: no process on stream %u", stream);
		return;
	}
	/* On an attach stream, signal 0 detaches (the process runs on). */
	if (p->attach == stream && m->has & MSB_HAS(MSB_FLD_SIG) && !m->sig) {
		proc_detach(a, p);
		return;
	}
	if (p->reaped)
		return; /* its group may be gone, its id reused */
	if (!(m->has & MSB_HAS(MSB_FLD_SIG)) || m->sig <= 0 || m->sig >= NSIG) {
		agent_error(a, stream, false, EINVAL,
			    "signal: `sig` is missing or out of range");
		return;
	}
	/* ESRCH: the group is gone and EXITED is on its way; not an error. */
	if (kill(-p->pid, (int)m->sig) < 0 && errno != ESRCH)
		agent_error(a, stream, false, errno,
			    "kill process group %d with signal %d: %m", p->pid,
			    (int)m->sig);
}

/* exec_resize() - a resize request: set the size of the stream's terminal
 * (the kernel sends SIGWINCH to its foreground process group). */
void exec_resize(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	struct proc *p = proc_find(a, stream);
	struct winsize ws = req_winsize(m);

	if (!p || !p->tty) {
		agent_error(a, stream, !p, p ? EINVAL : ESRCH,
			    "resize: no process with a terminal on stream %u",
			    stream);
		return;
	}
	int fd = p->out_fd >= 0 ? p->out_fd : p->in_fd;
	if (fd >= 0 && ioctl(fd, TIOCSWINSZ, &ws) < 0)
		agent_error(a, stream, false, errno, "resize: %m");
}

/*
 * proc_read() - read one chunk from a pipe of @p and queue it as STDOUT or
 * STDERR; at end of file close *@fd (and set it to -1).
 */
void proc_read(struct agent *a, struct proc *p, int *fd, bool is_err)
{
	static uint8_t chunk[MSB_CHUNK_MAX];
	struct msb_msg m = {
		.type = is_err ? MSB_MSG_STDERR : MSB_MSG_STDOUT,
		.has = MSB_HAS(MSB_FLD_DATA),
	};
	size_t want = p->out_credit < sizeof(chunk) ? (size_t)p->out_credit
						    : sizeof(chunk);
	ssize_t n;

	if (p->detached)
		want = AGENT_RING_REC; /* the ring never waits */
	if (!want)
		return; /* no credit: the loop does not poll it either */
	do
		n = read(*fd, chunk, want);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		/* A terminal whose other side is all closed: EIO. */
		if (n < 0 && !(p->tty && errno == EIO))
			agent_log("read %s of pid %d: %m",
				  is_err ? "stderr" : "stdout", p->pid);
		close_fd(fd);
		return;
	}
	if (p->detached) {
		static bool warned;
		if (ring_put(&p->ring, is_err, chunk, (size_t)n) < 0 &&
		    !warned) {
			agent_log("output ring of pid %d: %m: output dropped",
				  p->pid);
			warned = true;
		}
		return;
	}
	m.data.p = chunk;
	m.data.n = (size_t)n;
	p->out_credit -= (size_t)n;
	agent_send(a, p->stream, 0, &m);
}

/*
 * procs_reap() - collect every exited child; remember the status of ours.
 * Orphans reparented to init are reaped and forgotten.
 * Return: true when the agent has no children left.
 */
bool procs_reap(struct agent *a)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return errno == ECHILD;
		if (pid == 0)
			return false;
		for (size_t i = 0; i < a->nprocs; i++) {
			struct proc *p = a->procs[i];

			if (p->pid == pid && !p->reaped) {
				p->reaped = true;
				p->status = status;
				p->reaped_ms = now_ms();
				/* The group outlives its leader while members
				 * remain, so its id is not reused yet. */
				if (p->kill_group && kill(-pid, SIGKILL) < 0 &&
				    errno != ESRCH)
					agent_log("kill process group %d: %m",
						  pid);
				break;
			}
		}
	}
}

/* Bytes waiting in a pipe or terminal (0 for a closed descriptor). */
static int fd_pending(int fd)
{
	int n = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &n) < 0)
		return 0;
	return n;
}

/* Whether @p's output is done: both at end of file, or drained. */
static bool proc_drained(const struct proc *p, uint64_t now)
{
	if (p->out_fd < 0 && p->err_fd < 0)
		return true;
	if (now < p->reaped_ms + AGENT_DRAIN_MS)
		return false;
	if (now >= p->reaped_ms + AGENT_DRAIN_MAX_MS)
		return true;
	return !fd_pending(p->out_fd) && !fd_pending(p->err_fd);
}

/*
 * procs_drain_timeout() - milliseconds until a reaped process's drain
 * window needs a look, or -1 if none is draining.
 */
int procs_drain_timeout(const struct agent *a, uint64_t now)
{
	int best = -1;

	for (size_t i = 0; i < a->nprocs; i++) {
		const struct proc *p = a->procs[i];
		uint64_t due = p->reaped_ms + AGENT_DRAIN_MS;
		int t;

		if (!p->reaped || p->done || (p->out_fd < 0 && p->err_fd < 0))
			continue;
		/* Past the window with bytes left: look again soon. */
		t = now >= due ? 10 : (int)(due - now);
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

/*
 * procs_finish() - end the streams whose process was reaped and whose
 * output is drained (proc_drained()): close the pipes, EXITED (END), then
 * forget them.
 */
void procs_finish(struct agent *a)
{
	uint64_t now = now_ms();
	size_t i = 0;

	while (i < a->nprocs) {
		struct proc *p = a->procs[i];
		struct msb_msg m = {.type = MSB_MSG_EXITED};

		i++;
		if (p->done || !p->reaped || !proc_drained(p, now))
			continue;
		close_fd(&p->out_fd);
		close_fd(&p->err_fd);
		if (WIFSIGNALED(p->status)) {
			m.has = MSB_HAS(MSB_FLD_SIG);
			m.sig = WTERMSIG(p->status);
		} else {
			m.has = MSB_HAS(MSB_FLD_CODE);
			m.code = WEXITSTATUS(p->status);
		}
		if (p->stream)
			agent_send(a, p->stream, MSB_F_END, &m);
		/* Kept in the table; an attach stream ends in procs_pump(). */
		p->stream = 0;
		p->done = true;
		close_fd(&p->in_fd);
		msb_buf_free(&p->in_q);
	}
	procs_pump(a);
	procs_sweep(a);
	procs_trim(a);
}

/*
 * proc_stdin() - queue a STDIN frame's data for the process; @end closes
 * its stdin once everything queued is written.
 */
void proc_stdin(struct agent *a, struct proc *p, const struct msb_msg *m,
		bool end)
{
	size_t n = m->has & MSB_HAS(MSB_FLD_DATA) ? m->data.n : 0;

	if (p->in_fd < 0) {
		/* It was closed (EOF sent, or the process closed it): the
		 * data goes nowhere, but the host must not block on it. */
		agent_grant(a, proc_peer(p), &p->in_owed, n);
		return;
	}
	if (msb_buf_avail(&p->in_q) + n > AGENT_STDIN_MAX) {
		agent_error(a, proc_peer(p), false, ENOBUFS,
			    "stdin: %zu bytes beyond the flow-control window "
			    "dropped",
			    n);
		n = 0;
	}
	if (n && msb_buf_append(&p->in_q, m->data.p, n) < 0)
		agent_error(a, proc_peer(p), false, errno, "stdin: %m");
	if (end)
		p->in_eof = true;
	proc_write_stdin(a, p);
}

/* Write what the pipe takes of the queued stdin (crediting it to the
 * host); close it at EOF. */
void proc_write_stdin(struct agent *a, struct proc *p)
{
	while (p->in_fd >= 0 && msb_buf_avail(&p->in_q)) {
		ssize_t n = write(p->in_fd, msb_buf_head(&p->in_q),
				  msb_buf_avail(&p->in_q));
		if (n > 0) {
			msb_buf_consume(&p->in_q, (size_t)n);
			agent_grant(a, proc_peer(p), &p->in_owed, (uint64_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EPIPE: the process closed its stdin; drop the rest. */
		agent_grant(a, proc_peer(p), &p->in_owed,
			    msb_buf_avail(&p->in_q));
		msb_buf_free(&p->in_q);
		close_fd(&p->in_fd);
		return;
	}
	if (p->in_eof && !msb_buf_avail(&p->in_q)) {
		/* A terminal has no end of input: send its EOF character
		 * (the program sees end of file at the start of a line). */
		if (p->tty && p->in_fd >= 0)
			(void)!write(p->in_fd, "\x04", 1);
		close_fd(&p->in_fd);
	}
}
