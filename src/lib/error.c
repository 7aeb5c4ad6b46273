// SPDX-License-Identifier: Apache-2.0
/* Thread-local last error and the embedder's log callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/internal.h"

static _Thread_local msb_error last_error;

static msb_log_fn log_fn;
static void *log_userdata;
static int log_max = -1;

EXPORT const msb_error *msb_last_error(void)
{
	return &last_error;
}

void msb__error_clear(void)
{
	last_error.code = MSB_OK;
	last_error.sys_errno = 0;
	last_error.exec_failure = MSB_EXEC_FAILURE_NONE;
	last_error.message[0] = '\0';
}

void msb__error_save(msb_error *e)
{
	*e = last_error;
}

int msb__error_restore(const msb_error *e)
{
	last_error = *e;
	return -e->code;
}

int msb__error(int code, int err, const char *fmt, ...)
{
	va_list ap;

	last_error.code = code;
	last_error.sys_errno = err;
	last_error.exec_failure = MSB_EXEC_FAILURE_NONE;
	va_start(ap, fmt);
	vsnprintf(last_error.message, sizeof(last_error.message), fmt, ap);
	va_end(ap);
	return -code;
}

EXPORT const char *msb_strerror(int code)
{
	static const char *const names[] = {
		[MSB_OK] = "success",
		[MSB_EINVAL] = "invalid argument",
		[MSB_ENOMEM] = "out of memory",
		[MSB_ESYS] = "system error",
		[MSB_ENOTFOUND] = "not found",
		[MSB_EKVM] = "KVM unavailable",
		[MSB_ETIMEDOUT] = "timed out",
		[MSB_EVMDIED] = "the VM stopped",
		[MSB_EPROTO] = "protocol error",
		[MSB_EEXIST] = "already exists",
		[MSB_ESTATE] = "invalid state",
		[MSB_ECMDNOTFOUND] = "command not found",
		[MSB_EEXEC] = "command could not be started",
		[MSB_EAGENT] = "guest agent error",
		[MSB_EAUTH] = "authentication failed",
		[MSB_EPERM] = "permission denied",
		[MSB_EISDIR] = "is a directory",
		[MSB_ENOTDIR] = "not a directory",
		[MSB_ENOTEMPTY] = "directory not empty",
		[MSB_ENOSPC] = "no space left",
		[MSB_ENOTSUP] = "not supported by this build",
	};
	if (code < 0)
		code = -code;
	if ((size_t)code < ARRAY_SIZE(names) && names[code])
		return names[code];
	return "unknown error";
}

EXPORT const char *msb_version(void)
{
	return MSB_VERSION_STRING;
}

EXPORT void msb_set_log_callback(msb_log_fn fn, int max_level, void *userdata)
{
	log_fn = fn;
	log_userdata = userdata;
	log_max = max_level;
}

void msb__log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!log_fn || level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(level, line, log_userdata);
}

void msb__error_exec_failure(int failure)
{
	last_error.exec_failure = (msb_exec_failure)failure;
}
