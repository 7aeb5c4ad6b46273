// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the ClientHello parser (src/net/tlshello.c). The
 * input is the bytes a client sent. Checked: what is kept is consistent
 * (a valid name is lowercase DNS text as long as the raw one, the ALPN
 * list iterates within its bounds); a refusal has a reason and keeps
 * nothing; the answer depends only on the bytes up to the hello's end
 * (the first @consumed bytes give the same hello, one fewer NEED_MORE);
 * a NEED_MORE answer is also the answer for every shorter prefix, and
 * for every longer one shorter than the @want it gave.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tlshello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "tlshello_fuzz: %s (%s:%d)\n", what, __FILE__, \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

static void check_kept(const struct msb_tls_hello *h)
{
	size_t pos = 0, n, count = 0, total = 0;
	const uint8_t *name;

	if (h->sni_valid) {
		if (!h->has_sni || strlen(h->sni) != h->sni_raw_len)
			FAIL("valid name does not match the raw one");
		for (size_t i = 0; h->sni[i]; i++)
			if (h->sni[i] >= 'A' && h->sni[i] <= 'Z')
				FAIL("name not lowercased");
	} else if (h->sni[0]) {
		FAIL("name kept although not valid");
	}
	if (h->sni_raw_len > MSB_TLS_SNI_MAX || (h->has_sni && !h->sni_raw_len))
		FAIL("raw name length");
	if (h->n_versions > MSB_TLS_VERSIONS_MAX ||
	    h->alpn_len > MSB_TLS_ALPN_MAX)
		FAIL("kept more than the arrays hold");
	while (msb_tls_hello_alpn_next(h, &pos, &name, &n)) {
		if (!n || name < h->alpn || name + n > h->alpn + h->alpn_len)
			FAIL("ALPN name out of bounds");
		count++;
		total += 1 + n;
	}
	if (total != h->alpn_len || count > h->n_alpn ||
	    (!h->alpn_cut && count != h->n_alpn))
		FAIL("ALPN list does not add up");
	if (h->has_alpn && !h->n_alpn)
		FAIL("empty ALPN list accepted");
	(void)msb_tls_hello_max_version(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msb_tls_hello h, again;
	static const struct msb_tls_hello zero;
	enum msb_tls_hello_status st = msb_tls_hello_parse(&h, data, size);

	switch (st) {
	case MSB_TLS_HELLO_OK:
		if (!h.consumed || h.consumed > size || h.why)
			FAIL("bad consumed");
		check_kept(&h);
		if (msb_tls_hello_parse(&again, data, h.consumed) !=
			    MSB_TLS_HELLO_OK ||
		    memcmp(&h, &again, sizeof(h)))
			FAIL("bytes after the hello changed the answer");
		if (msb_tls_hello_parse(&again, data, h.consumed - 1) !=
		    MSB_TLS_HELLO_NEED_MORE)
			FAIL("a hello one byte short is not NEED_MORE");
		break;
	case MSB_TLS_HELLO_NEED_MORE:
		if (h.why || h.want <= size)
			FAIL("NEED_MORE with a reason, or wanting no more");
		if (size && msb_tls_hello_parse(&again, data, size / 2) !=
				    MSB_TLS_HELLO_NEED_MORE)
			FAIL("a prefix of NEED_MORE is not NEED_MORE");
		break;
	case MSB_TLS_HELLO_NOT_TLS:
	case MSB_TLS_HELLO_BAD:
		if (!h.why || strchr(h.why, '\n'))
			FAIL("refusal without a one-line reason");
		h.why = NULL;
		if (memcmp(&h, &zero, sizeof(h)))
			FAIL("a refused hello keeps something");
		if (st == MSB_TLS_HELLO_NOT_TLS && size > 3 &&
		    msb_tls_hello_parse(&again, data, 3) !=
			    MSB_TLS_HELLO_NOT_TLS)
			FAIL("NOT_TLS needed more than 3 bytes");
		break;
	default:
		FAIL("unknown status");
	}
	/* from half the input: the answer cannot change below @want */
	if (msb_tls_hello_parse(&again, data, size / 2) ==
		    MSB_TLS_HELLO_NEED_MORE &&
	    again.want - 1 <= size && again.want - 1 > size / 2) {
		size_t w = again.want;
		if (msb_tls_hello_parse(&again, data, w - 1) !=
		    MSB_TLS_HELLO_NEED_MORE)
			FAIL("the answer changed below want");
	}
	return 0;
}
