// SPDX-License-Identifier: Apache-2.0
/*
 * A program built only with `pkg-config --cflags --libs microsandbox`
 * against an installed library (tests install and package): it boots a
 * sandbox from the built-in image, runs echo in it and prints its output.
 */
#include <stdio.h>
#include <microsandbox.h>

int main(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;
	msb_exec_output *out;
	const char *argv[] = {"echo", "hello from pkg-config", NULL};
	size_t len;

	if (msb_sandbox_create(&sb, &o) < 0 ||
	    msb_sandbox_exec(&out, sb, argv, NULL) < 0) {
		fprintf(stderr, "hello: %s\n", msb_last_error()->message);
		return 1;
	}
	const char *text = msb_exec_output_stdout(out, &len);
	fwrite(text, 1, len, stdout);
	int code = msb_exec_output_exit_code(out);
	msb_exec_output_free(out);
	msb_sandbox_stop(sb, 10000);
	msb_sandbox_free(sb);
	return code;
}
