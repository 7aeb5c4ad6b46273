/* SPDX-License-Identifier: Apache-2.0 */
/* Network addresses (minimal copy for the DNS branch; helper N2 owns this
 * file and its parse/format helpers). */
#ifndef MSB_NET_ADDR_H
#define MSB_NET_ADDR_H

#include <stdint.h>

struct msb_net_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t a[16];
};

#endif
