// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the `-p` syntax (src/net/portspec.c). Every line
 * of the input is parsed; what parses must format to its canonical text,
 * which parses back to the same spec and formats the same again; what
 * fails must leave the spec zeroed and a one-line message. Each pair of
 * lines that parse is checked for a symmetric conflict answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/portspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "portspec_fuzz: %s (%s:%d)\n", what, __FILE__, \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

#define MAX_SPECS 32

static const struct msb_net_portspec zero;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msb_net_portspec specs[MAX_SPECS];
	size_t n = 0, off = 0;

	while (off <= size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
		struct msb_net_portspec p, q;
		char err[256], out[MSB_NET_PORTSPEC_STRLEN],
			again[MSB_NET_PORTSPEC_STRLEN];

		memset(err, 0, sizeof(err));
		if (msb_net_portspec_parse_n(&p, (const char *)data + off, len,
					     err, sizeof(err)) == 0) {
			if (!p.host_port || !p.guest_port ||
			    (p.host_ip.family != 4 && p.host_ip.family != 6) ||
			    (p.proto != MSB_NET_PROTO_TCP &&
			     p.proto != MSB_NET_PROTO_UDP))
				FAIL("accepted an out-of-range spec");
			msb_net_portspec_format(out, sizeof(out), &p);
			if (strlen(out) + 1 >= sizeof(out))
				FAIL("canonical text filled the buffer");
			if (msb_net_portspec_parse(&q, out, NULL, 0) < 0)
				FAIL("canonical text does not parse");
			if (memcmp(&p, &q, sizeof(p)))
				FAIL("canonical text parses to another spec");
			msb_net_portspec_format(again, sizeof(again), &q);
			if (strcmp(out, again))
				FAIL("format is not stable");
			msb_net_portspec_host_format(out, sizeof(out), &p);
			if (!msb_net_portspec_conflict(&p, &q))
				FAIL("a spec does not conflict with itself");
			if (n < MAX_SPECS)
				specs[n++] = p;
		} else {
			if (memcmp(&p, &zero, sizeof(p)))
				FAIL("a refused spec is not zeroed");
			if (!err[0] || strchr(err, '\n') ||
			    strlen(err) >= sizeof(err) - 1)
				FAIL("bad error message");
		}
		if (!nl)
			break;
		off += len + 1;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (msb_net_portspec_conflict(&specs[i], &specs[j]) !=
			    msb_net_portspec_conflict(&specs[j], &specs[i]))
				FAIL("conflict is not symmetric");
	return 0;
}
