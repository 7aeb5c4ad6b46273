/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal test harness for the unit tests: CHECK() and a summary. */
#ifndef MSB_TEST_CHECK_H
#define MSB_TEST_CHECK_H

#include <stdio.h>

static int check_failures, check_count;

#define CHECK(cond)                                                            \
	do {                                                                   \
		check_count++;                                                 \
		if (!(cond)) {                                                 \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		check_count++;                                                 \
		if (!_a || !_b || strcmp(_a, _b)) {                            \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: `%s` != `%s`\n", __FILE__,     \
				__LINE__, _a ? _a : "(null)",                  \
				_b ? _b : "(null)");                           \
		}                                                              \
	} while (0)

static inline int check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
