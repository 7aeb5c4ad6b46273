// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: the gate every request from the host passes before the agent
 * acts on it (DESIGN.md: the guest treats every message as hostile).
 *
 * msb_msg_decode() has checked the CBOR and the type of each field; here
 * the message is checked as a request: it is a type the host may send,
 * START is where it belongs, required fields are there, strings that
 * become C strings hold no NUL, environment entries are K=V, numbers are
 * in range, resource limits parse. A pure function of the message and the
 * frame flags, bounded by the message's size; fuzzed with the decoder
 * (tests/fuzz/agent_fuzz.c). Handlers may check more (paths, users), with
 * errors that name the operation.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "agent.h"
#include "mount.h"
#include "net.h"
#include "util/rlimit.h"

#define F(x) MSB_HAS(MSB_FLD_##x)

struct rule {
	bool start;         /* must carry MSB_F_START (a new stream) */
	uint64_t required;  /* fields that must be present */
	uint64_t cstrings;  /* text fields used as C strings: no NUL */
	uint64_t flag_bits; /* allowed bits of the "flags" field */
};

#define FS_RULE(req, fl)                                                       \
	{                                                                      \
		.start = true, .required = F(PATH) | (req),                    \
		.cstrings = F(PATH) | F(PATH2), .flag_bits = (fl)              \
	}

static const struct rule rules[MSB_MSG__COUNT] = {
	[MSB_MSG_HELLO] = {.required = F(VERSION) | F(ROOT),
			   .cstrings = F(ROOT) | F(FSTYPE) | F(HOSTNAME) |
				       F(ENV) | F(MOUNTS) | F(NET)},
	[MSB_MSG_EXEC] = {.start = true,
			  .required = F(ARGV),
			  .cstrings = F(ARGV) | F(ENV) | F(CWD) | F(USER) |
				      F(RLIMITS),
			  .flag_bits = MSB_EXEC_STDIN | MSB_EXEC_TTY |
				       MSB_EXEC_KILL_GROUP | MSB_EXEC_DETACH},
	[MSB_MSG_PROC_LIST] = {.start = true},
	[MSB_MSG_PROC_SIGNAL] = {.start = true, .required = F(ID) | F(SIG)},
	[MSB_MSG_PROC_ATTACH] = {.start = true,
				 .required = F(ID),
				 .flag_bits = MSB_PATTACH_REPLAY |
					      MSB_PATTACH_FOLLOW |
					      MSB_PATTACH_STDIN},
	[MSB_MSG_PROC_REMOVE] = {.start = true,
				 .required = F(ID),
				 .flag_bits = MSB_PREMOVE_FORCE},
	[MSB_MSG_STDIN] = {0},
	[MSB_MSG_SIGNAL] = {.required = F(SIG)},
	[MSB_MSG_RESIZE] = {.required = F(ROWS) | F(COLS)},
	[MSB_MSG_CREDIT] = {.required = F(SIZE)},
	[MSB_MSG_ERROR] = {0},
	[MSB_MSG_SHUTDOWN] = {0},
	[MSB_MSG_PING] = {0},
	[MSB_MSG_METRICS] = {0},
	[MSB_MSG_FS_DATA] = {0},
	[MSB_MSG_FS_STAT] = FS_RULE(0, 0),
	[MSB_MSG_FS_LIST] = FS_RULE(0, 0),
	[MSB_MSG_FS_READ] = FS_RULE(0, 0),
	[MSB_MSG_FS_WRITE] = FS_RULE(0, MSB_FS_CREATE | MSB_FS_TRUNC |
						MSB_FS_APPEND | MSB_FS_EXCL),
	[MSB_MSG_FS_MKDIR] = FS_RULE(0, MSB_FS_PARENTS),
	[MSB_MSG_FS_REMOVE] = FS_RULE(0, MSB_FS_RECURSIVE),
	[MSB_MSG_FS_RENAME] = FS_RULE(F(PATH2), 0),
	[MSB_MSG_FS_COPY] = FS_RULE(F(PATH2), MSB_FS_RECURSIVE),
	[MSB_MSG_FS_CHMOD] = FS_RULE(F(MODE), 0),
	[MSB_MSG_FS_CHOWN] = FS_RULE(F(UID) | F(GID), 0),
	[MSB_MSG_FS_SYMLINK] = {.start = true,
				.required = F(PATH) | F(TARGET),
				.cstrings = F(PATH) | F(TARGET)},
};

/* The types the host may send: those with a rule. */
static bool host_sends(enum msb_msg_type t)
{
	switch (t) {
	case MSB_MSG_HELLO:
	case MSB_MSG_EXEC:
	case MSB_MSG_STDIN:
	case MSB_MSG_SIGNAL:
	case MSB_MSG_RESIZE:
	case MSB_MSG_CREDIT:
	case MSB_MSG_ERROR:
	case MSB_MSG_SHUTDOWN:
	case MSB_MSG_PING:
	case MSB_MSG_METRICS:
	case MSB_MSG_FS_DATA:
	case MSB_MSG_PROC_LIST:
	case MSB_MSG_PROC_SIGNAL:
	case MSB_MSG_PROC_ATTACH:
	case MSB_MSG_PROC_REMOVE:
		return true;
	default:
		return t >= MSB_MSG_FS_STAT && t <= MSB_MSG_FS_SYMLINK;
	}
}

static const char *field_name(unsigned f)
{
	static const char *const names[MSB_FLD__COUNT] = {
		[MSB_FLD_VERSION] = "v",     [MSB_FLD_ROOT] = "root",
		[MSB_FLD_ARGV] = "argv",     [MSB_FLD_SIG] = "sig",
		[MSB_FLD_ROWS] = "rows",     [MSB_FLD_COLS] = "cols",
		[MSB_FLD_SIZE] = "size",     [MSB_FLD_PATH] = "path",
		[MSB_FLD_PATH2] = "path2",   [MSB_FLD_MODE] = "mode",
		[MSB_FLD_UID] = "uid",       [MSB_FLD_GID] = "gid",
		[MSB_FLD_ENV] = "env",       [MSB_FLD_CWD] = "cwd",
		[MSB_FLD_USER] = "user",     [MSB_FLD_RLIMITS] = "rlimits",
		[MSB_FLD_FSTYPE] = "fs",     [MSB_FLD_HOSTNAME] = "host",
		[MSB_FLD_TARGET] = "target", [MSB_FLD_MOUNTS] = "mounts",
		[MSB_FLD_ID] = "id",         [MSB_FLD_NET] = "net",
	};
	return f < MSB_FLD__COUNT && names[f] ? names[f] : "?";
}

static bool has_nul(struct msb_bytes b)
{
	return b.n && memchr(b.p, '\0', b.n) != NULL;
}

/* Every entry of @v free of NUL; with @kv also "K=V", K not empty. */
static ssize_t bad_entry(const struct msb_strv *v, bool kv)
{
	struct msb_bytes s;
	size_t it = 0;
	ssize_t i = 0;

	while (msb_strv_next(v, &it, &s)) {
		const uint8_t *eq = s.n ? memchr(s.p, '=', s.n) : NULL;
		if (has_nul(s) || (kv && (!eq || eq == s.p)))
			return i;
		i++;
	}
	return -1;
}

static int reject(char *why, size_t whylen, int *err, int e, const char *fmt,
		  ...) __attribute__((format(printf, 5, 6)));

static int reject(char *why, size_t whylen, int *err, int e, const char *fmt,
		  ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	*err = e;
	return -1;
}

/* Text fields in @mask of @m, for the NUL check. */
static int check_cstrings(const struct msb_msg *m, uint64_t mask, char *why,
			  size_t whylen, int *err)
{
	const struct {
		enum msb_field f;
		const struct msb_bytes *b;
	} texts[] = {
		{MSB_FLD_ROOT, &m->root},         {MSB_FLD_FSTYPE, &m->fstype},
		{MSB_FLD_HOSTNAME, &m->hostname}, {MSB_FLD_CWD, &m->cwd},
		{MSB_FLD_USER, &m->user},         {MSB_FLD_PATH, &m->path},
		{MSB_FLD_PATH2, &m->path2},       {MSB_FLD_TARGET, &m->target},
	};
	const struct {
		enum msb_field f;
		const struct msb_strv *v;
		bool kv;
	} arrays[] = {
		{MSB_FLD_ARGV, &m->argv, false},
		{MSB_FLD_ENV, &m->env, true},
		{MSB_FLD_RLIMITS, &m->rlimits, false},
		{MSB_FLD_MOUNTS, &m->mounts, false},
		{MSB_FLD_NET, &m->net, false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		if (mask & m->has & MSB_HAS(texts[i].f) && has_nul(*texts[i].b))
			return reject(why, whylen, err, EINVAL,
				      "`%s` contains a NUL byte",
				      field_name(texts[i].f));
	}
	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++) {
		ssize_t bad;
		if (!(mask & m->has & MSB_HAS(arrays[i].f)))
			continue;
		bad = bad_entry(arrays[i].v, arrays[i].kv);
		if (bad >= 0)
			return reject(why, whylen, err, EINVAL,
				      "`%s` entry %zd is %s",
				      field_name(arrays[i].f), bad,
				      arrays[i].kv ? "not K=V (or has NUL)"
						   : "invalid (NUL byte)");
	}
	return 0;
}

/* Checks beyond presence and strings, by type. */
static int check_values(const struct msb_msg *m, char *why, size_t whylen,
			int *err)
{
	switch (m->type) {
	case MSB_MSG_HELLO:
		if (!m->root.n)
			return reject(why, whylen, err, EINVAL,
				      "`root` is empty");
		if (m->has & F(HOSTNAME) && m->hostname.n > 64)
			return reject(why, whylen, err, EINVAL,
				      "`host` is longer than 64 bytes");
		if (m->has & F(MOUNTS)) {
			static struct agent_mount mnt;
			struct msb_bytes s;
			size_t it = 0;
			char mwhy[128];
			if (m->mounts.count > AGENT_MAX_MOUNTS)
				return reject(why, whylen, err, EINVAL,
					      "more than %d mounts",
					      AGENT_MAX_MOUNTS);
			while (msb_strv_next(&m->mounts, &it, &s))
				if (agent_mount_parse(&mnt, (const char *)s.p,
						      s.n, mwhy,
						      sizeof(mwhy)) < 0)
					return reject(why, whylen, err, EINVAL,
						      "`mounts`: %s", mwhy);
		}
		if (m->has & F(ENTROPY) && m->entropy.n > MSB_HELLO_ENTROPY_MAX)
			return reject(why, whylen, err, EINVAL,
				      "`entropy` is longer than %d bytes",
				      MSB_HELLO_ENTROPY_MAX);
		if (m->has & F(CA) &&
		    (m->ca.n > MSB_HELLO_CA_MAX || m->ca.n < 27 ||
		     memcmp(m->ca.p, "-----BEGIN CERTIFICATE-----", 27) ||
		     memchr(m->ca.p, '\0', m->ca.n)))
			return reject(why, whylen, err, EINVAL,
				      "`ca` is not a PEM certificate of at "
				      "most %d bytes",
				      MSB_HELLO_CA_MAX);
		if (m->has & F(NET)) {
			struct agent_net net;
			char nwhy[128];
			if (agent_net_parse(&net, &m->net, nwhy, sizeof(nwhy)) <
			    0)
				return reject(why, whylen, err, EINVAL, "%s",
					      nwhy);
		}
		return 0;
	case MSB_MSG_PING:
		if (m->has & F(ENTROPY) && m->entropy.n > MSB_HELLO_ENTROPY_MAX)
			return reject(why, whylen, err, EINVAL,
				      "`entropy` is longer than %d bytes",
				      MSB_HELLO_ENTROPY_MAX);
		return 0;
	case MSB_MSG_EXEC: {
		struct msb_bytes s;
		size_t it = 0;
		if (!m->argv.count || !msb_strv_next(&m->argv, &it, &s) || !s.n)
			return reject(why, whylen, err, EINVAL,
				      "`argv` is empty");
		if (m->has & F(RLIMITS)) {
			char rwhy[256];
			int res;
			struct rlimit rl;
			it = 0;
			while (msb_strv_next(&m->rlimits, &it, &s))
				if (msb_rlimit_parse((const char *)s.p, s.n,
						     &res, &rl, rwhy,
						     sizeof(rwhy)) < 0)
					return reject(why, whylen, err, EINVAL,
						      "`rlimits`: %s", rwhy);
		}
		if ((m->has & F(ROWS) && m->rows > 0xffff) ||
		    (m->has & F(COLS) && m->cols > 0xffff))
			return reject(why, whylen, err, EINVAL,
				      "terminal size out of range");
		return 0;
	}
	case MSB_MSG_SIGNAL:
		/* 0: detach, on a proc_attach stream (exec_signal()). */
		if (m->sig < 0 || m->sig >= NSIG)
			return reject(why, whylen, err, EINVAL,
				      "`sig` %lld out of range",
				      (long long)m->sig);
		return 0;
	case MSB_MSG_RESIZE:
		if (!m->rows || !m->cols || m->rows > 0xffff ||
		    m->cols > 0xffff)
			return reject(why, whylen, err, EINVAL,
				      "terminal size out of range");
		return 0;
	case MSB_MSG_FS_CHOWN:
		if (m->uid < -1 || m->uid >= UINT32_MAX || m->gid < -1 ||
		    m->gid >= UINT32_MAX)
			return reject(why, whylen, err, EINVAL,
				      "`uid` or `gid` out of range");
		return 0;
	default:
		if (m->has & F(MODE) && m->mode & ~(uint64_t)07777)
			return reject(why, whylen, err, EINVAL,
				      "`mode` has bits outside 07777");
		return 0;
	}
}

int agent_request_check(const struct msb_msg *m, uint8_t flags, char *why,
			size_t whylen, int *err)
{
	const struct rule *r;
	uint64_t missing;

	if (m->type == MSB_MSG_UNKNOWN)
		return reject(why, whylen, err, ENOTSUP,
			      "unknown message type");
	if (!host_sends(m->type))
		return reject(why, whylen, err, ENOTSUP,
			      "`%s` is not a request",
			      msb_msg_type_name(m->type));
	r = &rules[m->type];
	if (r->start && !(flags & MSB_F_START))
		return reject(why, whylen, err, EINVAL,
			      "without the START flag");
	missing = r->required & ~m->has;
	for (unsigned f = 0; missing && f < MSB_FLD__COUNT; f++)
		if (missing & MSB_HAS(f))
			return reject(why, whylen, err, EINVAL,
				      "`%s` is missing", field_name(f));
	if (m->has & F(FLAGS) && m->flags & ~r->flag_bits)
		return reject(why, whylen, err, EINVAL,
			      "unsupported `flags` 0x%llx",
			      (unsigned long long)(m->flags & ~r->flag_bits));
	if (check_cstrings(m, r->cstrings, why, whylen, err) < 0)
		return -1;
	return check_values(m, why, whylen, err);
}
