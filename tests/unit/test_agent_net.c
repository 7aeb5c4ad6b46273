// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the agent's reading of the hello's "net" entries. */
#include <string.h>

#include "../../src/agent/net.h"
#include "check.h"

/* Encode a hello with @entries as "net", decode it, parse its "net". */
static int parse(struct agent_net *n, const char *const *entries, char *why,
		 size_t whylen)
{
	struct msb_buf b = {0};
	struct msb_msg m = {
		.type = MSB_MSG_HELLO,
		.has = MSB_HAS(MSB_FLD_NET),
		.net = {.v = entries},
	};
	struct msb_msg d;
	int rc = -2;

	if (msb_msg_encode(&b, &m) == 0 &&
	    msb_msg_decode(&d, b.data, b.len) == 0 &&
	    (d.has & MSB_HAS(MSB_FLD_NET)))
		rc = agent_net_parse(n, &d.net, why, whylen);
	msb_buf_free(&b);
	return rc;
}

int main(void)
{
	struct agent_net n;
	char why[128];

	const char *const good[] = {"ip=100.96.0.2/30", "gw=100.96.0.1",
				    "mac=02:6D:73:62:00:02", "future=1", NULL};
	CHECK(parse(&n, good, why, sizeof(why)) == 0);
	CHECK(n.on && n.prefix == 30 && n.has_mac);
	CHECK(!memcmp(n.ip, "\x64\x60\x00\x02", 4));
	CHECK(!memcmp(n.gw, "\x64\x60\x00\x01", 4));
	CHECK(!memcmp(n.mac, "\x02\x6d\x73\x62\x00\x02", 6));

	const char *const nomac[] = {"gw=10.0.0.1", "ip=10.0.0.2/24", NULL};
	CHECK(parse(&n, nomac, why, sizeof(why)) == 0 && !n.has_mac &&
	      n.prefix == 24);

	const char *const *bad[] = {
		(const char *const[]){"ip=100.96.0.2/30", NULL},
		(const char *const[]){"gw=100.96.0.1", NULL},
		(const char *const[]){"ip=100.96.0.2", "gw=100.96.0.1", NULL},
		(const char *const[]){"ip=100.96.0.2/31", "gw=100.96.0.1",
				      NULL},
		(const char *const[]){"ip=100.96.0.2/0", "gw=100.96.0.1", NULL},
		(const char *const[]){"ip=100.96.0.2/3x", "gw=100.96.0.1",
				      NULL},
		(const char *const[]){"ip=100.96.0/30", "gw=100.96.0.1", NULL},
		(const char *const[]){"ip=100.96.0.2/30", "gw=::1", NULL},
		(const char *const[]){"ip=100.96.0.2/30", "gw=100.96.0.1",
				      "mac=02:6d:73:62:00", NULL},
		(const char *const[]){"ip=100.96.0.2/30", "gw=100.96.0.1",
				      "mac=02-6d-73-62-00-02", NULL},
		(const char *const[]){"ip=100.96.0.2/30", "gw=100.96.0.1",
				      "mac=0g:6d:73:62:00:02", NULL},
		(const char *const[]){"ip", "gw=100.96.0.1", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&n, bad[i], why, sizeof(why));
		CHECK(rc == -1 && !n.on && why[0]);
		if (rc != -1)
			fprintf(stderr, "  bad[%zu] accepted\n", i);
	}
	return check_summary("agent_net");
}
