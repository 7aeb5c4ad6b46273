/* SPDX-License-Identifier: Apache-2.0 */
/* The public header compiles alone as strict C99 (built with -std=c99
 * -pedantic -Werror) and its _INIT macros initialise the structs. */
#include "microsandbox.h"

int main(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_exec_options e = MSB_EXEC_OPTIONS_INIT;

	return o.version == MSB_SANDBOX_OPTIONS_VERSION &&
			       e.version == MSB_EXEC_OPTIONS_VERSION &&
			       o.cpus == 0
		       ? 0
		       : 1;
}
